//! Refresh tokens as Alexa needs them (ALEXA.md §2): rotation that survives a retried refresh, reuse
//! detection only after the grace window, and fixed tokens.
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_core::refresh::RefreshPolicy;
use latchkey_oauth::admin::ClientOptions;

use crate::helpers::*;

on_both_backends!(rotation_with_grace_window, reuse_after_window_revokes_family, fixed_refresh_tokens);

async fn rotation_with_grace_window(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let t1 = linked_tokens(&app, &f).await;
    let rt1 = t1["refresh_token"].as_str().expect("rt1");
    let t2 = json_ok(refresh(&app, &f, rt1).await).await;
    let rt2 = t2["refresh_token"].as_str().expect("rt2");
    assert_ne!(rt1, rt2, "rotate issues a new refresh token");
    assert!(t2["expires_in"].as_i64().is_some_and(|e| e >= 360));
    // Alexa lost the answer and retries with rt1: inside the grace window it gets a working pair.
    let t3 = json_ok(refresh(&app, &f, rt1).await).await;
    let rt3 = t3["refresh_token"].as_str().expect("rt3");
    assert_ne!(rt3, rt2);
    for at in [&t2["access_token"], &t3["access_token"]] {
        assert_eq!(introspect(&app, &f, at.as_str().expect("at")).await["active"], true);
    }
    // Both children keep working.
    json_ok(refresh(&app, &f, rt3).await).await;
    json_ok(refresh(&app, &f, rt2).await).await;
    // Asking for less scope is fine; asking for more is not.
    let narrowed = json_ok(
        token_request(&app, &f, &[("grant_type", "refresh_token"), ("refresh_token", rt3), ("scope", "profile")]).await,
    )
    .await;
    assert_eq!(narrowed["scope"], "profile");
    json_err(
        token_request(&app, &f, &[("grant_type", "refresh_token"), ("refresh_token", rt3), ("scope", "email")]).await,
        400,
        "invalid_scope",
    )
    .await;
    json_err(refresh(&app, &f, "unknown-token").await, 400, "invalid_grant").await;
    app.cleanup().await;
}

async fn reuse_after_window_revokes_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let strict = ClientOptions { refresh_policy: Some(RefreshPolicy::Rotate { grace_secs: 0 }), ..Default::default() };
    let f = app.fixture_with(ClientAuthMethod::ClientSecretBasic, strict).await;
    let t1 = linked_tokens(&app, &f).await;
    let rt1 = t1["refresh_token"].as_str().expect("rt1");
    let t2 = json_ok(refresh(&app, &f, rt1).await).await;
    // Past the (zero-second) grace window, a reuse of rt1 is theft: the whole family goes.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let err = json_err(refresh(&app, &f, rt1).await, 400, "invalid_grant").await;
    assert!(err["error_description"].as_str().is_some_and(|d| d.contains("revoked")), "{err}");
    json_err(refresh(&app, &f, t2["refresh_token"].as_str().expect("rt2")).await, 400, "invalid_grant").await;
    assert_eq!(introspect(&app, &f, t2["access_token"].as_str().expect("at2")).await["active"], false);
    // And it is in the audit log.
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let events = app.store.scoped(t.id()).audit_events(Some("grant.revoked"), 10).await.expect("audit");
    assert!(events.iter().any(|e| e.detail["reason"].as_str().is_some_and(|r| r.contains("reused"))), "{events:?}");
    app.cleanup().await;
}

async fn fixed_refresh_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fixed = ClientOptions { refresh_policy: Some(RefreshPolicy::Fixed { idle_secs: None }), ..Default::default() };
    let f = app.fixture_with(ClientAuthMethod::ClientSecretPost, fixed).await;
    let t1 = linked_tokens(&app, &f).await;
    let rt = t1["refresh_token"].as_str().expect("rt");
    for _ in 0..3 {
        let t = json_ok(refresh(&app, &f, rt).await).await;
        assert_eq!(t["refresh_token"], rt, "a fixed refresh token stays the same");
        assert_eq!(introspect(&app, &f, t["access_token"].as_str().expect("at")).await["active"], true);
    }
    app.cleanup().await;
}
