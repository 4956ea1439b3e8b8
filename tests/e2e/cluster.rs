//! Scale-out: three `latchkey` processes on one PostgreSQL and one Redis behind a tiny round-robin
//! proxy. Linking flows and refreshes hop between instances at every step; one instance is killed
//! (SIGKILL) mid-run and the others carry on; then a rolling restart (SIGTERM one at a time) under load.
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use reqwest::StatusCode;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::cli::latchkey_ok;
use crate::helpers::*;
use crate::scale::{Instance, free_port, shared_env, start_logging_to};

struct Proxy {
    backends: Mutex<Vec<String>>,
    next: AtomicUsize,
    http: reqwest::Client,
}

/// Forwards to the next backend; a backend that refuses the connection is skipped, as a load
/// balancer's health check would (the request was never sent, so retrying it is safe).
async fn forward(p: web::Data<Arc<Proxy>>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let backends = p.backends.lock().expect("lock").clone();
    for _ in 0..backends.len() * 2 {
        let b = &backends[p.next.fetch_add(1, Ordering::Relaxed) % backends.len()];
        let url = format!("{b}{}", req.uri());
        let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).expect("method");
        let mut r = p.http.request(method, &url).body(body.clone());
        for (k, v) in req.headers() {
            if k != "host" && k != "content-length" {
                r = r.header(k.as_str(), v.as_bytes());
            }
        }
        match r.send().await {
            Ok(resp) => {
                let status = actix_web::http::StatusCode::from_u16(resp.status().as_u16()).expect("status");
                let mut out = HttpResponse::build(status);
                for (k, v) in resp.headers() {
                    if k != "content-length"
                        && k != "transfer-encoding"
                        && k != "connection"
                        && let Ok(v) = v.to_str()
                    {
                        out.append_header((k.as_str(), v));
                    }
                }
                let bytes = resp.bytes().await.unwrap_or_default();
                return out.body(bytes);
            }
            Err(e) if e.is_connect() => continue,
            Err(_) => return HttpResponse::BadGateway().finish(),
        }
    }
    HttpResponse::ServiceUnavailable().finish()
}

async fn start_proxy(port: u16, backends: Vec<String>) -> Arc<Proxy> {
    let proxy = Arc::new(Proxy {
        backends: Mutex::new(backends),
        next: AtomicUsize::new(0),
        // A fresh connection per request: a stopping backend refuses it cleanly.
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client"),
    });
    let p = proxy.clone();
    let server =
        HttpServer::new(move || App::new().app_data(web::Data::new(p.clone())).default_service(web::to(forward)))
            .workers(2)
            .bind(("127.0.0.1", port))
            .expect("bind proxy")
            .run();
    tokio::spawn(server);
    proxy
}

struct Setup {
    client_id: String,
    secret: String,
    redirect: String,
}

