//! A refresh token's first use, looked up and rotated in one trip to the database.
//!
//! Almost every refresh Alexa sends is the first use of a live token. The general path reads the token
//! (a round trip, on SQLite a hop to a reader connection's thread), lets `refresh::decide` choose, then
//! rotates (a second round trip, to the writer). Here the rotation is keyed by the token's hash and
//! guarded by the state in which `decide` answers `Rotate` under a rotating policy, checked in the
//! statement that marks the token used:
//!
//! - the token is unused and unexpired (`expires_at` after now);
//! - its family is live and the requesting client's;
//! - the family's user, if it has one, exists and is enabled (the general path refuses them too).
//!
//! When any of these fails nothing is written and the caller takes the general path, which reads the
//! token and answers exactly as before (a grace retry, reuse, revocation, expiry, another client). The
//! guard is held to `decide` by a test that sets up each state and asks both
//! (`first_use_agrees_with_decide` in tests/e2e/refresh_first_use.rs).
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::refresh::{FinishOrClose, LINK_TOUCH_PRECISION_SECS};
use super::{Scoped, split_scopes};
use crate::error::StoreError;
use crate::records::{RefreshFamily, RefreshTokenRecord};
use crate::{fault, new_id, now};

/// The first use of the token whose hash is `token_hash`, by the client with row id `client_row_id`.
pub struct FirstUse<'a> {
    pub token_hash: &'a str,
    pub client_row_id: &'a str,
    pub child_hash: String,
    pub child_expires_at: Option<i64>,
}

/// The rotated token's row and its family, in the order both statements below return them.
type Row = (String, String, i64, Option<i64>, String, Option<String>, String, Option<i64>, i64);

