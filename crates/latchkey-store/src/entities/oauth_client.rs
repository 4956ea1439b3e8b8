//! The `oauth_clients` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: String,
    pub auth_method: String,
    pub grant_types: String,
    pub scopes: String,
    pub require_pkce: bool,
    pub access_token_ttl: i64,
    pub refresh_policy: String,
    pub refresh_grace_secs: i64,
    pub refresh_idle_secs: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub created_at: i64,
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub id_token_signed_response_alg: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
