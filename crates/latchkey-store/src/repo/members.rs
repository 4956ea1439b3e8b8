//! A tenant's members: which accounts may use its dashboard, and with which role.
use latchkey_core::TenantId;
use latchkey_core::role::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::Scoped;
use super::accounts::account_record;
use crate::entities::{account, tenant_member};
use crate::error::StoreError;
use crate::records::{Account, Member};
use crate::{new_id, now};

pub(super) fn member_record(m: tenant_member::Model, a: &Account) -> Option<Member> {
    Some(Member {
        id: m.id,
        tenant_id: TenantId::new(m.tenant_id),
        account_id: m.account_id,
        email: a.email.clone(),
        email_verified: a.email_verified,
        role: m.role.parse().ok()?,
        created_at: m.created_at,
    })
}

pub(super) async fn insert_member<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    account: &Account,
    role: Role,
) -> Result<Member, StoreError> {
    let m = tenant_member::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant.as_str().to_owned()),
        account_id: Set(account.id.clone()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now()),
    }
    .insert(db)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("'{}' is already a member", account.email)),
        other => other,
    })?;
    member_record(m, account).ok_or_else(|| StoreError::Corrupt("member role".into()))
}

impl Scoped<'_> {
    pub async fn add_member(&self, account: &Account, role: Role) -> Result<Member, StoreError> {
        insert_member(self.writer(), self.tenant_id(), account, role).await
    }

    /// The member row for an account, if the account belongs to this tenant.
    pub async fn member_by_account(&self, account_id: &str) -> Result<Option<Member>, StoreError> {
        self.store.member_for(self.tenant_id(), account_id).await
    }

    pub async fn member(&self, member_id: &str) -> Result<Option<Member>, StoreError> {
        let Some(m) = tenant_member::Entity::find_by_id(member_id)
            .filter(tenant_member::Column::TenantId.eq(self.tid()))
            .one(self.db())
            .await?
        else {
            return Ok(None);
        };
        let Some(a) = account::Entity::find_by_id(m.account_id.clone()).one(self.db()).await? else {
            return Ok(None);
        };
        Ok(member_record(m, &account_record(a)))
    }

    pub async fn list_members(&self) -> Result<Vec<Member>, StoreError> {
        let rows = tenant_member::Entity::find()
            .filter(tenant_member::Column::TenantId.eq(self.tid()))
            .order_by_asc(tenant_member::Column::CreatedAt)
            .all(self.db())
            .await?;
        let ids: Vec<String> = rows.iter().map(|m| m.account_id.clone()).collect();
        let accounts: Vec<Account> = account::Entity::find()
            .filter(account::Column::Id.is_in(ids))
            .all(self.db())
            .await?
            .into_iter()
            .map(account_record)
            .collect();
        Ok(rows
            .into_iter()
            .filter_map(|m| {
                let a = accounts.iter().find(|a| a.id == m.account_id)?;
                member_record(m, a)
            })
            .collect())
    }

    pub async fn set_member_role(&self, member_id: &str, role: Role) -> Result<(), StoreError> {
        let r = tenant_member::Entity::update_many()
            .col_expr(tenant_member::Column::Role, Expr::value(role.as_str()))
            .filter(tenant_member::Column::Id.eq(member_id))
            .filter(tenant_member::Column::TenantId.eq(self.tid()))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    pub async fn remove_member(&self, member_id: &str) -> Result<(), StoreError> {
        let r = tenant_member::Entity::delete_many()
            .filter(tenant_member::Column::Id.eq(member_id))
            .filter(tenant_member::Column::TenantId.eq(self.tid()))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
