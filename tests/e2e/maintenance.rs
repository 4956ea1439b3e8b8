//! Scheduled upkeep: signing keys rotate on a timer with overlap (the next key is published before it
//! signs, the old one stays published after), and refresh tokens that can no longer be redeemed are
//! pruned.
use latchkey_core::client_auth::ClientAuthMethod;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;
use std::time::{Duration, Instant};

use crate::helpers::*;

async fn jwks_kids(app: &TestApp, slug: &str) -> Vec<String> {
    let jwks: Value = server_client()
        .get(app.url(&format!("/t/{slug}/.well-known/jwks.json")))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    jwks["keys"].as_array().expect("keys").iter().map(|k| k["kid"].as_str().expect("kid").to_owned()).collect()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).expect("JWS header").kid.expect("kid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_rotate_on_schedule_with_overlap() {
    // A compressed schedule: the next key is published 4 s before it signs, keys sign for 8 s.
    let app = TestApp::spawn_with(Backend::Embedded, |c| {
        c.maintenance_interval_secs = 1;
        c.signing_key_rotation_secs = 8;
        c.signing_key_publish_ahead_secs = 4;
    })
    .await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let tokens = linked_tokens(&app, &f).await;
    let first_token = tokens["access_token"].as_str().expect("at").to_owned();
    let k1 = kid_of(&first_token);
    // A current key of each algorithm; the rotation brings a next key of each.
    let initial = jwks_kids(&app, &f.slug).await;
    assert_eq!(initial.len(), 3, "{initial:?}");
    let mut rt = tokens["refresh_token"].as_str().expect("rt").to_owned();

    let started = Instant::now();
    let mut published_before_signing = None;
    let k2 = loop {
        assert!(started.elapsed() < Duration::from_secs(40), "no scheduled rotation happened");
        let kids = jwks_kids(&app, &f.slug).await;
        let body = json_ok(refresh(&app, &f, &rt).await).await;
        rt = body["refresh_token"].as_str().expect("rt").to_owned();
        let signer = kid_of(body["access_token"].as_str().expect("at"));
        assert!(kids.contains(&signer), "a token is only signed with a published key");
        if signer == k1 {
            let next: Vec<String> = kids.iter().filter(|k| !initial.contains(k)).cloned().collect();
            if !next.is_empty() {
                published_before_signing = Some(next);
            }
        } else {
            break signer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let next = published_before_signing.expect("the next keys were published before they signed");
    assert_eq!(next.len(), 3, "a next key of each algorithm: {next:?}");
    assert!(next.contains(&k2), "the new key was in the JWKS while the old one still signed");
    // The old keys stay published: tokens they signed still verify.
    let kids = jwks_kids(&app, &f.slug).await;
    assert!(initial.iter().chain(&next).all(|k| kids.contains(k)), "{kids:?}");
    assert_eq!(kids.len(), 6, "{kids:?}");
    assert_eq!(introspect(&app, &f, &first_token).await["active"], true);
    let tid = app.auth.tenant_for_admin(&f.slug).await.expect("t").id().clone();
    let audit = app.store.scoped(&tid);
    let events = audit.audit_events(Some("keys.rotated"), 10).await.expect("audit");
    assert!(
        events.iter().any(|e| e.target.as_deref().is_some_and(|t| t.contains(&k2))),
        "the rotation is audited: {events:?}"
    );
    app.cleanup().await;
}

/// Scheduled rotation keeps the tenant's algorithm: next keys of every algorithm are published, and
/// changing the algorithm meanwhile leaves them published; promoting them later keeps the new algorithm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rotation_keeps_the_algorithm() {
    use latchkey_oauth::keys::SigningAlg;
    let app = TestApp::spawn_with(Backend::Embedded, |c| {
        c.maintenance_interval_secs = 1;
        c.signing_key_rotation_secs = 4;
        c.signing_key_publish_ahead_secs = 3;
    })
    .await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let es = app.auth.rotate_signing_key(&t, Some(SigningAlg::ES256)).await.expect("rotate");
    let started = Instant::now();
    let wait_for = |what: &'static str| {
        assert!(started.elapsed() < Duration::from_secs(40), "{what} never happened");
    };
    // The schedule publishes a next key of every algorithm.
    let next = loop {
        wait_for("publishing the next keys");
        let keys = app.auth.signing_keys(&t).await.expect("keys");
        let next: Vec<_> = keys.into_iter().filter(|k| k.state == "next").collect();
        if !next.is_empty() {
            break next;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut algs: Vec<&str> = next.iter().map(|k| k.alg.as_str()).collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "EdDSA", "RS256"]);
    assert!(next.iter().all(|k| !k.signs_access_tokens));
    // Moving to EdDSA leaves the pending keys published: they are keys of every algorithm.
    let ed = app.auth.rotate_signing_key(&t, Some(SigningAlg::EdDSA)).await.expect("rotate");
    let keys = app.auth.signing_keys(&t).await.expect("keys");
    assert!(next.iter().all(|n| keys.iter().any(|k| k.kid == n.kid && k.state == "next")), "{keys:?}");
    assert!(keys.iter().any(|k| k.kid == es.kid && k.state == "previous"), "{keys:?}");
    // The promoted EdDSA key signs access tokens from then on.
    let promoted = loop {
        wait_for("the scheduled promotion");
        let keys = app.auth.signing_keys(&t).await.expect("keys");
        let signer = keys.iter().find(|k| k.signs_access_tokens).expect("a key signs access tokens");
        assert_eq!(signer.alg, "EdDSA", "{keys:?}");
        if signer.kid != ed.kid {
            break signer.clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(next.iter().any(|n| n.kid == promoted.kid), "the promoted key is one the schedule published");
    let tokens = linked_tokens(&app, &f).await;
    assert_eq!(kid_of(tokens["access_token"].as_str().expect("at")), promoted.kid);
    app.cleanup().await;
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let url = match &app.pg_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}?mode=rw", app.data_dir.join("latchkey.db").display()),
    };
    let db = sea_orm::Database::connect(&url).await.expect("db");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .expect("query")
        .expect("row");
    row.try_get_by_index::<i64>(0).expect("count")
}