/// One Alexa link through the proxy plus two refreshes; `Err` names the failing step.
async fn link_and_refresh(base: &str, s: &Setup, n: usize) -> Result<(), String> {
    let b = browser();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", s.client_id.as_str()),
            ("response_type", "code"),
            ("state", "st"),
            ("redirect_uri", s.redirect.as_str()),
            ("prompt", "consent"),
        ])
        .finish();
    let resp =
        b.get(format!("{base}/t/shared/oauth2/authorize?{q}")).send().await.map_err(|e| format!("authorize: {e}"))?;
    if resp.status() != StatusCode::OK {
        return Err(format!("authorize: {}", resp.status()));
    }
    let page = resp.text().await.map_err(|e| e.to_string())?;
    let resp = post_login(&b, base, "shared", &page, &format!("u{}@example.com", n % 4), PASSWORD).await;
    if resp.status() != StatusCode::OK {
        return Err(format!("login: {}", resp.status()));
    }
    let page = resp.text().await.map_err(|e| e.to_string())?;
    let resp = post_consent(&b, base, "shared", &page, "allow").await;
    if resp.status() != StatusCode::FOUND {
        return Err(format!("consent: {}", resp.status()));
    }
    let code = query_param(&location(&resp), "code").ok_or("no code")?;
    let c = server_client();
    let token = |form: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = format!("{base}/t/shared/oauth2/token");
        let (id, secret) = (s.client_id.clone(), s.secret.clone());
        async move { c.post(url).basic_auth(id, Some(secret)).form(&form).send().await }
    };
    let resp =
        token(vec![("grant_type", "authorization_code".into()), ("code", code), ("redirect_uri", s.redirect.clone())])
            .await
            .map_err(|e| format!("token: {e}"))?;
    if resp.status() != StatusCode::OK {
        return Err(format!("token: {}", resp.status()));
    }
    let mut rt = resp.json::<serde_json::Value>().await.map_err(|e| e.to_string())?["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for _ in 0..2 {
        let resp = token(vec![("grant_type", "refresh_token".into()), ("refresh_token", rt.clone())])
            .await
            .map_err(|e| format!("refresh: {e}"))?;
        if resp.status() != StatusCode::OK {
            return Err(format!("refresh: {}", resp.status()));
        }
        rt = resp.json::<serde_json::Value>().await.map_err(|e| e.to_string())?["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }
    Ok(())
}

/// Runs `count` flows, `parallel` at a time, and returns the failures.
async fn run_flows(base: &str, s: &Arc<Setup>, count: usize, parallel: usize) -> Vec<String> {
    let mut failures = Vec::new();
    let mut i = 0;
    while i < count {
        let batch: Vec<_> = (i..(i + parallel).min(count))
            .map(|n| {
                let (base, s) = (base.to_owned(), s.clone());
                tokio::spawn(async move { link_and_refresh(&base, &s, n).await })
            })
            .collect();
        for h in batch {
            if let Err(e) = h.await.expect("join") {
                failures.push(e);
            }
        }
        i += parallel;
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_survive_a_kill_and_a_rolling_restart() {
    let pg = fresh_pg_database().await;
    let dir = std::env::temp_dir().join(unique("latchkey-cluster-"));
    let proxy_port = free_port();
    let public = format!("http://127.0.0.1:{proxy_port}");
    let mut env = shared_env(Some(&pg), &dir, &public);
    env.push(("RUST_LOG", "warn".into()));
    // All the load comes from one address, as in a load test (ARCHITECTURE.md's conventions).
    env.push(("LATCHKEY_PER_IP_LIMITS", "off".into()));
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |args: &[&str], stdin: Option<&str>| latchkey_ok(&env_ref, args, stdin);
    run(&["tenant", "create", "--slug", "shared", "--name", "Shared", "--json"], None);
    let skill = run(
        &[
            "skill",
            "create",
            "--tenant",
            "shared",
            "--name",
            "S",
            "--alexa-skill-id",
            "amzn1.ask.skill.cluster",
            "--vendor-id",
            "M2CLUSTER",
            "--json",
        ],
        None,
    );
    for u in 0..4 {
        run(
            &[
                "user",
                "create",
                "--tenant",
                "shared",
                "--email",
                &format!("u{u}@example.com"),
                "--password-stdin",
                "--json",
            ],
            Some(&format!("{PASSWORD}\n")),
        );
    }
    let setup = Arc::new(Setup {
        client_id: skill["client_id"].as_str().expect("id").into(),
        secret: skill["client_secret"].as_str().expect("secret").into(),
        redirect: skill["redirect_uris"][0].as_str().expect("redirect").into(),
    });
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut instances: Vec<Instance> = Vec::new();
    for p in &ports {
        instances.push(start_logging_to(&env, None, *p).await);
    }
    let proxy = start_proxy(proxy_port, ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect()).await;

    // Every step of every flow lands on the next instance in turn.
    let failures = run_flows(&public, &setup, 24, 4).await;
    assert!(failures.is_empty(), "{failures:?}");

    // SIGKILL one instance while flows run. Requests it was serving at that moment fail (as they would
    // behind any load balancer); everything after goes to the others, and nothing is lost.
    let runner = {
        let (public, setup) = (public.clone(), setup.clone());
        tokio::spawn(async move { run_flows(&public, &setup, 24, 4).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    instances[1].kill();
    // The balancer's health check takes it out. Until then its refused connections are skipped; after,
    // its freed port may belong to another process (CI saw another test's server answer 404 there).
    let killed = instances[1].base.clone();
    proxy.backends.lock().expect("lock").retain(|b| *b != killed);
    let during = runner.await.expect("join");
    assert!(during.len() <= 4, "only requests in flight on the killed instance may fail: {during:?}");
    let after = run_flows(&public, &setup, 12, 4).await;
    assert!(after.is_empty(), "after the kill: {after:?}");

    // Bring it back, then restart each instance in turn under load: no request fails. A replacement
    // gets a new port, as a new pod gets a new address: the old one may have been taken meanwhile.
    instances[1] = start_logging_to(&env, None, free_port()).await;
    proxy.backends.lock().expect("lock").push(instances[1].base.clone());
    let runner = {
        let (public, setup) = (public.clone(), setup.clone());
        tokio::spawn(async move { run_flows(&public, &setup, 36, 4).await })
    };
    for instance in instances.iter_mut() {
        tokio::time::sleep(Duration::from_millis(150)).await;
        // As Kubernetes does (endpoint removal, then the preStop pause, then SIGTERM): the balancer
        // stops sending new requests first; SIGTERM then lets in-flight requests finish.
        let old = instance.base.clone();
        proxy.backends.lock().expect("lock").retain(|b| *b != old);
        tokio::time::sleep(Duration::from_millis(100)).await;
        instance.terminate();
        *instance = start_logging_to(&env, None, free_port()).await;
        proxy.backends.lock().expect("lock").push(instance.base.clone());
    }
    let rolling = runner.await.expect("join");
    assert!(rolling.is_empty(), "rolling restart: {rolling:?}");
    drop(proxy);
    drop(instances);
    drop_pg_database(&pg).await;
    let _ = std::fs::remove_dir_all(&dir);
}
