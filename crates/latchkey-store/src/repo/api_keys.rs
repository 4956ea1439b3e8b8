//! Tenant API keys, stored as hashes.
use latchkey_core::TenantId;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::Scoped;
use crate::entities::api_key;
use crate::error::StoreError;
use crate::records::ApiKey;
use crate::{Store, new_id, now};

fn to_record(m: api_key::Model) -> ApiKey {
    ApiKey {
        id: m.id,
        tenant_id: TenantId::new(m.tenant_id),
        name: m.name,
        prefix: m.prefix,
        created_at: m.created_at,
        last_used_at: m.last_used_at,
    }
}

impl Scoped<'_> {
    pub async fn create_api_key(&self, name: &str, prefix: &str, key_hash: &str) -> Result<ApiKey, StoreError> {
        let m = api_key::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            name: Set(name.to_owned()),
            prefix: Set(prefix.to_owned()),
            key_hash: Set(key_hash.to_owned()),
            created_at: Set(now()),
            last_used_at: Set(None),
        }
        .insert(self.writer())
        .await?;
        Ok(to_record(m))
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::TenantId.eq(self.tid()))
            .order_by_asc(api_key::Column::CreatedAt)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect())
    }

    /// Finds a key of this tenant by its hash. A key of another tenant is not found.
    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::TenantId.eq(self.tid()))
            .filter(api_key::Column::KeyHash.eq(key_hash))
            .one(self.db())
            .await?
            .map(to_record))
    }

    pub async fn delete_api_key(&self, id: &str) -> Result<(), StoreError> {
        let r = api_key::Entity::delete_many()
            .filter(api_key::Column::TenantId.eq(self.tid()))
            .filter(api_key::Column::Id.eq(id))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}

impl Store {
    /// Unscoped lookup, used only to tell a caller which tenant a key belongs to.
    pub async fn api_key_tenant(&self, key_hash: &str) -> Result<Option<TenantId>, StoreError> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(key_hash))
            .one(self.db())
            .await?
            .map(|m| TenantId::new(m.tenant_id)))
    }
}
