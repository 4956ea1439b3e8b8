//! The revocation feed: one row per change that ends tokens before they expire (a grant revoked; a user
//! disabled, deleted or signed out everywhere; a client deleted), written in the transaction that makes
//! the change. Every instance reads it a few times a second to keep its in-memory view of live grants
//! current, so introspection need not read the grant's row on every call. Rows are needed only for
//! seconds and are pruned after minutes.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        // No reference to the tenant: a tenant's deletion must not wait on, or erase, its last entries.
        db.execute_unprepared(
            "CREATE TABLE revocations (
                id VARCHAR(64) NOT NULL PRIMARY KEY,
                tenant_id VARCHAR(64) NOT NULL,
                kind VARCHAR(16) NOT NULL,
                subject VARCHAR(255) NOT NULL,
                created_at BIGINT NOT NULL
            )",
        )
        .await?;
        db.execute_unprepared("CREATE INDEX ix_revocations_created ON revocations (created_at)").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared("DROP TABLE revocations").await?;
        Ok(())
    }
}
