//! Rotations under concurrency: each keeps its own compare-and-set and its own outcome, whatever else
//! is being rotated at the same moment (on SQLite one transaction each through the single writer, on
//! PostgreSQL one statement each). These hold any batching of rotations to the same semantics.
use std::collections::HashSet;

use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_core::hashing::secret_hash;
use latchkey_core::ids::TenantId;
use latchkey_store::records::RefreshTokenRecord;
use latchkey_store::repo::{FirstUse, RefreshOutcome, RotateRequest, Scoped};

use crate::helpers::*;

on_both_backends!(
    simultaneous_refreshes_each_rotate_once,
    a_rotation_that_cannot_be_stored_does_not_fail_the_others,
    first_uses_compete_and_grace_retries_do_not,
    abandoned_rotations_are_all_or_nothing_and_leave_no_transaction_open
);

/// Eight grants, each refreshed twice at the same moment (Alexa retrying a refresh whose answer it
/// lost), all sixteen requests together: every answer is a new, working token, and each presented
/// token was rotated away (used) exactly once.
async fn simultaneous_refreshes_each_rotate_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let mut presented = Vec::new();
    for _ in 0..8 {
        presented.push(linked_tokens(&app, &f).await["refresh_token"].as_str().expect("rt").to_owned());
    }
    let answers =
        futures::future::join_all(presented.iter().flat_map(|rt| [rt, rt]).map(|rt| refresh(&app, &f, rt))).await;
    let mut children = Vec::new();
    for answer in answers {
        children.push(json_ok(answer).await["refresh_token"].as_str().expect("child").to_owned());
    }
    assert_eq!(children.iter().collect::<HashSet<_>>().len(), 16, "sixteen distinct new tokens");
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let scoped = app.store.scoped(t.id());
    for rt in &presented {
        let row = scoped.refresh_token_by_hash(&secret_hash(rt)).await.expect("read").expect("row");
        assert!(row.used_at.is_some(), "the presented token is used");
    }
    for child in &children {
        let row = scoped.refresh_token_by_hash(&secret_hash(child)).await.expect("read").expect("stored");
        assert!(row.used_at.is_none(), "a new token is unused");
        json_ok(refresh(&app, &f, child).await).await;
    }
    app.cleanup().await;
}

/// Store level: forty rotations at once, one of which names a grant that is gone (the database refuses
/// its child). It alone fails, and its parent stays unused; the others are issued.
async fn a_rotation_that_cannot_be_stored_does_not_fail_the_others(backend: Backend) {
    let (app, f, tenant, client) = store_rig(backend).await;
    let scoped = app.store.scoped(&tenant);
    let mut parents = Vec::new();
    for n in 0..40 {
        let hash = secret_hash(&format!("parent-{n}"));
        let mut parent = new_grant(scoped, &client, &f.user_id, &hash).await;
        if n == 17 {
            parent.family.id = "a-grant-that-is-gone".into();
        }
        parents.push((hash, parent));
    }
    let rotations = parents
        .iter()
        .enumerate()
        .map(|(n, (_, parent))| scoped.rotate_refresh_token(rotation_of(parent, &format!("child-{n}"), true)));
    let outcomes = futures::future::join_all(rotations).await;
    for (n, ((hash, _), outcome)) in parents.iter().zip(outcomes).enumerate() {
        let parent = scoped.refresh_token_by_hash(hash).await.expect("read").expect("parent");
        let child = scoped.refresh_token_by_hash(&secret_hash(&format!("child-{n}"))).await.expect("read");
        if n == 17 {
            assert!(outcome.is_err(), "the rotation into a missing grant fails: {outcome:?}");
            assert!(parent.used_at.is_none() && child.is_none(), "and nothing of it is kept");
        } else {
            assert_eq!(outcome.expect("rotation"), RefreshOutcome::Issued, "rotation {n}");
            assert!(parent.used_at.is_some() && child.is_some(), "rotation {n} is stored");
        }
    }
    app.cleanup().await;
}

/// Store level: of four first uses of one token at once, exactly one is issued and the others lose the
/// race (the grant decides again, as a retry); four retries inside the grace window at once each get a
/// child.
async fn first_uses_compete_and_grace_retries_do_not(backend: Backend) {
    let (app, f, tenant, client) = store_rig(backend).await;
    let scoped = app.store.scoped(&tenant);
    let parent = new_grant(scoped, &client, &f.user_id, &secret_hash("the parent")).await;
    for first_use in [true, false] {
        let rotations = (0..4)
            .map(|n| scoped.rotate_refresh_token(rotation_of(&parent, &format!("child-{first_use}-{n}"), first_use)));
        let outcomes: Vec<RefreshOutcome> =
            futures::future::join_all(rotations).await.into_iter().map(|o| o.expect("rotation")).collect();
        let issued = outcomes.iter().filter(|o| **o == RefreshOutcome::Issued).count();
        let stored = futures::future::join_all((0..4).map(|n| async move {
            scoped.refresh_token_by_hash(&secret_hash(&format!("child-{first_use}-{n}"))).await
        }))
        .await
        .into_iter()
        .filter(|r| r.as_ref().is_ok_and(Option::is_some))
        .count();
        let want = if first_use { 1 } else { 4 };
        assert_eq!((issued, stored), (want, want), "first use: {first_use}, {outcomes:?}");
    }
    app.cleanup().await;
}

