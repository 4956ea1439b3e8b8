//! A tenant's Skill Management API credentials, for publishing a skill's account-linking settings to
//! the Alexa console and reading them back: the Login with Amazon client the vendor's refresh token was
//! issued to (`ask util generate-lwa-tokens`), its secret and the refresh token, both sealed.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "CREATE TABLE smapi_credentials (
                    tenant_id VARCHAR(64) NOT NULL PRIMARY KEY,
                    lwa_client_id VARCHAR(256) NOT NULL,
                    lwa_client_secret TEXT NOT NULL,
                    refresh_token TEXT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    CONSTRAINT fk_smapi_credentials_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
                )",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared("DROP TABLE smapi_credentials").await?;
        Ok(())
    }
}
