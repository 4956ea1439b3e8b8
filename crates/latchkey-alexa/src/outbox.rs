//! Durable event delivery (the default for `POST /alexa/events`): the event is stored, one row per
//! destination grant, before the skill backend hears 202; workers on every instance claim due rows
//! with a lease and deliver them. A row whose instance stopped mid-delivery is claimed again when its
//! lease runs out, so delivery is at least once, always with the stored body (messageId included).
use latchkey_core::TenantId;
use latchkey_oauth::TenantCtx;
use latchkey_store::now;
use latchkey_store::records::{AmazonGrant, AmazonTokens, Skill};
use latchkey_store::repo::{Delivery, NewEvent, Settlement};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::AlexaService;
use crate::error::AlexaError;
use crate::events::EventRequest;
use crate::messages;

/// An event not delivered this long after it was accepted is given up, its outcome recorded. State
/// reports older than an hour mislead more than they help.
pub const EVENT_DEADLINE_SECS: i64 = 3600;
pub use crate::backlog::DEFAULT_PENDING_CAP;
/// Rows one worker claims at a time; they are delivered concurrently.
const CLAIM_BATCH: u64 = 128;
/// Batches in flight per instance. One batch is serial: claim, send (as slow as its slowest request),
/// record; so against a gateway 50 ms away one batch at a time delivered 1,386/s and two 2,728/s
/// (benches/run.sh, PostgreSQL). Against a gateway on the same machine the core is the bound either way.
const OUTBOX_PIPELINE: usize = 2;
/// The longest wait between retries of one delivery.
const MAX_BACKOFF_SECS: i64 = 300;

impl AlexaService {
    /// Stores the event for every deliverable grant of the user for the skill; answers with its id.
    /// The grants are read in the transaction that stores the event (group_commit.rs in the store).
    pub async fn accept_event(&self, t: &TenantCtx, req: &EventRequest) -> Result<Value, AlexaError> {
        let skill = self.event_skill(t, req).await?;
        // An event the token cannot be put into is refused now, not after the caller has left.
        messages::token_location(&req.event).map_err(AlexaError::bad_request)?;
        let mut payload = json!({"event": req.event});
        if let Some(c) = &req.context {
            payload["context"] = c.clone();
        }
        let payload = payload.to_string();
        let event_id = latchkey_store::new_id();
        // Most users have one grant per skill: the event is admitted as one delivery, and counted
        // again below if it has more (or none).
        self.admit_to_outbox(t, 1).await?;
        let event =
            NewEvent { skill_id: &skill.id, user_id: &req.user, payload: &payload, deadline_secs: EVENT_DEADLINE_SECS };
        let rows = self
            .store
            .scoped(t.id())
            .enqueue_event_to_user(&event_id, &event, &skill.oauth_client_id)
            .await
            .inspect_err(|_| self.correct_backlog(t, -1))?;
        self.correct_backlog(t, rows.len() as i64 - 1);
        if rows.is_empty() {
            return Err(self.why_no_destination(t, &req.user, &skill).await?);
        }
        self.outbox_wake.notify_one();
        Ok(json!({
            "id": event_id,
            "status": "pending",
            "destinations": rows.iter().map(|r| json!({"grant": r.grant_id, "region": r.region, "status": r.status})).collect::<Vec<_>>(),
        }))
    }

    /// Delivers due events until the process stops, with `OUTBOX_PIPELINE` batches in flight.
    pub async fn run_outbox(self) {
        // Dropping the set (the caller aborting this task at shutdown) stops every loop.
        let mut loops = tokio::task::JoinSet::new();
        for _ in 0..OUTBOX_PIPELINE {
            loops.spawn(self.clone().outbox_loop());
        }
        while loops.join_next().await.is_some() {}
    }

