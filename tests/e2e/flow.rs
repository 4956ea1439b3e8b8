//! The linking flow exactly as Alexa drives it (ALEXA.md §1–2), on both backends.
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_oauth::admin::ClientOptions;
use reqwest::StatusCode;

use crate::helpers::*;

on_both_backends!(
    link_with_http_basic,
    link_with_body_credentials,
    link_with_pkce,
    pkce_errors,
    replayed_code_revokes_its_tokens,
    redirect_uri_rules,
    wrong_client_credentials,
    consent_is_remembered_and_deny_works,
    wrong_password_stays_on_the_form,
    revoke_then_introspect_inactive,
);

async fn link_with_http_basic(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let code = get_code(&app, &f, None).await;
    let resp = exchange_code(&app, &f, &code, None).await;
    assert_eq!(resp.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let body = json_ok(resp).await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().is_some_and(|e| e >= 360), "{body}");
    assert_eq!(body["scope"], "openid profile");
    let at = body["access_token"].as_str().expect("access token");
    assert!(at.len() < 2048, "Alexa wants tokens well under 2 KB; got {}", at.len());
    assert!(body["refresh_token"].as_str().is_some_and(|r| r.len() >= 40));
    assert!(body["id_token"].is_string(), "openid was granted");
    let info = introspect(&app, &f, at).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["sub"], f.user_id.as_str());
    assert_eq!(info["client_id"], f.skill.client_id.as_str());
    assert_eq!(info["username"], f.email.as_str());
    app.cleanup().await;
}

async fn link_with_body_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretPost).await;
    let code = get_code(&app, &f, None).await;
    // Basic is refused for a body-credentials client, and the error says which scheme is expected.
    let s = &f.skill;
    let p =
        [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", s.redirect_uris[0].as_str())];
    let resp =
        token_request_as(&app, &f, ClientAuthMethod::ClientSecretBasic, &s.client_id, &s.client_secret, &p).await;
    assert!(resp.headers().get("www-authenticate").is_some());
    let err = json_err(resp, 401, "invalid_client").await;
    let d = err["error_description"].as_str().unwrap_or_default();
    assert!(d.contains("Credentials in request body") && d.contains("HTTP Basic"), "{d}");
    // The code was not consumed by a request that failed client authentication.
    let body = json_ok(exchange_code(&app, &f, &code, None).await).await;
    assert!(body["access_token"].is_string());
    app.cleanup().await;
}

async fn link_with_pkce(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let p = pkce();
    let code = get_code(&app, &f, Some(&p.challenge)).await;
    let body = json_ok(exchange_code(&app, &f, &code, Some(&p.verifier)).await).await;
    assert!(body["access_token"].is_string());
    app.cleanup().await;
}

async fn pkce_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let p = pkce();
    // Wrong verifier.
    let code = get_code(&app, &f, Some(&p.challenge)).await;
    let other = pkce();
    json_err(exchange_code(&app, &f, &code, Some(&other.verifier)).await, 400, "invalid_grant").await;
    // Missing verifier.
    let code = get_code(&app, &f, Some(&p.challenge)).await;
    json_err(exchange_code(&app, &f, &code, None).await, 400, "invalid_grant").await;
    // A verifier for a request that had no challenge (downgrade).
    let code = get_code(&app, &f, None).await;
    json_err(exchange_code(&app, &f, &code, Some(&p.verifier)).await, 400, "invalid_grant").await;
    // `plain` is refused at the authorization endpoint, back to the client with the state.
    let url =
        authorize_url(&app, &f, "s1", None, &[("code_challenge", &p.verifier), ("code_challenge_method", "plain")]);
    let resp = browser().get(url).send().await.expect("authorize");
    assert_eq!(resp.status(), StatusCode::FOUND);
    let loc = location(&resp);
    assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("s1"));
    // A client that requires PKCE refuses a request without it.
    let strict = app
        .fixture_with(ClientAuthMethod::ClientSecretBasic, ClientOptions { require_pkce: true, ..Default::default() })
        .await;
    let resp = browser().get(authorize_url(&app, &strict, "s2", None, &[])).send().await.expect("authorize");
    assert_eq!(query_param(&location(&resp), "error").as_deref(), Some("invalid_request"));
    app.cleanup().await;
}

