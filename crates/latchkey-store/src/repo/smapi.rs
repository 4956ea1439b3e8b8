//! A tenant's Skill Management API credentials, sealed at rest.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use super::Scoped;
use crate::entities::smapi_credential;
use crate::error::StoreError;
use crate::now;
use crate::records::{SmapiCredentials, SmapiStatus};
use crate::secrets::context;

impl Scoped<'_> {
    /// Stores (or replaces) the tenant's SMAPI credentials.
    pub async fn set_smapi_credentials(&self, c: &SmapiCredentials) -> Result<(), StoreError> {
        let sb = self.store.secrets();
        let m = smapi_credential::ActiveModel {
            tenant_id: Set(self.tid()),
            lwa_client_id: Set(c.lwa_client_id.clone()),
            lwa_client_secret: Set(sb.seal_str(&context::smapi_secret(self.tenant.as_str()), &c.lwa_client_secret)?),
            refresh_token: Set(sb.seal_str(&context::smapi_refresh(self.tenant.as_str()), &c.refresh_token)?),
            updated_at: Set(now()),
        };
        smapi_credential::Entity::insert(m)
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(smapi_credential::Column::TenantId)
                    .update_columns([
                        smapi_credential::Column::LwaClientId,
                        smapi_credential::Column::LwaClientSecret,
                        smapi_credential::Column::RefreshToken,
                        smapi_credential::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(self.writer())
            .await?;
        Ok(())
    }

    async fn smapi_row(&self) -> Result<Option<smapi_credential::Model>, StoreError> {
        Ok(smapi_credential::Entity::find()
            .filter(smapi_credential::Column::TenantId.eq(self.tid()))
            .one(self.db())
            .await?)
    }

    /// The tenant's SMAPI credentials, opened.
    pub async fn smapi_credentials(&self) -> Result<Option<SmapiCredentials>, StoreError> {
        let Some(m) = self.smapi_row().await? else { return Ok(None) };
        let sb = self.store.secrets();
        Ok(Some(SmapiCredentials {
            lwa_client_secret: sb.open_str(&context::smapi_secret(self.tenant.as_str()), &m.lwa_client_secret)?,
            refresh_token: sb.open_str(&context::smapi_refresh(self.tenant.as_str()), &m.refresh_token)?,
            lwa_client_id: m.lwa_client_id,
        }))
    }

    pub async fn smapi_status(&self) -> Result<SmapiStatus, StoreError> {
        let m = self.smapi_row().await?;
        Ok(SmapiStatus {
            configured: m.is_some(),
            lwa_client_id: m.as_ref().map(|m| m.lwa_client_id.clone()),
            updated_at: m.map(|m| m.updated_at),
        })
    }

    pub async fn delete_smapi_credentials(&self) -> Result<(), StoreError> {
        smapi_credential::Entity::delete_many()
            .filter(smapi_credential::Column::TenantId.eq(self.tid()))
            .exec(self.writer())
            .await?;
        Ok(())
    }
}
