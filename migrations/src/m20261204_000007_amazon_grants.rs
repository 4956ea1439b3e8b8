//! Amazon's tokens belong to an Alexa grant, not to a link. Two people in one home can link the same
//! device account from their own Alexa accounts: one link (user, skill), two grants (two refresh
//! families, two AcceptGrants), each with its own Login with Amazon tokens, region and event status.
//! Until now the second AcceptGrant overwrote the first one's tokens on the link.
//!
//! `amazon_grants` references its link and its refresh family within the tenant and goes with either.
//! Today's tokens move to a grant whose id is the link's id: the sealed values were bound to that id
//! (the sealing context is `lwa_*:{tenant}:{owner id}`), so they move as they are, without the master
//! key. The grant is given the link's newest unrevoked refresh family (the newest family if all are
//! revoked): the one-pair-per-link design kept the tokens of the last AcceptGrant, which came with the
//! newest grant. A link Alexa had reported disabled (`inactive`) keeps that fact on a token-less
//! `disabled` grant and becomes `active` again, since disablement now belongs to grants.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

const MOVED_COLUMNS: &[&str] =
    &["lwa_access_token", "lwa_refresh_token", "lwa_expires_at", "last_event_status", "last_event_at"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS ux_linked_accounts_tenant_row ON linked_accounts (tenant_id, id)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE TABLE amazon_grants (
                id VARCHAR(64) NOT NULL PRIMARY KEY,
                tenant_id VARCHAR(64) NOT NULL,
                link_id VARCHAR(64) NOT NULL,
                family_id VARCHAR(64) NULL,
                region VARCHAR(8) NOT NULL,
                status VARCHAR(16) NOT NULL,
                lwa_access_token TEXT NULL,
                lwa_refresh_token TEXT NULL,
                lwa_expires_at BIGINT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                last_refreshed_at BIGINT NULL,
                last_event_status VARCHAR(64) NULL,
                last_event_at BIGINT NULL,
                ended_at BIGINT NULL,
                ended_reason VARCHAR(64) NULL,
                CONSTRAINT fk_amazon_grants_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
                CONSTRAINT fk_amazon_grants_link FOREIGN KEY (tenant_id, link_id)
                    REFERENCES linked_accounts (tenant_id, id) ON DELETE CASCADE,
                CONSTRAINT fk_amazon_grants_family FOREIGN KEY (tenant_id, family_id)
                    REFERENCES refresh_families (tenant_id, id) ON DELETE CASCADE
            )",
        )
        .await?;
        db.execute_unprepared("CREATE INDEX ix_amazon_grants_link ON amazon_grants (tenant_id, link_id)").await?;
        // One grant per refresh family: a repeated AcceptGrant for the same grant replaces its tokens.
        db.execute_unprepared("CREATE UNIQUE INDEX ux_amazon_grants_family ON amazon_grants (tenant_id, family_id)")
            .await?;
        db.execute_unprepared(
            "INSERT INTO amazon_grants (id, tenant_id, link_id, family_id, region, status, lwa_access_token,
                lwa_refresh_token, lwa_expires_at, created_at, updated_at, last_event_status, last_event_at,
                ended_at, ended_reason)
             SELECT l.id, l.tenant_id, l.id,
                (SELECT f.id FROM refresh_families f
                  WHERE f.tenant_id = l.tenant_id AND f.user_id = l.user_id AND f.client_id = l.client_id
                  ORDER BY CASE WHEN f.revoked_at IS NULL THEN 0 ELSE 1 END, f.created_at DESC, f.id DESC LIMIT 1),
                COALESCE((SELECT s.region FROM skills s
                  WHERE s.tenant_id = l.tenant_id AND s.oauth_client_id = l.client_id LIMIT 1), 'NA'),
                CASE WHEN l.status = 'inactive' THEN 'disabled' ELSE 'active' END,
                l.lwa_access_token, l.lwa_refresh_token, l.lwa_expires_at, l.updated_at, l.updated_at,
                l.last_event_status, l.last_event_at,
                CASE WHEN l.status = 'inactive' THEN l.updated_at ELSE NULL END,
                CASE WHEN l.status = 'inactive' THEN 'skill_disabled' ELSE NULL END
             FROM linked_accounts l
             WHERE (l.lwa_refresh_token IS NOT NULL AND l.status <> 'revoked') OR l.status = 'inactive'",
        )
        .await?;
        db.execute_unprepared("UPDATE linked_accounts SET status = 'active' WHERE status = 'inactive'").await?;
        for col in MOVED_COLUMNS {
            db.execute_unprepared(&format!("ALTER TABLE linked_accounts DROP COLUMN {col}")).await?;
        }
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("amazon_grants splits one link's tokens into several grants; it cannot be undone".into()))
    }
}