async fn replayed_code_revokes_its_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let code = get_code(&app, &f, None).await;
    let first = json_ok(exchange_code(&app, &f, &code, None).await).await;
    let at = first["access_token"].as_str().expect("at");
    assert_eq!(introspect(&app, &f, at).await["active"], true);
    let err = json_err(exchange_code(&app, &f, &code, None).await, 400, "invalid_grant").await;
    assert!(err["error_description"].as_str().is_some_and(|d| d.contains("already used")));
    // RFC 6749 §4.1.2: what the code issued is revoked.
    assert_eq!(introspect(&app, &f, at).await, serde_json::json!({"active": false}));
    let rt = first["refresh_token"].as_str().expect("rt");
    json_err(refresh(&app, &f, rt).await, 400, "invalid_grant").await;
    // A made-up code is simply invalid.
    json_err(exchange_code(&app, &f, "not-a-code", None).await, 400, "invalid_grant").await;
    app.cleanup().await;
}

async fn redirect_uri_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    // An unregistered redirect URI gets our error page, never a redirect.
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", &f.skill.client_id)
        .append_pair("response_type", "code")
        .append_pair("state", "x")
        .append_pair("redirect_uri", "https://evil.example/api/skill/link/M2TESTVENDOR");
    let resp = browser()
        .get(app.url(&format!("/t/{}/oauth2/authorize?{}", f.slug, q.finish())))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    assert!(
        resp.headers()
            .get("content-security-policy")
            .is_some_and(|v| v.to_str().unwrap_or("").contains("frame-ancestors 'none'"))
    );
    let page = resp.text().await.expect("page");
    assert!(page.contains("is not registered"), "{page}");
    // Unknown client: error page too.
    let resp = browser()
        .get(app.url(&format!("/t/{}/oauth2/authorize?client_id=nope&response_type=code&redirect_uri=https://pitangui.amazon.com/api/skill/link/M2TESTVENDOR", f.slug)))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    // Each of the three regional URIs is accepted.
    for uri in &f.skill.redirect_uris {
        let url = authorize_url(&app, &f, "s", None, &[("redirect_uri", uri)]);
        assert_eq!(browser().get(url).send().await.expect("authorize").status(), StatusCode::OK, "{uri}");
    }
    // The token request must repeat the same redirect URI.
    let code = get_code(&app, &f, None).await;
    let p = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", f.skill.redirect_uris[1].as_str()),
    ];
    json_err(token_request(&app, &f, &p).await, 400, "invalid_grant").await;
    let code = get_code(&app, &f, None).await;
    json_err(
        token_request(&app, &f, &[("grant_type", "authorization_code"), ("code", code.as_str())]).await,
        400,
        "invalid_grant",
    )
    .await;
    // Unknown scope: back to the client with invalid_scope.
    let resp = browser()
        .get(authorize_url(&app, &f, "s", None, &[("scope", "openid admin")]))
        .send()
        .await
        .expect("authorize");
    assert_eq!(query_param(&location(&resp), "error").as_deref(), Some("invalid_scope"));
    app.cleanup().await;
}

async fn wrong_client_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let code = get_code(&app, &f, None).await;
    let s = &f.skill;
    let p =
        [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", s.redirect_uris[0].as_str())];
    let resp = token_request_as(&app, &f, ClientAuthMethod::ClientSecretBasic, &s.client_id, "wrong-secret", &p).await;
    assert!(resp.headers().get("www-authenticate").is_some_and(|v| v.to_str().unwrap_or("").starts_with("Basic")));
    json_err(resp, 401, "invalid_client").await;
    let resp =
        token_request_as(&app, &f, ClientAuthMethod::ClientSecretBasic, "no-such-client", &s.client_secret, &p).await;
    json_err(resp, 401, "invalid_client").await;
    app.cleanup().await;
}

