//! A bound on each tenant's undelivered Alexa events. The outbox is shared by every tenant and its
//! workers take the oldest due rows first, so one tenant flooding it (a bug in its skill backend, a
//! stolen API key) would fill the disk and delay every other tenant's events. Past the bound its new
//! events are refused with 429 and Retry-After until deliveries catch up; other tenants are untouched.
use latchkey_oauth::{ServiceError, TenantCtx};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::{AlexaError, AlexaService};

/// The gate of each tenant whose first count on this instance is under way.
pub(crate) type FirstCounts =
    std::collections::HashMap<latchkey_core::TenantId, std::sync::Arc<tokio::sync::Mutex<()>>>;

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
    /// A request of this instance is counting the tenant again. Until it is done, the others decide on
    /// this view: at 5,000 events/s every request that found the view stale would otherwise count too,
    /// each one an index scan over up to the bound's rows, all in the same millisecond.
    recounting: bool,
}

/// What this instance's view of a tenant allows a request to decide.
enum OnView {
    Decided(Result<(), u64>),
    /// The view is stale and this request counts again.
    Recount,
    /// The tenant has not been counted on this instance yet.
    NoView,
}

impl AlexaService {
    /// Admits `rows` new deliveries for the tenant, or refuses them while the tenant already has the
    /// bound waiting. The count comes from the database at most once a second per tenant on each
    /// instance, by one request at a time, plus what this instance accepted since: so the bound holds to
    /// within what the instances accept in about a second, and the check costs no query on the hot path.
    pub(crate) async fn admit_to_outbox(&self, t: &TenantCtx, rows: u64) -> Result<(), AlexaError> {
        if self.pending_cap == 0 {
            return Ok(());
        }
        // Checked and counted under one lock, so concurrent requests cannot all pass on one count.
        // The request that finds the view stale counts again and is decided on the new count; those
        // arriving while it counts are decided on the view they find.
        let verdict = match self.decide_on_view(t, rows) {
            OnView::Decided(verdict) => verdict,
            OnView::Recount => self.recount_and_take(t, rows).await?,
            // The tenant's first event on this instance: nothing to decide on until it is counted.
            OnView::NoView => self.first_count_and_take(t, rows).await?,
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

    /// Decides on this instance's view of the tenant, or says why it cannot: there is none yet, or
    /// this request is to count again (it found the view stale and nobody counting; the flag is set).
    fn decide_on_view(&self, t: &TenantCtx, rows: u64) -> OnView {
        match self.backlogs().get_mut(t.id()) {
            None => OnView::NoView,
            Some(s) if !s.recounting && s.counted_at.elapsed() >= RECOUNT => {
                s.recounting = true;
                OnView::Recount
            }
            Some(s) => OnView::Decided(self.take(s, rows)),
        }
    }

    /// The tenant's first count on this instance, by one request: those arriving meanwhile wait for it
    /// and decide on it. Counting a large backlog takes a while (a third of a second for 120,000
    /// waiting rows on PostgreSQL when every connection of the pool was counting at once, which is
    /// what a restart under load used to start with).
    async fn first_count_and_take(&self, t: &TenantCtx, rows: u64) -> Result<Result<(), u64>, AlexaError> {
        let gate = self.first_counts().entry(t.id().clone()).or_default().clone();
        let _turn = gate.lock().await;
        // Counted while this request waited (or a recount is due already).
        let verdict = match self.decide_on_view(t, rows) {
            OnView::Decided(verdict) => verdict,
            OnView::Recount => self.recount_and_take(t, rows).await?,
            OnView::NoView => self.count_and_take(t, rows).await?,
        };
        // Later requests find the view; those already holding the gate finish with it.
        self.first_counts().remove(t.id());
        Ok(verdict)
    }

    /// Counts the tenant's waiting deliveries again and decides as `count_and_take`. If the count
    /// fails, or the request is dropped mid-count (its caller went away), the flag is cleared and the
    /// next request counts instead.
    async fn recount_and_take(&self, t: &TenantCtx, rows: u64) -> Result<Result<(), u64>, AlexaError> {
        let _flag = RecountFlag { svc: self, tenant: t.id() };
        self.count_and_take(t, rows).await
    }

    /// Counts the tenant's waiting deliveries, makes that this instance's view, and decides on it.
    /// Only one request of the instance counts a tenant at a time (the first count's gate, the
    /// recount's flag), so the new view replaces nothing another count is building.
    async fn count_and_take(&self, t: &TenantCtx, rows: u64) -> Result<Result<(), u64>, AlexaError> {
        let counted_at = Instant::now();
        let waiting = self.count_waiting(t).await?;
        let seen = Seen { counted_at, waiting, recounting: false };
        let mut all = self.backlogs();
        let verdict = self.take(all.entry(t.id().clone()).and_modify(|s| *s = seen).or_insert(seen), rows);
        // The lock is released before a recount flag's drop takes it again.
        drop(all);
        Ok(verdict)
    }

    async fn count_waiting(&self, t: &TenantCtx) -> Result<u64, AlexaError> {
        self.backlog_counts.fetch_add(1, Ordering::Relaxed);
        Ok(self.store.scoped(t.id()).pending_deliveries().await?)
    }

    /// How many times this instance has counted a tenant's waiting deliveries (a metric: about once a
    /// second per tenant sending events, however many requests arrive).
    pub fn backlog_counts(&self) -> u64 {
        self.backlog_counts.load(Ordering::Relaxed)
    }

    /// Corrects this instance's view of the tenant's waiting deliveries by `delta` once an admitted
    /// event's rows are known (admission counts one per event).
    pub(crate) fn correct_backlog(&self, t: &TenantCtx, delta: i64) {
        if delta == 0 {
            return;
        }
        if let Some(s) = self.backlogs().get_mut(t.id()) {
            s.waiting = s.waiting.saturating_add_signed(delta);
        }
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

    fn first_counts(&self) -> std::sync::MutexGuard<'_, FirstCounts> {
        self.first_counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Clears a tenant's `recounting` flag however its recount ends.
struct RecountFlag<'a> {
    svc: &'a AlexaService,
    tenant: &'a latchkey_core::TenantId,
}

impl Drop for RecountFlag<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.svc.backlogs().get_mut(self.tenant) {
            s.recounting = false;
        }
    }
}
