//! The CLI as a device company scripts it: `--json` prints one object on stdout, errors exit non-zero
//! with a message on stderr, and what the CLI writes is what the running server serves.
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::helpers::*;

pub fn latchkey(env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    cmd.env_clear().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn latchkey");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command that must succeed (with `--json` among `args`) and parses what it printed.
pub fn latchkey_ok(env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Value {
    let (code, out, err) = latchkey(env, args, stdin);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(out.trim()).expect("json")
}

fn json_line(stdout: &str) -> Value {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line of JSON on stdout: {stdout}");
    serde_json::from_str(lines[0]).expect("valid JSON")
}

fn dir_env(dir: &Path) -> Vec<(&'static str, String)> {
    vec![("LATCHKEY_DATA_DIR", dir.display().to_string())]
}

#[test]
fn cli_manages_resources_and_reports_errors() {
    let dir = std::env::temp_dir().join(unique("latchkey-cli-"));
    let owned = dir_env(&dir);
    let env: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let (code, out, err) =
        latchkey(&env, &["tenant", "create", "--slug", "acme", "--name", "Acme Locks", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let t = json_line(&out);
    assert_eq!(t["slug"], "acme");
    assert_eq!(t["issuer"], "http://127.0.0.1:8080/t/acme");
    assert!(t["id"].is_string());

    let (code, _, err) = latchkey(&env, &["tenant", "create", "--slug", "acme", "--name", "Again", "--json"], None);
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = latchkey(&env, &["tenant", "create", "--slug", "Bad Slug", "--name", "x", "--json"], None);
    assert_ne!(code, 0);
    assert!(err.contains("slug"), "{err}");
    let (code, out, err) = latchkey(
        &env,
        &["tenant", "create", "--slug", "ecdsa", "--name", "EC", "--signing-alg", "ES256", "--json"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_line(&out)["signing_alg"], "ES256");
    let (code, out, err) = latchkey(&env, &["keys", "list", "--tenant", "ecdsa", "--json"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_line(&out)["keys"][0]["alg"], "ES256");
    // Only asymmetric algorithms, spelled as JOSE spells them.
    for alg in ["HS256", "none", "es256"] {
        let args = ["tenant", "create", "--slug", "hmac", "--name", "HS", "--signing-alg", alg, "--json"];
        let (code, _, err) = latchkey(&env, &args, None);
        assert_ne!(code, 0, "{alg}");
        assert!(err.contains("supported: RS256, ES256, EdDSA"), "{err}");
    }

    let skill_args = [
        "skill",
        "create",
        "--tenant",
        "acme",
        "--name",
        "Acme Smart Home",
        "--alexa-skill-id",
        "amzn1.ask.skill.0001",
        "--vendor-id",
        "M2ABCDEF",
        "--kind",
        "smart-home",
        "--region",
        "NA",
        "--lwa-client-id",
        "amzn1.application-oa2-client.x",
        "--lwa-client-secret",
        "lwa-secret",
        "--json",
    ];
    let (code, out, err) = latchkey(&env, &skill_args, None);
    assert_eq!(code, 0, "{err}");
    let s = json_line(&out);
    for k in [
        "id",
        "client_id",
        "client_secret",
        "authorization_uri",
        "access_token_uri",
        "redirect_uris",
        "scopes",
        "auth_method",
    ] {
        assert!(!s[k].is_null(), "{k} in {s}");
    }
    assert_eq!(s["auth_method"], "client_secret_basic");
    assert_eq!(s["redirect_uris"].as_array().map(Vec::len), Some(3));
    assert_eq!(s["authorization_uri"], "http://127.0.0.1:8080/t/acme/oauth2/authorize");

    // A smart-home skill refuses a lifetime Alexa would reject.
    let (code, _, err) = latchkey(
        &env,
        &[
            "skill",
            "create",
            "--tenant",
            "acme",
            "--name",
            "x",
            "--alexa-skill-id",
            "amzn1.ask.skill.0002",
            "--vendor-id",
            "M2X",
            "--access-token-ttl",
            "300",
            "--json",
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("360"), "{err}");

    // A skill live in several regions: --region repeats (or takes a list).
    let (code, out, err) = latchkey(
        &env,
        &[
            "skill",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Everywhere",
            "--alexa-skill-id",
            "amzn1.ask.skill.0003",
            "--vendor-id",
            "M2X",
            "--region",
            "EU",
            "--region",
            "NA,FE",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    json_line(&out);
    let (code, out, err) =
        latchkey(&env, &["skill", "show", "--tenant", "acme", "--skill", "amzn1.ask.skill.0003", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let shown = json_line(&out);
    let skill = if shown["skill"].is_object() { &shown["skill"] } else { &shown };
    assert_eq!(skill["regions"], serde_json::json!(["EU", "NA", "FE"]), "{shown}");

    let (code, out, err) = latchkey(
        &env,
        &["user", "create", "--tenant", "acme", "--email", "a@example.com", "--password-stdin", "--json"],
        Some("pass word 123\n"),
    );
    assert_eq!(code, 0, "{err}");
    let u = json_line(&out);
    assert_eq!(u["email"], "a@example.com");

    let (code, out, err) = latchkey(
        &env,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "app",
            "--redirect-uri",
            "https://app.example/cb",
            "--auth-method",
            "client_secret_post",
            "--grant-types",
            "authorization_code,refresh_token,client_credentials",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let c = json_line(&out);
    assert!(c["client_id"].is_string() && c["client_secret"].is_string());
    let (code, _, err) = latchkey(
        &env,
        &["client", "create", "--tenant", "acme", "--name", "bad", "--redirect-uri", "http://app.example/cb", "--json"],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("https"), "{err}");

    // Clients and skills change in place: options left out keep their values.
    let client_id = c["client_id"].as_str().expect("client id");
    let update = ["client", "update", "--tenant", "acme", "--client-id", client_id];
    let (code, out, err) = latchkey(
        &env,
        &[
            &update[..],
            &[
                "--scope",
                "openid",
                "--refresh-idle",
                "86400",
                "--redirect-uri",
                "https://app.example/cb2",
                "--id-token-alg",
                "ES256",
                "--json",
            ],
        ]
        .concat(),
        None,
    );
    assert_eq!(code, 0, "{err}");
    let changed = json_line(&out);
    assert_eq!(changed["scopes"], serde_json::json!(["openid"]));
    assert_eq!(changed["redirect_uris"], serde_json::json!(["https://app.example/cb2"]));
    assert_eq!(changed["refresh_policy"], serde_json::json!({"policy": "fixed", "idle_secs": 86400}));
    assert_eq!(changed["auth_method"], "client_secret_post", "kept: {changed}");
    assert_eq!(changed["id_token_signed_response_alg"], "ES256");
    // JOSE names are exact: a misspelt algorithm is refused and changes nothing.
    let (code, _, err) = latchkey(&env, &[&update[..], &["--id-token-alg", "es256", "--json"]].concat(), None);
    assert_ne!(code, 0);
    assert!(err.contains("supported: RS256, ES256, EdDSA"), "{err}");
    let (code, _, err) = latchkey(
        &env,
        &[&update[..], &["--refresh-policy", "fixed", "--refresh-grace", "10", "--json"]].concat(),
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("--refresh-grace goes with rotate"), "{err}");

    // A rotation keeps the old secret working for a day unless told otherwise (0: stop it at once).
    let rotate = ["client", "rotate-secret", "--tenant", "acme", "--client-id", client_id, "--json"];
    let (code, out, err) = latchkey(&env, &rotate, None);
    assert_eq!(code, 0, "{err}");
    let rotated = json_line(&out);
    assert!(rotated["client_secret"].is_string() && rotated["previous_secret_expires_at"].is_i64(), "{rotated}");
    let (code, out, err) = latchkey(&env, &[&rotate[..], &["--grace", "0"]].concat(), None);
    assert_eq!(code, 0, "{err}");
    assert!(json_line(&out)["previous_secret_expires_at"].is_null());
    let (code, _, err) = latchkey(&env, &[&rotate[..], &["--grace=-5"]].concat(), None);
    assert_ne!(code, 0);
    assert!(err.contains("grace period"), "{err}");

    let update = ["skill", "update", "--tenant", "acme", "--skill", "amzn1.ask.skill.0003"];
    let args = [
        &update[..],
        &["--region", "NA", "--vendor-id", "M2Y", "--access-token-ttl", "7200", "--id-token-alg", "EdDSA", "--json"],
    ]
    .concat();
    let (code, out, err) = latchkey(&env, &args, None);
    assert_eq!(code, 0, "{err}");
    let changed = json_line(&out);
    assert_eq!(changed["regions"], serde_json::json!(["NA"]), "{changed}");
    assert_eq!(changed["vendor_id"], "M2Y");
    assert_eq!(changed["client"]["access_token_ttl"], 7200);
    assert_eq!(changed["client"]["id_token_signed_response_alg"], "EdDSA");
    assert!(
        changed["client"]["redirect_uris"]
            .as_array()
            .expect("uris")
            .iter()
            .all(|u| u.as_str().is_some_and(|u| u.ends_with("/M2Y")))
    );
    // The messaging secret is read from stdin (never an argument a process list would show).
    let update = ["skill", "update", "--tenant", "acme", "--skill", "amzn1.ask.skill.0001"];
    let (code, out, err) =
        latchkey(&env, &[&update[..], &["--lwa-client-secret-stdin", "--json"]].concat(), Some("new-secret\n"));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("new-secret"), "{out}");
    assert_eq!(json_line(&out)["has_lwa_client_secret"], true);
    let (code, _, err) = latchkey(&env, &[&update[..], &["--access-token-ttl", "100", "--json"]].concat(), None);
    assert_ne!(code, 0);
    assert!(err.contains("360"), "{err}");

    let (code, out, _) = latchkey(&env, &["apikey", "create", "--tenant", "acme", "--name", "lambda", "--json"], None);
    assert_eq!(code, 0);
    assert!(json_line(&out)["key"].as_str().is_some_and(|k| k.starts_with("lk_")));

    let (code, out, err) = latchkey(
        &env,
        &["operator", "create", "--email", "ops@example.com", "--password-stdin", "--json"],
        Some("operator pass\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_line(&out)["email"], "ops@example.com");

    for args in [
        vec!["tenant", "list", "--json"],
        vec!["skill", "list", "--tenant", "acme", "--json"],
        vec!["client", "list", "--tenant", "acme", "--json"],
        vec!["user", "list", "--tenant", "acme", "--json"],
        vec!["apikey", "list", "--tenant", "acme", "--json"],
        vec!["operator", "list", "--json"],
        vec!["skill", "show", "--tenant", "acme", "--skill", "amzn1.ask.skill.0001", "--json"],
        vec!["user", "show", "--tenant", "acme", "--user", "a@example.com", "--json"],
        vec!["keys", "rotate", "--tenant", "acme", "--json"],
        vec!["migrate", "--json"],
    ] {
        let (code, out, err) = latchkey(&env, &args, None);
        assert_eq!(code, 0, "{args:?}: {err}");
        json_line(&out);
    }
    // Upstream providers: create prints the callback to register upstream; update; secrets stay hidden.
    let (code, out, err) = latchkey(
        &env,
        &[
            "provider",
            "create",
            "--tenant",
            "acme",
            "--slug",
            "corp",
            "--name",
            "Corp SSO",
            "--issuer",
            "https://sso.corp.example",
            "--client-id",
            "cid",
            "--client-secret",
            "upstream-secret",
            "--link-by-email",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let p = json_line(&out);
    assert_eq!(p["callback_uri"], "http://127.0.0.1:8080/t/acme/federation/corp/callback");
    let (code, out, err) = latchkey(
        &env,
        &[
            "provider",
            "update",
            "--tenant",
            "acme",
            "--provider",
            "corp",
            "--create-users",
            "true",
            "--scope",
            "email profile",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let p = json_line(&out);
    assert_eq!(p["create_users"], true);
    assert_eq!(p["link_by_email"], true);
    assert_eq!(p["scopes"], serde_json::json!(["openid", "email", "profile"]));
    let (_, out, _) = latchkey(&env, &["provider", "show", "--tenant", "acme", "--provider", "corp", "--json"], None);
    assert!(!out.contains("upstream-secret"));
    // Shown through the services like every other command: what is not there is exit 5, not found.
    for args in [
        ["provider", "show", "--tenant", "acme", "--provider", "nope", "--json"],
        ["client", "show", "--tenant", "acme", "--client-id", "nope", "--json"],
    ] {
        let (code, _, err) = latchkey(&env, &args, None);
        assert_eq!(code, 5, "{args:?}: {err}");
        assert!(err.contains("not found"), "{err}");
    }
    let (code, _, err) = latchkey(
        &env,
        &[
            "provider",
            "create",
            "--tenant",
            "acme",
            "--slug",
            "bad",
            "--name",
            "Bad",
            "--issuer",
            "http://sso.corp.example",
            "--client-id",
            "c",
            "--client-secret",
            "s",
            "--json",
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("https"), "{err}");
    let (code, _, _) =
        latchkey(&env, &["provider", "delete", "--tenant", "acme", "--provider", "corp", "--json"], None);
    assert_eq!(code, 0);
    let (code, out, err) = latchkey(
        &env,
        &["tenant", "set-password-policy", "acme", "--keep-grants-on-self-service-reset", "true", "--json"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_line(&out)["password_policy"]["keep_grants_on_self_service_reset"], true, "{out}");

    // A skill's own client cannot be deleted on its own (it used to be, and the skill list then failed).
    let skill_client = s["client_id"].as_str().unwrap_or_default();
    let (code, _, err) =
        latchkey(&env, &["client", "delete", "--tenant", "acme", "--client-id", skill_client, "--json"], None);
    assert_eq!(code, 6, "a conflict has its own exit code: {err}");
    assert!(err.contains("belongs to a skill"), "{err}");
    let (code, out, err) = latchkey(&env, &["skill", "list", "--tenant", "acme", "--json"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("amzn1.ask.skill.0001"), "{out}");
    let (_, out, _) = latchkey(&env, &["client", "list", "--tenant", "acme", "--json"], None);
    assert!(out.contains(skill_client), "the skill keeps its client: {out}");

    // Secrets never appear in listings.
    let (_, out, _) = latchkey(&env, &["skill", "list", "--tenant", "acme", "--json"], None);
    assert!(!out.contains("lwa-secret") && !out.contains(s["client_secret"].as_str().unwrap_or("-")));

    // Cross-tenant lookups through the CLI find nothing.
    latchkey(&env, &["tenant", "create", "--slug", "other", "--name", "Other", "--json"], None);
    let (code, _, err) =
        latchkey(&env, &["skill", "show", "--tenant", "other", "--skill", "amzn1.ask.skill.0001", "--json"], None);
    assert_eq!(code, 5, "not found has its own exit code: {err}");
    assert!(err.contains("not found"), "{err}");
    let (code, _, _) =
        latchkey(&env, &["user", "show", "--tenant", "other", "--user", "a@example.com", "--json"], None);
    assert_ne!(code, 0);
    let (code, _, err) = latchkey(&env, &["user", "list", "--tenant", "nobody", "--json"], None);
    assert_ne!(code, 0);
    assert!(err.contains("not found"), "{err}");

    // The master key file was created private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("master.key")).expect("key file").permissions().mode();
        assert_eq!(mode & 0o077, 0, "master.key must not be readable by others");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn insecure_public_url_is_refused() {
    let dir = std::env::temp_dir().join(unique("latchkey-cli-"));
    let d = dir.display().to_string();
    let (code, _, err) = latchkey(
        &[("LATCHKEY_DATA_DIR", &d), ("LATCHKEY_PUBLIC_URL", "http://id.example.com")],
        &["tenant", "list", "--json"],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("https"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the CLI creates, a running server serves at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_changes_reach_a_running_server() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let d = app.data_dir.display().to_string();
    let env = [("LATCHKEY_DATA_DIR", d.as_str())];
    let (code, out, err) = latchkey(&env, &["tenant", "create", "--slug", "live", "--name", "Live", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let _ = json_line(&out);
    let resp = reqwest::get(app.url("/t/live/.well-known/openid-configuration")).await.expect("discovery");
    assert_eq!(resp.status(), StatusCode::OK);
    app.cleanup().await;
}

/// Every CLI command, listed from the CLI's own definition, is driven against a running server's store.
/// Each one that changes something is audited under actor `cli` with the action its service writes
/// for every door (the management API and the dashboard call the same service functions), and each
/// read leaves no trace. A command added to the CLI without a line here fails this test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cli_command_is_driven_and_each_change_is_audited() {
    use crate::fakes::{self, SMAPI_CLIENT_ID, SMAPI_CLIENT_SECRET, SMAPI_REFRESH_TOKEN};
    let amazon = fakes::start().await;
    let app = TestApp::spawn(Backend::Embedded).await;
    let (dir, lwa) = (app.data_dir.display().to_string(), amazon.regional_lwa_url());
    let env = [
        ("LATCHKEY_DATA_DIR", dir.as_str()),
        ("LATCHKEY_PUBLIC_URL", app.base.as_str()),
        ("LATCHKEY_LWA_TOKEN_URL", lwa.as_str()),
        ("LATCHKEY_SMAPI_URL", amazon.base.as_str()),
    ];
    // Amazon's console takes only https addresses: publishing runs as the https deployment would.
    let https_env = [env[0], ("LATCHKEY_PUBLIC_URL", "https://id.every.example"), env[2], env[3]];
    let driven: std::cell::RefCell<Vec<(String, Option<&'static str>)>> = Default::default();
    let note = |args: &[&str], audited: Option<&'static str>| {
        let path = args.iter().take_while(|a| !a.starts_with('-')).take(2).copied().collect::<Vec<_>>();
        let path = if path.first() == Some(&"migrate") { "migrate".to_owned() } else { path.join(" ") };
        driven.borrow_mut().push((path, audited));
    };
    let run = |env: &[(&str, &str)], args: &[&str], stdin: Option<&str>, audited: Option<&'static str>| {
        let (code, out, err) = latchkey(env, args, stdin);
        assert_eq!(code, 0, "{args:?}: {err}");
        note(args, audited);
        json_line(&out)
    };
    let t = ["--tenant", "every"];
    let skill = ["--skill", "amzn1.ask.skill.every"];

    run(&env, &["migrate", "--json"], None, None);
    run(&env, &["tenant", "create", "--slug", "every", "--name", "Every", "--json"], None, Some("tenant.created"));
    let tid = app.auth.tenant_for_admin("every").await.expect("tenant").id().clone();
    run(&env, &["tenant", "list", "--json"], None, None);
    run(&env, &["tenant", "show", "every", "--json"], None, None);
    run(
        &env,
        &["tenant", "set-login-methods", "every", "--methods", "password", "--json"],
        None,
        Some("tenant.login_methods"),
    );
    let policy = ["tenant", "set-password-policy", "every", "--keep-grants-on-self-service-reset", "true", "--json"];
    run(&env, &policy, None, Some("tenant.password_policy"));
    let creds = format!("{SMAPI_CLIENT_SECRET}\n{SMAPI_REFRESH_TOKEN}\n");
    let smapi = ["tenant", "set-smapi", "every", "--lwa-client-id", SMAPI_CLIENT_ID, "--json"];
    run(&env, &smapi, Some(&creds), Some("tenant.smapi_credentials_set"));
    let created = run(
        &env,
        &cat(&[
            &["skill", "create"],
            &t,
            &["--name", "S", "--alexa-skill-id", "amzn1.ask.skill.every", "--vendor-id", "M2EVERY"],
            &["--lwa-client-id", "i", "--lwa-client-secret", "-lwa-secret", "--json"],
        ]),
        None,
        Some("skill.created"),
    );
    amazon.smapi_state(|s| s.skills.insert("amzn1.ask.skill.every".into()));
    let skill_secret = created["client_secret"].as_str().expect("secret").to_owned();
    run(&env, &cat(&[&["skill", "list"], &t, &["--json"]]), None, None);
    run(&env, &cat(&[&["skill", "show"], &t, &skill, &["--json"]]), None, None);
    run(
        &env,
        &cat(&[&["skill", "update"], &t, &skill, &["--access-token-ttl", "7200", "--json"]]),
        None,
        Some("skill.updated"),
    );
    // A skill served over plain http is not ready for Alexa: the check says so and exits 1, with its
    // report on stdout.
    let check = cat(&[&["skill", "check"], &t, &skill, &["--json"]]);
    let (code, out, err) = latchkey(&env, &check, None);
    assert_eq!(code, 1, "{err}");
    assert_eq!(json_line(&out)["ready"], false, "{out}");
    note(&check, None);
    let user = run(
        &env,
        &cat(&[&["user", "create"], &t, &["--email", "u@example.com", "--password-stdin", "--json"]]),
        Some(&format!("{PASSWORD}\n")),
        Some("user.created"),
    );
    run(&env, &cat(&[&["user", "list"], &t, &["--json"]]), None, None);
    run(&env, &cat(&[&["user", "show"], &t, &["--user", "u@example.com", "--json"]]), None, None);
    run(
        &env,
        &cat(&[&["skill", "simulate"], &t, &skill, &["--user", "u@example.com", "--json"]]),
        Some(&format!("{PASSWORD}\n{skill_secret}\n")),
        Some("skill.simulated"),
    );
    run(
        &https_env,
        &cat(&[&["skill", "publish"], &t, &skill, &["--json"]]),
        Some(&format!("{skill_secret}\n")),
        Some("skill.published"),
    );
    run(&env, &["tenant", "remove-smapi", "every", "--json"], None, Some("tenant.smapi_credentials_deleted"));
    let client = run(
        &env,
        &cat(&[&["client", "create"], &t, &["--name", "C", "--redirect-uri", "https://app.example/cb", "--json"]]),
        None,
        Some("client.created"),
    );
    let client_id = client["client_id"].as_str().expect("client id").to_owned();
    let c = ["--client-id", client_id.as_str()];
    run(&env, &cat(&[&["client", "list"], &t, &["--json"]]), None, None);
    run(&env, &cat(&[&["client", "show"], &t, &c, &["--json"]]), None, None);
    run(&env, &cat(&[&["client", "update"], &t, &c, &["--name", "C2", "--json"]]), None, Some("client.updated"));
    run(&env, &cat(&[&["client", "rotate-secret"], &t, &c, &["--json"]]), None, Some("client.secret_rotated"));
    let key = run(&env, &cat(&[&["apikey", "create"], &t, &["--name", "ci", "--json"]]), None, Some("apikey.created"));
    run(&env, &cat(&[&["apikey", "list"], &t, &["--json"]]), None, None);
    let provider = [
        &["--provider", "corp", "--name", "Corp", "--issuer", "https://idp.invalid"][..],
        // A secret may start with '-' (one generated secret in 64 does): it is a value, not a flag.
        &["--client-id", "c", "--client-secret", "-pV1yt5AtK2r0NHv13Y08P30IQI", "--json"],
    ]
    .concat();
    let provider_create: Vec<&str> = provider.iter().map(|a| if *a == "--provider" { "--slug" } else { a }).collect();
    run(&env, &cat(&[&["provider", "create"], &t, &provider_create]), None, Some("provider.created"));
    run(
        &env,
        &cat(&[&["provider", "update"], &t, &["--provider", "corp", "--name", "Corp 2", "--json"]]),
        None,
        Some("provider.updated"),
    );
    run(&env, &cat(&[&["provider", "list"], &t, &["--json"]]), None, None);
    run(&env, &cat(&[&["provider", "show"], &t, &["--provider", "corp", "--json"]]), None, None);
    run(&env, &cat(&[&["keys", "rotate"], &t, &["--json"]]), None, Some("keys.rotated"));
    // Changing the access-token algorithm is a rotation of every key; the outgoing ones stay published.
    let rotated =
        run(&env, &cat(&[&["keys", "rotate"], &t, &["--alg", "EdDSA", "--json"]]), None, Some("keys.rotated"));
    assert_eq!(rotated["alg"], "EdDSA");
    let keys = run(&env, &cat(&[&["keys", "list"], &t, &["--json"]]), None, None);
    assert_eq!((&keys["keys"][0]["alg"], &keys["keys"][0]["state"]), (&json!("EdDSA"), &json!("current")));
    assert_eq!(keys["keys"][0]["signs_access_tokens"], true);
    assert_eq!((&keys["keys"][1]["alg"], &keys["keys"][1]["state"]), (&json!("RS256"), &json!("current")));
    let previous = keys["keys"].as_array().expect("keys").iter().filter(|k| k["state"] == "previous").count();
    assert_eq!(previous, 3, "{keys}");
    assert_eq!(keys["keys"][0]["kid"], rotated["kid"]);
    run(&env, &["tenant", "suspend", "every", "--json"], None, Some("tenant.suspended"));
    run(&env, &["tenant", "resume", "every", "--json"], None, Some("tenant.active"));
    run(&env, &cat(&[&["skill", "delete"], &t, &skill, &["--json"]]), None, Some("skill.deleted"));
    run(&env, &cat(&[&["user", "delete"], &t, &["--user", "u@example.com", "--json"]]), None, Some("user.deleted"));
    let key_id = key["id"].as_str().expect("key id").to_owned();
    run(&env, &cat(&[&["apikey", "delete"], &t, &["--id", key_id.as_str(), "--json"]]), None, Some("apikey.deleted"));
    run(&env, &cat(&[&["provider", "delete"], &t, &["--provider", "corp", "--json"]]), None, Some("provider.deleted"));
    run(&env, &cat(&[&["client", "delete"], &t, &c, &["--json"]]), None, Some("client.deleted"));
    let audited_before_reads = app.store.scoped(&tid).audit_events(None, 500).await.expect("audit").len();
    run(&env, &["keys", "rotate-master", "--json"], None, Some("secrets.resealed"));
    let op = run(
        &env,
        &["operator", "create", "--email", "ops@example.com", "--password-stdin", "--json"],
        Some("operator password 1\n"),
        Some("operator.created"),
    );
    run(&env, &["operator", "list", "--json"], None, None);
    run(&env, &["operator", "show", "ops@example.com", "--json"], None, None);
    run(&env, &["operator", "delete", "ops@example.com", "--json"], None, Some("operator.deleted"));
    // The installation-wide commands above touch no tenant's log.
    let events = app.store.scoped(&tid).audit_events(None, 500).await.expect("audit");
    assert_eq!(events.len(), audited_before_reads, "{events:?}");
    run(&env, &["tenant", "delete", "every", "--json"], None, Some("tenant.deleted"));

    // Every command the CLI has was driven (`serve` runs every other test's server).
    let listed = cli_commands();
    let driven = driven.into_inner();
    let ran: std::collections::BTreeSet<String> = driven.iter().map(|(p, _)| p.clone()).collect();
    let missing: Vec<&String> = listed.iter().filter(|c| *c != "serve" && !ran.contains(*c)).collect();
    assert!(missing.is_empty(), "CLI commands this test does not drive: {missing:?}");

    // Each change is in the tenant's log (or the installation's), under `cli`, once per command run,
    // and reads wrote nothing: the log holds exactly the changes.
    let events = app.store.scoped(&tid).audit_events(None, 500).await.expect("audit");
    let global = app.store.global_audit_events(50).await.expect("global audit");
    let changes: Vec<&str> = driven.iter().filter_map(|(_, a)| *a).collect();
    for action in &changes {
        let found = events.iter().chain(global.iter()).filter(|e| e.action == *action && e.actor == "cli").count();
        assert!(found >= 1, "{action} audited as cli: {events:?} {global:?}");
    }
    let by_cli: Vec<&str> = events.iter().filter(|e| e.actor == "cli").map(|e| e.action.as_str()).collect();
    let tenant_changes: Vec<&str> =
        changes.iter().copied().filter(|a| !a.starts_with("operator.") && *a != "secrets.resealed").collect();
    let mut expected = tenant_changes.clone();
    expected.sort_unstable();
    let mut got = by_cli.clone();
    got.sort_unstable();
    assert_eq!(got, expected, "the tenant's log holds exactly the CLI's changes");
    assert!(events.iter().any(|e| e.target.as_deref() == user["id"].as_str()), "the user's deletion names them");
    assert!(
        global.iter().any(|e| e.action == "operator.created" && e.target.as_deref() == op["id"].as_str()),
        "{global:?}"
    );
    app.cleanup().await;
}

fn cat<'a>(parts: &[&[&'a str]]) -> Vec<&'a str> {
    parts.concat()
}

/// The CLI's leaf commands (`tenant create`, `migrate`, …), from its own clap definition.
fn cli_commands() -> std::collections::BTreeSet<String> {
    use clap::CommandFactory;
    fn walk(c: &clap::Command, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
        for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
            let path =
                if prefix.is_empty() { sub.get_name().to_owned() } else { format!("{prefix} {}", sub.get_name()) };
            if sub.has_subcommands() {
                walk(sub, &path, out);
            } else {
                out.insert(path);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(&latchkey_server::cli::Cli::command(), "", &mut out);
    out
}

/// Master-key rotation on the embedded default: a new key, everything re-sealed, and the old key no
/// longer needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_key_rotation_reseals_every_secret() {
    let dir = std::env::temp_dir().join(unique("latchkey-master-"));
    let d = dir.display().to_string();
    let env = [("LATCHKEY_DATA_DIR", d.as_str())];
    let ok = |args: &[&str]| {
        let (code, out, err) = latchkey(&env, args, None);
        assert_eq!(code, 0, "{args:?}: {err}");
        json_line(&out)
    };
    ok(&["tenant", "create", "--slug", "acme", "--name", "Acme", "--json"]);
    ok(&[
        "skill",
        "create",
        "--tenant",
        "acme",
        "--name",
        "S",
        "--alexa-skill-id",
        "amzn1.ask.skill.m",
        "--vendor-id",
        "M2M",
        "--lwa-client-id",
        "id",
        "--lwa-client-secret",
        "lwa-secret",
        "--json",
    ]);
    ok(&[
        "provider",
        "create",
        "--tenant",
        "acme",
        "--slug",
        "corp",
        "--name",
        "Corp",
        "--issuer",
        "https://sso.example",
        "--client-id",
        "c",
        "--client-secret",
        "s",
        "--json",
    ]);
    let old_key = std::fs::read_to_string(dir.join("master.key")).expect("key");

    let report = ok(&["keys", "rotate-master", "--generate", "--json"]);
    assert_eq!(report["signing_keys"], 3, "a key of each algorithm");
    assert_eq!(report["skill_messaging_secrets"], 1);
    assert_eq!(report["upstream_secrets"], 1);
    let new_key = std::fs::read_to_string(dir.join("master.key")).expect("key");
    assert_ne!(old_key.trim(), new_key.trim());
    assert!(std::fs::read_to_string(dir.join("master.key.previous")).expect("previous").contains(old_key.trim()));

    // Without the previous key, a server on the new key alone still reads everything it needs.
    std::fs::remove_file(dir.join("master.key.previous")).expect("forget the old key");
    let app = TestApp::spawn_with(Backend::Embedded, |c| c.data_dir = dir.clone()).await;
    let jwks: serde_json::Value =
        reqwest::get(app.url("/t/acme/.well-known/jwks.json")).await.expect("jwks").json().await.expect("json");
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(3));
    let t = app.auth.tenant_for_admin("acme").await.expect("tenant");
    let scoped = app.store.scoped(t.id());
    let skill = scoped.skill("amzn1.ask.skill.m").await.expect("q").expect("skill");
    assert_eq!(scoped.skill_lwa_secret(&skill.id).await.expect("decrypts").as_deref(), Some("lwa-secret"));
    let p = scoped.provider("corp").await.expect("q").expect("provider");
    assert_eq!(scoped.provider_secret(&p.id).await.expect("decrypts"), "s");
    // Setting LATCHKEY_MASTER_KEY makes --generate refuse (the key lives in the secret store then).
    let (code, _, err) = latchkey(
        &[("LATCHKEY_DATA_DIR", d.as_str()), ("LATCHKEY_MASTER_KEY", new_key.trim())],
        &["keys", "rotate-master", "--generate", "--json"],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("LATCHKEY_MASTER_KEY_PREVIOUS"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
