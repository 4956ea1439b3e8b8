//! Federation: the sign-in page offers a tenant's upstream OpenID Connect providers, and Latchkey is
//! then a relying party (the `openidconnect` crate): code + PKCE + nonce + state, the ID token verified
//! against the provider's discovery document and JWKS, the identity mapped to a user, and the Alexa
//! authorization resumed where it stopped.
use latchkey_core::hashing::constant_time_eq;
use latchkey_store::records::UpstreamProvider;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, UserInfoError,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

use crate::authorize::{Flow, Step, StepOutcome};
use crate::error::chain;
use crate::error::{ServiceError, ServiceResult};
use crate::upstream_identity::UpstreamIdentity;
use crate::{AuthServer, TenantCtx};

/// An `openidconnect` client built from an OpenID provider's discovery document: authorization
/// endpoint set, token and userinfo endpoints as discovery gave them.
pub type DiscoveredClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// What we remember between sending the browser upstream and its return: single use, 10 minutes.
#[derive(Serialize, Deserialize)]
struct PendingFederation {
    flow_id: String,
    provider_id: String,
    pkce_verifier: String,
    nonce: String,
    browser: String,
}

const PENDING_TTL: Duration = Duration::from_secs(600);

/// Why the provider's answer did not yield an identity: what the audit log records, and which
/// page the user sees.
enum UpstreamFailure {
    /// The code exchange or the ID token failed.
    Rejected(String),
    /// userinfo answered for another subject than the ID token's.
    OtherSubject(String),
    /// userinfo could not be read (down, 401, neither JSON nor a valid signed JWT).
    Userinfo(String),
}

impl UpstreamFailure {
    fn reason(&self) -> &str {
        match self {
            Self::Rejected(r) | Self::OtherSubject(r) | Self::Userinfo(r) => r,
        }
    }

    fn message(&self, provider: &str) -> String {
        match self {
            Self::Rejected(_) => {
                format!("The answer from {provider} could not be verified, so you were not signed in.")
            }
            Self::OtherSubject(_) => format!(
                "{provider} described a different person than the one who signed in, so you were not signed in."
            ),
            Self::Userinfo(_) => format!(
                "{provider} signed you in but its profile information could not be read, so you were not signed in. Try again in a moment."
            ),
        }
    }
}

/// The upstream claim the user's display name is read from (`name` unless the claim map says
/// `preferred_username` or `given_name`).
fn name_claim(p: &UpstreamProvider) -> &str {
    match p.claim_map.get("name").map(String::as_str) {
        Some(c @ ("preferred_username" | "given_name")) => c,
        _ => "name",
    }
}

/// A userinfo failure with its causes, without the provider's answer body (it may echo a token).
fn userinfo_error<E: std::error::Error + 'static>(e: &UserInfoError<E>) -> String {
    match e {
        UserInfoError::Response(status, _, what) => format!("{what} (HTTP {status})"),
        e => chain(e),
    }
}

fn pending_key(t: &TenantCtx, state: &str) -> String {
    format!("fed:{}:{}", t.id(), latchkey_core::hashing::secret_hash(state))
}

/// A clear page with a way back to the sign-in form.
fn refuse(flow_id: Option<&str>, message: impl Into<String>) -> StepOutcome {
    Step::FederationError { message: message.into(), back_to_flow: flow_id.map(str::to_owned) }.into()
}

impl AuthServer {
    /// The providers the tenant's sign-in page offers. A failure to read them shows the page without
    /// them (and is logged) rather than no page at all.
    pub async fn sign_in_providers(&self, t: &TenantCtx) -> Vec<UpstreamProvider> {
        self.store.scoped(t.id()).list_providers().await.unwrap_or_else(|e| {
            tracing::warn!(tenant = %t.tenant.slug, error = %e, "upstream providers could not be read for the sign-in page");
            Vec::new()
        })
    }

    pub fn federation_callback_uri(&self, t: &TenantCtx, provider_slug: &str) -> String {
        format!("{}/federation/{provider_slug}/callback", t.issuer)
    }

