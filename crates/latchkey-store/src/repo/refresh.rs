//! Refresh-token families. Each grant starts a family; rotation adds children. Revoking a family ends
//! every token in it, and the access tokens it issued (they carry the family id).
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Set, Statement,
    TransactionTrait,
};

use super::{RevocationKind, Scoped, split_scopes};
use crate::entities::{linked_account, refresh_family, refresh_token};
use crate::error::StoreError;
use crate::fault;
use crate::records::{RefreshFamily, RefreshTokenRecord};
use crate::{new_id, now};

fn family_record(m: refresh_family::Model) -> RefreshFamily {
    RefreshFamily {
        id: m.id,
        client_id: m.client_id,
        user_id: m.user_id,
        scopes: split_scopes(&m.scope),
        auth_time: m.auth_time,
        created_at: m.created_at,
        revoked_at: m.revoked_at,
    }
}

/// A new child token for a family.
pub struct RotateRequest<'a> {
    pub parent: &'a RefreshTokenRecord,
    pub child_hash: String,
    pub child_expires_at: Option<i64>,
    /// The parent's first use: only succeeds if nobody used it first (a compare-and-set).
    pub first_use: bool,
}

/// What one prune removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PruneReport {
    pub refresh_tokens: u64,
    pub families: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    Issued,
    /// A concurrent request used the parent first; decide again as a repeat.
    LostRace,
}

