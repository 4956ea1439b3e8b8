//! The shared harness: start the real server on a random loopback port, on either backend, and drive
//! it over HTTP as Alexa (a browser plus Amazon's token client) would.
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use latchkey_core::alexa::{AlexaRegion, SkillKind};
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_oauth::AuthServer;
use latchkey_oauth::admin::{ClientOptions, CreatedSkill};
use latchkey_server::Application;
use latchkey_server::config::{Config, Secret};
use latchkey_store::{SecretBox, Store};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::PathBuf;

pub const PASSWORD: &str = "correct horse battery";
pub const VENDOR: &str = "M2TESTVENDOR";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in a temporary directory and the in-memory KV store.
    Embedded,
    /// A fresh PostgreSQL database and a fresh Redis key prefix.
    Postgres,
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// Creates a fresh PostgreSQL database and returns its URL.
pub async fn fresh_pg_database() -> String {
    use sea_orm::ConnectionTrait;
    let admin =
        std::env::var("LATCHKEY_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = unique("lkt_");
    let db =
        sea_orm::Database::connect(&admin).await.expect("PostgreSQL must be running (scripts/services.sh starts it)");
    db.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

pub async fn drop_pg_database(url: &str) {
    use sea_orm::ConnectionTrait;
    let admin =
        std::env::var("LATCHKEY_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = url.rsplit('/').next().unwrap_or_default().to_owned();
    if let Ok(db) = sea_orm::Database::connect(&admin).await {
        let _ = db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }
}

pub fn redis_url() -> String {
    std::env::var("LATCHKEY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub struct TestApp {
    pub base: String,
    pub auth: AuthServer,
    /// The test's own connection to the server's database, to look at (and tamper with) what is
    /// stored from outside the services, as an operator with a SQL prompt could.
    pub store: Store,
    pub data_dir: PathBuf,
    pub pg_url: Option<String>,
}

/// A tenant with one Alexa skill and one user.
#[derive(Clone)]
pub struct Fixture {
    pub slug: String,
    pub issuer: String,
    pub skill: CreatedSkill,
    pub user_id: String,
    pub email: String,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like `spawn`, with a last say over the configuration.
    pub async fn spawn_with(backend: Backend, customize: impl FnOnce(&mut Config)) -> Self {
        let data_dir = std::env::temp_dir().join(unique("latchkey-test-"));
        let mut config = Config { data_dir: data_dir.clone(), bind: "127.0.0.1:0".into(), ..Config::default() };
        let mut pg_url = None;
        if backend == Backend::Postgres {
            let url = fresh_pg_database().await;
            config.database_url = Some(Secret::new(url.clone()));
            config.redis_url = Some(Secret::new(redis_url()));
            config.redis_prefix = format!("{}:", unique("lkt"));
            pg_url = Some(url);
        }
        customize(&mut config);
        let app = Application::build(config.clone()).await.expect("application builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let auth = app.auth().clone();
        tokio::spawn(app.run_until_stopped());
        let secrets = SecretBox::from_base64(config.master_key().expect("master key").expose()).expect("master key");
        let store = Store::connect(&config.database_url().expect("database url"), secrets).await.expect("store");
        Self { base, auth, store, data_dir, pg_url }
    }

    pub async fn cleanup(self) {
        if let Some(u) = &self.pg_url {
            drop_pg_database(u).await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A connection of the test's own to the server's database, to change what no API changes (rows
    /// marked delivered, a corrupted column).
    pub async fn raw_db(&self) -> sea_orm::DatabaseConnection {
        let url = self
            .pg_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rw", self.data_dir.join("latchkey.db").display()));
        sea_orm::Database::connect(url.as_str()).await.expect("db")
    }

    /// A tenant with a smart-home skill using `method`, and a user with a password.
    pub async fn fixture(&self, method: ClientAuthMethod) -> Fixture {
        self.fixture_with(method, ClientOptions::default()).await
    }

    pub async fn fixture_with(&self, method: ClientAuthMethod, opts: ClientOptions) -> Fixture {
        let slug = format!("t{}", &unique("")[..12]);
        self.auth.create_tenant(&slug, "Acme Locks").await.expect("tenant");
        self.fixture_in_with(&slug, method, opts).await
    }

    /// The fixture's skill and user, in a tenant that exists already.
    pub async fn fixture_in(&self, slug: &str, method: ClientAuthMethod) -> Fixture {
        self.fixture_in_with(slug, method, ClientOptions::default()).await
    }

    async fn fixture_in_with(&self, slug: &str, method: ClientAuthMethod, opts: ClientOptions) -> Fixture {
        let t = self.auth.tenant_for_admin(slug).await.expect("tenant ctx");
        let issuer = t.issuer.clone();
        let opts = ClientOptions { auth_method: method, ..opts };
        let skill = self
            .auth
            .create_skill(
                &t,
                "Acme Smart Home",
                &format!("amzn1.ask.skill.{}", unique("")),
                VENDOR,
                SkillKind::SmartHome,
                &[AlexaRegion::NA],
                None,
                &opts,
            )
            .await
            .expect("skill");
        let email = format!("{}@example.com", unique("user"));
        let user = self.auth.create_user(&t, &email, Some(PASSWORD), Some("Ada Lovelace".into())).await.expect("user");
        Fixture { slug: slug.to_owned(), issuer, skill, user_id: user.id, email }
    }
}

/// A browser: keeps cookies, never follows redirects (we read them like Alexa's webview would).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Amazon's server-side token client: no cookies, no redirects.
pub fn server_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The value of a hidden input in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no hidden field {name} in page:\n{html}")) + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).expect("absolute url");
    parsed.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers().get("location").expect("a Location header").to_str().expect("ascii").to_owned()
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = format!("{}{}", unique("v"), unique("-"));
    let challenge = URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
    Pkce { verifier, challenge }
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

/// The authorization request Alexa sends (ALEXA.md §1).
pub fn authorize_url(
    app: &TestApp,
    f: &Fixture,
    state: &str,
    challenge: Option<&str>,
    extra: &[(&str, &str)],
) -> String {
    let mut params: Vec<(&str, &str)> = vec![
        ("client_id", &f.skill.client_id),
        ("response_type", "code"),
        ("state", state),
        ("scope", "openid profile"),
        ("redirect_uri", &f.skill.redirect_uris[0]),
    ];
    if let Some(c) = challenge {
        params.push(("code_challenge", c));
        params.push(("code_challenge_method", "S256"));
    }
    // `extra` replaces a default of the same name rather than repeating it.
    params.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    params.extend_from_slice(extra);
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.extend_pairs(params);
    app.url(&format!("/t/{}/oauth2/authorize?{}", f.slug, q.finish()))
}

/// Posts the sign-in form of `page` (its hidden flow and CSRF fields) as the browser `b` would.
pub async fn post_login(
    b: &reqwest::Client,
    base: &str,
    slug: &str,
    page: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    post_login_via(b, base, slug, page, email, password, None).await
}

/// Like `post_login`, with `X-Forwarded-For: forwarded_for` as a proxy in front would add it.
pub async fn post_login_via(
    b: &reqwest::Client,
    base: &str,
    slug: &str,
    page: &str,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut req = b.post(format!("{base}/t/{slug}/login"));
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    req.form(&[
        ("flow", hidden(page, "flow")),
        ("csrf", hidden(page, "csrf")),
        ("email", email.into()),
        ("password", password.into()),
    ])
    .send()
    .await
    .expect("login")
}

/// Posts the consent form of `page` with `decision` (`allow` or `deny`).
pub async fn post_consent(
    b: &reqwest::Client,
    base: &str,
    slug: &str,
    page: &str,
    decision: &str,
) -> reqwest::Response {
    b.post(format!("{base}/t/{slug}/consent"))
        .form(&[("flow", hidden(page, "flow")), ("csrf", hidden(page, "csrf")), ("decision", decision.into())])
        .send()
        .await
        .expect("consent")
}

/// Drives authorize → sign in → consent in `browser`, and returns the final redirect URL.
pub async fn link_in_browser(
    app: &TestApp,
    f: &Fixture,
    b: &reqwest::Client,
    state: &str,
    challenge: Option<&str>,
) -> String {
    let resp = b.get(authorize_url(app, f, state, challenge, &[])).send().await.expect("authorize");
    assert_eq!(resp.status(), StatusCode::OK, "authorize shows the sign-in page");
    let page = resp.text().await.expect("body");
    assert!(page.contains("name=\"email\"") && page.contains("name=\"password\""), "sign-in form:\n{page}");
    let resp = post_login(b, &app.base, &f.slug, &page, &f.email, PASSWORD).await;
    // Consent is asked once per link; after that sign-in goes straight back to Alexa.
    if resp.status() == StatusCode::FOUND {
        return location(&resp);
    }
    assert_eq!(resp.status(), StatusCode::OK, "sign-in leads to consent");
    let page = resp.text().await.expect("body");
    assert!(page.contains("value=\"allow\""), "consent page:\n{page}");
    let resp = post_consent(b, &app.base, &f.slug, &page, "allow").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    location(&resp)
}

/// Links and returns the authorization code, checking `state` came back unchanged.
pub async fn get_code(app: &TestApp, f: &Fixture, challenge: Option<&str>) -> String {
    let state = "st/ate+with spaces&symbols=é";
    let loc = link_in_browser(app, f, &browser(), state, challenge).await;
    assert!(loc.starts_with(&f.skill.redirect_uris[0]), "redirects to the Alexa URI: {loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some(state));
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(f.issuer.as_str()));
    query_param(&loc, "code").expect("code")
}

/// Posts to the token endpoint authenticating as `f`'s client with its configured scheme.
pub async fn token_request(app: &TestApp, f: &Fixture, params: &[(&str, &str)]) -> reqwest::Response {
    token_request_as(app, f, f.skill.auth_method, &f.skill.client_id, &f.skill.client_secret, params).await
}

pub async fn token_request_as(
    app: &TestApp,
    f: &Fixture,
    method: ClientAuthMethod,
    client_id: &str,
    secret: &str,
    params: &[(&str, &str)],
) -> reqwest::Response {
    client_post(app, &f.slug, "token", method, client_id, secret, params).await
}

/// Posts a form to `/t/{slug}/oauth2/{endpoint}` with client authentication by `method`.
pub async fn client_post(
    app: &TestApp,
    slug: &str,
    endpoint: &str,
    method: ClientAuthMethod,
    client_id: &str,
    secret: &str,
    params: &[(&str, &str)],
) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = params.to_vec();
    let mut req = server_client().post(app.url(&format!("/t/{slug}/oauth2/{endpoint}")));
    match method {
        ClientAuthMethod::ClientSecretBasic => {
            req = req.header("authorization", format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}"))));
        }
        ClientAuthMethod::ClientSecretPost => {
            form.push(("client_id", client_id));
            form.push(("client_secret", secret));
        }
    }
    req.form(&form).send().await.expect("token request")
}

pub async fn exchange_code(app: &TestApp, f: &Fixture, code: &str, verifier: Option<&str>) -> reqwest::Response {
    let mut p =
        vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", f.skill.redirect_uris[0].as_str())];
    if let Some(v) = verifier {
        p.push(("code_verifier", v));
    }
    token_request(app, f, &p).await
}

pub async fn json_ok(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let body: Value = resp.json().await.expect("json body");
    assert_eq!(status, StatusCode::OK, "unexpected error body: {body}");
    body
}

pub async fn json_err(resp: reqwest::Response, status: u16, error: &str) -> Value {
    let got = resp.status();
    let body: Value = resp.json().await.expect("json body");
    assert_eq!(got.as_u16(), status, "body: {body}");
    assert_eq!(body["error"], error, "body: {body}");
    body
}

pub async fn refresh(app: &TestApp, f: &Fixture, rt: &str) -> reqwest::Response {
    token_request(app, f, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await
}

pub async fn introspect(app: &TestApp, f: &Fixture, token: &str) -> Value {
    let s = &f.skill;
    json_ok(
        client_post(app, &f.slug, "introspect", s.auth_method, &s.client_id, &s.client_secret, &[("token", token)])
            .await,
    )
    .await
}

/// A full link ending in a token response.
pub async fn revoke(app: &TestApp, f: &Fixture, token: &str) -> reqwest::Response {
    let s = &f.skill;
    client_post(app, &f.slug, "revoke", s.auth_method, &s.client_id, &s.client_secret, &[("token", token)]).await
}

pub async fn linked_tokens(app: &TestApp, f: &Fixture) -> Value {
    let code = get_code(app, f, None).await;
    json_ok(exchange_code(app, f, &code, None).await).await
}

/// An upstream provider as most tests register it: creates users, no linking by email, no claim map.
pub fn provider_input(slug: &str, issuer: &str) -> latchkey_oauth::admin::ProviderInput {
    latchkey_oauth::admin::ProviderInput {
        slug: slug.into(),
        name: format!("{slug} SSO"),
        issuer: issuer.into(),
        client_id: "c".into(),
        client_secret: "s".into(),
        scopes: None,
        link_by_email: false,
        create_users: true,
        claim_map: None,
    }
}

/// GETs `url` with the browser `b` (an authorization request, typically) and returns the page.
pub async fn get_page(b: &reqwest::Client, url: impl reqwest::IntoUrl) -> String {
    b.get(url).send().await.expect("authorize").text().await.expect("page")
}
