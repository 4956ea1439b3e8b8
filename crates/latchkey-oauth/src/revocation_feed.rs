//! Keeps this process's view of live grants (live_grants.rs) current: revocations this process commits
//! arrive through the store's listener; everyone else's through the feed, read every quarter of the
//! view's bound.
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_store::now;
use latchkey_store::repo::{Revocation, RevocationKind};

use crate::live_grants::LiveGrants;
use crate::{AuthServer, ClientCache, UserCache};

/// How far back each read of the feed looks, in seconds: entries are stamped by the writer's clock when
/// its transaction began, so a transaction that commits late, or an instance whose clock is behind, is
/// still caught if within this.
const FEED_OVERLAP_SECS: i64 = 5;
/// Feed entries are needed for `FEED_OVERLAP_SECS`; kept ten minutes for operators, then pruned.
const FEED_RETENTION_SECS: i64 = 600;

/// Applies one revocation to the view and to the caches that hold what it ended.
pub(crate) fn apply(view: &LiveGrants, users: &UserCache, clients: &ClientCache, r: &Revocation) {
    if !view.apply(r, Instant::now()) {
        return;
    }
    match r.kind {
        RevocationKind::Family => {}
        RevocationKind::User => users.remove(&(r.tenant_id.clone(), r.subject.clone())),
        // Clients are cached by public id and the entry names the row: forget the tenant's clients.
        RevocationKind::Client => clients.remove_where(|(t, _)| t == &r.tenant_id),
    }
}

impl AuthServer {
    /// Registers the view with the store, so this process's own revocations apply as they commit.
    pub(crate) fn listen_for_revocations(&self) {
        let (view, users, clients) = (self.live_grants.clone(), self.users.clone(), self.clients.clone());
        self.store.listen_for_revocations(Arc::new(move |r| apply(&view, &users, &clients, r)));
    }

    /// Follows the revocation feed for as long as the server runs (`latchkey serve` spawns it; the CLI
    /// does not, so its view is never fresh and it always reads the database).
    pub async fn follow_revocations(self) {
        let every = (self.live_grants.bound() / 4).max(Duration::from_millis(20));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_prune = Instant::now();
        let mut last_warning: Option<Instant> = None;
        loop {
            tick.tick().await;
            let started = Instant::now();
            let since = now() - FEED_OVERLAP_SECS;
            match self.store.revocations_since(since).await {
                Ok(entries) => {
                    for r in &entries {
                        apply(&self.live_grants, &self.users, &self.clients, r);
                    }
                    self.live_grants.mark_fresh(started, since);
                }
                // Not fatal: the view goes stale, and every check reads the database until a read
                // succeeds again. One line every ten seconds at most.
                Err(e) if last_warning.is_none_or(|w| w.elapsed() > Duration::from_secs(10)) => {
                    tracing::warn!(error = %e, "revocation feed could not be read; checking grants in the database");
                    last_warning = Some(Instant::now());
                }
                Err(_) => {}
            }
            if last_prune.elapsed() > Duration::from_secs(60) {
                last_prune = Instant::now();
                if let Err(e) = self.store.prune_revocations(now() - FEED_RETENTION_SECS).await {
                    tracing::warn!(error = %e, "revocation feed could not be pruned");
                }
            }
        }
    }
}
