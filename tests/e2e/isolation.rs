//! Tenant isolation: every endpoint and repository tried with another tenant's identifiers and tokens.
use latchkey_core::client_auth::ClientAuthMethod;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

on_both_backends!(tenants_cannot_cross);

async fn tenants_cannot_cross(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let b = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let a_tokens = linked_tokens(&app, &a).await;
    let a_at = a_tokens["access_token"].as_str().expect("at");
    let a_rt = a_tokens["refresh_token"].as_str().expect("rt");
    let sb = &b.skill;

    // Discovery is per tenant.
    let da: serde_json::Value = reqwest::get(app.url(&format!("/t/{}/.well-known/openid-configuration", a.slug)))
        .await
        .expect("d")
        .json()
        .await
        .expect("j");
    assert_eq!(da["issuer"], a.issuer.as_str());
    assert_ne!(a.issuer, b.issuer);

    // A's client at B's authorization endpoint: unknown client, error page, no redirect.
    let mut cross = authorize_url(&app, &a, "s", None, &[]);
    cross = cross.replace(&format!("/t/{}/", a.slug), &format!("/t/{}/", b.slug));
    let resp = browser().get(cross).send().await.expect("authorize");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());

    // A's client credentials at B's token endpoint.
    let s = &a.skill;
    let resp = client_post(
        &app,
        &b.slug,
        "token",
        s.auth_method,
        &s.client_id,
        &s.client_secret,
        &[("grant_type", "refresh_token"), ("refresh_token", a_rt)],
    )
    .await;
    json_err(resp, 401, "invalid_client").await;

    // A's code and refresh token presented by B's own client at B.
    let a_code = get_code(&app, &a, None).await;
    let resp = client_post(
        &app,
        &b.slug,
        "token",
        sb.auth_method,
        &sb.client_id,
        &sb.client_secret,
        &[("grant_type", "authorization_code"), ("code", &a_code), ("redirect_uri", &sb.redirect_uris[0])],
    )
    .await;
    json_err(resp, 400, "invalid_grant").await;
    let resp = client_post(
        &app,
        &b.slug,
        "token",
        sb.auth_method,
        &sb.client_id,
        &sb.client_secret,
        &[("grant_type", "refresh_token"), ("refresh_token", a_rt)],
    )
    .await;
    json_err(resp, 400, "invalid_grant").await;
    // (A's code was not burnt by B's attempt.)
    json_ok(exchange_code(&app, &a, &a_code, None).await).await;

    // Introspection at B knows nothing of A's tokens.
    for tok in [a_at, a_rt] {
        let resp = client_post(
            &app,
            &b.slug,
            "introspect",
            sb.auth_method,
            &sb.client_id,
            &sb.client_secret,
            &[("token", tok)],
        )
        .await;
        assert_eq!(json_ok(resp).await, json!({"active": false}));
    }
    // A's API key does not open B's introspection.
    let ta = app.auth.tenant_for_admin(&a.slug).await.expect("a");
    let tb = app.auth.tenant_for_admin(&b.slug).await.expect("b");
    let a_key = app.auth.create_api_key(&ta, "lambda").await.expect("key");
    let resp = server_client()
        .post(app.url(&format!("/t/{}/oauth2/introspect", b.slug)))
        .bearer_auth(&a_key.key)
        .form(&[("token", a_at)])
        .send()
        .await
        .expect("introspect");
    json_err(resp, 401, "invalid_client").await;
    // …while at A it works and sees A's token.
    let resp = server_client()
        .post(app.url(&format!("/t/{}/oauth2/introspect", a.slug)))
        .bearer_auth(&a_key.key)
        .form(&[("token", a_at)])
        .send()
        .await
        .expect("introspect");
    assert_eq!(json_ok(resp).await["active"], true);

    // Userinfo at B with A's token.
    let resp = server_client()
        .get(app.url(&format!("/t/{}/oauth2/userinfo", b.slug)))
        .bearer_auth(a_at)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get("www-authenticate").is_some_and(|v| v.to_str().unwrap_or("").contains("invalid_token")));

    // Revocation at B of A's refresh token is a 200 that changes nothing.
    let resp =
        client_post(&app, &b.slug, "revoke", sb.auth_method, &sb.client_id, &sb.client_secret, &[("token", a_rt)])
            .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &a, a_at).await["active"], true);

    // A flow begun at A cannot be finished at B.
    let br = browser();
    let page = get_page(&br, authorize_url(&app, &a, "s", None, &[])).await;
    let resp = post_login(&br, &app.base, &b.slug, &page, &a.email, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // Repositories scoped to B cannot see A's rows.
    let scoped_b = app.store.scoped(tb.id());
    assert!(scoped_b.user(&a.user_id).await.expect("q").is_none());
    assert!(scoped_b.user_by_email(&a.email).await.expect("q").is_none());
    assert!(scoped_b.skill(&a.skill.id).await.expect("q").is_none());
    assert!(scoped_b.skill(&a.skill.skill.alexa_skill_id).await.expect("q").is_none());
    assert!(scoped_b.client(&a.skill.client_id).await.expect("q").is_none());
    assert!(scoped_b.client_by_row_id(&a.skill.skill.oauth_client_id).await.expect("q").is_none());
    assert!(scoped_b.list_links(Some(&a.user_id)).await.expect("q").is_empty());
    assert!(scoped_b.api_key_by_hash(&latchkey_core::hashing::secret_hash(&a_key.key)).await.expect("q").is_none());
    assert!(scoped_b.delete_user(&a.user_id).await.is_err());
    assert!(scoped_b.delete_client(&a.skill.client_id).await.is_err());
    assert!(scoped_b.delete_api_key(&a_key.id).await.is_err());
    assert!(
        scoped_b
            .audit_events(None, 100)
            .await
            .expect("q")
            .iter()
            .all(|e| e.tenant_id.as_deref() == Some(tb.id().as_str()))
    );
    // A's user and link survived all of that.
    let scoped_a = app.store.scoped(ta.id());
    assert!(scoped_a.user(&a.user_id).await.expect("q").is_some());
    assert_eq!(scoped_a.list_links(Some(&a.user_id)).await.expect("q").len(), 1);
    app.cleanup().await;
}
