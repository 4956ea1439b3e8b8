//! Signing algorithms (RS256, ES256, EdDSA): a tenant's, changed by rotation over the management API,
//! signs its access tokens; a client's `id_token_signed_response_alg` (RS256 unless set) signs its ID
//! tokens. Checked by implementations we did not write: `jsonwebtoken` verifying access tokens against
//! the published JWKS as a skill backend would, and the `openidconnect` crate as a relying party
//! (signature, allowed algorithms, at_hash).
use std::str::FromStr;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_oauth::keys::{SigningAlg, generate};
use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{AccessTokenHash, OAuth2TokenResponse, TokenResponse};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::management_api::{api_for, problem};
use crate::oidc::{relying_party_refreshes, relying_party_signs_in};

on_both_backends!(
    signing_algorithm_changes_by_rotation,
    bad_rotation_requests_change_nothing,
    a_client_chooses_its_id_token_algorithm,
    a_tenant_from_before_gets_its_missing_keys
);

/// The algorithms of the listed keys in `state`, in the order listed.
fn algs_in(listed: &Value, state: &str) -> Vec<String> {
    listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["state"] == state)
        .map(|k| k["alg"].as_str().expect("alg").to_owned())
        .collect()
}

fn rp_alg(alg: &str) -> CoreJwsSigningAlgorithm {
    match alg {
        "ES256" => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        "EdDSA" => CoreJwsSigningAlgorithm::EdDsa,
        _ => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    }
}

async fn discovery_algs(f: &Fixture) -> Value {
    let d: Value =
        json_ok(reqwest::get(format!("{}/.well-known/openid-configuration", f.issuer)).await.expect("discovery")).await;
    d["id_token_signing_alg_values_supported"].clone()
}

fn header_alg(jws: &str) -> String {
    format!("{:?}", decode_header(jws).expect("JWS header").alg)
}

async fn jwks(app: &TestApp, f: &Fixture) -> JwkSet {
    let url = app.url(&format!("/t/{}/.well-known/jwks.json", f.slug));
    reqwest::get(url).await.expect("jwks").json().await.expect("jwks json")
}

/// Verifies `token` offline against the JWKS with `alg` alone allowed, as a skill backend would.
fn verify_offline(jwks: &JwkSet, f: &Fixture, token: &str, alg: &str, audience: &str) -> Value {
    let kid = decode_header(token).expect("header").kid.expect("kid");
    let jwk = jwks.find(&kid).expect("signing key published");
    let mut v = Validation::new(Algorithm::from_str(alg).expect("alg"));
    v.set_issuer(&[&f.issuer]);
    v.set_audience(&[audience]);
    decode::<Value>(token, &DecodingKey::from_jwk(jwk).expect("decoding key"), &v)
        .unwrap_or_else(|e| panic!("{alg} token verifies offline: {e}"))
        .claims
}

