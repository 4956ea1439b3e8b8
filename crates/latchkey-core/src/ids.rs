//! Identifier newtypes. A `TenantId` is required by every repository function on tenant-owned data, so
//! forgetting the tenant is a type error rather than a data leak.
use serde::{Deserialize, Serialize};
use std::fmt;

/// The internal id of a tenant (a UUID string). Not the slug: slugs appear in URLs, ids in rows.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
