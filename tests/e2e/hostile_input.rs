//! Hostile input to the management API: any string, huge and negative numbers and unicode in every
//! query and path parameter get a 2xx or 4xx answer, never a 5xx or a dropped connection, and the
//! server is alive afterwards. `cursor=9223372036854775808` used to panic in the database layer.
use latchkey_core::client_auth::ClientAuthMethod;
use proptest::prelude::*;

use crate::helpers::*;

/// Values worth trying in any parameter, besides arbitrary strings.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("9223372036854775808".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-9223372036854775809".to_owned()),
        Just("-1".to_owned()),
        Just("0".to_owned()),
        Just("1e309".to_owned()),
        Just("NaN".to_owned()),
        Just("%00".to_owned()),
        Just("../../etc/passwd".to_owned()),
        Just("'; DROP TABLE end_users; --".to_owned()),
        Just("\u{202e}\u{0000}\u{fffd}".to_owned()),
        Just("x".repeat(5000)),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        ".{0,64}",
    ]
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[test]
fn the_management_api_survives_any_parameter() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (app, f, key) = rt.block_on(async {
        let app = TestApp::spawn(Backend::Embedded).await;
        let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
        let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
        let key = app.auth.create_api_key(&t, "fuzz").await.expect("key").key;
        (app, f, key)
    });
    let http = server_client();
    let base = format!("/t/{}/api/v1", f.slug);
    let lists = ["users", "links", "audit", "skills", "clients", "providers", "api-keys", "members"];
    let params = ["cursor", "limit", "q", "user", "skill", "action", "actor", "since", "until"];
    let items = ["users", "links", "skills", "clients", "providers/x/test", "users/x/disable"];
    // Every list with every parameter at the numeric edges, then random combinations.
    let edges = ["9223372036854775808", "18446744073709551615", "-9223372036854775809", "-1", "1e309", "\u{fffd}"];
    for list in lists {
        for param in params {
            for v in edges {
                let url = format!("{base}/{list}?{param}={}", enc(v));
                let status = rt.block_on(async { http.get(app.url(&url)).bearer_auth(&key).send().await });
                let status = status.unwrap_or_else(|e| panic!("GET {url}: no answer: {e}")).status();
                assert!(!status.is_server_error(), "GET {url} answered {status}");
            }
        }
    }
    let config = ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(list in 0..lists.len(), param in 0..params.len(), other in 0..params.len(),
                       item in 0..items.len(), v in nasty(), w in nasty())| {
        let query = format!("{base}/{}?{}={}&{}={}", lists[list], params[param], enc(&v), params[other], enc(&w));
        let path = format!("{base}/{}", items[item]).replace("/x", &format!("/{}", enc(&v)));
        let path = if path.ends_with(items[item]) { format!("{path}/{}", enc(&v)) } else { path };
        for (method, url) in [("GET", query), ("GET", path.clone()), ("POST", path)] {
            let status = rt.block_on(async {
                let req = if method == "GET" { http.get(app.url(&url)) } else { http.post(app.url(&url)) };
                req.bearer_auth(&key).send().await.map(|r| r.status())
            });
            let status = status.map_err(|e| TestCaseError::fail(format!("{method} {url}: no answer: {e}")))?;
            prop_assert!(!status.is_server_error(), "{} {} answered {}", method, url, status);
        }
    });
    let alive = rt.block_on(async { server_client().get(app.url("/healthz")).send().await.map(|r| r.status()) });
    assert_eq!(alive.expect("the server still answers").as_u16(), 200);
    rt.block_on(app.cleanup());
}

/// Sends `size` bytes to `path` as a chunked body (no Content-Length) over a raw connection and
/// returns the status the server answered with.
async fn chunked_post(base: &str, path: &str, size: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: {base}\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let _ = s.write_all(head.as_bytes()).await;
    let chunk = vec![b'a'; 16 * 1024];
    let mut sent = 0;
    while sent < size {
        // The server may answer and stop reading before everything is sent.
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.is_err()
            || s.write_all(&chunk).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break;
        }
        sent += chunk.len();
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut buf = vec![0u8; 1024];
    let n =
        tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf)).await.expect("answer").unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status line: {text}"))
}

