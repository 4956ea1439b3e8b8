//! End users by mail: a tenant invites a user (no password yet), the user chooses one on the
//! tenant's page from the mailed link and then links with it; a reset link from staff or from the
//! sign-in page's "Forgot your password?"; links work once, expire, and belong to one tenant.
use latchkey_core::client_auth::ClientAuthMethod;
use reqwest::StatusCode;
use serde_json::json;

use crate::accounts::mailed_link_token;
use crate::helpers::*;

const NEW_PASSWORD: &str = "purple tractor river 7";

async fn sign_in_status(app: &TestApp, f: &Fixture, email: &str, password: &str) -> StatusCode {
    let b = browser();
    let page = get_page(&b, authorize_url(app, f, "s", None, &[])).await;
    post_login(&b, &app.base, &f.slug, &page, email, password).await.status()
}

async fn choose_password(app: &TestApp, slug: &str, token: &str, password: &str) -> reqwest::Response {
    browser()
        .post(app.url(&format!("/t/{slug}/password")))
        .form(&[("token", token), ("password", password)])
        .send()
        .await
        .expect("set password")
}

async fn invite_and_reset_by_mail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let other = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let key = app.auth.create_api_key(&t, "ops").await.expect("key").key;
    let api = server_client();
    let invited = format!("{}@example.com", unique("invitee"));

    // Invited through the management API: the user exists, without a password.
    let resp = api
        .post(app.url(&format!("/t/{}/api/v1/users/invite", f.slug)))
        .bearer_auth(&key)
        .json(&json!({"email": invited, "name": "Grace"}))
        .send()
        .await
        .expect("invite");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let marker = format!("/t/{}/password?token=", f.slug);
    let token = mailed_link_token(&app.data_dir, &invited, &marker);
    assert_eq!(sign_in_status(&app, &f, &invited, NEW_PASSWORD).await, StatusCode::UNAUTHORIZED);

    // Opening the link shows the form and does not spend it (mail scanners open links too).
    for _ in 0..2 {
        let page = browser().get(app.url(&format!("{marker}{token}"))).send().await.expect("page");
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.expect("html").contains("name=\"token\""));
    }
    // Another tenant's page refuses it without spending it; a weak password keeps it usable too.
    let resp = choose_password(&app, &other.slug, &token, NEW_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = choose_password(&app, &f.slug, &token, "short").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.expect("html").contains("at least 8 characters"));
    let resp = choose_password(&app, &f.slug, &token, NEW_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK, "the link survived the other tenant's page");
    assert!(resp.text().await.expect("html").contains("Your password is set"));
    // Single use.
    assert_eq!(choose_password(&app, &f.slug, &token, NEW_PASSWORD).await.status(), StatusCode::BAD_REQUEST);
    // The new password signs in during linking; the address counts as verified now.
    assert_eq!(sign_in_status(&app, &f, &invited, NEW_PASSWORD).await, StatusCode::OK);
    let user_id = app.store.scoped(t.id()).user_by_email(&invited).await.expect("db").expect("user").id;
    let user = app.store.scoped(t.id()).user(&user_id).await.expect("db").expect("user");
    assert!(user.email_verified);
    // Staff mail a reset link through the API.
    let resp = api
        .post(app.url(&format!("/t/{}/api/v1/users/{user_id}/password-reset", f.slug)))
        .bearer_auth(&key)
        .send()
        .await
        .expect("reset");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_ne!(mailed_link_token(&app.data_dir, &invited, &marker), token, "a fresh link");

    // "Forgot your password?" on the sign-in page: the same answer for a stranger, a mail for a user.
    let b = browser();
    let page = get_page(&b, authorize_url(&app, &f, "s", None, &[])).await;
    let forgot = format!("/t/{}/password/forgot?flow=", f.slug);
    assert!(page.contains(&forgot), "the sign-in page links to the reset form");
    let before = std::fs::read_dir(app.data_dir.join("outbox")).expect("outbox").count();
    for email in [format!("{}@example.com", unique("nobody")), f.email.clone()] {
        let resp = b
            .post(app.url(&format!("/t/{}/password/forgot", f.slug)))
            .form(&[("email", email.as_str())])
            .send()
            .await
            .expect("forgot");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.text().await.expect("html").contains("Check your mail"));
    }
    assert_eq!(
        std::fs::read_dir(app.data_dir.join("outbox")).expect("outbox").count(),
        before + 1,
        "one mail, to the user"
    );
    let token = mailed_link_token(&app.data_dir, &f.email, &marker);
    assert_eq!(choose_password(&app, &f.slug, &token, NEW_PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(
        sign_in_status(&app, &f, &f.email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "the old password is gone"
    );
    assert_eq!(sign_in_status(&app, &f, &f.email, NEW_PASSWORD).await, StatusCode::OK);

    // Audited, under the staff's key and the user.
    let events = app.store.scoped(t.id()).audit_events(None, 50).await.expect("audit");
    for action in
        ["user.invited", "user.password_reset_sent", "user.password_set_by_link", "user.password_reset_requested"]
    {
        assert!(events.iter().any(|e| e.action == action), "{action} audited");
    }
    app.cleanup().await;
}

on_both_backends!(invite_and_reset_by_mail, mail_quotas_are_per_tenant_and_purpose);

/// A stranger asking one tenant for reset links to an address used to spend the one quota that
/// address had, across tenants and purposes, and so blocked another tenant's invitation to it.
/// Quotas are per (tenant, purpose, address), plus per requesting address.
async fn mail_quotas_are_per_tenant_and_purpose(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let b = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let ta = app.auth.tenant_for_admin(&a.slug).await.expect("a");
    let tb = app.auth.tenant_for_admin(&b.slug).await.expect("b");
    let victim = format!("{}@example.com", unique("victim"));
    // The stranger, from ever new addresses, asks tenant A for reset links to the victim's address.
    let mut limited = false;
    for i in 0..10 {
        match app.auth.request_user_password_reset(&ta.ctx, &victim, &format!("192.0.2.{}", 10 + i)).await {
            Ok(()) => {}
            Err(latchkey_oauth::ServiceError::RateLimited { .. }) => {
                limited = true;
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(limited, "tenant A's quota for that address and purpose ran out");
    // Tenant B's invitation to the same address still goes out, and so do A's own invitations.
    app.auth.invite_user(&tb, &victim, None).await.expect("B invites the victim");
    let marker = format!("/t/{}/password?token=", b.slug);
    assert!(!mailed_link_token(&app.data_dir, &victim, &marker).is_empty());
    app.auth.invite_user(&ta, &victim, None).await.expect("A's staff invite the victim");
    // One requesting address spraying many addresses is limited too.
    let mut n = 0;
    let sprayer = "203.0.113.40";
    loop {
        n += 1;
        assert!(n <= 60, "one address may ask for mail without limit");
        let who = format!("{}@example.com", unique("x"));
        if app.auth.request_user_password_reset(&tb.ctx, &who, sprayer).await.is_err() {
            break;
        }
    }
    assert!(n > 10, "{n}");
    app.cleanup().await;
}

on_both_backends!(a_password_change_ends_sessions_and_grants);

/// A changed password used to leave the old doors open: the old browser session still authorized
/// silently and the old refresh and access tokens kept working. Now a password set by mailed link,
/// or by staff through the API, ends every browser session of that user and every grant.
async fn a_password_change_ends_sessions_and_grants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    // The API sets the same password again, so the mailed link comes last.
    for door in ["management API", "mailed link"] {
        // A linked account, and a browser that is still signed in.
        let b = browser();
        let loc = link_in_browser(&app, &f, &b, "s1", None).await;
        let code = query_param(&loc, "code").expect("code");
        let tokens = json_ok(exchange_code(&app, &f, &code, None).await).await;
        let (rt, at) = (tokens["refresh_token"].as_str().expect("rt"), tokens["access_token"].as_str().expect("at"));
        // The session authorizes silently (straight to Alexa's redirect URI) before the change.
        let resp = b.get(authorize_url(&app, &f, "s2", None, &[])).send().await.expect("authorize");
        assert!(resp.status().is_redirection(), "{door}: the signed-in browser goes straight on");

        match door {
            "mailed link" => {
                app.auth.send_user_password_reset(&t, &f.user_id).await.expect("reset mail");
                let marker = format!("/t/{}/password?token=", f.slug);
                let token = mailed_link_token(&app.data_dir, &f.email, &marker);
                assert_eq!(choose_password(&app, &f.slug, &token, NEW_PASSWORD).await.status(), StatusCode::OK);
            }
            _ => {
                let key = app.auth.create_api_key(&t, "ops").await.expect("key").key;
                let resp = server_client()
                    .put(app.url(&format!("/t/{}/api/v1/users/{}/password", f.slug, f.user_id)))
                    .bearer_auth(&key)
                    .json(&json!({"password": PASSWORD}))
                    .send()
                    .await
                    .expect("set password");
                assert!(resp.status().is_success(), "{door}: {}", resp.status());
            }
        }

        // The old session must sign in again; the old grant is gone, access token included.
        let resp = b.get(authorize_url(&app, &f, "s3", None, &[])).send().await.expect("authorize");
        assert_eq!(resp.status(), StatusCode::OK, "{door}: the sign-in form, not a silent redirect");
        assert!(resp.text().await.expect("page").contains("name=\"password\""), "{door}");
        let resp = refresh(&app, &f, rt).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{door}: the old refresh token is dead");
        assert_eq!(introspect(&app, &f, at).await, json!({"active": false}), "{door}: and its access token");
    }

    // The tenant lets a user's own reset keep their grants: the session still ends, the grant
    // lives on; a password set by an admin still ends both.
    let key = app.auth.create_api_key(&t, "policy").await.expect("key").key;
    let policy_url = app.url(&format!("/t/{}/api/v1/password-policy", f.slug));
    let resp = server_client()
        .put(&policy_url)
        .bearer_auth(&key)
        .json(&json!({"keep_grants_on_self_service_reset": true}))
        .send()
        .await
        .expect("policy");
    assert_eq!(resp.status(), StatusCode::OK);
    let read: serde_json::Value =
        server_client().get(&policy_url).bearer_auth(&key).send().await.expect("get").json().await.expect("json");
    assert_eq!(read, json!({"keep_grants_on_self_service_reset": true}));
    let set_password = |password: &'static str| {
        server_client()
            .put(app.url(&format!("/t/{}/api/v1/users/{}/password", f.slug, f.user_id)))
            .bearer_auth(&key)
            .json(&json!({"password": password}))
            .send()
    };
    assert!(set_password(PASSWORD).await.expect("set").status().is_success());
    let b = browser();
    let loc = link_in_browser(&app, &f, &b, "k1", None).await;
    let tokens = json_ok(exchange_code(&app, &f, &query_param(&loc, "code").expect("code"), None).await).await;
    let (rt, at) = (tokens["refresh_token"].as_str().expect("rt"), tokens["access_token"].as_str().expect("at"));
    app.auth.send_user_password_reset(&t, &f.user_id).await.expect("reset mail");
    let token = mailed_link_token(&app.data_dir, &f.email, &format!("/t/{}/password?token=", f.slug));
    assert_eq!(choose_password(&app, &f.slug, &token, NEW_PASSWORD).await.status(), StatusCode::OK);
    let resp = b.get(authorize_url(&app, &f, "k2", None, &[])).send().await.expect("authorize");
    assert_eq!(resp.status(), StatusCode::OK, "the session ended all the same");
    assert_eq!(introspect(&app, &f, at).await["active"], json!(true), "the grant was kept");
    let kept = json_ok(refresh(&app, &f, rt).await).await;
    let rt2 = kept["refresh_token"].as_str().expect("rotated rt");
    assert!(set_password(PASSWORD).await.expect("set").status().is_success());
    assert_eq!(refresh(&app, &f, rt2).await.status(), StatusCode::BAD_REQUEST, "an admin's change ends it");
    app.cleanup().await;
}
