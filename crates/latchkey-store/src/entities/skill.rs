//! The `skills` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "skills")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub alexa_skill_id: String,
    pub vendor_id: String,
    pub kind: String,
    /// Space separated, the first being the default (see `latchkey_core::alexa::parse_regions`).
    pub regions: String,
    pub lwa_client_id: Option<String>,
    pub lwa_client_secret: Option<String>,
    pub oauth_client_id: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
