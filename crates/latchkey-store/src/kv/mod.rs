//! The KV store: short-lived state that every instance must share (authorization codes, login flows,
//! sessions, CSRF tokens, rate-limit counters, the revocation cache). In memory for the embedded
//! default, Redis for several instances.
mod memory;
mod redis_kv;

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

pub use memory::MemoryKv;
pub use redis_kv::RedisKv;

#[derive(Clone, Debug, Error)]
pub enum KvError {
    #[error("KV store unavailable: {0}")]
    Unavailable(String),
}

/// Operations the services need; each is atomic on its own.
#[async_trait]
pub trait KvStore: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError>;
    /// Sets only if absent; `true` when this call set it. The primitive behind single-use codes.
    async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError>;
    /// Gets and deletes in one step.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    /// Increments a counter, starting a `window` TTL when the counter is created.
    async fn incr(&self, key: &str, window: Duration) -> Result<i64, KvError> {
        self.incr_by(key, 1, window).await
    }
    /// Adds `by` to a counter, starting a `window` TTL when the counter is created.
    async fn incr_by(&self, key: &str, by: i64, window: Duration) -> Result<i64, KvError>;
    /// Seconds until `key` expires, if it exists.
    async fn ttl(&self, key: &str) -> Result<Option<i64>, KvError>;
    async fn ping(&self) -> Result<(), KvError>;
}

/// A shared handle to whichever KV store is configured.
pub type Kv = Arc<dyn KvStore>;

/// Opens Redis when a URL is given, otherwise an in-memory store. `prefix` namespaces every key, so
/// tests (and several deployments) can share one Redis.
pub async fn open(redis_url: Option<&str>, prefix: &str) -> Result<Kv, KvError> {
    match redis_url {
        Some(url) => Ok(Arc::new(RedisKv::connect(url, prefix).await?)),
        None => Ok(Arc::new(MemoryKv::new())),
    }
}
