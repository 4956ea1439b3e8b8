//! The Redis KV store: shared by every instance, so any instance can finish a flow another began.
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

use super::{KvError, KvStore};

pub struct RedisKv {
    conn: ConnectionManager,
    prefix: String,
}

fn unavailable(e: redis::RedisError) -> KvError {
    KvError::Unavailable(e.to_string())
}

fn millis(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
}

impl RedisKv {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, KvError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        // Bounded timeouts: with Redis down a request fails fast with 503 instead of hanging.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client, config).await.map_err(unavailable)?;
        Ok(Self { conn, prefix: prefix.to_owned() })
    }

    fn k(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }
}

#[async_trait]
impl KvStore for RedisKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        redis::cmd("GET").arg(self.k(key)).query_async(&mut self.conn.clone()).await.map_err(unavailable)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        redis::cmd("SET")
            .arg(self.k(key))
            .arg(value)
            .arg("PX")
            .arg(millis(ttl))
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        let r: Option<String> = redis::cmd("SET")
            .arg(self.k(key))
            .arg(value)
            .arg("PX")
            .arg(millis(ttl))
            .arg("NX")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(r.is_some())
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        redis::cmd("GETDEL").arg(self.k(key)).query_async(&mut self.conn.clone()).await.map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        redis::cmd("DEL").arg(self.k(key)).query_async::<()>(&mut self.conn.clone()).await.map_err(unavailable)
    }

    async fn incr_by(&self, key: &str, by: i64, window: Duration) -> Result<i64, KvError> {
        let k = self.k(key);
        // SET NX starts the window only for a new counter; INCRBY then counts. One round trip.
        let (_, n): (Option<String>, i64) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&k)
            .arg(0)
            .arg("PX")
            .arg(millis(window))
            .arg("NX")
            .cmd("INCRBY")
            .arg(&k)
            .arg(by)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(n)
    }

    async fn ttl(&self, key: &str) -> Result<Option<i64>, KvError> {
        let t: i64 =
            redis::cmd("TTL").arg(self.k(key)).query_async(&mut self.conn.clone()).await.map_err(unavailable)?;
        Ok((t >= 0).then_some(t))
    }

    async fn ping(&self) -> Result<(), KvError> {
        redis::cmd("PING").query_async::<String>(&mut self.conn.clone()).await.map(|_| ()).map_err(unavailable)
    }
}
