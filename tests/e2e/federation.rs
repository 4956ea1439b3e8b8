//! Federation with a real OpenID Connect provider: a second Latchkey tenant on the same server acts as
//! the company's existing identity provider. Driven as a browser (cookies, no redirects followed).
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_oauth::admin::{ClientOptions, ProviderInput};
use latchkey_oauth::keys::SigningAlg;
use reqwest::StatusCode;

use crate::helpers::*;

const UPSTREAM_PASSWORD: &str = "upstream password 1";

struct Fed {
    app: TestApp,
    /// The Alexa-facing tenant.
    a: Fixture,
    /// The upstream tenant's slug and its user's email.
    b_slug: String,
    b_email: String,
    b_user_id: String,
}

/// Tenant B with a user and a client whose redirect URI is A's callback for `provider`.
async fn fed(backend: Backend) -> Fed {
    let app = TestApp::spawn(backend).await;
    let a = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let b_slug = format!("corp{}", &unique("")[..8]);
    app.auth.create_tenant(&b_slug, "Corp IdP").await.expect("tenant b");
    let tb = app.auth.tenant_for_admin(&b_slug).await.expect("b");
    let b_email = format!("{}@corp.example", unique("bob"));
    let b_user = app
        .auth
        .create_user(&tb, &b_email, Some(UPSTREAM_PASSWORD), Some("Bob Upstream".into()))
        .await
        .expect("b user");
    Fed { app, a, b_slug, b_email, b_user_id: b_user.id }
}

impl Fed {
    /// Registers an upstream provider at A pointing at B, with a fresh client at B.
    async fn provider(&self, slug: &str, link_by_email: bool, create_users: bool) {
        let ta = self.app.auth.tenant_for_admin(&self.a.slug).await.expect("a");
        let tb = self.app.auth.tenant_for_admin(&self.b_slug).await.expect("b");
        let callback = self.app.auth.federation_callback_uri(&ta, slug);
        let c = self
            .app
            .auth
            .create_client(
                &tb,
                "Latchkey tenant A",
                vec![callback],
                vec!["authorization_code".into()],
                &ClientOptions::default(),
            )
            .await
            .expect("client at b");
        self.app
            .auth
            .create_provider(
                &ta,
                ProviderInput {
                    slug: slug.into(),
                    name: format!("Corp SSO {slug}"),
                    issuer: tb.issuer.clone(),
                    client_id: c.client_id,
                    client_secret: c.client_secret,
                    scopes: None,
                    link_by_email,
                    create_users,
                    claim_map: Some("name=name".into()),
                },
            )
            .await
            .expect("provider");
    }

    /// From A's sign-in page through B's sign-in and consent, back to A. Returns A's answer to the
    /// callback.
    async fn via_upstream(&self, b: &reqwest::Client, provider: &str, upstream_decision: &str) -> reqwest::Response {
        let app = &self.app;
        let page = get_page(b, authorize_url(app, &self.a, "alexa-state", None, &[])).await;
        let marker = format!("/t/{}/federation/{provider}/start?flow=", self.a.slug);
        let start = page.find(&marker).map(|i| {
            let end = page[i..].find('"').expect("quote") + i;
            page[i..end].to_owned()
        });
        let start = start.unwrap_or_else(|| panic!("the sign-in page offers {provider}:\n{page}"));
        assert!(page.contains(&format!("Continue with Corp SSO {provider}")));
        let resp = b.get(app.url(&start)).send().await.expect("start");
        assert_eq!(resp.status(), StatusCode::FOUND, "start redirects upstream");
        let upstream = location(&resp);
        assert!(upstream.starts_with(&format!("{}/t/{}/oauth2/authorize", app.base, self.b_slug)), "{upstream}");
        for p in ["code_challenge", "nonce", "state"] {
            assert!(query_param(&upstream, p).is_some(), "{p} sent upstream");
        }
        let resp = b.get(&upstream).send().await.expect("upstream authorize");
        let mut next = if resp.status() == StatusCode::OK {
            let page = resp.text().await.expect("page");
            post_login(b, &app.base, &self.b_slug, &page, &self.b_email, UPSTREAM_PASSWORD).await
        } else {
            resp
        };
        if next.status() == StatusCode::OK {
            let page = next.text().await.expect("consent");
            next = post_consent(b, &app.base, &self.b_slug, &page, upstream_decision).await;
        }
        assert_eq!(next.status(), StatusCode::FOUND);
        let callback = location(&next);
        assert!(
            callback.starts_with(&format!("{}/t/{}/federation/{provider}/callback", app.base, self.a.slug)),
            "{callback}"
        );
        b.get(&callback).send().await.expect("callback")
    }

