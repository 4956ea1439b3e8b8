//! OpenID Connect, checked by independent implementations: the `openidconnect` crate as a relying
//! party (discovery, code + PKCE, ID token validation, userinfo, refresh) and `jsonwebtoken` verifying
//! access tokens offline against the JWKS, as a skill backend would.
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_oauth::admin::ClientOptions;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;

use crate::helpers::*;

on_both_backends!(independent_relying_party, access_token_verifies_offline);

/// The relying party redeems the refresh token of `tokens`.
pub(crate) async fn relying_party_refreshes(client: &RelyingParty, tokens: &CoreTokenResponse) -> CoreTokenResponse {
    client
        .exchange_refresh_token(tokens.refresh_token().expect("refresh token"))
        .expect("token endpoint known")
        .request_async(&server_client())
        .await
        .expect("refresh")
}

/// The `openidconnect` client a relying party builds from discovery (the same typestate federation uses).
pub(crate) type RelyingParty = latchkey_oauth::federation::DiscoveredClient;

/// An `openidconnect` relying party, registered as a new client of the fixture's tenant, through
/// discovery, a browser sign-in and consent, and the code exchange with PKCE: its client, the token
/// response and the nonce it sent.
pub(crate) async fn relying_party_signs_in(
    app: &TestApp,
    f: &Fixture,
    scopes: &[&str],
    id_token_alg: Option<latchkey_oauth::keys::SigningAlg>,
) -> (RelyingParty, CoreTokenResponse, Nonce) {
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let redirect = "http://127.0.0.1:9/callback";
    let created = app
        .auth
        .create_client(
            &t,
            "Relying party",
            vec![redirect.into()],
            vec!["authorization_code".into(), "refresh_token".into()],
            &ClientOptions { id_token_signed_response_alg: id_token_alg, ..ClientOptions::default() },
        )
        .await
        .expect("client");

    let http = server_client();
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(f.issuer.clone()).expect("issuer"), &http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(created.client_id.clone()),
        Some(ClientSecret::new(created.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.into()).expect("redirect"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request =
        client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
    for s in scopes {
        request = request.add_scope(Scope::new((*s).into()));
    }
    let (auth_url, csrf, nonce) = request.set_pkce_challenge(challenge).url();

    // The user signs in in a browser.
    let b = browser();
    let page = get_page(&b, auth_url.as_str()).await;
    let resp = post_login(&b, &app.base, &f.slug, &page, &f.email, PASSWORD).await;
    let page = resp.text().await.expect("consent page");
    let resp = post_consent(&b, &app.base, &f.slug, &page, "allow").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let loc = location(&resp);
    assert_eq!(query_param(&loc, "state").as_deref(), Some(csrf.secret().as_str()));
    let code = query_param(&loc, "code").expect("code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    (client, tokens, nonce)
}

async fn independent_relying_party(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let (client, tokens, nonce) = relying_party_signs_in(&app, &f, &["profile", "email"], None).await;
    let http = server_client();
    let id_token = tokens.id_token().expect("id token");
    let claims = id_token.claims(&client.id_token_verifier(), &nonce).expect("ID token validates");
    assert_eq!(claims.subject().as_str(), f.user_id);
    assert_eq!(claims.email().map(|e| e.as_str()), Some(f.email.as_str()));

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .expect("userinfo endpoint known")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), f.user_id);
    assert_eq!(info.email().map(|e| e.as_str()), Some(f.email.as_str()));

    let refreshed = relying_party_refreshes(&client, &tokens).await;
    assert_ne!(refreshed.access_token().secret(), tokens.access_token().secret());
    app.cleanup().await;
}

async fn access_token_verifies_offline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let nonce = "n-0S6_WzA2Mj";
    let b = browser();
    let mut page =
        get_page(&b, authorize_url(&app, &f, "s", None, &[("nonce", nonce), ("scope", "openid profile")])).await;
    let resp = post_login(&b, &app.base, &f.slug, &page, &f.email, PASSWORD).await;
    page = resp.text().await.expect("page");
    let resp = post_consent(&b, &app.base, &f.slug, &page, "allow").await;
    let code = query_param(&location(&resp), "code").expect("code");
    let tokens = json_ok(exchange_code(&app, &f, &code, None).await).await;

    let jwks: JwkSet = reqwest::get(app.url(&format!("/t/{}/.well-known/jwks.json", f.slug)))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    let at = tokens["access_token"].as_str().expect("at");
    let header = decode_header(at).expect("header");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"), "RFC 9068 typ");
    let jwk = jwks.find(header.kid.as_deref().expect("kid")).expect("key in JWKS");
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[&f.issuer]);
    v.set_audience(&[&f.skill.client_id]);
    let data = decode::<serde_json::Value>(at, &DecodingKey::from_jwk(jwk).expect("key"), &v)
        .expect("access token verifies offline");
    let c = data.claims;
    assert_eq!(c["sub"], f.user_id.as_str());
    assert_eq!(c["client_id"], f.skill.client_id.as_str());
    assert_eq!(c["scope"], "openid profile");
    for claim in ["exp", "iat", "jti"] {
        assert!(!c[claim].is_null(), "{claim} present");
    }
    // A tampered token does not verify.
    let mut parts: Vec<&str> = at.split('.').collect();
    let forged =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, br#"{"sub":"someone-else"}"#);
    parts[1] = &forged;
    assert!(decode::<serde_json::Value>(&parts.join("."), &DecodingKey::from_jwk(jwk).expect("key"), &v).is_err());

    // The ID token carries the nonce.
    let id = tokens["id_token"].as_str().expect("id token");
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[&f.issuer]);
    v.set_audience(&[&f.skill.client_id]);
    let idc = decode::<serde_json::Value>(id, &DecodingKey::from_jwk(jwk).expect("key"), &v)
        .expect("id token verifies")
        .claims;
    assert_eq!(idc["nonce"], nonce);
    assert_eq!(idc["name"], "Ada Lovelace");

    // Key rotation: the old key stays published, so the old token still verifies; new tokens use the new key.
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let new_kid = app.auth.rotate_signing_key(&t, None).await.expect("rotate").kid;
    let jwks: JwkSet = reqwest::get(app.url(&format!("/t/{}/.well-known/jwks.json", f.slug)))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    assert_eq!(jwks.keys.len(), 6, "a new key of each algorithm, and the previous ones");
    assert_eq!(introspect(&app, &f, at).await["active"], true);
    let t2 = json_ok(refresh(&app, &f, tokens["refresh_token"].as_str().expect("rt")).await).await;
    let h2 = decode_header(t2["access_token"].as_str().expect("at")).expect("header");
    assert_eq!(h2.kid.as_deref(), Some(new_kid.as_str()));
    app.cleanup().await;
}
