//! Publishing a skill's account linking to the Alexa console through SMAPI, as a device company would
//! instead of copying fields by hand, and the readiness check comparing the console with Latchkey.
//! SMAPI and Login with Amazon are the local fakes, shaped as Amazon documents them.
use latchkey_core::client_auth::ClientAuthMethod;
use serde_json::{Value, json};

use crate::cli::latchkey;
use crate::fakes::{self, FakeAmazon, SMAPI_CLIENT_ID, SMAPI_CLIENT_SECRET, SMAPI_REFRESH_TOKEN};
use crate::helpers::*;
use crate::management_api::{api_for, problem};

/// Amazon takes only https account-linking URIs, so this server says it is reached over https.
const PUBLIC_URL: &str = "https://id.acme.example";

async fn setup(backend: Backend) -> (TestApp, FakeAmazon, Fixture) {
    let amazon = fakes::start().await;
    let app = TestApp::spawn_with(backend, |c| {
        c.lwa_token_url = Some(amazon.regional_lwa_url());
        c.smapi_url = amazon.base.clone();
        c.public_url = Some(PUBLIC_URL.into());
    })
    .await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    amazon.smapi_state(|s| s.skills.insert(f.skill.skill.alexa_skill_id.clone()));
    (app, amazon, f)
}

fn status(report: &Value, id: &str) -> String {
    report["items"]
        .as_array()
        .and_then(|i| i.iter().find(|x| x["id"] == id))
        .map_or(String::new(), |x| x["status"].as_str().unwrap_or_default().to_owned())
}

fn credentials(secret: &str, refresh: &str) -> Value {
    json!({"lwa_client_id": SMAPI_CLIENT_ID, "lwa_client_secret": secret, "refresh_token": refresh})
}

