//! The audit log: who did what, when, from where.
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::Scoped;
use crate::entities::{audit_event, tenant};
use crate::error::StoreError;
use crate::records::AuditEvent;
use crate::{new_id, now};

fn event(
    tenant_id: Option<String>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: &serde_json::Value,
    ip: Option<&str>,
) -> audit_event::ActiveModel {
    audit_event::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant_id),
        at: Set(now()),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        target: Set(target.map(str::to_owned)),
        detail: Set(detail.to_string()),
        ip: Set(ip.map(str::to_owned)),
    }
}

fn to_record(m: audit_event::Model) -> AuditEvent {
    AuditEvent {
        detail: serde_json::from_str(&m.detail).unwrap_or(serde_json::Value::Null),
        id: m.id,
        tenant_id: m.tenant_id,
        at: m.at,
        actor: m.actor,
        action: m.action,
        target: m.target,
        ip: m.ip,
    }
}

/// One page of events, newest first (ties broken by id, which sorts by creation).
async fn newest_first(
    q: sea_orm::Select<audit_event::Entity>,
    offset: u64,
    limit: u64,
    db: &sea_orm::DatabaseConnection,
) -> Result<Vec<AuditEvent>, StoreError> {
    Ok(q.order_by_desc(audit_event::Column::At)
        .order_by_desc(audit_event::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_record)
        .collect())
}

impl crate::Store {
    /// An event about the installation rather than one tenant (operators come and go): no tenant.
    pub async fn audit_global(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        event(None, actor, action, target, &detail, None).insert(self.writer()).await?;
        Ok(())
    }

    /// Deletes events older than `cutoff` that no tenant's pruning reaches: the installation's own
    /// (operators, re-seals) and those of deleted tenants; how many.
    pub async fn prune_unowned_audit(&self, cutoff: i64) -> Result<u64, StoreError> {
        use sea_orm::sea_query::{Condition, Query};
        let live_tenants = Query::select().column(tenant::Column::Id).from(tenant::Entity).to_owned();
        Ok(audit_event::Entity::delete_many()
            .filter(audit_event::Column::At.lt(cutoff))
            .filter(
                Condition::any()
                    .add(audit_event::Column::TenantId.is_null())
                    .add(audit_event::Column::TenantId.not_in_subquery(live_tenants)),
            )
            .exec(self.writer())
            .await?
            .rows_affected)
    }

    /// The installation's own events, newest first.
    pub async fn global_audit_events(&self, limit: u64) -> Result<Vec<AuditEvent>, StoreError> {
        newest_first(audit_event::Entity::find().filter(audit_event::Column::TenantId.is_null()), 0, limit, self.db())
            .await
    }
}

impl Scoped<'_> {
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
        ip: Option<&str>,
    ) -> Result<(), StoreError> {
        event(Some(self.tid()), actor, action, target, &detail, ip).insert(self.writer()).await?;
        Ok(())
    }

    /// Deletes this tenant's audit events older than `cutoff`; how many.
    pub async fn prune_audit(&self, cutoff: i64) -> Result<u64, StoreError> {
        Ok(audit_event::Entity::delete_many()
            .filter(audit_event::Column::TenantId.eq(self.tid()))
            .filter(audit_event::Column::At.lt(cutoff))
            .exec(self.writer())
            .await?
            .rows_affected)
    }

    /// Newest first.
    pub async fn audit_events(&self, action: Option<&str>, limit: u64) -> Result<Vec<AuditEvent>, StoreError> {
        self.search_audit(&AuditFilter { action: action.map(str::to_owned), ..Default::default() }, 0, limit).await
    }

    /// Newest first, filtered: an action or an action prefix ending in `.` ("client."), an actor
    /// substring, and a time range.
    pub async fn search_audit(&self, f: &AuditFilter, offset: u64, limit: u64) -> Result<Vec<AuditEvent>, StoreError> {
        let mut q = audit_event::Entity::find().filter(audit_event::Column::TenantId.eq(self.tid()));
        match f.action.as_deref().filter(|a| !a.is_empty()) {
            Some(a) if a.ends_with('.') => q = q.filter(audit_event::Column::Action.starts_with(a)),
            Some(a) => q = q.filter(audit_event::Column::Action.eq(a)),
            None => {}
        }
        if let Some(actor) = f.actor.as_deref().filter(|a| !a.is_empty()) {
            q = q.filter(audit_event::Column::Actor.contains(actor));
        }
        if let Some(since) = f.since {
            q = q.filter(audit_event::Column::At.gte(since));
        }
        if let Some(until) = f.until {
            q = q.filter(audit_event::Column::At.lt(until));
        }
        newest_first(q, offset, limit, self.db()).await
    }
}

/// What the audit log can be filtered by.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}
