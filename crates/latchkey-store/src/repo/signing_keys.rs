//! Per-tenant signing keys; private parts sealed with the master key.
//!
//! A tenant keeps a ring of keys per algorithm (next, current, previous). A rotation works on the rings
//! of the keys it brings, so every ring rotates with it and the others are left as they are.
use latchkey_core::TenantId;
use latchkey_core::signing::SigningAlg;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use super::Scoped;
use crate::entities::{signing_key, tenant};
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

/// Inserts a tenant's first keys, all current.
pub(super) async fn insert_keys<C: ConnectionTrait>(
    db: &C,
    secrets: &SecretBox,
    tenant: &TenantId,
    keys: Vec<NewSigningKey>,
) -> Result<(), StoreError> {
    for key in keys {
        insert_key_as(db, secrets, tenant, key, KeyState::Current).await?;
    }
    Ok(())
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
    /// The rows of the next, current and previous keys (the ones the JWKS publishes): current, then
    /// next, then previous, newest first in each.
    async fn published_rows(&self) -> Result<Vec<signing_key::Model>, StoreError> {
        let mut rows = signing_key::Entity::find()
            .filter(signing_key::Column::TenantId.eq(self.tid()))
            .filter(signing_key::Column::State.is_in(["next", "current", "previous"]))
            .order_by_desc(signing_key::Column::CreatedAt)
            .order_by_asc(signing_key::Column::Alg)
            .all(self.db())
            .await?;
        rows.sort_by_key(|m| match m.state.as_str() {
            "current" => 0,
            "next" => 1,
            _ => 2,
        });
        Ok(rows)
    }

    /// The tenant's signing algorithm (the one its access tokens are signed with).
    pub async fn signing_alg(&self) -> Result<SigningAlg, StoreError> {
        let t = tenant::Entity::find_by_id(self.tid()).one(self.db()).await?.ok_or(StoreError::NotFound)?;
        Ok(SigningAlg::from_stored(&t.signing_alg))
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

    /// Makes `keys` current, each in its algorithm's ring: the ring's current key becomes previous
    /// (still published, so tokens it signed keep verifying) and its older previous key is retired.
    /// The tenant's access tokens are signed with `signing_alg` from now on.
    pub async fn rotate_signing_keys(
        &self,
        keys: Vec<NewSigningKey>,
        signing_alg: SigningAlg,
    ) -> Result<(), StoreError> {
        let txn = self.writer().begin().await?;
        let algs: Vec<String> = keys.iter().map(|k| k.alg.clone()).collect();
        self.demote_signing_keys(&txn, &algs).await?;
        insert_keys(&txn, self.store.secrets(), self.tenant, keys).await?;
        let r = tenant::Entity::update_many()
            .col_expr(tenant::Column::SigningAlg, Expr::value(signing_alg.as_str()))
            .filter(tenant::Column::Id.eq(self.tid()))
            .exec(&txn)
            .await?;
        if r.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        txn.commit().await?;
        Ok(())
    }

    /// Publishes `keys` as the next keys of a scheduled rotation (they do not sign yet). `false` if next
    /// keys are already published (another instance got there first).
    pub async fn add_next_signing_keys(&self, keys: Vec<NewSigningKey>) -> Result<bool, StoreError> {
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
        for key in keys {
            insert_key_as(&txn, self.store.secrets(), self.tenant, key, KeyState::Next).await?;
        }
        txn.commit().await?;
        Ok(true)
    }

    /// The scheduled rotation's switch: the next keys sign from now on, each ring's current key stays
    /// published as previous, the older previous one is retired. `false` if there was no next key.
    pub async fn promote_next_signing_keys(&self) -> Result<bool, StoreError> {
        let txn = self.writer().begin().await?;
        let next = signing_key::Entity::find()
            .filter(signing_key::Column::TenantId.eq(self.tid()))
            .filter(signing_key::Column::State.eq("next"))
            .all(&txn)
            .await?;
        if next.is_empty() {
            txn.rollback().await?;
            return Ok(false);
        }
        let algs: Vec<String> = next.iter().map(|k| k.alg.clone()).collect();
        self.demote_signing_keys(&txn, &algs).await?;
        // By id, not by state: if another promotion committed in between, these keys still end current.
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::State, Expr::value("current"))
            .filter(signing_key::Column::TenantId.eq(self.tid()))
            .filter(signing_key::Column::Id.is_in(next.iter().map(|k| k.id.as_str())))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Adds each of `keys` as current if its algorithm has no current key: a tenant created before
    /// every tenant kept a key of each algorithm. Returns how many were added; two instances doing this
    /// at once may both add one, and the newer signs (the other is retired by the next rotation).
    pub async fn add_missing_signing_keys(&self, keys: Vec<NewSigningKey>) -> Result<u64, StoreError> {
        let txn = self.writer().begin().await?;
        let mut added = 0;
        for key in keys {
            let current = signing_key::Entity::find()
                .filter(signing_key::Column::TenantId.eq(self.tid()))
                .filter(signing_key::Column::State.eq("current"))
                .filter(signing_key::Column::Alg.eq(key.alg.as_str()))
                .one(&txn)
                .await?;
            if current.is_none() {
                insert_key_as(&txn, self.store.secrets(), self.tenant, key, KeyState::Current).await?;
                added += 1;
            }
        }
        txn.commit().await?;
        Ok(added)
    }

    /// The first half of every rotation, in the rings of `algs`: the previous key is retired, the
    /// current one becomes previous.
    async fn demote_signing_keys(&self, txn: &sea_orm::DatabaseTransaction, algs: &[String]) -> Result<(), StoreError> {
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::State, Expr::value("retired"))
            .col_expr(signing_key::Column::RetiredAt, Expr::value(now()))
            .filter(signing_key::Column::TenantId.eq(self.tid()))
            .filter(signing_key::Column::State.eq("previous"))
            .filter(signing_key::Column::Alg.is_in(algs.iter().map(String::as_str)))
            .exec(txn)
            .await?;
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::State, Expr::value("previous"))
            .filter(signing_key::Column::TenantId.eq(self.tid()))
            .filter(signing_key::Column::State.eq("current"))
            .filter(signing_key::Column::Alg.is_in(algs.iter().map(String::as_str)))
            .exec(txn)
            .await?;
        Ok(())
    }
}
