//! Secrets stay out of the logs: a real `latchkey` process at debug level goes through linking,
//! AcceptGrant, an Amazon token refresh and events, and its whole log is searched for them.
use serde_json::{Value, json};

use crate::cli::latchkey_ok;
use crate::fakes::{self, LWA_CLIENT_ID, LWA_CLIENT_SECRET};
use crate::helpers::*;
use crate::scale::{free_port, start_logging_to};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log() {
    let amazon = fakes::start().await;
    let dir = std::env::temp_dir().join(unique("latchkey-logs-"));
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let env: Vec<(&str, String)> = vec![
        ("LATCHKEY_DATA_DIR", dir.display().to_string()),
        ("LATCHKEY_PUBLIC_URL", public.clone()),
        ("LATCHKEY_LWA_TOKEN_URL", amazon.lwa_url()),
        ("LATCHKEY_ALEXA_EVENT_GATEWAY_URL", amazon.gateway_url()),
        ("RUST_LOG", "debug".into()),
    ];
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |args: &[&str], stdin: Option<&str>| latchkey_ok(&env_ref, args, stdin);
    run(&["tenant", "create", "--slug", "logs", "--name", "Logs", "--json"], None);
    let skill = run(
        &[
            "skill",
            "create",
            "--tenant",
            "logs",
            "--name",
            "S",
            "--alexa-skill-id",
            "amzn1.ask.skill.logs",
            "--vendor-id",
            "M2LOGS",
            "--lwa-client-id",
            LWA_CLIENT_ID,
            "--lwa-client-secret",
            LWA_CLIENT_SECRET,
            "--json",
        ],
        None,
    );
    let user = run(
        &["user", "create", "--tenant", "logs", "--email", "u@example.com", "--password-stdin", "--json"],
        Some(&format!("{PASSWORD}\n")),
    );
    let key = run(&["apikey", "create", "--tenant", "logs", "--name", "lambda", "--json"], None)["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let log = dir.join("server.log");
    // The instance listens where the public URL says.
    let inst = start_logging_to(&env, Some(&log), port).await;
    assert_eq!(inst.base, public);

    let client_id = skill["client_id"].as_str().expect("id");
    let secret = skill["client_secret"].as_str().expect("secret");
    let redirect = skill["redirect_uris"][0].as_str().expect("redirect");
    let b = browser();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("client_id", client_id), ("response_type", "code"), ("state", "s"), ("redirect_uri", redirect)])
        .finish();
    let page = get_page(&b, format!("{public}/t/logs/oauth2/authorize?{q}")).await;
    let page = post_login(&b, &public, "logs", &page, "u@example.com", PASSWORD).await.text().await.expect("page");
    let resp = post_consent(&b, &public, "logs", &page, "allow").await;
    let code = query_param(&location(&resp), "code").expect("code");
    let c = server_client();
    let tokens: Value = c
        .post(format!("{public}/t/logs/oauth2/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", redirect)])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let at = tokens["access_token"].as_str().expect("at");
    let grant = json!({"directive": {"header": {"namespace": "Alexa.Authorization", "name": "AcceptGrant", "messageId": "m", "payloadVersion": "3"},
        "payload": {"grant": {"type": "OAuth2.AuthorizationCode", "code": amazon.issue_code()}, "grantee": {"type": "BearerToken", "token": at}}}});
    let r: Value = c
        .post(format!("{public}/t/logs/alexa/directives"))
        .bearer_auth(&key)
        .json(&grant)
        .send()
        .await
        .expect("directive")
        .json()
        .await
        .expect("json");
    assert_eq!(r["event"]["header"]["name"], "AcceptGrant.Response");
    amazon.gateway_state(|g| g.script.push_back((401, "INVALID_ACCESS_TOKEN_EXCEPTION")));
    let event = json!({"user": user["id"], "skill": "amzn1.ask.skill.logs", "event": {"header": {"namespace": "Alexa", "name": "ChangeReport", "messageId": "x", "payloadVersion": "3"}, "endpoint": {"endpointId": "e"}, "payload": {}}});
    let resp = c
        .post(format!("{public}/t/logs/alexa/events?wait=true"))
        .bearer_auth(&key)
        .json(&event)
        .send()
        .await
        .expect("event");
    assert_eq!(resp.status(), reqwest::StatusCode::ACCEPTED);
    c.post(format!("{public}/t/logs/oauth2/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().expect("rt"))])
        .send()
        .await
        .expect("refresh");
    drop(inst);

    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("AcceptGrant") || text.contains("alexa") || text.len() > 100, "the log has content: {text}");
    let master = std::fs::read_to_string(dir.join("master.key")).expect("key");
    for (what, secret) in [
        ("Amazon access token", "Atza|"),
        ("Amazon refresh token", "Atzr|"),
        ("LWA client secret", LWA_CLIENT_SECRET),
        ("client secret", secret),
        ("refresh token", tokens["refresh_token"].as_str().expect("rt")),
        ("access token", at),
        ("password", PASSWORD),
        ("API key", key.as_str()),
        ("master key", master.trim()),
        ("authorization code", code.as_str()),
    ] {
        assert!(!text.contains(secret), "the log contains the {what}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
