//! A tiny map whose entries expire: for tenant and key lookups on the hot path.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    map: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    map: HashMap<K, (Instant, V)>,
    /// Counts removals. A value read from the database before a removal may predate the change that
    /// caused it (a user disabled, a client deleted), so it must not be put back after it.
    removals: u64,
}

/// What [`TtlCache::generation`] returns: take it before reading the value to cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generation(u64);

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, map: Mutex::new(Entries { map: HashMap::new(), removals: 0 }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<K, V>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, k: &K) -> Option<V> {
        self.lock().map.get(k).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    pub fn put(&self, k: K, v: V) {
        let mut e = self.lock();
        self.insert(&mut e, k, v);
    }

    /// The removal count now, to pass to [`TtlCache::put_unless_removed_since`].
    pub fn generation(&self) -> Generation {
        Generation(self.lock().removals)
    }

    /// Caches `v`, read from the source after `since` was taken, unless something was removed since:
    /// then `v` may be older than the removal and is returned without being cached (the next lookup
    /// reads again).
    pub fn put_unless_removed_since(&self, since: Generation, k: K, v: V) {
        let mut e = self.lock();
        if e.removals == since.0 {
            self.insert(&mut e, k, v);
        }
    }

    fn insert(&self, e: &mut Entries<K, V>, k: K, v: V) {
        if e.map.len() > 10_000 {
            e.map.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        e.map.insert(k, (Instant::now(), v));
    }

    pub fn remove(&self, k: &K) {
        let mut e = self.lock();
        e.removals += 1;
        e.map.remove(k);
    }

    /// Drops every entry whose key matches.
    pub fn remove_where(&self, f: impl Fn(&K) -> bool) {
        let mut e = self.lock();
        e.removals += 1;
        e.map.retain(|k, _| !f(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The race the generation closes: a read that began before a user was disabled finishes after the
    /// disable removed the cached user; putting its answer back would let the user in until the entry
    /// expires.
    #[test]
    fn a_read_from_before_a_removal_is_not_cached() {
        let c: TtlCache<&str, bool> = TtlCache::new(Duration::from_secs(60));
        let before = c.generation();
        c.remove(&"u1");
        c.put_unless_removed_since(before, "u1", false);
        assert_eq!(c.get(&"u1"), None);
        let after = c.generation();
        c.put_unless_removed_since(after, "u1", true);
        assert_eq!(c.get(&"u1"), Some(true));
        let before = c.generation();
        c.remove_where(|k| k.starts_with('x'));
        c.put_unless_removed_since(before, "u2", true);
        assert_eq!(c.get(&"u2"), None, "any removal counts, not only of the same key");
    }
}
