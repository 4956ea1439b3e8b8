//! OAuth clients of a tenant.
use latchkey_core::TenantId;
use latchkey_core::refresh::RefreshPolicy;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use super::{Scoped, json_list, split_scopes};
use crate::entities::oauth_client;
use crate::error::StoreError;
use crate::records::{Client, NewClient};
use crate::{new_id, now};

pub(super) fn to_record(m: oauth_client::Model) -> Result<Client, StoreError> {
    let refresh_policy = match m.refresh_policy.as_str() {
        "fixed" => RefreshPolicy::Fixed { idle_secs: m.refresh_idle_secs },
        _ => RefreshPolicy::Rotate { grace_secs: m.refresh_grace_secs },
    };
    let grace_open = m.previous_secret_expires_at.is_some_and(|until| now() < until);
    Ok(Client {
        tenant_id: TenantId::new(m.tenant_id),
        auth_method: m.auth_method.parse().map_err(StoreError::Corrupt)?,
        redirect_uris: json_list(&m.redirect_uris),
        grant_types: json_list(&m.grant_types),
        scopes: split_scopes(&m.scopes),
        id: m.id,
        client_id: m.client_id,
        name: m.name,
        secret_hash: m.secret_hash,
        require_pkce: m.require_pkce,
        access_token_ttl: m.access_token_ttl,
        refresh_policy,
        refresh_token_ttl: m.refresh_token_ttl,
        created_at: m.created_at,
        // A replaced secret past its grace period is gone, whether or not a rotation has cleared it yet.
        previous_secret_hash: m.previous_secret_hash.filter(|_| grace_open),
        previous_secret_expires_at: m.previous_secret_expires_at.filter(|_| grace_open),
        id_token_signed_response_alg: latchkey_core::signing::SigningAlg::from_stored(&m.id_token_signed_response_alg),
    })
}

/// The refresh policy as its two columns: the rotation grace and the fixed policy's idle limit.
fn refresh_columns(p: RefreshPolicy) -> (i64, Option<i64>) {
    match p {
        RefreshPolicy::Rotate { grace_secs } => (grace_secs, None),
        RefreshPolicy::Fixed { idle_secs } => (0, idle_secs),
    }
}

pub(super) async fn insert_client<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    c: NewClient,
) -> Result<Client, StoreError> {
    let (grace, idle) = refresh_columns(c.refresh_policy);
    let m = oauth_client::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant.as_str().to_owned()),
        client_id: Set(c.client_id.clone()),
        name: Set(c.name),
        secret_hash: Set(c.secret_hash),
        redirect_uris: Set(serde_json::to_string(&c.redirect_uris)?),
        auth_method: Set(c.auth_method.as_str().to_owned()),
        grant_types: Set(serde_json::to_string(&c.grant_types)?),
        scopes: Set(c.scopes.join(" ")),
        require_pkce: Set(c.require_pkce),
        access_token_ttl: Set(c.access_token_ttl),
        refresh_policy: Set(c.refresh_policy.name().to_owned()),
        refresh_grace_secs: Set(grace),
        refresh_idle_secs: Set(idle),
        refresh_token_ttl: Set(c.refresh_token_ttl),
        created_at: Set(now()),
        previous_secret_hash: Set(None),
        previous_secret_expires_at: Set(None),
        id_token_signed_response_alg: Set(c.id_token_signed_response_alg.as_str().to_owned()),
    }
    .insert(db)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("client id '{}' already exists", c.client_id)),
        other => other,
    })?;
    to_record(m)
}

