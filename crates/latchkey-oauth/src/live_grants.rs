//! Which grants (refresh-token families) are live, known in memory, so that introspection and userinfo
//! need not read a grant's row for every access token they check.
//!
//! The rule that keeps this safe: a grant remembered as live is trusted only while the view is fresh,
//! that is while the last read of the revocation feed that succeeded began less than `bound` ago. The
//! feed holds every revocation, written in the revoking transaction (latchkey-store's
//! repo/revocations.rs), so a revocation committed anywhere (another instance, the CLI) before that read
//! began has been applied here. When the feed cannot be read in time, every check reads the database,
//! as it did before this view existed. Revocations made by this process are applied at once, as they
//! commit.
//!
//! What is remembered is bounded (`CAPACITY` grants), and a live entry is re-read after `LIVE_TTL`
//! whatever the feed says: a backstop for a revocation written past the feed (by hand, in SQL).
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use latchkey_core::TenantId;
use latchkey_store::records::RefreshFamily;
use latchkey_store::repo::{Revocation, RevocationKind};

/// Grants remembered at most (live or revoked); about 150 bytes each.
const CAPACITY: usize = 100_000;
/// How long a grant remembered as live is trusted, feed or not.
const LIVE_TTL: Duration = Duration::from_secs(60);

/// What the view says of one grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Live, for this user (`None` for a grant without one).
    Live { user: Option<String> },
    /// Revoked: final, whatever the feed's freshness.
    Revoked,
    /// Not known, or not trusted now: read the database, then [`LiveGrants::remember`] what it said
    /// with this generation.
    Unknown(u64),
}

#[derive(Clone, Debug)]
struct Known {
    tenant: TenantId,
    user: Option<String>,
    client: Option<String>,
    live: bool,
    at: Instant,
}

#[derive(Default)]
struct Inner {
    grants: HashMap<String, Known>,
    /// Bumped whenever live entries are dropped: a database read that began before the drop must not
    /// put back what the drop removed.
    generation: u64,
    /// Feed entries applied, by id, with their time: the feed is read with an overlap, so each entry is
    /// seen several times and applied once.
    applied: HashMap<String, i64>,
    /// When the last feed read that succeeded began.
    fresh_as_of: Option<Instant>,
}

pub struct LiveGrants {
    bound: Duration,
    inner: Mutex<Inner>,
}

impl LiveGrants {
    pub fn new(bound: Duration) -> Self {
        Self { bound, inner: Mutex::new(Inner::default()) }
    }

