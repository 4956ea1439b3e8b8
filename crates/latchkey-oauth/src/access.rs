//! Who is acting, and what they may do in a tenant. Every management operation (CLI, dashboard,
//! management API) takes an [`Access`], checks its role there, and audits under its actor: the rules
//! live in the service function, not in any adapter.
use latchkey_core::role::Role;
use latchkey_store::records::TenantStatus;
use serde::Serialize;
use std::ops::Deref;

use crate::error::{ServiceError, ServiceResult};
use crate::{AuthServer, TenantCtx};

/// The authenticated party behind a request.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// A dashboard account (its role comes from its membership in the tenant).
    Account { id: String, email: String },
    /// A platform operator: every tenant, as owner.
    Operator { id: String, email: String },
    /// A tenant API key: its own tenant only, as admin.
    ApiKey { id: String, prefix: String, tenant_id: String },
    /// The `latchkey` command line on the database host.
    Cli,
}

/// A principal plus where the request came from, for the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    pub principal: Principal,
    pub ip: Option<String>,
}

impl Actor {
    pub fn cli() -> Self {
        Self { principal: Principal::Cli, ip: None }
    }

    /// How the audit log names this actor: stable, and never a secret.
    pub fn label(&self) -> String {
        match &self.principal {
            Principal::Account { email, .. } => format!("account:{email}"),
            Principal::Operator { email, .. } => format!("operator:{email}"),
            Principal::ApiKey { prefix, .. } => format!("api_key:{prefix}"),
            Principal::Cli => "cli".to_owned(),
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self.principal, Principal::Operator { .. } | Principal::Cli)
    }
}

/// An actor's standing in one tenant: resolved once per request, then passed to service functions.
#[derive(Clone, Debug)]
pub struct Access {
    pub ctx: TenantCtx,
    pub actor: Actor,
    pub role: Role,
}

impl Deref for Access {
    type Target = TenantCtx;
    fn deref(&self) -> &TenantCtx {
        &self.ctx
    }
}

impl Access {
    /// Refuses viewers, and everyone while the tenant is suspended (operators excepted, so they can
    /// still fix what got it suspended).
    pub fn require_write(&self) -> ServiceResult<()> {
        if !self.role.can_write() {
            return Err(ServiceError::Forbidden(format!("the {} role cannot change this tenant", self.role)));
        }
        if self.ctx.tenant.status == TenantStatus::Suspended && !self.actor.is_operator() {
            return Err(ServiceError::Forbidden(format!("tenant '{}' is suspended", self.ctx.tenant.slug)));
        }
        Ok(())
    }

    pub fn require_assign(&self, role: Role) -> ServiceResult<()> {
        self.require_write()?;
        if !self.role.can_assign(role) {
            return Err(ServiceError::Forbidden(format!("the {} role cannot manage {role}s", self.role)));
        }
        Ok(())
    }

    /// Appends to the tenant's audit log under this actor.
    pub async fn audit(
        &self,
        auth: &AuthServer,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> ServiceResult<()> {
        auth.store
            .scoped(self.ctx.id())
            .audit(&self.actor.label(), action, target, detail, self.actor.ip.as_deref())
            .await?;
        Ok(())
    }
}

impl AuthServer {
    /// Resolves what `actor` may do in the tenant `slug`. A tenant the actor has no part in answers
    /// `NotFound`, exactly like a tenant that does not exist, so slugs of other tenants do not leak.
    pub async fn access(&self, actor: &Actor, slug: &str) -> ServiceResult<Access> {
        let not_found = || ServiceError::NotFound(format!("tenant '{slug}'"));
        let tenant = self.store.tenant_by_slug(slug).await?.ok_or_else(not_found)?;
        let role = match &actor.principal {
            Principal::Cli | Principal::Operator { .. } => Role::Owner,
            Principal::ApiKey { tenant_id, .. } if tenant_id == tenant.id.as_str() => Role::Admin,
            Principal::ApiKey { .. } => return Err(not_found()),
            Principal::Account { id, .. } => {
                self.store.scoped(&tenant.id).member_by_account(id).await?.ok_or_else(not_found)?.role
            }
        };
        Ok(Access { ctx: TenantCtx { issuer: self.issuer_for(&tenant.slug), tenant }, actor: actor.clone(), role })
    }

    /// The CLI's access to a tenant: full, suspended or not.
    pub async fn tenant_for_admin(&self, slug: &str) -> ServiceResult<Access> {
        self.access(&Actor::cli(), slug).await
    }
}
