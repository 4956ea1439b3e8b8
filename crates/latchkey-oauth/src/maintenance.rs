//! Scheduled upkeep, run by every instance on a timer; a KV lock lets one instance at a time do it.
//! - Signing keys rotate on a schedule with overlap: the next key is published in the JWKS a while
//!   before it starts signing (verifiers' cached key sets already hold it), and the old key stays
//!   published as "previous" for a whole period after (tokens it signed keep verifying).
//! - Refresh tokens that can no longer be redeemed are pruned after a retention period.
use serde::Serialize;
use serde_json::json;
use std::time::Duration;

use latchkey_store::now;

use crate::AuthServer;
use crate::error::ServiceResult;
use crate::keys::generate_key_set;

/// The longest refresh grace window a client may have is 7 days; pruning a used token inside its
/// window would turn Alexa's legitimate retry into invalid_grant.
pub const MIN_RETENTION: Duration = Duration::from_secs(8 * 86_400);

#[derive(Clone, Debug)]
pub struct MaintenancePolicy {
    /// How long a key signs before the next one takes over (`None`: no scheduled rotation).
    pub key_rotation: Option<Duration>,
    /// How long the next key is published before it signs. Longer than the JWKS max-age (300 s).
    pub key_publish_ahead: Duration,
    /// How long unusable refresh tokens are kept (`None`: never pruned). At least `MIN_RETENTION`.
    pub refresh_retention: Option<Duration>,
    /// How long audit events are kept (`None`: forever).
    pub audit_retention: Option<Duration>,
    /// How long delivered and failed Alexa events are kept for their status (`None`: forever). Pending
    /// ones are never pruned: they end by delivery or by their deadline.
    pub event_retention: Option<Duration>,
}

impl Default for MaintenancePolicy {
    fn default() -> Self {
        Self {
            key_rotation: Some(Duration::from_secs(90 * 86_400)),
            key_publish_ahead: Duration::from_secs(86_400),
            refresh_retention: Some(Duration::from_secs(30 * 86_400)),
            audit_retention: Some(Duration::from_secs(365 * 86_400)),
            event_retention: Some(Duration::from_secs(7 * 86_400)),
        }
    }
}

/// What one round did, summed over tenants.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub keys_published: u64,
    pub keys_promoted: u64,
    pub refresh_tokens_pruned: u64,
    pub grants_pruned: u64,
    pub audit_events_pruned: u64,
    pub alexa_events_pruned: u64,
    /// Signups nobody verified within a day, discarded (their slugs and addresses are free again).
    pub signups_expired: u64,
    /// Tenants whose upkeep failed this round (logged; retried next round).
    pub failures: u64,
}

impl AuthServer {
    /// One round of upkeep if no other instance holds the lock; `None` when another one does.
    pub async fn run_maintenance(&self, policy: &MaintenancePolicy, lock_for: Duration) -> Option<MaintenanceReport> {
        match self.kv.set_nx("maintenance:lock", b"", lock_for).await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "maintenance skipped: KV store unavailable");
                return None;
            }
        }
        let mut report = MaintenanceReport::default();
        let tenants = match self.store.list_tenants().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "maintenance skipped: database unavailable");
                return None;
            }
        };
        let t_now = now();
        match self.prune_expired_signups(t_now).await {
            Ok(n) => report.signups_expired += n as u64,
            Err(e) => {
                report.failures += 1;
                tracing::warn!(error = %e, "expired-signup pruning failed");
            }
        }
        for tenant in tenants {
            if let Some(every) = policy.key_rotation
                && let Err(e) =
                    self.rotate_keys_on_schedule(&tenant.id, &tenant.slug, every, policy, t_now, &mut report).await
            {
                report.failures += 1;
                tracing::warn!(tenant = %tenant.slug, error = %e, "scheduled key rotation failed");
            }
            if let Some(keep) = policy.refresh_retention {
                let keep = keep.max(MIN_RETENTION);
                match self.store.scoped(&tenant.id).prune_refresh_tokens(t_now - keep.as_secs() as i64).await {
                    Ok(p) => {
                        report.refresh_tokens_pruned += p.refresh_tokens;
                        report.grants_pruned += p.families;
                    }
                    Err(e) => {
                        report.failures += 1;
                        tracing::warn!(tenant = %tenant.slug, error = %e, "refresh-token pruning failed");
                    }
                }
            }
            if let Some(keep) = policy.event_retention {
                match self.store.scoped(&tenant.id).prune_settled_deliveries(t_now - keep.as_secs() as i64).await {
                    Ok(n) => report.alexa_events_pruned += n,
                    Err(e) => {
                        report.failures += 1;
                        tracing::warn!(tenant = %tenant.slug, error = %e, "Alexa event pruning failed");
                    }
                }
            }
            if let Some(keep) = policy.audit_retention {
                match self.store.scoped(&tenant.id).prune_audit(t_now - keep.as_secs() as i64).await {
                    Ok(n) => report.audit_events_pruned += n,
                    Err(e) => {
                        report.failures += 1;
                        tracing::warn!(tenant = %tenant.slug, error = %e, "audit pruning failed");
                    }
                }
            }
        }
        if let Some(keep) = policy.audit_retention {
            match self.store.prune_unowned_audit(t_now - keep.as_secs() as i64).await {
                Ok(n) => report.audit_events_pruned += n,
                Err(e) => {
                    report.failures += 1;
                    tracing::warn!(error = %e, "pruning the installation's audit events failed");
                }
            }
        }
        Some(report)
    }

    /// Publishes the next key when the current one nears the end of its period, and switches to it once
    /// it has been published long enough.
    async fn rotate_keys_on_schedule(
        &self,
        tenant: &latchkey_core::TenantId,
        slug: &str,
        every: Duration,
        policy: &MaintenancePolicy,
        t_now: i64,
        report: &mut MaintenanceReport,
    ) -> ServiceResult<()> {
        use latchkey_store::records::KeyState;
        let scoped = self.store.scoped(tenant);
        let keys = scoped.published_keys().await?;
        // Every ring rotates together, so the oldest current key dates the rotation (a ring added
        // later, to a tenant from before every tenant had one of each, catches up at the next one).
        let Some(current) = keys.iter().filter(|k| k.state == KeyState::Current).min_by_key(|k| k.created_at) else {
            return Ok(());
        };
        let (every, ahead) = (every.as_secs() as i64, policy.key_publish_ahead.as_secs() as i64);
        let age = t_now - current.created_at;
        let next = keys.iter().find(|k| k.state == KeyState::Next);
        if let Some(next) = next {
            // Promote once the current key's period is over and the next one has been published long
            // enough for every cached JWKS to hold it.
            let due = age >= every && t_now - next.created_at >= ahead;
            if due && scoped.promote_next_signing_keys().await? {
                report.keys_promoted += 1;
                self.invalidate(slug, tenant);
                let kids: Vec<&str> =
                    keys.iter().filter(|k| k.state == KeyState::Next).map(|k| k.kid.as_str()).collect();
                scoped.audit("system", "keys.rotated", Some(&kids.join(" ")), json!({"scheduled": true}), None).await?;
            }
        } else if age >= every - ahead {
            // A next key of every algorithm; the tenant's algorithm stays as it is.
            let keys = generate_key_set().await?;
            let kid = keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>().join(" ");
            if scoped.add_next_signing_keys(keys).await? {
                report.keys_published += 1;
                self.invalidate(slug, tenant);
                scoped.audit("system", "keys.next_published", Some(&kid), json!({}), None).await?;
            }
        }
        Ok(())
    }
}
