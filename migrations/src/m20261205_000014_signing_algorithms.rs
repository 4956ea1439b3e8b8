//! One key ring per signing algorithm, and the algorithm each client's ID tokens use.
//!
//! OpenID Connect Discovery requires RS256 among `id_token_signing_alg_values_supported`, and a client
//! that registered no `id_token_signed_response_alg` expects RS256 (OIDC Dynamic Client Registration
//! §2). So a tenant whose tokens are signed with ES256 or EdDSA still needs an RS256 key: every tenant
//! now keeps a current key of each algorithm, and `tenants.signing_alg` says which one signs its access
//! tokens (before this, that was the one current key's algorithm).
//!
//! Keys cannot be generated here (their private parts are sealed with the master key, which migrations
//! do not see): the server adds a tenant's missing keys the first time it loads them.
//!
//! Existing clients keep what they were given: the algorithm of their tenant's current key.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CURRENT_ALG: &str = "COALESCE((SELECT k.alg FROM signing_keys k WHERE k.tenant_id = {t} AND k.state = 'current' \
     ORDER BY k.created_at DESC LIMIT 1), 'RS256')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("ALTER TABLE tenants ADD COLUMN signing_alg VARCHAR(16) NOT NULL DEFAULT 'RS256'")
            .await?;
        db.execute_unprepared(&format!(
            "UPDATE tenants SET signing_alg = {}",
            CURRENT_ALG.replace("{t}", "tenants.id")
        ))
        .await?;
        db.execute_unprepared(
            "ALTER TABLE oauth_clients ADD COLUMN id_token_signed_response_alg VARCHAR(16) NOT NULL DEFAULT 'RS256'",
        )
        .await?;
        db.execute_unprepared(&format!(
            "UPDATE oauth_clients SET id_token_signed_response_alg = {}",
            CURRENT_ALG.replace("{t}", "oauth_clients.tenant_id")
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("ALTER TABLE oauth_clients DROP COLUMN id_token_signed_response_alg").await?;
        db.execute_unprepared("ALTER TABLE tenants DROP COLUMN signing_alg").await?;
        Ok(())
    }
}
