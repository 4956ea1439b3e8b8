//! The audit log: who did what, when, from where.
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::Scoped;
use crate::entities::audit_event;
use crate::error::StoreError;
use crate::records::AuditEvent;
use crate::{new_id, now};

impl Scoped<'_> {
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
        ip: Option<&str>,
    ) -> Result<(), StoreError> {
        audit_event::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(Some(self.tid())),
            at: Set(now()),
            actor: Set(actor.to_owned()),
            action: Set(action.to_owned()),
            target: Set(target.map(str::to_owned)),
            detail: Set(detail.to_string()),
            ip: Set(ip.map(str::to_owned)),
        }
        .insert(self.writer())
        .await?;
        Ok(())
    }

    /// Newest first.
    pub async fn audit_events(&self, action: Option<&str>, limit: u64) -> Result<Vec<AuditEvent>, StoreError> {
        let mut q = audit_event::Entity::find().filter(audit_event::Column::TenantId.eq(self.tid()));
        if let Some(a) = action {
            q = q.filter(audit_event::Column::Action.eq(a));
        }
        Ok(q.order_by_desc(audit_event::Column::At)
            .order_by_desc(audit_event::Column::Id)
            .limit(limit)
            .all(self.db())
            .await?
            .into_iter()
            .map(|m| AuditEvent {
                detail: serde_json::from_str(&m.detail).unwrap_or(serde_json::Value::Null),
                id: m.id,
                tenant_id: m.tenant_id,
                at: m.at,
                actor: m.actor,
                action: m.action,
                target: m.target,
                ip: m.ip,
            })
            .collect())
    }
}
