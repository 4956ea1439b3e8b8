//! Dashboard accounts and their memberships. An account is one person's sign-in (email + argon2id);
//! a membership gives that account a role in one tenant, so one person can belong to several tenants
//! (an agency running skills for two device companies) without two passwords.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Accounts::Table)
                .col(ColumnDef::new(Accounts::Id).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(Accounts::Email).string().not_null())
                .col(ColumnDef::new(Accounts::PasswordHash).text().not_null())
                .col(ColumnDef::new(Accounts::EmailVerified).boolean().not_null().default(false))
                // Bumped by "sign out everywhere" and password changes; sessions carry the epoch they
                // were issued under and die when it moves.
                .col(ColumnDef::new(Accounts::SessionEpoch).big_integer().not_null().default(0))
                .col(ColumnDef::new(Accounts::CreatedAt).big_integer().not_null())
                .take(),
        )
        .await?;
        m.create_index(
            Index::create().name("ux_accounts_email").table(Accounts::Table).col(Accounts::Email).unique().take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TenantMembers::Table)
                .col(ColumnDef::new(TenantMembers::Id).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(TenantMembers::TenantId).string_len(64).not_null())
                .col(ColumnDef::new(TenantMembers::AccountId).string_len(64).not_null())
                .col(ColumnDef::new(TenantMembers::Role).string_len(16).not_null())
                .col(ColumnDef::new(TenantMembers::CreatedAt).big_integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(TenantMembers::Table, TenantMembers::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(TenantMembers::Table, TenantMembers::AccountId)
                        .to(Accounts::Table, Accounts::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_tenant_members_account")
                .table(TenantMembers::Table)
                .col(TenantMembers::TenantId)
                .col(TenantMembers::AccountId)
                .unique()
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_tenant_members_account")
                .table(TenantMembers::Table)
                .col(TenantMembers::AccountId)
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TenantMembers::Table).take()).await?;
        m.drop_table(Table::drop().table(Accounts::Table).take()).await
    }
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Email,
    PasswordHash,
    EmailVerified,
    SessionEpoch,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TenantMembers {
    Table,
    Id,
    TenantId,
    AccountId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}