    /// Finishes at A (consent if asked) and returns the token response Alexa would get.
    async fn finish_at_a(&self, b: &reqwest::Client, resp: reqwest::Response) -> serde_json::Value {
        let resp = if resp.status() == StatusCode::OK {
            let page = resp.text().await.expect("a consent");
            post_consent(b, &self.app.base, &self.a.slug, &page, "allow").await
        } else {
            resp
        };
        assert_eq!(resp.status(), StatusCode::FOUND);
        let loc = location(&resp);
        assert!(loc.starts_with(&self.a.skill.redirect_uris[0]), "{loc}");
        assert_eq!(query_param(&loc, "state").as_deref(), Some("alexa-state"));
        let code = query_param(&loc, "code").expect("code");
        json_ok(exchange_code(&self.app, &self.a, &code, None).await).await
    }

    async fn sub(&self, tokens: &serde_json::Value) -> String {
        introspect(&self.app, &self.a, tokens["access_token"].as_str().expect("at")).await["sub"]
            .as_str()
            .expect("sub")
            .to_owned()
    }
}

on_both_backends!(federated_sign_in_creates_and_reuses_the_user);

async fn federated_sign_in_creates_and_reuses_the_user(backend: Backend) {
    let f = fed(backend).await;
    f.provider("corp", false, true).await;
    let b = browser();
    let resp = f.via_upstream(&b, "corp", "allow").await;
    let tokens = f.finish_at_a(&b, resp).await;
    let sub = f.sub(&tokens).await;
    let ta = f.app.auth.tenant_for_admin(&f.a.slug).await.expect("a");
    let user = f.app.store.scoped(ta.id()).user(&sub).await.expect("q").expect("created user");
    assert_eq!(user.email, f.b_email);
    assert_eq!(user.name.as_deref(), Some("Bob Upstream"));
    assert_eq!(f.app.store.scoped(ta.id()).federated_identities(&sub).await.expect("q").len(), 1);
    // A second sign-in, from a new browser: the same user.
    let b2 = browser();
    let resp = f.via_upstream(&b2, "corp", "allow").await;
    let again = f.finish_at_a(&b2, resp).await;
    assert_eq!(f.sub(&again).await, sub);
    f.app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_by_email_and_refusals() {
    let f = fed(Backend::Embedded).await;
    let ta = f.app.auth.tenant_for_admin(&f.a.slug).await.expect("a");
    let tb = f.app.auth.tenant_for_admin(&f.b_slug).await.expect("b");
    // A already has a user with Bob's address; linking by email needs the upstream to vouch for it.
    let existing = f.app.auth.create_user(&ta, &f.b_email, Some(PASSWORD), None).await.expect("a user");
    f.provider("bymail", true, false).await;
    let b = browser();
    let resp = f.via_upstream(&b, "bymail", "allow").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "unverified upstream email is not enough");
    let page = resp.text().await.expect("page");
    assert!(page.contains("not linked to an account here") && page.contains("Back to sign-in"), "{page}");
    // The way back shows the sign-in form of the same flow.
    let back = page.split("href=\"").nth(1).and_then(|s| s.split('"').next()).expect("back link").replace("&amp;", "&");
    let resp = b.get(f.app.url(&back)).send().await.expect("back");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.expect("page").contains("name=\"password\""));
    // Once the upstream says the email is verified, the existing user is signed in and linked.
    f.app.store.scoped(tb.id()).set_email_verified(&f.b_user_id, true).await.expect("verify");
    let b = browser();
    let resp = f.via_upstream(&b, "bymail", "allow").await;
    let tokens = f.finish_at_a(&b, resp).await;
    assert_eq!(f.sub(&tokens).await, existing.id);

    // Create-users off and nothing to link: a clear refusal.
    let other_email = format!("{}@corp.example", unique("carol"));
    f.app.auth.create_user(&tb, &other_email, Some(UPSTREAM_PASSWORD), None).await.expect("carol");
    let carol = Fed {
        app: TestApp {
            base: f.app.base.clone(),
            auth: f.app.auth.clone(),
            store: f.app.store.clone(),
            data_dir: f.app.data_dir.clone(),
            pg_url: None,
        },
        a: f.a.clone(),
        b_slug: f.b_slug.clone(),
        b_email: other_email,
        b_user_id: String::new(),
    };
    let resp = carol.via_upstream(&browser(), "bymail", "allow").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // The user refuses at the upstream: access_denied comes back, and A says so.
    f.provider("deny", false, true).await;
    let resp = f.via_upstream(&browser(), "deny", "deny").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.expect("page").contains("cancelled or refused"));

    // Forged or replayed state.
    let resp = browser()
        .get(f.app.url(&format!("/t/{}/federation/corp/callback?code=x&state=forged", f.a.slug)))
        .send()
        .await
        .expect("cb");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let events = f.app.store.scoped(ta.id()).audit_events(Some("federation.failed"), 20).await.expect("audit");
    assert!(events.len() >= 4, "every failure is audited: {events:?}");
    f.app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_key_rotation_and_unreachable_upstream() {
    let f = fed(Backend::Embedded).await;
    f.provider("corp", false, true).await;
    let b = browser();
    let resp = f.via_upstream(&b, "corp", "allow").await;
    let first = f.finish_at_a(&b, resp).await;
    // B rotates its signing key; A has B's old JWKS cached, notices and refetches.
    let tb = f.app.auth.tenant_for_admin(&f.b_slug).await.expect("b");
    f.app.auth.rotate_signing_key(&tb, None).await.expect("rotate");
    let b2 = browser();
    let resp = f.via_upstream(&b2, "corp", "allow").await;
    let second = f.finish_at_a(&b2, resp).await;
    assert_eq!(f.sub(&first).await, f.sub(&second).await);
    // B moves to EdDSA, then ES256 (each a rotation). A's cached discovery names the old algorithm, so A
    // refetches it and accepts the new one.
    for alg in [SigningAlg::EdDSA, SigningAlg::ES256] {
        f.app.auth.rotate_signing_key(&tb, Some(alg)).await.expect("rotate");
        let b = browser();
        let resp = f.via_upstream(&b, "corp", "allow").await;
        let again = f.finish_at_a(&b, resp).await;
        assert_eq!(f.sub(&first).await, f.sub(&again).await, "{alg}");
    }

    // An upstream that does not answer: a page, quickly, not a hang.
    let ta = f.app.auth.tenant_for_admin(&f.a.slug).await.expect("a");
    f.app.auth.create_provider(&ta, provider_input("down", "http://127.0.0.1:9/t/nothing")).await.expect("provider");
    let b3 = browser();
    let page = get_page(&b3, authorize_url(&f.app, &f.a, "s", None, &[])).await;
    let flow = hidden(&page, "flow");
    let resp =
        b3.get(f.app.url(&format!("/t/{}/federation/down/start?flow={flow}", f.a.slug))).send().await.expect("start");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.expect("page").contains("cannot be reached"));
    f.app.cleanup().await;
}

