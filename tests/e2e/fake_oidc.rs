//! A deliberately misbehaving OpenID Connect provider: it serves discovery and a JWKS like any
//! provider, and its token endpoint returns whatever ID token the test asks for (wrong nonce, expired,
//! tampered, wrong audience, signed by an unpublished key), to prove Latchkey refuses each; and its
//! userinfo endpoint answers the way providers that keep claims out of the ID token do (OpenID
//! Connect Core §5.4), or fails in each way such an endpoint can.
use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_oauth::keys::{TenantKeys, generate_rs256};
use serde_json::json;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdTokenMode {
    Good,
    WrongNonce,
    Expired,
    Tampered,
    WrongAudience,
    UnpublishedKey,
    /// The ID token carries only `sub`; email and name come from userinfo as JSON.
    ClaimsAtUserinfo,
    /// Like `ClaimsAtUserinfo`, with userinfo as a signed JWT (`application/jwt`).
    UserinfoJwt,
    /// A userinfo JWT signed by a key the JWKS does not publish.
    UserinfoJwtForged,
    /// userinfo answers for another subject.
    UserinfoOtherSubject,
    /// userinfo answers 401.
    UserinfoUnauthorized,
    /// userinfo answers 503.
    UserinfoDown,
    /// userinfo answers an HTML page.
    UserinfoNotJson,
    /// An attacker's own identity: subject `attacker`, their own verified `email`, and a
    /// `preferred_username` that is the victim's address.
    UsernameIsVictim,
    /// Subject `attacker`, claiming the victim's address as `email` without `email_verified`.
    VictimEmailUnverified,
}

impl IdTokenMode {
    fn claims_at_userinfo(self) -> bool {
        !matches!(
            self,
            Self::Good
                | Self::WrongNonce
                | Self::Expired
                | Self::Tampered
                | Self::WrongAudience
                | Self::UnpublishedKey
                | Self::UsernameIsVictim
                | Self::VictimEmailUnverified
        )
    }
}

/// What userinfo says about the subject, in the userinfo modes.
pub const USERINFO_EMAIL: &str = "una@fake.example";
pub const USERINFO_NAME: &str = "Una Userinfo";
const ACCESS_TOKEN: &str = "fake-at";

pub struct FakeOidcState {
    pub mode: IdTokenMode,
    pub nonce: String,
    pub client_id: String,
    /// The address the attacker modes aim at.
    pub victim: String,
}

pub struct FakeOidc {
    pub issuer: String,
    pub state: Arc<Mutex<FakeOidcState>>,
}

fn keys() -> TenantKeys {
    TenantKeys::with_new_key(generate_rs256().expect("key")).expect("keys")
}

