//! The Alexa event outbox: one row per (event, destination grant), written before the skill backend
//! hears 202, claimed by workers with a lease, finished or rescheduled by them.
use latchkey_core::TenantId;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait,
};

use super::Scoped;
use crate::entities::alexa_delivery;
use crate::error::StoreError;
use crate::group_commit::Event;
use crate::{Store, new_id, now};

/// One destination of an accepted event.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub grant_id: String,
    pub region: String,
}

/// What an accepted event is made of.
#[derive(Clone, Debug)]
pub struct NewEvent<'a> {
    pub skill_id: &'a str,
    pub user_id: &'a str,
    /// `{"event": …, "context": …}` as the caller sent it, without Amazon's token.
    pub payload: &'a str,
    /// Seconds after acceptance when an undelivered event is given up.
    pub deadline_secs: i64,
}

/// What became of one attempt at a claimed delivery.
#[derive(Clone, Debug, PartialEq)]
pub enum Settlement {
    /// The gateway accepted it; `outcome` is what the status endpoint shows.
    Delivered { gateway_status: Option<u16>, outcome: String },
    /// Given up: refused for a reason, or past its deadline.
    Failed { last_status: Option<u16>, last_code: Option<String>, outcome: String },
    /// Another attempt at `next_at`.
    Retry { next_at: i64, last_status: Option<u16>, last_code: Option<String> },
}

/// A delivery row, as a worker or a status lookup sees it.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: String,
    pub tenant_id: String,
    pub event_id: String,
    pub grant_id: String,
    pub skill_id: String,
    pub user_id: String,
    pub region: String,
    pub payload: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub deadline_at: i64,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    pub last_status: Option<i32>,
    pub last_code: Option<String>,
    pub outcome: Option<String>,
}

fn to_record(m: alexa_delivery::Model) -> Delivery {
    Delivery {
        id: m.id,
        tenant_id: m.tenant_id,
        event_id: m.event_id,
        grant_id: m.grant_id,
        skill_id: m.skill_id,
        user_id: m.user_id,
        region: m.region,
        payload: m.payload,
        status: m.status,
        attempts: m.attempts,
        next_attempt_at: m.next_attempt_at,
        deadline_at: m.deadline_at,
        created_at: m.created_at,
        delivered_at: m.delivered_at,
        last_status: m.last_status,
        last_code: m.last_code,
        outcome: m.outcome,
    }
}

/// Rows settled by one statement: 7 parameters each, far under SQLite's and PostgreSQL's bounds.
const SETTLE_CHUNK: usize = 1000;
const SETTLE_COLUMNS: usize = 7;

/// `(…), (…)` with `rows` rows of `columns` placeholders each, in the backend's spelling.
fn values_rows(backend: DbBackend, rows: usize, columns: usize) -> String {
    let mut n = 0;
    let mut row = || {
        let cells: Vec<String> = (0..columns)
            .map(|_| {
                n += 1;
                if backend == DbBackend::Postgres { format!("${n}") } else { "?".to_owned() }
            })
            .collect();
        format!("({})", cells.join(", "))
    };
    (0..rows).map(|_| row()).collect::<Vec<_>>().join(", ")
}