impl Scoped<'_> {
    pub async fn create_client(&self, c: NewClient) -> Result<Client, StoreError> {
        insert_client(self.writer(), self.tenant, c).await
    }

    /// By public `client_id`.
    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        oauth_client::Entity::find()
            .filter(oauth_client::Column::TenantId.eq(self.tid()))
            .filter(oauth_client::Column::ClientId.eq(client_id))
            .one(self.db())
            .await?
            .map(to_record)
            .transpose()
    }

    /// By internal row id.
    pub async fn client_by_row_id(&self, id: &str) -> Result<Option<Client>, StoreError> {
        oauth_client::Entity::find()
            .filter(oauth_client::Column::TenantId.eq(self.tid()))
            .filter(oauth_client::Column::Id.eq(id))
            .one(self.db())
            .await?
            .map(to_record)
            .transpose()
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        oauth_client::Entity::find()
            .filter(oauth_client::Column::TenantId.eq(self.tid()))
            .order_by_asc(oauth_client::Column::CreatedAt)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect()
    }

    /// Replaces the client's secret. With `previous_until`, the replaced secret keeps working until then
    /// (one statement: the column reads its value from before the update, so two rotations racing
    /// cannot keep a secret neither replaced); without, it stops at once. A secret replaced earlier and
    /// still in its grace period is dropped: only the latest two work.
    pub async fn rotate_client_secret(
        &self,
        client_id: &str,
        hash: &str,
        previous_until: Option<i64>,
    ) -> Result<(), StoreError> {
        use sea_orm::sea_query::Expr;
        let previous = match previous_until {
            Some(_) => Expr::col(oauth_client::Column::SecretHash),
            None => Expr::value(Option::<String>::None),
        };
        let r = oauth_client::Entity::update_many()
            .col_expr(oauth_client::Column::PreviousSecretHash, previous)
            .col_expr(oauth_client::Column::PreviousSecretExpiresAt, Expr::value(previous_until))
            .col_expr(oauth_client::Column::SecretHash, Expr::value(hash))
            .filter(oauth_client::Column::TenantId.eq(self.tid()))
            .filter(oauth_client::Column::ClientId.eq(client_id))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Deletes a client; its grants go with it (and the revocation feed says so).
    pub async fn delete_client(&self, client_id: &str) -> Result<(), StoreError> {
        let txn = self.writer().begin().await?;
        let Some(row) = oauth_client::Entity::find()
            .filter(oauth_client::Column::TenantId.eq(self.tid()))
            .filter(oauth_client::Column::ClientId.eq(client_id))
            .one(&txn)
            .await?
        else {
            txn.rollback().await?;
            return Err(StoreError::NotFound);
        };
        oauth_client::Entity::delete_many()
            .filter(oauth_client::Column::TenantId.eq(self.tid()))
            .filter(oauth_client::Column::Id.eq(&row.id))
            .exec(&txn)
            .await?;
        self.commit_revoking(txn, super::RevocationKind::Client, &row.id).await
    }
}

impl Scoped<'_> {
    /// Changes a client's editable settings (everything but its ids, secrets and grant types) in one
    /// transaction: `change` sees the client as it is inside it (the row locked on PostgreSQL; SQLite
    /// has one writer), so two edits racing keep each other's fields. `None` from `change` writes
    /// nothing.
    pub async fn modify_client<E: From<StoreError>>(
        &self,
        client_id: &str,
        change: impl FnOnce(Client) -> Result<Option<Client>, E>,
    ) -> Result<Client, E> {
        use sea_orm::{DbBackend, QuerySelect};
        let txn = self.writer().begin().await.map_err(StoreError::from)?;
        let mut find = oauth_client::Entity::find()
            .filter(oauth_client::Column::TenantId.eq(self.tid()))
            .filter(oauth_client::Column::ClientId.eq(client_id));
        if txn.get_database_backend() == DbBackend::Postgres {
            find = find.lock_exclusive();
        }
        let current = to_record(find.one(&txn).await.map_err(StoreError::from)?.ok_or(StoreError::NotFound)?)?;
        let Some(next) = change(current.clone())? else { return Ok(current) };
        write_client(&txn, self.tenant, &next).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(next)
    }
}

/// Writes a client's editable settings on `conn` (a skill's update writes its client in its own
/// transaction); `NotFound` when the tenant has no such client.
pub(super) async fn write_client<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    c: &Client,
) -> Result<(), StoreError> {
    let (grace, idle) = refresh_columns(c.refresh_policy);
    let r = oauth_client::Entity::update_many()
        .set(oauth_client::ActiveModel {
            name: Set(c.name.clone()),
            redirect_uris: Set(serde_json::to_string(&c.redirect_uris)?),
            auth_method: Set(c.auth_method.as_str().to_owned()),
            scopes: Set(c.scopes.join(" ")),
            require_pkce: Set(c.require_pkce),
            access_token_ttl: Set(c.access_token_ttl),
            refresh_policy: Set(c.refresh_policy.name().to_owned()),
            refresh_grace_secs: Set(grace),
            refresh_idle_secs: Set(idle),
            refresh_token_ttl: Set(c.refresh_token_ttl),
            id_token_signed_response_alg: Set(c.id_token_signed_response_alg.as_str().to_owned()),
            ..Default::default()
        })
        .filter(oauth_client::Column::TenantId.eq(tenant.as_str()))
        .filter(oauth_client::Column::ClientId.eq(&c.client_id))
        .exec(conn)
        .await?;
    if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}
