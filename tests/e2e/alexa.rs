//! Alexa's side against local fakes of Login with Amazon and the Event Gateway (ALEXA.md §4–6).
use latchkey_core::alexa::{AlexaRegion, SkillKind};
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_oauth::admin::ClientOptions;
use latchkey_server::Application;
use latchkey_server::config::{Config, Secret};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::{self, FakeAmazon, LWA_CLIENT_ID, LWA_CLIENT_SECRET};
use crate::helpers::*;

struct AlexaWorld {
    app: TestApp,
    amazon: FakeAmazon,
    f: Fixture,
    api_key: String,
    alexa_skill_id: String,
}

async fn world(backend: Backend, region: AlexaRegion) -> AlexaWorld {
    let amazon = fakes::start().await;
    let data_dir = std::env::temp_dir().join(unique("latchkey-test-"));
    let mut config = Config {
        data_dir: data_dir.clone(),
        bind: "127.0.0.1:0".into(),
        lwa_token_url: amazon.lwa_url(),
        alexa_event_gateway_url: Some(amazon.gateway_url()),
        ..Config::default()
    };
    let mut pg_url = None;
    if backend == Backend::Postgres {
        let url = fresh_pg_database().await;
        config.database_url = Some(Secret::new(url.clone()));
        config.redis_url = Some(Secret::new(redis_url()));
        config.redis_prefix = format!("{}:", unique("lkt"));
        pg_url = Some(url);
    }
    let application = Application::build(config).await.expect("app");
    let app = TestApp {
        base: format!("http://127.0.0.1:{}", application.port()),
        auth: application.auth().clone(),
        data_dir,
        pg_url,
    };
    tokio::spawn(application.run_until_stopped());

    // A tenant whose smart-home skill has messaging credentials, and a user who linked it.
    let slug = format!("t{}", &unique("")[..12]);
    let (_, issuer) = app.auth.create_tenant(&slug, "Acme Locks").await.expect("tenant");
    let t = app.auth.tenant_for_admin(&slug).await.expect("tenant");
    let alexa_skill_id = format!("amzn1.ask.skill.{}", unique(""));
    let skill = app
        .auth
        .create_skill(
            &t,
            "Acme",
            &alexa_skill_id,
            VENDOR,
            SkillKind::SmartHome,
            region,
            Some((LWA_CLIENT_ID.into(), LWA_CLIENT_SECRET.into())),
            &ClientOptions::default(),
        )
        .await
        .expect("skill");
    let email = format!("{}@example.com", unique("user"));
    let user = app.auth.create_user(&t, &email, Some(PASSWORD), None).await.expect("user");
    let api_key = app.auth.create_api_key(&t, "lambda").await.expect("key").key;
    let f = Fixture { slug, issuer, skill, user_id: user.id, email };
    AlexaWorld { app, amazon, f, api_key, alexa_skill_id }
}

fn accept_grant(code: &str, token: &str) -> Value {
    json!({"directive": {
        "header": {"namespace": "Alexa.Authorization", "name": "AcceptGrant", "messageId": "5f8a426e-01e4-4cc9-8b79-65f8bd0fd8a4", "payloadVersion": "3"},
        "payload": {"grant": {"type": "OAuth2.AuthorizationCode", "code": code}, "grantee": {"type": "BearerToken", "token": token}}
    }})
}

fn change_report() -> Value {
    json!({
        "header": {"namespace": "Alexa", "name": "ChangeReport", "messageId": "abc-123", "payloadVersion": "3"},
        "endpoint": {"endpointId": "lock-1"},
        "payload": {"change": {"cause": {"type": "PHYSICAL_INTERACTION"}, "properties": [
            {"namespace": "Alexa.LockController", "name": "lockState", "value": "LOCKED", "timeOfSample": "2026-11-25T16:20:50.52Z", "uncertaintyInMilliseconds": 0}
        ]}}
    })
}