impl Scoped<'_> {
    /// Starts a family with its first refresh token. The caller picks the family's id (`new_id()`), so
    /// it can record it before the write (see the authorization-code grant).
    #[allow(clippy::too_many_arguments)]
    pub async fn start_family(
        &self,
        family_id: &str,
        client_row_id: &str,
        user_id: Option<&str>,
        scopes: &[String],
        auth_time: Option<i64>,
        token_hash: &str,
        expires_at: Option<i64>,
    ) -> Result<RefreshFamily, StoreError> {
        let t = now();
        let txn = self.writer().begin().await?;
        let fam = refresh_family::ActiveModel {
            id: Set(family_id.to_owned()),
            tenant_id: Set(self.tid()),
            client_id: Set(client_row_id.to_owned()),
            user_id: Set(user_id.map(str::to_owned)),
            scope: Set(scopes.join(" ")),
            auth_time: Set(auth_time),
            created_at: Set(t),
            revoked_at: Set(None),
            revoked_reason: Set(None),
        }
        .insert(&txn)
        .await?;
        fault::point("grant.after_family");
        refresh_token::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            family_id: Set(fam.id.clone()),
            token_hash: Set(token_hash.to_owned()),
            parent_id: Set(None),
            created_at: Set(t),
            expires_at: Set(expires_at),
            used_at: Set(None),
            last_used_at: Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(family_record(fam))
    }

    /// Creates a family without a refresh token (a grant that issued only an access token), so that
    /// revoking it still ends those access tokens.
    pub async fn start_tokenless_family(
        &self,
        family_id: &str,
        client_row_id: &str,
        user_id: Option<&str>,
        scopes: &[String],
        auth_time: Option<i64>,
    ) -> Result<RefreshFamily, StoreError> {
        let fam = refresh_family::ActiveModel {
            id: Set(family_id.to_owned()),
            tenant_id: Set(self.tid()),
            client_id: Set(client_row_id.to_owned()),
            user_id: Set(user_id.map(str::to_owned)),
            scope: Set(scopes.join(" ")),
            auth_time: Set(auth_time),
            created_at: Set(now()),
            revoked_at: Set(None),
            revoked_reason: Set(None),
        }
        .insert(self.writer())
        .await?;
        Ok(family_record(fam))
    }

    pub async fn refresh_token_by_hash(&self, hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
        // One round trip: the token with its family.
        let Some((tok, fam)) = refresh_token::Entity::find()
            .filter(refresh_token::Column::TenantId.eq(self.tid()))
            .filter(refresh_token::Column::TokenHash.eq(hash))
            .find_also_related(refresh_family::Entity)
            .one(self.db())
            .await?
        else {
            return Ok(None);
        };
        let fam = fam
            .filter(|f| f.tenant_id == tok.tenant_id)
            .ok_or_else(|| StoreError::Corrupt(format!("refresh token {} has no family", tok.id)))?;
        Ok(Some(RefreshTokenRecord {
            id: tok.id,
            family: family_record(fam),
            created_at: tok.created_at,
            expires_at: tok.expires_at,
            used_at: tok.used_at,
            last_used_at: tok.last_used_at,
        }))
    }

    pub async fn family(&self, id: &str) -> Result<Option<RefreshFamily>, StoreError> {
        Ok(refresh_family::Entity::find()
            .filter(refresh_family::Column::TenantId.eq(self.tid()))
            .filter(refresh_family::Column::Id.eq(id))
            .one(self.db())
            .await?
            .map(family_record))
    }

    /// Marks the parent used (on first use) and adds a child, atomically.
    pub async fn rotate_refresh_token(&self, req: RotateRequest<'_>) -> Result<RefreshOutcome, StoreError> {
        let t = now();
        if self.writer().get_database_backend() == DbBackend::Postgres {
            return self.rotate_in_one_statement(req, t).await;
        }
        self.rotate_in_one_batch(req, t).await
    }

    /// The rotation on SQLite: one batch of statements handed to the writer connection at once. sqlx
    /// runs each SQLite connection on a thread of its own, so each statement sent on its own costs a
    /// round trip to that thread and back; as one batch, the five (begin, mark, insert, touch the link,
    /// commit) cost one. The parent's update is the compare-and-set, as on PostgreSQL: the child is
    /// inserted (and returned) only when that update changed the row (`changes()`), and the link is
    /// touched only when the child exists.
    async fn rotate_in_one_batch(&self, req: RotateRequest<'_>, t: i64) -> Result<RefreshOutcome, StoreError> {
        // Positional parameters only: sqlx hands a batch's arguments to its statements in order, each
        // taking as many as it has `?`. (Numbered ones that skip a number shift that count.)
        const ROTATE: &str = "BEGIN IMMEDIATE;
            UPDATE refresh_tokens SET last_used_at = ?, used_at = CASE WHEN ? THEN ? ELSE used_at END
            WHERE tenant_id = ? AND id = ? AND (NOT ? OR used_at IS NULL);
            INSERT INTO refresh_tokens
                (id, tenant_id, family_id, token_hash, parent_id, created_at, expires_at, used_at, last_used_at)
            SELECT ?, ?, ?, ?, ?, ?, ?, NULL, NULL WHERE changes() = 1
            RETURNING 1;
            UPDATE linked_accounts SET last_refreshed_at = ?
            WHERE tenant_id = ? AND user_id = ? AND client_id = ?
              AND (last_refreshed_at IS NULL OR last_refreshed_at < ?)
              AND EXISTS (SELECT 1 FROM refresh_tokens WHERE tenant_id = ? AND id = ?);
            COMMIT;";
        let (tid, parent, family) = (self.tid(), req.parent.id.as_str(), &req.parent.family);
        let child = new_id();
        fault::point("rotate.before_commit");
        let pool = self.writer().get_sqlite_connection_pool();
        let mut writer = FinishOrClose { conn: pool.acquire().await?, finished: false };
        let inserted: Vec<i64> = sea_orm::sqlx::query_scalar(ROTATE)
            // the parent
            .bind(t)
            .bind(req.first_use)
            .bind(t)
            .bind(&tid)
            .bind(parent)
            .bind(req.first_use)
            // the child
            .bind(&child)
            .bind(&tid)
            .bind(family.id.as_str())
            .bind(req.child_hash)
            .bind(parent)
            .bind(t)
            .bind(req.child_expires_at)
            // the link
            .bind(t)
            .bind(&tid)
            .bind(family.user_id.as_deref())
            .bind(family.client_id.as_str())
            .bind(t - LINK_TOUCH_PRECISION_SECS)
            .bind(&tid)
            .bind(&child)
            .fetch_all(&mut *writer.conn)
            .await?;
        writer.finished = true;
        Ok(if inserted.is_empty() { RefreshOutcome::LostRace } else { RefreshOutcome::Issued })
    }

    /// The rotation on PostgreSQL: one statement, so one round trip instead of five (begin, mark,
    /// insert, touch the link, commit), and atomic as a statement is. The parent's update is the
    /// compare-and-set: a concurrent first use waits for its row lock, then finds `used_at` set and
    /// updates nothing, so no child is inserted and the caller decides again.
    async fn rotate_in_one_statement(&self, req: RotateRequest<'_>, t: i64) -> Result<RefreshOutcome, StoreError> {
        let (set_used, only_unused) = if req.first_use { (", used_at = $1", " AND used_at IS NULL") } else { ("", "") };
        let sql = format!(
            "WITH parent AS (
                UPDATE refresh_tokens SET last_used_at = $1{set_used}
                WHERE tenant_id = $2 AND id = $3{only_unused}
                RETURNING id
            ), child AS (
                INSERT INTO refresh_tokens
                    (id, tenant_id, family_id, token_hash, parent_id, created_at, expires_at, used_at, last_used_at)
                SELECT $4, $2, $5, $6, parent.id, $1, $7, NULL, NULL FROM parent
                RETURNING id
            ), link AS (
                UPDATE linked_accounts SET last_refreshed_at = $1
                WHERE tenant_id = $2 AND user_id = $8 AND client_id = $9
                  AND (last_refreshed_at IS NULL OR last_refreshed_at < $1 - {LINK_TOUCH_PRECISION_SECS})
                  AND EXISTS (SELECT 1 FROM child)
            )
            SELECT COUNT(*) AS issued FROM child"
        );
        let values: Vec<sea_orm::Value> = vec![
            t.into(),
            self.tid().into(),
            req.parent.id.clone().into(),
            new_id().into(),
            req.parent.family.id.clone().into(),
            req.child_hash.into(),
            req.child_expires_at.into(),
            req.parent.family.user_id.clone().into(),
            req.parent.family.client_id.clone().into(),
        ];
        fault::point("rotate.before_commit");
        let row = self
            .writer()
            .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
            .await?
            .ok_or_else(|| StoreError::Corrupt("the rotation returned no row".into()))?;
        let issued: i64 = row.try_get("", "issued")?;
        Ok(if issued == 1 { RefreshOutcome::Issued } else { RefreshOutcome::LostRace })
    }

    /// Records a use of a fixed (non-rotating) token.
    pub async fn touch_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        let t = now();
        let txn = self.writer().begin().await?;
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::LastUsedAt, Expr::value(t))
            .filter(refresh_token::Column::TenantId.eq(self.tid()))
            .filter(refresh_token::Column::Id.eq(&token.id))
            .exec(&txn)
            .await?;
        touch_link(&txn, self, &token.family, t).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Revokes every live family (grant) of a user; how many.
    pub async fn revoke_user_families(&self, user_id: &str, reason: &str) -> Result<u64, StoreError> {
        self.revoke_families_where(refresh_family::Column::UserId.eq(user_id), reason, (RevocationKind::User, user_id))
            .await
    }

    /// How many unrevoked grants a user holds for a client.
    pub async fn active_family_count(&self, user_id: &str, client_row_id: &str) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(refresh_family::Entity::find()
            .filter(refresh_family::Column::TenantId.eq(self.tid()))
            .filter(refresh_family::Column::UserId.eq(user_id))
            .filter(refresh_family::Column::ClientId.eq(client_row_id))
            .filter(refresh_family::Column::RevokedAt.is_null())
            .count(self.db())
            .await?)
    }

    /// Revokes a family; `false` if it was already revoked.
    pub async fn revoke_family(&self, family_id: &str, reason: &str) -> Result<bool, StoreError> {
        let which = refresh_family::Column::Id.eq(family_id);
        Ok(self.revoke_families_where(which, reason, (RevocationKind::Family, family_id)).await? > 0)
    }

    /// Revokes this tenant's live families that match `which`, and records `fed` in the revocation feed
    /// in the same transaction when any was live; how many.
    async fn revoke_families_where(
        &self,
        which: sea_orm::sea_query::SimpleExpr,
        reason: &str,
        fed: (RevocationKind, &str),
    ) -> Result<u64, StoreError> {
        let txn = self.writer().begin().await?;
        let r = refresh_family::Entity::update_many()
            .col_expr(refresh_family::Column::RevokedAt, Expr::value(now()))
            .col_expr(refresh_family::Column::RevokedReason, Expr::value(reason))
            .filter(refresh_family::Column::TenantId.eq(self.tid()))
            .filter(which)
            .filter(refresh_family::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        if r.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(0);
        }
        self.commit_revoking(txn, fed.0, fed.1).await?;
        Ok(r.rows_affected)
    }
}

