//! Local stand-ins for Amazon's services, faithful to what ALEXA.md §4–5 documents: Login with Amazon's
//! token endpoint, the Alexa Event Gateway, and SMAPI's account-linking resource. They check requests the way Amazon does and answer the
//! way Amazon does, including errors, and count what they saw.
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

pub const LWA_CLIENT_ID: &str = "amzn1.application-oa2-client.fakeclient";
pub const LWA_CLIENT_SECRET: &str = "fake-lwa-secret";
/// The vendor's Login with Amazon client for SMAPI (`ask util generate-lwa-tokens`), and its token.
pub const SMAPI_CLIENT_ID: &str = "amzn1.application-oa2-client.vendortools";
pub const SMAPI_CLIENT_SECRET: &str = "vendor-tools-secret";
pub const SMAPI_REFRESH_TOKEN: &str = "Atzr|IwEBIA-vendor-refresh";

/// The Skill Management API's account-linking resource, as Amazon documents it: `PUT` → 204 after
/// checking the body against the accountLinkingRequest schema, `GET` → 200 `accountLinkingResponse`
/// without the secret, `{"message": …}` errors.
#[derive(Default)]
pub struct SmapiState {
    /// Skills the vendor owns; others are 404.
    pub skills: HashSet<String>,
    /// Access tokens LWA issued for the vendor's refresh token.
    pub tokens: HashSet<String>,
    /// (skill, stage) → the stored accountLinkingRequest, secret included.
    pub linking: HashMap<(String, String), Value>,
    pub puts: u32,
    /// Whether LWA still honours the vendor's refresh token.
    pub refresh_revoked: bool,
}

#[derive(Default)]
pub struct LwaState {
    /// Grant codes Alexa handed out that are still unused.
    pub codes: HashSet<String>,
    /// Refresh token → current access token.
    pub refresh_tokens: HashMap<String, String>,
    pub valid_access: HashSet<String>,
    /// `expires_in` of the code exchange; refreshed tokens last an hour, as LWA's do.
    pub expires_in: i64,
    pub code_exchanges: u32,
    pub refreshes: u32,
    /// Refresh requests, refused ones included.
    pub refresh_attempts: u32,
    /// Refresh tokens in the order their codes were exchanged: one per Alexa account's AcceptGrant.
    pub accounts: Vec<String>,
    /// The region whose LWA endpoint issued each access token (only for the regional URLs): Amazon's
    /// tokens are per region, and another region's gateway does not know the account.
    pub token_region: HashMap<String, String>,
    /// The path of every token request, for which region's LWA was asked.
    pub paths: Vec<String>,
    /// Codes issued to an app that sent a PKCE challenge (S256): code → challenge.
    pub challenges: HashMap<String, String>,
    counter: u32,
}

impl LwaState {
    /// The Alexa account of the `n`th AcceptGrant disables the skill: Amazon revokes what it issued
    /// for it, so the gateway rejects its access token and LWA refuses its refresh (invalid_grant).
    pub fn disable_skill(&mut self, n: usize) {
        let rt = self.accounts[n].clone();
        if let Some(access) = self.refresh_tokens.remove(&rt) {
            self.valid_access.remove(&access);
        }
    }
}

