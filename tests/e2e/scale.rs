//! Two `latchkey` processes on one PostgreSQL and one Redis: a flow begun on one finishes on the other.
use reqwest::StatusCode;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cli::latchkey_ok;
use crate::helpers::*;

pub struct Instance {
    child: Child,
    pub base: String,
}

impl Instance {
    /// SIGTERM: stop accepting, finish what is in flight, exit.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }

    /// Waits up to `limit` for the process to end by itself (a crash test's abort).
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGKILL: gone at once, mid-request.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment shared by the `latchkey serve` processes and CLI runs of one deployment: one master
/// key, one data directory, the public URL of whatever fronts them, and with `pg` one PostgreSQL and
/// one Redis (else the SQLite file in `dir`).
pub fn shared_env(pg: Option<&str>, dir: &std::path::Path, public: &str) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("LATCHKEY_MASTER_KEY", latchkey_store::SecretBox::generate_base64().expect("key")),
        ("LATCHKEY_PUBLIC_URL", public.to_owned()),
        ("LATCHKEY_DATA_DIR", dir.display().to_string()),
    ];
    if let Some(pg) = pg {
        env.push(("DATABASE_URL", pg.to_owned()));
        env.push(("REDIS_URL", redis_url()));
        env.push(("LATCHKEY_REDIS_PREFIX", format!("{}:", unique("lkt"))));
    }
    env
}

/// A skill's OAuth client, as `latchkey skill create --json` printed it.
pub struct SkillClient {
    pub client_id: String,
    pub secret: String,
    pub redirect: String,
}

impl SkillClient {
    pub fn from_json(skill: &serde_json::Value) -> Self {
        Self {
            client_id: skill["client_id"].as_str().expect("client id").to_owned(),
            secret: skill["client_secret"].as_str().expect("secret").to_owned(),
            redirect: skill["redirect_uris"][0].as_str().expect("redirect").to_owned(),
        }
    }
}

/// A whole linking flow at `base` for tenant `slug`, as a browser and then Alexa drive it: authorize,
/// sign in as `email`, consent, exchange the code. The token response.
pub async fn link_at(base: &str, slug: &str, s: &SkillClient, email: &str) -> serde_json::Value {
    let br = browser();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", s.client_id.as_str()),
            ("response_type", "code"),
            ("state", "xyz"),
            ("redirect_uri", s.redirect.as_str()),
        ])
        .finish();
    let page = get_page(&br, format!("{base}/t/{slug}/oauth2/authorize?{q}")).await;
    let resp = post_login(&br, base, slug, &page, email, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.expect("consent");
    let resp = post_consent(&br, base, slug, &page, "allow").await;
    let code = query_param(&location(&resp), "code").expect("code");
    server_client()
        .post(format!("{base}/t/{slug}/oauth2/token"))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", s.redirect.as_str())])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

async fn start(env: &[(&str, String)]) -> Instance {
    start_logging_to(env, None, free_port()).await
}

/// Starts `latchkey serve` on a free port; its log goes to `log` (or nowhere).
pub async fn start_logging_to(env: &[(&str, String)], log: Option<&std::path::Path>, port: u16) -> Instance {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    let stderr = match log {
        Some(p) => Stdio::from(std::fs::File::create(p).expect("log file")),
        None => Stdio::null(),
    };
    cmd.env_clear().args(["serve", "--bind", &format!("127.0.0.1:{port}")]).stdout(Stdio::null()).stderr(stderr);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut inst = Instance { child: cmd.spawn().expect("spawn"), base: format!("http://127.0.0.1:{port}") };
    for _ in 0..150 {
        // An instance that could not bind has exited: whatever answers on its port is someone else.
        if let Ok(Some(status)) = inst.child.try_wait() {
            panic!("instance on port {port} exited before it was ready: {status}");
        }
        if let Ok(r) = server_client().get(format!("{}/readyz", inst.base)).timeout(Duration::from_secs(2)).send().await
            && r.status() == StatusCode::OK
        {
            return inst;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("instance on port {port} did not become ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_begun_on_one_instance_finishes_on_another() {
    let pg = fresh_pg_database().await;
    let dir = std::env::temp_dir().join(unique("latchkey-scale-"));
    // Both instances present the same public URL, as they would behind one load balancer.
    let public = format!("http://127.0.0.1:{}", free_port());
    let env = shared_env(Some(&pg), &dir, &public);
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |args: &[&str], stdin: Option<&str>| latchkey_ok(&env_ref, args, stdin);
    run(&["migrate", "--json"], None);
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
            "amzn1.ask.skill.77",
            "--vendor-id",
            "M2SCALE",
            "--json",
        ],
        None,
    );
    run(
        &["user", "create", "--tenant", "shared", "--email", "u@example.com", "--password-stdin", "--json"],
        Some(&format!("{PASSWORD}\n")),
    );

    let a = start(&env).await;
    let b = start(&env).await;
    let client_id = skill["client_id"].as_str().expect("client id");
    let secret = skill["client_secret"].as_str().expect("secret");
    let redirect = skill["redirect_uris"][0].as_str().expect("redirect");

    // Authorize on A, sign in on B, consent on A.
    let br = browser();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", client_id),
            ("response_type", "code"),
            ("state", "xyz"),
            ("redirect_uri", redirect),
        ])
        .finish();
    let page = get_page(&br, format!("{}/t/shared/oauth2/authorize?{q}", a.base)).await;
    let resp = post_login(&br, &b.base, "shared", &page, "u@example.com", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.expect("consent");
    let resp = post_consent(&br, &a.base, "shared", &page, "allow").await;
    let loc = location(&resp);
    assert!(loc.contains(&format!(
        "iss={}",
        url::form_urlencoded::byte_serialize(format!("{public}/t/shared").as_bytes()).collect::<String>()
    )));
    let code = query_param(&loc, "code").expect("code");

    // Exchange on B, refresh on A, introspect on B; a replay on A is refused.
    let c = server_client();
    let tokens: serde_json::Value = c
        .post(format!("{}/t/shared/oauth2/token", b.base))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", redirect)])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let rt = tokens["refresh_token"].as_str().expect("refresh token");
    let resp = c
        .post(format!("{}/t/shared/oauth2/token", a.base))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", redirect)])
        .send()
        .await
        .expect("replay");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let refreshed: serde_json::Value = c
        .post(format!("{}/t/shared/oauth2/token", a.base))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    // The replay revoked the grant on every instance.
    assert_eq!(refreshed["error"], "invalid_grant", "{refreshed}");
    let info: serde_json::Value = c
        .post(format!("{}/t/shared/oauth2/introspect", b.base))
        .basic_auth(client_id, Some(secret))
        .form(&[("token", tokens["access_token"].as_str().expect("at"))])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(info, serde_json::json!({"active": false}));

    drop(a);
    drop(b);
    drop_pg_database(&pg).await;
    let _ = std::fs::remove_dir_all(&dir);
}
