//! Upstream providers never map a claim onto `email` or `email_verified` any more: accounts are
//! matched only by the email the provider itself asserts as verified. A renamed claim (say
//! `email=preferred_username`) let an upstream user sign in to the account of whoever's address they
//! chose as their username. This drops such entries from stored claim maps and logs each provider.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Local fields a claim map may no longer set.
const REFUSED: &[&str] = &["email", "email_verified"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let rows = db
            .query_all(
                &Query::select()
                    .columns([
                        UpstreamProviders::Id,
                        UpstreamProviders::TenantId,
                        UpstreamProviders::Slug,
                        UpstreamProviders::ClaimMap,
                    ])
                    .from(UpstreamProviders::Table)
                    .take(),
            )
            .await?;
        for row in rows {
            let id: String = row.try_get("", "id")?;
            let tenant: String = row.try_get("", "tenant_id")?;
            let slug: String = row.try_get("", "slug")?;
            let text: String = row.try_get("", "claim_map")?;
            let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let dropped: Vec<String> = REFUSED
                .iter()
                .filter_map(|k| map.remove(*k).map(|v| format!("{k}={}", v.as_str().unwrap_or_default())))
                .collect();
            if dropped.is_empty() {
                continue;
            }
            tracing::warn!(
                tenant_id = %tenant,
                provider = %slug,
                dropped = %dropped.join(","),
                "upstream provider's claim map set the email used to match accounts; entry dropped"
            );
            db.execute(
                &Query::update()
                    .table(UpstreamProviders::Table)
                    .value(UpstreamProviders::ClaimMap, serde_json::Value::Object(map).to_string())
                    .and_where(Expr::col(UpstreamProviders::Id).eq(id))
                    .take(),
            )
            .await?;
        }
        Ok(())
    }

    /// Nothing to undo: the dropped entries were unsafe, and the map without them is valid.
    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

#[derive(DeriveIden)]
enum UpstreamProviders {
    Table,
    Id,
    TenantId,
    Slug,
    ClaimMap,
}