async fn a_skill_is_published_and_compared_with_the_console(backend: Backend) {
    let (app, amazon, f) = setup(backend).await;
    let api = api_for(&app, &f).await;
    let skill = f.skill.skill.alexa_skill_id.clone();
    let readiness = format!("/skills/{skill}/readiness");
    let publish = format!("/skills/{skill}/publish");

    // Without SMAPI credentials the console cannot be read: the check says so instead of passing.
    let report = json_ok(api.get(&readiness).await).await;
    assert_eq!(status(&report, "auth_scheme"), "warn", "{report}");
    assert_eq!(status(&report, "console"), "warn");
    problem(api.post(&publish, json!({"client_secret": f.skill.client_secret})).await, 409).await;

    // Credentials Login with Amazon refuses are not stored; good ones are, and never shown.
    let put = |body: Value| api.http.put(api.url("/smapi-credentials")).bearer_auth(&api.key).json(&body).send();
    problem(put(credentials("wrong", SMAPI_REFRESH_TOKEN)).await.expect("put"), 400).await;
    problem(put(credentials(SMAPI_CLIENT_SECRET, "Atzr|not-issued")).await.expect("put"), 400).await;
    problem(put(json!({"lwa_client_id": SMAPI_CLIENT_ID})).await.expect("put"), 400).await;
    assert_eq!(json_ok(api.get("/smapi-credentials").await).await["configured"], false);
    let stored =
        put(credentials(SMAPI_CLIENT_SECRET, SMAPI_REFRESH_TOKEN)).await.expect("put").text().await.expect("body");
    assert!(!stored.contains(SMAPI_CLIENT_SECRET) && !stored.contains(SMAPI_REFRESH_TOKEN), "{stored}");
    let status_now: Value = serde_json::from_str(&stored).expect("json");
    assert_eq!(status_now["configured"], true, "{status_now}");
    assert_eq!(status_now["lwa_client_id"], SMAPI_CLIENT_ID);

    // A secret that is not the client's current one never reaches the console.
    problem(api.post(&publish, json!({"client_secret": "not-the-secret"})).await, 400).await;
    assert_eq!(amazon.smapi_state(|s| s.puts), 0);

    // Publish: the console holds what Latchkey says, read back field by field.
    let report = json_ok(api.post(&publish, json!({"client_secret": f.skill.client_secret})).await).await;
    assert_eq!(report["matches"], true, "{report}");
    assert_eq!(report["stage"], "development");
    let sent = amazon.smapi_state(|s| s.linking.get(&(skill.clone(), "development".into())).cloned()).expect("stored");
    let issuer = format!("{PUBLIC_URL}/t/{}", f.slug);
    assert_eq!(sent["clientSecret"], f.skill.client_secret.as_str());
    assert_eq!(sent["clientId"], f.skill.client_id.as_str());
    assert_eq!(sent["authorizationUrl"], format!("{issuer}/oauth2/authorize"));
    assert_eq!(sent["accessTokenUrl"], format!("{issuer}/oauth2/token"));
    assert_eq!(sent["accessTokenScheme"], "HTTP_BASIC");
    assert_eq!(sent["redirectUrls"], json!([]), "Alexa's own redirect URLs are not the app's");
    assert_eq!(sent["domains"], json!([]));

    let report = json_ok(api.get(&readiness).await).await;
    assert_eq!(status(&report, "auth_scheme"), "pass", "{report}");
    assert_eq!(status(&report, "console"), "pass", "{report}");

    // Latchkey's side changes: the check names the field and the command that fixes it.
    json_ok(api.patch(&format!("/skills/{skill}"), json!({"access_token_ttl": 7200})).await).await;
    let report = json_ok(api.get(&readiness).await).await;
    assert_eq!(status(&report, "console"), "fail", "{report}");
    let item =
        report["items"].as_array().and_then(|i| i.iter().find(|x| x["id"] == "console")).cloned().unwrap_or_default();
    assert!(item["detail"].as_str().is_some_and(|d| d.contains("defaultTokenExpirationInSeconds")), "{item}");
    assert!(item["fix"].as_str().is_some_and(|d| d.contains("latchkey skill publish")), "{item}");
    // Someone edits the scheme in the console: the scheme check fails (it used to pass always).
    amazon.smapi_state(|s| {
        let stored = s.linking.get_mut(&(skill.clone(), "development".into())).expect("stored");
        stored["accessTokenScheme"] = json!("REQUEST_BODY_CREDENTIALS");
    });
    assert_eq!(status(&json_ok(api.get(&readiness).await).await, "auth_scheme"), "fail");
    // Publishing again puts both right.
    assert_eq!(
        json_ok(api.post(&publish, json!({"client_secret": f.skill.client_secret})).await).await["matches"],
        true
    );
    let report = json_ok(api.get(&readiness).await).await;
    assert_eq!((status(&report, "auth_scheme"), status(&report, "console")), ("pass".into(), "pass".into()));
    // The app's redirect URLs are what the console's redirectUrls get.
    let app_url = "https://app.acme.example/alexa/linked";
    json_ok(api.patch(&format!("/skills/{skill}"), json!({"app_redirect_urls": [app_url]})).await).await;
    assert_eq!(status(&json_ok(api.get(&readiness).await).await, "console"), "fail", "the console lacks the app's URL");
    json_ok(api.post(&publish, json!({"client_secret": f.skill.client_secret})).await).await;
    let sent = amazon.smapi_state(|s| s.linking.get(&(skill.clone(), "development".into())).cloned()).expect("stored");
    assert_eq!(sent["redirectUrls"], json!([app_url]));

    // The vendor's refresh token stops working: publishing says what to do, as a conflict.
    amazon.smapi_state(|s| s.refresh_revoked = true);
    let p = problem(api.post(&publish, json!({"client_secret": f.skill.client_secret})).await, 409).await;
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("ask util generate-lwa-tokens")), "{p}");
    assert_eq!(status(&json_ok(api.get(&readiness).await).await, "console"), "fail");
    app.cleanup().await;
}

