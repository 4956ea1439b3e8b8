//! The in-memory KV store of the embedded default: one process, nothing survives a restart.
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{KvError, KvStore};

#[derive(Default)]
pub struct MemoryKv {
    map: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
    ops: std::sync::atomic::AtomicU64,
}

impl MemoryKv {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, (Vec<u8>, Instant)>, Instant) -> R) -> R {
        let now = Instant::now();
        // A poisoned lock only means another thread panicked mid-operation; the map is still usable.
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // Sweep expired entries now and then so the map cannot grow without bound.
        if self.ops.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(1024) {
            map.retain(|_, (_, exp)| *exp > now);
        }
        f(&mut map, now)
    }
}

fn live<'a>(map: &'a HashMap<String, (Vec<u8>, Instant)>, key: &str, now: Instant) -> Option<&'a (Vec<u8>, Instant)> {
    map.get(key).filter(|(_, exp)| *exp > now)
}

#[async_trait]
impl KvStore for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.with(|m, now| live(m, key, now).map(|(v, _)| v.clone())))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        self.with(|m, now| m.insert(key.to_owned(), (value.to_vec(), now + ttl)));
        Ok(())
    }

    async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        Ok(self.with(|m, now| {
            if live(m, key, now).is_some() {
                false
            } else {
                m.insert(key.to_owned(), (value.to_vec(), now + ttl));
                true
            }
        }))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.with(|m, now| m.remove(key).filter(|(_, exp)| *exp > now).map(|(v, _)| v)))
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.with(|m, _| m.remove(key));
        Ok(())
    }

    async fn incr_by(&self, key: &str, by: i64, window: Duration) -> Result<i64, KvError> {
        Ok(self.with(|m, now| {
            let current = live(m, key, now)
                .map(|(v, exp)| (std::str::from_utf8(v).ok().and_then(|s| s.parse::<i64>().ok()).unwrap_or(0), *exp));
            let (n, exp) = match current {
                Some((n, exp)) => (n + by, exp),
                None => (by, now + window),
            };
            m.insert(key.to_owned(), (n.to_string().into_bytes(), exp));
            n
        }))
    }

    async fn ttl(&self, key: &str) -> Result<Option<i64>, KvError> {
        Ok(self.with(|m, now| live(m, key, now).map(|(_, exp)| exp.duration_since(now).as_secs() as i64)))
    }

    async fn ping(&self) -> Result<(), KvError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn basic_operations() {
        let kv = MemoryKv::new();
        let t = Duration::from_secs(60);
        kv.set("a", b"1", t).await.expect("set");
        assert_eq!(kv.get("a").await.expect("get"), Some(b"1".to_vec()));
        assert!(!kv.set_nx("a", b"2", t).await.expect("nx"));
        assert!(kv.set_nx("b", b"2", t).await.expect("nx"));
        assert_eq!(kv.take("b").await.expect("take"), Some(b"2".to_vec()));
        assert_eq!(kv.take("b").await.expect("take"), None);
        assert_eq!(kv.incr("c", t).await.expect("incr"), 1);
        assert_eq!(kv.incr("c", t).await.expect("incr"), 2);
        assert!(kv.ttl("c").await.expect("ttl").is_some_and(|s| s <= 60));
        kv.delete("a").await.expect("del");
        assert_eq!(kv.get("a").await.expect("get"), None);
    }

    #[tokio::test]
    async fn entries_expire() {
        let kv = MemoryKv::new();
        kv.set("a", b"1", Duration::from_millis(1)).await.expect("set");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(kv.get("a").await.expect("get"), None);
        assert!(kv.set_nx("a", b"2", Duration::from_secs(1)).await.expect("nx"));
    }
}
