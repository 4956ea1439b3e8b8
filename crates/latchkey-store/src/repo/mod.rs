//! Repositories. Global ones (tenants, operators) are methods on `Store`; everything a tenant owns is
//! reached through `Store::scoped(&tenant_id)`, whose methods all filter on that tenant. A handler
//! cannot touch tenant-owned rows without first naming the tenant.
mod accounts;
mod alexa_outbox;
mod amazon_grants;
mod api_keys;
mod audit;
mod clients;
mod first_use;
mod links;
mod maintenance;
mod members;
mod operators;
mod providers;
mod refresh;
pub(crate) mod revocations;
mod signing_keys;
mod skills;
mod smapi;
mod tenants;
mod users;

pub use alexa_outbox::{Delivery, NewDelivery, NewEvent, Settlement};
pub use amazon_grants::GrantEnd;
pub(crate) use amazon_grants::event_destinations_of;
pub use audit::AuditFilter;
pub use first_use::FirstUse;
pub use maintenance::ResealReport;
pub use refresh::{PruneReport, RefreshOutcome, RotateRequest};
pub use revocations::{Revocation, RevocationKind, RevocationListener};
pub use signing_keys::NewSigningKey;

use latchkey_core::TenantId;

use crate::Store;

/// A handle on one tenant's data.
#[derive(Clone, Copy)]
pub struct Scoped<'a> {
    store: &'a Store,
    tenant: &'a TenantId,
}

impl Store {
    pub fn scoped<'a>(&'a self, tenant: &'a TenantId) -> Scoped<'a> {
        Scoped { store: self, tenant }
    }
}

impl<'a> Scoped<'a> {
    pub fn tenant_id(&self) -> &TenantId {
        self.tenant
    }
    fn db(&self) -> &sea_orm::DatabaseConnection {
        self.store.db()
    }
    fn writer(&self) -> &sea_orm::DatabaseConnection {
        self.store.writer()
    }
    fn tid(&self) -> String {
        self.tenant.as_str().to_owned()
    }
}

fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn split_scopes(s: &str) -> Vec<String> {
    s.split(' ').filter(|x| !x.is_empty()).map(str::to_owned).collect()
}