pub async fn start() -> FakeOidc {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
    let state = Arc::new(Mutex::new(FakeOidcState {
        mode: IdTokenMode::Good,
        nonce: String::new(),
        client_id: "fake-client".into(),
        victim: String::new(),
    }));
    let published = Arc::new(keys());
    let unpublished = Arc::new(keys());
    let (iss, st) = (issuer.clone(), state.clone());
    let server = HttpServer::new(move || {
        let (iss, st, published, unpublished) = (iss.clone(), st.clone(), published.clone(), unpublished.clone());
        let iss2 = iss.clone();
        let published2 = published.clone();
        let (iss3, st3, published3, unpublished3) = (iss.clone(), st.clone(), published.clone(), unpublished.clone());
        App::new()
            .route(
                "/.well-known/openid-configuration",
                web::get().to(move || {
                    let i = iss.clone();
                    async move {
                        HttpResponse::Ok().json(json!({
                            "issuer": i, "authorization_endpoint": format!("{i}/authorize"), "token_endpoint": format!("{i}/token"),
                            "jwks_uri": format!("{i}/jwks"), "userinfo_endpoint": format!("{i}/userinfo"), "response_types_supported": ["code"], "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"]
                        }))
                    }
                }),
            )
            .route(
                "/userinfo",
                web::get().to(move |req: actix_web::HttpRequest| {
                    let (i, st, published, unpublished) = (iss3.clone(), st3.clone(), published3.clone(), unpublished3.clone());
                    async move {
                        let bearer = req.headers().get("authorization").and_then(|v| v.to_str().ok());
                        if bearer != Some(format!("Bearer {ACCESS_TOKEN}").as_str()) {
                            return HttpResponse::Unauthorized().insert_header(("www-authenticate", "Bearer error=\"invalid_token\"")).finish();
                        }
                        let (mode, client_id) = {
                            let s = st.lock().expect("lock");
                            (s.mode, s.client_id.clone())
                        };
                        let sub = match mode {
                            IdTokenMode::UserinfoOtherSubject => "someone-else",
                            IdTokenMode::UsernameIsVictim | IdTokenMode::VictimEmailUnverified => "attacker",
                            _ => "fake-subject-1",
                        };
                        let claims = json!({"sub": sub, "email": USERINFO_EMAIL, "email_verified": true, "name": USERINFO_NAME});
                        match mode {
                            IdTokenMode::UserinfoUnauthorized => HttpResponse::Unauthorized()
                                .insert_header(("www-authenticate", "Bearer error=\"invalid_token\""))
                                .finish(),
                            IdTokenMode::UserinfoDown => HttpResponse::ServiceUnavailable().body("down for maintenance"),
                            IdTokenMode::UserinfoNotJson => {
                                HttpResponse::Ok().content_type("text/html").body("<html>Sign in</html>")
                            }
                            IdTokenMode::UserinfoJwt | IdTokenMode::UserinfoJwtForged => {
                                let mut claims = claims;
                                claims["iss"] = json!(i);
                                claims["aud"] = json!(client_id);
                                let signer = if mode == IdTokenMode::UserinfoJwt { &published } else { &unpublished };
                                HttpResponse::Ok()
                                    .content_type("application/jwt")
                                    .body(signer.sign("JWT", &claims).expect("sign"))
                            }
                            _ => HttpResponse::Ok().json(claims),
                        }
                    }
                }),
            )
            .route("/jwks", web::get().to(move || {
                let k = published2.clone();
                async move { HttpResponse::Ok().json(k.jwks().clone()) }
            }))
            .route(
                "/token",
                web::post().to(move || {
                    let (i, st, published, unpublished) = (iss2.clone(), st.clone(), published.clone(), unpublished.clone());
                    async move {
                        let (mode, nonce, client_id, victim) = {
                            let s = st.lock().expect("lock");
                            (s.mode, s.nonce.clone(), s.client_id.clone(), s.victim.clone())
                        };
                        let now = latchkey_store::now();
                        let mut claims = json!({"iss": i, "sub": "fake-subject-1", "aud": client_id, "iat": now, "exp": now + 300,
                            "nonce": nonce, "email": "mallory@fake.example", "email_verified": true});
                        match mode {
                            IdTokenMode::WrongNonce => claims["nonce"] = json!("not-the-nonce"),
                            IdTokenMode::Expired => {
                                claims["iat"] = json!(now - 7200);
                                claims["exp"] = json!(now - 3600);
                            }
                            IdTokenMode::WrongAudience => claims["aud"] = json!("someone-else"),
                            IdTokenMode::UsernameIsVictim => {
                                claims["sub"] = json!("attacker");
                                claims["preferred_username"] = json!(victim);
                                claims["name"] = json!("Mallory");
                            }
                            IdTokenMode::VictimEmailUnverified => {
                                claims["sub"] = json!("attacker");
                                claims["email"] = json!(victim);
                                claims["email_verified"] = json!(false);
                                claims["name"] = json!("Mallory");
                            }
                            m if m.claims_at_userinfo() => {
                                for k in ["email", "email_verified"] {
                                    claims.as_object_mut().expect("object").remove(k);
                                }
                            }
                            _ => {}
                        }
                        let signer = if mode == IdTokenMode::UnpublishedKey { &unpublished } else { &published };
                        let mut token = signer.sign("JWT", &claims).expect("sign");
                        if mode == IdTokenMode::Tampered {
                            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
                            claims["sub"] = json!("someone-else");
                            parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
                            token = parts.join(".");
                        }
                        HttpResponse::Ok().json(json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300, "id_token": token}))
                    }
                }),
            )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    FakeOidc { issuer, state }
}
