//! Crash safety: the real binary, built with the test-only fault hooks (latchkey-store's
//! `fault-injection` feature), aborts at a chosen point while issuing, rotating or revoking a grant —
//! as if the machine lost power there. After a restart on the same database the data is consistent
//! (no token without its family, no family without its token, no child of an unused parent) and the
//! client's retry does what it should.
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{latchkey, latchkey_ok};
use crate::helpers::*;
use crate::scale::{Instance, free_port, start_logging_to};

pub(crate) const SLUG: &str = "crash";

pub(crate) struct Rig {
    pub(crate) env: Vec<(&'static str, String)>,
    pub(crate) db_url: String,
    pg: Option<String>,
    dir: PathBuf,
    client_id: String,
    secret: String,
    redirect: String,
    pub(crate) public: String,
    pub(crate) port: u16,
}

impl Rig {
    async fn new(backend: Backend) -> Self {
        Self::new_with(backend, vec![], &[]).await
    }

    /// With more environment for every instance, and more arguments for `skill create`.
    pub(crate) async fn new_with(
        backend: Backend,
        extra_env: Vec<(&'static str, String)>,
        skill_args: &[&str],
    ) -> Self {
        let dir = std::env::temp_dir().join(unique("latchkey-crash-"));
        let port = free_port();
        let public = format!("http://127.0.0.1:{port}");
        let mut env: Vec<(&'static str, String)> = vec![
            ("LATCHKEY_MASTER_KEY", latchkey_store::SecretBox::generate_base64().expect("key")),
            ("LATCHKEY_PUBLIC_URL", public.clone()),
            ("LATCHKEY_DATA_DIR", dir.display().to_string()),
            ("RUST_LOG", "warn".into()),
        ];
        env.extend(extra_env);
        let (db_url, pg) = match backend {
            Backend::Embedded => (format!("sqlite://{}?mode=rw", dir.join("latchkey.db").display()), None),
            Backend::Postgres => {
                let url = fresh_pg_database().await;
                env.push(("DATABASE_URL", url.clone()));
                env.push(("REDIS_URL", redis_url()));
                env.push(("LATCHKEY_REDIS_PREFIX", format!("{}:", unique("lkt"))));
                (url.clone(), Some(url))
            }
        };
        let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let run = |args: &[&str], stdin: Option<&str>| latchkey_ok(&env_ref, args, stdin);
        run(&["tenant", "create", "--slug", SLUG, "--name", "Crash", "--json"], None);
        let skill_create = [
            &[
                "skill",
                "create",
                "--tenant",
                SLUG,
                "--name",
                "S",
                "--alexa-skill-id",
                "amzn1.ask.skill.crash",
                "--vendor-id",
                "M2CRASH",
                "--json",
            ][..],
            skill_args,
        ]
        .concat();
        let skill = run(&skill_create, None);
        run(
            &["user", "create", "--tenant", SLUG, "--email", "u@example.com", "--password-stdin", "--json"],
            Some(&format!("{PASSWORD}\n")),
        );
        Self {
            client_id: skill["client_id"].as_str().expect("id").into(),
            secret: skill["client_secret"].as_str().expect("secret").into(),
            redirect: skill["redirect_uris"][0].as_str().expect("redirect").into(),
            env,
            db_url,
            pg,
            dir,
            public,
            port,
        }
    }

    /// Starts the server; with `fault`, it aborts when it reaches that point.
    pub(crate) async fn start(&self, fault: Option<&str>) -> Instance {
        let mut env = self.env.clone();
        if let Some(p) = fault {
            env.push(("LATCHKEY_FAULT_POINT", p.to_owned()));
        }
        start_logging_to(&env, None, self.port).await
    }

    /// Authorize → sign in → consent, as Alexa's webview; returns the code.
    pub(crate) async fn code(&self) -> String {
        let b = browser();
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("client_id", self.client_id.as_str()),
                ("response_type", "code"),
                ("state", "st"),
                ("redirect_uri", self.redirect.as_str()),
            ])
            .finish();
        let resp = b.get(format!("{}/t/{SLUG}/oauth2/authorize?{q}", self.public)).send().await.expect("authorize");
        assert_eq!(resp.status(), StatusCode::OK);
        let page = resp.text().await.expect("page");
        let resp = post_login(&b, &self.public, SLUG, &page, "u@example.com", PASSWORD).await;
        let resp = if resp.status() == StatusCode::OK {
            let page = resp.text().await.expect("consent page");
            post_consent(&b, &self.public, SLUG, &page, "allow").await
        } else {
            resp
        };
        assert_eq!(resp.status(), StatusCode::FOUND);
        query_param(&location(&resp), "code").expect("code")
    }

