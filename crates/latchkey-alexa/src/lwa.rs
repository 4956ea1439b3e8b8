//! Login with Amazon's token endpoint (ALEXA.md §4), through the `oauth2` crate: the authorization-code
//! exchange for AcceptGrant and the refresh before events. Credentials go in the body, as LWA expects.
use latchkey_core::alexa::AlexaRegion;
use latchkey_store::now;
use latchkey_store::records::AmazonTokens;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, RefreshToken, RequestTokenError, TokenResponse, TokenUrl,
};
use oauth2::{EndpointNotSet, EndpointSet};

/// Why LWA refused, in terms that tell the operator what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LwaError {
    /// The skill's messaging client id or secret is wrong.
    #[error("Login with Amazon rejected the skill's messaging credentials (invalid_client)")]
    InvalidClient,
    /// The code (or refresh token) is invalid, expired or already used.
    #[error("Login with Amazon rejected the grant ({0})")]
    InvalidGrant(String),
    #[error("Login with Amazon answered an error: {0}")]
    Other(String),
    #[error("Login with Amazon could not be reached: {0}")]
    Unreachable(String),
}

type LwaClient = BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub struct Lwa<'a> {
    pub http: &'a reqwest::Client,
    pub token_url: String,
}

/// Login with Amazon's token endpoint per region (Amazon's "Obtain customer access token" tables).
pub fn regional_token_url(region: AlexaRegion) -> &'static str {
    match region {
        AlexaRegion::NA => "https://api.amazon.com/auth/o2/token",
        AlexaRegion::EU => "https://api.amazon.co.uk/auth/o2/token",
        AlexaRegion::FE => "https://api.amazon.co.jp/auth/o2/token",
    }
}

impl Lwa<'_> {
    fn client(&self, client_id: &str, client_secret: &str) -> Result<LwaClient, LwaError> {
        Ok(BasicClient::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(client_secret.to_owned()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::new(self.token_url.clone()).map_err(|e| LwaError::Other(e.to_string()))?))
    }

    pub async fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &str,
        code: &str,
    ) -> Result<AmazonTokens, LwaError> {
        let resp = self
            .client(client_id, client_secret)?
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .request_async(self.http)
            .await
            .map_err(map_error)?;
        to_tokens(&resp, None)
    }

    /// The code exchange for app-to-app linking, which names the app's redirect URI and, when the app
    /// used PKCE, its verifier.
    pub async fn exchange_code_with_redirect(
        &self,
        client_id: &str,
        client_secret: &str,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<AmazonTokens, LwaError> {
        let redirect = oauth2::RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| LwaError::Other(e.to_string()))?;
        let client = self.client(client_id, client_secret)?.set_redirect_uri(redirect);
        let mut request = client.exchange_code(AuthorizationCode::new(code.to_owned()));
        if let Some(v) = pkce_verifier {
            request = request.set_pkce_verifier(oauth2::PkceCodeVerifier::new(v.to_owned()));
        }
        let resp = request.request_async(self.http).await.map_err(map_error)?;
        to_tokens(&resp, None).or_else(|_| {
            // App-to-app answers may omit the refresh token; only the access token is needed here.
            Ok(AmazonTokens {
                access_token: resp.access_token().secret().clone(),
                refresh_token: String::new(),
                expires_at: now(),
            })
        })
    }

    pub async fn refresh(
        &self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
    ) -> Result<AmazonTokens, LwaError> {
        let rt = RefreshToken::new(refresh_token.to_owned());
        let resp = self
            .client(client_id, client_secret)?
            .exchange_refresh_token(&rt)
            .request_async(self.http)
            .await
            .map_err(map_error)?;
        to_tokens(&resp, Some(refresh_token))
    }
}

fn to_tokens(resp: &oauth2::basic::BasicTokenResponse, old_refresh: Option<&str>) -> Result<AmazonTokens, LwaError> {
    let refresh = resp
        .refresh_token()
        .map(|r| r.secret().clone())
        .or_else(|| old_refresh.map(str::to_owned))
        .ok_or_else(|| LwaError::Other("the answer had no refresh_token".into()))?;
    let ttl = resp.expires_in().map_or(3600, |d| d.as_secs() as i64);
    Ok(AmazonTokens {
        access_token: resp.access_token().secret().clone(),
        refresh_token: refresh,
        expires_at: now() + ttl,
    })
}

fn map_error<E: std::error::Error + 'static>(e: RequestTokenError<E, oauth2::basic::BasicErrorResponse>) -> LwaError {
    match e {
        RequestTokenError::ServerResponse(r) => match r.error() {
            BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient => {
                LwaError::InvalidClient
            }
            BasicErrorResponseType::InvalidGrant => {
                LwaError::InvalidGrant(r.error_description().cloned().unwrap_or_else(|| "invalid_grant".into()))
            }
            other => {
                LwaError::Other(format!("{}: {}", other.as_ref(), r.error_description().cloned().unwrap_or_default()))
            }
        },
        RequestTokenError::Request(e) => LwaError::Unreachable(e.to_string()),
        RequestTokenError::Parse(e, _) => LwaError::Other(format!("unreadable answer: {e}")),
        RequestTokenError::Other(e) => LwaError::Other(e),
    }
}
