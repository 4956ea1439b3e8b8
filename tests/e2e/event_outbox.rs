//! Durable Alexa events across processes: events accepted by an instance that is then killed are
//! delivered by the next one exactly as accepted, and several instances on one PostgreSQL deliver
//! every event once. The instances are real `latchkey serve` processes; Amazon is the local fake.
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

use crate::cli::latchkey;
use crate::crash::{Rig, SLUG};
use crate::fakes::{self, FakeAmazon, LWA_CLIENT_ID, LWA_CLIENT_SECRET};
use crate::helpers::*;
use crate::scale::{free_port, start_logging_to};

/// A rig whose skill has messaging credentials, a user who linked it and sent AcceptGrant through
/// `inst`, and the skill backend's API key; returns (rig, user id, API key).
async fn linked_rig(backend: Backend, amazon: &FakeAmazon, gateway: &str, lease_secs: u64) -> (Rig, String, String) {
    let rig = Rig::new_with(
        backend,
        vec![
            ("LATCHKEY_ALEXA_EVENT_LEASE_SECS", lease_secs.to_string()),
            ("LATCHKEY_LWA_TOKEN_URL", amazon.regional_lwa_url()),
            ("LATCHKEY_ALEXA_EVENT_GATEWAY_URL", gateway.to_owned()),
        ],
        &["--lwa-client-id", LWA_CLIENT_ID, "--lwa-client-secret", LWA_CLIENT_SECRET],
    )
    .await;
    let env: Vec<(&str, &str)> = rig.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, out, err) = latchkey(&env, &["apikey", "create", "--tenant", SLUG, "--name", "lambda", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let key = serde_json::from_str::<Value>(out.trim()).expect("json")["key"].as_str().expect("key").to_owned();
    let (code, out, err) =
        latchkey(&env, &["user", "show", "--tenant", SLUG, "--user", "u@example.com", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(out.trim()).expect("json");
    let user = shown["id"].as_str().or(shown["user"]["id"].as_str()).expect("user id").to_owned();
    (rig, user, key)
}

async fn accept_grant(rig: &Rig, amazon: &FakeAmazon, key: &str) {
    let code = rig.code().await;
    let tokens: Value = rig.exchange(&code).await.expect("exchange").json().await.expect("json");
    let directive = crate::alexa::accept_grant(&amazon.issue_code(), tokens["access_token"].as_str().expect("at"));
    let answer = json_ok(
        server_client()
            .post(format!("{}/t/{SLUG}/alexa/directives", rig.public))
            .bearer_auth(key)
            .json(&directive)
            .send()
            .await
            .expect("directive"),
    )
    .await;
    assert_eq!(answer["event"]["header"]["name"], "AcceptGrant.Response", "{answer}");
}

fn report(n: usize) -> Value {
    json!({
        "header": {"namespace": "Alexa", "name": "ChangeReport", "messageId": format!("msg-{n}"), "payloadVersion": "3"},
        "endpoint": {"endpointId": format!("lock-{n}")},
        "payload": {"change": {"cause": {"type": "PHYSICAL_INTERACTION"}, "properties": [
            {"namespace": "Alexa.LockController", "name": "lockState", "value": "LOCKED", "timeOfSample": "2026-12-04T10:00:00Z", "uncertaintyInMilliseconds": 0}]}}
    })
}

async fn post_event(base: &str, key: &str, user: &str, n: usize) {
    let resp = server_client()
        .post(format!("{base}/t/{SLUG}/alexa/events"))
        .bearer_auth(key)
        .json(&json!({"user": user, "skill": "amzn1.ask.skill.crash", "event": report(n)}))
        .send()
        .await
        .expect("event");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
}

/// Waits until the fake gateway accepted `n` events; returns how many times each messageId arrived,
/// with the body it arrived with.
async fn delivered(amazon: &FakeAmazon, n: usize) -> HashMap<String, (usize, Value)> {
    for _ in 0..300 {
        let seen = amazon.gateway_state(|g| {
            let mut seen: HashMap<String, (usize, Value)> = HashMap::new();
            for (_, _, body) in &g.received {
                let id = body["event"]["header"]["messageId"].as_str().unwrap_or_default().to_owned();
                seen.entry(id).or_insert((0, body.clone())).0 += 1;
            }
            seen
        });
        if seen.len() >= n {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the events were not all delivered: {}", amazon.gateway_state(|g| g.received.len()));
}

/// Waits for `total` events at the gateway, then `settle` more for a second delivery to show up, and
/// checks that each arrived once.
async fn each_arrives_once(amazon: &FakeAmazon, total: usize, settle: Duration) {
    delivered(amazon, total).await;
    tokio::time::sleep(settle).await;
    let seen = delivered(amazon, total).await;
    let doubles: Vec<&String> = seen.iter().filter(|(_, (times, _))| *times > 1).map(|(id, _)| id).collect();
    assert!(doubles.is_empty(), "delivered twice: {doubles:?}");
    assert_eq!(amazon.gateway_state(|g| g.received.len()), total);
}

on_both_backends!(pending_events_survive_a_killed_instance);

/// The accepting instance cannot reach the gateway; it is killed with every event pending. The next
/// instance delivers each one, once, with the body as accepted.
async fn pending_events_survive_a_killed_instance(backend: Backend) {
    let amazon = fakes::start().await;
    // A port nothing listens on: every attempt fails to connect and is rescheduled.
    let dead = format!("http://127.0.0.1:{}/{{region}}/v3/events", free_port());
    // An event the killed instance held mid-attempt is taken over once its lease has passed.
    let (mut rig, user, key) = linked_rig(backend, &amazon, &dead, 2).await;
    let mut first = rig.start(None).await;
    accept_grant(&rig, &amazon, &key).await;
    for n in 0..20 {
        post_event(&first.base, &key, &user, n).await;
    }
    first.kill();
    let db = rig.db().await;
    let pending = count_rows(&db, "SELECT COUNT(*) AS n FROM alexa_deliveries WHERE status = 'pending'").await;
    assert_eq!(pending, 20, "accepted means stored");

    for (k, v) in rig.env.iter_mut() {
        if *k == "LATCHKEY_ALEXA_EVENT_GATEWAY_URL" {
            *v = amazon.gateway_url();
        }
    }
    let mut second = rig.start(None).await;
    let seen = delivered(&amazon, 20).await;
    for n in 0..20 {
        let (times, body) = seen.get(&format!("msg-{n}")).unwrap_or_else(|| panic!("msg-{n} delivered"));
        assert_eq!(*times, 1, "msg-{n} delivered once");
        let mut expected = report(n);
        expected["endpoint"]["scope"] = body["event"]["endpoint"]["scope"].clone();
        assert_eq!(body["event"], expected, "delivered exactly as accepted, with the token filled in");
    }
    for _ in 0..50 {
        if count_rows(&db, "SELECT COUNT(*) AS n FROM alexa_deliveries WHERE status = 'delivered'").await == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count_rows(&db, "SELECT COUNT(*) AS n FROM alexa_deliveries WHERE status = 'delivered'").await, 20);
    second.terminate();
    db.close().await.expect("close");
    rig.cleanup().await;
}

/// Two instances on one PostgreSQL accept events in turn and both deliver: every event arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_event_once() {
    let amazon = fakes::start().await;
    let (rig, user, key) = linked_rig(Backend::Postgres, &amazon, &amazon.gateway_url(), 60).await;
    let mut a = rig.start(None).await;
    let mut b = start_logging_to(&rig.env, None, free_port()).await;
    accept_grant(&rig, &amazon, &key).await;
    let total = 200;
    let mut sends = Vec::new();
    for n in 0..total {
        let base = if n % 2 == 0 { a.base.clone() } else { b.base.clone() };
        let (key, user) = (key.clone(), user.clone());
        sends.push(tokio::spawn(async move { post_event(&base, &key, &user, n).await }));
    }
    for s in sends {
        s.await.expect("join");
    }
    // A little longer, for any double delivery to show up.
    each_arrives_once(&amazon, total, Duration::from_millis(1500)).await;
    a.terminate();
    b.terminate();
    rig.cleanup().await;
}

/// A gateway slower than the lease (1 s lease, 3.5 s answers), two instances on one PostgreSQL: the
/// worker renews its leases while it waits, so neither instance claims a row again and every event
/// arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_slower_than_the_lease_still_gets_each_event_once() {
    let amazon = fakes::start().await;
    let (rig, user, key) = linked_rig(Backend::Postgres, &amazon, &amazon.gateway_url(), 1).await;
    let mut a = rig.start(None).await;
    let mut b = start_logging_to(&rig.env, None, free_port()).await;
    accept_grant(&rig, &amazon, &key).await;
    amazon.gateway_state(|g| g.delay = Duration::from_millis(3500));
    let total = 20;
    for n in 0..total {
        let base = if n % 2 == 0 { &a.base } else { &b.base };
        post_event(base, &key, &user, n).await;
    }
    // Two more leases' worth, for a second claim to show up.
    each_arrives_once(&amazon, total, Duration::from_millis(2500)).await;
    a.terminate();
    b.terminate();
    rig.cleanup().await;
}

on_both_backends!(an_instance_that_only_accepts_leaves_delivery_to_the_others);

/// `LATCHKEY_ALEXA_OUTBOX_WORKER=off`: the instance stores events and answers 202 but sends nothing;
/// an instance with the worker on, started later on the same database, delivers every one once.
async fn an_instance_that_only_accepts_leaves_delivery_to_the_others(backend: Backend) {
    let amazon = fakes::start().await;
    let (rig, user, key) = linked_rig(backend, &amazon, &amazon.gateway_url(), 60).await;
    let mut accepting_only = rig.env.clone();
    accepting_only.push(("LATCHKEY_ALEXA_OUTBOX_WORKER", "off".into()));
    let mut a = start_logging_to(&accepting_only, None, rig.port).await;
    accept_grant(&rig, &amazon, &key).await;
    for n in 0..10 {
        post_event(&a.base, &key, &user, n).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(amazon.gateway_state(|g| g.received.len()), 0, "the accepting-only instance sent nothing");
    let db = rig.db().await;
    assert_eq!(count_rows(&db, "SELECT COUNT(*) AS n FROM alexa_deliveries WHERE status = 'pending'").await, 10);

    let mut worker = start_logging_to(&rig.env, None, free_port()).await;
    let seen = delivered(&amazon, 10).await;
    assert!(seen.values().all(|(times, _)| *times == 1), "each once");
    // A setting that is neither on nor off stops the process at startup instead of being guessed.
    let mut wrong = rig.env.clone();
    wrong.push(("LATCHKEY_ALEXA_OUTBOX_WORKER", "sometimes".into()));
    let env: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, _, err) = latchkey(&env, &["serve", "--bind", "127.0.0.1:0"], None);
    assert_ne!(code, 0);
    assert!(err.contains("LATCHKEY_ALEXA_OUTBOX_WORKER must be on or off"), "{err}");
    a.terminate();
    worker.terminate();
    db.close().await.expect("close");
    rig.cleanup().await;
}

async fn count_rows(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .expect("count")
        .expect("row");
    row.try_get::<i64>("", "n").expect("n")
}
