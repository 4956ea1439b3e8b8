//! Client-secret rotation with a grace period: the secret a rotation replaced keeps working until
//! `previous_secret_expires_at` (Alexa holds the secret in its console and refreshes about hourly, so
//! cutting it at once breaks every link until the console is updated). Only its hash is kept, as for
//! the current secret.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("ALTER TABLE oauth_clients ADD COLUMN previous_secret_hash VARCHAR(128) NULL").await?;
        db.execute_unprepared("ALTER TABLE oauth_clients ADD COLUMN previous_secret_expires_at BIGINT NULL").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("ALTER TABLE oauth_clients DROP COLUMN previous_secret_expires_at").await?;
        db.execute_unprepared("ALTER TABLE oauth_clients DROP COLUMN previous_secret_hash").await?;
        Ok(())
    }
}
