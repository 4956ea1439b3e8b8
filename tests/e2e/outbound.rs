//! Server-side request forgery through upstream providers: a tenant admin types the issuer, and the
//! provider's discovery document names the other URLs, so neither may point the server inside its
//! own network. Driven over the management API, as a tenant admin would, against listeners that
//! count every connection made to them.
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_store::records::NewUpstreamProvider;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// A TCP listener that counts connections and answers each with the same bytes.
struct Listener {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

async fn listen(bind: &str, answer: Vec<u8>) -> Listener {
    let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = sock.write_all(&answer).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Listener { addr, hits }
}

fn redirect_to(location: &str) -> Vec<u8> {
    format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes()
}

/// A server that is not on loopback, as in production (its public URL decides the policy).
async fn production(allowed_networks: &str) -> TestApp {
    let nets = allowed_networks.to_owned();
    TestApp::spawn_with(Backend::Embedded, move |c| {
        c.public_url = Some("https://auth.example.com".into());
        c.allowed_upstream_networks = nets;
    })
    .await
}

struct Admin {
    slug: String,
    key: String,
}

async fn admin(app: &TestApp) -> Admin {
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let key = app.auth.create_api_key(&t, "ops").await.expect("api key").key;
    Admin { slug: f.slug, key }
}

impl Admin {
    async fn create(&self, app: &TestApp, slug: &str, issuer: &str) -> (StatusCode, Value) {
        let resp = server_client()
            .post(app.url(&format!("/t/{}/api/v1/providers", self.slug)))
            .bearer_auth(&self.key)
            .json(&json!({"slug": slug, "name": "Corp", "issuer": issuer, "client_id": "c", "client_secret": "s"}))
            .send()
            .await
            .expect("create");
        (resp.status(), resp.json().await.unwrap_or(Value::Null))
    }

    async fn update(&self, app: &TestApp, slug: &str, issuer: &str) -> (StatusCode, Value) {
        let resp = server_client()
            .patch(app.url(&format!("/t/{}/api/v1/providers/{slug}", self.slug)))
            .bearer_auth(&self.key)
            .json(&json!({"issuer": issuer}))
            .send()
            .await
            .expect("update");
        (resp.status(), resp.json().await.unwrap_or(Value::Null))
    }

    /// The connection test: `(ok, detail)`.
    async fn test(&self, app: &TestApp, slug: &str) -> (bool, String) {
        let resp = server_client()
            .post(app.url(&format!("/t/{}/api/v1/providers/{slug}/test", self.slug)))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("test");
        assert_eq!(resp.status(), StatusCode::OK);
        let v: Value = resp.json().await.expect("json");
        (v["ok"].as_bool().unwrap_or(true), v["detail"].as_str().unwrap_or_default().to_owned())
    }

    /// A provider row written straight to the store: one saved before this check existed, or whose
    /// name resolved elsewhere when it was saved.
    async fn stored(&self, app: &TestApp, slug: &str, issuer: &str) {
        let t = app.auth.tenant_for_admin(&self.slug).await.expect("tenant");
        app.store
            .scoped(t.id())
            .create_provider(NewUpstreamProvider {
                slug: slug.into(),
                name: "Old".into(),
                issuer: issuer.into(),
                client_id: "c".into(),
                client_secret: "s".into(),
                scopes: vec!["openid".into()],
                link_by_email: false,
                create_users: true,
                claim_map: Default::default(),
            })
            .await
            .expect("stored provider");
    }
}

/// Every scheme and address family that reaches inside is refused when an issuer is saved, on create
/// and on update, with a message that says why; nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_and_non_https_issuers_are_refused_when_saved() {
    let app = production("").await;
    let a = admin(&app).await;
    let local = listen("127.0.0.1:0", redirect_to("https://example.com/")).await;
    let port = local.addr.port();
    let refused = [
        ("http://169.254.169.254/latest/meta-data", "https"),
        ("https://169.254.169.254/latest/meta-data", "internal"),
        ("https://10.0.0.1", "internal"),
        ("https://192.168.1.1", "internal"),
        ("https://100.64.0.1", "internal"),
        ("https://0.0.0.0", "internal"),
        (&format!("https://127.0.0.1:{port}"), "internal"),
        ("https://0x7f000001", "internal"),
        ("https://2130706433", "internal"),
        ("https://[::1]", "internal"),
        ("https://[::ffff:169.254.169.254]", "internal"),
        ("https://[::ffff:7f00:1]", "internal"),
        ("https://[fd00:ec2::254]", "internal"),
        ("https://[fe80::1]", "internal"),
        ("https://[64:ff9b::a9fe:a9fe]", "internal"),
        // A name that resolves to 127.0.0.1.
        (&format!("https://localhost:{port}"), "internal"),
        ("file:///etc/passwd", "https"),
        ("ftp://idp.example.com/x", "https"),
        ("gopher://idp.example.com/x", "https"),
        ("https://user:pass@idp.example.com", "user name"),
    ];
    for (i, (issuer, why)) in refused.iter().enumerate() {
        let (status, problem) = a.create(&app, &format!("bad{i}"), issuer).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{issuer}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(why), "{issuer}: {detail}");
    }
    let t = app.auth.tenant_for_admin(&a.slug).await.expect("tenant");
    assert!(app.store.scoped(t.id()).list_providers().await.expect("list").is_empty(), "nothing stored");

    // A public https issuer is accepted (`.invalid` never resolves: it is checked again at each fetch).
    let (status, _) = a.create(&app, "corp", "https://idp.invalid/realms/corp").await;
    assert_eq!(status, StatusCode::CREATED);
    for (issuer, _) in &refused {
        let (status, problem) = a.update(&app, "corp", issuer).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "update to {issuer}: {problem}");
    }
    let kept = app.store.scoped(t.id()).provider("corp").await.expect("q").expect("corp");
    assert_eq!(kept.issuer, "https://idp.invalid/realms/corp", "a refused update changes nothing");
    assert_eq!(local.hits.load(Ordering::SeqCst), 0, "saving never connects");
    app.cleanup().await;
}

