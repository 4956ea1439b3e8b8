//! Client-secret rotation with a grace period, as a device company rotates the secret Alexa holds in its
//! console: both secrets work until the console is updated, the audit log says which one Alexa uses,
//! and `0` cuts the old one at once (after a leak).
use latchkey_core::client_auth::ClientAuthMethod;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::management_api::{api_for, problem};

/// Refreshes `rt` authenticating with `secret`; the new refresh token on success, else the response.
async fn refresh_with(app: &TestApp, f: &Fixture, secret: &str, rt: &str) -> Result<String, reqwest::Response> {
    let params = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    let r = token_request_as(app, f, f.skill.auth_method, &f.skill.client_id, secret, &params).await;
    if r.status().is_success() {
        let v: Value = r.json().await.expect("json");
        Ok(v["refresh_token"].as_str().expect("refresh token").to_owned())
    } else {
        Err(r)
    }
}

async fn secret_uses(api: &crate::management_api::Api<'_>) -> Vec<String> {
    let audit = json_ok(api.get("/audit?action=client.secret_used").await).await;
    audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["detail"]["secret"].as_str().unwrap_or("").into())
        .collect()
}

async fn both_secrets_work_during_the_grace_period(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let api = api_for(&app, &f).await;
    let mut rt = linked_tokens(&app, &f).await["refresh_token"].as_str().expect("rt").to_owned();
    let old = f.skill.client_secret.clone();
    let path = format!("/clients/{}/rotate-secret", f.skill.client_id);

    // The default grace period is a day.
    let before = latchkey_store::now();
    let rotated = json_ok(api.post(&path, json!({})).await).await;
    let new = rotated["client_secret"].as_str().expect("secret").to_owned();
    let until = rotated["previous_secret_expires_at"].as_i64().expect("grace end");
    assert!((before + 86_400..=latchkey_store::now() + 86_400).contains(&until), "{rotated}");
    let client = json_ok(api.get(&format!("/clients/{}", f.skill.client_id)).await).await;
    assert_eq!(client["previous_secret_expires_at"], until, "{client}");

    // Alexa still holds the old secret: its refreshes keep working; then the console gets the new one.
    for secret in [&old, &old, &new, &new] {
        rt = refresh_with(&app, &f, secret, &rt).await.unwrap_or_else(|r| panic!("refresh: {}", r.status()));
    }
    // The audit log says which secret was used, once per secret however often (Alexa refreshes hourly
    // for every linked user).
    let mut uses = secret_uses(&api).await;
    uses.sort();
    assert_eq!(uses, ["current", "previous"]);
    // A wrong secret is still refused.
    let refused = refresh_with(&app, &f, "not-the-secret", &rt).await.expect_err("a wrong secret");
    json_err(refused, 401, "invalid_client").await;

    // After a leak, `0` stops the replaced secret at once; the one before it is long gone.
    let cut = json_ok(api.post(&path, json!({"grace_secs": 0})).await).await;
    assert!(cut["previous_secret_expires_at"].is_null(), "{cut}");
    let newest = cut["client_secret"].as_str().expect("secret").to_owned();
    for stale in [&old, &new] {
        json_err(refresh_with(&app, &f, stale, &rt).await.expect_err("stale secret"), 401, "invalid_client").await;
    }
    rt = refresh_with(&app, &f, &newest, &rt).await.unwrap_or_else(|r| panic!("refresh: {}", r.status()));
    let client = json_ok(api.get(&format!("/clients/{}", f.skill.client_id)).await).await;
    assert!(client["previous_secret_expires_at"].is_null(), "{client}");

    // A short grace period ends by itself.
    let short = json_ok(api.post(&path, json!({"grace_secs": 1})).await).await;
    let last = short["client_secret"].as_str().expect("secret").to_owned();
    let mut ended = false;
    for _ in 0..50 {
        match refresh_with(&app, &f, &newest, &rt).await {
            Ok(next) => rt = next,
            Err(r) => {
                json_err(r, 401, "invalid_client").await;
                ended = true;
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ended, "the replaced secret stops working when its grace period ends");
    refresh_with(&app, &f, &last, &rt).await.unwrap_or_else(|r| panic!("refresh: {}", r.status()));
    app.cleanup().await;
}

async fn rotations_refuse_bad_grace_and_race_safely(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let api = api_for(&app, &f).await;
    let path = format!("/clients/{}/rotate-secret", f.skill.client_id);
    for body in [json!({"grace_secs": -1}), json!({"grace_secs": 31 * 86_400}), json!({"grace": 60}), json!([])] {
        problem(api.post(&path, body).await, 400).await;
    }
    let r = api.http.post(api.url(&path)).bearer_auth(&api.key).body("{").send().await.expect("post");
    problem(r, 400).await;
    // Refused rotations changed nothing: the original secret is still the only one.
    let rt = linked_tokens(&app, &f).await["refresh_token"].as_str().expect("rt").to_owned();
    let rt = refresh_with(&app, &f, &f.skill.client_secret, &rt).await.unwrap_or_else(|r| panic!("{}", r.status()));
    // No body at all takes the default grace period.
    let r = api.http.post(api.url(&path)).bearer_auth(&api.key).send().await.expect("post");
    let plain = json_ok(r).await;
    assert!(plain["previous_secret_expires_at"].is_i64(), "{plain}");

    // Two rotations at once: each caller's secret works afterwards (one current, one previous), and the
    // secret both replaced does not.
    let (a, b) = tokio::join!(api.post(&path, json!({})), api.post(&path, json!({})));
    let (a, b) = (json_ok(a).await, json_ok(b).await);
    let mut rt = rt;
    for s in [&a["client_secret"], &b["client_secret"]] {
        let s = s.as_str().expect("secret");
        rt = refresh_with(&app, &f, s, &rt)
            .await
            .unwrap_or_else(|r| panic!("a racing rotation's secret: {}", r.status()));
    }
    let stale = plain["client_secret"].as_str().expect("secret");
    json_err(refresh_with(&app, &f, stale, &rt).await.expect_err("replaced twice"), 401, "invalid_client").await;
    app.cleanup().await;
}

on_both_backends!(both_secrets_work_during_the_grace_period, rotations_refuse_bad_grace_and_race_safely);
