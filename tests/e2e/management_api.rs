//! The management API, driven over HTTP with a tenant API key as a device company's tooling would:
//! resources, pagination, problem details, unlinking, tenant isolation, and the OpenAPI document.
use latchkey_core::client_auth::ClientAuthMethod;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

pub(crate) struct Api<'a> {
    pub app: &'a TestApp,
    pub slug: String,
    pub key: String,
    pub http: reqwest::Client,
}

impl Api<'_> {
    pub fn url(&self, path: &str) -> String {
        self.app.url(&format!("/t/{}/api/v1{path}", self.slug))
    }
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).bearer_auth(&self.key).send().await.expect("get")
    }
    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http.post(self.url(path)).bearer_auth(&self.key).json(&body).send().await.expect("post")
    }
    pub async fn patch(&self, path: &str, body: Value) -> reqwest::Response {
        self.http.patch(self.url(path)).bearer_auth(&self.key).json(&body).send().await.expect("patch")
    }
}

pub(crate) async fn problem(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(ct.starts_with("application/problem+json"), "problem details content type, got {ct}");
    let v: Value = resp.json().await.expect("problem body");
    assert_eq!(v["status"], status);
    assert!(v["title"].is_string() && v["detail"].is_string() && v["type"].is_string(), "{v}");
    v
}

pub(crate) async fn api_for<'a>(app: &'a TestApp, f: &Fixture) -> Api<'a> {
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let key = app.auth.create_api_key(&t, "ci").await.expect("api key").key;
    Api { app, slug: f.slug.clone(), key, http: server_client() }
}

async fn resources_pagination_and_unlinking(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let api = api_for(&app, &f).await;

    // Skills carry what the Alexa console needs.
    let skills = json_ok(api.get("/skills").await).await;
    assert_eq!(skills.as_array().map(Vec::len), Some(1));
    assert_eq!(skills[0]["client"]["client_id"], f.skill.client_id.as_str());
    assert_eq!(skills[0]["authorization_uri"], format!("{}/oauth2/authorize", f.issuer));
    let readiness = json_ok(api.get(&format!("/skills/{}/readiness", f.skill.id)).await).await;
    assert!(readiness["items"].is_array(), "{readiness}");

    // Users: create three more, page through them two at a time, search by email.
    for i in 0..3 {
        let r =
            api.post("/users", json!({"email": format!("page{i}-{}@example.com", f.slug), "password": PASSWORD})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let first = json_ok(api.get("/users?limit=2").await).await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"].as_str().expect("a next page").to_owned();
    let second = json_ok(api.get(&format!("/users?limit=2&cursor={cursor}")).await).await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(2));
    assert!(second["next_cursor"].is_null(), "four users: two pages");
    let found = json_ok(api.get(&format!("/users?q=page1-{}", f.slug)).await).await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1));
    problem(api.post("/users", json!({"email": f.email, "password": PASSWORD})).await, 409).await;
    problem(api.get("/users?limit=0").await, 400).await;
    problem(api.get("/users?cursor=abc").await, 400).await;

    // Link as Alexa would, then find and revoke the link through the API.
    let code = get_code(&app, &f, None).await;
    let tokens = json_ok(exchange_code(&app, &f, &code, None).await).await;
    let rt = tokens["refresh_token"].as_str().expect("refresh token").to_owned();
    let links = json_ok(api.get(&format!("/links?user={}", f.email)).await).await;
    let link = &links["items"][0];
    assert_eq!(link["user_email"], f.email.as_str());
    assert_eq!(link["status"], "active");
    assert_eq!(link["alexa_skill_id"], f.skill.skill.alexa_skill_id.as_str());
    let by_skill = json_ok(api.get(&format!("/links?skill={}", f.skill.skill.alexa_skill_id)).await).await;
    assert_eq!(by_skill["items"].as_array().map(Vec::len), Some(1));
    let id = link["id"].as_str().expect("link id").to_owned();
    let revoked = json_ok(api.post(&format!("/links/{id}/revoke"), json!({})).await).await;
    assert_eq!(revoked["status"], "revoked");
    json_err(refresh(&app, &f, &rt).await, 400, "invalid_grant").await;

    // Clients: edit, rotate, refuse a smart-home lifetime below Alexa's minimum.
    let path = format!("/clients/{}", f.skill.client_id);
    problem(api.patch(&path, json!({"access_token_ttl": 120})).await, 400).await;
    // A skill's client keeps Alexa's limits when edited as a client, and a misspelt field is refused.
    let many: Vec<String> = (0..16).map(|i| format!("s{i}")).collect();
    problem(api.patch(&path, json!({"scopes": many.join(" ")})).await, 400).await;
    problem(api.patch(&path, json!({"acess_token_ttl": 7200})).await, 400).await;
    assert_eq!(json_ok(api.patch(&path, json!({"access_token_ttl": 7200})).await).await["access_token_ttl"], 7200);
    let rotated = json_ok(api.post(&format!("{path}/rotate-secret"), json!({})).await).await;
    assert!(rotated["client_secret"].as_str().is_some_and(|s| s.len() >= 40));
    // A skill's own client cannot be deleted on its own, through this door either; the skill keeps it.
    let refused =
        problem(api.http.delete(api.url(&path)).bearer_auth(&api.key).send().await.expect("delete"), 409).await;
    assert!(refused["detail"].as_str().is_some_and(|d| d.contains("belongs to a skill")), "{refused}");
    let skills = json_ok(api.get("/skills").await).await;
    assert!(skills.to_string().contains(&f.skill.client_id), "{skills}");

    // Every change is in the audit log under the API key.
    let audit = json_ok(api.get("/audit?action=link.").await).await;
    assert_eq!(audit["items"][0]["action"], "link.revoked");
    assert!(audit["items"][0]["actor"].as_str().is_some_and(|a| a.starts_with("api_key:lk_")), "{audit}");
    app.cleanup().await;
}

