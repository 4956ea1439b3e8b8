//! Introspection remembers the access tokens it has verified (a skill backend introspects the same
//! token on every directive, and an ES256 or Ed25519 verification costs more than the rest of the
//! request). What remembering must never do: keep a revoked grant's token active, keep a token active
//! once the key that signed it is retired, answer for another tenant, or let a forged variant of a
//! remembered token through.
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_oauth::keys::SigningAlg;

use crate::helpers::*;

on_both_backends!(a_remembered_token_is_still_checked);

async fn a_remembered_token_is_still_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    app.auth.rotate_signing_key(&t, Some(SigningAlg::ES256)).await.expect("ES256");
    let tokens = linked_tokens(&app, &f).await;
    let at = tokens["access_token"].as_str().expect("at");
    // Verified, then remembered.
    for _ in 0..3 {
        assert_eq!(introspect(&app, &f, at).await["active"], true);
    }
    // Another tenant's client asking about it: not active.
    let other = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    assert_eq!(introspect(&app, &other, at).await["active"], false);
    // The remembered token with one signature character changed, or with its payload swapped for
    // another's: never active.
    let mut forged: Vec<char> = at.chars().collect();
    let i = forged.len() - 10;
    forged[i] = if forged[i] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    assert_eq!(introspect(&app, &f, &forged).await["active"], false);
    let second = linked_tokens(&app, &f).await;
    let at2 = second["access_token"].as_str().expect("at");
    assert_eq!(introspect(&app, &f, at2).await["active"], true);
    let (p1, p2): (Vec<&str>, Vec<&str>) = (at.split('.').collect(), at2.split('.').collect());
    let spliced = format!("{}.{}.{}", p1[0], p2[1], p1[2]);
    assert_eq!(introspect(&app, &f, &spliced).await["active"], false);

    // Revoking the grant ends its remembered token at once.
    let resp = revoke(&app, &f, tokens["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(introspect(&app, &f, at).await["active"], false);

    // Two rotations retire the key that signed the second token: remembered or not, it stops.
    assert_eq!(introspect(&app, &f, at2).await["active"], true);
    for _ in 0..2 {
        app.auth.rotate_signing_key(&t, None).await.expect("rotate");
    }
    assert_eq!(introspect(&app, &f, at2).await["active"], false);
    app.cleanup().await;
}
