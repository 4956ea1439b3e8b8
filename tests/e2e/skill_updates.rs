//! Changing a registered skill through the management API, as a device company's tooling would after a
//! console change: the client id stays, so linked users keep working; what changed is what Alexa sees.
use latchkey_core::alexa;
use latchkey_core::client_auth::ClientAuthMethod;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::management_api::{api_for, problem};

const NEW_VENDOR: &str = "M2NEWVENDOR9";
const LWA_ID: &str = "amzn1.application-oa2-client.0a1b2c3d";
const LWA_SECRET: &str = "lwa-messaging-secret-never-shown";

async fn a_skill_changes_without_relinking(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let api = api_for(&app, &f).await;
    let tokens = linked_tokens(&app, &f).await;
    let rt = tokens["refresh_token"].as_str().expect("refresh token").to_owned();
    let old_uri = f.skill.redirect_uris[0].clone();

    let path = format!("/skills/{}", f.skill.skill.alexa_skill_id);
    let body = json!({
        "name": "Acme Home (EU)",
        "vendor_id": NEW_VENDOR,
        "regions": ["EU", "NA"],
        "access_token_ttl": 7200,
        "refresh_policy": {"policy": "rotate", "grace_secs": 600},
        "lwa_client_id": LWA_ID,
        "lwa_client_secret": LWA_SECRET,
    });
    let r = api.patch(&path, body).await;
    let text = r.text().await.expect("body");
    assert!(!text.contains(LWA_SECRET), "the messaging secret is never shown: {text}");
    let view: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(view["client"]["client_id"], f.skill.client_id.as_str(), "{view}");
    assert_eq!(view["name"], "Acme Home (EU)");
    assert_eq!(view["client"]["name"], "Acme Home (EU)");
    assert_eq!(view["regions"], json!(["EU", "NA"]));
    assert_eq!(view["region"], "EU");
    assert_eq!(view["lwa_client_id"], LWA_ID);
    assert_eq!(view["has_lwa_client_secret"], true);
    assert_eq!(view["client"]["redirect_uris"], json!(alexa::redirect_uris(NEW_VENDOR)));
    assert_eq!(json_ok(api.get(&path).await).await, view, "what the update answered is what is stored");

    // The stored secret is the new one, sealed (the skill's AcceptGrant uses it).
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let sealed = app.store.scoped(t.id()).skill_lwa_secret(&f.skill.id).await.expect("secret");
    assert_eq!(sealed.as_deref(), Some(LWA_SECRET));

    // The user linked before the change keeps refreshing, now with the new lifetime.
    let refreshed = json_ok(refresh(&app, &f, &rt).await).await;
    assert_eq!(refreshed["expires_in"], 7200);

    // Alexa's URIs for the old vendor are no longer accepted; the new vendor's are.
    let r = browser().get(authorize_url(&app, &f, "s", None, &[])).send().await.expect("authorize");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "the old vendor's redirect URI {old_uri} is refused");
    f.skill.redirect_uris = alexa::redirect_uris(NEW_VENDOR);
    let code = get_code(&app, &f, None).await;
    json_ok(exchange_code(&app, &f, &code, None).await).await;

    // The audit log names what changed, never the values.
    let audit = json_ok(api.get("/audit?action=skill.updated").await).await;
    let entry = &audit["items"][0];
    assert_eq!(entry["target"], f.skill.skill.alexa_skill_id.as_str());
    let changed = entry["detail"]["changed"].as_array().expect("changed list");
    for name in ["name", "vendor_id", "regions", "lwa_credentials", "access_token_ttl", "refresh_policy"] {
        assert!(changed.contains(&json!(name)), "{name} in {entry}");
    }
    assert!(!entry.to_string().contains(LWA_SECRET) && !entry.to_string().contains(LWA_ID), "{entry}");

    // A new secret alone keeps the client id; removing the credentials forgets both.
    let view = json_ok(api.patch(&path, json!({"lwa_client_secret": "rotated-in-console"})).await).await;
    assert_eq!(view["lwa_client_id"], LWA_ID);
    let sealed = app.store.scoped(t.id()).skill_lwa_secret(&f.skill.id).await.expect("secret");
    assert_eq!(sealed.as_deref(), Some("rotated-in-console"));
    let view = json_ok(api.patch(&path, json!({"remove_lwa_credentials": true})).await).await;
    assert!(view["lwa_client_id"].is_null() && view["has_lwa_client_secret"] == false, "{view}");

    // The app's redirect URLs for app-to-app linking sit beside Alexa's three, and can be emptied.
    let app_url = "https://app.acme.example/alexa/linked";
    let view = json_ok(api.patch(&path, json!({"app_redirect_urls": [app_url]})).await).await;
    let expected = [alexa::redirect_uris(NEW_VENDOR), vec![app_url.to_owned()]].concat();
    assert_eq!(view["client"]["redirect_uris"], json!(expected), "{view}");
    let view = json_ok(api.patch(&path, json!({"app_redirect_urls": []})).await).await;
    assert_eq!(view["client"]["redirect_uris"], json!(alexa::redirect_uris(NEW_VENDOR)));

    // An update that changes nothing writes nothing and logs nothing.
    let before = json_ok(api.get("/audit?action=skill.updated").await).await["items"].as_array().map(Vec::len);
    json_ok(api.patch(&path, json!({"name": "Acme Home (EU)", "regions": ["EU", "NA"]})).await).await;
    let after = json_ok(api.get("/audit?action=skill.updated").await).await["items"].as_array().map(Vec::len);
    assert_eq!(before, after);
    app.cleanup().await;
}