#[derive(Default)]
pub struct GatewayState {
    /// Answers to give next, in order: (status, Amazon error code). Empty → check the token and 202.
    pub script: VecDeque<(u16, &'static str)>,
    /// (path, Authorization header, body) of every request.
    pub received: Vec<(String, String, Value)>,
    /// How long each answer takes (a slow gateway).
    pub delay: std::time::Duration,
    /// Retry-After (seconds) sent with each scripted error, as Amazon does with its 429 and 503.
    pub retry_after: Option<u64>,
}

/// What the fake Alexa API needs to act like Alexa after enablement: exchange the Latchkey code.
#[derive(Default, Clone)]
pub struct AlexaApiState {
    pub latchkey_token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub enablements: Vec<Value>,
    /// The token response Alexa got from Latchkey for the linked account.
    pub linked_tokens: Vec<Value>,
    /// Endpoints `alexaApiEndpoint` names before this fake's own host; enablement there answers 404
    /// (the user's account is in another region).
    pub other_regions: Vec<String>,
    /// Every host an enablement was sent to.
    pub enablement_hosts: Vec<String>,
}

pub struct FakeAmazon {
    pub base: String,
    pub smapi: Arc<Mutex<SmapiState>>,
    pub lwa: Arc<Mutex<LwaState>>,
    pub gateway: Arc<Mutex<GatewayState>>,
    pub alexa_api: Arc<Mutex<AlexaApiState>>,
}

impl FakeAmazon {
    pub fn lwa_url(&self) -> String {
        format!("{}/auth/o2/token", self.base)
    }
    /// Login with Amazon per region, as `LATCHKEY_LWA_TOKEN_URL` with `{region}`.
    pub fn regional_lwa_url(&self) -> String {
        format!("{}/{{region}}/auth/o2/token", self.base)
    }
    pub fn gateway_url(&self) -> String {
        format!("{}/{{region}}/v3/events", self.base)
    }
    pub fn issue_code(&self) -> String {
        let mut s = self.lwa.lock().expect("lock");
        s.counter += 1;
        let code = format!("ANUbUKCJqlBOpMhw{}", s.counter);
        s.codes.insert(code.clone());
        code
    }
    pub fn smapi_state<R>(&self, f: impl FnOnce(&mut SmapiState) -> R) -> R {
        f(&mut self.smapi.lock().expect("lock"))
    }
    /// An Amazon code issued to an app that asked with this S256 PKCE challenge.
    pub fn issue_code_with_challenge(&self, challenge: &str) -> String {
        let code = self.issue_code();
        self.lwa.lock().expect("lock").challenges.insert(code.clone(), challenge.to_owned());
        code
    }
    pub fn lwa_state<R>(&self, f: impl FnOnce(&mut LwaState) -> R) -> R {
        f(&mut self.lwa.lock().expect("lock"))
    }
    pub fn gateway_state<R>(&self, f: impl FnOnce(&mut GatewayState) -> R) -> R {
        f(&mut self.gateway.lock().expect("lock"))
    }
}

fn lwa_error(status: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
        .json(json!({"error": error, "error_description": description}))
}

async fn lwa_token(
    state: web::Data<Arc<Mutex<LwaState>>>,
    smapi: web::Data<Arc<Mutex<SmapiState>>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let ct = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return lwa_error(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if form.get("client_id").map(String::as_str) == Some(SMAPI_CLIENT_ID) {
        return smapi_token(&smapi, &form);
    }
    // LWA takes the client credentials in the body.
    if form.get("client_id").map(String::as_str) != Some(LWA_CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(LWA_CLIENT_SECRET)
    {
        return lwa_error(401, "invalid_client", "Client authentication failed");
    }
    let mut s = state.lock().expect("lock");
    s.counter += 1;
    let n = s.counter;
    let access = format!("Atza|IwEBIA-fake-access-{n}");
    s.paths.push(req.path().to_owned());
    if let Some(region) = req.match_info().get("region") {
        s.token_region.insert(access.clone(), region.to_owned());
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            // A code issued with a PKCE challenge needs its verifier (RFC 7636 §4.6).
            if let Some(challenge) = s.challenges.get(&code) {
                let verifier = form.get("code_verifier").map(String::as_str).unwrap_or("");
                let digest = <sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes());
                let computed = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, digest);
                if &computed != challenge {
                    return lwa_error(400, "invalid_grant", "The request has an invalid code_verifier");
                }
            }
            if !s.codes.remove(&code) {
                return lwa_error(400, "invalid_grant", "The request has an invalid grant parameter : code");
            }
            s.code_exchanges += 1;
            let refresh = format!("Atzr|IwEBIA-fake-refresh-{n}");
            s.accounts.push(refresh.clone());
            s.refresh_tokens.insert(refresh.clone(), access.clone());
            s.valid_access.insert(access.clone());
            HttpResponse::Ok().json(json!({"access_token": access, "refresh_token": refresh, "token_type": "bearer", "expires_in": s.expires_in}))
        }
        Some("refresh_token") => {
            let rt = form.get("refresh_token").cloned().unwrap_or_default();
            s.refresh_attempts += 1;
            let Some(old) = s.refresh_tokens.get(&rt).cloned() else {
                return lwa_error(400, "invalid_grant", "The request has an invalid grant parameter : refresh_token");
            };
            s.refreshes += 1;
            s.valid_access.remove(&old);
            s.valid_access.insert(access.clone());
            s.refresh_tokens.insert(rt.clone(), access.clone());
            HttpResponse::Ok()
                .json(json!({"access_token": access, "refresh_token": rt, "token_type": "bearer", "expires_in": 3600}))
        }
        _ => lwa_error(400, "unsupported_grant_type", "grant_type is not supported"),
    }
}

/// LWA's refresh for the vendor's SMAPI client.
fn smapi_token(smapi: &Mutex<SmapiState>, form: &HashMap<String, String>) -> HttpResponse {
    if form.get("client_secret").map(String::as_str) != Some(SMAPI_CLIENT_SECRET) {
        return lwa_error(401, "invalid_client", "Client authentication failed");
    }
    let mut s = smapi.lock().expect("lock");
    if form.get("grant_type").map(String::as_str) != Some("refresh_token")
        || form.get("refresh_token").map(String::as_str) != Some(SMAPI_REFRESH_TOKEN)
        || s.refresh_revoked
    {
        return lwa_error(400, "invalid_grant", "The request has an invalid grant parameter : refresh_token");
    }
    let token = format!("Atza|IwEBIA-vendor-{}", s.tokens.len() + 1);
    s.tokens.insert(token.clone());
    HttpResponse::Ok().json(json!({"access_token": token, "refresh_token": SMAPI_REFRESH_TOKEN, "token_type": "bearer", "expires_in": 3600}))
}

