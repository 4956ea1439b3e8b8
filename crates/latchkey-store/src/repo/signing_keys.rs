//! Per-tenant signing keys; private parts sealed with the master key.
use latchkey_core::TenantId;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use super::Scoped;
use crate::entities::signing_key;
use crate::error::StoreError;
use crate::now;
use crate::records::{KeyState, KeySummary, SigningKey};
use crate::secrets::SecretBox;

/// A freshly generated key, before it is sealed and stored.
pub struct NewSigningKey {
    pub kid: String,
    pub alg: String,
    pub private_pkcs8: Vec<u8>,
    pub public_jwk: serde_json::Value,
}

fn context(tenant: &TenantId, kid: &str) -> String {
    crate::secrets::context::signing_key(tenant.as_str(), kid)
}

pub(super) async fn insert_key<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    tenant: &TenantId,
    key: NewSigningKey,
) -> Result<(), StoreError> {
    insert_key_as(db, secrets, tenant, key, KeyState::Current).await
}

async fn insert_key_as<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    tenant: &TenantId,
    key: NewSigningKey,
    state: KeyState,
) -> Result<(), StoreError> {
    signing_key::ActiveModel {
        id: Set(key.kid.clone()),
        tenant_id: Set(tenant.as_str().to_owned()),
        alg: Set(key.alg),
        private_key: Set(secrets.seal(&context(tenant, &key.kid), &key.private_pkcs8)?),
        public_jwk: Set(serde_json::to_string(&key.public_jwk)?),
        state: Set(state.as_str().to_owned()),
        created_at: Set(now()),
        retired_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

fn parse_state(s: &str) -> KeyState {
    match s {
        "next" => KeyState::Next,
        "current" => KeyState::Current,
        "previous" => KeyState::Previous,
        _ => KeyState::Retired,
    }
}

impl Scoped<'_> {
    /// The rows of the next, current and previous keys (the ones the JWKS publishes), current first.
    async fn published_rows(&self) -> Result<Vec<signing_key::Model>, StoreError> {
        let mut rows = signing_key::Entity::find()
            .filter(signing_key::Column::TenantId.eq(self.tid()))
            .filter(signing_key::Column::State.is_in(["next", "current", "previous"]))
            .order_by_desc(signing_key::Column::CreatedAt)
            .all(self.db())
            .await?;
        rows.sort_by_key(|m| m.state != "current");
        Ok(rows)
    }

    /// The next, current and previous keys (the ones the JWKS publishes), current first.
    pub async fn published_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        self.published_rows()
            .await?
            .into_iter()
            .map(|m| {
                Ok(SigningKey {
                    private_pkcs8: self.store.secrets().open(&context(self.tenant, &m.id), &m.private_key)?,
                    public_jwk: serde_json::from_str(&m.public_jwk)?,
                    state: parse_state(&m.state),
                    kid: m.id,
                    alg: m.alg,
                    created_at: m.created_at,
                })
            })
            .collect()
    }

    /// The same keys without their private parts, so nothing is decrypted: what an operator is shown.
    pub async fn published_key_summaries(&self) -> Result<Vec<KeySummary>, StoreError> {
        Ok(self
            .published_rows()
            .await?
            .into_iter()
            .map(|m| KeySummary { state: parse_state(&m.state), kid: m.id, alg: m.alg, created_at: m.created_at })
            .collect())
    }

    /// Makes `key` current; the old current key becomes previous (still published, so tokens it signed
    /// keep verifying) and any older previous key is retired. A scheduled rotation's pending next key of
    /// another algorithm is retired too: promoting it later would undo the change of algorithm.
    pub async fn rotate_signing_key(&self, key: NewSigningKey) -> Result<(), StoreError> {
        let txn = self.writer().begin().await?;
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::State, Expr::value("retired"))
            .col_expr(signing_key::Column::RetiredAt, Expr::value(now()))
            .filter(signing_key::Column::TenantId.eq(self.tid()))
            .filter(signing_key::Column::State.eq("next"))
            .filter(signing_key::Column::Alg.ne(key.alg.as_str()))
            .exec(&txn)
            .await?;
        self.demote_signing_keys(&txn).await?;
        insert_key(&txn, self.store.secrets(), self.tenant, key).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Publishes `key` as the next key of a scheduled rotation (it does not sign yet). `false` if a next
    /// key is already published (another instance got there first).
    pub async fn add_next_signing_key(&self, key: NewSigningKey) -> Result<bool, StoreError> {
        let txn = self.writer().begin().await?;
        let existing = signing_key::Entity::find()
            .filter(signing_key::Column::TenantId.eq(self.tid()))
            .filter(signing_key::Column::State.eq("next"))
            .one(&txn)
            .await?;
        if existing.is_some() {
            txn.rollback().await?;
            return Ok(false);
        }
        insert_key_as(&txn, self.store.secrets(), self.tenant, key, KeyState::Next).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The scheduled rotation's switch: the next key signs from now on, the current one stays published
    /// as previous, the older previous one is retired. `false` if there was no next key.
    pub async fn promote_next_signing_key(&self) -> Result<bool, StoreError> {
        let txn = self.writer().begin().await?;
        let next = signing_key::Entity::find()
            .filter(signing_key::Column::TenantId.eq(self.tid()))
            .filter(signing_key::Column::State.eq("next"))
            .one(&txn)
            .await?;
        let Some(next) = next else {
            txn.rollback().await?;
            return Ok(false);
        };
        self.demote_signing_keys(&txn).await?;
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::State, Expr::value("current"))
            .filter(signing_key::Column::TenantId.eq(self.tid()))
            .filter(signing_key::Column::Id.eq(&next.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The first half of every rotation: the previous key is retired, the current one becomes previous.
    async fn demote_signing_keys(&self, txn: &sea_orm::DatabaseTransaction) -> Result<(), StoreError> {
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::State, Expr::value("retired"))
            .col_expr(signing_key::Column::RetiredAt, Expr::value(now()))
            .filter(signing_key::Column::TenantId.eq(self.tid()))
            .filter(signing_key::Column::State.eq("previous"))
            .exec(txn)
            .await?;
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::State, Expr::value("previous"))
            .filter(signing_key::Column::TenantId.eq(self.tid()))
            .filter(signing_key::Column::State.eq("current"))
            .exec(txn)
            .await?;
        Ok(())
    }
}
