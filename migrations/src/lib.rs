//! Schema migrations. Each migration defines its own identifiers and never imports entities, so old
//! migrations keep compiling as the entities change. They run on SQLite and PostgreSQL alike.
#![forbid(unsafe_code)]
pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_core_tables;
mod m20261125_000002_add_amazon_tokens_to_links;
mod m20261125_000003_create_federation;
mod m20261125_000004_create_accounts;
mod m20261204_000005_drop_email_claim_maps;
mod m20261204_000006_enforce_references;
mod m20261204_000007_amazon_grants;
mod m20261204_000008_skill_regions;
mod m20261204_000009_alexa_event_outbox;
mod m20261204_000010_previous_client_secret;
mod m20261204_000011_smapi_credentials;
mod m20261204_000012_outbox_status_index;
mod m20261204_000013_revocations;
mod m20261205_000014_signing_algorithms;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_core_tables::Migration),
            Box::new(m20261125_000002_add_amazon_tokens_to_links::Migration),
            Box::new(m20261125_000003_create_federation::Migration),
            Box::new(m20261125_000004_create_accounts::Migration),
            Box::new(m20261204_000005_drop_email_claim_maps::Migration),
            Box::new(m20261204_000006_enforce_references::Migration),
            Box::new(m20261204_000007_amazon_grants::Migration),
            Box::new(m20261204_000008_skill_regions::Migration),
            Box::new(m20261204_000009_alexa_event_outbox::Migration),
            Box::new(m20261204_000010_previous_client_secret::Migration),
            Box::new(m20261204_000011_smapi_credentials::Migration),
            Box::new(m20261204_000012_outbox_status_index::Migration),
            Box::new(m20261204_000013_revocations::Migration),
            Box::new(m20261205_000014_signing_algorithms::Migration),
        ]
    }
}