/// Registers the misbehaving provider at tenant A as `mallory` (creates users, no linking by email).
async fn fake_provider(f: &Fed) -> crate::fake_oidc::FakeOidc {
    let upstream = crate::fake_oidc::start().await;
    let ta = f.app.auth.tenant_for_admin(&f.a.slug).await.expect("a");
    f.app
        .auth
        .create_provider(
            &ta,
            ProviderInput {
                client_id: "fake-client".into(),
                client_secret: "fake-secret".into(),
                ..provider_input("mallory", &upstream.issuer)
            },
        )
        .await
        .expect("provider");
    upstream
}

/// One sign-in through the fake provider (registered at A as `provider`) answering in `mode`: A's
/// callback's response. The state is then replayed, which must be refused.
async fn through_fake(
    f: &Fed,
    upstream: &crate::fake_oidc::FakeOidc,
    provider: &str,
    mode: crate::fake_oidc::IdTokenMode,
) -> (StatusCode, String) {
    let b = browser();
    let page = get_page(&b, authorize_url(&f.app, &f.a, "s", None, &[])).await;
    let flow = hidden(&page, "flow");
    let resp = b
        .get(f.app.url(&format!("/t/{}/federation/{provider}/start?flow={flow}", f.a.slug)))
        .send()
        .await
        .expect("start");
    let upstream_url = location(&resp);
    {
        let mut s = upstream.state.lock().expect("lock");
        s.mode = mode;
        s.nonce = query_param(&upstream_url, "nonce").expect("nonce");
    }
    let state = query_param(&upstream_url, "state").expect("state");
    let callback = f.app.url(&format!(
        "/t/{}/federation/{provider}/callback?code=c&state={}",
        f.a.slug,
        url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
    ));
    let resp = b.get(&callback).send().await.expect("callback");
    let status = resp.status();
    let body = resp.text().await.expect("page");
    // The state is single use.
    assert_eq!(b.get(&callback).send().await.expect("replay").status(), StatusCode::BAD_REQUEST, "{mode:?}");
    (status, body)
}