impl Scoped<'_> {
    /// Stores an event for each destination; returns the rows, pending. Events accepted together are
    /// committed together (group_commit.rs): this returns once this event's rows are committed.
    pub async fn enqueue_event(
        &self,
        event_id: &str,
        e: &NewEvent<'_>,
        destinations: &[NewDelivery],
    ) -> Result<Vec<Delivery>, StoreError> {
        let row = self.pending_row(event_id, e);
        let rows = destinations
            .iter()
            .map(|d| alexa_delivery::Model {
                id: new_id(),
                grant_id: d.grant_id.clone(),
                region: d.region.clone(),
                ..row.clone()
            })
            .collect();
        self.write_event(Event::Rows(rows)).await
    }

    /// Stores an event for each grant events go to of the user's link to the client (row id): active,
    /// on a link that is not revoked, their Latchkey grant not revoked, read in the transaction that
    /// stores the rows. Returns the rows, pending; none if the user has nowhere to receive it.
    pub async fn enqueue_event_to_user(
        &self,
        event_id: &str,
        e: &NewEvent<'_>,
        client_row_id: &str,
    ) -> Result<Vec<Delivery>, StoreError> {
        let row = Box::new(self.pending_row(event_id, e));
        self.write_event(Event::ToUser { row, client_id: client_row_id.to_owned() }).await
    }

    async fn write_event(&self, event: Event) -> Result<Vec<Delivery>, StoreError> {
        Ok(self.store.outbox_writer().write(event).await?.into_iter().map(to_record).collect())
    }

    /// An event's row before its destination (id, grant and region) is set: pending, due now.
    fn pending_row(&self, event_id: &str, e: &NewEvent<'_>) -> alexa_delivery::Model {
        let t = now();
        alexa_delivery::Model {
            id: String::new(),
            tenant_id: self.tid(),
            event_id: event_id.to_owned(),
            grant_id: String::new(),
            skill_id: e.skill_id.to_owned(),
            user_id: e.user_id.to_owned(),
            region: String::new(),
            payload: e.payload.to_owned(),
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: t,
            lease_until: None,
            deadline_at: t + e.deadline_secs,
            created_at: t,
            updated_at: t,
            delivered_at: None,
            last_status: None,
            last_code: None,
            outcome: None,
        }
    }

    /// The destinations of one event, in the order they were stored.
    pub async fn event_deliveries(&self, event_id: &str) -> Result<Vec<Delivery>, StoreError> {
        Ok(alexa_delivery::Entity::find()
            .filter(alexa_delivery::Column::TenantId.eq(self.tid()))
            .filter(alexa_delivery::Column::EventId.eq(event_id))
            .order_by_asc(alexa_delivery::Column::Id)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect())
    }

    /// Deliveries of a skill (row id), newest first, optionally in one status.
    pub async fn skill_deliveries(
        &self,
        skill_id: &str,
        status: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut q = alexa_delivery::Entity::find()
            .filter(alexa_delivery::Column::TenantId.eq(self.tid()))
            .filter(alexa_delivery::Column::SkillId.eq(skill_id));
        if let Some(s) = status {
            q = q.filter(alexa_delivery::Column::Status.eq(s));
        }
        Ok(q.order_by_desc(alexa_delivery::Column::CreatedAt)
            .order_by_desc(alexa_delivery::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect())
    }

    /// How many of the tenant's deliveries are waiting (pending), over all its skills.
    pub async fn pending_deliveries(&self) -> Result<u64, StoreError> {
        Ok(alexa_delivery::Entity::find()
            .filter(alexa_delivery::Column::TenantId.eq(self.tid()))
            .filter(alexa_delivery::Column::Status.eq("pending"))
            .count(self.db())
            .await?)
    }

    /// How many deliveries of a skill (row id) are in each status.
    pub async fn skill_delivery_counts(&self, skill_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
        #[derive(FromQueryResult)]
        struct Count {
            status: String,
            n: i64,
        }
        let rows = alexa_delivery::Entity::find()
            .select_only()
            .column(alexa_delivery::Column::Status)
            .column_as(alexa_delivery::Column::Id.count(), "n")
            .filter(alexa_delivery::Column::TenantId.eq(self.tid()))
            .filter(alexa_delivery::Column::SkillId.eq(skill_id))
            .group_by(alexa_delivery::Column::Status)
            .into_model::<Count>()
            .all(self.db())
            .await?;
        Ok(rows.into_iter().map(|c| (c.status, c.n)).collect())
    }

    /// Deletes delivered and failed deliveries last touched before `cutoff`; pending ones stay.
    pub async fn prune_settled_deliveries(&self, cutoff: i64) -> Result<u64, StoreError> {
        Ok(alexa_delivery::Entity::delete_many()
            .filter(alexa_delivery::Column::TenantId.eq(self.tid()))
            .filter(alexa_delivery::Column::Status.ne("pending"))
            .filter(alexa_delivery::Column::UpdatedAt.lt(cutoff))
            .exec(self.writer())
            .await?
            .rows_affected)
    }
}