impl AlexaWorld {
    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        server_client()
            .post(self.app.url(&format!("/t/{}/alexa/{path}", self.f.slug)))
            .bearer_auth(&self.api_key)
            .json(body)
            .send()
            .await
            .expect("post")
    }

    /// Links the user and runs AcceptGrant; returns the user's Latchkey tokens.
    async fn link_and_accept(&self) -> Value {
        let tokens = linked_tokens(&self.app, &self.f).await;
        let code = self.amazon.issue_code();
        let resp = self.post("directives", &accept_grant(&code, tokens["access_token"].as_str().expect("at"))).await;
        let body = json_ok(resp).await;
        assert_eq!(body["event"]["header"]["name"], "AcceptGrant.Response", "{body}");
        tokens
    }

    async fn event(&self, event: Value) -> reqwest::Response {
        self.post("events", &json!({"user": self.f.user_id, "skill": self.alexa_skill_id, "event": event})).await
    }
}

on_both_backends!(accept_grant_and_events);

async fn accept_grant_and_events(backend: Backend) {
    let w = world(backend, AlexaRegion::NA).await;
    w.link_and_accept().await;
    assert_eq!(w.amazon.lwa_state(|s| s.code_exchanges), 1);

    // The Amazon tokens are encrypted in the database: read the raw row.
    let raw = raw_link_row(&w.app).await;
    assert!(!raw.contains("Atza|") && !raw.contains("Atzr|"), "Amazon tokens must not be stored in clear: {raw}");
    assert!(raw.contains("v1."), "sealed values expected: {raw}");

    // ChangeReport: token into endpoint.scope, sent to the NA gateway, 202.
    let resp = w.event(change_report()).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let out: Value = resp.json().await.expect("json");
    assert_eq!(out["status"], "accepted");
    assert_eq!(out["token_location"], "endpoint.scope");
    let (path, auth, body) = w.amazon.gateway_state(|g| g.received.last().cloned()).expect("one request");
    assert_eq!(path, "/NA/v3/events");
    assert_eq!(auth, format!("Bearer {}", body["event"]["endpoint"]["scope"]["token"].as_str().expect("token")));
    assert_eq!(body["event"]["endpoint"]["scope"]["type"], "BearerToken");
    assert_eq!(body["event"]["payload"]["change"]["properties"][0]["value"], "LOCKED");

    // AddOrUpdateReport: token into payload.scope.
    let add = json!({"header": {"namespace": "Alexa.Discovery", "name": "AddOrUpdateReport", "messageId": "m2", "payloadVersion": "3"}, "payload": {"endpoints": []}});
    let resp = w.event(add).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let (_, _, body) = w.amazon.gateway_state(|g| g.received.last().cloned()).expect("request");
    assert!(body["event"]["payload"]["scope"]["token"].as_str().is_some_and(|t| t.starts_with("Atza|")));

    // 401 INVALID_ACCESS_TOKEN_EXCEPTION: refresh once and retry.
    w.amazon.gateway_state(|g| g.script.push_back((401, "INVALID_ACCESS_TOKEN_EXCEPTION")));
    let resp = w.event(change_report()).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let out: Value = resp.json().await.expect("json");
    assert_eq!(out["token_refreshed"], true);
    assert_eq!(out["attempts"], 2);
    assert_eq!(w.amazon.lwa_state(|s| s.refreshes), 1);

    // Throttling is retried with backoff.
    w.amazon
        .gateway_state(|g| g.script.extend([(429, "THROTTLING_EXCEPTION"), (503, "SERVICE_UNAVAILABLE_EXCEPTION")]));
    let resp = w.event(change_report()).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(resp.json::<Value>().await.expect("json")["attempts"], 3);

    // Wrong region: Amazon's 404 is passed on with the probable cause.
    w.amazon.gateway_state(|g| g.script.push_back((404, "SKILL_NEVER_ENABLED_EXCEPTION")));
    let resp = w.event(change_report()).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let out: Value = resp.json().await.expect("json");
    assert_eq!(out["code"], "SKILL_NEVER_ENABLED_EXCEPTION");
    assert!(out["probable_cause"].as_str().is_some_and(|c| c.contains("region")), "{out}");

    // The user disabled the skill: tokens deleted, link inactive, later events fail fast.
    w.amazon.gateway_state(|g| g.script.push_back((403, "SKILL_DISABLED_EXCEPTION")));
    let resp = w.event(change_report()).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let sent = w.amazon.gateway_state(|g| g.received.len());
    let resp = w.event(change_report()).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(resp.json::<Value>().await.expect("json")["message"].as_str().is_some_and(|m| m.contains("disabled")));
    assert_eq!(w.amazon.gateway_state(|g| g.received.len()), sent, "nothing more was sent to Amazon");
    let t = w.app.auth.tenant_for_admin(&w.f.slug).await.expect("tenant");
    let links = w.app.auth.store.scoped(t.id()).list_links(Some(&w.f.user_id)).await.expect("links");
    assert_eq!(links[0].status, "inactive");
    assert!(!links[0].has_amazon_tokens);
    w.app.cleanup().await;
}