async fn consent_is_remembered_and_deny_works(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let b = browser();
    let loc = link_in_browser(&app, &f, &b, "first", None).await;
    assert!(query_param(&loc, "code").is_some());
    // Same browser again: signed in and consented, so Alexa gets a code straight away.
    let resp = b.get(authorize_url(&app, &f, "second", None, &[])).send().await.expect("authorize");
    assert_eq!(resp.status(), StatusCode::FOUND);
    let loc = location(&resp);
    assert!(query_param(&loc, "code").is_some());
    assert_eq!(query_param(&loc, "state").as_deref(), Some("second"));
    // prompt=login forces the form even with a session.
    let resp = b.get(authorize_url(&app, &f, "third", None, &[("prompt", "login")])).send().await.expect("authorize");
    assert_eq!(resp.status(), StatusCode::OK);
    // prompt=none without a session: login_required back to the client.
    let resp =
        browser().get(authorize_url(&app, &f, "fourth", None, &[("prompt", "none")])).send().await.expect("authorize");
    let loc = location(&resp);
    assert_eq!(query_param(&loc, "error").as_deref(), Some("login_required"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("fourth"));
    // A new user who denies: access_denied with the state.
    let other = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let b = browser();
    let page = get_page(&b, authorize_url(&app, &other, "deny-me", None, &[])).await;
    let page = post_login(&b, &app.base, &other.slug, &page, &other.email, PASSWORD).await.text().await.expect("page");
    let resp = post_consent(&b, &app.base, &other.slug, &page, "deny").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let loc = location(&resp);
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("deny-me"));
    app.cleanup().await;
}

async fn wrong_password_stays_on_the_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let b = browser();
    let mut page = get_page(&b, authorize_url(&app, &f, "s", None, &[])).await;
    for (email, password) in [(f.email.as_str(), "wrong password"), ("nobody@example.com", PASSWORD)] {
        let resp = post_login(&b, &app.base, &f.slug, &page, email, password).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(resp.headers().get("location").is_none(), "never a redirect to the client");
        page = resp.text().await.expect("page");
        assert!(page.contains("role=\"alert\"") && page.contains("not correct"), "{page}");
    }
    // A form posted without the browser cookie (cross-site) is refused.
    let resp = browser()
        .post(app.url(&format!("/t/{}/login", f.slug)))
        .form(&[
            ("flow", hidden(&page, "flow")),
            ("csrf", hidden(&page, "csrf")),
            ("email", f.email.clone()),
            ("password", PASSWORD.into()),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Rate limit: after 10 failures for one account, even the right password waits.
    for _ in 0..10 {
        post_login(&b, &app.base, &f.slug, &page, &f.email, "nope nope").await;
    }
    let resp = post_login(&b, &app.base, &f.slug, &page, &f.email, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.text().await.expect("page").contains("Too many failed sign-in attempts"));
    app.cleanup().await;
}

async fn revoke_then_introspect_inactive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let t = linked_tokens(&app, &f).await;
    let at = t["access_token"].as_str().expect("at");
    let rt = t["refresh_token"].as_str().expect("rt");
    assert_eq!(revoke(&app, &f, rt).await.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &f, at).await, serde_json::json!({"active": false}));
    assert_eq!(introspect(&app, &f, rt).await, serde_json::json!({"active": false}));
    json_err(refresh(&app, &f, rt).await, 400, "invalid_grant").await;
    // Revoking something unknown is still 200 (RFC 7009 §2.2).
    assert_eq!(revoke(&app, &f, "garbage").await.status(), StatusCode::OK);
    // Revoking an access token ends its grant.
    let t = linked_tokens(&app, &f).await;
    let at = t["access_token"].as_str().expect("at");
    assert_eq!(revoke(&app, &f, at).await.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &f, at).await["active"], false);
    json_err(refresh(&app, &f, t["refresh_token"].as_str().expect("rt")).await, 400, "invalid_grant").await;
    app.cleanup().await;
}