async fn skill_updates_refuse_bad_input_and_other_tenants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let b = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let api_a = api_for(&app, &a).await;
    let api_b = api_for(&app, &b).await;
    let path = format!("/skills/{}", a.skill.id);
    let before = json_ok(api_a.get(&path).await).await;

    let long = "x".repeat(600);
    let bad = [
        json!({"vendor_id": "not a vendor!"}),
        json!({"regions": []}),
        json!({"regions": ["MARS"]}),
        json!({"access_token_ttl": 300}),
        json!({"access_token_ttl": -1}),
        json!({"refresh_policy": {"policy": "rotate", "grace_secs": 86_400 * 8}}),
        json!({"refresh_token_ttl": 60}),
        json!({"scopes": ""}),
        json!({"scopes": (0..16).map(|i| format!("s{i}")).collect::<Vec<_>>().join(" ")}),
        json!({"name": "n".repeat(201)}),
        json!({"name": "   "}),
        json!({"alexa_skill_id": "amzn1.ask.skill.other"}),
        json!({"kind": "video"}),
        json!({"lwa_client_secret": "secret-without-an-id"}),
        json!({"lwa_client_id": LWA_ID}),
        json!({"lwa_client_id": LWA_ID, "lwa_client_secret": "s", "remove_lwa_credentials": true}),
        json!({"lwa_client_id": "two words", "lwa_client_secret": "s"}),
        json!({"lwa_client_id": LWA_ID, "lwa_client_secret": long}),
        json!({"name": 7}),
        json!({"app_redirect_urls": ["https://pitangui.amazon.com/api/skill/link/M2TESTVENDOR"]}),
        json!({"app_redirect_urls": ["http://app.example.com/cb"]}),
        json!({"app_redirect_urls": (0..16).map(|i| format!("https://app.example.com/{i}")).collect::<Vec<_>>()}),
        json!([1, 2]),
    ];
    for body in bad {
        problem(api_a.patch(&path, body.clone()).await, 400).await;
    }
    // A valid change after a refused one: a refused update changed nothing, not even in part.
    assert_eq!(json_ok(api_a.get(&path).await).await, before, "refused updates left the skill as it was");

    // Another tenant's key cannot reach this skill by either id, and a skill that is not there is a 404.
    problem(api_b.patch(&path, json!({"name": "taken"})).await, 404).await;
    problem(api_b.patch(&format!("/skills/{}", a.skill.skill.alexa_skill_id), json!({"name": "taken"})).await, 404)
        .await;
    problem(api_a.patch("/skills/amzn1.ask.skill.nothing-here", json!({"name": "x"})).await, 404).await;
    let r = api_a.http.patch(api_a.url(&path)).bearer_auth("lk_wrong").json(&json!({"name": "x"})).send().await;
    problem(r.expect("patch"), 401).await;
    assert_eq!(json_ok(api_a.get(&path).await).await, before);
    app.cleanup().await;
}

/// Two updates of different fields at once: each keeps the other's change (neither writes back what it
/// read before the other committed).
async fn racing_updates_keep_each_others_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let api = api_for(&app, &f).await;
    let path = format!("/skills/{}", f.skill.id);
    for round in 0..8 {
        let name = format!("Acme round {round}");
        let ttl = 3600 + round;
        let (a, b) =
            tokio::join!(api.patch(&path, json!({"name": name})), api.patch(&path, json!({"access_token_ttl": ttl})));
        json_ok(a).await;
        json_ok(b).await;
        let now = json_ok(api.get(&path).await).await;
        assert_eq!(now["name"], name.as_str(), "round {round}: {now}");
        assert_eq!(now["client"]["access_token_ttl"], ttl, "round {round}: {now}");
    }
    // The same through the clients API.
    let client = format!("/clients/{}", f.skill.client_id);
    for round in 0..8 {
        let scopes = if round % 2 == 0 { "openid profile" } else { "openid" };
        let ttl = 7200 + round;
        let (a, b) = tokio::join!(
            api.patch(&client, json!({"scopes": scopes})),
            api.patch(&client, json!({"access_token_ttl": ttl}))
        );
        json_ok(a).await;
        json_ok(b).await;
        let now = json_ok(api.get(&client).await).await;
        assert_eq!(now["scopes"], json!(scopes.split(' ').collect::<Vec<_>>()), "round {round}: {now}");
        assert_eq!(now["access_token_ttl"], ttl, "round {round}: {now}");
    }
    app.cleanup().await;
}

on_both_backends!(
    a_skill_changes_without_relinking,
    skill_updates_refuse_bad_input_and_other_tenants,
    racing_updates_keep_each_others_changes
);
