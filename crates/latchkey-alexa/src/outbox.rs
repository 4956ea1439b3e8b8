//! Durable event delivery (the default for `POST /alexa/events`): the event is stored, one row per
//! destination grant, before the skill backend hears 202; workers on every instance claim due rows
//! with a lease and deliver them. A row whose instance stopped mid-delivery is claimed again when its
//! lease runs out, so delivery is at least once, always with the stored body (messageId included).
use latchkey_core::TenantId;
use latchkey_oauth::TenantCtx;
use latchkey_store::now;
use latchkey_store::repo::{Delivery, NewDelivery, NewEvent};
use serde_json::{Value, json};
use std::time::Duration;

use crate::AlexaService;
use crate::error::AlexaError;
use crate::events::EventRequest;
use crate::messages;

/// An event not delivered this long after it was accepted is given up, its outcome recorded. State
/// reports older than an hour mislead more than they help.
pub const EVENT_DEADLINE_SECS: i64 = 3600;
/// Rows one worker claims at a time; they are delivered concurrently.
const CLAIM_BATCH: u64 = 32;
/// The longest wait between retries of one delivery.
const MAX_BACKOFF_SECS: i64 = 300;

impl AlexaService {
    /// Stores the event for every deliverable grant of the user for the skill; answers with its id.
    pub async fn accept_event(&self, t: &TenantCtx, req: &EventRequest) -> Result<Value, AlexaError> {
        let (skill, grants) = self.event_destinations(t, req).await?;
        // An event the token cannot be put into is refused now, not after the caller has left.
        messages::insert_token(&mut req.event.clone(), "check").map_err(AlexaError::BadRequest)?;
        let mut payload = json!({"event": req.event});
        if let Some(c) = &req.context {
            payload["context"] = c.clone();
        }
        let payload = payload.to_string();
        let event_id = latchkey_store::new_id();
        let destinations: Vec<NewDelivery> = grants
            .iter()
            .map(|g| NewDelivery { grant_id: g.id.clone(), region: g.region.as_str().to_owned() })
            .collect();
        let rows = self
            .auth
            .store
            .scoped(t.id())
            .enqueue_event(
                &event_id,
                &NewEvent {
                    skill_id: &skill.id,
                    user_id: &req.user,
                    payload: &payload,
                    deadline_secs: EVENT_DEADLINE_SECS,
                },
                &destinations,
            )
            .await?;
        self.outbox_wake.notify_one();
        Ok(json!({
            "id": event_id,
            "status": "pending",
            "destinations": rows.iter().map(|r| json!({"grant": r.grant_id, "region": r.region, "status": r.status})).collect::<Vec<_>>(),
        }))
    }

    /// Delivers due events until the process stops: claims a batch, delivers it concurrently, and
    /// sleeps when nothing is due until an event is accepted here or half a second passes (another
    /// instance's events, retries coming due).
    pub async fn run_outbox(self) {
        loop {
            match self.auth.store.claim_due_deliveries(self.outbox_lease.as_secs() as i64, CLAIM_BATCH).await {
                Ok(rows) if !rows.is_empty() => {
                    let mut set = tokio::task::JoinSet::new();
                    for row in rows {
                        let s = self.clone();
                        set.spawn(async move { s.process_delivery(row).await });
                    }
                    while set.join_next().await.is_some() {}
                }
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

    async fn process_delivery(&self, d: Delivery) {
        let result = self.attempt(&d).await;
        if let Err(e) = self.record_attempt(&d, result).await {
            // The lease runs out and another attempt follows: at least once.
            tracing::warn!(delivery = %d.id, error = %e, "recording an Alexa event delivery failed");
        }
    }

    /// One attempt at one destination.
    async fn attempt(&self, d: &Delivery) -> Result<Value, AlexaError> {
        let tid = TenantId::new(d.tenant_id.clone());
        let tenant = self.auth.store.tenant_by_id(&tid).await?.ok_or_else(|| gone("tenant"))?;
        let t = TenantCtx { issuer: self.auth.issuer_for(&tenant.slug), tenant };
        let scoped = self.auth.store.scoped(&tid);
        let skill = scoped.skill(&d.skill_id).await?.ok_or_else(|| gone("skill"))?;
        let grant = scoped
            .amazon_grant(&d.grant_id)
            .await?
            .filter(|g| g.status == "active")
            .ok_or_else(|| AlexaError::Conflict("this Alexa grant ended before the event was delivered".into()))?;
        let payload: Value = serde_json::from_str(&d.payload).map_err(|e| AlexaError::Internal(e.to_string()))?;
        let req = EventRequest {
            user: d.user_id.clone(),
            skill: skill.alexa_skill_id.clone(),
            event: payload.get("event").cloned().unwrap_or(Value::Null),
            context: payload.get("context").cloned(),
        };
        let outcome = self.deliver(&t, &skill, &grant, &req, 0).await?;
        Ok(serde_json::to_value(outcome).unwrap_or(Value::Null))
    }

    async fn record_attempt(&self, d: &Delivery, result: Result<Value, AlexaError>) -> Result<(), AlexaError> {
        let scoped_tid = TenantId::new(d.tenant_id.clone());
        let scoped = self.auth.store.scoped(&scoped_tid);
        match result {
            Ok(outcome) => {
                scoped
                    .finish_delivery(
                        &d.id,
                        "delivered",
                        outcome["gateway_status"].as_u64().map(|s| s as u16),
                        None,
                        &outcome,
                    )
                    .await?;
            }
            Err(e) => {
                let (status, code, retry_after) = match &e {
                    AlexaError::Gateway { status, code, retry_after, .. } => {
                        (Some(*status), Some(code.clone()), *retry_after)
                    }
                    AlexaError::GrantDisabled { status, code, .. } => (Some(*status), Some(code.clone()), None),
                    _ => (None, None, None),
                };
                let next = now() + backoff_secs(self.retry_base, d.attempts, retry_after);
                if retryable(&e) && next <= d.deadline_at {
                    scoped.reschedule_delivery(&d.id, next, status, code.as_deref()).await?;
                } else {
                    let mut outcome = e.body();
                    if retryable(&e) {
                        outcome["deadline"] = json!("the event was not delivered before its deadline");
                    }
                    scoped.finish_delivery(&d.id, "failed", status, code.as_deref(), &outcome).await?;
                }
            }
        }
        Ok(())
    }
}

fn gone(what: &str) -> AlexaError {
    AlexaError::NotFound(format!("the event's {what} no longer exists"))
}

/// Throttling, Amazon's 5xx, an unreachable gateway and our own passing troubles are worth another try;
/// anything Amazon refused for a reason is not.
fn retryable(e: &AlexaError) -> bool {
    match e {
        AlexaError::Gateway { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
        AlexaError::Unavailable(_) | AlexaError::Internal(_) => true,
        _ => false,
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
        assert!(!retryable(&AlexaError::Conflict("ended".into())));
    }
}