async fn errors_and_isolation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let b = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let api_a = api_for(&app, &a).await;
    let api_b = api_for(&app, &b).await;
    let http = server_client();

    // No credentials, a wrong key, and B's key on A: 401, 401, 401 — never A's data.
    let r = http.get(api_a.url("/skills")).send().await.expect("get");
    assert!(r.headers().get("www-authenticate").is_some());
    problem(r, 401).await;
    problem(http.get(api_a.url("/skills")).bearer_auth("lk_wrong").send().await.expect("get"), 401).await;
    problem(http.get(api_a.url("/users")).bearer_auth(&api_b.key).send().await.expect("get"), 401).await;
    // B cannot reach A's objects by id through B's own tenant either.
    problem(api_b.get(&format!("/users/{}", a.user_id)).await, 404).await;
    problem(api_b.get(&format!("/skills/{}", a.skill.id)).await, 404).await;
    problem(api_b.post(&format!("/clients/{}/rotate-secret", a.skill.client_id), json!({})).await, 404).await;

    // Malformed input: problems, not 500s.
    let r = http
        .post(api_a.url("/users"))
        .bearer_auth(&api_a.key)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await;
    problem(r.expect("post"), 400).await;
    problem(api_a.post("/users", json!({"email": "x@example.com", "admin": true})).await, 400).await;
    problem(api_a.post("/skills", json!({"name": "x"})).await, 400).await;
    problem(api_a.get("/nope").await, 404).await;
    problem(api_a.post("/api-keys", json!({"name": ""})).await, 400).await;

    // Operators' endpoints want an operator's session, not a tenant key.
    problem(http.get(app.url("/api/v1/tenants")).bearer_auth(&api_a.key).send().await.expect("get"), 401).await;

    // The OpenAPI document describes what is served.
    let doc = json_ok(http.get(app.url("/api/openapi.json")).send().await.expect("doc")).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for p in ["/t/{tenant}/api/v1/skills", "/t/{tenant}/api/v1/links/{link}/revoke", "/api/v1/tenants"] {
        assert!(doc["paths"][p].is_object(), "{p} documented");
    }
    let viewer = http.get(app.url("/api/docs")).send().await.expect("viewer").text().await.expect("html");
    assert!(viewer.contains("/t/{tenant}/api/v1/links"));
    app.cleanup().await;
}

on_both_backends!(resources_pagination_and_unlinking, errors_and_isolation);