    /// How stale the view may be before it is no longer trusted.
    pub fn bound(&self) -> Duration {
        self.bound
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What is known of grant `fid` of tenant `t` at `now`.
    pub fn lookup(&self, t: &TenantId, fid: &str, now: Instant) -> Lookup {
        let g = self.lock();
        let fresh = g.fresh_as_of.is_some_and(|at| now.saturating_duration_since(at) < self.bound);
        match g.grants.get(fid).filter(|k| &k.tenant == t) {
            Some(k) if !k.live => Lookup::Revoked,
            Some(k) if fresh && now.saturating_duration_since(k.at) < LIVE_TTL => Lookup::Live { user: k.user.clone() },
            _ => Lookup::Unknown(g.generation),
        }
    }

    /// Remembers what the database said of a grant, read after `lookup` answered `Unknown(generation)`.
    pub fn remember(&self, t: &TenantId, fam: &RefreshFamily, generation: u64, now: Instant) {
        let mut g = self.lock();
        let live = fam.revoked_at.is_none();
        if live {
            // Something was dropped since the read began, or the feed revoked this grant meanwhile:
            // what the read saw may already be out of date.
            if g.generation != generation || g.grants.get(&fam.id).is_some_and(|k| !k.live) {
                return;
            }
        }
        make_room(&mut g, now);
        let known =
            Known { tenant: t.clone(), user: fam.user_id.clone(), client: Some(fam.client_id.clone()), live, at: now };
        g.grants.insert(fam.id.clone(), known);
    }

    /// Applies one feed entry; `false` if it was applied before.
    pub fn apply(&self, r: &Revocation, now: Instant) -> bool {
        let mut g = self.lock();
        if g.applied.insert(r.id.clone(), r.created_at).is_some() {
            return false;
        }
        match r.kind {
            RevocationKind::Family => {
                make_room(&mut g, now);
                let revoked = Known { tenant: r.tenant_id.clone(), user: None, client: None, live: false, at: now };
                g.grants.insert(r.subject.clone(), revoked);
            }
            RevocationKind::User => {
                g.grants.retain(|_, k| !(k.live && k.tenant == r.tenant_id && k.user.as_ref() == Some(&r.subject)));
                g.generation += 1;
            }
            RevocationKind::Client => {
                g.grants.retain(|_, k| !(k.live && k.tenant == r.tenant_id && k.client.as_ref() == Some(&r.subject)));
                g.generation += 1;
            }
        }
        true
    }

    /// Records a feed read that succeeded and began at `started`, having asked for entries from `since`
    /// (seconds) on: older entries will not be seen again, so their ids can be forgotten.
    pub fn mark_fresh(&self, started: Instant, since: i64) {
        let mut g = self.lock();
        g.applied.retain(|_, at| *at >= since);
        if g.fresh_as_of.is_none_or(|prev| started > prev) {
            g.fresh_as_of = Some(started);
        }
    }
}

/// Keeps the map under `CAPACITY`: first what has expired, then every live entry, then everything (a
/// revoked grant forgotten is read again from the database, where it is still revoked).
fn make_room(g: &mut Inner, now: Instant) {
    if g.grants.len() < CAPACITY {
        return;
    }
    g.generation += 1;
    g.grants.retain(|_, k| !k.live || now.saturating_duration_since(k.at) < LIVE_TTL);
    if g.grants.len() >= CAPACITY {
        g.grants.retain(|_, k| !k.live);
    }
    if g.grants.len() >= CAPACITY {
        g.grants.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fam(id: &str, user: &str, revoked: bool) -> RefreshFamily {
        RefreshFamily {
            id: id.into(),
            client_id: "c1".into(),
            user_id: Some(user.into()),
            scopes: vec![],
            auth_time: None,
            created_at: 0,
            revoked_at: revoked.then_some(1),
        }
    }

    fn entry(id: &str, kind: RevocationKind, subject: &str) -> Revocation {
        Revocation { id: id.into(), tenant_id: TenantId::new("t1"), kind, subject: subject.into(), created_at: 100 }
    }

    fn live(user: &str) -> Lookup {
        Lookup::Live { user: Some(user.into()) }
    }

    #[test]
    fn a_live_grant_is_trusted_only_while_the_feed_is_fresh() {
        let v = LiveGrants::new(Duration::from_secs(1));
        let t = TenantId::new("t1");
        let t0 = Instant::now();
        assert_eq!(v.lookup(&t, "f1", t0), Lookup::Unknown(0));
        v.remember(&t, &fam("f1", "u1", false), 0, t0);
        // Never read the feed: not trusted.
        assert_eq!(v.lookup(&t, "f1", t0), Lookup::Unknown(0));
        v.mark_fresh(t0, 0);
        assert_eq!(v.lookup(&t, "f1", t0 + Duration::from_millis(999)), live("u1"));
        // The feed stalled for a whole bound: back to the database.
        assert_eq!(v.lookup(&t, "f1", t0 + Duration::from_secs(1)), Lookup::Unknown(0));
        // And after the backstop, even a fresh feed does not keep it.
        v.mark_fresh(t0 + LIVE_TTL, 0);
        assert_eq!(v.lookup(&t, "f1", t0 + LIVE_TTL), Lookup::Unknown(0));
    }

    #[test]
    fn another_tenant_never_sees_the_entry() {
        let v = LiveGrants::new(Duration::from_secs(1));
        let t0 = Instant::now();
        v.mark_fresh(t0, 0);
        v.remember(&TenantId::new("t1"), &fam("f1", "u1", false), 0, t0);
        assert_eq!(v.lookup(&TenantId::new("t2"), "f1", t0), Lookup::Unknown(0));
    }

    #[test]
    fn revocations_win_over_reads_that_began_before_them() {
        let v = LiveGrants::new(Duration::from_secs(1));
        let t = TenantId::new("t1");
        let t0 = Instant::now();
        v.mark_fresh(t0, 0);
        // A read of f1 begins; the feed revokes f1; the read (which saw it live) ends.
        let Lookup::Unknown(g) = v.lookup(&t, "f1", t0) else { panic!("unknown") };
        assert!(v.apply(&entry("e1", RevocationKind::Family, "f1"), t0));
        v.remember(&t, &fam("f1", "u1", false), g, t0);
        assert_eq!(v.lookup(&t, "f1", t0), Lookup::Revoked);
        // A read of f2 begins; the feed ends user u1; the read ends.
        let Lookup::Unknown(g) = v.lookup(&t, "f2", t0) else { panic!("unknown") };
        assert!(v.apply(&entry("e2", RevocationKind::User, "u1"), t0));
        v.remember(&t, &fam("f2", "u1", false), g, t0);
        assert!(matches!(v.lookup(&t, "f2", t0), Lookup::Unknown(_)));
    }

    #[test]
    fn user_and_client_entries_drop_what_was_known() {
        let v = LiveGrants::new(Duration::from_secs(1));
        let t = TenantId::new("t1");
        let t0 = Instant::now();
        v.mark_fresh(t0, 0);
        for (f, u) in [("f1", "u1"), ("f2", "u2"), ("f3", "u1")] {
            let Lookup::Unknown(g) = v.lookup(&t, f, t0) else { panic!("unknown") };
            v.remember(&t, &fam(f, u, false), g, t0);
        }
        assert!(v.apply(&entry("e1", RevocationKind::User, "u1"), t0));
        assert!(matches!(v.lookup(&t, "f1", t0), Lookup::Unknown(_)));
        assert!(matches!(v.lookup(&t, "f3", t0), Lookup::Unknown(_)));
        assert_eq!(v.lookup(&t, "f2", t0), live("u2"));
        // Applied once, however often the overlapping feed reads return it.
        assert!(!v.apply(&entry("e1", RevocationKind::User, "u1"), t0));
        assert!(v.apply(&entry("e2", RevocationKind::Client, "c1"), t0));
        assert!(matches!(v.lookup(&t, "f2", t0), Lookup::Unknown(_)));
    }

    #[test]
    fn the_view_stays_bounded() {
        let v = LiveGrants::new(Duration::from_secs(1));
        let t = TenantId::new("t1");
        let t0 = Instant::now();
        for i in 0..CAPACITY + 10 {
            let generation = v.lock().generation;
            v.remember(&t, &fam(&format!("f{i}"), "u", false), generation, t0);
        }
        assert!(v.lock().grants.len() <= CAPACITY);
        v.remember(&t, &fam("revoked", "u", true), 0, t0);
        assert_eq!(v.lookup(&t, "revoked", t0), Lookup::Revoked);
    }
}