/// Each way an ID token can be wrong ends on a refusal page, is audited, and signs nobody in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_id_tokens_are_refused() {
    use crate::fake_oidc::IdTokenMode;
    let f = fed(Backend::Embedded).await;
    let upstream = fake_provider(&f).await;
    for (mode, ok) in [
        (IdTokenMode::WrongNonce, false),
        (IdTokenMode::Expired, false),
        (IdTokenMode::Tampered, false),
        (IdTokenMode::WrongAudience, false),
        (IdTokenMode::UnpublishedKey, false),
        (IdTokenMode::Good, true),
    ] {
        let (status, page) = through_fake(&f, &upstream, "mallory", mode).await;
        if ok {
            assert_eq!(status, StatusCode::OK, "{mode:?}: a good ID token leads to consent");
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{mode:?}");
            assert!(page.contains("could not be verified"), "{mode:?}");
        }
    }
    let ta = f.app.auth.tenant_for_admin(&f.a.slug).await.expect("a");
    let scoped = f.app.store.scoped(ta.id());
    let user =
        scoped.user_by_email("mallory@fake.example").await.expect("q").expect("only the good token created a user");
    assert_eq!(
        user.name.as_deref(),
        Some(crate::fake_oidc::USERINFO_NAME),
        "the name the ID token lacked came from userinfo"
    );
    assert!(
        scoped.user_by_email(crate::fake_oidc::USERINFO_EMAIL).await.expect("q").is_none(),
        "the ID token's email wins"
    );
    assert!(scoped.audit_events(Some("federation.failed"), 50).await.expect("audit").len() >= 5);
    f.app.cleanup().await;
}

/// A provider that keeps the email and profile claims out of the ID token (OpenID Connect Core
/// §5.4): they are read from userinfo, as JSON or as a JWT verified against the provider's keys.
/// Every way userinfo can fail ends on a page saying why, is audited, and signs nobody in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_only_at_userinfo() {
    use crate::fake_oidc::{IdTokenMode, USERINFO_EMAIL, USERINFO_NAME};
    let f = fed(Backend::Embedded).await;
    let upstream = fake_provider(&f).await;
    let ta = f.app.auth.tenant_for_admin(&f.a.slug).await.expect("a");
    let scoped = f.app.store.scoped(ta.id());
    for (mode, refusal, reason) in [
        (IdTokenMode::UserinfoOtherSubject, "described a different person", "another subject"),
        (IdTokenMode::UserinfoUnauthorized, "profile information could not be read", "HTTP 401"),
        (IdTokenMode::UserinfoDown, "profile information could not be read", "HTTP 503"),
        (IdTokenMode::UserinfoNotJson, "profile information could not be read", "Content-Type"),
        (IdTokenMode::UserinfoJwtForged, "profile information could not be read", "Signature verification failed"),
    ] {
        let (status, page) = through_fake(&f, &upstream, "mallory", mode).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{mode:?}: {page}");
        assert!(page.contains(refusal), "{mode:?}: {page}");
        assert!(!page.contains("down for maintenance"), "the provider's answer is not shown");
        assert!(scoped.user_by_email(USERINFO_EMAIL).await.expect("q").is_none(), "{mode:?} signed nobody in");
        // The newest entry is the replay of the state; the one before it is this refusal.
        let audit = scoped.audit_events(Some("federation.failed"), 2).await.expect("audit");
        let logged = audit[1].detail.to_string();
        assert!(logged.contains(reason), "{mode:?}: {logged}");
    }
    // Signed: the first sign-in creates the user from the JWT's claims.
    let (status, page) = through_fake(&f, &upstream, "mallory", IdTokenMode::UserinfoJwt).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let user = scoped.user_by_email(USERINFO_EMAIL).await.expect("q").expect("created from userinfo");
    assert_eq!(user.name.as_deref(), Some(USERINFO_NAME));
    assert!(user.email_verified, "userinfo said verified");
    // Plain JSON: the same upstream subject signs in to the same user.
    let (status, page) = through_fake(&f, &upstream, "mallory", IdTokenMode::ClaimsAtUserinfo).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(scoped.federated_identities(&user.id).await.expect("q").len(), 1);
    f.app.cleanup().await;
}

