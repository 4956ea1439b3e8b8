//! An index for the Alexa outbox's per-tenant questions by status: how many deliveries a tenant has
//! waiting (asked on acceptance, to bound a tenant's backlog) and a skill's events in one status, newest
//! first (the status list). Without it both walked every row of the tenant's skill.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_alexa_deliveries_status ON alexa_deliveries (tenant_id, status, skill_id, created_at)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared("DROP INDEX ix_alexa_deliveries_status").await?;
        Ok(())
    }
}
