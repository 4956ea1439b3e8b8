//! A tenant's signing algorithm (RS256, ES256, EdDSA), changed by rotation over the management API, and
//! checked by implementations we did not write: `jsonwebtoken` verifying access and ID tokens against the
//! published JWKS as a skill backend would, and the `openidconnect` crate as a relying party.
use std::str::FromStr;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
use latchkey_core::client_auth::ClientAuthMethod;
use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::management_api::{api_for, problem};
use crate::oidc::relying_party_signs_in;

on_both_backends!(signing_algorithm_changes_by_rotation, bad_rotation_requests_change_nothing);

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

    let mut outgoing = ("RS256", first);
    for alg in ["ES256", "EdDSA"] {
        let key = json_ok(api.post("/signing-keys/rotate", json!({"alg": alg})).await).await;
        assert_eq!((key["alg"].as_str(), key["state"].as_str()), (Some(alg), Some("current")), "{key}");
        let listed = json_ok(api.get("/signing-keys").await).await;
        let keys = listed["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 2, "current and previous: {listed}");
        assert_eq!((&keys[0]["kid"], &keys[0]["alg"]), (&key["kid"], &json!(alg)));
        assert_eq!((&keys[1]["alg"], &keys[1]["state"]), (&json!(outgoing.0), &json!("previous")));
        let discovery: Value =
            json_ok(reqwest::get(format!("{}/.well-known/openid-configuration", f.issuer)).await.expect("discovery"))
                .await;
        assert_eq!(discovery["id_token_signing_alg_values_supported"], json!([alg]));

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
    // Two rotations on, the RS256 key is retired: what it signed is no longer accepted anywhere.
    assert_eq!(introspect(&app, &f, &first_at).await["active"], false);
    assert!(jwks(&app, &f).await.keys.iter().all(|k| format!("{:?}", k.common.key_algorithm) != "Some(RS256)"));
    app.cleanup().await;
}

/// The `openidconnect` crate as the relying party: discovery, code + PKCE, ID token validation under
/// the algorithm discovery names, refresh.
async fn relying_party_validates(app: &TestApp, f: &Fixture, alg: &str) {
    let rp_alg = match alg {
        "ES256" => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        "EdDSA" => CoreJwsSigningAlgorithm::EdDsa,
        _ => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    };
    let (client, tokens, nonce) = relying_party_signs_in(app, f, &["profile"]).await;
    let http = server_client();
    let id_token = tokens.id_token().expect("id token");
    assert_eq!(id_token.signing_alg().expect("alg"), &rp_alg);
    // The crate takes the algorithms to accept from discovery, so it accepts the tenant's...
    let claims = id_token.claims(&client.id_token_verifier(), &nonce).expect("ID token validates");
    // ...and a relying party pinned to RS256 refuses it rather than follow the token's header.
    let pinned = client.id_token_verifier().set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    assert!(id_token.claims(&pinned, &nonce).is_err());
    assert_eq!(claims.subject().as_str(), f.user_id);
    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("refresh token"))
        .expect("token endpoint known")
        .request_async(&http)
        .await
        .expect("refresh");
    assert_eq!(header_alg(refreshed.access_token().secret()), alg);
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