/// Retention: rotation adds a row per refresh, so without pruning the table grows by one row per
/// link per hour for as long as Alexa keeps the link.
impl Scoped<'_> {
    /// Deletes what can no longer be redeemed and ended before `cutoff`: refresh tokens used (rotated
    /// away) or expired before it, and whole grants revoked before it or left with no token. Reuse of a
    /// pruned token is answered like an unknown token (invalid_grant) without revoking its family, so
    /// `cutoff` must lie well beyond the longest grace window (the caller's retention has a floor).
    pub async fn prune_refresh_tokens(&self, cutoff: i64) -> Result<PruneReport, StoreError> {
        use sea_orm::sea_query::Query;
        let txn = self.writer().begin().await?;
        let revoked = Query::select()
            .column(refresh_family::Column::Id)
            .from(refresh_family::Entity)
            .and_where(refresh_family::Column::TenantId.eq(self.tid()))
            .and_where(refresh_family::Column::RevokedAt.lt(cutoff))
            .to_owned();
        let tokens = refresh_token::Entity::delete_many()
            .filter(refresh_token::Column::TenantId.eq(self.tid()))
            .filter(
                Condition::any()
                    .add(refresh_token::Column::UsedAt.lt(cutoff))
                    .add(refresh_token::Column::ExpiresAt.lt(cutoff))
                    .add(refresh_token::Column::FamilyId.in_subquery(revoked)),
            )
            .exec(&txn)
            .await?
            .rows_affected;
        let with_tokens = Query::select()
            .column(refresh_token::Column::FamilyId)
            .from(refresh_token::Entity)
            .and_where(refresh_token::Column::TenantId.eq(self.tid()))
            .to_owned();
        // Created before the cutoff and without a token: revoked and emptied above, fully expired, or a
        // grant that never had a refresh token (its access tokens expired long ago).
        let families = refresh_family::Entity::delete_many()
            .filter(refresh_family::Column::TenantId.eq(self.tid()))
            .filter(refresh_family::Column::CreatedAt.lt(cutoff))
            .filter(refresh_family::Column::Id.not_in_subquery(with_tokens))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(PruneReport { refresh_tokens: tokens, families })
    }
}

