//! Alexa skills; each owns the OAuth client Alexa uses for it.
use latchkey_core::TenantId;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};

use super::Scoped;
use super::clients::{insert_client, write_client};
use crate::entities::{oauth_client, skill};
use crate::error::StoreError;
use crate::records::{Client, LwaChange, NewClient, NewSkill, Skill, SkillChanges};
use crate::{new_id, now};

fn lwa_context(tenant: &TenantId, skill_id: &str) -> String {
    crate::secrets::context::skill_lwa_secret(tenant.as_str(), skill_id)
}

fn to_record(m: skill::Model) -> Result<Skill, StoreError> {
    let regions = latchkey_core::alexa::parse_regions(&m.regions).map_err(StoreError::Corrupt)?;
    Ok(Skill {
        tenant_id: TenantId::new(m.tenant_id),
        kind: m.kind.parse().map_err(StoreError::Corrupt)?,
        region: regions.first().copied().ok_or_else(|| StoreError::Corrupt("a skill without a region".into()))?,
        regions,
        has_lwa_client_secret: m.lwa_client_secret.is_some(),
        id: m.id,
        name: m.name,
        alexa_skill_id: m.alexa_skill_id,
        vendor_id: m.vendor_id,
        lwa_client_id: m.lwa_client_id,
        oauth_client_id: m.oauth_client_id,
        created_at: m.created_at,
    })
}

impl Scoped<'_> {
    /// Creates the skill and its OAuth client in one transaction.
    pub async fn create_skill(&self, s: NewSkill, client: NewClient) -> Result<(Skill, Client), StoreError> {
        let txn = self.writer().begin().await?;
        let client = insert_client(&txn, self.tenant, client).await?;
        let id = new_id();
        let secret = s
            .lwa_client_secret
            .as_deref()
            .map(|sec| self.store.secrets().seal_str(&lwa_context(self.tenant, &id), sec))
            .transpose()?;
        let m = skill::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tid()),
            name: Set(s.name),
            alexa_skill_id: Set(s.alexa_skill_id.clone()),
            vendor_id: Set(s.vendor_id),
            kind: Set(s.kind.as_str().to_owned()),
            regions: Set(latchkey_core::alexa::regions_text(&s.regions)),
            lwa_client_id: Set(s.lwa_client_id),
            lwa_client_secret: Set(secret),
            oauth_client_id: Set(client.id.clone()),
            created_at: Set(now()),
        }
        .insert(&txn)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("skill '{}' is already registered in this tenant", s.alexa_skill_id))
            }
            other => other,
        })?;
        txn.commit().await?;
        Ok((to_record(m)?, client))
    }

    /// By internal id or by Alexa skill id.
    pub async fn skill(&self, id_or_alexa_id: &str) -> Result<Option<Skill>, StoreError> {
        skill::Entity::find()
            .filter(skill::Column::TenantId.eq(self.tid()))
            .filter(skill::Column::Id.eq(id_or_alexa_id).or(skill::Column::AlexaSkillId.eq(id_or_alexa_id)))
            .one(self.db())
            .await?
            .map(to_record)
            .transpose()
    }

    pub async fn list_skills(&self) -> Result<Vec<Skill>, StoreError> {
        skill::Entity::find()
            .filter(skill::Column::TenantId.eq(self.tid()))
            .order_by_asc(skill::Column::CreatedAt)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect()
    }

    /// The skill's Login with Amazon messaging secret, decrypted.
    pub async fn skill_lwa_secret(&self, skill_id: &str) -> Result<Option<String>, StoreError> {
        let m = skill::Entity::find()
            .filter(skill::Column::TenantId.eq(self.tid()))
            .filter(skill::Column::Id.eq(skill_id))
            .one(self.db())
            .await?
            .ok_or(StoreError::NotFound)?;
        m.lwa_client_secret.map(|s| self.store.secrets().open_str(&lwa_context(self.tenant, &m.id), &s)).transpose()
    }

    /// Changes a skill (by internal or Alexa id) and its client in one transaction: `change` sees both as they are inside it (the
    /// skill's row locked on PostgreSQL; SQLite has one writer), so two updates racing each keep the
    /// other's fields instead of writing back what they read before it. `change` answers `None` when
    /// nothing changes; the skill is then returned as it is.
    pub async fn modify_skill<E: From<StoreError>>(
        &self,
        id_or_alexa_id: &str,
        change: impl FnOnce(Skill, Client) -> Result<Option<(SkillChanges, Client)>, E>,
    ) -> Result<(Skill, Client), E> {
        use sea_orm::{ConnectionTrait, DbBackend, QuerySelect};
        let txn = self.writer().begin().await.map_err(StoreError::from)?;
        let mut find = skill::Entity::find()
            .filter(skill::Column::TenantId.eq(self.tid()))
            .filter(skill::Column::Id.eq(id_or_alexa_id).or(skill::Column::AlexaSkillId.eq(id_or_alexa_id)));
        if txn.get_database_backend() == DbBackend::Postgres {
            find = find.lock_exclusive();
        }
        let current = find.one(&txn).await.map_err(StoreError::from)?.ok_or(StoreError::NotFound)?;
        let client = oauth_client::Entity::find()
            .filter(oauth_client::Column::TenantId.eq(self.tid()))
            .filter(oauth_client::Column::Id.eq(&current.oauth_client_id))
            .one(&txn)
            .await
            .map_err(StoreError::from)?
            .ok_or(StoreError::NotFound)?;
        let client = super::clients::to_record(client)?;
        let Some((s, client)) = change(to_record(current.clone())?, client.clone())? else {
            return Ok((to_record(current)?, client));
        };
        let seal = |secret: &str| self.store.secrets().seal_str(&lwa_context(self.tenant, &current.id), secret);
        let (lwa_client_id, lwa_client_secret) = match &s.lwa {
            LwaChange::Keep => (current.lwa_client_id.clone(), current.lwa_client_secret.clone()),
            LwaChange::Set { client_id, client_secret } => (Some(client_id.clone()), Some(seal(client_secret)?)),
            LwaChange::Secret(secret) => (current.lwa_client_id.clone(), Some(seal(secret)?)),
            LwaChange::Clear => (None, None),
        };
        let mut m: skill::ActiveModel = current.into();
        m.name = Set(s.name);
        m.vendor_id = Set(s.vendor_id);
        m.regions = Set(latchkey_core::alexa::regions_text(&s.regions));
        m.lwa_client_id = Set(lwa_client_id);
        m.lwa_client_secret = Set(lwa_client_secret);
        let m = m.update(&txn).await.map_err(StoreError::from)?;
        write_client(&txn, self.tenant, &client).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok((to_record(m)?, client))
    }

    /// Deletes the skill and its OAuth client.
    pub async fn delete_skill(&self, id_or_alexa_id: &str) -> Result<(), StoreError> {
        let s = self.skill(id_or_alexa_id).await?.ok_or(StoreError::NotFound)?;
        let txn = self.writer().begin().await?;
        skill::Entity::delete_many()
            .filter(skill::Column::TenantId.eq(self.tid()))
            .filter(skill::Column::Id.eq(&s.id))
            .exec(&txn)
            .await?;
        oauth_client::Entity::delete_many()
            .filter(oauth_client::Column::TenantId.eq(self.tid()))
            .filter(oauth_client::Column::Id.eq(&s.oauth_client_id))
            .exec(&txn)
            .await?;
        self.commit_revoking(txn, super::RevocationKind::Client, &s.oauth_client_id).await
    }
}