fn smapi_error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
        .json(json!({"message": message}))
}

/// The checks Amazon's schema makes that Latchkey could get wrong.
fn smapi_schema_error(r: &Value) -> Option<String> {
    let https = |f: &str| r[f].as_str().is_some_and(|u| u.starts_with("https://"));
    let strings = |f: &str| r[f].as_array().map(|a| a.iter().all(Value::is_string)).unwrap_or(r[f].is_null());
    if !matches!(r["type"].as_str(), Some("AUTH_CODE" | "IMPLICIT")) {
        return Some("type must be AUTH_CODE or IMPLICIT".into());
    }
    if !https("authorizationUrl") || !https("accessTokenUrl") {
        return Some("authorizationUrl and accessTokenUrl must be https URLs".into());
    }
    if !matches!(r["accessTokenScheme"].as_str(), Some("HTTP_BASIC" | "REQUEST_BODY_CREDENTIALS")) {
        return Some("accessTokenScheme must be HTTP_BASIC or REQUEST_BODY_CREDENTIALS".into());
    }
    if r["clientId"].as_str().is_none_or(str::is_empty) || r["clientSecret"].as_str().is_none_or(str::is_empty) {
        return Some("clientId and clientSecret are required".into());
    }
    for f in ["scopes", "domains", "redirectUrls"] {
        if !strings(f) || r[f].as_array().is_some_and(|a| a.len() > 15) {
            return Some(format!("{f} must be at most 15 strings"));
        }
    }
    let app_urls = r["redirectUrls"].as_array().cloned().unwrap_or_default();
    if app_urls.iter().any(|u| {
        u.as_str()
            .is_some_and(|u| u.contains(".amazon.com/api/skill/link/") || u.contains("amazon.co.jp/api/skill/link/"))
    }) {
        return Some("redirectUrls are your app's URLs, not Alexa's".into());
    }
    None
}

async fn smapi_linking(
    smapi: web::Data<Arc<Mutex<SmapiState>>>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (skill, stage) = path.into_inner();
    let mut s = smapi.lock().expect("lock");
    let token = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !s.tokens.contains(token.trim_start_matches("Bearer ")) {
        return smapi_error(401, "Token is invalid/expired");
    }
    if stage != "development" && stage != "live" {
        return smapi_error(400, "stage must be development or live");
    }
    if !s.skills.contains(&skill) {
        return smapi_error(404, "The resource being requested is not found.");
    }
    let key = (skill, stage);
    if req.method() == actix_web::http::Method::GET {
        let Some(mut stored) = s.linking.get(&key).cloned() else {
            return smapi_error(404, "Account linking information is not found for the skill.");
        };
        stored.as_object_mut().map(|o| o.remove("clientSecret"));
        return HttpResponse::Ok().json(json!({"accountLinkingResponse": stored}));
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return smapi_error(400, "The request body is not valid JSON.");
    };
    let r = &v["accountLinkingRequest"];
    if let Some(m) = smapi_schema_error(r) {
        return smapi_error(400, &m);
    }
    s.puts += 1;
    s.linking.insert(key, r.clone());
    HttpResponse::NoContent().finish()
}

fn gateway_error(status: u16, code: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status")).json(json!({
        "header": {"namespace": "System", "name": "Exception", "messageId": "fake"},
        "payload": {"code": code, "description": format!("fake gateway says {code}")}
    }))
}

async fn gateway(
    gw: web::Data<Arc<Mutex<GatewayState>>>,
    lwa: web::Data<Arc<Mutex<LwaState>>>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (scripted, delay, retry_after) = {
        let mut g = gw.lock().expect("lock");
        g.received.push((req.path().to_owned(), auth.clone(), body.0.clone()));
        (g.script.pop_front(), g.delay, g.retry_after)
    };
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    if let Some((status, code)) = scripted {
        let mut answer = gateway_error(status, code);
        if let Some(secs) = retry_after {
            answer
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, actix_web::http::header::HeaderValue::from(secs));
        }
        return answer;
    }
    let token = auth.strip_prefix("Bearer ").unwrap_or("");
    let in_scope = body
        .pointer("/event/endpoint/scope/token")
        .or_else(|| body.pointer("/event/payload/scope/token"))
        .and_then(Value::as_str);
    let lwa = lwa.lock().expect("lock");
    if !lwa.valid_access.contains(token) || in_scope != Some(token) {
        return gateway_error(401, "INVALID_ACCESS_TOKEN_EXCEPTION");
    }
    let gateway_region = req.match_info().get("region").unwrap_or("");
    if lwa.token_region.get(token).is_some_and(|r| r != gateway_region) {
        return gateway_error(404, "SKILL_NEVER_ENABLED_EXCEPTION");
    }
    HttpResponse::Accepted().finish()
}