    /// One delivery loop: claims a batch, delivers it concurrently, records the outcomes; sleeps when
    /// nothing is due until an event is accepted here or half a second passes (another instance's
    /// events, retries coming due).
    async fn outbox_loop(self) {
        loop {
            let claimed_at = std::time::Instant::now();
            match self.store.claim_due_deliveries(self.outbox_lease.as_secs() as i64, CLAIM_BATCH).await {
                Ok(rows) if !rows.is_empty() => self.deliver_batch(rows, claimed_at).await,
                Ok(_) => {
                    tokio::select! {
                        _ = self.outbox_wake.notified() => {}
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming Alexa events failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Delivers a claimed batch concurrently, then records every outcome in one write. The batch's
    /// tenants, skills and grants are read once for all of its rows. While it runs, the batch's leases
    /// are renewed every third of a lease: a gateway (or an LWA refresh) slower than the lease must not
    /// let another worker claim the rows and send them a second time.
    async fn deliver_batch(&self, rows: Vec<Delivery>, claimed_at: std::time::Instant) {
        let (count, loading_at) = (rows.len(), std::time::Instant::now());
        let held: Vec<(TenantId, String, i32)> =
            rows.iter().map(|r| (TenantId::new(r.tenant_id.clone()), r.id.clone(), r.attempts)).collect();
        let lease_secs = self.outbox_lease.as_secs().max(1) as i64;
        let every = Duration::from_secs(lease_secs as u64) / 3;
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ctx = Arc::new(BatchContext::load(self, &rows).await);
        let sending_at = std::time::Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for row in rows {
            let (s, ctx) = (self.clone(), ctx.clone());
            set.spawn(async move {
                let r = match ctx.as_ref() {
                    Ok(c) => s.attempt(&row, c).await,
                    Err(e) => Err(e.clone()),
                };
                (row, r)
            });
        }
        let mut settled = Vec::new();
        loop {
            tokio::select! {
                done = set.join_next() => {
                    let Some(done) = done else { break };
                    // A task that panicked leaves its row leased: another attempt follows when the lease
                    // ends (renewal stops with this batch).
                    if let Ok((row, r)) = done {
                        let s = settlement(&row, r, self.retry_base, now());
                        settled.push((TenantId::new(row.tenant_id), row.id, s));
                    }
                }
                _ = renew.tick() => {
                    // Finished rows are renewed too: they stay pending until the batch is settled.
                    if let Err(e) = self.store.renew_leases(&held, lease_secs).await {
                        tracing::warn!(deliveries = held.len(), error = %e, "renewing Alexa event leases failed");
                    }
                }
            }
        }
        let settling_at = std::time::Instant::now();
        if let Err(e) = self.store.settle_deliveries(&settled).await {
            // The leases run out and the rows are attempted again: at least once.
            tracing::warn!(deliveries = settled.len(), error = %e, "recording Alexa event deliveries failed");
        }
        // Where a batch's time goes, for tuning the outbox (RUST_LOG=latchkey_alexa=debug).
        let ms = |from: std::time::Instant, to: std::time::Instant| to.duration_since(from).as_secs_f64() * 1e3;
        tracing::debug!(
            rows = count,
            claim_ms = ms(claimed_at, loading_at),
            load_ms = ms(loading_at, sending_at),
            send_ms = ms(sending_at, settling_at),
            settle_ms = ms(settling_at, std::time::Instant::now()),
            "Alexa event batch"
        );
    }

    /// One attempt at one destination.
    async fn attempt(&self, d: &Delivery, ctx: &BatchContext) -> Result<Value, AlexaError> {
        let t = ctx.tenants.get(&d.tenant_id).ok_or_else(|| gone("tenant"))?;
        let skill = ctx.skills.get(&(d.tenant_id.clone(), d.skill_id.clone())).ok_or_else(|| gone("skill"))?;
        let (grant, tokens) = ctx
            .grants
            .get(&(d.tenant_id.clone(), d.grant_id.clone()))
            .filter(|(g, _)| g.status == "active")
            .ok_or_else(|| AlexaError::conflict("this Alexa grant ended before the event was delivered"))?;
        let payload: Value = serde_json::from_str(&d.payload).map_err(|e| AlexaError::internal(e.to_string()))?;
        let req = EventRequest {
            user: d.user_id.clone(),
            skill: skill.alexa_skill_id.clone(),
            event: payload.get("event").cloned().unwrap_or(Value::Null),
            context: payload.get("context").cloned(),
        };
        let outcome = self.deliver(t, skill, grant, tokens.as_ref(), &req, 0).await?;
        Ok(serde_json::to_value(outcome).unwrap_or(Value::Null))
    }
}

/// What a claimed batch refers to, read once: its tenants, skills, and grants with their Amazon
/// tokens, keyed by tenant id (and row id). A row whose tenant, skill or grant is gone finds nothing
/// here and fails for that reason.
struct BatchContext {
    tenants: HashMap<String, TenantCtx>,
    skills: HashMap<(String, String), Skill>,
    grants: HashMap<(String, String), (AmazonGrant, Option<AmazonTokens>)>,
}

impl BatchContext {
    async fn load(svc: &AlexaService, rows: &[Delivery]) -> Result<Self, AlexaError> {
        let mut by_tenant: HashMap<&str, Vec<&Delivery>> = HashMap::new();
        for r in rows {
            by_tenant.entry(r.tenant_id.as_str()).or_default().push(r);
        }
        let mut ctx = BatchContext { tenants: HashMap::new(), skills: HashMap::new(), grants: HashMap::new() };
        for (tid, rows) in by_tenant {
            let tenant_id = TenantId::new(tid.to_owned());
            let Some(tenant) = svc.store.tenant_by_id(&tenant_id).await? else { continue };
            ctx.tenants.insert(tid.to_owned(), TenantCtx { issuer: svc.auth.issuer_for(&tenant.slug), tenant });
            let mut skill_ids: Vec<&str> = rows.iter().map(|r| r.skill_id.as_str()).collect();
            skill_ids.sort_unstable();
            skill_ids.dedup();
            for id in skill_ids {
                if let Some(s) = svc.auth.cached_skill(&tenant_id, id).await? {
                    ctx.skills.insert((tid.to_owned(), id.to_owned()), s);
                }
            }
            let mut grant_ids: Vec<String> = rows.iter().map(|r| r.grant_id.clone()).collect();
            grant_ids.sort_unstable();
            grant_ids.dedup();
            for (g, tokens) in svc.store.scoped(&tenant_id).amazon_grants_with_tokens(&grant_ids).await? {
                // Tokens that cannot be opened are read again by each of the grant's deliveries, which
                // then fails with that error alone (refresh.rs).
                let tokens = tokens
                    .inspect_err(
                        |e| tracing::warn!(grant = %g.id, error = %e, "opening an Alexa grant's Amazon tokens failed"),
                    )
                    .ok()
                    .flatten();
                ctx.grants.insert((tid.to_owned(), g.id.clone()), (g, tokens));
            }
        }
        Ok(ctx)
    }
}

/// What an attempt's result makes of its row: delivered, failed for good (refused for a reason, or
/// past the deadline), or due again after a backoff.
fn settlement(d: &Delivery, result: Result<Value, AlexaError>, retry_base: Duration, now: i64) -> Settlement {
    match result {
        Ok(outcome) => Settlement::Delivered {
            gateway_status: outcome["gateway_status"].as_u64().and_then(|s| u16::try_from(s).ok()),
            outcome: outcome.to_string(),
        },
        Err(e) => {
            let (status, code, retry_after) = match &e {
                AlexaError::Gateway { status, code, retry_after, .. } => {
                    (Some(*status), Some(code.clone()), *retry_after)
                }
                AlexaError::GrantDisabled { status, code, .. } => (Some(*status), Some(code.clone()), None),
                _ => (None, None, None),
            };
            let next = now + backoff_secs(retry_base, d.attempts, retry_after);
            if retryable(&e) && next <= d.deadline_at {
                Settlement::Retry { next_at: next, last_status: status, last_code: code }
            } else {
                let mut outcome = e.body();
                if retryable(&e) {
                    outcome["deadline"] = json!("the event was not delivered before its deadline");
                }
                Settlement::Failed { last_status: status, last_code: code, outcome: outcome.to_string() }
            }
        }
    }
}

fn gone(what: &str) -> AlexaError {
    AlexaError::not_found(format!("the event's {what}"))
}

/// Throttling, Amazon's 5xx, an unreachable gateway and our own passing troubles are worth another try;
/// anything Amazon refused for a reason is not.
fn retryable(e: &AlexaError) -> bool {
    match e {
        AlexaError::Gateway { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
        other => other.is_transient_fault(),
    }
}

/// Exponential backoff from `base` (Amazon asks for at least a second), never sooner than Amazon's
/// Retry-After, never longer than five minutes.
fn backoff_secs(base: Duration, attempts: i32, retry_after: Option<u64>) -> i64 {
    let exp = base.as_secs().max(1) as i64 * 2i64.saturating_pow(attempts.clamp(1, 16) as u32 - 1);
    exp.max(retry_after.unwrap_or(0).min(MAX_BACKOFF_SECS as u64) as i64).min(MAX_BACKOFF_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_honours_retry_after_and_is_capped() {
        let s = Duration::from_secs(1);
        assert_eq!([1, 2, 3, 4].map(|a| backoff_secs(s, a, None)), [1, 2, 4, 8]);
        assert_eq!(backoff_secs(s, 1, Some(30)), 30);
        assert_eq!(backoff_secs(s, 20, None), MAX_BACKOFF_SECS);
        assert_eq!(backoff_secs(s, 1, Some(u64::MAX)), MAX_BACKOFF_SECS);
        assert_eq!(backoff_secs(Duration::ZERO, 0, None), 1, "at least a second apart");
    }

    fn row(attempts: i32, deadline_at: i64) -> Delivery {
        Delivery {
            id: "d".into(),
            tenant_id: "t".into(),
            event_id: "e".into(),
            grant_id: "g".into(),
            skill_id: "s".into(),
            user_id: "u".into(),
            region: "NA".into(),
            payload: "{}".into(),
            status: "pending".into(),
            attempts,
            next_attempt_at: 0,
            deadline_at,
            created_at: 0,
            delivered_at: None,
            last_status: None,
            last_code: None,
            outcome: None,
        }
    }

    #[test]
    fn an_attempt_settles_as_delivered_retried_or_failed() {
        let base = Duration::from_secs(1);
        let throttled = || AlexaError::Gateway {
            status: 429,
            code: "THROTTLING_EXCEPTION".into(),
            description: String::new(),
            probable_cause: None,
            attempts: 1,
            retry_after: Some(30),
        };
        let ok = settlement(&row(1, 5000), Ok(json!({"gateway_status": 202})), base, 1000);
        assert!(matches!(ok, Settlement::Delivered { gateway_status: Some(202), .. }), "{ok:?}");
        let retry = settlement(&row(1, 5000), Err(throttled()), base, 1000);
        assert_eq!(
            retry,
            Settlement::Retry { next_at: 1030, last_status: Some(429), last_code: Some("THROTTLING_EXCEPTION".into()) },
            "not before Retry-After"
        );
        let Settlement::Failed { outcome, last_code, .. } = settlement(&row(1, 1010), Err(throttled()), base, 1000)
        else {
            panic!("a retry past the deadline is a failure");
        };
        assert!(outcome.contains("deadline") && last_code.as_deref() == Some("THROTTLING_EXCEPTION"));
        let refused = settlement(&row(1, 5000), Err(AlexaError::conflict("ended")), base, 1000);
        assert!(matches!(refused, Settlement::Failed { last_status: None, .. }), "{refused:?}");
    }

    #[test]
    fn only_passing_failures_are_retried() {
        let gw = |status| AlexaError::Gateway {
            status,
            code: String::new(),
            description: String::new(),
            probable_cause: None,
            attempts: 1,
            retry_after: None,
        };
        assert!(retryable(&gw(429)) && retryable(&gw(503)));
        assert!(!retryable(&gw(400)) && !retryable(&gw(404)) && !retryable(&gw(403)));
        assert!(!retryable(&AlexaError::conflict("ended")));
    }
}