/// Minute precision is enough for a link's "last refreshed", and skipping the write for a link
/// refreshed moments ago avoids row-lock queues when many grants share a link. Every path that
/// touches the link on a refresh (`touch_link`, both one-round-trip rotations) skips alike.
pub(super) const LINK_TOUCH_PRECISION_SECS: i64 = 60;

async fn touch_link(
    txn: &sea_orm::DatabaseTransaction,
    s: &Scoped<'_>,
    family: &RefreshFamily,
    t: i64,
) -> Result<(), StoreError> {
    if let Some(user) = &family.user_id {
        linked_account::Entity::update_many()
            .col_expr(linked_account::Column::LastRefreshedAt, Expr::value(t))
            .filter(linked_account::Column::TenantId.eq(s.tid()))
            .filter(linked_account::Column::UserId.eq(user))
            .filter(linked_account::Column::ClientId.eq(&family.client_id))
            .filter(
                Condition::any()
                    .add(linked_account::Column::LastRefreshedAt.is_null())
                    .add(linked_account::Column::LastRefreshedAt.lt(t - LINK_TOUCH_PRECISION_SECS)),
            )
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// A writer connection running a batch that begins and commits its own transaction (a rotation on
/// SQLite). If the batch does not finish (an error, or the caller's future dropped while the
/// connection's thread is still running it), the transaction may still be open on the connection: it
/// is closed instead of going back to the pool, and closing rolls the transaction back. Otherwise the
/// next writer would find itself inside it.
pub(super) struct FinishOrClose {
    pub(super) conn: sea_orm::sqlx::pool::PoolConnection<sea_orm::sqlx::Sqlite>,
    /// The batch ran to its end (its COMMIT included): the connection goes back to the pool.
    pub(super) finished: bool,
}

impl Drop for FinishOrClose {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.close_on_drop();
        }
    }
}
