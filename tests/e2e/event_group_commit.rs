//! Accepted Alexa events are committed in groups and delivered in claimed batches: events arriving
//! together are each stored and delivered once; one event that cannot be stored does not refuse the
//! others sharing its commit; a batch reads each grant once and still notices one that ended.
use latchkey_core::alexa::AlexaRegion;
use latchkey_store::records::{AmazonGrant, LinkedAccount};
use latchkey_store::repo::{NewDelivery, NewEvent};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::alexa::{AlexaWorld, change_report, json_ok_status, world};
use crate::helpers::*;

fn report(n: usize) -> Value {
    let mut r = change_report();
    r["header"]["messageId"] = json!(format!("together-{n}"));
    r
}

/// The user's link and its one Alexa grant.
async fn the_grant(w: &AlexaWorld) -> (LinkedAccount, AmazonGrant) {
    let t = w.app.auth.tenant_for_admin(&w.f.slug).await.expect("tenant");
    let scoped = w.app.store.scoped(t.id());
    let link = scoped.list_links(Some(&w.f.user_id)).await.expect("links").remove(0);
    let grant = scoped.amazon_grants(&link.id).await.expect("grants").remove(0);
    (link, grant)
}

/// Waits until every delivery of `ids` is settled; returns their rows.
async fn settled(w: &AlexaWorld, ids: &[String]) -> Vec<latchkey_store::repo::Delivery> {
    let t = w.app.auth.tenant_for_admin(&w.f.slug).await.expect("tenant");
    for _ in 0..200 {
        let mut rows = Vec::new();
        for id in ids {
            rows.extend(w.app.store.scoped(t.id()).event_deliveries(id).await.expect("rows"));
        }
        if rows.len() >= ids.len() && rows.iter().all(|r| r.status != "pending") {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("events still pending");
}

on_both_backends!(events_accepted_together_are_each_stored_and_delivered_once);

async fn events_accepted_together_are_each_stored_and_delivered_once(backend: Backend) {
    let w = world(backend, &[AlexaRegion::NA]).await;
    w.link_and_accept().await;
    let before = w.amazon.gateway_state(|g| g.received.len());
    let total = 150;
    let sends = (0..total).map(|n| {
        let body = json!({"user": w.f.user_id, "skill": w.alexa_skill_id, "event": report(n)});
        let w = &w;
        async move { json_ok_status(w.post("events", &body).await, 202).await }
    });
    let answers = futures::future::join_all(sends).await;
    let ids: Vec<String> = answers.iter().map(|a| a["id"].as_str().expect("id").to_owned()).collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), total, "one id per accepted event");

    let rows = settled(&w, &ids).await;
    assert_eq!(rows.len(), total, "one row per event and destination");
    assert!(rows.iter().all(|r| r.status == "delivered" && r.attempts == 1), "delivered at the first attempt");
    let mut seen: HashMap<String, usize> = HashMap::new();
    w.amazon.gateway_state(|g| {
        for (_, _, body) in &g.received[before..] {
            *seen.entry(body["event"]["header"]["messageId"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
        }
    });
    assert_eq!(seen.len(), total, "every event reached the gateway");
    assert!(seen.values().all(|n| *n == 1), "none twice: {seen:?}");
    w.app.cleanup().await;
}

on_both_backends!(one_event_that_cannot_be_stored_does_not_refuse_the_others);

/// Store level: the grant of one event vanished between reading the destinations and writing (the
/// database refuses its row). Events sharing its group commit are still stored; it alone is refused.
async fn one_event_that_cannot_be_stored_does_not_refuse_the_others(backend: Backend) {
    let w = world(backend, &[AlexaRegion::NA]).await;
    w.link_and_accept().await;
    let t = w.app.auth.tenant_for_admin(&w.f.slug).await.expect("tenant");
    let scoped = w.app.store.scoped(t.id());
    let skill = scoped.skill(&w.alexa_skill_id).await.expect("skill").expect("skill");
    let (_, grant) = the_grant(&w).await;
    let payload = json!({"event": change_report()}).to_string();
    let bad = 17;
    let writes = (0..40).map(|n| {
        let grant_id = if n == bad { "a-grant-that-is-gone".to_owned() } else { grant.id.clone() };
        let (skill_id, user, payload) = (&skill.id, &w.f.user_id, &payload);
        async move {
            let event_id = format!("evt-{n}");
            let r = scoped
                .enqueue_event(
                    &event_id,
                    &NewEvent { skill_id, user_id: user, payload, deadline_secs: 3600 },
                    &[NewDelivery { grant_id, region: "NA".into() }],
                )
                .await;
            (event_id, r)
        }
    });
    let results = futures::future::join_all(writes).await;
    for (n, (event_id, r)) in results.iter().enumerate() {
        let stored = scoped.event_deliveries(event_id).await.expect("rows");
        if n == bad {
            assert!(r.is_err(), "the event whose grant is gone is refused");
            assert!(stored.is_empty(), "and nothing of it is stored");
        } else {
            assert!(r.is_ok(), "event {n}: {r:?}");
            assert_eq!(stored.len(), 1, "event {n} is stored");
        }
    }
    w.app.cleanup().await;
}

on_both_backends!(a_grant_that_ends_before_its_retry_fails_the_event);

/// The first attempt meets Amazon's 503; before the retry the Alexa account is unlinked. The retry
/// reads the grant again, finds it ended, and fails the event with that reason instead of sending.
async fn a_grant_that_ends_before_its_retry_fails_the_event(backend: Backend) {
    let w = world(backend, &[AlexaRegion::NA]).await;
    w.link_and_accept().await;
    let t = w.app.auth.tenant_for_admin(&w.f.slug).await.expect("tenant");
    let scoped = w.app.store.scoped(t.id());
    let (link, grant) = the_grant(&w).await;
    w.amazon.gateway_state(|g| g.script.push_back((503, "SERVICE_UNAVAILABLE_EXCEPTION")));
    let body = json!({"user": w.f.user_id, "skill": w.alexa_skill_id, "event": change_report()});
    let id = json_ok_status(w.post("events", &body).await, 202).await["id"].as_str().expect("id").to_owned();
    for _ in 0..100 {
        let rows = scoped.event_deliveries(&id).await.expect("rows");
        if rows[0].last_status == Some(503) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = w.amazon.gateway_state(|g| g.received.len());
    let resp = server_client()
        .post(w.app.url(&format!("/t/{}/api/v1/links/{}/alexa-grants/{}/revoke", w.f.slug, link.id, grant.id)))
        .bearer_auth(&w.api_key)
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status(), StatusCode::OK);
    let rows = settled(&w, std::slice::from_ref(&id)).await;
    assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("failed", 2), "{:?}", rows[0]);
    assert!(rows[0].outcome.as_deref().is_some_and(|o| o.contains("ended")), "{:?}", rows[0].outcome);
    assert_eq!(w.amazon.gateway_state(|g| g.received.len()), sent, "nothing sent for an ended grant");
    w.app.cleanup().await;
}
