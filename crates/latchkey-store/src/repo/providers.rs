//! Upstream identity providers and federated identities of a tenant.
use latchkey_core::TenantId;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{Scoped, split_scopes};
use crate::entities::{federated_identity, upstream_provider};
use crate::error::StoreError;
use crate::records::{FederatedIdentity, NewUpstreamProvider, UpstreamProvider};
use crate::{new_id, now};

fn secret_ctx(tenant: &str, id: &str) -> String {
    crate::secrets::context::upstream_secret(tenant, id)
}

fn to_record(m: upstream_provider::Model) -> UpstreamProvider {
    UpstreamProvider {
        tenant_id: TenantId::new(m.tenant_id),
        scopes: split_scopes(&m.scopes),
        claim_map: serde_json::from_str(&m.claim_map).unwrap_or_default(),
        id: m.id,
        slug: m.slug,
        name: m.name,
        issuer: m.issuer,
        client_id: m.client_id,
        link_by_email: m.link_by_email,
        create_users: m.create_users,
        created_at: m.created_at,
    }
}

impl Scoped<'_> {
    pub async fn create_provider(&self, p: NewUpstreamProvider) -> Result<UpstreamProvider, StoreError> {
        let id = new_id();
        let m = upstream_provider::ActiveModel {
            client_secret: Set(self.store.secrets().seal_str(&secret_ctx(&self.tid(), &id), &p.client_secret)?),
            id: Set(id),
            tenant_id: Set(self.tid()),
            slug: Set(p.slug.clone()),
            name: Set(p.name),
            issuer: Set(p.issuer),
            client_id: Set(p.client_id),
            scopes: Set(p.scopes.join(" ")),
            link_by_email: Set(p.link_by_email),
            create_users: Set(p.create_users),
            claim_map: Set(serde_json::to_string(&p.claim_map)?),
            created_at: Set(now()),
        }
        .insert(self.writer())
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("a provider '{}' already exists", p.slug)),
            other => other,
        })?;
        Ok(to_record(m))
    }

    pub async fn provider(&self, slug: &str) -> Result<Option<UpstreamProvider>, StoreError> {
        Ok(upstream_provider::Entity::find()
            .filter(upstream_provider::Column::TenantId.eq(self.tid()))
            .filter(upstream_provider::Column::Slug.eq(slug))
            .one(self.db())
            .await?
            .map(to_record))
    }

    pub async fn list_providers(&self) -> Result<Vec<UpstreamProvider>, StoreError> {
        Ok(upstream_provider::Entity::find()
            .filter(upstream_provider::Column::TenantId.eq(self.tid()))
            .order_by_asc(upstream_provider::Column::Slug)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect())
    }

    pub async fn provider_secret(&self, provider_id: &str) -> Result<String, StoreError> {
        let m = upstream_provider::Entity::find()
            .filter(upstream_provider::Column::TenantId.eq(self.tid()))
            .filter(upstream_provider::Column::Id.eq(provider_id))
            .one(self.db())
            .await?
            .ok_or(StoreError::NotFound)?;
        self.store.secrets().open_str(&secret_ctx(&m.tenant_id, &m.id), &m.client_secret)
    }

    /// Saves changed fields of a provider; a new client secret is sealed like the first.
    pub async fn update_provider(&self, p: &UpstreamProvider, new_secret: Option<&str>) -> Result<(), StoreError> {
        let mut m = upstream_provider::ActiveModel {
            id: sea_orm::ActiveValue::Unchanged(p.id.clone()),
            name: Set(p.name.clone()),
            issuer: Set(p.issuer.clone()),
            client_id: Set(p.client_id.clone()),
            scopes: Set(p.scopes.join(" ")),
            link_by_email: Set(p.link_by_email),
            create_users: Set(p.create_users),
            claim_map: Set(serde_json::to_string(&p.claim_map)?),
            ..Default::default()
        };
        if let Some(s) = new_secret {
            m.client_secret = Set(self.store.secrets().seal_str(&secret_ctx(&self.tid(), &p.id), s)?);
        }
        // Scoped: the row must be this tenant's.
        let r = upstream_provider::Entity::update_many()
            .set(m)
            .filter(upstream_provider::Column::TenantId.eq(self.tid()))
            .filter(upstream_provider::Column::Id.eq(&p.id))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    pub async fn delete_provider(&self, slug: &str) -> Result<(), StoreError> {
        let r = upstream_provider::Entity::delete_many()
            .filter(upstream_provider::Column::TenantId.eq(self.tid()))
            .filter(upstream_provider::Column::Slug.eq(slug))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// The user an upstream identity is linked to.
    pub async fn federated_user(&self, provider_id: &str, subject: &str) -> Result<Option<String>, StoreError> {
        Ok(federated_identity::Entity::find()
            .filter(federated_identity::Column::TenantId.eq(self.tid()))
            .filter(federated_identity::Column::ProviderId.eq(provider_id))
            .filter(federated_identity::Column::Subject.eq(subject))
            .one(self.db())
            .await?
            .map(|m| m.user_id))
    }

    pub async fn link_federated(&self, provider_id: &str, subject: &str, user_id: &str) -> Result<(), StoreError> {
        federated_identity::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            provider_id: Set(provider_id.to_owned()),
            subject: Set(subject.to_owned()),
            user_id: Set(user_id.to_owned()),
            created_at: Set(now()),
        }
        .insert(self.writer())
        .await?;
        Ok(())
    }

    pub async fn federated_identities(&self, user_id: &str) -> Result<Vec<FederatedIdentity>, StoreError> {
        Ok(federated_identity::Entity::find()
            .filter(federated_identity::Column::TenantId.eq(self.tid()))
            .filter(federated_identity::Column::UserId.eq(user_id))
            .all(self.db())
            .await?
            .into_iter()
            .map(|m| FederatedIdentity {
                provider_id: m.provider_id,
                subject: m.subject,
                user_id: m.user_id,
                created_at: m.created_at,
            })
            .collect())
    }
}
