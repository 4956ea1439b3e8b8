//! The `smapi_credentials` table: one row per tenant that publishes through SMAPI.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "smapi_credentials")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    pub lwa_client_id: String,
    /// Sealed.
    pub lwa_client_secret: String,
    /// Sealed.
    pub refresh_token: String,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
