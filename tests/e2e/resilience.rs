//! Redis goes away and comes back: clear 503s meanwhile (never a 5xx page without a reason, never a
//! panic), /readyz says so, grants already issued keep refreshing, and service resumes without a
//! restart.
use latchkey_core::client_auth::ClientAuthMethod;
use reqwest::StatusCode;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::*;
use crate::scale::free_port;

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_redis(port: u16) -> Redis {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (scripts/services.sh installs it)");
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Redis(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_gives_clear_errors_and_recovers() {
    let port = free_port();
    let redis = start_redis(port).await;
    let app = TestApp::spawn_with(Backend::Embedded, |c| {
        c.redis_url = Some(latchkey_server::config::Secret::new(format!("redis://127.0.0.1:{port}")));
    })
    .await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let tokens = linked_tokens(&app, &f).await;
    let code_before = get_code(&app, &f, None).await;

    drop(redis);
    let c = server_client();
    let ready = c.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    // A code lives in Redis: its exchange answers temporarily_unavailable with Retry-After.
    let resp = exchange_code(&app, &f, &code_before, None).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().get("retry-after").is_some());
    json_err(resp, 503, "temporarily_unavailable").await;
    // The sign-in page needs Redis for the flow: a 503 page, not a crash.
    let resp = browser().get(authorize_url(&app, &f, "s", None, &[])).send().await.expect("authorize");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Refreshing an existing grant does not need Redis at all.
    let refreshed = json_ok(refresh(&app, &f, tokens["refresh_token"].as_str().expect("rt")).await).await;

    // Redis returns (empty, as after a restart without persistence): service resumes by itself.
    let _redis = start_redis(port).await;
    let mut recovered = false;
    for _ in 0..40 {
        if c.get(app.url("/readyz")).send().await.expect("readyz").status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "ready again without a restart");
    let code = get_code(&app, &f, None).await;
    json_ok(exchange_code(&app, &f, &code, None).await).await;
    json_ok(refresh(&app, &f, refreshed["refresh_token"].as_str().expect("rt")).await).await;
    app.cleanup().await;
}

/// A TCP proxy in front of PostgreSQL that the test can cut (every connection dropped, new ones
/// refused, as when the database host goes away) and restore.
struct PgProxy {
    port: u16,
    upstream: String,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl PgProxy {
    async fn start(upstream: &str) -> Self {
        let p = Self { port: free_port(), upstream: upstream.to_owned(), tasks: Default::default() };
        p.restore().await;
        p
    }

    async fn restore(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.expect("bind proxy");
        let (upstream, tasks) = (self.upstream.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().expect("lock").push(conn);
            }
        });
        self.tasks.lock().expect("lock").push(accept);
    }

    fn cut(&self) {
        for t in self.tasks.lock().expect("lock").drain(..) {
            t.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_gives_clear_errors_and_recovers() {
    let proxy = PgProxy::start("127.0.0.1:5432").await;
    let proxy_port = proxy.port;
    let app = TestApp::spawn_with(Backend::Postgres, |c| {
        let direct = c.database_url.as_ref().expect("pg url").expose().to_owned();
        let (base, db) = direct.rsplit_once('/').expect("database name");
        let (scheme_host, _) = base.rsplit_once(':').expect("port");
        c.database_url = Some(latchkey_server::config::Secret::new(format!("{scheme_host}:{proxy_port}/{db}")));
    })
    .await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let tokens = linked_tokens(&app, &f).await;
    let rt = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let key = app.auth.create_api_key(&app.auth.tenant_for_admin(&f.slug).await.expect("t"), "ops").await.expect("key");

    proxy.cut();
    let c = server_client();
    let ready = c.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The token endpoint: RFC 6749's temporarily_unavailable with Retry-After, not a 500.
    let resp = refresh(&app, &f, &rt).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().get("retry-after").is_some());
    json_err(resp, 503, "temporarily_unavailable").await;
    // The management API: a problem document.
    let resp =
        c.get(app.url(&format!("/t/{}/api/v1/users", f.slug))).bearer_auth(&key.key).send().await.expect("users");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers()["content-type"].to_str().expect("ct").starts_with("application/problem+json"));
    // Whatever else a browser or Alexa tries meanwhile: never a 500.
    let paths = [
        authorize_url(&app, &f, "s", None, &[]),
        app.url(&format!("/t/{}/.well-known/openid-configuration", f.slug)),
        app.url(&format!("/t/{}/.well-known/jwks.json", f.slug)),
        app.url("/admin/login"),
    ];
    for p in &paths {
        let status = browser().get(p).send().await.expect("request").status();
        assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "{p}: {status}");
    }
    let s = &f.skill;
    let at = tokens["access_token"].as_str().expect("at");
    let resp =
        client_post(&app, &f.slug, "introspect", s.auth_method, &s.client_id, &s.client_secret, &[("token", at)]).await;
    assert!(resp.status() != StatusCode::INTERNAL_SERVER_ERROR, "introspection: {}", resp.status());

    // PostgreSQL comes back: the pool reconnects by itself and nothing was lost.
    proxy.restore().await;
    let mut recovered = false;
    for _ in 0..60 {
        if c.get(app.url("/readyz")).send().await.expect("readyz").status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "ready again without a restart");
    let refreshed = json_ok(refresh(&app, &f, &rt).await).await;
    json_ok(refresh(&app, &f, refreshed["refresh_token"].as_str().expect("rt")).await).await;
    let fresh = linked_tokens(&app, &f).await;
    assert!(fresh["access_token"].is_string());
    proxy.cut();
    app.cleanup().await;
}