on_both_backends!(a_mapped_claim_cannot_take_over_an_account);

/// Account takeover through a mapped claim: a provider whose claim map read the email from
/// `preferred_username` signed an upstream user whose username is a victim's address into the
/// victim's account. Matching now reads only the provider's own verified `email`; such maps are
/// refused over the API and dropped from stored providers by a migration.
async fn a_mapped_claim_cannot_take_over_an_account(backend: Backend) {
    use crate::fake_oidc::IdTokenMode;
    use latchkey_store::records::NewUpstreamProvider;
    let f = fed(backend).await;
    let upstream = fake_provider(&f).await;
    let ta = f.app.auth.tenant_for_admin(&f.a.slug).await.expect("a");
    let scoped = f.app.store.scoped(ta.id());
    let victim_email = format!("{}@acme.example", unique("victim"));
    let victim = f.app.auth.create_user(&ta, &victim_email, Some(PASSWORD), None).await.expect("victim");
    upstream.state.lock().expect("lock").victim = victim_email.clone();
    // Stored as it could be before claim maps were checked: link by email, email read from the
    // username (the service refuses this map now, so it goes straight to the store).
    let renamed = scoped
        .create_provider(NewUpstreamProvider {
            slug: "renamed".into(),
            name: "Renamed".into(),
            issuer: upstream.issuer.clone(),
            client_id: "fake-client".into(),
            client_secret: "fake-secret".into(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            link_by_email: true,
            create_users: true,
            claim_map: [("email", "preferred_username"), ("name", "given_name")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        })
        .await
        .expect("provider");

    // The attacker's username is the victim's address; their own verified email is theirs.
    let (status, page) = through_fake(&f, &upstream, "renamed", IdTokenMode::UsernameIsVictim).await;
    assert_eq!(status, StatusCode::OK, "the attacker signs in as themselves: {page}");
    let holder = scoped.federated_user(&renamed.id, "attacker").await.expect("q").expect("linked");
    assert_ne!(holder, victim.id, "the upstream identity must not be linked to the victim");
    let attacker = scoped.user(&holder).await.expect("q").expect("user");
    assert_eq!(attacker.email, "mallory@fake.example", "a new account under the attacker's own verified email");
    assert!(scoped.federated_identities(&victim.id).await.expect("q").is_empty());

    // An upstream email the provider does not assert as verified never links to an existing account.
    let mut by_mail = scoped.provider("mallory").await.expect("q").expect("provider");
    by_mail.link_by_email = true;
    scoped.update_provider(&by_mail, None).await.expect("link by email");
    let (status, page) = through_fake(&f, &upstream, "mallory", IdTokenMode::VictimEmailUnverified).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(scoped.federated_user(&by_mail.id, "attacker").await.expect("q").is_none());
    assert!(scoped.federated_identities(&victim.id).await.expect("q").is_empty());

    // The service refuses such maps at create and update, naming the field; over the API a 400.
    fn refused<T>(r: latchkey_oauth::error::ServiceResult<T>) -> String {
        match r {
            Err(latchkey_oauth::error::ServiceError::Invalid(m)) => m,
            Err(e) => panic!("expected a refusal, got {e}"),
            Ok(_) => panic!("expected a refusal, got success"),
        }
    }
    for map in ["email=preferred_username", "email_verified=email", "name=name,email=email"] {
        let field = map.split(',').next_back().and_then(|p| p.split('=').next()).expect("field");
        let msg = refused(
            f.app
                .auth
                .create_provider(
                    &ta,
                    ProviderInput {
                        slug: "another".into(),
                        name: "Another".into(),
                        issuer: upstream.issuer.clone(),
                        client_id: "c".into(),
                        client_secret: "s".into(),
                        scopes: None,
                        link_by_email: true,
                        create_users: false,
                        claim_map: Some(map.into()),
                    },
                )
                .await,
        );
        assert!(msg.contains(&format!("'{field}'")), "{map}: {msg}");
        let msg = refused(
            f.app
                .auth
                .update_provider(
                    &ta,
                    "mallory",
                    latchkey_oauth::admin::ProviderUpdate { claim_map: Some(map.into()), ..Default::default() },
                )
                .await,
        );
        assert!(msg.contains(&format!("'{field}'")), "{map}: {msg}");
    }
    let key = f.app.auth.create_api_key(&ta, "ci").await.expect("api key").key;
    let resp = server_client()
        .post(f.app.url(&format!("/t/{}/api/v1/providers", f.a.slug)))
        .bearer_auth(&key)
        .json(&serde_json::json!({"slug": "viaapi", "name": "Via API", "issuer": upstream.issuer,
            "client_id": "c", "client_secret": "s", "link_by_email": true, "claim_map": "email=preferred_username"}))
        .send()
        .await
        .expect("api");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let problem: serde_json::Value = resp.json().await.expect("problem");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("'email'"), "{problem}");
    assert!(scoped.provider("viaapi").await.expect("q").is_none());

    // A database from before this release: the migration drops the unsafe entry and keeps the rest.
    let db = match &f.app.pg_url {
        Some(u) => sea_orm::Database::connect(u.as_str()).await.expect("pg"),
        None => {
            sea_orm::Database::connect(format!("sqlite://{}?mode=rw", f.app.data_dir.join("latchkey.db").display()))
                .await
                .expect("sqlite")
        }
    };
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        "DELETE FROM seaql_migrations WHERE version = 'm20261204_000005_drop_email_claim_maps'",
    )
    .await
    .expect("forget the migration");
    db.close().await.expect("close");
    f.app.store.migrate().await.expect("migrate again");
    let after = scoped.provider("renamed").await.expect("q").expect("kept");
    assert_eq!(after.claim_map.get("email"), None, "the unsafe entry is gone");
    assert_eq!(after.claim_map.get("name").map(String::as_str), Some("given_name"), "the rest is kept");
    f.app.cleanup().await;
}