async fn pruning_keeps_what_can_still_be_used(backend: Backend) {
    // No timer: this test runs the rounds itself.
    let app = TestApp::spawn_with(backend, |c| c.maintenance_interval_secs = 0).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let tenant = app.auth.tenant_for_admin(&f.slug).await.expect("t").id().clone();
    let scoped = app.store.scoped(&tenant);

    // A link refreshed three times: four token rows, three of them used.
    let tokens = linked_tokens(&app, &f).await;
    let mut rt = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let first = rt.clone();
    for _ in 0..3 {
        rt = json_ok(refresh(&app, &f, &rt).await).await["refresh_token"].as_str().expect("rt").to_owned();
    }
    // A second link, revoked.
    let other = linked_tokens(&app, &f).await;
    let revoked_rt = other["refresh_token"].as_str().expect("rt").to_owned();
    assert_eq!(revoke(&app, &f, &revoked_rt).await.status(), 200);
    let tid = tenant.as_str();
    let rows = |extra: &str| format!("SELECT COUNT(*) FROM refresh_tokens WHERE tenant_id = '{tid}' {extra}");
    assert_eq!(count(&app, &rows("")).await, 5);

    // Nothing is old enough yet under the real retention.
    let report = scoped.prune_refresh_tokens(latchkey_store::now() - 8 * 86_400).await.expect("prune");
    assert_eq!(report, latchkey_store::repo::PruneReport::default());

    // Everything ended before the cutoff goes: the three used tokens and the revoked grant.
    let report = scoped.prune_refresh_tokens(latchkey_store::now() + 1).await.expect("prune");
    assert_eq!(report.refresh_tokens, 4, "{report:?}");
    assert_eq!(report.families, 1, "{report:?}");
    assert_eq!(count(&app, &rows("")).await, 1);
    // The live token still works; a pruned one is simply unknown now.
    json_ok(refresh(&app, &f, &rt).await).await;
    json_err(refresh(&app, &f, &first).await, 400, "invalid_grant").await;
    json_err(refresh(&app, &f, &revoked_rt).await, 400, "invalid_grant").await;
    // The service's own round never prunes inside the floor, whatever it is configured to.
    let policy = latchkey_oauth::maintenance::MaintenancePolicy {
        key_rotation: None,
        refresh_retention: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = count(&app, &rows("")).await;
    let report = app.auth.run_maintenance(&policy, Duration::from_secs(1)).await.expect("lock is free");
    assert_eq!(report.refresh_tokens_pruned, 0, "{report:?}");
    assert_eq!(count(&app, &rows("")).await, before);
    // Audit events older than their retention go; this tenant's newer ones and other tenants' stay.
    let audit = |extra: &str| format!("SELECT COUNT(*) FROM audit_events WHERE tenant_id = '{tid}' {extra}");
    let total = count(&app, &audit("")).await;
    assert!(total > 0);
    let other = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let other_tid = app.auth.tenant_for_admin(&other.slug).await.expect("t").id().clone();
    scoped.audit("test", "old.event", None, serde_json::json!({}), None).await.expect("audit");
    app.store.scoped(&other_tid).audit("test", "old.event", None, serde_json::json!({}), None).await.expect("audit");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(scoped.prune_audit(latchkey_store::now()).await.expect("prune"), total as u64 + 1);
    assert_eq!(count(&app, &audit("")).await, 0);
    let others = format!("SELECT COUNT(*) FROM audit_events WHERE tenant_id = '{}'", other_tid.as_str());
    assert!(count(&app, &others).await > 0, "another tenant's events are untouched");
    let policy = latchkey_oauth::maintenance::MaintenancePolicy {
        key_rotation: None,
        refresh_retention: None,
        audit_retention: Some(Duration::from_secs(3600)),
        ..Default::default()
    };
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let report = app.auth.run_maintenance(&policy, Duration::from_secs(1)).await.expect("lock is free");
    assert_eq!(report.audit_events_pruned, 0, "nothing is an hour old: {report:?}");

    // The installation's own events (operators) and a deleted tenant's are pruned by the same
    // retention: no tenant's pruning reaches them.
    let global = "SELECT COUNT(*) FROM audit_events WHERE tenant_id IS NULL OR tenant_id = 'deleted-tenant'";
    app.store.audit_global("test", "old.global", None, serde_json::json!({})).await.expect("audit");
    let deleted = latchkey_core::TenantId::new("deleted-tenant");
    app.store.scoped(&deleted).audit("test", "old.event", None, serde_json::json!({}), None).await.expect("audit");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    app.store.audit_global("test", "new.global", None, serde_json::json!({})).await.expect("audit");
    let policy = latchkey_oauth::maintenance::MaintenancePolicy {
        key_rotation: None,
        refresh_retention: None,
        audit_retention: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    app.auth.run_maintenance(&policy, Duration::from_secs(1)).await.expect("lock is free");
    assert_eq!(count(&app, global).await, 1, "only the fresh installation event is left");
    app.cleanup().await;
}

on_both_backends!(pruning_keeps_what_can_still_be_used);
