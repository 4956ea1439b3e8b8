//! Federation: a tenant's upstream OpenID Connect providers, and which upstream identity is which user.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let s = |c: UpstreamProviders| ColumnDef::new(c).string().not_null().take();
        m.create_table(
            Table::create()
                .table(UpstreamProviders::Table)
                .col(ColumnDef::new(UpstreamProviders::Id).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(UpstreamProviders::TenantId).string_len(64).not_null())
                .col(s(UpstreamProviders::Slug))
                .col(s(UpstreamProviders::Name))
                .col(s(UpstreamProviders::Issuer))
                .col(s(UpstreamProviders::ClientId))
                .col(ColumnDef::new(UpstreamProviders::ClientSecret).text().not_null())
                .col(s(UpstreamProviders::Scopes))
                .col(ColumnDef::new(UpstreamProviders::LinkByEmail).boolean().not_null().default(false))
                .col(ColumnDef::new(UpstreamProviders::CreateUsers).boolean().not_null().default(false))
                .col(ColumnDef::new(UpstreamProviders::ClaimMap).text().not_null())
                .col(ColumnDef::new(UpstreamProviders::CreatedAt).big_integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(UpstreamProviders::Table, UpstreamProviders::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_upstream_providers_slug")
                .table(UpstreamProviders::Table)
                .col(UpstreamProviders::TenantId)
                .col(UpstreamProviders::Slug)
                .unique()
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(FederatedIdentities::Table)
                .col(ColumnDef::new(FederatedIdentities::Id).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(FederatedIdentities::TenantId).string_len(64).not_null())
                .col(ColumnDef::new(FederatedIdentities::ProviderId).string_len(64).not_null())
                .col(ColumnDef::new(FederatedIdentities::Subject).string().not_null())
                .col(ColumnDef::new(FederatedIdentities::UserId).string_len(64).not_null())
                .col(ColumnDef::new(FederatedIdentities::CreatedAt).big_integer().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(FederatedIdentities::Table, FederatedIdentities::ProviderId)
                        .to(UpstreamProviders::Table, UpstreamProviders::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_federated_identities_subject")
                .table(FederatedIdentities::Table)
                .col(FederatedIdentities::ProviderId)
                .col(FederatedIdentities::Subject)
                .unique()
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(FederatedIdentities::Table).take()).await?;
        m.drop_table(Table::drop().table(UpstreamProviders::Table).take()).await
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum UpstreamProviders {
    Table,
    Id,
    TenantId,
    Slug,
    Name,
    Issuer,
    ClientId,
    ClientSecret,
    Scopes,
    LinkByEmail,
    CreateUsers,
    ClaimMap,
    CreatedAt,
}

#[derive(DeriveIden)]
enum FederatedIdentities {
    Table,
    Id,
    TenantId,
    ProviderId,
    Subject,
    UserId,
    CreatedAt,
}
