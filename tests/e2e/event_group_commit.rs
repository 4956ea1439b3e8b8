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

/// Links the user and accepts the grant; returns what writing events straight to the store takes: the
/// tenant, the skill's row, the user's one grant and an event body.
async fn linked_for_store(
    w: &AlexaWorld,
) -> (latchkey_oauth::access::Access, latchkey_store::records::Skill, AmazonGrant, String) {
    w.link_and_accept().await;
    let t = w.app.auth.tenant_for_admin(&w.f.slug).await.expect("tenant");
    let skill = w.app.store.scoped(t.id()).skill(&w.alexa_skill_id).await.expect("skill").expect("skill");
    let (_, grant) = the_grant(w).await;
    (t, skill, grant, json!({"event": change_report()}).to_string())
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
    let (t, skill, grant, payload) = linked_for_store(&w).await;
    let scoped = w.app.store.scoped(t.id());
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
    // Amazon's Retry-After holds the retry back long enough for the unlinking below to come first
    // (without it the retry is due within a second, and a loaded machine may send it before).
    w.amazon.gateway_state(|g| {
        g.script.push_back((503, "SERVICE_UNAVAILABLE_EXCEPTION"));
        g.retry_after = Some(3);
    });
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

on_both_backends!(a_batch_is_settled_row_by_row_in_one_statement);

/// What a claimed batch came to is written in one statement: each row gets its own settlement (sent,
/// refused, retried later), is addressed with its own tenant (another tenant's id touches nothing), and
/// leaves its lease.
async fn a_batch_is_settled_row_by_row_in_one_statement(backend: Backend) {
    use latchkey_store::repo::Settlement;
    // No worker: this test claims and settles the rows itself.
    let w = crate::alexa::world_with(backend, &[AlexaRegion::NA], |c| c.alexa_outbox_worker = "off".into()).await;
    let (t, skill, grant, payload) = linked_for_store(&w).await;
    let scoped = w.app.store.scoped(t.id());
    let mut ids = Vec::new();
    for n in 0..4 {
        let rows = scoped
            .enqueue_event(
                &format!("settle-{n}"),
                &NewEvent { skill_id: &skill.id, user_id: &w.f.user_id, payload: &payload, deadline_secs: 3600 },
                &[NewDelivery { grant_id: grant.id.clone(), region: "NA".into() }],
            )
            .await
            .expect("stored");
        ids.push(rows[0].id.clone());
    }
    let claimed = w.app.store.claim_due_deliveries(60, 10).await.expect("claim");
    assert_eq!(claimed.len(), 4);
    let (other, _) = w.app.auth.create_tenant(&format!("o{}", &unique("")[..12]), "Other").await.expect("tenant");
    let mine = t.id().clone();
    let next_at = latchkey_store::now() + 120;
    w.app
        .store
        .settle_deliveries(&[
            (
                mine.clone(),
                ids[0].clone(),
                Settlement::Delivered { gateway_status: Some(202), outcome: "{\"ok\":1}".into() },
            ),
            (
                mine.clone(),
                ids[1].clone(),
                Settlement::Retry { next_at, last_status: Some(429), last_code: Some("THROTTLING_EXCEPTION".into()) },
            ),
            (
                mine.clone(),
                ids[2].clone(),
                Settlement::Failed {
                    last_status: Some(400),
                    last_code: Some("INVALID_REQUEST_EXCEPTION".into()),
                    outcome: "{}".into(),
                },
            ),
            (
                other.id.clone(),
                ids[3].clone(),
                Settlement::Failed { last_status: None, last_code: None, outcome: "x".into() },
            ),
        ])
        .await
        .expect("settled");
    let row = |n: usize| {
        let id = format!("settle-{n}");
        async move { scoped.event_deliveries(&id).await.expect("rows").remove(0) }
    };
    let sent = row(0).await;
    assert_eq!(
        (sent.status.as_str(), sent.last_status, sent.outcome.as_deref()),
        ("delivered", Some(202), Some("{\"ok\":1}"))
    );
    assert!(sent.delivered_at.is_some());
    let later = row(1).await;
    assert_eq!(
        (later.status.as_str(), later.next_attempt_at, later.last_code.as_deref(), later.outcome.as_deref()),
        ("pending", next_at, Some("THROTTLING_EXCEPTION"), None)
    );
    assert!(later.delivered_at.is_none());
    let refused = row(2).await;
    assert_eq!((refused.status.as_str(), refused.last_status), ("failed", Some(400)));
    let untouched = row(3).await;
    assert_eq!(
        (untouched.status.as_str(), untouched.outcome),
        ("pending", None),
        "another tenant's id settles nothing"
    );
    // Nothing is due: the settled rows are done, the retried one waits for its time, and the one
    // addressed with the wrong tenant is still leased to the worker that claimed it.
    assert!(w.app.store.claim_due_deliveries(60, 10).await.expect("claim").is_empty());
    w.app.cleanup().await;
}

on_both_backends!(events_of_two_tenants_committed_together_go_to_their_own_grants);

/// A group commit reads each event's destinations inside its transaction, tenant by tenant. Events of
/// two tenants sent at once each go to their own user's grant; a tenant naming the other tenant's user
/// (with its own skill, or with the other's) is told there is no such link or skill, and nothing of it
/// is stored.
async fn events_of_two_tenants_committed_together_go_to_their_own_grants(backend: Backend) {
    // No worker: the rows stay as accepted.
    let w = crate::alexa::world_with(backend, &[AlexaRegion::NA], |c| c.alexa_outbox_worker = "off".into()).await;
    w.link_and_accept().await;
    let (_, grant_a) = the_grant(&w).await;
    let (b, key_b, skill_b) = crate::event_backlog::linked_tenant(&w).await;
    let post = |slug: String, key: String, user: String, skill: String| {
        let w = &w;
        async move {
            let resp = server_client()
                .post(w.app.url(&format!("/t/{slug}/alexa/events")))
                .bearer_auth(&key)
                .json(&json!({"user": user, "skill": skill, "event": change_report()}))
                .send()
                .await
                .expect("event");
            let status = resp.status();
            (status, resp.json::<Value>().await.expect("json"))
        }
    };
    let (a_slug, key_a, user_a, skill_a) =
        (w.f.slug.clone(), w.api_key.clone(), w.f.user_id.clone(), w.alexa_skill_id.clone());
    let mut sends = Vec::new();
    for n in 0..80 {
        sends.push(match n % 4 {
            0 => ("a", post(a_slug.clone(), key_a.clone(), user_a.clone(), skill_a.clone())),
            1 => ("b", post(b.slug.clone(), key_b.clone(), b.user_id.clone(), skill_b.clone())),
            2 => ("b names a's user", post(b.slug.clone(), key_b.clone(), user_a.clone(), skill_b.clone())),
            _ => ("b names a's user and skill", post(b.slug.clone(), key_b.clone(), user_a.clone(), skill_a.clone())),
        });
    }
    let (who, answers): (Vec<&str>, Vec<_>) = sends.into_iter().unzip();
    let answers = futures::future::join_all(answers).await;
    let tb = w.app.auth.tenant_for_admin(&b.slug).await.expect("tenant");
    let link_b = w.app.store.scoped(tb.id()).list_links(Some(&b.user_id)).await.expect("links").remove(0);
    let grant_b = w.app.store.scoped(tb.id()).amazon_grants(&link_b.id).await.expect("grants").remove(0);
    for (who, (status, body)) in who.iter().zip(&answers) {
        match *who {
            "a" | "b" => {
                assert_eq!(*status, StatusCode::ACCEPTED, "{who}: {body}");
                let grant = if *who == "a" { &grant_a.id } else { &grant_b.id };
                assert_eq!(body["destinations"].as_array().map(Vec::len), Some(1), "{who}: {body}");
                assert_eq!(body["destinations"][0]["grant"], json!(grant), "{who}: {body}");
            }
            _ => assert_eq!(*status, StatusCode::NOT_FOUND, "{who}: {body}"),
        }
    }
    let ta = w.app.auth.tenant_for_admin(&a_slug).await.expect("tenant");
    assert_eq!(w.app.store.scoped(ta.id()).pending_deliveries().await.expect("count"), 20, "a's events only");
    assert_eq!(w.app.store.scoped(tb.id()).pending_deliveries().await.expect("count"), 20, "b's own events only");
    w.app.cleanup().await;
}

/// Sends `total` events at once (202 each) and waits until all are settled; returns the gateway's
/// requests that came after `before`: (Authorization header, messageId).
async fn send_together_and_settle(w: &AlexaWorld, total: usize, before: usize) -> Vec<(String, String)> {
    let sends = (0..total).map(|n| {
        let body = json!({"user": w.f.user_id, "skill": w.alexa_skill_id, "event": report(n)});
        async move { json_ok_status(w.post("events", &body).await, 202).await }
    });
    let ids: Vec<String> =
        futures::future::join_all(sends).await.iter().map(|a| a["id"].as_str().expect("id").to_owned()).collect();
    let rows = settled(w, &ids).await;
    assert!(rows.iter().all(|r| r.status == "delivered"), "every event delivered: {rows:?}");
    w.amazon.gateway_state(|g| {
        g.received[before..]
            .iter()
            .map(|(_, auth, body)| {
                (auth.clone(), body["event"]["header"]["messageId"].as_str().unwrap_or_default().to_owned())
            })
            .collect()
    })
}

on_both_backends!(a_batch_refreshes_an_expiring_amazon_token_once);

/// A batch reads its grants' Amazon tokens once, with the grants. A token about to expire is not sent:
/// it is refreshed once for all the batch's events (at Login with Amazon, under the grant's lock), and
/// every event goes with the new token.
async fn a_batch_refreshes_an_expiring_amazon_token_once(backend: Backend) {
    let w = world(backend, &[AlexaRegion::NA]).await;
    // AcceptGrant's tokens expire within the minute in which Latchkey refreshes before sending.
    w.amazon.lwa_state(|s| s.expires_in = 30);
    w.link_and_accept().await;
    let before = w.amazon.gateway_state(|g| g.received.len());
    let sent = send_together_and_settle(&w, 40, before).await;
    assert_eq!(w.amazon.lwa_state(|s| s.refreshes), 1, "one refresh for all the events");
    assert_eq!(sent.len(), 40, "each event sent once, none with the expiring token");
    let tokens: HashSet<&String> = sent.iter().map(|(auth, _)| auth).collect();
    assert_eq!(tokens.len(), 1, "one token for all: {tokens:?}");
    let token = sent[0].0.trim_start_matches("Bearer ").to_owned();
    assert!(w.amazon.lwa_state(|s| s.valid_access.contains(&token)), "the refreshed token");
    w.app.cleanup().await;
}

on_both_backends!(a_token_refreshed_during_a_batch_is_taken_up);

/// The gateway rejects the token the batch read (Amazon's 401 INVALID_ACCESS_TOKEN_EXCEPTION) for its
/// first event. That delivery refreshes it, which ends the old token at Amazon; the batch's other
/// events, still holding the old one, meet the same 401 and are sent again with the new token, read
/// from the database, without a second refresh. Each event is delivered once.
async fn a_token_refreshed_during_a_batch_is_taken_up(backend: Backend) {
    let w = world(backend, &[AlexaRegion::NA]).await;
    w.link_and_accept().await;
    w.amazon.gateway_state(|g| g.script.push_back((401, "INVALID_ACCESS_TOKEN_EXCEPTION")));
    let before = w.amazon.gateway_state(|g| g.received.len());
    let sent = send_together_and_settle(&w, 40, before).await;
    assert_eq!(w.amazon.lwa_state(|s| s.refreshes), 1, "one refresh");
    let mut sends: HashMap<&str, Vec<&str>> = HashMap::new();
    for (auth, id) in &sent {
        sends.entry(id).or_default().push(auth.trim_start_matches("Bearer "));
    }
    assert_eq!(sends.len(), 40, "every event reached the gateway");
    // Events sent before the refresh went with the old token, and the gateway took them then; an event
    // rejected is sent once more, with the new token.
    let valid = w.amazon.lwa_state(|s| s.valid_access.clone());
    let again: Vec<&Vec<&str>> = sends.values().filter(|s| s.len() > 1).collect();
    assert!(!again.is_empty(), "the rejected event was sent again");
    for s in &again {
        assert!(s.len() == 2 && s[0] != s[1] && valid.contains(s[1]), "once rejected, then the new token: {s:?}");
    }
    w.app.cleanup().await;
}

on_both_backends!(a_grant_whose_tokens_cannot_be_opened_fails_alone);

/// One tenant's grant holds Amazon tokens this process cannot open (sealed under a key it lacks). Its
/// events, claimed in the same batches as another tenant's, fail on their own; the other tenant's are
/// delivered at the first attempt, and nothing of the broken grant's reaches the gateway.
async fn a_grant_whose_tokens_cannot_be_opened_fails_alone(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let w = world(backend, &[AlexaRegion::NA]).await;
    w.link_and_accept().await;
    let (b, key_b, skill_b) = crate::event_backlog::linked_tenant(&w).await;
    let tb = w.app.auth.tenant_for_admin(&b.slug).await.expect("tenant");
    let link_b = w.app.store.scoped(tb.id()).list_links(Some(&b.user_id)).await.expect("links").remove(0);
    let grant_b = w.app.store.scoped(tb.id()).amazon_grants(&link_b.id).await.expect("grants").remove(0);
    let db = w.app.raw_db().await;
    db.execute_unprepared(&format!(
        "UPDATE amazon_grants SET lwa_access_token = 'v1.sealed-under-another-key' WHERE id = '{}'",
        grant_b.id
    ))
    .await
    .expect("corrupt");
    drop(db);

    let before = w.amazon.gateway_state(|g| g.received.len());
    let sends = (0..40).map(|n| {
        let (slug, key, user, skill) = if n % 2 == 0 {
            (&w.f.slug, &w.api_key, &w.f.user_id, &w.alexa_skill_id)
        } else {
            (&b.slug, &key_b, &b.user_id, &skill_b)
        };
        let body = json!({"user": user, "skill": skill, "event": report(n)});
        let url = w.app.url(&format!("/t/{slug}/alexa/events"));
        async move {
            let resp = server_client().post(url).bearer_auth(key).json(&body).send().await.expect("event");
            json_ok_status(resp, 202).await["id"].as_str().expect("id").to_owned()
        }
    });
    let ids = futures::future::join_all(sends).await;
    let a_ids: Vec<String> = ids.iter().step_by(2).cloned().collect();
    let rows = settled(&w, &a_ids).await;
    assert!(rows.iter().all(|r| r.status == "delivered" && r.attempts == 1), "a's events at the first attempt");
    // b's events were claimed too (each claim counts an attempt), and none was delivered.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let scoped_b = w.app.store.scoped(tb.id());
    for id in ids.iter().skip(1).step_by(2) {
        let tried = scoped_b.event_deliveries(id).await.expect("rows");
        assert_eq!(tried.len(), 1, "{tried:?}");
        assert!(
            tried[0].attempts >= 1 && tried[0].status != "delivered",
            "b's event is tried, not delivered: {tried:?}"
        );
    }
    let sent: HashSet<String> = w.amazon.gateway_state(|g| {
        g.received[before..]
            .iter()
            .filter_map(|(_, _, b)| b["event"]["header"]["messageId"].as_str().map(str::to_owned))
            .collect()
    });
    let expected: HashSet<String> = (0..40).step_by(2).map(|n| format!("together-{n}")).collect();
    assert_eq!(sent, expected, "only a's events reached the gateway");
    w.app.cleanup().await;
}