/// `GET /v1/alexaApiEndpoint`: the user's regional Alexa API host (here, this fake).
async fn api_endpoint(
    req: HttpRequest,
    lwa: web::Data<Arc<Mutex<LwaState>>>,
    api: web::Data<Arc<Mutex<AlexaApiState>>>,
) -> HttpResponse {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !lwa.lock().expect("lock").valid_access.contains(token) {
        return HttpResponse::Unauthorized().json(json!({"message": "Invalid token"}));
    }
    let host = req.connection_info().host().to_owned();
    let mut endpoints = api.lock().expect("lock").other_regions.clone();
    endpoints.push(host);
    HttpResponse::Ok().json(json!({ "endpoints": endpoints }))
}

/// `POST /v1/users/~current/skills/{skillId}/enablement`: like Alexa, exchange the provider's code at
/// the provider's token endpoint with the account-linking client, then answer 201.
async fn enablement(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
    lwa: web::Data<Arc<Mutex<LwaState>>>,
    api: web::Data<Arc<Mutex<AlexaApiState>>>,
) -> HttpResponse {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !lwa.lock().expect("lock").valid_access.contains(token) {
        return HttpResponse::Unauthorized().json(json!({"message": "Invalid token"}));
    }
    let host = req.connection_info().host().to_owned();
    let absent = {
        let mut a = api.lock().expect("lock");
        a.enablement_hosts.push(host.clone());
        a.other_regions.contains(&host)
    };
    if absent {
        return HttpResponse::NotFound().json(json!({"message": "The user is not registered in this region"}));
    }
    let link = &body["accountLinkRequest"];
    if link["type"] != "AUTH_CODE"
        || !link["authCode"].is_string()
        || !link["redirectUri"].is_string()
        || !body["stage"].is_string()
    {
        return HttpResponse::BadRequest().json(json!({"message": "Invalid request body"}));
    }
    let cfg = api.lock().expect("lock").clone();
    let resp = reqwest::Client::new()
        .post(&cfg.latchkey_token_url)
        .basic_auth(&cfg.client_id, Some(&cfg.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", link["authCode"].as_str().unwrap_or("")),
            ("redirect_uri", link["redirectUri"].as_str().unwrap_or("")),
        ])
        .send()
        .await;
    let tokens: Value = match resp {
        Ok(r) if r.status().is_success() => r.json().await.unwrap_or(Value::Null),
        _ => {
            return HttpResponse::BadRequest()
                .json(json!({"message": "Account linking failed: the provider refused the code"}));
        }
    };
    let mut a = api.lock().expect("lock");
    a.enablements.push(body.0.clone());
    a.linked_tokens.push(tokens);
    HttpResponse::Created().json(json!({
        "skill": {"stage": body["stage"], "id": path.into_inner()},
        "user": {"id": "amzn1.ask.account.FAKE"},
        "accountLink": {"status": "LINKED"},
        "status": "ENABLED"
    }))
}

pub async fn start() -> FakeAmazon {
    let lwa = Arc::new(Mutex::new(LwaState { expires_in: 3600, ..Default::default() }));
    let gw = Arc::new(Mutex::new(GatewayState::default()));
    let api = Arc::new(Mutex::new(AlexaApiState::default()));
    let smapi = Arc::new(Mutex::new(SmapiState::default()));
    let (l, g, a, sm) = (lwa.clone(), gw.clone(), api.clone(), smapi.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(l.clone()))
            .app_data(web::Data::new(g.clone()))
            .app_data(web::Data::new(a.clone()))
            .app_data(web::Data::new(sm.clone()))
            .route("/v1/skills/{skill}/stages/{stage}/accountLinkingClient", web::put().to(smapi_linking))
            .route("/v1/skills/{skill}/stages/{stage}/accountLinkingClient", web::get().to(smapi_linking))
            .route("/auth/o2/token", web::post().to(lwa_token))
            .route("/{region}/auth/o2/token", web::post().to(lwa_token))
            .route("/v1/alexaApiEndpoint", web::get().to(api_endpoint))
            .route("/v1/users/~current/skills/{skill}/enablement", web::post().to(enablement))
            .route("/{region}/v3/events", web::post().to(gateway))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    FakeAmazon { base: format!("http://127.0.0.1:{port}"), smapi, lwa, gateway: gw, alexa_api: api }
}
