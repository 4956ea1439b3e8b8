//! Password guessing cannot lock anyone out: failures count per (account, client address) with
//! growing delays, plus a per-address limit across accounts. Ten wrong passwords from one address
//! used to lock an end user or a dashboard member for fifteen minutes from everywhere; and accepting
//! an invitation checked an existing account's password with no limit at all.
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_core::role::Role;
use latchkey_oauth::ServiceError;
use reqwest::StatusCode;

use crate::accounts::mailed_token;
use crate::helpers::*;

const ATTACKER: &str = "192.0.2.66";
const OWNER: &str = "198.51.100.7";

on_both_backends!(guessing_never_locks_the_owner_out);

async fn guessing_never_locks_the_owner_out(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.trusted_proxies = "127.0.0.1".into()).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;

    // End users' sign-in page: the attacker guesses until the page makes them wait; a wait applies
    // even to the right password from that address, but the owner, elsewhere, signs in at once.
    let attacker = browser();
    let mut page = sign_in_page_from(&attacker, &app, &f, ATTACKER).await;
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let resp = login_from(&attacker, &app, &f, &page, &f.email, "wrong password!", ATTACKER).await;
        statuses.push(resp.status());
        page = resp.text().await.expect("page");
        if statuses.last() == Some(&StatusCode::TOO_MANY_REQUESTS) {
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert!(statuses.len() > 5, "a few free tries first: {statuses:?}");
    assert!(page.contains("Too many failed sign-in attempts. Try again in"), "{page}");
    let resp = login_from(&attacker, &app, &f, &page, &f.email, PASSWORD, ATTACKER).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "the guessing address waits, right password or not");
    let owner = browser();
    let page = sign_in_page_from(&owner, &app, &f, OWNER).await;
    let resp = login_from(&owner, &app, &f, &page, &f.email, PASSWORD, OWNER).await;
    assert!(
        resp.status().is_success() || resp.status().is_redirection(),
        "the owner is not locked out: {}",
        resp.status()
    );

    // Dashboard sign-in: the same for a member.
    let member = format!("{}@example.com", unique("member"));
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    app.auth.invite_member(&t, &member, Role::Admin).await.expect("invite");
    let token = mailed_token(&app.data_dir, &member, "/invitation");
    app.auth.accept_invitation(&token, PASSWORD, OWNER).await.expect("joined");
    let mut n = 0;
    loop {
        n += 1;
        assert!(n <= 15, "the guessing address is never slowed down");
        match app.auth.dashboard_sign_in(&member, "wrong password!", ATTACKER).await {
            Err(ServiceError::Unauthorized(_)) => continue,
            Err(ServiceError::RateLimited { retry_after }) => {
                assert!(retry_after >= 1);
                break;
            }
            other => panic!("unexpected {:?}", other.map(|_| ())),
        }
    }
    assert!(n > 5, "a few free tries first");
    assert!(matches!(
        app.auth.dashboard_sign_in(&member, PASSWORD, ATTACKER).await,
        Err(ServiceError::RateLimited { .. })
    ));
    app.auth.dashboard_sign_in(&member, PASSWORD, OWNER).await.expect("the member is not locked out");

    // Accepting an invitation with an existing account checks its password under the same throttle.
    let other = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let t2 = app.auth.tenant_for_admin(&other.slug).await.expect("tenant");
    app.auth.invite_member(&t2, &member, Role::Viewer).await.expect("invite");
    let token = mailed_token(&app.data_dir, &member, "/invitation");
    let guesser = "203.0.113.5";
    let mut limited = false;
    for _ in 0..15 {
        match app.auth.accept_invitation(&token, "wrong password!", guesser).await {
            Err(ServiceError::Unauthorized(_)) => {}
            Err(ServiceError::RateLimited { .. }) => {
                limited = true;
                break;
            }
            other => panic!("unexpected {:?}", other.map(|_| ())),
        }
    }
    assert!(limited, "guessing through an invitation link is throttled");
    app.auth.accept_invitation(&token, PASSWORD, OWNER).await.expect("the owner accepts from elsewhere");

    // One address spraying many accounts hits the per-address limit, even for an account it never tried.
    let sprayer = "203.0.113.99";
    let mut sprayed = 0;
    let blocked = loop {
        sprayed += 1;
        assert!(sprayed <= 60, "spraying is never limited");
        let who = format!("nobody{sprayed}@example.com");
        match app.auth.dashboard_sign_in(&who, "wrong password!", sprayer).await {
            Err(ServiceError::Unauthorized(_)) => {}
            Err(ServiceError::RateLimited { .. }) => break sprayed,
            other => panic!("unexpected {:?}", other.map(|_| ())),
        }
    };
    assert!(blocked > 40, "the per-address limit is across accounts, not per account: {blocked}");
    app.auth.dashboard_sign_in(&member, PASSWORD, OWNER).await.expect("others are unaffected");
    app.cleanup().await;
}

/// Posts the sign-in form of `page` from `ip` (through the trusted proxy's X-Forwarded-For).
async fn login_from(
    b: &reqwest::Client,
    app: &TestApp,
    f: &Fixture,
    page: &str,
    email: &str,
    password: &str,
    ip: &str,
) -> reqwest::Response {
    post_login_via(b, &app.base, &f.slug, page, email, password, Some(ip)).await
}

/// The sign-in page of a new authorization request from `ip`.
async fn sign_in_page_from(b: &reqwest::Client, app: &TestApp, f: &Fixture, ip: &str) -> String {
    b.get(authorize_url(app, f, "s", None, &[]))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("page")
}

/// Spoofed client addresses: `X-Forwarded-For` used to be believed from its leftmost entry, which
/// the client writes, so anyone could pick the address their failures, sign-ups and audit entries
/// counted against. Now only entries appended by a trusted proxy count, walked from the right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_forwarded_for_is_not_believed() {
    for (trusted, expected) in [("127.0.0.1", "198.51.100.7"), ("", "127.0.0.1")] {
        let app = TestApp::spawn_with(Backend::Embedded, |c| c.trusted_proxies = trusted.into()).await;
        let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
        let b = browser();
        let page = get_page(&b, authorize_url(&app, &f, "s", None, &[])).await;
        // The client claims 6.6.6.6; the (trusted) proxy appended the address it really saw.
        let resp =
            post_login_via(&b, &app.base, &f.slug, &page, &f.email, "wrong password!", Some("6.6.6.6, 198.51.100.7"))
                .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
        let events = app.store.scoped(t.id()).audit_events(Some("login.failed"), 1).await.expect("audit");
        assert_eq!(events[0].ip.as_deref(), Some(expected), "trusted proxies: '{trusted}'");
        app.cleanup().await;
    }
}
