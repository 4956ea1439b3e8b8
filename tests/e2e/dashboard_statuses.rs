//! The dashboard's server functions answer with the status their error means, as the browser's
//! fetch sees it: 400/401/403/409/429, 500 only for real faults. Every refusal used to be a 500,
//! which tripped the 5xx alert. A plain form post (no JavaScript) still gets its redirect back.
use reqwest::StatusCode;

use crate::accounts::mailed_token;
use crate::helpers::*;

/// The server function behind the first form of `page` (its action carries a hash).
async fn action(app: &TestApp, page: &str) -> String {
    let html = server_client().get(app.url(page)).send().await.expect("page").text().await.expect("html");
    html.split("<form action=\"").nth(1).and_then(|r| r.split('"').next()).expect("a form").to_owned()
}

async fn call(app: &TestApp, action: &str, origin: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let resp = server_client()
        .post(app.url(action))
        .header("origin", origin)
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .expect("call");
    let status = resp.status();
    (status, resp.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_function_errors_carry_their_status() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let origin = app.base.clone();
    let sign_in = action(&app, "/admin/login").await;
    let sign_up = action(&app, "/admin/signup").await;
    let member = format!("{}@example.com", unique("m"));
    let f = app.fixture(latchkey_core::client_auth::ClientAuthMethod::ClientSecretBasic).await;
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    app.auth.invite_member(&t, &member, latchkey_core::role::Role::Admin).await.expect("invite");
    let token = mailed_token(&app.data_dir, &member, "/invitation");
    app.auth.accept_invitation(&token, PASSWORD, "127.0.0.1").await.expect("joined");

    let wrong = [("email", member.as_str()), ("password", "not the password")];
    assert_eq!(call(&app, &sign_in, &origin, &wrong).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, &sign_in, "http://evil.example", &wrong).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        call(&app, &sign_in, &origin, &[("email", "x@example.com")]).await.0,
        StatusCode::BAD_REQUEST,
        "a missing argument"
    );
    let signup = |slug: &'static str, email: &'static str| {
        [("company", "Acme"), ("slug", slug), ("email", email), ("password", "a long password 1")]
    };
    assert_eq!(call(&app, &sign_up, &origin, &signup("admin", "a@example.com")).await.0, StatusCode::CONFLICT);
    assert_eq!(call(&app, &sign_up, &origin, &signup("fresh-slug", "not an address")).await.0, StatusCode::BAD_REQUEST);
    // Guessing: the throttle's refusal is a 429 with Retry-After.
    let mut last = StatusCode::OK;
    for _ in 0..10 {
        last = call(&app, &sign_in, &origin, &wrong).await.0;
        if last == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // A plain form post without JavaScript still goes back to its page.
    let resp = server_client()
        .post(app.url(&sign_in))
        .header("origin", &origin)
        .header("referer", app.url("/admin/login"))
        .header("accept", "text/html")
        .form(&wrong)
        .send()
        .await
        .expect("form post");
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(resp.headers().get("location").is_some());
    // Nothing above was a server fault.
    let metrics = server_client().get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(
        !metrics.lines().any(|l| l.contains("status=\"500\"") && l.contains("/admin/fn")),
        "no 500 was recorded for a server function:\n{metrics}"
    );
    app.cleanup().await;
}
