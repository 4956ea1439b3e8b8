//! Linked accounts: the consent a user gave a client (for Alexa, a skill), remembered per link.
use latchkey_core::TenantId;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};

use super::{Scoped, split_scopes};
use crate::entities::{amazon_grant, linked_account, refresh_family};
use crate::error::StoreError;
use crate::records::LinkedAccount;
use crate::{new_id, now};

pub(super) fn to_record(m: linked_account::Model) -> LinkedAccount {
    LinkedAccount {
        id: m.id,
        tenant_id: TenantId::new(m.tenant_id),
        user_id: m.user_id,
        client_id: m.client_id,
        scopes: split_scopes(&m.scope),
        status: m.status,
        created_at: m.created_at,
        updated_at: m.updated_at,
        last_refreshed_at: m.last_refreshed_at,
    }
}

impl Scoped<'_> {
    pub async fn link_by_id(&self, link_id: &str) -> Result<Option<LinkedAccount>, StoreError> {
        Ok(linked_account::Entity::find()
            .filter(linked_account::Column::TenantId.eq(self.tid()))
            .filter(linked_account::Column::Id.eq(link_id))
            .one(self.db())
            .await?
            .map(to_record))
    }

    pub async fn link(&self, user_id: &str, client_row_id: &str) -> Result<Option<LinkedAccount>, StoreError> {
        Ok(linked_account::Entity::find()
            .filter(linked_account::Column::TenantId.eq(self.tid()))
            .filter(linked_account::Column::UserId.eq(user_id))
            .filter(linked_account::Column::ClientId.eq(client_row_id))
            .one(self.db())
            .await?
            .map(to_record))
    }

    /// Records consent: creates the link, or reactivates it and widens its scopes. Two consents of the
    /// same user to the same client at once (a double tap, two devices) both succeed: the one that loses
    /// the insert race widens the link the other created (found by the three-instance benchmark).
    pub async fn grant_link(
        &self,
        user_id: &str,
        client_row_id: &str,
        scopes: &[String],
    ) -> Result<LinkedAccount, StoreError> {
        if let Some(existing) = self.link(user_id, client_row_id).await? {
            return self.widen_link(existing, scopes).await;
        }
        let t = now();
        let inserted = linked_account::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            user_id: Set(user_id.to_owned()),
            client_id: Set(client_row_id.to_owned()),
            scope: Set(scopes.join(" ")),
            status: Set("active".into()),
            created_at: Set(t),
            updated_at: Set(t),
            last_refreshed_at: Set(None),
        }
        .insert(self.writer())
        .await;
        match inserted.map_err(StoreError::from) {
            Ok(m) => Ok(to_record(m)),
            Err(StoreError::Conflict(_)) => {
                let existing = self.link(user_id, client_row_id).await?.ok_or(StoreError::NotFound)?;
                self.widen_link(existing, scopes).await
            }
            Err(e) => Err(e),
        }
    }

    async fn widen_link(&self, existing: LinkedAccount, scopes: &[String]) -> Result<LinkedAccount, StoreError> {
        let mut merged = if existing.status == "active" { existing.scopes.clone() } else { Vec::new() };
        for s in scopes {
            if !merged.contains(s) {
                merged.push(s.clone());
            }
        }
        let m = linked_account::ActiveModel {
            id: Set(existing.id.clone()),
            scope: Set(merged.join(" ")),
            status: Set("active".into()),
            updated_at: Set(now()),
            ..Default::default()
        }
        .update(self.writer())
        .await?;
        Ok(to_record(m))
    }

    pub async fn list_links(&self, user_id: Option<&str>) -> Result<Vec<LinkedAccount>, StoreError> {
        let mut q = linked_account::Entity::find().filter(linked_account::Column::TenantId.eq(self.tid()));
        if let Some(u) = user_id {
            q = q.filter(linked_account::Column::UserId.eq(u));
        }
        Ok(q.order_by_desc(linked_account::Column::CreatedAt)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect())
    }

    /// One page of links, newest first, optionally of one user and/or one client (internal id).
    pub async fn search_links(
        &self,
        user_id: Option<&str>,
        client_row_id: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<LinkedAccount>, StoreError> {
        use sea_orm::QuerySelect;
        let mut q = linked_account::Entity::find().filter(linked_account::Column::TenantId.eq(self.tid()));
        if let Some(u) = user_id {
            q = q.filter(linked_account::Column::UserId.eq(u));
        }
        if let Some(c) = client_row_id {
            q = q.filter(linked_account::Column::ClientId.eq(c));
        }
        Ok(q.order_by_desc(linked_account::Column::CreatedAt)
            .order_by_desc(linked_account::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect())
    }

    /// Unlinks: the link is marked revoked and every token family of that user and client is revoked,
    /// in one transaction.
    pub async fn revoke_link(&self, link_id: &str) -> Result<LinkedAccount, StoreError> {
        let link = linked_account::Entity::find()
            .filter(linked_account::Column::TenantId.eq(self.tid()))
            .filter(linked_account::Column::Id.eq(link_id))
            .one(self.db())
            .await?
            .ok_or(StoreError::NotFound)?;
        let t = now();
        let txn = self.writer().begin().await?;
        linked_account::Entity::update_many()
            .col_expr(linked_account::Column::Status, Expr::value("revoked"))
            .col_expr(linked_account::Column::UpdatedAt, Expr::value(t))
            .filter(linked_account::Column::TenantId.eq(self.tid()))
            .filter(linked_account::Column::Id.eq(link_id))
            .exec(&txn)
            .await?;
        // Unlinking also ends every Alexa grant on the link and forgets Amazon's tokens.
        self.end_grants(super::GrantEnd::Revoked, "unlinked", t)
            .filter(amazon_grant::Column::LinkId.eq(link_id))
            .exec(&txn)
            .await?;
        crate::fault::point("unlink.after_link");
        refresh_family::Entity::update_many()
            .col_expr(refresh_family::Column::RevokedAt, Expr::value(t))
            .col_expr(refresh_family::Column::RevokedReason, Expr::value("unlinked"))
            .filter(refresh_family::Column::TenantId.eq(self.tid()))
            .filter(refresh_family::Column::UserId.eq(&link.user_id))
            .filter(refresh_family::Column::ClientId.eq(&link.client_id))
            .filter(refresh_family::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(to_record(link))
    }
}

impl Scoped<'_> {
    /// Active links.
    pub async fn count_links(&self) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(linked_account::Entity::find()
            .filter(linked_account::Column::TenantId.eq(self.tid()))
            .filter(linked_account::Column::Status.eq("active"))
            .count(self.db())
            .await?)
    }
}
