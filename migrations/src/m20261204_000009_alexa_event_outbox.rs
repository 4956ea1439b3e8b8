//! Durable Alexa event delivery: an accepted event is stored, one row per destination (each Alexa grant
//! of the user for the skill), before the skill backend hears `202 Accepted`. Workers on every instance
//! claim due rows with a lease, deliver them to the Event Gateway, and record the outcome; a row whose
//! lease ran out (its instance stopped) is claimed again, so delivery is at least once and the stored
//! body, messageId included, is what is sent each time.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS ux_amazon_grants_tenant_row ON amazon_grants (tenant_id, id)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE TABLE alexa_deliveries (
                id VARCHAR(64) NOT NULL PRIMARY KEY,
                tenant_id VARCHAR(64) NOT NULL,
                event_id VARCHAR(64) NOT NULL,
                grant_id VARCHAR(64) NOT NULL,
                skill_id VARCHAR(64) NOT NULL,
                user_id VARCHAR(255) NOT NULL,
                region VARCHAR(8) NOT NULL,
                payload TEXT NOT NULL,
                status VARCHAR(16) NOT NULL,
                attempts INTEGER NOT NULL,
                next_attempt_at BIGINT NOT NULL,
                lease_until BIGINT NULL,
                deadline_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                delivered_at BIGINT NULL,
                last_status INTEGER NULL,
                last_code VARCHAR(64) NULL,
                outcome TEXT NULL,
                CONSTRAINT fk_alexa_deliveries_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
                CONSTRAINT fk_alexa_deliveries_grant FOREIGN KEY (tenant_id, grant_id)
                    REFERENCES amazon_grants (tenant_id, id) ON DELETE CASCADE
            )",
        )
        .await?;
        // The workers' query: pending rows by due time.
        db.execute_unprepared("CREATE INDEX ix_alexa_deliveries_due ON alexa_deliveries (status, next_attempt_at)")
            .await?;
        db.execute_unprepared("CREATE INDEX ix_alexa_deliveries_event ON alexa_deliveries (tenant_id, event_id)")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX ix_alexa_deliveries_skill ON alexa_deliveries (tenant_id, skill_id, created_at)",
        )
        .await?;
        db.execute_unprepared("CREATE INDEX ix_alexa_deliveries_grant ON alexa_deliveries (tenant_id, grant_id)")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared("DROP TABLE alexa_deliveries").await?;
        Ok(())
    }
}
