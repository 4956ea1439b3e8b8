//! End users of a tenant. Emails are stored lowercased so lookups are case-insensitive.
use latchkey_core::TenantId;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};

use super::Scoped;
use crate::entities::end_user;
use crate::error::StoreError;
use crate::records::EndUser;
use crate::{new_id, now};

fn to_record(m: end_user::Model) -> EndUser {
    EndUser {
        id: m.id,
        tenant_id: TenantId::new(m.tenant_id),
        email: m.email,
        password_hash: m.password_hash,
        name: m.name,
        email_verified: m.email_verified,
        disabled: m.disabled,
        created_at: m.created_at,
    }
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Scoped<'_> {
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: Option<String>,
        name: Option<String>,
    ) -> Result<EndUser, StoreError> {
        self.create_user_with(email, password_hash, name, false).await
    }

    /// Creates a user; `email_verified` when an identity provider vouched for the address.
    pub async fn create_user_with(
        &self,
        email: &str,
        password_hash: Option<String>,
        name: Option<String>,
        email_verified: bool,
    ) -> Result<EndUser, StoreError> {
        let email = normalize_email(email);
        let m = end_user::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            email: Set(email.clone()),
            password_hash: Set(password_hash),
            name: Set(name),
            email_verified: Set(email_verified),
            disabled: Set(false),
            created_at: Set(now()),
        }
        .insert(self.writer())
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("a user with email '{email}' already exists")),
            other => other,
        })?;
        Ok(to_record(m))
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<EndUser>, StoreError> {
        Ok(end_user::Entity::find()
            .filter(end_user::Column::TenantId.eq(self.tid()))
            .filter(end_user::Column::Email.eq(normalize_email(email)))
            .one(self.db())
            .await?
            .map(to_record))
    }

    pub async fn user(&self, id: &str) -> Result<Option<EndUser>, StoreError> {
        Ok(end_user::Entity::find()
            .filter(end_user::Column::TenantId.eq(self.tid()))
            .filter(end_user::Column::Id.eq(id))
            .one(self.db())
            .await?
            .map(to_record))
    }

    pub async fn list_users(&self) -> Result<Vec<EndUser>, StoreError> {
        Ok(end_user::Entity::find()
            .filter(end_user::Column::TenantId.eq(self.tid()))
            .order_by_asc(end_user::Column::Email)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect())
    }

    pub async fn set_email_verified(&self, id: &str, verified: bool) -> Result<(), StoreError> {
        let r = end_user::Entity::update_many()
            .col_expr(end_user::Column::EmailVerified, sea_orm::sea_query::Expr::value(verified))
            .filter(end_user::Column::TenantId.eq(self.tid()))
            .filter(end_user::Column::Id.eq(id))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Disables or enables a user. Either way every instance forgets what it knew of the user (the
    /// revocation feed), so a disabled user's tokens stop working everywhere within its bound.
    pub async fn set_user_disabled(&self, id: &str, disabled: bool) -> Result<(), StoreError> {
        let txn = self.writer().begin().await?;
        let r = end_user::Entity::update_many()
            .col_expr(end_user::Column::Disabled, sea_orm::sea_query::Expr::value(disabled))
            .filter(end_user::Column::TenantId.eq(self.tid()))
            .filter(end_user::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        self.commit_user_revocation(txn, r.rows_affected, id).await
    }

    /// Deletes a user; their grants go with them (and the revocation feed says so).
    pub async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
        let txn = self.writer().begin().await?;
        let r = end_user::Entity::delete_many()
            .filter(end_user::Column::TenantId.eq(self.tid()))
            .filter(end_user::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        self.commit_user_revocation(txn, r.rows_affected, id).await
    }

    async fn commit_user_revocation(
        &self,
        txn: sea_orm::DatabaseTransaction,
        rows: u64,
        id: &str,
    ) -> Result<(), StoreError> {
        if rows == 0 {
            txn.rollback().await?;
            return Err(StoreError::NotFound);
        }
        self.commit_revoking(txn, super::RevocationKind::User, id).await
    }
}

impl Scoped<'_> {
    /// One page of users, optionally those whose email contains `q`, ordered by email.
    pub async fn search_users(&self, q: Option<&str>, offset: u64, limit: u64) -> Result<Vec<EndUser>, StoreError> {
        use sea_orm::QuerySelect;
        let mut query = end_user::Entity::find().filter(end_user::Column::TenantId.eq(self.tid()));
        if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
            query = query.filter(end_user::Column::Email.contains(q.to_lowercase()));
        }
        Ok(query
            .order_by_asc(end_user::Column::Email)
            .offset(offset)
            .limit(limit)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect())
    }

    pub async fn set_user_password_hash(&self, id: &str, hash: &str) -> Result<(), StoreError> {
        let r = end_user::Entity::update_many()
            .col_expr(end_user::Column::PasswordHash, sea_orm::sea_query::Expr::value(hash))
            .filter(end_user::Column::TenantId.eq(self.tid()))
            .filter(end_user::Column::Id.eq(id))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}

impl Scoped<'_> {
    pub async fn count_users(&self) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(end_user::Entity::find().filter(end_user::Column::TenantId.eq(self.tid())).count(self.db()).await?)
    }
}
