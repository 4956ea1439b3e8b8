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
