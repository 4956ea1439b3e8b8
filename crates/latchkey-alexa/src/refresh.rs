//! Keeping a grant's Amazon access token fresh, refreshing it at most once at a time per grant: an
//! in-process lock serialises this instance's requests, a KV lock (Redis with several instances) the
//! others, and whoever gets the lock second finds the token already fresh.
use latchkey_oauth::TenantCtx;
use latchkey_store::now;
use latchkey_store::records::{AmazonGrant, AmazonTokens, Skill};
use std::sync::Arc;
use std::time::Duration;

use crate::AlexaService;
use crate::error::AlexaError;
use crate::lwa::LwaError;

/// Refresh when the token expires within this many seconds.
const REFRESH_MARGIN: i64 = 60;

impl AlexaService {
    fn grant_lock(&self, grant_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.refresh_locks.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry(grant_id.to_owned()).or_default().clone()
    }

    /// A usable Amazon access token for the grant. With `rejected`, the gateway refused that token:
    /// refresh unless someone already replaced it.
    pub(crate) async fn amazon_token(
        &self,
        t: &TenantCtx,
        skill: &Skill,
        grant: &AmazonGrant,
        rejected: Option<&str>,
    ) -> Result<(String, bool), AlexaError> {
        let scoped = self.store.scoped(t.id());
        let current = scoped.amazon_tokens(&grant.id).await?.ok_or_else(no_tokens)?;
        if usable(&current, rejected) {
            return Ok((current.access_token, false));
        }
        let lock = self.grant_lock(&grant.id);
        let _local = lock.lock().await;
        let kv_key = format!("lwa_refresh:{}:{}", t.id(), grant.id);
        let mut waited = Duration::ZERO;
        while !self.kv.set_nx(&kv_key, b"1", Duration::from_secs(15)).await? {
            if waited > Duration::from_secs(15) {
                return Err(AlexaError::unavailable("another instance is refreshing this grant's Amazon token"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        }
        let result = self.refresh_locked(t, skill, grant, rejected).await;
        self.kv.delete(&kv_key).await?;
        result
    }

    async fn refresh_locked(
        &self,
        t: &TenantCtx,
        skill: &Skill,
        grant: &AmazonGrant,
        rejected: Option<&str>,
    ) -> Result<(String, bool), AlexaError> {
        let scoped = self.store.scoped(t.id());
        // Someone may have refreshed while we waited.
        let current = scoped.amazon_tokens(&grant.id).await?.ok_or_else(no_tokens)?;
        if usable(&current, rejected) {
            return Ok((current.access_token, false));
        }
        let (Some(id), Some(secret)) = (skill.lwa_client_id.clone(), scoped.skill_lwa_secret(&skill.id).await?) else {
            return Err(AlexaError::conflict("the skill has no Alexa Skill Messaging credentials configured"));
        };
        let fresh = match self.lwa(grant.region).refresh(&id, &secret, &current.refresh_token).await {
            Ok(fresh) => fresh,
            // Amazon's current error table: a user who disabled the skill shows as a rejected token at
            // the gateway, then LWA refuses the refresh with invalid_grant.
            Err(LwaError::InvalidGrant(_)) => {
                return Err(self
                    .skill_disabled_at_amazon(t, skill, grant, 409, "invalid_grant", "login_with_amazon")
                    .await?);
            }
            Err(e) => {
                tracing::warn!(tenant = %t.tenant.slug, grant = %grant.id, error = %e, "LWA refresh failed");
                return Err(AlexaError::conflict(format!("could not refresh the Amazon token: {e}")));
            }
        };
        scoped.store_refreshed_amazon_tokens(&grant.id, &fresh).await.map_err(|e| match e {
            latchkey_store::StoreError::NotFound => {
                AlexaError::conflict("this Alexa grant ended while its Amazon token was being refreshed")
            }
            other => other.into(),
        })?;
        Ok((fresh.access_token, true))
    }
}

/// Whether the access token can be sent: not the one the gateway just rejected, and not about to expire.
pub(crate) fn usable(t: &AmazonTokens, rejected: Option<&str>) -> bool {
    match rejected {
        Some(r) => t.access_token != r,
        None => t.expires_at - now() > REFRESH_MARGIN,
    }
}

fn no_tokens() -> AlexaError {
    AlexaError::conflict(
        "no Amazon tokens for this grant: Alexa has not sent AcceptGrant for it (is \"Send Alexa Events\" enabled?)",
    )
}
