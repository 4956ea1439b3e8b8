//! #31: introspection answers from each instance's view of live grants, kept current by the revocation
//! feed. A revocation committed on one instance, or by the CLI in a process of its own, is honoured by
//! every instance within the bound (`LATCHKEY_REVOCATION_BOUND_MS`), on both backends: two `latchkey
//! serve` processes share one PostgreSQL, or one SQLite file. When the feed cannot be read, each
//! instance reads grants from the database again within the bound.
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use crate::cli::latchkey_ok;
use crate::helpers::*;
use crate::scale::{SkillClient, free_port, link_at, shared_env, start_logging_to};

on_both_backends!(revocations_reach_every_instance_within_the_bound);

const BOUND: Duration = Duration::from_millis(1000);

async fn active(base: &str, s: &SkillClient, token: &Value) -> bool {
    let info: Value = server_client()
        .post(format!("{base}/t/shared/oauth2/introspect"))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&[("token", token["access_token"].as_str().expect("access token"))])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert!(info == json!({"active": false}) || info["active"] == true, "{info}");
    info["active"] == true
}

async fn refresh_on(base: &str, s: &SkillClient, tokens: &Value) -> Value {
    server_client()
        .post(format!("{base}/t/shared/oauth2/token"))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().expect("rt"))])
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json")
}

async fn revocations_reach_every_instance_within_the_bound(backend: Backend) {
    let dir = std::env::temp_dir().join(unique("latchkey-revocations-"));
    let public = format!("http://127.0.0.1:{}", free_port());
    let pg = match backend {
        Backend::Postgres => Some(fresh_pg_database().await),
        Backend::Embedded => None,
    };
    let mut env = shared_env(pg.as_deref(), &dir, &public);
    env.push(("LATCHKEY_REVOCATION_BOUND_MS", BOUND.as_millis().to_string()));
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
            "amzn1.ask.skill.31",
            "--vendor-id",
            "M2REVOKE",
            "--json",
        ],
        None,
    );
    let s = SkillClient::from_json(&skill);
    let mut user_ids = Vec::new();
    for u in ["u1", "u2", "u3", "u4"] {
        let email = format!("{u}@example.com");
        let created = run(
            &["user", "create", "--tenant", "shared", "--email", &email, "--password-stdin", "--json"],
            Some(&format!("{PASSWORD}\n")),
        );
        user_ids.push(created["id"].as_str().expect("user id").to_owned());
    }
    let api_key = run(&["apikey", "create", "--tenant", "shared", "--name", "ops", "--json"], None)["key"]
        .as_str()
        .expect("api key")
        .to_owned();

    let a = start_logging_to(&env, None, free_port()).await;
    let b = start_logging_to(&env, None, free_port()).await;
    let t1 = link_at(&a.base, "shared", &s, "u1@example.com").await;
    let t2 = link_at(&a.base, "shared", &s, "u2@example.com").await;
    let t3 = link_at(&b.base, "shared", &s, "u3@example.com").await;
    let t4 = link_at(&a.base, "shared", &s, "u4@example.com").await;
    for t in [&t1, &t2, &t3, &t4] {
        assert!(active(&b.base, &s, t).await && active(&a.base, &s, t).await, "{t}");
    }

    // Revoked on A (RFC 7009, the refresh token: its whole grant): A at once, B within the bound.
    let resp = server_client()
        .post(format!("{}/t/shared/oauth2/revoke", a.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&[("token", t1["refresh_token"].as_str().expect("rt"))])
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!active(&a.base, &s, &t1).await, "the instance that revoked still accepts the token");
    tokio::time::sleep(BOUND).await;
    assert!(!active(&b.base, &s, &t1).await, "another instance accepts a revoked token after the bound");

    // Deleted by the CLI, a process with no view of its own: both instances within the bound.
    run(&["user", "delete", "--tenant", "shared", "--user", "u2@example.com", "--json"], None);
    tokio::time::sleep(BOUND).await;
    assert!(!active(&a.base, &s, &t2).await && !active(&b.base, &s, &t2).await);

    // Disabled through the management API on A, after B has served the user a refresh (so B holds the
    // user, and the grant, in memory): B refuses both the access token and the refresh within the bound.
    let refreshed = refresh_on(&b.base, &s, &t4).await;
    assert!(refreshed["access_token"].is_string(), "{refreshed}");
    assert!(active(&b.base, &s, &refreshed).await);
    let resp = server_client()
        .post(format!("{}/t/shared/api/v1/users/{}/disable", a.base, user_ids[3]))
        .bearer_auth(&api_key)
        .send()
        .await
        .expect("disable");
    assert_eq!(resp.status(), StatusCode::OK);
    tokio::time::sleep(BOUND).await;
    assert!(!active(&b.base, &s, &refreshed).await, "a disabled user's token is still active on B");
    assert_eq!(refresh_on(&b.base, &s, &refreshed).await["error"], "invalid_grant");

    // Untouched grants are still live everywhere.
    assert!(active(&a.base, &s, &t3).await && active(&b.base, &s, &t3).await);

    // The feed cannot be read (its table gone), and a grant is revoked past it, by hand in SQL: both
    // instances stop trusting their view after the bound and read the grant's row, so the revocation
    // still holds within the bound.
    let db_url = match &pg {
        Some(pg) => pg.clone(),
        None => format!("sqlite://{}?mode=rw", dir.join("latchkey.db").display()),
    };
    let db = sea_orm::Database::connect(db_url.as_str()).await.expect("database");
    use sea_orm::ConnectionTrait;
    db.execute_unprepared("ALTER TABLE revocations RENAME TO revocations_gone").await.expect("rename");
    let revoke_by_hand = format!("UPDATE refresh_families SET revoked_at = 1 WHERE user_id = '{}'", user_ids[2]);
    db.execute_unprepared(&revoke_by_hand).await.expect("revoke by hand");
    tokio::time::sleep(BOUND).await;
    assert!(!active(&a.base, &s, &t3).await && !active(&b.base, &s, &t3).await, "a stale view was trusted");
    db.execute_unprepared("ALTER TABLE revocations_gone RENAME TO revocations").await.expect("rename back");

    drop(a);
    drop(b);
    if let Some(pg) = pg {
        drop_pg_database(&pg).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
