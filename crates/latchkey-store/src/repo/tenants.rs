//! Tenants (global: a tenant is what scopes everything else).
use latchkey_core::TenantId;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};

use latchkey_core::signing::SigningAlg;

use super::signing_keys::{NewSigningKey, insert_keys};
use crate::entities::tenant;
use crate::error::StoreError;
use crate::records::{Tenant, TenantSettings, TenantStatus};
use crate::{Store, new_id, now};

fn to_record(m: tenant::Model) -> Tenant {
    Tenant {
        id: TenantId::new(m.id),
        slug: m.slug,
        name: m.name,
        status: TenantStatus::parse(&m.status),
        settings: serde_json::from_str(&m.settings).unwrap_or_default(),
        created_at: m.created_at,
        signing_alg: SigningAlg::from_stored(&m.signing_alg),
    }
}

impl Store {
    /// Creates a tenant together with its first signing keys, in one transaction; `alg` signs its access
    /// tokens.
    pub async fn create_tenant(
        &self,
        slug: &str,
        name: &str,
        alg: SigningAlg,
        first_keys: Vec<NewSigningKey>,
    ) -> Result<Tenant, StoreError> {
        let id = new_id();
        let txn = self.writer().begin().await?;
        let model = tenant::ActiveModel {
            id: Set(id.clone()),
            slug: Set(slug.to_owned()),
            name: Set(name.to_owned()),
            status: Set(TenantStatus::Active.as_str().to_owned()),
            settings: Set(serde_json::to_string(&TenantSettings::default())?),
            created_at: Set(now()),
            signing_alg: Set(alg.as_str().to_owned()),
        }
        .insert(&txn)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("a tenant with slug '{slug}' already exists")),
            other => other,
        })?;
        insert_keys(&txn, &self.secrets, &TenantId::new(id), first_keys).await?;
        txn.commit().await?;
        Ok(to_record(model))
    }

    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        Ok(tenant::Entity::find().filter(tenant::Column::Slug.eq(slug)).one(self.db()).await?.map(to_record))
    }

    pub async fn tenant_by_id(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        Ok(tenant::Entity::find_by_id(id.as_str()).one(self.db()).await?.map(to_record))
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        Ok(tenant::Entity::find()
            .order_by_asc(tenant::Column::Slug)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect())
    }

    pub async fn set_tenant_status(&self, id: &TenantId, status: TenantStatus) -> Result<(), StoreError> {
        let r = tenant::Entity::update_many()
            .col_expr(tenant::Column::Status, sea_orm::sea_query::Expr::value(status.as_str()))
            .filter(tenant::Column::Id.eq(id.as_str()))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    pub async fn set_tenant_settings(&self, id: &TenantId, settings: &TenantSettings) -> Result<(), StoreError> {
        let r = tenant::Entity::update_many()
            .col_expr(tenant::Column::Settings, sea_orm::sea_query::Expr::value(serde_json::to_string(settings)?))
            .filter(tenant::Column::Id.eq(id.as_str()))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    pub async fn set_tenant_name(&self, id: &TenantId, name: &str) -> Result<(), StoreError> {
        let r = tenant::Entity::update_many()
            .col_expr(tenant::Column::Name, sea_orm::sea_query::Expr::value(name))
            .filter(tenant::Column::Id.eq(id.as_str()))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Deletes a tenant; every tenant-owned row goes with it (foreign keys cascade).
    pub async fn delete_tenant(&self, id: &TenantId) -> Result<(), StoreError> {
        let r = tenant::Entity::delete_by_id(id.as_str()).exec(self.writer()).await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
