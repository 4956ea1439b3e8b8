//! Amazon's tokens on a link (from AcceptGrant), sealed with the master key, and the link's Alexa state.
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Scoped;
use super::links::to_record;
use crate::entities::linked_account;
use crate::error::StoreError;
use crate::now;
use crate::records::{AmazonTokens, LinkedAccount};
use crate::secrets::context;

impl Scoped<'_> {
    pub async fn link_by_id(&self, link_id: &str) -> Result<Option<LinkedAccount>, StoreError> {
        Ok(linked_account::Entity::find()
            .filter(linked_account::Column::TenantId.eq(self.tid()))
            .filter(linked_account::Column::Id.eq(link_id))
            .one(self.db())
            .await?
            .map(to_record))
    }

    pub async fn store_amazon_tokens(&self, link_id: &str, t: &AmazonTokens) -> Result<(), StoreError> {
        let tid = self.tid();
        let secrets = self.store.secrets();
        let r = linked_account::Entity::update_many()
            .col_expr(
                linked_account::Column::LwaAccessToken,
                Expr::value(secrets.seal_str(&context::amazon_access(&tid, link_id), &t.access_token)?),
            )
            .col_expr(
                linked_account::Column::LwaRefreshToken,
                Expr::value(secrets.seal_str(&context::amazon_refresh(&tid, link_id), &t.refresh_token)?),
            )
            .col_expr(linked_account::Column::LwaExpiresAt, Expr::value(t.expires_at))
            .col_expr(linked_account::Column::UpdatedAt, Expr::value(now()))
            .filter(linked_account::Column::TenantId.eq(&tid))
            .filter(linked_account::Column::Id.eq(link_id))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    pub async fn amazon_tokens(&self, link_id: &str) -> Result<Option<AmazonTokens>, StoreError> {
        let Some(m) = linked_account::Entity::find()
            .filter(linked_account::Column::TenantId.eq(self.tid()))
            .filter(linked_account::Column::Id.eq(link_id))
            .one(self.db())
            .await?
        else {
            return Ok(None);
        };
        let (Some(a), Some(r), Some(exp)) = (m.lwa_access_token, m.lwa_refresh_token, m.lwa_expires_at) else {
            return Ok(None);
        };
        let secrets = self.store.secrets();
        Ok(Some(AmazonTokens {
            access_token: secrets.open_str(&context::amazon_access(&m.tenant_id, link_id), &a)?,
            refresh_token: secrets.open_str(&context::amazon_refresh(&m.tenant_id, link_id), &r)?,
            expires_at: exp,
        }))
    }

    pub async fn delete_amazon_tokens(&self, link_id: &str) -> Result<(), StoreError> {
        linked_account::Entity::update_many()
            .col_expr(linked_account::Column::LwaAccessToken, Expr::value(Option::<String>::None))
            .col_expr(linked_account::Column::LwaRefreshToken, Expr::value(Option::<String>::None))
            .col_expr(linked_account::Column::LwaExpiresAt, Expr::value(Option::<i64>::None))
            .col_expr(linked_account::Column::UpdatedAt, Expr::value(now()))
            .filter(linked_account::Column::TenantId.eq(self.tid()))
            .filter(linked_account::Column::Id.eq(link_id))
            .exec(self.writer())
            .await?;
        Ok(())
    }

    /// `active`, `inactive` (Alexa says the skill is disabled for this user) or `revoked`.
    pub async fn set_link_status(&self, link_id: &str, status: &str) -> Result<(), StoreError> {
        linked_account::Entity::update_many()
            .col_expr(linked_account::Column::Status, Expr::value(status))
            .col_expr(linked_account::Column::UpdatedAt, Expr::value(now()))
            .filter(linked_account::Column::TenantId.eq(self.tid()))
            .filter(linked_account::Column::Id.eq(link_id))
            .exec(self.writer())
            .await?;
        Ok(())
    }

    pub async fn record_event_outcome(&self, link_id: &str, status: &str) -> Result<(), StoreError> {
        linked_account::Entity::update_many()
            .col_expr(linked_account::Column::LastEventStatus, Expr::value(status))
            .col_expr(linked_account::Column::LastEventAt, Expr::value(now()))
            .filter(linked_account::Column::TenantId.eq(self.tid()))
            .filter(linked_account::Column::Id.eq(link_id))
            .exec(self.writer())
            .await?;
        Ok(())
    }
}
