//! The UserInfo endpoint (OIDC Core §5.3).
use latchkey_core::OAuthError;
use latchkey_core::error::ErrorCode;
use serde_json::Value;

use crate::error::ServiceResult;
use crate::tokens::user_claims;
use crate::{AuthServer, TenantCtx};

impl AuthServer {
    pub async fn userinfo(&self, t: &TenantCtx, bearer: Option<&str>) -> ServiceResult<Value> {
        let invalid = || OAuthError::new(ErrorCode::InvalidToken, "the access token is invalid, expired or revoked");
        let token =
            bearer.ok_or_else(|| OAuthError::new(ErrorCode::InvalidToken, "a bearer access token is required"))?;
        let claims = self.active_access_token(t, token).await?.ok_or_else(invalid)?;
        let scopes: Vec<String> = claims.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(OAuthError::new(ErrorCode::AccessDenied, "the token was not granted the openid scope").into());
        }
        let user = self.store.scoped(t.id()).user(&claims.sub).await?.filter(|u| !u.disabled).ok_or_else(invalid)?;
        Ok(Value::Object(user_claims(&user, &scopes)))
    }
}
