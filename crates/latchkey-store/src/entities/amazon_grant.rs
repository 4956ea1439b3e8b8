//! The `amazon_grants` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "amazon_grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub link_id: String,
    pub family_id: Option<String>,
    pub region: String,
    pub status: String,
    pub lwa_access_token: Option<String>,
    pub lwa_refresh_token: Option<String>,
    pub lwa_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_refreshed_at: Option<i64>,
    pub last_event_status: Option<String>,
    pub last_event_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub ended_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