impl Scoped<'_> {
    /// Rotates the token if this is its first use in a live, enabled grant of the client: marks it used
    /// and stores its child (`child_hash`), atomically. `None` when the token is in any other state (or
    /// unknown): nothing was written, and the caller decides on the token as read.
    pub async fn rotate_on_first_use(&self, req: FirstUse<'_>) -> Result<Option<RefreshTokenRecord>, StoreError> {
        let t = now();
        let child = new_id();
        fault::point("rotate.before_commit");
        let row = if self.writer().get_database_backend() == DbBackend::Postgres {
            self.first_use_in_one_statement(&req, &child, t).await?
        } else {
            self.first_use_in_one_batch(&req, &child, t).await?
        };
        Ok(row.map(
            |(id, family_id, created_at, expires_at, client_id, user_id, scope, auth_time, family_created_at)| {
                RefreshTokenRecord {
                    id,
                    family: RefreshFamily {
                        id: family_id,
                        client_id,
                        user_id,
                        scopes: split_scopes(&scope),
                        auth_time,
                        created_at: family_created_at,
                        revoked_at: None,
                    },
                    created_at,
                    expires_at,
                    used_at: Some(t),
                    last_used_at: Some(t),
                }
            },
        ))
    }

    /// SQLite: one batch on the writer (see `rotate_in_one_batch` for why a batch, and for the
    /// positional parameters). The insert runs only when the guarded update changed the token, the
    /// link is touched and the record returned only when the child exists.
    async fn first_use_in_one_batch(&self, req: &FirstUse<'_>, child: &str, t: i64) -> Result<Option<Row>, StoreError> {
        const FIRST_USE: &str = "BEGIN IMMEDIATE;
            UPDATE refresh_tokens SET used_at = ?, last_used_at = ?
            WHERE tenant_id = ? AND token_hash = ? AND used_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
              AND EXISTS (SELECT 1 FROM refresh_families f
                  WHERE f.tenant_id = refresh_tokens.tenant_id AND f.id = refresh_tokens.family_id
                    AND f.revoked_at IS NULL AND f.client_id = ?
                    AND (f.user_id IS NULL OR EXISTS (SELECT 1 FROM end_users u
                        WHERE u.tenant_id = f.tenant_id AND u.id = f.user_id AND NOT u.disabled)));
            INSERT INTO refresh_tokens
                (id, tenant_id, family_id, token_hash, parent_id, created_at, expires_at, used_at, last_used_at)
            SELECT ?, tenant_id, family_id, ?, id, ?, ?, NULL, NULL FROM refresh_tokens
            WHERE changes() = 1 AND tenant_id = ? AND token_hash = ?;
            UPDATE linked_accounts SET last_refreshed_at = ?
            WHERE tenant_id = ? AND client_id = ?
              AND user_id = (SELECT f.user_id FROM refresh_tokens c
                  JOIN refresh_families f ON f.tenant_id = c.tenant_id AND f.id = c.family_id
                  WHERE c.tenant_id = ? AND c.id = ?)
              AND (last_refreshed_at IS NULL OR last_refreshed_at < ?);
            SELECT p.id, p.family_id, p.created_at, p.expires_at, f.client_id, f.user_id, f.scope, f.auth_time,
                   f.created_at
            FROM refresh_tokens c
            JOIN refresh_tokens p ON p.tenant_id = c.tenant_id AND p.id = c.parent_id
            JOIN refresh_families f ON f.tenant_id = p.tenant_id AND f.id = p.family_id
            WHERE c.tenant_id = ? AND c.id = ?;
            COMMIT;";
        let tid = self.tid();
        let pool = self.writer().get_sqlite_connection_pool();
        let mut writer = FinishOrClose { conn: pool.acquire().await?, finished: false };
        let rows: Vec<Row> = sea_orm::sqlx::query_as(FIRST_USE)
            // the token, guarded
            .bind(t)
            .bind(t)
            .bind(&tid)
            .bind(req.token_hash)
            .bind(t)
            .bind(req.client_row_id)
            // its child
            .bind(child)
            .bind(&req.child_hash)
            .bind(t)
            .bind(req.child_expires_at)
            .bind(&tid)
            .bind(req.token_hash)
            // the link
            .bind(t)
            .bind(&tid)
            .bind(req.client_row_id)
            .bind(&tid)
            .bind(child)
            .bind(t - LINK_TOUCH_PRECISION_SECS)
            // the record
            .bind(&tid)
            .bind(child)
            .fetch_all(&mut *writer.conn)
            .await?;
        writer.finished = true;
        Ok(rows.into_iter().next())
    }

    /// PostgreSQL: one statement. A concurrent first use waits for the token's row lock, then finds it
    /// used and updates nothing, so it returns no row and its caller takes the general path (a retry
    /// inside the grace window).
    async fn first_use_in_one_statement(
        &self,
        req: &FirstUse<'_>,
        child: &str,
        t: i64,
    ) -> Result<Option<Row>, StoreError> {
        let sql = format!(
            "WITH parent AS (
                UPDATE refresh_tokens p SET used_at = $1, last_used_at = $1
                FROM refresh_families f
                WHERE p.tenant_id = $2 AND p.token_hash = $3 AND p.used_at IS NULL
                  AND (p.expires_at IS NULL OR p.expires_at > $1)
                  AND f.tenant_id = p.tenant_id AND f.id = p.family_id AND f.revoked_at IS NULL AND f.client_id = $4
                  AND (f.user_id IS NULL OR EXISTS (SELECT 1 FROM end_users u
                      WHERE u.tenant_id = f.tenant_id AND u.id = f.user_id AND NOT u.disabled))
                RETURNING p.id, p.family_id, p.created_at, p.expires_at, f.client_id, f.user_id, f.scope,
                          f.auth_time, f.created_at AS family_created_at
            ), child AS (
                INSERT INTO refresh_tokens
                    (id, tenant_id, family_id, token_hash, parent_id, created_at, expires_at, used_at, last_used_at)
                SELECT $5, $2, family_id, $6, id, $1, $7, NULL, NULL FROM parent
                RETURNING id
            ), link AS (
                UPDATE linked_accounts l SET last_refreshed_at = $1 FROM parent
                WHERE l.tenant_id = $2 AND l.user_id = parent.user_id AND l.client_id = parent.client_id
                  AND (l.last_refreshed_at IS NULL OR l.last_refreshed_at < $1 - {LINK_TOUCH_PRECISION_SECS})
                  AND EXISTS (SELECT 1 FROM child)
            )
            SELECT parent.* FROM parent WHERE EXISTS (SELECT 1 FROM child)"
        );
        let values: Vec<sea_orm::Value> = vec![
            t.into(),
            self.tid().into(),
            req.token_hash.into(),
            req.client_row_id.into(),
            child.into(),
            req.child_hash.clone().into(),
            req.child_expires_at.into(),
        ];
        let Some(row) =
            self.writer().query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?
        else {
            return Ok(None);
        };
        Ok(Some((
            row.try_get("", "id")?,
            row.try_get("", "family_id")?,
            row.try_get("", "created_at")?,
            row.try_get("", "expires_at")?,
            row.try_get("", "client_id")?,
            row.try_get("", "user_id")?,
            row.try_get("", "scope")?,
            row.try_get("", "auth_time")?,
            row.try_get("", "family_created_at")?,
        )))
    }
}
