//! Token introspection (RFC 7662) and the shared "is this access token still good" check.
use latchkey_core::hashing::secret_hash;
use latchkey_core::refresh::{self, Decision, TokenState};
use latchkey_store::now;
use serde_json::{Value, json};
use std::time::Instant;

use crate::error::ServiceResult;
use crate::keys::{TenantKeys, sha256};
use crate::live_grants::Lookup;
use crate::token::Form;
use crate::tokens::{AccessClaims, verify_access_token, verify_access_token_signature};
use crate::{AuthServer, TenantCtx};

pub(crate) fn revoked_jti_key(t: &TenantCtx, jti: &str) -> String {
    format!("revoked_jti:{}:{jti}", t.id())
}

/// Who asked: a client of the tenant, or a tenant API key (the skill backend).
pub enum Caller {
    Client(String),
    ApiKey(String),
}

impl AuthServer {
    /// An access token of this tenant that verifies, has not expired and has not been revoked.
    pub async fn active_access_token(&self, t: &TenantCtx, token: &str) -> ServiceResult<Option<AccessClaims>> {
        let keys = self.keys(t.id()).await?;
        let Some(claims) = self.verified_access_token(t, &keys, token) else {
            return Ok(None);
        };
        match &claims.fid {
            // A user grant: the family row is the durable truth, shared by every instance; the view of
            // live grants answers for it while the revocation feed keeps it current.
            Some(fid) => {
                let user = match self.live_grants.lookup(t.id(), fid, Instant::now()) {
                    Lookup::Revoked => return Ok(None),
                    Lookup::Live { user } => user,
                    Lookup::Unknown(generation) => {
                        let Some(fam) = self.store.scoped(t.id()).family(fid).await? else {
                            return Ok(None);
                        };
                        self.live_grants.remember(t.id(), &fam, generation, Instant::now());
                        if fam.revoked_at.is_some() {
                            return Ok(None);
                        }
                        fam.user_id
                    }
                };
                if let Some(u) = &user
                    && self.cached_user(t.id(), u).await?.is_none_or(|u| u.disabled)
                {
                    return Ok(None);
                }
            }
            // A client-credentials token is revoked one `jti` at a time, until it expires.
            None => {
                if self.kv.get(&revoked_jti_key(t, &claims.jti)).await?.is_some() {
                    return Ok(None);
                }
            }
        }
        Ok(Some(claims))
    }

    /// [`verify_access_token`] through the cache of tokens this instance has verified: a skill backend
    /// introspects the same token on every directive for its hour of life, and checking an ES256 or
    /// Ed25519 signature costs more than the rest of introspection. A cached token counts only while
    /// the key that signed it is still published (a retired key's tokens stop verifying at once) and
    /// until it expires; revocation is checked by the caller on every call, cached or not. Only tokens
    /// that verified are cached, under their SHA-256, so forged or junk tokens cannot fill it.
    fn verified_access_token(&self, t: &TenantCtx, keys: &TenantKeys, token: &str) -> Option<AccessClaims> {
        let t_now = now();
        let key = (t.id().clone(), sha256(token.as_bytes()));
        if let Some(hit) = self.verified_tokens.get(&key) {
            return (keys.publishes(&hit.kid) && hit.claims.is_good_at(&t.issuer, t_now)).then(|| hit.claims.clone());
        }
        let signed = verify_access_token_signature(keys, token)?;
        if !signed.claims.is_good_at(&t.issuer, t_now) {
            return None;
        }
        let claims = signed.claims.clone();
        self.verified_tokens.insert(key, std::sync::Arc::new(signed));
        Some(claims)
    }

    /// The user grant an access token of this tenant came from, judged by signature and issuer only:
    /// for Alexa skill events, which may carry a token long expired. `None` for tokens that are not
    /// ours and for client-credentials tokens (no user).
    pub async fn user_token_claims_any_age(&self, t: &TenantCtx, token: &str) -> ServiceResult<Option<AccessClaims>> {
        let keys = self.keys(t.id()).await?;
        let Some(claims) = verify_access_token(&keys, &t.issuer, token, i64::MIN) else {
            return Ok(None);
        };
        Ok((claims.sub != claims.client_id).then_some(claims))
    }

    /// Authenticates an introspection caller: `Authorization: Bearer <tenant API key>`, or any
    /// client of the tenant with its own credentials.
    pub async fn introspection_caller(
        &self,
        t: &TenantCtx,
        authorization: Option<&str>,
        form: &Form<'_>,
    ) -> ServiceResult<Caller> {
        if let Some(key) = authorization.and_then(|h| h.strip_prefix("Bearer ")) {
            let key = key.trim();
            return match self.tenant_api_key(t.id(), key).await? {
                Some(k) => Ok(Caller::ApiKey(k.id)),
                None => Err(latchkey_core::OAuthError::invalid_client("invalid API key").into()),
            };
        }
        let client = self.authenticate_client(t, authorization, form).await?;
        Ok(Caller::Client(client.client_id))
    }

    /// `POST /introspect`. Anything not active is exactly `{"active": false}` (RFC 7662 §2.2).
    pub async fn introspect(&self, t: &TenantCtx, token: &str, hint: Option<&str>) -> ServiceResult<Value> {
        let inactive = json!({"active": false});
        if token.is_empty() || token.len() > 8192 {
            return Ok(inactive);
        }
        let looks_like_jwt = token.matches('.').count() == 2;
        let try_access_first = looks_like_jwt || hint == Some("access_token");
        if try_access_first && let Some(c) = self.active_access_token(t, token).await? {
            let mut body = json!({
                "active": true,
                "token_type": "Bearer",
                "scope": c.scope,
                "client_id": c.client_id,
                "sub": c.sub,
                "aud": c.aud,
                "iss": c.iss,
                "exp": c.exp,
                "iat": c.iat,
                "jti": c.jti,
            });
            if c.sub != c.client_id
                && let Some(u) = self.cached_user(t.id(), &c.sub).await?
            {
                body["username"] = json!(u.email);
            }
            return Ok(body);
        }
        if looks_like_jwt {
            return Ok(inactive);
        }
        self.introspect_refresh(t, token).await.map(|v| v.unwrap_or(inactive))
    }

    async fn introspect_refresh(&self, t: &TenantCtx, token: &str) -> ServiceResult<Option<Value>> {
        let scoped = self.store.scoped(t.id());
        let Some(r) = scoped.refresh_token_by_hash(&secret_hash(token)).await? else {
            return Ok(None);
        };
        let Some(client) = scoped.client_by_row_id(&r.family.client_id).await? else {
            return Ok(None);
        };
        let state = TokenState {
            used_at: r.used_at,
            last_used_at: r.last_used_at,
            created_at: r.created_at,
            expires_at: r.expires_at,
            family_revoked: r.family.revoked_at.is_some(),
        };
        let usable = matches!(
            refresh::decide(client.refresh_policy, state, now()),
            Decision::Rotate | Decision::GraceRetry | Decision::Keep
        );
        if !usable {
            return Ok(None);
        }
        let mut body = json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": r.family.scopes.join(" "),
            "client_id": client.client_id,
            "iss": t.issuer,
            "iat": r.created_at,
        });
        if let Some(u) = &r.family.user_id {
            body["sub"] = json!(u);
        }
        if let Some(e) = r.expires_at {
            body["exp"] = json!(e);
        }
        Ok(Some(body))
    }
}
