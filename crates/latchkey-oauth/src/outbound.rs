//! The HTTP client for requests a tenant's configuration points at (upstream OpenID providers:
//! discovery, JWKS, token, userinfo). Every URL, every redirect and every address it connects to
//! passes the outbound policy (latchkey-core/src/outbound.rs):
//! - URLs are checked before sending (scheme, credentials, address literals);
//! - names are resolved by our own resolver, which refuses internal addresses, and the connection
//!   goes to the addresses it checked, so a DNS answer that changes between check and connect
//!   (rebinding) changes nothing;
//! - redirects are followed (three at most) only to URLs that pass the same checks;
//! - answers are read up to [`MAX_RESPONSE_BYTES`]: discovery documents and key sets are small, and
//!   an endless body must not fill memory.
use std::error::Error as StdError;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use latchkey_core::outbound::{OutboundPolicy, Refusal, UrlCheck};

use crate::error::chain;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// The largest answer read from an upstream provider.
pub const MAX_RESPONSE_BYTES: usize = 512 * 1024;
const MAX_REDIRECTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error("the answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("could not resolve {host}: {message}")]
    Resolve { host: String, message: String },
    #[error("{}", chain(.0))]
    Http(#[source] reqwest::Error),
    #[error("bad request: {0}")]
    Request(String),
}

impl From<reqwest::Error> for OutboundError {
    /// A refusal made inside reqwest (by the resolver or the redirect policy) keeps its own message.
    fn from(e: reqwest::Error) -> Self {
        let mut cause: Option<&(dyn StdError + 'static)> = Some(&e);
        while let Some(c) = cause {
            if let Some(r) = c.downcast_ref::<Refusal>() {
                return Self::Refused(r.clone());
            }
            cause = c.source();
        }
        Self::Http(e)
    }
}

/// Resolves names for reqwest and refuses the lot when any address is not allowed.
struct PolicyResolver {
    policy: Arc<OutboundPolicy>,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve(&host).await.map_err(|e| Box::new(e) as Box<dyn StdError + Send + Sync>)?;
            policy.check_resolved(&ips(&addrs), false).map_err(|r| Box::new(r) as Box<dyn StdError + Send + Sync>)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn ips(addrs: &[SocketAddr]) -> Vec<IpAddr> {
    addrs.iter().map(SocketAddr::ip).collect()
}

async fn resolve(host: &str) -> Result<Vec<SocketAddr>, OutboundError> {
    let failed = |message: String| OutboundError::Resolve { host: host.chars().take(253).collect(), message };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await.map_err(|e| failed(e.to_string()))?.collect();
    if addrs.is_empty() {
        return Err(failed("no addresses".into()));
    }
    Ok(addrs)
}

/// The policy-bound client. Cheap to clone.
#[derive(Clone)]
pub struct OutboundClient {
    http: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

impl OutboundClient {
    pub fn new(policy: OutboundPolicy, connect_timeout: Duration, timeout: Duration) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let for_redirects = policy.clone();
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(PolicyResolver { policy: policy.clone() }))
            // A proxy would resolve the name itself, past our resolver.
            .no_proxy()
            .https_only(!policy.permits_any_plain_http())
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
                }
                match for_redirects.check_url(attempt.url()) {
                    Ok(UrlCheck::Ready | UrlCheck::Resolve { plain_http: false, .. }) => attempt.follow(),
                    // Whether a plain-http name is allowed needs DNS, which this callback cannot wait for.
                    Ok(UrlCheck::Resolve { plain_http: true, .. }) => attempt.error(Refusal::PlainHttp),
                    Err(r) => attempt.error(r),
                }
            }))
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .build()?;
        Ok(Self { http, policy })
    }

    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// Whether `url` may be fetched, resolving its host when it is a name. For saving a tenant's
    /// configuration: an https name that does not resolve (yet) is accepted, since every fetch checks
    /// again; a plain-http one is not, since http is only for addresses the operator allowed.
    pub async fn check_destination(&self, url: &str) -> Result<(), Refusal> {
        match self.policy.check_str(url)? {
            UrlCheck::Ready => Ok(()),
            UrlCheck::Resolve { host, plain_http } => match resolve(&host).await {
                Ok(addrs) => self.policy.check_resolved(&ips(&addrs), plain_http),
                Err(_) if plain_http => Err(Refusal::PlainHttp),
                Err(_) => Ok(()),
            },
        }
    }

    /// Sends one request under the policy and reads its answer, bounded.
    pub async fn send(
        &self,
        request: reqwest::Request,
    ) -> Result<(http::StatusCode, http::HeaderMap, Vec<u8>), OutboundError> {
        if let UrlCheck::Resolve { host, plain_http: true } = self.policy.check_url(request.url())? {
            // The resolver checks addresses but cannot see the scheme: plain http must go only to
            // operator-allowed addresses, so check those here too.
            let addrs = resolve(&host).await?;
            self.policy.check_resolved(&ips(&addrs), true)?;
        }
        let mut response = self.http.execute(request).await?;
        if response.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
            return Err(OutboundError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(OutboundError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((response.status(), response.headers().clone(), body))
    }
}

use openidconnect::http;

impl<'c> AsyncHttpClient<'c> for OutboundClient {
    type Error = OutboundError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, OutboundError>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request: reqwest::Request =
                request.try_into().map_err(|e: reqwest::Error| OutboundError::Request(e.to_string()))?;
            let (status, headers, body) = self.send(request).await?;
            let mut response = http::Response::new(body);
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            Ok(response)
        })
    }
}