async fn signing_algorithm_changes_by_rotation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let api = api_for(&app, &f).await;
    let first = linked_tokens(&app, &f).await;
    let first_at = first["access_token"].as_str().expect("at").to_owned();
    assert_eq!(header_alg(&first_at), "RS256", "a tenant starts on RS256");
    let first_kid = decode_header(&first_at).expect("header").kid.expect("kid");
    // A current key of every algorithm from the start, the one signing access tokens first.
    let listed = json_ok(api.get("/signing-keys").await).await;
    assert_eq!(algs_in(&listed, "current"), ["RS256", "ES256", "EdDSA"], "{listed}");
    assert_eq!(
        (&listed["keys"][0]["kid"], &listed["keys"][0]["signs_access_tokens"]),
        (&json!(first_kid), &json!(true))
    );
    assert_eq!(
        listed["keys"].as_array().map(|k| k.iter().filter(|k| k["signs_access_tokens"] == true).count()),
        Some(1)
    );

    let mut outgoing = ("RS256", first);
    for alg in ["ES256", "EdDSA"] {
        let key = json_ok(api.post("/signing-keys/rotate", json!({"alg": alg})).await).await;
        assert_eq!((key["alg"].as_str(), key["state"].as_str()), (Some(alg), Some("current")), "{key}");
        assert_eq!(key["signs_access_tokens"], true);
        let listed = json_ok(api.get("/signing-keys").await).await;
        let keys = listed["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 6, "a current and a previous key of each algorithm: {listed}");
        assert_eq!((&keys[0]["kid"], &keys[0]["alg"]), (&key["kid"], &json!(alg)));
        let mut current = algs_in(&listed, "current");
        assert_eq!(current.remove(0), alg);
        assert_eq!(current, SigningAlg::ALL.iter().map(|a| a.as_str()).filter(|a| *a != alg).collect::<Vec<_>>());
        let mut previous = algs_in(&listed, "previous");
        previous.sort();
        assert_eq!(previous, ["ES256", "EdDSA", "RS256"], "{listed}");
        // Discovery lists every algorithm, RS256 first, whatever the tenant signs access tokens with.
        assert_eq!(discovery_algs(&f).await, json!(["RS256", "ES256", "EdDSA"]));

        // New tokens are signed with the new key and verify against the JWKS with its algorithm.
        let set = jwks(&app, &f).await;
        let fresh = linked_tokens(&app, &f).await;
        let at = fresh["access_token"].as_str().expect("at");
        assert_eq!(header_alg(at), alg);
        assert_eq!(decode_header(at).expect("header").kid.as_deref(), key["kid"].as_str());
        let claims = verify_offline(&set, &f, at, alg, &f.skill.client_id);
        assert_eq!(claims["sub"], f.user_id.as_str());
        assert_eq!(introspect(&app, &f, at).await["active"], true);
        // A token may not pick its algorithm: the same token relabelled RS256 is refused.
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[&f.skill.client_id]);
        let kid = decode_header(at).expect("header").kid.expect("kid");
        let jwk = set.find(&kid).expect("key");
        assert!(
            DecodingKey::from_jwk(jwk).is_err()
                || decode::<Value>(at, &DecodingKey::from_jwk(jwk).expect("key"), &v).is_err()
        );

        // What the outgoing key signed keeps verifying, and its refresh token now yields new-key tokens.
        let (old_alg, old) = &outgoing;
        let old_at = old["access_token"].as_str().expect("at");
        assert_eq!(header_alg(old_at), *old_alg);
        verify_offline(&set, &f, old_at, old_alg, &f.skill.client_id);
        assert_eq!(introspect(&app, &f, old_at).await["active"], true, "{old_alg} token after the rotation");
        let refreshed = json_ok(refresh(&app, &f, old["refresh_token"].as_str().expect("rt")).await).await;
        let rat = refreshed["access_token"].as_str().expect("at");
        assert_eq!(header_alg(rat), alg);
        verify_offline(&set, &f, rat, alg, &f.skill.client_id);

        relying_party_validates(&app, &f, alg).await;
        outgoing = (alg, fresh);
    }
    // Two rotations on, the tenant's first keys are retired: what they signed is no longer accepted.
    assert_eq!(introspect(&app, &f, &first_at).await["active"], false);
    assert!(jwks(&app, &f).await.keys.iter().all(|k| k.common.key_id.as_deref() != Some(first_kid.as_str())));
    app.cleanup().await;
}

