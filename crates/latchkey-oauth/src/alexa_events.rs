//! What became of the Alexa events a skill backend handed over: one event with each destination's
//! delivery, and a skill's deliveries by status, for the management API and the dashboard.
use latchkey_store::repo::Delivery;
use serde::Serialize;
use serde_json::Value;

use crate::AuthServer;
use crate::access::Access;
use crate::error::{ServiceError, ServiceResult};
use crate::manage::{Page, PageReq};

/// One destination (an Alexa grant) of an accepted event.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EventDestination {
    pub event_id: String,
    pub grant: String,
    pub region: String,
    pub user: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub created_at: i64,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<i64>,
    /// When an undelivered event is given up.
    pub deadline_at: i64,
    pub delivered_at: Option<i64>,
    /// The gateway's last HTTP status and Amazon's error code, if any.
    pub last_status: Option<i32>,
    pub last_code: Option<String>,
    /// What the last attempt came to: the gateway's answer as `POST /alexa/events?wait=true` gives it.
    #[schema(value_type = Object)]
    pub outcome: Option<Value>,
}

/// An accepted event and its destinations.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EventStatus {
    pub id: String,
    /// `pending` while any destination is; then `delivered`, `failed`, or `partial` (some of each).
    pub status: String,
    pub destinations: Vec<EventDestination>,
}

/// How many of a skill's deliveries are in each status.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct DeliveryCounts {
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
}

fn view(d: Delivery) -> EventDestination {
    EventDestination {
        next_attempt_at: (d.status == "pending").then_some(d.next_attempt_at),
        outcome: d.outcome.as_deref().and_then(|o| serde_json::from_str(o).ok()),
        event_id: d.event_id,
        grant: d.grant_id,
        region: d.region,
        user: d.user_id,
        status: d.status,
        attempts: d.attempts,
        created_at: d.created_at,
        deadline_at: d.deadline_at,
        delivered_at: d.delivered_at,
        last_status: d.last_status,
        last_code: d.last_code,
    }
}

/// One word for an event from its destinations' statuses.
pub fn event_status<'a>(statuses: impl IntoIterator<Item = &'a str>) -> &'static str {
    let (mut pending, mut delivered, mut failed) = (false, false, false);
    for s in statuses {
        match s {
            "pending" => pending = true,
            "delivered" => delivered = true,
            _ => failed = true,
        }
    }
    match (pending, delivered, failed) {
        (true, _, _) => "pending",
        (false, true, true) => "partial",
        (false, true, false) => "delivered",
        _ => "failed",
    }
}

impl AuthServer {
    pub async fn alexa_event(&self, a: &Access, id: &str) -> ServiceResult<EventStatus> {
        let rows = self.store.scoped(a.id()).event_deliveries(id).await?;
        if rows.is_empty() {
            return Err(ServiceError::NotFound(format!("event '{id}'")));
        }
        let destinations: Vec<EventDestination> = rows.into_iter().map(view).collect();
        let status = event_status(destinations.iter().map(|d| d.status.as_str())).to_owned();
        Ok(EventStatus { id: id.to_owned(), status, destinations })
    }

    /// A skill's deliveries (by id or Alexa skill id), newest first, optionally in one status.
    pub async fn skill_event_deliveries(
        &self,
        a: &Access,
        skill: &str,
        status: Option<&str>,
        page: PageReq,
    ) -> ServiceResult<Page<EventDestination>> {
        let status = match status.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s @ ("pending" | "delivered" | "failed")) => Some(s),
            Some(other) => {
                return Err(ServiceError::Invalid(format!("status '{other}' is not pending, delivered or failed")));
            }
            None => None,
        };
        let skill = self.find_skill(a, skill).await?;
        let scoped = self.store.scoped(a.id());
        let rows = scoped.skill_deliveries(&skill.id, status, page.offset, page.fetch()).await?;
        Ok(page.page(rows.into_iter().map(view).collect()))
    }

    pub async fn skill_delivery_counts(&self, a: &Access, skill: &str) -> ServiceResult<DeliveryCounts> {
        let skill = self.find_skill(a, skill).await?;
        let scoped = self.store.scoped(a.id());
        let mut c = DeliveryCounts::default();
        for (status, n) in scoped.skill_delivery_counts(&skill.id).await? {
            match status.as_str() {
                "pending" => c.pending = n,
                "delivered" => c.delivered = n,
                _ => c.failed += n,
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::event_status;

    #[test]
    fn an_event_is_pending_until_every_destination_settles() {
        assert_eq!(event_status(["pending", "delivered"]), "pending");
        assert_eq!(event_status(["delivered", "delivered"]), "delivered");
        assert_eq!(event_status(["delivered", "failed"]), "partial");
        assert_eq!(event_status(["failed"]), "failed");
    }
}