    async fn token(&self, form: &[(&str, &str)]) -> reqwest::Result<reqwest::Response> {
        server_client()
            .post(format!("{}/t/{SLUG}/oauth2/token", self.public))
            .basic_auth(&self.client_id, Some(&self.secret))
            .form(form)
            .send()
            .await
    }

    pub(crate) async fn exchange(&self, code: &str) -> reqwest::Result<reqwest::Response> {
        self.token(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", &self.redirect)]).await
    }

    async fn refresh(&self, rt: &str) -> reqwest::Result<reqwest::Response> {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", rt)]).await
    }

    /// A new grant, linked on a healthy instance that is stopped afterwards; its refresh token.
    async fn fresh_grant(&self) -> String {
        let mut inst = self.start(None).await;
        let code = self.code().await;
        let grant: Value = self.exchange(&code).await.expect("exchange").json().await.expect("json");
        inst.terminate();
        grant["refresh_token"].as_str().expect("rt").to_owned()
    }

    pub(crate) async fn db(&self) -> DatabaseConnection {
        Database::connect(&self.db_url).await.expect("database")
    }

    pub(crate) async fn cleanup(self) {
        if let Some(u) = &self.pg {
            drop_pg_database(u).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .expect("query")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("count")
}

/// What must hold whatever point the process died at.
async fn assert_consistent(db: &DatabaseConnection) {
    let orphans = count(
        db,
        "SELECT COUNT(*) FROM refresh_tokens t WHERE NOT EXISTS \
         (SELECT 1 FROM refresh_families f WHERE f.id = t.family_id)",
    )
    .await;
    assert_eq!(orphans, 0, "refresh tokens without a family");
    // Every client here may refresh, so every grant has at least its first token.
    let half_issued = count(
        db,
        "SELECT COUNT(*) FROM refresh_families f WHERE NOT EXISTS \
         (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id)",
    )
    .await;
    assert_eq!(half_issued, 0, "grants without a refresh token");
    let bad_children = count(
        db,
        "SELECT COUNT(*) FROM refresh_tokens c JOIN refresh_tokens p ON c.parent_id = p.id \
         WHERE p.used_at IS NULL OR p.family_id <> c.family_id",
    )
    .await;
    assert_eq!(bad_children, 0, "a child token whose parent is unused or in another family");
}

async fn tokens(db: &DatabaseConnection) -> i64 {
    count(db, "SELECT COUNT(*) FROM refresh_tokens").await
}

async fn live_families(db: &DatabaseConnection) -> i64 {
    count(db, "SELECT COUNT(*) FROM refresh_families WHERE revoked_at IS NULL").await
}

/// Sends the request the faulting instance dies on, and waits for it to be gone.
async fn crash_on<F: std::future::Future<Output = reqwest::Result<reqwest::Response>>>(inst: &mut Instance, req: F) {
    let outcome = req.await;
    assert!(outcome.is_err(), "the request should die with the process, got {:?}", outcome.map(|r| r.status()));
    let status = inst.wait_for_exit(Duration::from_secs(10)).expect("the process aborted");
    assert!(!status.success(), "aborted, not exited cleanly");
}

async fn rotation_crashes(backend: Backend) {
    let rig = Rig::new(backend).await;
    // Dying before the rotation is stored: nothing of it is kept, and the presented refresh token is
    // still unused, so Alexa's retry is a normal first use. The rotation is one statement on
    // PostgreSQL and one batch on SQLite, so the process can only die before it (or after it, below);
    // inside it, its atomicity is the database's (a batch that fails part-way is in refresh_concurrency).
    {
        let point = "rotate.before_commit";
        let rt0 = rig.fresh_grant().await;

        let db = rig.db().await;
        let unused = "SELECT COUNT(*) FROM refresh_tokens WHERE used_at IS NULL";
        let (before, unused_before) = (tokens(&db).await, count(&db, unused).await);
        let mut faulty = rig.start(Some(point)).await;
        crash_on(&mut faulty, rig.refresh(&rt0)).await;
        assert_consistent(&db).await;
        assert_eq!(tokens(&db).await, before, "{point}: the rotation left nothing behind");
        assert_eq!(count(&db, unused).await, unused_before, "{point}: the presented token is still unused");

        let mut again = rig.start(None).await;
        let resp = rig.refresh(&rt0).await.expect("retry");
        assert_eq!(resp.status(), StatusCode::OK, "{point}: the retry succeeds");
        let body: Value = resp.json().await.expect("json");
        let rt1 = body["refresh_token"].as_str().expect("rt1");
        assert_eq!(rig.refresh(rt1).await.expect("next").status(), StatusCode::OK, "{point}: the new token works");
        assert_consistent(&db).await;
        again.terminate();
    }

    // Dying after the commit, before the answer: the child exists but nobody has it. Alexa retries with
    // the same token inside the grace window and gets a working token; the family stays live.
    let rt0 = rig.fresh_grant().await;
    let db = rig.db().await;
    let before = tokens(&db).await;
    let mut faulty = rig.start(Some("rotate.after_commit")).await;
    crash_on(&mut faulty, rig.refresh(&rt0)).await;
    assert_consistent(&db).await;
    assert_eq!(tokens(&db).await, before + 1, "the committed child is kept");
    let mut again = rig.start(None).await;
    let body: Value = rig.refresh(&rt0).await.expect("retry").json().await.expect("json");
    let rt2 = body["refresh_token"].as_str().expect("grace retry answers a new token");
    assert_eq!(rig.refresh(rt2).await.expect("next").status(), StatusCode::OK);
    assert_consistent(&db).await;
    again.terminate();
    rig.cleanup().await;
}

async fn grant_and_unlink_crashes(backend: Backend) {
    let rig = Rig::new(backend).await;
    let db = rig.db().await;

    // Dying between the grant's family and its first token: neither is kept.
    let mut faulty = rig.start(Some("grant.after_family")).await;
    let code = rig.code().await;
    let families = count(&db, "SELECT COUNT(*) FROM refresh_families").await;
    crash_on(&mut faulty, rig.exchange(&code)).await;
    assert_consistent(&db).await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM refresh_families").await, families, "no half-issued grant");

    // Dying after the grant is written, before Alexa has it: Alexa's retry with the same code is a
    // replay. With the KV store shared and persistent (Redis) the replay revokes the unheld grant; the
    // embedded in-memory store forgets the code with the process, so the retry is refused as unknown.
    let mut faulty = rig.start(Some("grant.after_commit")).await;
    let code = rig.code().await;
    let live = live_families(&db).await;
    crash_on(&mut faulty, rig.exchange(&code)).await;
    assert_consistent(&db).await;
    assert_eq!(live_families(&db).await, live + 1, "the grant was committed");
    let mut again = rig.start(None).await;
    let resp = rig.exchange(&code).await.expect("retry");
    json_err(resp, 400, "invalid_grant").await;
    if backend == Backend::Postgres {
        assert_eq!(live_families(&db).await, live, "the replay revoked the grant nobody received");
    }

    // A fresh link to unlink.
    let code = rig.code().await;
    let grant: Value = rig.exchange(&code).await.expect("exchange").json().await.expect("json");
    let rt = grant["refresh_token"].as_str().expect("rt").to_owned();
    let env_ref: Vec<(&str, &str)> = rig.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code_out, out, err) =
        latchkey(&env_ref, &["apikey", "create", "--tenant", SLUG, "--name", "ops", "--json"], None);
    assert_eq!(code_out, 0, "{err}");
    let key: Value = serde_json::from_str(out.trim()).expect("json");
    let key = key["key"].as_str().expect("api key").to_owned();
    let api = server_client();
    let links: Value = api
        .get(format!("{}/t/{SLUG}/api/v1/links", rig.public))
        .bearer_auth(&key)
        .send()
        .await
        .expect("links")
        .json()
        .await
        .expect("json");
    let link_id = links["items"][0]["id"].as_str().expect("a link").to_owned();
    again.terminate();

    // Dying between marking the link revoked and revoking its grants: neither is kept, the token
    // still works, and unlinking again finishes the job.
    let mut faulty = rig.start(Some("unlink.after_link")).await;
    crash_on(
        &mut faulty,
        api.post(format!("{}/t/{SLUG}/api/v1/links/{link_id}/revoke", rig.public)).bearer_auth(&key).send(),
    )
    .await;
    assert_consistent(&db).await;
    let active =
        count(&db, &format!("SELECT COUNT(*) FROM linked_accounts WHERE id = '{link_id}' AND status = 'active'")).await;
    assert_eq!(active, 1, "the link is not half revoked");
    let mut again = rig.start(None).await;
    let body: Value = rig.refresh(&rt).await.expect("refresh").json().await.expect("json");
    let rt = body["refresh_token"].as_str().expect("the grant survived the aborted unlink").to_owned();
    let resp = api
        .post(format!("{}/t/{SLUG}/api/v1/links/{link_id}/revoke", rig.public))
        .bearer_auth(&key)
        .send()
        .await
        .expect("revoke");
    assert!(resp.status().is_success(), "unlink retried: {}", resp.status());
    json_err(rig.refresh(&rt).await.expect("refresh"), 400, "invalid_grant").await;
    again.terminate();
    rig.cleanup().await;
}

on_both_backends!(rotation_crashes, grant_and_unlink_crashes);