/// The `openidconnect` crate as the relying party: discovery, code + PKCE, ID token validation, at_hash,
/// refresh. A client that registered no algorithm gets RS256 ID tokens whatever signs the tenant's
/// access tokens (`tenant_alg`), and a client registered for an algorithm gets that one; each is
/// checked by a verifier that allows that algorithm alone.
async fn relying_party_validates(app: &TestApp, f: &Fixture, tenant_alg: &str) {
    for registered in [None, Some(tenant_alg)] {
        let chosen = registered.map(|a| SigningAlg::from_str(a).expect("alg"));
        let (client, tokens, nonce) = relying_party_signs_in(app, f, &["profile"], chosen).await;
        let expected = registered.unwrap_or("RS256");
        let id_token = tokens.id_token().expect("id token");
        assert_eq!(id_token.signing_alg().expect("alg"), &rp_alg(expected), "registered {registered:?}");
        let pinned = client.id_token_verifier().set_allowed_algs([rp_alg(expected)]);
        let claims = id_token.claims(&pinned, &nonce).expect("ID token validates");
        assert_eq!(claims.subject().as_str(), f.user_id);
        // A verifier that allows another algorithm refuses it rather than follow the token's header.
        let other = if expected == "RS256" { "ES256" } else { "RS256" };
        let wrong = client.id_token_verifier().set_allowed_algs([rp_alg(other)]);
        assert!(id_token.claims(&wrong, &nonce).is_err(), "{expected} token under {other}");
        // at_hash as the crate computes it: the token's own hash (SHA-512 for Ed25519).
        let key = id_token.signing_key(&pinned).expect("signing key in the JWKS");
        let want = AccessTokenHash::from_token(tokens.access_token(), &rp_alg(expected), key).expect("at_hash");
        assert_eq!(claims.access_token_hash(), Some(&want), "{expected} at_hash");
        let refreshed = relying_party_refreshes(&client, &tokens).await;
        assert_eq!(header_alg(refreshed.access_token().secret()), tenant_alg, "access tokens follow the tenant");
        let id_token = refreshed.id_token().expect("id token on refresh");
        assert_eq!(id_token.signing_alg().expect("alg"), &rp_alg(expected), "ID tokens follow the client");
    }
}