    /// "Test connection": fetches the provider's discovery document and keys afresh. `Ok(Ok(detail))`
    /// when they load, `Ok(Err(why))` when not; errors only for a provider that does not exist.
    /// Needs write rights: it makes the server send requests out.
    pub async fn test_provider(&self, a: &crate::access::Access, slug: &str) -> ServiceResult<Result<String, String>> {
        a.require_write()?;
        let p = self
            .store
            .scoped(a.id())
            .provider(slug)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("provider '{slug}'")))?;
        Ok(match self.provider_metadata(&p, true).await {
            Ok(m) => Ok(format!(
                "discovery loaded: issuer {}, authorization endpoint {}, {} signing key(s)",
                m.issuer().as_str(),
                m.authorization_endpoint().as_str(),
                m.jwks().keys().len()
            )),
            Err(e) => Err(e.to_string()),
        })
    }

    /// The provider's discovery document and JWKS, cached for five minutes; `refresh` refetches (an
    /// upstream key rotation is picked up without a restart).
    async fn provider_metadata(&self, p: &UpstreamProvider, refresh: bool) -> ServiceResult<Arc<CoreProviderMetadata>> {
        let key = (p.tenant_id.clone(), p.id.clone());
        if !refresh && let Some(m) = self.upstream_metadata.get(&key) {
            return Ok(m);
        }
        let issuer = IssuerUrl::new(p.issuer.clone()).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let meta = CoreProviderMetadata::discover_async(issuer, &self.upstream_http)
            .await
            .map_err(|e| ServiceError::Unavailable(format!("discovery of {} failed: {}", p.issuer, chain(&e))))?;
        let meta = Arc::new(meta);
        self.upstream_metadata.put(key, meta.clone());
        Ok(meta)
    }

    fn upstream_client(
        &self,
        t: &TenantCtx,
        p: &UpstreamProvider,
        secret: &str,
        meta: &CoreProviderMetadata,
    ) -> ServiceResult<DiscoveredClient> {
        let redirect = RedirectUrl::new(self.federation_callback_uri(t, &p.slug))
            .map_err(|e| ServiceError::internal(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            meta.clone(),
            ClientId::new(p.client_id.clone()),
            Some(ClientSecret::new(secret.to_owned())),
        )
        .set_redirect_uri(redirect))
    }

    /// `GET /federation/{provider}/start?flow=…`: sends the browser to the upstream provider.
    pub async fn federation_start(
        &self,
        t: &TenantCtx,
        provider_slug: &str,
        flow_id: &str,
        browser: Option<&str>,
    ) -> ServiceResult<StepOutcome> {
        let Some(flow) = self.flow_for_browser(t, flow_id, browser).await? else {
            return Ok(refuse(None, "This sign-in request has expired. Go back to the app and start linking again."));
        };
        let scoped = self.store.scoped(t.id());
        let Some(p) = scoped.provider(provider_slug).await? else {
            return Ok(refuse(Some(&flow.id), format!("There is no sign-in provider '{provider_slug}'.")));
        };
        let meta = match self.provider_metadata(&p, false).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(tenant = %t.tenant.slug, provider = %p.slug, error = %e, "upstream discovery failed");
                scoped
                    .audit("anonymous", "federation.failed", Some(&p.slug), json!({"reason": "discovery failed"}), None)
                    .await?;
                return Ok(refuse(
                    Some(&flow.id),
                    format!(
                        "{} cannot be reached right now. Try again in a moment, or sign in with your password.",
                        p.name
                    ),
                ));
            }
        };
        let secret = scoped.provider_secret(&p.id).await?;
        let client = self.upstream_client(t, &p, &secret, &meta)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for s in &p.scopes {
            if s != "openid" {
                req = req.add_scope(Scope::new(s.clone()));
            }
        }
        let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
        let pending = PendingFederation {
            flow_id: flow.id.clone(),
            provider_id: p.id.clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            browser: flow.browser.clone(),
        };
        let bytes = serde_json::to_vec(&pending).map_err(|e| ServiceError::internal(e.to_string()))?;
        self.kv.set(&pending_key(t, state.secret()), &bytes, PENDING_TTL).await?;
        Ok(Step::Redirect { url: url.to_string() }.into())
    }

    /// `GET /federation/{provider}/callback`: verifies what came back, maps it to a user, and resumes.
    pub async fn federation_callback(
        &self,
        t: &TenantCtx,
        provider_slug: &str,
        query: &[(String, String)],
        browser: Option<&str>,
        ip: &str,
    ) -> ServiceResult<StepOutcome> {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let scoped = self.store.scoped(t.id());
        let audit_fail = |reason: String| async move {
            scoped
                .audit("anonymous", "federation.failed", Some(provider_slug), json!({"reason": reason}), Some(ip))
                .await
        };
        let Some(state) = get("state").filter(|s| !s.is_empty() && s.len() <= 256) else {
            audit_fail("no state".into()).await?;
            return Ok(refuse(None, "The sign-in answer was incomplete. Go back to the app and start linking again."));
        };
        // Single use: a replayed or forged state finds nothing.
        let pending: Option<PendingFederation> =
            self.kv.take(&pending_key(t, state)).await?.and_then(|b| serde_json::from_slice(&b).ok());
        let Some(pending) = pending else {
            audit_fail("unknown or used state".into()).await?;
            return Ok(refuse(
                None,
                "This sign-in answer is not valid any more (it expired or was already used). Start linking again.",
            ));
        };
        let back = Some(pending.flow_id.as_str());
        if !browser.is_some_and(|b| constant_time_eq(b.as_bytes(), pending.browser.as_bytes())) {
            audit_fail("state from another browser".into()).await?;
            return Ok(refuse(
                None,
                "This sign-in answer belongs to another browser. Start linking again on this device.",
            ));
        }
        let Some(p) = scoped.provider(provider_slug).await?.filter(|p| p.id == pending.provider_id) else {
            audit_fail("provider mismatch".into()).await?;
            return Ok(refuse(back, "The sign-in answer came back to the wrong provider."));
        };
        if let Some(err) = get("error") {
            audit_fail(format!("upstream error {err}")).await?;
            let msg = match err {
                "access_denied" => format!("Signing in with {} was cancelled or refused.", p.name),
                // Google refuses sign-in inside embedded browsers such as the Alexa app's.
                "disallowed_useragent" => format!(
                    "{} does not allow signing in inside the Alexa app's browser. Sign in with your password instead, or link from a regular browser.",
                    p.name
                ),
                _ => format!("{} could not sign you in ({err}).", p.name),
            };
            return Ok(refuse(back, msg));
        }
        let Some(code) = get("code") else {
            audit_fail("no code".into()).await?;
            return Ok(refuse(back, format!("{} sent no authorization code.", p.name)));
        };
        let claims = match self.upstream_claims(t, &p, code, &pending).await {
            Ok(c) => c,
            Err(failure) => {
                let reason = failure.reason();
                tracing::warn!(tenant = %t.tenant.slug, provider = %p.slug, reason = %reason, "upstream sign-in failed");
                audit_fail(reason.to_owned()).await?;
                return Ok(refuse(back, failure.message(&p.name)));
            }
        };
        let Some(flow) = self.flow_for_browser(t, &pending.flow_id, browser).await? else {
            return Ok(refuse(None, "This sign-in request has expired. Go back to the app and start linking again."));
        };
        let user_id = match self.map_identity(t, &p, &claims).await? {
            Ok(u) => u,
            Err(message) => {
                audit_fail(message.clone()).await?;
                return Ok(refuse(Some(&flow.id), message));
            }
        };
        scoped
            .audit(
                &format!("user:{user_id}"),
                "federation.succeeded",
                Some(&p.slug),
                json!({"subject": claims.subject}),
                Some(ip),
            )
            .await?;
        self.complete_sign_in(t, flow, user_id).await
    }

    /// Exchanges the code and verifies the ID token (signature, iss, aud, exp, nonce). A signature
    /// that fails against cached keys is retried once with freshly fetched keys. Claims the mapping
    /// needs and the ID token leaves out are read from userinfo with the upstream access token; a
    /// signed (`application/jwt`) answer is verified against the provider's JWKS, and an answer
    /// about another subject is refused.
    async fn upstream_claims(
        &self,
        t: &TenantCtx,
        p: &UpstreamProvider,
        code: &str,
        pending: &PendingFederation,
    ) -> Result<UpstreamIdentity, UpstreamFailure> {
        let rejected = |e: String| UpstreamFailure::Rejected(e);
        let secret = self.store.scoped(t.id()).provider_secret(&p.id).await.map_err(|e| rejected(e.to_string()))?;
        let mut meta = self.provider_metadata(p, false).await.map_err(|e| rejected(e.to_string()))?;
        let mut client = self.upstream_client(t, p, &secret, &meta).map_err(|e| rejected(e.to_string()))?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| rejected(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.upstream_http)
            .await
            .map_err(|e| rejected(format!("code exchange failed: {}", chain(&e))))?;
        let id_token = tokens.id_token().ok_or_else(|| rejected("no ID token in the answer".into()))?.clone();
        let nonce = Nonce::new(pending.nonce.clone());
        let first_try = id_token.claims(&client.id_token_verifier(), &nonce).cloned();
        let claims = match first_try {
            Ok(c) => c,
            Err(first) => {
                // Perhaps the provider rotated its keys since we cached them.
                meta = self.provider_metadata(p, true).await.map_err(|e| rejected(e.to_string()))?;
                client = self.upstream_client(t, p, &secret, &meta).map_err(|e| rejected(e.to_string()))?;
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .cloned()
                    .map_err(|e| rejected(format!("ID token rejected: {first}; after refreshing keys: {e}")))?
            }
        };
        let identity = UpstreamIdentity::from_id_token(&claims);
        if !identity.lacks(name_claim(p)) || meta.userinfo_endpoint().is_none() {
            return Ok(identity);
        }
        // The expected subject makes openidconnect refuse an answer about someone else, in JSON and
        // in a signed JWT alike.
        let info: CoreUserInfoClaims = client
            .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
            .map_err(|e| UpstreamFailure::Userinfo(format!("userinfo: {e}")))?
            .request_async(&self.upstream_http)
            .await
            .map_err(|e| match e {
                UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(_)) => {
                    UpstreamFailure::OtherSubject(format!("userinfo answered for another subject: {e}"))
                }
                e => UpstreamFailure::Userinfo(format!("userinfo request failed: {}", userinfo_error(&e))),
            })?;
        Ok(identity.merge_userinfo(UpstreamIdentity::from_userinfo(&info)))
    }

    /// Existing federated identity → that user; else the user whose email the provider asserts as
    /// verified (if the provider allows linking by email); else a new user (if allowed); else a
    /// refusal naming why. Matching reads only the provider's own `email` claim with
    /// `email_verified: true`: never a mapped or renamed claim, which an upstream user may be able
    /// to set to someone else's address.
    async fn map_identity(
        &self,
        t: &TenantCtx,
        p: &UpstreamProvider,
        c: &UpstreamIdentity,
    ) -> ServiceResult<Result<String, String>> {
        let scoped = self.store.scoped(t.id());
        let subject = c.subject.as_str();
        if let Some(user_id) = scoped.federated_user(&p.id, subject).await? {
            return Ok(match scoped.user(&user_id).await? {
                Some(u) if !u.disabled => Ok(u.id),
                _ => Err("Your account here is disabled.".to_owned()),
            });
        }
        if p.link_by_email
            && let Some(e) = c.verified_email()
            && let Some(u) = scoped.user_by_email(e).await?
        {
            if u.disabled {
                return Ok(Err("Your account here is disabled.".to_owned()));
            }
            scoped.link_federated(&p.id, subject, &u.id).await?;
            return Ok(Ok(u.id));
        }
        let email = c.email.clone();
        let verified = c.verified_email().is_some();
        if p.create_users {
            let Some(email) = email.filter(|e| e.contains('@')) else {
                return Ok(Err(format!(
                    "{} did not share an email address, which is needed to create your account.",
                    p.name
                )));
            };
            let name = c.claim(name_claim(p)).map(str::to_owned);
            let user = match scoped.create_user_with(&email, None, name, verified).await {
                Ok(u) => u,
                Err(latchkey_store::StoreError::Conflict(_)) => {
                    return Ok(Err(format!(
                        "An account with {email} already exists here. Sign in with its password, or ask the company to allow linking by email."
                    )));
                }
                Err(e) => return Err(e.into()),
            };
            scoped.link_federated(&p.id, subject, &user.id).await?;
            return Ok(Ok(user.id));
        }
        Ok(Err(format!(
            "Your {} account is not linked to an account here, and new accounts cannot be created this way.",
            p.name
        )))
    }

    /// Loads a flow by id for the browser that began it.
    pub async fn flow_for_browser(
        &self,
        t: &TenantCtx,
        flow_id: &str,
        browser: Option<&str>,
    ) -> ServiceResult<Option<Flow>> {
        let Some(flow) = self.load_flow_unchecked(t.id(), flow_id).await? else {
            return Ok(None);
        };
        Ok(browser.is_some_and(|b| constant_time_eq(b.as_bytes(), flow.browser.as_bytes())).then_some(flow))
    }
}