/// A stored issuer that points inside (saved before the check, or DNS that changed since) is refused
/// at fetch time, before any connection: the listener behind it sees nothing, and the answer does
/// not tell an open port from a closed one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_never_connect_to_internal_addresses() {
    let app = production("").await;
    let a = admin(&app).await;
    let v4 = listen("127.0.0.1:0", redirect_to("https://example.com/")).await;
    let v6 = match tokio::net::TcpListener::bind("[::1]:0").await {
        Ok(l) => {
            drop(l);
            Some(listen("[::1]:0", redirect_to("https://example.com/")).await)
        }
        Err(_) => None, // no IPv6 loopback on this machine
    };
    let mut issuers = vec![
        format!("http://127.0.0.1:{}", v4.addr.port()),
        format!("https://127.0.0.1:{}", v4.addr.port()),
        format!("https://localhost:{}", v4.addr.port()),
        format!("http://localhost:{}", v4.addr.port()),
        format!("https://[::ffff:127.0.0.1]:{}", v4.addr.port()),
        // A closed port answers exactly like the open one.
        "https://127.0.0.1:9".to_owned(),
    ];
    if let Some(v6) = &v6 {
        issuers.push(format!("https://[::1]:{}", v6.addr.port()));
    }
    let mut details = Vec::new();
    for (i, issuer) in issuers.iter().enumerate() {
        a.stored(&app, &format!("old{i}"), issuer).await;
        let (ok, detail) = a.test(&app, &format!("old{i}")).await;
        assert!(!ok, "{issuer}");
        assert!(detail.contains("refused"), "{issuer}: {detail}");
        details.push(detail.replace(issuer, "ISSUER"));
    }
    assert_eq!(v4.hits.load(Ordering::SeqCst), 0, "no connection reached the IPv4 listener");
    if let Some(v6) = &v6 {
        assert_eq!(v6.hits.load(Ordering::SeqCst), 0, "no connection reached the IPv6 listener");
    }
    assert_eq!(details[1], details[5], "an open port and a closed one answer alike");

    // The same refusal on the sign-in path: the user gets a page, the listener nothing.
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let fa = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let fadmin = Admin { slug: f.slug.clone(), key: app.auth.create_api_key(&fa, "ops").await.expect("key").key };
    fadmin.stored(&app, "inside", &format!("https://localhost:{}", v4.addr.port())).await;
    let b = browser();
    let page = get_page(&b, authorize_url(&app, &f, "s", None, &[])).await;
    let flow = hidden(&page, "flow");
    let resp =
        b.get(app.url(&format!("/t/{}/federation/inside/start?flow={flow}", f.slug))).send().await.expect("start");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(v4.hits.load(Ordering::SeqCst), 0);
    app.cleanup().await;
}

/// With an internal network the operator allowed, a provider there works over plain http, but a
/// redirect from it to another internal address is not followed, and an endless answer is cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_held_to_the_policy_and_answers_are_bounded() {
    let app = production("127.0.0.1/32").await;
    let a = admin(&app).await;
    // 127.0.0.3 is loopback too, but not in the allowed list.
    let secret_service = listen("127.0.0.3:0", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec()).await;
    let hidden_url = format!("http://127.0.0.3:{}/.well-known/openid-configuration", secret_service.addr.port());
    let (status, problem) = a.create(&app, "direct", &format!("http://127.0.0.3:{}", secret_service.addr.port())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "only the listed network: {problem}");

    for (slug, target) in [
        ("toloopback", hidden_url.clone()),
        ("tometadata", "http://169.254.169.254/latest/meta-data/".to_owned()),
        ("tofile", "file:///etc/passwd".to_owned()),
    ] {
        let redirector = listen("127.0.0.1:0", redirect_to(&target)).await;
        let (status, problem) = a.create(&app, slug, &format!("http://127.0.0.1:{}", redirector.addr.port())).await;
        assert_eq!(status, StatusCode::CREATED, "an allowed network over http: {problem}");
        let (ok, detail) = a.test(&app, slug).await;
        assert!(!ok, "{slug}");
        if slug == "tofile" {
            // A redirect to a scheme the client cannot fetch is not followed at all: the 302 is the answer.
            assert!(detail.contains("302 Found"), "{slug}: {detail}");
        } else {
            assert!(detail.contains("refused") && detail.contains("internal address"), "{slug}: {detail}");
        }
        assert!(redirector.hits.load(Ordering::SeqCst) >= 1, "the allowed provider was asked");
    }
    assert_eq!(secret_service.hits.load(Ordering::SeqCst), 0, "no redirect reached the internal service");

    // Answers without a length, and with an honest one, are both cut at the limit.
    let mut endless = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n".to_vec();
    endless.extend(std::iter::repeat_n(b' ', 2 * 1024 * 1024));
    let mut announced =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9999999\r\n\r\n".to_vec();
    announced.extend(std::iter::repeat_n(b' ', 1024));
    for (slug, answer) in [("endless", endless), ("announced", announced)] {
        let big = listen("127.0.0.1:0", answer).await;
        let (status, _) = a.create(&app, slug, &format!("http://127.0.0.1:{}", big.addr.port())).await;
        assert_eq!(status, StatusCode::CREATED);
        let (ok, detail) = a.test(&app, slug).await;
        assert!(!ok && detail.contains("larger than"), "{slug}: {detail}");
    }
    app.cleanup().await;
}