/// Unknown, symmetric or misspelt algorithms, junk bodies and other tenants' keys: a 400 or 401 that
/// changes nothing.
async fn bad_rotation_requests_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let api = api_for(&app, &f).await;
    let before = json_ok(api.get("/signing-keys").await).await;
    for body in [
        json!({"alg": "HS256"}),
        json!({"alg": "none"}),
        json!({"alg": "es256"}),
        json!({"alg": 7}),
        json!({"algo": "ES256"}),
        json!([]),
    ] {
        let p = problem(api.post("/signing-keys/rotate", body.clone()).await, 400).await;
        assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}: {p}");
    }
    let resp = api
        .http
        .post(api.url("/signing-keys/rotate"))
        .bearer_auth(&api.key)
        .body("{\"alg\":")
        .send()
        .await
        .expect("post");
    problem(resp, 400).await;
    let big = format!("{{\"alg\":\"{}\"}}", "E".repeat(200_000));
    let resp =
        api.http.post(api.url("/signing-keys/rotate")).bearer_auth(&api.key).body(big).send().await.expect("post");
    assert!(resp.status().is_client_error(), "{}", resp.status());
    // Another tenant's API key cannot rotate or list this tenant's keys.
    let other = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let other_api = api_for(&app, &other).await;
    let resp = api
        .http
        .post(api.url("/signing-keys/rotate"))
        .bearer_auth(&other_api.key)
        .json(&json!({"alg": "ES256"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = api.http.get(api.url("/signing-keys")).bearer_auth(&other_api.key).send().await.expect("get");
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(json_ok(api.get("/signing-keys").await).await, before, "nothing changed");
    // No body at all keeps the algorithm.
    let resp = api.http.post(api.url("/signing-keys/rotate")).bearer_auth(&api.key).send().await.expect("post");
    assert_eq!(json_ok(resp).await["alg"], "RS256");
    app.cleanup().await;
}

/// A client's ID-token algorithm over the management API: shown on the client, changed by PATCH, and
/// what its next ID token is signed with; access tokens stay on the tenant's algorithm. Unknown,
/// symmetric, misspelt or ill-typed values, and another tenant's key, are refused and change nothing.
async fn a_client_chooses_its_id_token_algorithm(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let api = api_for(&app, &f).await;
    let resp = api
        .post(
            "/clients",
            json!({"name": "Web app", "redirect_uris": ["https://app.example.com/cb"],
                   "grant_types": ["authorization_code"], "id_token_signed_response_alg": "EdDSA"}),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 201);
    let created: Value = resp.json().await.expect("created client");
    let client_id = created["client_id"].as_str().expect("client_id").to_owned();
    let path = format!("/clients/{client_id}");
    assert_eq!(json_ok(api.get(&path).await).await["id_token_signed_response_alg"], "EdDSA");
    // The skill's client registered nothing: RS256.
    let skill_client = json_ok(api.get(&format!("/clients/{}", f.skill.client_id)).await).await;
    assert_eq!(skill_client["id_token_signed_response_alg"], "RS256");

    for body in [
        json!({"id_token_signed_response_alg": "HS256"}),
        json!({"id_token_signed_response_alg": "none"}),
        json!({"id_token_signed_response_alg": "es256"}),
        json!({"id_token_signed_response_alg": 256}),
        json!({"id_token_signed_response_alg": ["ES256"]}),
        json!({"id_token_signed_response_alg": "E".repeat(100_000)}),
    ] {
        let resp = api.patch(&path, body.clone()).await;
        assert!(resp.status().is_client_error(), "{body}: {}", resp.status());
    }
    let other = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let other_api = api_for(&app, &other).await;
    let resp = other_api
        .http
        .patch(api.url(&path))
        .bearer_auth(&other_api.key)
        .json(&json!({"id_token_signed_response_alg": "RS256"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = other_api.patch(&path, json!({"id_token_signed_response_alg": "RS256"})).await;
    assert_eq!(resp.status().as_u16(), 404, "another tenant's client is not found under its own tenant");
    assert_eq!(json_ok(api.get(&path).await).await["id_token_signed_response_alg"], "EdDSA", "nothing changed");

    // The skill's client moves to ES256: its ID tokens follow, its access tokens stay RS256, and both
    // verify against the JWKS.
    let updated = json_ok(
        api.patch(&format!("/clients/{}", f.skill.client_id), json!({"id_token_signed_response_alg": "ES256"})).await,
    )
    .await;
    assert_eq!(updated["id_token_signed_response_alg"], "ES256");
    let tokens = linked_tokens(&app, &f).await;
    let (at, id) = (tokens["access_token"].as_str().expect("at"), tokens["id_token"].as_str().expect("id token"));
    assert_eq!((header_alg(at).as_str(), header_alg(id).as_str()), ("RS256", "ES256"));
    let set = jwks(&app, &f).await;
    verify_offline(&set, &f, at, "RS256", &f.skill.client_id);
    let claims = verify_offline(&set, &f, id, "ES256", &f.skill.client_id);
    assert_eq!(claims["sub"], f.user_id.as_str());
    app.cleanup().await;
}

/// A tenant stored before every tenant kept a key of each algorithm (one ES256 key, as an earlier
/// version created it): the first time its keys are needed the missing ones are added, so a client
/// that registered nothing still gets RS256 ID tokens, published in the JWKS.
async fn a_tenant_from_before_gets_its_missing_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = format!("t{}", &unique("")[..12]);
    let es = generate(SigningAlg::ES256).expect("key");
    let es_kid = es.kid.clone();
    app.store.create_tenant(&slug, "Legacy", SigningAlg::ES256, vec![es]).await.expect("tenant");
    let f = app.fixture_in(&slug, ClientAuthMethod::ClientSecretBasic).await;
    let set = jwks(&app, &f).await;
    assert_eq!(set.keys.len(), 3, "one key of each algorithm");
    assert!(set.keys.iter().any(|k| k.common.key_id.as_deref() == Some(es_kid.as_str())));
    let tokens = linked_tokens(&app, &f).await;
    let (at, id) = (tokens["access_token"].as_str().expect("at"), tokens["id_token"].as_str().expect("id token"));
    assert_eq!(decode_header(at).expect("header").kid.as_deref(), Some(es_kid.as_str()), "the tenant keeps its key");
    assert_eq!(header_alg(id), "RS256");
    verify_offline(&set, &f, id, "RS256", &f.skill.client_id);
    // Loading again adds nothing more.
    app.auth.invalidate(&slug, app.auth.tenant_for_admin(&slug).await.expect("t").id());
    assert_eq!(jwks(&app, &f).await.keys.len(), 3);
    app.cleanup().await;
}
