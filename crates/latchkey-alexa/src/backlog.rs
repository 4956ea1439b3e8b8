//! A bound on each tenant's undelivered Alexa events. The outbox is shared by every tenant and its
//! workers take the oldest due rows first, so one tenant flooding it (a bug in its skill backend, a
//! stolen API key) would fill the disk and delay every other tenant's events. Past the bound its new
//! events are refused with 429 and Retry-After until deliveries catch up; other tenants are untouched.
use latchkey_oauth::{ServiceError, TenantCtx};
use std::time::{Duration, Instant};

use crate::{AlexaError, AlexaService};

/// The default bound (`LATCHKEY_ALEXA_PENDING_EVENTS_PER_TENANT`): about half a minute of what one
/// core delivers, far above what a healthy skill backend leaves waiting.
pub const DEFAULT_PENDING_CAP: u64 = 100_000;
/// How long an instance trusts its count of a tenant's waiting deliveries before counting again.
const RECOUNT: Duration = Duration::from_secs(1);
/// The wait suggested to a refused caller.
const RETRY_AFTER_SECS: u64 = 5;

/// What this instance last counted for a tenant, plus what it accepted since.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seen {
    counted_at: Instant,
    waiting: u64,
}

impl AlexaService {
    /// Admits `rows` new deliveries for the tenant, or refuses them while the tenant already has the
    /// bound waiting. The count comes from the database at most once a second per tenant on each
    /// instance, plus what this instance accepted since: so the bound holds to within what the other
    /// instances accept in one second, and the check costs no query on the hot path.
    pub(crate) async fn admit_to_outbox(&self, t: &TenantCtx, rows: u64) -> Result<(), AlexaError> {
        if self.pending_cap == 0 {
            return Ok(());
        }
        // Checked and counted under one lock, so concurrent requests cannot all pass on one count.
        let verdict =
            self.backlogs().get_mut(t.id()).filter(|s| s.counted_at.elapsed() < RECOUNT).map(|s| self.take(s, rows));
        let verdict = match verdict {
            Some(v) => v,
            None => {
                let counted_at = Instant::now();
                let waiting = self.store.scoped(t.id()).pending_deliveries().await?;
                let mut all = self.backlogs();
                let seen = all.entry(t.id().clone()).or_insert(Seen { counted_at, waiting });
                // A request that counted at the same time may have been first: its view (with what it
                // took since) is as fresh and more complete, so it stays.
                if seen.counted_at.elapsed() >= RECOUNT {
                    *seen = Seen { counted_at, waiting };
                }
                self.take(seen, rows)
            }
        };
        verdict.map_err(|waiting| {
            tracing::warn!(tenant = %t.tenant.slug, waiting, cap = self.pending_cap, "Alexa event backlog full; refusing events");
            ServiceError::Backlog {
                reason: format!(
                    "this tenant already has {waiting} Alexa event deliveries waiting, and at most {} may wait",
                    self.pending_cap
                ),
                retry_after: RETRY_AFTER_SECS,
            }
            .into()
        })
    }

    /// Counts `rows` in when the tenant is under the bound; otherwise how many wait.
    fn take(&self, seen: &mut Seen, rows: u64) -> Result<(), u64> {
        if seen.waiting >= self.pending_cap {
            return Err(seen.waiting);
        }
        seen.waiting += rows;
        Ok(())
    }

    fn backlogs(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<latchkey_core::TenantId, Seen>> {
        self.backlogs.lock().unwrap_or_else(|p| p.into_inner())
    }
}
