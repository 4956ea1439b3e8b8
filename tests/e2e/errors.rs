//! Malformed, hostile and odd requests get the error the RFC prescribes, never a 5xx.
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_oauth::admin::ClientOptions;
use latchkey_store::records::TenantStatus;
use proptest::prelude::*;
use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_errors() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let url = app.url(&format!("/t/{}/oauth2/token", f.slug));
    let s = &f.skill;
    let c = server_client();
    // JSON instead of a form.
    let resp = c
        .post(&url)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .json(&serde_json::json!({"grant_type": "refresh_token"}))
        .send()
        .await
        .expect("r");
    json_err(resp, 400, "invalid_request").await;
    json_err(token_request(&app, &f, &[]).await, 400, "invalid_request").await;
    json_err(token_request(&app, &f, &[("grant_type", "password")]).await, 400, "unsupported_grant_type").await;
    json_err(token_request(&app, &f, &[("grant_type", "client_credentials")]).await, 400, "unauthorized_client").await;
    json_err(
        token_request(&app, &f, &[("grant_type", "refresh_token"), ("grant_type", "refresh_token")]).await,
        400,
        "invalid_request",
    )
    .await;
    json_err(token_request(&app, &f, &[("grant_type", "authorization_code")]).await, 400, "invalid_request").await;
    // No or broken client authentication.
    let resp = c.post(&url).form(&[("grant_type", "refresh_token"), ("refresh_token", "x")]).send().await.expect("r");
    json_err(resp, 401, "invalid_client").await;
    let resp = c
        .post(&url)
        .header("authorization", "Basic %%%")
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .expect("r");
    json_err(resp, 401, "invalid_client").await;
    // Both Basic and body credentials.
    let resp = c
        .post(&url)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x"), ("client_secret", &s.client_secret)])
        .send()
        .await
        .expect("r");
    json_err(resp, 400, "invalid_request").await;
    // An oversized body.
    let big = "a".repeat(200 * 1024);
    let resp = c
        .post(&url)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=refresh_token&refresh_token={big}"))
        .send()
        .await
        .expect("r");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Unknown tenant.
    let resp = c.post(app.url("/t/no-such-tenant/oauth2/token")).form(&[("grant_type", "x")]).send().await.expect("r");
    json_err(resp, 404, "invalid_request").await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_endpoint_errors() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let c = server_client();
    // Userinfo without a token: 401 with a Bearer challenge.
    let resp = c.get(app.url(&format!("/t/{}/oauth2/userinfo", f.slug))).send().await.expect("r");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get("www-authenticate").is_some_and(|v| v.to_str().unwrap_or("").starts_with("Bearer")));
    let resp = c.get(app.url(&format!("/t/{}/oauth2/userinfo", f.slug))).bearer_auth("a.b.c").send().await.expect("r");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Introspection without credentials.
    let resp =
        c.post(app.url(&format!("/t/{}/oauth2/introspect", f.slug))).form(&[("token", "x")]).send().await.expect("r");
    json_err(resp, 401, "invalid_client").await;
    // Introspection of junk is simply inactive.
    assert_eq!(introspect(&app, &f, "a.b.c").await, serde_json::json!({"active": false}));
    assert_eq!(introspect(&app, &f, "x").await, serde_json::json!({"active": false}));
    // Authorize with nothing at all, and at an unknown tenant.
    let resp = browser().get(app.url(&format!("/t/{}/oauth2/authorize", f.slug))).send().await.expect("r");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = browser().get(app.url("/t/nobody/oauth2/authorize?client_id=x")).send().await.expect("r");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // An expired or forged flow.
    let resp = browser()
        .post(app.url(&format!("/t/{}/login", f.slug)))
        .form(&[("flow", "x"), ("csrf", "y")])
        .send()
        .await
        .expect("r");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = browser()
        .post(app.url(&format!("/t/{}/consent", f.slug)))
        .form(&[("flow", "x"), ("csrf", "y"), ("decision", "maybe")])
        .send()
        .await
        .expect("r");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Health.
    assert_eq!(c.get(app.url("/healthz")).send().await.expect("r").status(), StatusCode::OK);
    assert_eq!(c.get(app.url("/readyz")).send().await.expect("r").status(), StatusCode::OK);
    assert_eq!(c.get(app.url("/nope")).send().await.expect("r").status(), StatusCode::NOT_FOUND);
    // RFC 8414 metadata location.
    let meta: serde_json::Value = c
        .get(app.url(&format!("/.well-known/oauth-authorization-server/t/{}", f.slug)))
        .send()
        .await
        .expect("r")
        .json()
        .await
        .expect("j");
    assert_eq!(meta["issuer"], f.issuer.as_str());
    assert_eq!(meta["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_tenant_is_refused_clearly() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let tokens = linked_tokens(&app, &f).await;
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let key = app.auth.create_api_key(&t, "backend").await.expect("key").key;
    app.store.set_tenant_status(t.id(), TenantStatus::Suspended).await.expect("suspend");
    // The tenant cache lives a few seconds at most.
    tokio::time::sleep(app.auth.config.cache_ttl + std::time::Duration::from_millis(100)).await;
    // The skill backend's endpoints say "forbidden" with 403, as the management API does (they
    // answered 409 Conflict, and a wrong key 400, before errors had one mapping).
    let event = serde_json::json!({"user": f.user_id, "skill": "amzn1.ask.skill.x", "event": {}});
    let resp = server_client()
        .post(app.url(&format!("/t/{}/alexa/events", f.slug)))
        .bearer_auth(&key)
        .json(&event)
        .send()
        .await
        .expect("event");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "forbidden", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("suspended")), "{body}");
    let err =
        json_err(refresh(&app, &f, tokens["refresh_token"].as_str().expect("rt")).await, 403, "access_denied").await;
    assert!(err["error_description"].as_str().is_some_and(|d| d.contains("suspended")));
    let resp = browser().get(authorize_url(&app, &f, "s", None, &[])).send().await.expect("r");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    app.store.set_tenant_status(t.id(), TenantStatus::Active).await.expect("resume");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_grant() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let opts = ClientOptions { scopes: Some("devices:read devices:write openid".into()), ..Default::default() };
    let c =
        app.auth.create_client(&t, "backend", vec![], vec!["client_credentials".into()], &opts).await.expect("client");
    let resp = client_post(
        &app,
        &f.slug,
        "token",
        ClientAuthMethod::ClientSecretBasic,
        &c.client_id,
        &c.client_secret,
        &[("grant_type", "client_credentials"), ("scope", "devices:read")],
    )
    .await;
    let body = json_ok(resp).await;
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["scope"], "devices:read");
    let at = body["access_token"].as_str().expect("at");
    let info = json_ok(
        client_post(
            &app,
            &f.slug,
            "introspect",
            ClientAuthMethod::ClientSecretBasic,
            &c.client_id,
            &c.client_secret,
            &[("token", at)],
        )
        .await,
    )
    .await;
    assert_eq!(info["active"], true);
    assert_eq!(info["sub"], c.client_id.as_str());
    // openid means nothing without a user.
    let resp = client_post(
        &app,
        &f.slug,
        "token",
        ClientAuthMethod::ClientSecretBasic,
        &c.client_id,
        &c.client_secret,
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    json_err(resp, 400, "invalid_scope").await;
    // Revoking a client-credentials token blocks that token.
    let resp = client_post(
        &app,
        &f.slug,
        "revoke",
        ClientAuthMethod::ClientSecretBasic,
        &c.client_id,
        &c.client_secret,
        &[("token", at)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let info = json_ok(
        client_post(
            &app,
            &f.slug,
            "introspect",
            ClientAuthMethod::ClientSecretBasic,
            &c.client_id,
            &c.client_secret,
            &[("token", at)],
        )
        .await,
    )
    .await;
    assert_eq!(info, serde_json::json!({"active": false}));
    app.cleanup().await;
}

/// Random bodies, queries and headers at every endpoint: the answer is always a 2xx-4xx.
#[test]
fn fuzzed_requests_never_get_a_5xx() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (app, f) = rt.block_on(async {
        let app = TestApp::spawn(Backend::Embedded).await;
        let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
        (app, f)
    });
    let client = server_client();
    let keys = prop::sample::select(vec![
        "grant_type",
        "code",
        "refresh_token",
        "redirect_uri",
        "client_id",
        "client_secret",
        "code_verifier",
        "scope",
        "token",
        "token_type_hint",
        "response_type",
        "state",
        "code_challenge",
        "code_challenge_method",
        "nonce",
        "prompt",
        "max_age",
        "flow",
        "csrf",
        "email",
        "password",
        "decision",
        "access_token",
    ]);
    let value = prop_oneof![
        Just(f.skill.client_id.clone()),
        Just("authorization_code".to_string()),
        Just("refresh_token".to_string()),
        Just(f.skill.redirect_uris[0].clone()),
        ".{0,40}",
        "[A-Za-z0-9._~-]{0,130}",
    ];
    let pairs = prop::collection::vec((keys, value), 0..8);
    let endpoint = prop::sample::select(vec![
        "oauth2/token",
        "oauth2/revoke",
        "oauth2/introspect",
        "oauth2/userinfo",
        "oauth2/authorize",
        "login",
        "consent",
    ]);
    let auth = prop_oneof![
        Just(None),
        Just(Some(format!(
            "Basic {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{}:{}", f.skill.client_id, f.skill.client_secret)
            )
        ))),
        "Basic .{0,30}".prop_map(Some),
        "Bearer .{0,30}".prop_map(Some),
    ];
    // Random cases on a developer's machine; a fixed sequence in CI, so a submission's CI run is
    // reproducible (a developer run that finds a 5xx prints the failing input to fix).
    let config = proptest::test_runner::Config { cases: 300, ..Default::default() };
    let mut runner = if std::env::var("CI").is_ok_and(|v| v == "true") {
        proptest::test_runner::TestRunner::new_with_rng(
            config,
            proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        )
    } else {
        proptest::test_runner::TestRunner::new(config)
    };
    runner
        .run(&(endpoint, pairs, auth, any::<bool>()), |(endpoint, pairs, auth, as_query)| {
            let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs.iter()).finish();
            let status = rt.block_on(async {
                let url = app.url(&format!("/t/{}/{endpoint}", f.slug));
                let mut req = if as_query {
                    client.get(format!("{url}?{body}"))
                } else {
                    client.post(&url).header("content-type", "application/x-www-form-urlencoded").body(body.clone())
                };
                if let Some(a) = &auth
                    && let Ok(v) = reqwest::header::HeaderValue::from_str(a)
                {
                    req = req.header("authorization", v);
                }
                req.send().await.expect("request").status()
            });
            prop_assert!(status.as_u16() < 500, "{endpoint} {body} -> {status}");
            Ok(())
        })
        .expect("no request got a 5xx");
    rt.block_on(app.cleanup());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_in_prometheus_format() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let t = linked_tokens(&app, &f).await;
    json_ok(refresh(&app, &f, t["refresh_token"].as_str().expect("rt")).await).await;
    json_err(refresh(&app, &f, "nope").await, 400, "invalid_grant").await;
    let text = server_client().get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(text.contains(r#"latchkey_token_grants_total{grant_type="refresh_token",outcome="ok"} 1"#), "{text}");
    assert!(text.contains(r#"latchkey_token_grants_total{grant_type="refresh_token",outcome="invalid_grant"} 1"#));
    assert!(
        text.contains(r#"latchkey_http_requests_total{route="/t/{slug}/oauth2/token",method="POST",status="200"}"#)
    );
    assert!(text.contains(r#"latchkey_http_request_duration_seconds_bucket{route="/t/{slug}/oauth2/token",le="4.5"}"#));
    assert!(!text.contains(&f.slug), "tenant slugs are not labels");
    // Scrape-time gauges: the database pools (SQLite: a reader pool and the single writer) and the KV.
    assert!(text.contains(r#"latchkey_db_pool_connections{pool="main",state="idle"}"#), "{text}");
    assert!(text.contains(r#"latchkey_db_pool_connections{pool="writer",state="in_use"}"#), "{text}");
    assert!(text.contains("latchkey_kv_up 1"), "{text}");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_when_one_is_set() {
    let app = TestApp::spawn_with(Backend::Embedded, |c| {
        c.metrics_token = Some(latchkey_server::config::Secret::new("m3trics"))
    })
    .await;
    assert_eq!(server_client().get(app.url("/metrics")).send().await.expect("r").status(), StatusCode::FORBIDDEN);
    let resp = server_client().get(app.url("/metrics")).bearer_auth("m3trics").send().await.expect("r");
    assert_eq!(resp.status(), StatusCode::OK);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() {
    let app = TestApp::spawn_with(Backend::Embedded, |c| {
        c.token_rate_per_client = 3;
        c.api_rate_per_key = 2;
    })
    .await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let c = app
        .auth
        .create_client(
            &t,
            "cc",
            vec![],
            vec!["client_credentials".into()],
            &ClientOptions { scopes: Some("devices".into()), ..Default::default() },
        )
        .await
        .expect("client");
    // All at once, so they share one one-second window however slow the machine is.
    let sends = (0..12).map(|_| {
        client_post(
            &app,
            &f.slug,
            "token",
            ClientAuthMethod::ClientSecretBasic,
            &c.client_id,
            &c.client_secret,
            &[("grant_type", "client_credentials")],
        )
    });
    let mut statuses = Vec::new();
    for resp in futures::future::join_all(sends).await {
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(resp.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
            json_err(resp, 429, "temporarily_unavailable").await;
            statuses.push(429);
        } else {
            statuses.push(resp.status().as_u16());
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 200).count() >= 3, "{statuses:?}");
    // Another client is not affected.
    let other = linked_tokens(&app, &f).await;
    assert!(other["access_token"].is_string());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let resp = client_post(
        &app,
        &f.slug,
        "token",
        ClientAuthMethod::ClientSecretBasic,
        &c.client_id,
        &c.client_secret,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK, "the window passed");

    // Tenant API keys on the skill-backend endpoints.
    let key = app.auth.create_api_key(&t, "lambda").await.expect("key").key;
    let url = app.url(&format!("/t/{}/alexa/directives", f.slug));
    let sends = (0..8).map(|_| server_client().post(url.clone()).bearer_auth(key.clone()).body("{}").send());
    let mut limited = false;
    for resp in futures::future::join_all(sends).await {
        let resp = resp.expect("post");
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(resp.headers().get("retry-after").is_some());
            limited = true;
        }
    }
    assert!(limited);
    app.cleanup().await;
}
