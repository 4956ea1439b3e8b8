//! A skill can be live in several Alexa regions (NA, EU, FE): `skills.region` becomes `skills.regions`,
//! the regions separated by spaces, the first being where an AcceptGrant that names none is taken to
//! come from. Every existing skill keeps its one region.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared("ALTER TABLE skills RENAME COLUMN region TO regions").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        // Keep the first region: the one a single-region Latchkey sent events to.
        db.execute_unprepared("ALTER TABLE skills RENAME COLUMN regions TO region").await?;
        db.execute_unprepared("UPDATE skills SET region = substr(region, 1, 2)").await?;
        Ok(())
    }
}