/// Store level: rotations abandoned part-way (the caller's future dropped, as when a request is
/// cancelled while the database runs its rotation) are each all or nothing, and leave no
/// transaction open on the writer: the writes after them (new grants, a rotation) succeed and are
/// committed, so a reader sees them. Both rotations are abandoned so: by the parent's id (the general
/// path) and by the token's hash on its first use (first_use.rs).
async fn abandoned_rotations_are_all_or_nothing_and_leave_no_transaction_open(backend: Backend) {
    use std::future::Future;
    let (app, f, tenant, client) = store_rig(backend).await;
    let scoped = app.store.scoped(&tenant);
    for n in 0..480u64 {
        let hash = secret_hash(&format!("abandoned-{n}"));
        let parent = new_grant(scoped, &client, &f.user_id, &hash).await;
        let child_hash = secret_hash(&format!("abandoned-child-{n}"));
        let rotation: std::pin::Pin<Box<dyn Future<Output = ()> + '_>> = if n % 2 == 0 {
            let request = RotateRequest { parent: &parent, child_hash, child_expires_at: None, first_use: true };
            Box::pin(async move { drop(scoped.rotate_refresh_token(request).await) })
        } else {
            let request = FirstUse { token_hash: &hash, client_row_id: &client, child_hash, child_expires_at: None };
            Box::pin(async move { drop(scoped.rotate_on_first_use(request).await) })
        };
        // Polled up to three times with a pause after each (the database's thread runs meanwhile; the
        // pauses step from 0 to 20 µs by 0.25 µs, three times over for each rotation), then dropped:
        // before the batch is sent, while it runs (the case that matters), or after it finished.
        // Without the rollback on drop, this failed in five runs out of five.
        let mut rotation = rotation;
        let mut cx = std::task::Context::from_waker(futures::task::noop_waker_ref());
        for _ in 0..3 {
            if rotation.as_mut().poll(&mut cx).is_ready() {
                break;
            }
            let until = std::time::Instant::now() + std::time::Duration::from_nanos(250 * (n / 2 % 80));
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
        }
        drop(rotation);
    }
    let last = new_grant(scoped, &client, &f.user_id, &secret_hash("after them")).await;
    let rotation = scoped.rotate_refresh_token(rotation_of(&last, "after them, the child", true));
    assert_eq!(rotation.await.expect("rotation"), RefreshOutcome::Issued);
    let child = secret_hash("after them, the child");
    assert!(scoped.refresh_token_by_hash(&child).await.expect("read").is_some(), "committed: a reader sees it");
    for n in 0..480 {
        let parent = scoped.refresh_token_by_hash(&secret_hash(&format!("abandoned-{n}"))).await.expect("read");
        let child = scoped.refresh_token_by_hash(&secret_hash(&format!("abandoned-child-{n}"))).await.expect("read");
        let used = parent.expect("the parent is kept").used_at.is_some();
        assert_eq!(used, child.is_some(), "abandoned rotation {n} is all or nothing");
    }
    app.cleanup().await;
}

/// What the store-level tests rotate under: the app, its fixture, the fixture's tenant and the row id of
/// its skill's client.
pub(crate) async fn store_rig(backend: Backend) -> (TestApp, Fixture, TenantId, String) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let tenant = app.auth.tenant_for_admin(&f.slug).await.expect("tenant").id().clone();
    let client = app.store.scoped(&tenant).client(&f.skill.client_id).await.expect("read").expect("client").id;
    (app, f, tenant, client)
}

/// A rotation of `parent` into a child whose secret is `child` (hashed as the grant stores it).
fn rotation_of<'a>(parent: &'a RefreshTokenRecord, child: &str, first_use: bool) -> RotateRequest<'a> {
    RotateRequest { parent, child_hash: secret_hash(child), child_expires_at: None, first_use }
}

/// A new grant of `user` to the client with row id `client`, whose first refresh token has `hash`.
async fn new_grant(scoped: Scoped<'_>, client: &str, user: &str, hash: &str) -> RefreshTokenRecord {
    let family = latchkey_store::new_id();
    scoped.start_family(&family, client, Some(user), &["profile".into()], None, hash, None).await.expect("family");
    scoped.refresh_token_by_hash(hash).await.expect("read").expect("its first token")
}
