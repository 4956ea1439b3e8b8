//! Platform maintenance across tenants: re-sealing every secret under the current master key.
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde::Serialize;

use crate::Store;
use crate::entities::{amazon_grant, signing_key, skill, smapi_credential, upstream_provider};
use crate::error::StoreError;
use crate::secrets::context;

/// How many sealed values were re-sealed, per kind.
#[derive(Debug, Default, Serialize)]
pub struct ResealReport {
    pub signing_keys: u64,
    pub skill_messaging_secrets: u64,
    pub upstream_secrets: u64,
    pub amazon_tokens: u64,
    pub smapi_credentials: u64,
}

impl Store {
    /// Re-seals every secret at rest with the current master key. Run after adding a new key with the
    /// old one as previous (`LATCHKEY_MASTER_KEY_PREVIOUS`); idempotent, row by row, so it can run
    /// while instances serve (they read both keys).
    pub async fn reseal_all(&self) -> Result<ResealReport, StoreError> {
        let sb = self.secrets();
        let mut r = ResealReport::default();
        for m in signing_key::Entity::find().all(self.db()).await? {
            let ctx = context::signing_key(&m.tenant_id, &m.id);
            let sealed = sb.reseal(&ctx, &m.private_key)?;
            signing_key::ActiveModel {
                id: sea_orm::ActiveValue::Unchanged(m.id),
                private_key: Set(sealed),
                ..Default::default()
            }
            .update(self.writer())
            .await?;
            r.signing_keys += 1;
        }
        for m in skill::Entity::find().all(self.db()).await? {
            if let Some(secret) = &m.lwa_client_secret {
                let sealed = sb.reseal(&context::skill_lwa_secret(&m.tenant_id, &m.id), secret)?;
                skill::ActiveModel {
                    id: sea_orm::ActiveValue::Unchanged(m.id),
                    lwa_client_secret: Set(Some(sealed)),
                    ..Default::default()
                }
                .update(self.writer())
                .await?;
                r.skill_messaging_secrets += 1;
            }
        }
        for m in upstream_provider::Entity::find().all(self.db()).await? {
            let sealed = sb.reseal(&context::upstream_secret(&m.tenant_id, &m.id), &m.client_secret)?;
            upstream_provider::ActiveModel {
                id: sea_orm::ActiveValue::Unchanged(m.id),
                client_secret: Set(sealed),
                ..Default::default()
            }
            .update(self.writer())
            .await?;
            r.upstream_secrets += 1;
        }
        for m in amazon_grant::Entity::find().all(self.db()).await? {
            if let (Some(a), Some(rt)) = (&m.lwa_access_token, &m.lwa_refresh_token) {
                let access = sb.reseal(&context::amazon_access(&m.tenant_id, &m.id), a)?;
                let refresh = sb.reseal(&context::amazon_refresh(&m.tenant_id, &m.id), rt)?;
                amazon_grant::ActiveModel {
                    id: sea_orm::ActiveValue::Unchanged(m.id),
                    lwa_access_token: Set(Some(access)),
                    lwa_refresh_token: Set(Some(refresh)),
                    ..Default::default()
                }
                .update(self.writer())
                .await?;
                r.amazon_tokens += 1;
            }
        }
        for m in smapi_credential::Entity::find().all(self.db()).await? {
            let secret = sb.reseal(&context::smapi_secret(&m.tenant_id), &m.lwa_client_secret)?;
            let refresh = sb.reseal(&context::smapi_refresh(&m.tenant_id), &m.refresh_token)?;
            smapi_credential::ActiveModel {
                tenant_id: sea_orm::ActiveValue::Unchanged(m.tenant_id),
                lwa_client_secret: Set(secret),
                refresh_token: Set(refresh),
                ..Default::default()
            }
            .update(self.writer())
            .await?;
            r.smapi_credentials += 1;
        }
        Ok(r)
    }
}
