//! Token revocation (RFC 7009). Revoking a refresh token ends its family and every access token the
//! family issued; revoking an access token does the same for its grant (RFC 7009 §2.1 allows it), or
//! for a client-credentials token, blocks that one token until it expires.
use latchkey_core::hashing::secret_hash;
use latchkey_store::now;
use latchkey_store::records::Client;
use serde_json::json;
use std::time::Duration;

use crate::error::ServiceResult;
use crate::introspect::revoked_jti_key;
use crate::tokens::verify_access_token;
use crate::{AuthServer, TenantCtx};

impl AuthServer {
    /// Revokes `token` if it belongs to `client`. Unknown tokens, and tokens of other clients, are
    /// answered the same way (200), as RFC 7009 §2.2 requires, and left alone.
    pub async fn revoke(&self, t: &TenantCtx, client: &Client, token: &str, hint: Option<&str>) -> ServiceResult<()> {
        if token.is_empty() || token.len() > 8192 {
            return Ok(());
        }
        let scoped = self.store.scoped(t.id());
        let as_access = token.matches('.').count() == 2 || hint == Some("access_token");
        if as_access {
            let keys = self.keys(t.id()).await?;
            if let Some(c) = verify_access_token(&keys, &t.issuer, token, now()) {
                if c.client_id != client.client_id {
                    return Ok(());
                }
                match &c.fid {
                    Some(fid) => {
                        if scoped.revoke_family(fid, "revoked_by_client").await? {
                            scoped
                                .audit(
                                    &format!("client:{}", client.client_id),
                                    "grant.revoked",
                                    Some(fid),
                                    json!({"via": "access_token"}),
                                    None,
                                )
                                .await?;
                        }
                    }
                    None => {
                        let ttl = (c.exp - now()).max(1) as u64;
                        self.kv.set(&revoked_jti_key(t, &c.jti), b"1", Duration::from_secs(ttl)).await?;
                    }
                }
                return Ok(());
            }
        }
        if let Some(r) = scoped.refresh_token_by_hash(&secret_hash(token)).await?
            && r.family.client_id == client.id
            && scoped.revoke_family(&r.family.id, "revoked_by_client").await?
        {
            scoped
                .audit(
                    &format!("client:{}", client.client_id),
                    "grant.revoked",
                    Some(&r.family.id),
                    json!({"via": "refresh_token"}),
                    None,
                )
                .await?;
        }
        Ok(())
    }
}