async fn publishing_refuses_what_the_console_would_and_other_tenants(backend: Backend) {
    let (app, amazon, a) = setup(backend).await;
    let b = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let (api_a, api_b) = (api_for(&app, &a).await, api_for(&app, &b).await);
    for api in [&api_a, &api_b] {
        let body = credentials(SMAPI_CLIENT_SECRET, SMAPI_REFRESH_TOKEN);
        json_ok(
            api.http.put(api.url("/smapi-credentials")).bearer_auth(&api.key).json(&body).send().await.expect("put"),
        )
        .await;
    }
    let publish = format!("/skills/{}/publish", a.skill.skill.alexa_skill_id);
    // B cannot publish A's skill, even knowing A's client secret.
    problem(api_b.post(&publish, json!({"client_secret": a.skill.client_secret})).await, 404).await;
    // A skill the vendor's console does not have is SMAPI's 404, said as such.
    let p = problem(
        api_b
            .post(
                &format!("/skills/{}/publish", b.skill.skill.alexa_skill_id),
                json!({"client_secret": b.skill.client_secret}),
            )
            .await,
        404,
    )
    .await;
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("SMAPI")), "{p}");
    // Malformed requests are refused before anything is sent.
    for body in
        [json!({}), json!({"client_secret": a.skill.client_secret, "stage": "staging"}), json!({"client_secret": 1})]
    {
        problem(api_a.post(&publish, body).await, 400).await;
    }
    assert_eq!(amazon.smapi_state(|s| s.puts), 0);
    // The live stage is a stage like the other.
    let live = json!({"client_secret": a.skill.client_secret, "stage": "live"});
    assert_eq!(json_ok(api_a.post(&publish, live).await).await["stage"], "live");
    // Removing the credentials forgets them.
    let r = api_a.http.delete(api_a.url("/smapi-credentials")).bearer_auth(&api_a.key).send().await.expect("delete");
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(json_ok(api_a.get("/smapi-credentials").await).await["configured"], false);
    assert_eq!(json_ok(api_b.get("/smapi-credentials").await).await["configured"], true, "B's are B's");
    app.cleanup().await;
}

/// The simulator links as Alexa would with what the console declares: a scheme edited in the console
/// fails the token step as Alexa would see it; put right, the whole flow links, PKCE included, and a
/// second region's redirect URI reaches the sign-in page. (The server is plain http here, so the
/// simulator can reach it; the console's record is seeded as SMAPI would hold it.)
async fn the_simulator_authenticates_as_the_console_declares(backend: Backend) {
    let amazon = fakes::start().await;
    let app = TestApp::spawn_with(backend, |c| {
        c.lwa_token_url = Some(amazon.regional_lwa_url());
        c.smapi_url = amazon.base.clone();
    })
    .await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let api = api_for(&app, &f).await;
    let skill = f.skill.skill.alexa_skill_id.clone();
    let body = credentials(SMAPI_CLIENT_SECRET, SMAPI_REFRESH_TOKEN);
    json_ok(api.http.put(api.url("/smapi-credentials")).bearer_auth(&api.key).json(&body).send().await.expect("put"))
        .await;
    let console = |scheme: &str| {
        let record = json!({"type": "AUTH_CODE", "clientId": f.skill.client_id, "accessTokenScheme": scheme});
        amazon.smapi_state(|s| {
            s.skills.insert(skill.clone());
            s.linking.insert((skill.clone(), "development".into()), record);
        });
    };
    let simulate = format!("/skills/{skill}/simulate");
    let as_user = json!({"email": f.email, "password": PASSWORD, "client_secret": f.skill.client_secret});

    console("REQUEST_BODY_CREDENTIALS");
    let run = json_ok(api.post(&simulate, as_user.clone()).await).await;
    assert_eq!(run["linked"], false, "{run}");
    let last = run["steps"].as_array().and_then(|s| s.last()).cloned().unwrap_or_default();
    assert_eq!(last["step"], "token", "{run}");
    assert!(last["alexa_sees"].as_str().is_some_and(|s| s.contains("invalid_client")), "{last}");

    console("HTTP_BASIC");
    json_ok(api.patch(&format!("/skills/{skill}"), json!({"regions": ["NA", "EU"]})).await).await;
    let run = json_ok(api.post(&simulate, as_user).await).await;
    assert_eq!(run["linked"], true, "{run}");
    let steps: Vec<&str> = run["steps"].as_array().expect("steps").iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(steps.last(), Some(&"authorize_eu"), "{run}");
    assert!(steps.contains(&"refresh"));
    app.cleanup().await;
}

