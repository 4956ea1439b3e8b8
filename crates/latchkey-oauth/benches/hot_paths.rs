//! Criterion benchmarks of the functions on the token endpoint's hot path.
//! Run: `cargo bench -p latchkey-oauth --bench hot_paths`
use criterion::{Criterion, criterion_group, criterion_main};
use latchkey_core::authorize::{AuthorizeParams, ClientView, validate};
use latchkey_core::hashing::{secret_hash, verify_secret};
use latchkey_core::pkce;
use latchkey_oauth::keys::{TenantKeys, generate_rs256};
use serde_json::json;
use std::hint::black_box;

// A benchmark without a key has nothing to measure: failing to make one stops the run (no request path).
fn keys() -> TenantKeys {
    TenantKeys::with_new_key(generate_rs256().expect("key")).expect("load")
}

fn bench(c: &mut Criterion) {
    let keys = keys();
    let claims = json!({
        "iss": "https://id.example.com/t/acme", "sub": "0190f5a2b7c84d1e9f3a6b5c4d3e2f10",
        "aud": "3f9a6c1e2b7d4a8c9e0f1a2b", "exp": 1_900_000_000, "iat": 1_899_996_400,
        "jti": "b3JkZXJlZC1qdGktdmFsdWU", "client_id": "3f9a6c1e2b7d4a8c9e0f1a2b", "scope": "openid profile",
        "fid": "0190f5a2b7c84d1e9f3a6b5c4d3e2f11"
    });
    c.bench_function("sign_access_token_rs256", |b| b.iter(|| keys.sign("at+jwt", black_box(&claims))));
    let token = keys.sign("at+jwt", &claims).expect("sign");
    c.bench_function("verify_access_token_rs256", |b| b.iter(|| keys.verify(black_box(&token))));
    let hash = secret_hash("iAPPCj4KiJWmjtnVvjlzGc0RxOy4m2xX1e2JpgRvJYs");
    c.bench_function("verify_client_secret_sha256", |b| {
        b.iter(|| verify_secret(black_box("iAPPCj4KiJWmjtnVvjlzGc0RxOy4m2xX1e2JpgRvJYs"), black_box(&hash)))
    });
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = pkce::s256_challenge(verifier);
    c.bench_function("pkce_verify_s256", |b| {
        b.iter(|| pkce::verify(Some(black_box(&challenge)), Some(black_box(verifier))))
    });
    let redirects = latchkey_core::alexa::redirect_uris("M2ABCDEF");
    let scopes = vec!["openid".to_string(), "profile".to_string()];
    let params = AuthorizeParams::from_pairs([
        ("response_type", "code"),
        ("client_id", "3f9a6c1e2b7d4a8c9e0f1a2b"),
        ("redirect_uri", redirects[0].as_str()),
        ("state", "A1b2C3d4E5f6G7h8I9j0"),
        ("scope", "openid profile"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let view = ClientView {
        redirect_uris: &redirects,
        allowed_scopes: &scopes,
        require_pkce: false,
        allows_authorization_code: true,
    };
    c.bench_function("validate_authorization_request", |b| b.iter(|| validate(black_box(&params), black_box(&view))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
