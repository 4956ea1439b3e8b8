//! A flood of events from one tenant is bounded: past its backlog bound its new events are refused
//! with 429 and Retry-After, nothing of them is stored, other tenants are untouched, and events are
//! taken again once deliveries catch up.
use latchkey_core::alexa::AlexaRegion;
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::alexa::{AlexaWorld, accept_grant, alexa_tenant, change_report, json_ok_status, world_with};
use crate::helpers::*;

const CAP: u64 = 3;

async fn post_event(w: &AlexaWorld, slug: &str, key: &str, user: &str, skill: &str) -> reqwest::Response {
    server_client()
        .post(w.app.url(&format!("/t/{slug}/alexa/events")))
        .bearer_auth(key)
        .json(&json!({"user": user, "skill": skill, "event": change_report()}))
        .send()
        .await
        .expect("event")
}

async fn pending(w: &AlexaWorld, slug: &str) -> u64 {
    let t = w.app.auth.tenant_for_admin(slug).await.expect("tenant");
    w.app.store.scoped(t.id()).pending_deliveries().await.expect("count")
}

/// Another tenant of the world's installation whose user linked its skill and whose AcceptGrant ran:
/// the fixture, its API key and the skill's Alexa id.
pub(crate) async fn linked_tenant(w: &AlexaWorld) -> (Fixture, String, String) {
    let (f, key, skill) = alexa_tenant(&w.app, &[AlexaRegion::NA]).await;
    let tokens = linked_tokens(&w.app, &f).await;
    let grant = accept_grant(&w.amazon.issue_code(), tokens["access_token"].as_str().expect("at"));
    let resp = server_client()
        .post(w.app.url(&format!("/t/{}/alexa/directives", f.slug)))
        .bearer_auth(&key)
        .json(&grant)
        .send()
        .await
        .expect("grant");
    assert_eq!(json_ok(resp).await["event"]["header"]["name"], "AcceptGrant.Response");
    (f, key, skill)
}

