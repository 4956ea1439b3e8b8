//! Storage errors. Database text never reaches a client: the edge maps these to a generic message and
//! logs the detail.
use thiserror::Error;

/// The database's own error, shared so that `StoreError` stays cheap to clone and keeps it as its
/// `source()`: logs print the whole chain (sea-orm's error, then sqlx's).
pub type Cause = std::sync::Arc<sea_orm::DbErr>;

#[derive(Clone, Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database went away (or a store worker stopped); retrying later may work.
    #[error("database unavailable")]
    Unavailable(#[source] Option<Cause>),
    #[error("database error")]
    Db(#[source] Cause),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("secret could not be decrypted (is the master key right?)")]
    Decrypt,
}

impl From<sea_orm::DbErr> for StoreError {
    fn from(e: sea_orm::DbErr) -> Self {
        use sea_orm::{DbErr, SqlErr};
        if let Some(SqlErr::UniqueConstraintViolation(m)) = e.sql_err() {
            // The database's text names constraints and values; repositories that expect a conflict
            // replace this with a message of their own.
            tracing::debug!(detail = %m, "unique constraint violated");
            return Self::Conflict("it already exists".into());
        }
        if let Some(SqlErr::ForeignKeyConstraintViolation(m)) = e.sql_err() {
            // A row still in use (a skill's client) or pointing at one that is gone: the database's
            // references (migration 6) caught what a service check should have.
            tracing::debug!(detail = %m, "foreign key constraint violated");
            return Self::Conflict("it is still in use, or refers to something that does not exist".into());
        }
        match e {
            DbErr::RecordNotFound(_) => Self::NotFound,
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::Unavailable(Some(e.into())),
            DbErr::Exec(sea_orm::RuntimeErr::SqlxError(ref se))
            | DbErr::Query(sea_orm::RuntimeErr::SqlxError(ref se))
                if connection_lost(se) =>
            {
                Self::Unavailable(Some(e.into()))
            }
            other => Self::Db(other.into()),
        }
    }
}

/// Queries run on sqlx directly (a batch that sea-orm cannot express) map as sea-orm's do.
impl From<sea_orm::sqlx::Error> for StoreError {
    fn from(e: sea_orm::sqlx::Error) -> Self {
        Self::from(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(e))))
    }
}

/// A query that failed because the database went away (a dropped connection, a server shutting down
/// or restarting) rather than because of the query: the caller gets "unavailable, retry", not a 500.
fn connection_lost(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match e {
        Error::Io(_) | Error::Tls(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        Error::Protocol(_) => true,
        // PostgreSQL's class 57 (operator intervention: admin_shutdown, crash_shutdown,
        // cannot_connect_now) and 08 (connection exception).
        Error::Database(db) => db.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
        _ => false,
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Corrupt(e.to_string())
    }
}
