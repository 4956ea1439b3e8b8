//! An authorization code for a user who is already signed in to Latchkey in the company's app: app-to-app
//! linking started there needs the user's code for the skill, and a second sign-in would defeat the
//! point. The caller (the app backend, holding the tenant's API key) presents an access token this
//! tenant issued to the user; the code is for the skill's client and one of its registered redirect
//! URIs, with the client's scopes, exactly as the browser flow would have issued it.
use latchkey_core::OAuthError;
use latchkey_core::error::ErrorCode;
use latchkey_store::now;

use crate::authorize::{CodeGrant, code_key};
use crate::error::{ServiceError, ServiceResult};
use crate::{AuthServer, TenantCtx, random};

impl AuthServer {
    pub async fn code_for_signed_in_user(
        &self,
        t: &TenantCtx,
        access_token: &str,
        client_row_id: &str,
        redirect_uri: &str,
    ) -> ServiceResult<String> {
        let invalid =
            || OAuthError::new(ErrorCode::InvalidToken, "the Latchkey access token is invalid, expired or revoked");
        let claims = self.active_access_token(t, access_token).await?.ok_or_else(invalid)?;
        let scoped = self.store.scoped(t.id());
        let user = scoped.user(&claims.sub).await?.filter(|u| !u.disabled).ok_or_else(invalid)?;
        let client = scoped
            .client_by_row_id(client_row_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("the skill's client".into()))?;
        if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Err(ServiceError::Invalid(format!(
                "'{redirect_uri}' is not a redirect URL of the skill (add the app's with app_redirect_urls)"
            )));
        }
        let code = random::token(32)?;
        let grant = CodeGrant {
            client_id: client.client_id.clone(),
            client_row_id: client.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            redirect_uri_given: true,
            user_id: user.id,
            scopes: client.scopes.clone(),
            nonce: None,
            code_challenge: None,
            auth_time: claims.auth_time.unwrap_or_else(now),
        };
        let bytes = serde_json::to_vec(&grant).map_err(|e| ServiceError::internal(e.to_string()))?;
        self.kv.set(&code_key(t.id(), &code), &bytes, self.config.code_ttl).await?;
        Ok(code)
    }
}