impl Store {
    /// Records what became of a claimed batch's attempts and releases their leases. Each row is
    /// addressed with its own tenant. One statement per chunk of rows (`UPDATE … FROM (VALUES …)`), not
    /// one per row: on PostgreSQL every statement is a round trip, and a batch of 128 settled row by
    /// row spent more time waiting on them than on anything else. Rows are independent: if a chunk
    /// fails, its rows stay leased and are attempted again when the lease runs out (at least once).
    pub async fn settle_deliveries(&self, settled: &[(TenantId, String, Settlement)]) -> Result<(), StoreError> {
        let t = now();
        let backend = self.writer().get_database_backend();
        for chunk in settled.chunks(SETTLE_CHUNK) {
            let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * SETTLE_COLUMNS);
            for (tenant, id, s) in chunk {
                let (status, last_status, last_code, outcome, next_at) = match s {
                    Settlement::Delivered { gateway_status, outcome } => {
                        ("delivered", *gateway_status, None, Some(outcome.clone()), None)
                    }
                    Settlement::Failed { last_status, last_code, outcome } => {
                        ("failed", *last_status, last_code.clone(), Some(outcome.clone()), None)
                    }
                    Settlement::Retry { next_at, last_status, last_code } => {
                        ("pending", *last_status, last_code.clone(), None, Some(*next_at))
                    }
                };
                values.extend([
                    tenant.as_str().into(),
                    id.as_str().into(),
                    status.into(),
                    last_status.map(i32::from).into(),
                    last_code.into(),
                    outcome.into(),
                    next_at.into(),
                ]);
            }
            // A retry keeps the row's outcome (none yet) and a settled row its due time; `t` is ours.
            let sql = format!(
                "UPDATE alexa_deliveries AS d SET status = v.column3, lease_until = NULL, last_status = v.column4, \
                 last_code = v.column5, outcome = COALESCE(v.column6, d.outcome), \
                 next_attempt_at = COALESCE(v.column7, d.next_attempt_at), \
                 delivered_at = CASE WHEN v.column3 = 'delivered' THEN {t} ELSE d.delivered_at END, updated_at = {t} \
                 FROM (VALUES {}) AS v WHERE d.tenant_id = v.column1 AND d.id = v.column2",
                values_rows(backend, chunk.len(), SETTLE_COLUMNS)
            );
            self.writer().execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        }
        Ok(())
    }

    /// Renews the leases of deliveries a worker still holds, for `lease_secs` from now: rows still
    /// pending, still leased, and not claimed again since (`attempts` as the claim returned it fences
    /// out a row another worker took over after the lease lapsed). Returns how many were renewed.
    pub async fn renew_leases(&self, held: &[(TenantId, String, i32)], lease_secs: i64) -> Result<u64, StoreError> {
        if held.is_empty() {
            return Ok(0);
        }
        let until = now() + lease_secs;
        let txn = self.writer().begin().await?;
        let mut renewed = 0;
        for (tenant, id, attempts) in held {
            renewed += alexa_delivery::Entity::update_many()
                .col_expr(alexa_delivery::Column::LeaseUntil, Expr::value(until))
                .filter(alexa_delivery::Column::TenantId.eq(tenant.as_str()))
                .filter(alexa_delivery::Column::Id.eq(id.as_str()))
                .filter(alexa_delivery::Column::Attempts.eq(*attempts))
                .filter(alexa_delivery::Column::Status.eq("pending"))
                .filter(alexa_delivery::Column::LeaseUntil.is_not_null())
                .exec(&txn)
                .await?
                .rows_affected;
        }
        txn.commit().await?;
        Ok(renewed)
    }

    /// Claims up to `limit` due deliveries of every tenant for `lease_secs`: pending, due, and not
    /// leased by a live worker. PostgreSQL skips rows another instance is claiming (`FOR UPDATE SKIP
    /// LOCKED`); SQLite has one writer, so the statement is atomic there. Each claim counts an attempt.
    pub async fn claim_due_deliveries(&self, lease_secs: i64, limit: u64) -> Result<Vec<Delivery>, StoreError> {
        let t = now();
        let backend = self.writer().get_database_backend();
        let (sql, values) = match backend {
            DbBackend::Postgres => (
                "UPDATE alexa_deliveries SET lease_until = $1, attempts = attempts + 1, updated_at = $2 \
                 WHERE id IN (SELECT id FROM alexa_deliveries WHERE status = 'pending' AND next_attempt_at <= $3 \
                 AND (lease_until IS NULL OR lease_until < $4) ORDER BY next_attempt_at LIMIT $5 \
                 FOR UPDATE SKIP LOCKED) RETURNING *",
                vec![(t + lease_secs).into(), t.into(), t.into(), t.into(), (limit as i64).into()],
            ),
            _ => (
                "UPDATE alexa_deliveries SET lease_until = ?, attempts = attempts + 1, updated_at = ? \
                 WHERE id IN (SELECT id FROM alexa_deliveries WHERE status = 'pending' AND next_attempt_at <= ? \
                 AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at LIMIT ?) RETURNING *",
                vec![(t + lease_secs).into(), t.into(), t.into(), t.into(), (limit as i64).into()],
            ),
        };
        let rows = alexa_delivery::Model::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(self.writer())
            .await?;
        Ok(rows.into_iter().map(to_record).collect())
    }
}
