//! The first schema: tenants and everything the authorization server needs.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).string_len(64).not_null().primary_key().take()
}
fn s(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).string().not_null().take()
}
fn s_null(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).string().null().take()
}
fn text(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).text().not_null().take()
}
fn text_null(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).text().null().take()
}
fn ts(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).big_integer().not_null().take()
}
fn ts_null(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).big_integer().null().take()
}
fn flag(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).boolean().not_null().default(false).take()
}
fn tenant_fk(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).string_len(64).not_null().take()
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(Alias::new(*c));
    }
    if unique {
        i.unique();
    }
    i.take()
}

fn fk(from: impl IntoIden, col: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, Alias::new(col))
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .col(id(Tenants::Id))
                .col(s(Tenants::Slug))
                .col(s(Tenants::Name))
                .col(s(Tenants::Status))
                .col(text(Tenants::Settings))
                .col(ts(Tenants::CreatedAt))
                .take(),
        )
        .await?;
        m.create_index(index("ux_tenants_slug", Tenants::Table, &["slug"], true)).await?;

        m.create_table(
            Table::create()
                .table(Operators::Table)
                .col(id(Operators::Id))
                .col(s(Operators::Email))
                .col(s(Operators::PasswordHash))
                .col(ts(Operators::CreatedAt))
                .take(),
        )
        .await?;
        m.create_index(index("ux_operators_email", Operators::Table, &["email"], true)).await?;

        m.create_table(
            Table::create()
                .table(SigningKeys::Table)
                .col(id(SigningKeys::Id))
                .col(tenant_fk(SigningKeys::TenantId))
                .col(s(SigningKeys::Alg))
                .col(text(SigningKeys::PrivateKey))
                .col(text(SigningKeys::PublicJwk))
                .col(s(SigningKeys::State))
                .col(ts(SigningKeys::CreatedAt))
                .col(ts_null(SigningKeys::RetiredAt))
                .foreign_key(&mut fk(SigningKeys::Table, "tenant_id"))
                .take(),
        )
        .await?;
        m.create_index(index("ix_signing_keys_tenant", SigningKeys::Table, &["tenant_id", "state"], false)).await?;

        m.create_table(
            Table::create()
                .table(OauthClients::Table)
                .col(id(OauthClients::Id))
                .col(tenant_fk(OauthClients::TenantId))
                .col(s(OauthClients::ClientId))
                .col(s(OauthClients::Name))
                .col(s_null(OauthClients::SecretHash))
                .col(text(OauthClients::RedirectUris))
                .col(s(OauthClients::AuthMethod))
                .col(text(OauthClients::GrantTypes))
                .col(text(OauthClients::Scopes))
                .col(flag(OauthClients::RequirePkce))
                .col(ts(OauthClients::AccessTokenTtl))
                .col(s(OauthClients::RefreshPolicy))
                .col(ts(OauthClients::RefreshGraceSecs))
                .col(ts_null(OauthClients::RefreshIdleSecs))
                .col(ts_null(OauthClients::RefreshTokenTtl))
                .col(ts(OauthClients::CreatedAt))
                .foreign_key(&mut fk(OauthClients::Table, "tenant_id"))
                .take(),
        )
        .await?;
        m.create_index(index("ux_oauth_clients_client_id", OauthClients::Table, &["tenant_id", "client_id"], true))
            .await?;

        m.create_table(
            Table::create()
                .table(Skills::Table)
                .col(id(Skills::Id))
                .col(tenant_fk(Skills::TenantId))
                .col(s(Skills::Name))
                .col(s(Skills::AlexaSkillId))
                .col(s(Skills::VendorId))
                .col(s(Skills::Kind))
                .col(s(Skills::Region))
                .col(s_null(Skills::LwaClientId))
                .col(text_null(Skills::LwaClientSecret))
                .col(s(Skills::OauthClientId))
                .col(ts(Skills::CreatedAt))
                .foreign_key(&mut fk(Skills::Table, "tenant_id"))
                .take(),
        )
        .await?;
        m.create_index(index("ux_skills_alexa_id", Skills::Table, &["tenant_id", "alexa_skill_id"], true)).await?;

        m.create_table(
            Table::create()
                .table(EndUsers::Table)
                .col(id(EndUsers::Id))
                .col(tenant_fk(EndUsers::TenantId))
                .col(s(EndUsers::Email))
                .col(s_null(EndUsers::PasswordHash))
                .col(s_null(EndUsers::Name))
                .col(flag(EndUsers::EmailVerified))
                .col(flag(EndUsers::Disabled))
                .col(ts(EndUsers::CreatedAt))
                .foreign_key(&mut fk(EndUsers::Table, "tenant_id"))
                .take(),
        )
        .await?;
        m.create_index(index("ux_end_users_email", EndUsers::Table, &["tenant_id", "email"], true)).await?;

        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(id(ApiKeys::Id))
                .col(tenant_fk(ApiKeys::TenantId))
                .col(s(ApiKeys::Name))
                .col(s(ApiKeys::Prefix))
                .col(s(ApiKeys::KeyHash))
                .col(ts(ApiKeys::CreatedAt))
                .col(ts_null(ApiKeys::LastUsedAt))
                .foreign_key(&mut fk(ApiKeys::Table, "tenant_id"))
                .take(),
        )
        .await?;
        m.create_index(index("ux_api_keys_hash", ApiKeys::Table, &["key_hash"], true)).await?;

        m.create_table(
            Table::create()
                .table(LinkedAccounts::Table)
                .col(id(LinkedAccounts::Id))
                .col(tenant_fk(LinkedAccounts::TenantId))
                .col(s(LinkedAccounts::UserId))
                .col(s(LinkedAccounts::ClientId))
                .col(text(LinkedAccounts::Scope))
                .col(s(LinkedAccounts::Status))
                .col(ts(LinkedAccounts::CreatedAt))
                .col(ts(LinkedAccounts::UpdatedAt))
                .col(ts_null(LinkedAccounts::LastRefreshedAt))
                .foreign_key(&mut fk(LinkedAccounts::Table, "tenant_id"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_linked_accounts",
            LinkedAccounts::Table,
            &["tenant_id", "user_id", "client_id"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshFamilies::Table)
                .col(id(RefreshFamilies::Id))
                .col(tenant_fk(RefreshFamilies::TenantId))
                .col(s(RefreshFamilies::ClientId))
                .col(s_null(RefreshFamilies::UserId))
                .col(text(RefreshFamilies::Scope))
                .col(ts_null(RefreshFamilies::AuthTime))
                .col(ts(RefreshFamilies::CreatedAt))
                .col(ts_null(RefreshFamilies::RevokedAt))
                .col(s_null(RefreshFamilies::RevokedReason))
                .foreign_key(&mut fk(RefreshFamilies::Table, "tenant_id"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_refresh_families_user",
            RefreshFamilies::Table,
            &["tenant_id", "user_id", "client_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(id(RefreshTokens::Id))
                .col(tenant_fk(RefreshTokens::TenantId))
                .col(s(RefreshTokens::FamilyId))
                .col(s(RefreshTokens::TokenHash))
                .col(s_null(RefreshTokens::ParentId))
                .col(ts(RefreshTokens::CreatedAt))
                .col(ts_null(RefreshTokens::ExpiresAt))
                .col(ts_null(RefreshTokens::UsedAt))
                .col(ts_null(RefreshTokens::LastUsedAt))
                .foreign_key(&mut fk(RefreshTokens::Table, "tenant_id"))
                .take(),
        )
        .await?;
        m.create_index(index("ux_refresh_tokens_hash", RefreshTokens::Table, &["token_hash"], true)).await?;
        m.create_index(index("ix_refresh_tokens_family", RefreshTokens::Table, &["family_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(AuditEvents::Table)
                .col(id(AuditEvents::Id))
                .col(ColumnDef::new(AuditEvents::TenantId).string_len(64).null())
                .col(ts(AuditEvents::At))
                .col(s(AuditEvents::Actor))
                .col(s(AuditEvents::Action))
                .col(s_null(AuditEvents::Target))
                .col(text(AuditEvents::Detail))
                .col(s_null(AuditEvents::Ip))
                .take(),
        )
        .await?;
        m.create_index(index("ix_audit_events_tenant_at", AuditEvents::Table, &["tenant_id", "at"], false)).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            AuditEvents::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            RefreshFamilies::Table.into_iden(),
            LinkedAccounts::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            EndUsers::Table.into_iden(),
            Skills::Table.into_iden(),
            OauthClients::Table.into_iden(),
            SigningKeys::Table.into_iden(),
            Operators::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).take()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    Status,
    Settings,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Operators {
    Table,
    Id,
    Email,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Id,
    TenantId,
    Alg,
    PrivateKey,
    PublicJwk,
    State,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum OauthClients {
    Table,
    Id,
    TenantId,
    ClientId,
    Name,
    SecretHash,
    RedirectUris,
    AuthMethod,
    GrantTypes,
    Scopes,
    RequirePkce,
    AccessTokenTtl,
    RefreshPolicy,
    RefreshGraceSecs,
    RefreshIdleSecs,
    RefreshTokenTtl,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Skills {
    Table,
    Id,
    TenantId,
    Name,
    AlexaSkillId,
    VendorId,
    Kind,
    Region,
    LwaClientId,
    LwaClientSecret,
    OauthClientId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EndUsers {
    Table,
    Id,
    TenantId,
    Email,
    PasswordHash,
    Name,
    EmailVerified,
    Disabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Name,
    Prefix,
    KeyHash,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum LinkedAccounts {
    Table,
    Id,
    TenantId,
    UserId,
    ClientId,
    Scope,
    Status,
    CreatedAt,
    UpdatedAt,
    LastRefreshedAt,
}

#[derive(DeriveIden)]
enum RefreshFamilies {
    Table,
    Id,
    TenantId,
    ClientId,
    UserId,
    Scope,
    AuthTime,
    CreatedAt,
    RevokedAt,
    RevokedReason,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    TenantId,
    FamilyId,
    TokenHash,
    ParentId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    TenantId,
    At,
    Actor,
    Action,
    Target,
    Detail,
    Ip,
}