async fn raw_link_row(app: &TestApp) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let url = match &app.pg_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}?mode=ro", app.data_dir.join("latchkey.db").display()),
    };
    let db = sea_orm::Database::connect(&url).await.expect("db");
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT lwa_access_token, lwa_refresh_token FROM linked_accounts".to_owned(),
        ))
        .await
        .expect("query");
    rows.iter()
        .map(|r| {
            let a: Option<String> = r.try_get("", "lwa_access_token").expect("col");
            let b: Option<String> = r.try_get("", "lwa_refresh_token").expect("col");
            format!("{a:?} {b:?}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_grant_failures() {
    let w = world(Backend::Embedded, AlexaRegion::NA).await;
    let tokens = linked_tokens(&w.app, &w.f).await;
    let at = tokens["access_token"].as_str().expect("at");
    let failed = |v: &Value| {
        assert_eq!(v["event"]["header"]["name"], "ErrorResponse", "{v}");
        assert_eq!(v["event"]["payload"]["type"], "ACCEPT_GRANT_FAILED");
        v["event"]["payload"]["message"].as_str().unwrap_or_default().to_owned()
    };
    // A code LWA never issued.
    let m = failed(&json_ok(w.post("directives", &accept_grant("not-a-code", at)).await).await);
    assert!(m.contains("grant code"), "{m}");
    // A grantee token that is not ours.
    let m = failed(&json_ok(w.post("directives", &accept_grant(&w.amazon.issue_code(), "a.b.c")).await).await);
    assert!(m.contains("grantee token"), "{m}");
    // Wrong API key / none.
    let resp = server_client()
        .post(w.app.url(&format!("/t/{}/alexa/directives", w.f.slug)))
        .bearer_auth("lk_wrong")
        .json(&accept_grant("c", at))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = server_client()
        .post(w.app.url(&format!("/t/{}/alexa/directives", w.f.slug)))
        .json(&accept_grant("c", at))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Malformed JSON and directives Latchkey does not handle.
    let resp = server_client()
        .post(w.app.url(&format!("/t/{}/alexa/directives", w.f.slug)))
        .bearer_auth(&w.api_key)
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let mut discover = accept_grant("c", at);
    discover["directive"]["header"]["namespace"] = json!("Alexa.Discovery");
    discover["directive"]["header"]["name"] = json!("Discover");
    let resp = w.post("directives", &discover).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.json::<Value>().await.expect("json")["message"].as_str().is_some_and(|m| m.contains("Discover")));
    // Messaging credentials LWA rejects.
    let t = w.app.auth.tenant_for_admin(&w.f.slug).await.expect("tenant");
    let bad = w
        .app
        .auth
        .create_skill(
            &t,
            "Bad creds",
            &format!("amzn1.ask.skill.{}", unique("")),
            VENDOR,
            SkillKind::SmartHome,
            AlexaRegion::NA,
            Some((LWA_CLIENT_ID.into(), "wrong".into())),
            &ClientOptions::default(),
        )
        .await
        .expect("skill");
    let other = Fixture {
        slug: w.f.slug.clone(),
        issuer: w.f.issuer.clone(),
        skill: bad,
        user_id: w.f.user_id.clone(),
        email: w.f.email.clone(),
    };
    let tokens = linked_tokens(&w.app, &other).await;
    let m = failed(
        &json_ok(
            w.post("directives", &accept_grant(&w.amazon.issue_code(), tokens["access_token"].as_str().expect("at")))
                .await,
        )
        .await,
    );
    assert!(m.contains("messaging client id or secret"), "{m}");
    // Events before AcceptGrant: a clear conflict.
    let resp = w.event(change_report()).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(resp.json::<Value>().await.expect("json")["message"].as_str().is_some_and(|m| m.contains("AcceptGrant")));
    let _ = ClientAuthMethod::ClientSecretBasic;
    w.app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_events_refresh_once_and_regions_route() {
    let w = world(Backend::Embedded, AlexaRegion::EU).await;
    // Amazon tokens that are about to expire.
    w.amazon.lwa_state(|s| s.expires_in = 30);
    w.link_and_accept().await;
    let mut handles = Vec::new();
    for _ in 0..10 {
        let body = json!({"user": w.f.user_id, "skill": w.alexa_skill_id, "event": change_report()});
        let url = w.app.url(&format!("/t/{}/alexa/events", w.f.slug));
        let key = w.api_key.clone();
        handles.push(tokio::spawn(async move {
            server_client().post(url).bearer_auth(key).json(&body).send().await.expect("post").status()
        }));
    }
    for h in handles {
        assert_eq!(h.await.expect("join"), StatusCode::ACCEPTED);
    }
    assert_eq!(w.amazon.lwa_state(|s| s.refreshes), 1, "ten concurrent events, one refresh");
    assert!(w.amazon.gateway_state(|g| g.received.iter().all(|(p, _, _)| p == "/EU/v3/events")));

    // The batch form answers per event.
    let batch = json!({"events": [
        {"user": w.f.user_id, "skill": w.alexa_skill_id, "event": change_report()},
        {"user": "nobody", "skill": w.alexa_skill_id, "event": change_report()},
        {"skill": w.alexa_skill_id, "event": change_report()},
    ]});
    let out = json_ok(w.post("events/batch", &batch).await).await;
    let statuses: Vec<i64> =
        out["results"].as_array().expect("results").iter().map(|r| r["http_status"].as_i64().unwrap_or(0)).collect();
    assert_eq!(statuses, vec![202, 404, 400]);
    w.app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skill_disabled_revokes_the_link() {
    let w = world(Backend::Embedded, AlexaRegion::NA).await;
    let tokens = w.link_and_accept().await;
    let event = json!({
        "version": "1.0",
        "context": {"System": {"application": {"applicationId": w.alexa_skill_id}, "user": {"userId": "amzn1.ask.account.X", "accessToken": tokens["access_token"]}, "apiEndpoint": "https://api.amazonalexa.com"}},
        "request": {"type": "AlexaSkillEvent.SkillDisabled", "requestId": "r1", "timestamp": "2026-11-25T16:00:00Z", "eventCreationTime": "2026-11-25T16:00:00Z", "eventPublishingTime": "2026-11-25T16:00:00Z", "body": {"userInformationPersistenceStatus": "NOT_PERSISTED"}}
    });
    let out = json_ok(w.post("directives", &event).await).await;
    assert_eq!(out, json!({"version": "1.0", "response": {}}));
    json_err(refresh(&w.app, &w.f, tokens["refresh_token"].as_str().expect("rt")).await, 400, "invalid_grant").await;
    let t = w.app.auth.tenant_for_admin(&w.f.slug).await.expect("tenant");
    let scoped = w.app.auth.store.scoped(t.id());
    let link = scoped.list_links(Some(&w.f.user_id)).await.expect("links").remove(0);
    assert_eq!(link.status, "revoked");
    assert!(!link.has_amazon_tokens);
    assert!(!scoped.audit_events(Some("alexa.skill_event.SkillDisabled"), 5).await.expect("audit").is_empty());
    // Other skill events are audited and acknowledged.
    let mut enabled = event.clone();
    enabled["request"]["type"] = json!("AlexaSkillEvent.SkillEnabled");
    assert_eq!(json_ok(w.post("directives", &enabled).await).await, json!({"version": "1.0", "response": {}}));
    w.app.cleanup().await;
}
