//! Latchkey persistence: the relational store (sea-orm on SQLite or PostgreSQL), the KV store (memory
//! or Redis) and encryption of secrets at rest.
//!
//! Every repository function on tenant-owned data takes a `TenantId` and filters on it: there is no way
//! to read another tenant's rows through this crate.
#![forbid(unsafe_code)]

mod entities;
pub mod error;
pub mod fault;
mod group_commit;
pub mod kv;
pub mod records;
pub mod repo;
pub mod secrets;

use latchkey_migrations::MigratorTrait;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, TransactionTrait};
use std::time::Duration;

pub use error::StoreError;
pub use kv::{Kv, KvError};
pub use secrets::SecretBox;

/// The relational store plus the box that encrypts secrets in it.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Where writes go. On SQLite a pool of one connection: SQLite allows one writer at a time, and
    /// writers queueing in the pool is far cheaper than writers sleeping in SQLite's busy handler
    /// (measured: refresh p99 150 ms with 8 writers contending). On PostgreSQL the same pool as reads.
    writer: DatabaseConnection,
    /// Accepted Alexa events, committed in groups (group_commit.rs).
    outbox: group_commit::OutboxWriter,
    secrets: SecretBox,
    /// Told of each revocation this process commits (repo/revocations.rs).
    listener: repo::revocations::ListenerSlot,
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`).
    pub async fn connect(url: &str, secrets: SecretBox) -> Result<Self, StoreError> {
        let sqlite = url.starts_with("sqlite:");
        let options = |max: u32| {
            let mut o = ConnectOptions::new(url.to_owned());
            // Every connection is opened up front, here on the main runtime, and never reaped: actix
            // runs each worker on its own runtime, and a connection opened inside a worker dies with
            // that worker's runtime when a graceful shutdown stops it first, failing requests still
            // in flight on other workers (found by the rolling-restart test).
            o.max_connections(max)
                .min_connections(max)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_timeout(Duration::from_secs(5))
                .acquire_timeout(Duration::from_secs(5))
                .sqlx_logging(false);
            if sqlite {
                // A SQLite connection is a file handle in this process: it cannot go stale as a
                // server connection can, so testing it before each use (a ping: a round trip to the
                // connection's thread on every acquire) buys nothing. Without it a refresh costs the
                // server 8 context switches instead of 12 (benches/run.sh, refresh without openid).
                o.test_before_acquire(false);
                // WAL lets readers proceed during a write; busy_timeout makes a writer in another
                // process (the CLI) wait instead of failing. Set on every connection of the pool.
                o.map_sqlx_sqlite_opts(|s| {
                    s.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                        .busy_timeout(Duration::from_secs(5))
                        .foreign_keys(true)
                        .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                });
            } else {
                // A PostgreSQL connection idle for a second or more is pinged before use (the server
                // may have restarted or failed over meanwhile); one in steady use is not, as a ping
                // on every acquire is a round trip to the server per query. One that died between
                // two uses a moment apart fails its request as unavailable (503, retry) and is not
                // returned to the pool.
                o.test_before_acquire_if_idle_for(Duration::from_secs(1));
            }
            o
        };
        // SQLite: the single writer connects first and switches the file to WAL; readers opened
        // together before that race for the exclusive lock the switch needs ("database is locked").
        let (db, writer) = if sqlite {
            let writer = Database::connect(options(1)).await?;
            (Database::connect(options(4)).await?, writer)
        } else {
            let db = Database::connect(options(10)).await?;
            (db.clone(), db)
        };
        let outbox = group_commit::OutboxWriter::start(writer.clone());
        Ok(Self { db, writer, outbox, secrets, listener: Default::default() })
    }

    /// Applies pending migrations. On PostgreSQL they run in one transaction holding an advisory
    /// lock, so several instances booting at once wait for each other instead of racing (and DDL is
    /// transactional there, so a failed upgrade leaves the old schema intact).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            let txn = self.db.begin().await?;
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7243117001)").await?;
            latchkey_migrations::Migrator::up(&txn, None).await?;
            txn.commit().await?;
            return Ok(());
        }
        latchkey_migrations::Migrator::up(&self.writer, None).await.map_err(StoreError::from)
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(StoreError::from)
    }

    /// Connection pools for `/metrics`: (pool, open connections, idle ones). On SQLite the writer has a
    /// pool of its own; on PostgreSQL reads and writes share one.
    pub fn pool_usage(&self) -> Vec<(&'static str, u32, usize)> {
        let usage = |c: &DatabaseConnection| match c.get_database_backend() {
            DbBackend::Postgres => {
                let p = c.get_postgres_connection_pool();
                (p.size(), p.num_idle())
            }
            DbBackend::Sqlite => {
                let p = c.get_sqlite_connection_pool();
                (p.size(), p.num_idle())
            }
            _ => (0, 0),
        };
        let (open, idle) = usage(&self.db);
        let mut out = vec![("main", open, idle)];
        if self.db.get_database_backend() == DbBackend::Sqlite {
            let (open, idle) = usage(&self.writer);
            out.push(("writer", open, idle));
        }
        out
    }

    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    pub fn backend_name(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Postgres => "postgres",
            DbBackend::Sqlite => "sqlite",
            _ => "other",
        }
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub(crate) fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    pub(crate) fn outbox_writer(&self) -> &group_commit::OutboxWriter {
        &self.outbox
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A new row id: a UUIDv7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}
