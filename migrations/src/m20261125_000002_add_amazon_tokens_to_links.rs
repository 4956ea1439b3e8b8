//! Amazon's side of a link: the Login with Amazon tokens from AcceptGrant (sealed), and the outcome of
//! the last event sent to the Alexa Event Gateway.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one column at a time.
        for col in [
            ColumnDef::new(LinkedAccounts::LwaAccessToken).text().null().take(),
            ColumnDef::new(LinkedAccounts::LwaRefreshToken).text().null().take(),
            ColumnDef::new(LinkedAccounts::LwaExpiresAt).big_integer().null().take(),
            ColumnDef::new(LinkedAccounts::LastEventStatus).string().null().take(),
            ColumnDef::new(LinkedAccounts::LastEventAt).big_integer().null().take(),
        ] {
            m.alter_table(Table::alter().table(LinkedAccounts::Table).add_column(col).take()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            LinkedAccounts::LwaAccessToken,
            LinkedAccounts::LwaRefreshToken,
            LinkedAccounts::LwaExpiresAt,
            LinkedAccounts::LastEventStatus,
            LinkedAccounts::LastEventAt,
        ] {
            m.alter_table(Table::alter().table(LinkedAccounts::Table).drop_column(col).take()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum LinkedAccounts {
    Table,
    LwaAccessToken,
    LwaRefreshToken,
    LwaExpiresAt,
    LastEventStatus,
    LastEventAt,
}