/// One body limit for every route, the dashboard's server functions included, enforced before the
/// body is read: a declared length over it is 413 at once, and a chunked body is cut off at it.
/// The server functions used to read bodies of any size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_refused() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let page = server_client().get(app.url("/admin/login")).send().await.expect("page").text().await.expect("html");
    let sign_in = page.split("<form action=\"").nth(1).and_then(|r| r.split('"').next()).expect("action").to_owned();
    let big = "a".repeat(300 * 1024);
    for path in [sign_in.clone(), format!("/t/{}/oauth2/token", f.slug), format!("/t/{}/login", f.slug)] {
        let resp = server_client()
            .post(app.url(&path))
            .header("origin", &app.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("email={big}"))
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status().as_u16(), 413, "{path} with Content-Length");
        assert_eq!(chunked_post(&app.base, &path, 300 * 1024).await, 413, "{path} chunked");
    }
    // A body within the limit is still read, chunked or not.
    assert_eq!(chunked_post(&app.base, &sign_in, 8 * 1024).await, 400, "a small chunked body reaches the function");
    let ok = server_client().get(app.url("/healthz")).send().await.expect("alive");
    assert_eq!(ok.status().as_u16(), 200);
    app.cleanup().await;
}

/// Anonymous authorize requests used to store a flow of up to ~2.3 KB each for 30 minutes with no
/// limit: 30,000 requests added 70 MB. Now each parameter is capped (400 past it), a flow that has
/// not reached sign-in lives 10 minutes, and one address may start 60 flows per minute per tenant,
/// so a flood from one address holds at most 60 flows of at most `MAX_FLOW_BYTES` each. Checked in
/// Redis itself, where the flows are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorize_flood_from_one_address_is_bounded() {
    use latchkey_core::authorize::{MAX_FLOW_BYTES, MAX_NONCE_LEN, MAX_STATE_LEN};
    let prefix = format!("{}:", unique("flood"));
    let app = TestApp::spawn_with(Backend::Postgres, |c| {
        c.redis_prefix = prefix.clone();
        c.trusted_proxies = "127.0.0.1".into();
    })
    .await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let (state, nonce) = ("s".repeat(MAX_STATE_LEN), "n".repeat(MAX_NONCE_LEN));
    let url = authorize_url(&app, &f, &state, None, &[("nonce", &nonce)]);
    let (mut stored, mut refused) = (0, 0);
    for _ in 0..300 {
        let resp = browser().get(&url).header("x-forwarded-for", "192.0.2.200").send().await.expect("authorize");
        match resp.status().as_u16() {
            200 => stored += 1,
            429 => {
                assert!(resp.headers().get("retry-after").is_some());
                refused += 1;
            }
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!((stored, refused), (60, 240), "60 flows per minute from one address");
    // Another address is not affected.
    let other = browser().get(&url).header("x-forwarded-for", "192.0.2.201").send().await.expect("authorize");
    assert_eq!(other.status().as_u16(), 200);
    // Past a cap: a clear 400, nothing stored.
    let long = authorize_url(&app, &f, &"s".repeat(MAX_STATE_LEN + 1), None, &[]);
    let resp = browser().get(&long).header("x-forwarded-for", "192.0.2.202").send().await.expect("authorize");
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.text().await.expect("page").contains("state is longer than"));

    let client = redis::Client::open(redis_url()).expect("redis");
    let mut con = client.get_multiplexed_async_connection().await.expect("connection");
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}flow:*")).query_async(&mut con).await.expect("keys");
    assert_eq!(keys.len(), 61, "the 60 flows of the flood and the other address's one");
    for k in &keys {
        let len: usize = redis::cmd("STRLEN").arg(k).query_async(&mut con).await.expect("strlen");
        let ttl: i64 = redis::cmd("TTL").arg(k).query_async(&mut con).await.expect("ttl");
        assert!(len <= MAX_FLOW_BYTES, "{k}: {len} bytes");
        assert!((1..=600).contains(&ttl), "{k}: kept {ttl} s before anyone signed in");
    }
    app.cleanup().await;
}
