//! What a changed end-user password ends: every browser session of that user (on every instance:
//! the moment of the change is kept in the KV store and sessions begun before it no longer count),
//! and every grant (refresh families, and with them their access tokens, which introspection checks
//! against the family). Called by every door that sets a password: the mailed link, the management
//! API and the dashboard.
use latchkey_core::TenantId;
use serde_json::json;

use crate::AuthServer;
use crate::error::ServiceResult;

/// Milliseconds since the epoch: sessions begun in the same second as a change are told apart.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn changed_key(t: &TenantId, user_id: &str) -> String {
    format!("pwchanged:{t}:{user_id}")
}

impl AuthServer {
    /// Ends the user's browser sessions and, unless `keep_grants`, their grants after a password
    /// change; how many grants ended.
    pub(crate) async fn password_changed(
        &self,
        t: &TenantId,
        user_id: &str,
        actor: &str,
        keep_grants: bool,
    ) -> ServiceResult<u64> {
        // Kept as long as a session can live: older sessions have expired by themselves.
        self.kv.set(&changed_key(t, user_id), now_ms().to_string().as_bytes(), self.config.session_ttl).await?;
        let grants = if keep_grants {
            0
        } else {
            self.store.scoped(t).revoke_user_families(user_id, "password changed").await?
        };
        self.invalidate_user(t, user_id);
        self.store
            .scoped(t)
            .audit(
                actor,
                "user.sessions_ended",
                Some(user_id),
                json!({"reason": "password changed", "grants": grants, "grants_kept": keep_grants}),
                None,
            )
            .await?;
        Ok(grants)
    }

    /// Whether a session that began at `started_ms` was ended by a later password change.
    pub(crate) async fn session_ended(&self, t: &TenantId, user_id: &str, started_ms: i64) -> ServiceResult<bool> {
        let changed = self
            .kv
            .get(&changed_key(t, user_id))
            .await?
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<i64>().ok());
        Ok(changed.is_some_and(|c| started_ms <= c))
    }
}