async fn a_tenants_backlog_is_bounded(backend: Backend) {
    // No instance delivers: every accepted event stays waiting, as behind a gateway outage.
    let w = world_with(backend, &[AlexaRegion::NA], |c| {
        c.alexa_outbox_worker = "off".into();
        c.alexa_pending_events_per_tenant = CAP;
    })
    .await;
    w.link_and_accept().await;
    let (a, key_a, skill_a) = (w.f.slug.clone(), w.api_key.clone(), w.alexa_skill_id.clone());
    for _ in 0..CAP {
        json_ok_status(post_event(&w, &a, &key_a, &w.f.user_id, &skill_a).await, 202).await;
    }
    let refused = post_event(&w, &a, &key_a, &w.f.user_id, &skill_a).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "5");
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("at most 3 may wait")), "{body}");
    assert_eq!(pending(&w, &a).await, CAP, "nothing of the refused event was stored");
    // A batch is refused item by item, with the same answer.
    let batch = json!({"events": [{"user": w.f.user_id, "skill": skill_a, "event": change_report()}]});
    let resp = server_client()
        .post(w.app.url(&format!("/t/{a}/alexa/events/batch")))
        .bearer_auth(&key_a)
        .json(&batch)
        .send()
        .await
        .expect("batch");
    let out: Value = resp.json().await.expect("json");
    assert_eq!(out["results"][0]["http_status"], 429, "{out}");
    assert_eq!(pending(&w, &a).await, CAP);
    // The synchronous relay stores nothing, so the backlog does not hold it back.
    let resp =
        w.post("events?wait=true", &json!({"user": w.f.user_id, "skill": skill_a, "event": change_report()})).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);

    // Another tenant of the same installation is not held back by this one's backlog.
    let (b, key_b, skill_b) = linked_tenant(&w).await;
    json_ok_status(post_event(&w, &b.slug, &key_b, &b.user_id, &skill_b).await, 202).await;

    // A flood from a third tenant, all at once and before any count exists: the bound still holds,
    // and every event answered 202 is stored.
    let (c, key_c, skill_c) = linked_tenant(&w).await;
    let flood = (0..40).map(|_| post_event(&w, &c.slug, &key_c, &c.user_id, &skill_c));
    let statuses: Vec<StatusCode> = futures::future::join_all(flood).await.iter().map(|r| r.status()).collect();
    let accepted = statuses.iter().filter(|s| **s == StatusCode::ACCEPTED).count() as u64;
    assert!(statuses.iter().all(|s| *s == StatusCode::ACCEPTED || *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert_eq!((accepted, pending(&w, &c.slug).await), (CAP, CAP), "{statuses:?}");

    // Once the backlog is delivered, the tenant's events are taken again (after the one-second recount).
    let db = w.app.raw_db().await;
    db.execute_unprepared("UPDATE alexa_deliveries SET status = 'delivered' WHERE status = 'pending'")
        .await
        .expect("delivered");
    drop(db);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    json_ok_status(post_event(&w, &a, &key_a, &w.f.user_id, &skill_a).await, 202).await;
    assert_eq!(pending(&w, &a).await, 1);
    w.app.cleanup().await;
}

on_both_backends!(a_tenants_backlog_is_bounded);

/// What this instance has counted so far, from its metrics.
async fn backlog_counts(w: &AlexaWorld) -> u64 {
    let text = server_client().get(w.app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("latchkey_alexa_backlog_counts_total "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no backlog count in the metrics:\n{text}"))
}

/// Under a steady stream of concurrent events, the instance counts the tenant's backlog about once a
/// second, not once per request that finds its count a second old: the requests arriving while one
/// counts decide on the count they have. The tenant's first events on the instance arrive together,
/// as they do after a restart under load: one of them counts, the others wait for its count.
async fn the_backlog_is_counted_once_a_second_under_load(backend: Backend) {
    let w = world_with(backend, &[AlexaRegion::NA], |c| {
        c.alexa_outbox_worker = "off".into();
        c.alexa_pending_events_per_tenant = 1_000_000;
        // The key's request rate is not what this test bounds.
        c.api_rate_per_key = 0;
    })
    .await;
    w.link_and_accept().await;
    let (slug, key, user, skill) = (&w.f.slug, &w.api_key, &w.f.user_id, &w.alexa_skill_id);
    assert_eq!(backlog_counts(&w).await, 0, "nothing counted before the first event");
    let started = std::time::Instant::now();
    let mut accepted = 0u64;
    let first = (0..32).map(|_| post_event(&w, slug, key, user, skill));
    for r in futures::future::join_all(first).await {
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        accepted += 1;
    }
    let first_counts = backlog_counts(&w).await;
    let took = started.elapsed().as_secs();
    assert!(first_counts <= took + 1, "{first_counts} counts for the tenant's first 32 events, in {took} s");
    // Waves of 32 events at once for a little over two seconds: every wave after a second finds the
    // count stale, and all 32 of its requests are in flight together.
    while started.elapsed() < std::time::Duration::from_millis(2300) {
        let wave = (0..32).map(|_| post_event(&w, slug, key, user, skill));
        for r in futures::future::join_all(wave).await {
            assert_eq!(r.status(), StatusCode::ACCEPTED);
            accepted += 1;
        }
    }
    let elapsed = started.elapsed().as_secs();
    let counted = backlog_counts(&w).await;
    // At most one count in flight, and one more only when the last is a second old.
    assert!(counted <= elapsed + 1, "{counted} counts in {elapsed} s for {accepted} events");
    assert!(counted >= 1, "the count was renewed at least once in {elapsed} s");
    assert_eq!(pending(&w, slug).await, accepted, "every accepted event is stored");
    w.app.cleanup().await;
}

on_both_backends!(the_backlog_is_counted_once_a_second_under_load);