/// A tenant can offer only its upstream providers; with none configured, the password form stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federated_only_sign_in_page() {
    let f = fed(Backend::Embedded).await;
    let ta = f.app.auth.tenant_for_admin(&f.a.slug).await.expect("a");
    f.app.auth.set_login_methods(&ta, "federated").await.expect("set");
    let page = get_page(&browser(), authorize_url(&f.app, &f.a, "s", None, &[])).await;
    assert!(page.contains("name=\"password\""), "no provider yet: the password form is kept");
    f.provider("corp", false, true).await;
    let page = get_page(&browser(), authorize_url(&f.app, &f.a, "s", None, &[])).await;
    assert!(!page.contains("name=\"password\""), "{page}");
    assert!(page.contains("Continue with Corp SSO corp"));
    // The readiness check takes a providers-only sign-in page as one (it used to want a password form).
    let key = f.app.auth.create_api_key(&ta, "check").await.expect("key").key;
    let url = f.app.url(&format!("/t/{}/api/v1/skills/{}/readiness", f.a.slug, f.a.skill.id));
    let report = json_ok(server_client().get(url).bearer_auth(key).send().await.expect("readiness")).await;
    let login = report["items"].as_array().and_then(|i| i.iter().find(|x| x["id"] == "login_page")).cloned();
    let login = login.expect("login_page item");
    assert_eq!(login["status"], "pass", "{login}");
    assert!(login["detail"].as_str().is_some_and(|d| d.contains("1 upstream provider")), "{login}");
    assert!(f.app.auth.set_login_methods(&ta, "magic").await.is_err());
    f.app.cleanup().await;
}