/// The CLI as a vendor scripts it: credentials and the client secret from stdin, never arguments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_credentials_and_publishes() {
    let (app, amazon, f) = setup(Backend::Embedded).await;
    let (dir, lwa) = (app.data_dir.display().to_string(), amazon.regional_lwa_url());
    let env = [
        ("LATCHKEY_DATA_DIR", dir.as_str()),
        ("LATCHKEY_PUBLIC_URL", PUBLIC_URL),
        ("LATCHKEY_LWA_TOKEN_URL", lwa.as_str()),
        ("LATCHKEY_SMAPI_URL", amazon.base.as_str()),
    ];
    let skill = f.skill.skill.alexa_skill_id.as_str();
    let publish = ["skill", "publish", "--tenant", &f.slug, "--skill", skill, "--json"];
    let (code, _, err) = latchkey(&env, &publish, Some(&format!("{}\n", f.skill.client_secret)));
    assert_eq!(code, 6, "no credentials yet is a conflict: {err}");
    let creds = format!("{SMAPI_CLIENT_SECRET}\n{SMAPI_REFRESH_TOKEN}\n");
    let (code, out, err) =
        latchkey(&env, &["tenant", "set-smapi", &f.slug, "--lwa-client-id", SMAPI_CLIENT_ID, "--json"], Some(&creds));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"configured\":true") && !out.contains(SMAPI_CLIENT_SECRET), "{out}");
    let (code, _, err) = latchkey(&env, &publish, Some("not-the-secret\n"));
    assert_eq!(code, 3, "a wrong client secret is invalid input: {err}");
    let (code, out, err) = latchkey(&env, &publish, Some(&format!("{}\n", f.skill.client_secret)));
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(report["matches"], true, "{report}");
    assert_eq!(amazon.smapi_state(|s| s.puts), 1);
    app.cleanup().await;
}

/// The stored credentials are sealed at rest, and a master-key rotation re-seals them.
async fn smapi_credentials_are_sealed_and_resealed(backend: Backend) {
    use sea_orm::{ConnectionTrait, Statement};
    let (app, _amazon, f) = setup(backend).await;
    let api = api_for(&app, &f).await;
    let body = credentials(SMAPI_CLIENT_SECRET, SMAPI_REFRESH_TOKEN);
    json_ok(api.http.put(api.url("/smapi-credentials")).bearer_auth(&api.key).json(&body).send().await.expect("put"))
        .await;
    let url = match &app.pg_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}?mode=rwc", app.data_dir.join("latchkey.db").display()),
    };
    let db = sea_orm::Database::connect(&url).await.expect("db");
    let sql = "SELECT lwa_client_secret, refresh_token FROM smapi_credentials";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.expect("rows");
    let raw: Vec<String> = rows
        .iter()
        .flat_map(|r| [r.try_get::<String>("", "lwa_client_secret"), r.try_get("", "refresh_token")])
        .map(|v| v.expect("col"))
        .collect();
    assert_eq!(raw.len(), 2);
    assert!(raw.iter().all(|v| !v.contains(SMAPI_CLIENT_SECRET) && !v.contains("vendor-refresh")), "{raw:?}");

    let old_key = std::fs::read_to_string(app.data_dir.join("master.key")).expect("key");
    let new_key = latchkey_store::SecretBox::generate_base64().expect("key");
    let rotating =
        latchkey_store::SecretBox::from_base64(&new_key).expect("box").with_previous(&[old_key.trim()]).expect("prev");
    let report =
        latchkey_store::Store::connect(&url, rotating).await.expect("store").reseal_all().await.expect("reseal");
    assert_eq!(report.smapi_credentials, 1);
    let fresh = latchkey_store::Store::connect(&url, latchkey_store::SecretBox::from_base64(&new_key).expect("box"))
        .await
        .expect("store");
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let creds = fresh.scoped(t.id()).smapi_credentials().await.expect("opens with the new key").expect("creds");
    assert_eq!(creds.refresh_token, SMAPI_REFRESH_TOKEN);
    app.cleanup().await;
}

on_both_backends!(
    a_skill_is_published_and_compared_with_the_console,
    publishing_refuses_what_the_console_would_and_other_tenants,
    smapi_credentials_are_sealed_and_resealed,
    the_simulator_authenticates_as_the_console_declares
);
