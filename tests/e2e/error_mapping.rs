//! One mapping of errors to answers: a database fault reaches every surface (the management API, the
//! OAuth token endpoint, a sign-in page, the skill backend's Alexa endpoint, the CLI) as that surface's
//! own "internal error", with none of the database's words in the answer, and the log keeps the
//! database's error as the cause.
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

use crate::cli::{latchkey, latchkey_ok};
use crate::helpers::*;
use crate::scale::{free_port, start_logging_to};

/// The database's own words for the faults below; none may reach a caller.
const DB_WORDS: [&str; 3] = ["no such table", "_gone", "SqliteError"];

fn assert_clean(surface: &str, body: &str) {
    for w in DB_WORDS {
        assert!(!body.contains(w), "{surface} shows the database's words ({w}): {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_fault_is_each_surfaces_internal_error_and_the_log_keeps_its_cause() {
    let dir = std::env::temp_dir().join(unique("latchkey-faults-"));
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let env: Vec<(&str, String)> = vec![
        ("LATCHKEY_DATA_DIR", dir.display().to_string()),
        ("LATCHKEY_PUBLIC_URL", public.clone()),
        ("RUST_LOG", "info".into()),
    ];
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |args: &[&str]| latchkey_ok(&env_ref, args, None);
    run(&["tenant", "create", "--slug", "faults", "--name", "Faults", "--json"]);
    let skill = run(&[
        "skill",
        "create",
        "--tenant",
        "faults",
        "--name",
        "S",
        "--alexa-skill-id",
        "amzn1.ask.skill.faults",
        "--vendor-id",
        "M2FAULTS",
        "--json",
    ]);
    let key = run(&["apikey", "create", "--tenant", "faults", "--name", "lambda", "--json"])["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let log = dir.join("server.log");
    let inst = start_logging_to(&env, Some(&log), port).await;
    let client_id = skill["client_id"].as_str().expect("id");
    let secret = skill["client_secret"].as_str().expect("secret");
    let c = server_client();
    let skills_url = format!("{public}/t/faults/api/v1/skills");
    let before = c.get(&skills_url).bearer_auth(&key).send().await.expect("list");
    assert_eq!(before.status(), StatusCode::OK);

    // Break the database under the running server, as a botched manual change would.
    let db = Database::connect(format!("sqlite://{}?mode=rw", dir.join("latchkey.db").display()).as_str())
        .await
        .expect("sqlite");
    for t in ["skills", "refresh_tokens"] {
        db.execute_unprepared(&format!("ALTER TABLE {t} RENAME TO {t}_gone")).await.expect("rename");
    }

    // The management API: an RFC 9457 problem.
    let resp = c.get(&skills_url).bearer_auth(&key).send().await.expect("list");
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body = resp.text().await.expect("body");
    assert_clean("the management API", &body);
    let problem: Value = serde_json::from_str(&body).expect("problem");
    assert_eq!((problem["status"].as_u64(), problem["detail"].as_str()), (Some(500), Some("internal error")));

    // The token endpoint: RFC 6749's server_error.
    let resp = c
        .post(format!("{public}/t/faults/oauth2/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "made-up")])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = resp.text().await.expect("body");
    assert_clean("the token endpoint", &body);
    assert_eq!(serde_json::from_str::<Value>(&body).expect("json")["error"], "server_error");

    // The skill backend's endpoint: the Alexa surface's JSON.
    let event = serde_json::json!({"user": "u", "skill": "amzn1.ask.skill.faults", "event": {"header": {"namespace": "Alexa", "name": "ChangeReport", "messageId": "x", "payloadVersion": "3"}, "endpoint": {"endpointId": "e"}, "payload": {}}});
    let resp =
        c.post(format!("{public}/t/faults/alexa/events")).bearer_auth(&key).json(&event).send().await.expect("event");
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = resp.text().await.expect("body");
    assert_clean("the Alexa endpoint", &body);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!((v["error"].as_str(), v["message"].as_str()), (Some("internal_error"), Some("internal error")));

    // A sign-in page: an HTML page with the 500 status.
    db.execute_unprepared("ALTER TABLE oauth_clients RENAME TO oauth_clients_gone").await.expect("rename");
    let resp = browser()
        .get(format!(
            "{public}/t/faults/oauth2/authorize?client_id=not-cached&response_type=code&state=s&redirect_uri=https%3A%2F%2Fexample.com%2F"
        ))
        .send()
        .await
        .expect("page");
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(resp.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/html"));
    assert_clean("the sign-in page", &resp.text().await.expect("page"));

    // The CLI is the operator's own tool: it exits 1 and prints the whole chain of causes.
    let (code, _, err) = latchkey(&env_ref, &["skill", "list", "--tenant", "faults"], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("storage failed") && err.contains("no such table"), "{err}");
    drop(inst);

    // The log names each surface's fault with the database's error as its cause.
    let text = without_colours(&std::fs::read_to_string(&log).expect("log"));
    for surface in ["api", "oauth", "alexa", "page"] {
        let line = text
            .lines()
            .find(|l| l.contains("internal error") && l.contains(&format!("surface=\"{surface}\"")))
            .unwrap_or_else(|| panic!("no internal error logged for {surface}: {text}"));
        assert!(line.contains("no such table"), "the cause is not in the log line: {line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The log as text, without the terminal colour codes the formatter may add around field names.
fn without_colours(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