/// Operators see every tenant with its usage: users, active links, and token requests per day for the
/// last seven days (today last), counted across instances in the KV store.
async fn operators_see_usage_by_day(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(latchkey_core::client_auth::ClientAuthMethod::ClientSecretBasic).await;
    let tokens = linked_tokens(&app, &f).await;
    json_ok(refresh(&app, &f, tokens["refresh_token"].as_str().expect("rt")).await).await;
    let email = format!("{}@ops.example", unique("op"));
    app.auth.create_operator(&email, "operator password 1").await.expect("operator");
    let (sid, _) = app.auth.dashboard_sign_in(&email, "operator password 1", "127.0.0.1").await.expect("sign in");
    let http = server_client();
    // Token requests are tallied in memory and written out each second; the overview writes out this
    // instance's tally first. The loop allows for a slow write.
    let mut row = serde_json::Value::Null;
    for _ in 0..40 {
        let list: serde_json::Value = http
            .get(app.url("/api/v1/tenants"))
            .header("cookie", format!("lk_admin={sid}"))
            .send()
            .await
            .expect("tenants")
            .json()
            .await
            .expect("json");
        row = list.as_array().expect("array").iter().find(|t| t["slug"] == f.slug.as_str()).cloned().expect("tenant");
        if row["token_requests_today"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(row["token_requests_today"], 2, "{row}");
    assert_eq!(row["links"], 1);
    let days = row["token_requests_by_day"].as_array().expect("by day");
    assert_eq!(days.len(), 7);
    let today = latchkey_core::time::civil_date(latchkey_store::now() / 86_400);
    assert_eq!(days[6]["day"], today.as_str());
    assert_eq!(days[6]["count"], 2);
    assert!(days[..6].iter().all(|d| d["count"] == 0));
    app.cleanup().await;
}

on_both_backends!(operators_see_usage_by_day);

/// Token requests counted on two instances (one PostgreSQL, one Redis) reach the operators' figures
/// within seconds, and an instance that is stopped writes out its last counts first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_from_every_instance_reaches_the_figures() {
    use crate::cli::latchkey_ok;
    use crate::scale::{free_port, shared_env, start_logging_to};
    let dir = std::env::temp_dir().join(unique("latchkey-usage-"));
    let pg = fresh_pg_database().await;
    let env = shared_env(Some(&pg), &dir, &format!("http://127.0.0.1:{}", free_port()));
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |args: &[&str]| latchkey_ok(&env_ref, args, None);
    run(&["migrate", "--json"]);
    run(&["tenant", "create", "--slug", "usage", "--name", "Usage", "--json"]);
    let cc = run(&[
        "client",
        "create",
        "--tenant",
        "usage",
        "--name",
        "cc",
        "--grant-types",
        "client_credentials",
        "--scope",
        "devices",
        "--json",
    ]);
    let (id, secret) = (cc["client_id"].as_str().expect("id"), cc["client_secret"].as_str().expect("secret"));
    let a = start_logging_to(&env, None, free_port()).await;
    let mut b = start_logging_to(&env, None, free_port()).await;
    let token = |base: String| async move {
        let resp = server_client()
            .post(format!("{base}/t/usage/oauth2/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token");
        assert_eq!(resp.status(), StatusCode::OK);
    };
    let today = || {
        let list = run(&["tenant", "list", "--json"]);
        let row = list["tenants"].as_array().expect("tenants").iter().find(|t| t["slug"] == "usage").cloned();
        row.expect("tenant")["token_requests_today"].as_i64().expect("count")
    };
    let reaches = |n: i64| {
        let started = std::time::Instant::now();
        loop {
            let seen = today();
            if seen == n {
                return;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "{seen} token requests counted, not {n}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    for _ in 0..5 {
        token(a.base.clone()).await;
    }
    for _ in 0..3 {
        token(b.base.clone()).await;
    }
    reaches(8);
    // Stopped at once after its last requests: they are written out on the way down.
    for _ in 0..4 {
        token(b.base.clone()).await;
    }
    b.terminate();
    reaches(12);
    drop(a);
    drop_pg_database(&pg).await;
    let _ = std::fs::remove_dir_all(&dir);
}
