//! The server side of the dashboard: what server functions need from the running service, and the
//! checks every one of them makes (session, origin, tenant access).
use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use latchkey_oauth::access::{Access, Actor};
use latchkey_oauth::accounts::DashboardSession;
use latchkey_oauth::{AuthServer, ServiceError};
use leptos::prelude::*;

/// Provided to every dashboard render and server function.
#[derive(Clone)]
pub struct DashboardContext {
    pub auth: AuthServer,
    pub alexa: latchkey_alexa::AlexaService,
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: std::sync::Arc<Vec<latchkey_core::net::IpNet>>,
}

pub const SESSION_COOKIE: &str = "lk_admin";

pub fn ctx() -> Result<DashboardContext, ServerFnError> {
    use_context::<DashboardContext>().ok_or_else(|| ServerFnError::new("dashboard context missing"))
}

/// The message a user sees for a service error; internal details stay in the log. The response's
/// status says what kind of error it was (see `fail`): 500 only for real faults, so a refusal never
/// trips the 5xx alert.
pub fn err(e: ServiceError) -> ServerFnError {
    e.log("dashboard");
    let shown = e.shown();
    if let Some(secs) = shown.retry_after {
        set_retry_after(secs);
    }
    fail(StatusCode::from_u16(shown.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), shown.message)
}

/// A server function's error with its HTTP status. A plain form post (no JavaScript) keeps the
/// redirect back to its page that leptos_actix gives it: a 4xx there would stop the browser from
/// following it.
pub fn fail(status: StatusCode, message: impl Into<String>) -> ServerFnError {
    let plain_form = use_context::<leptos_actix::Request>().is_some_and(|r| {
        r.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
    });
    if !plain_form && let Some(resp) = use_context::<leptos_actix::ResponseOptions>() {
        resp.set_status(status);
    }
    ServerFnError::new(message.into())
}

/// Input a server function could not read: 400.
pub fn bad_input(message: impl Into<String>) -> ServerFnError {
    fail(StatusCode::BAD_REQUEST, message)
}

/// An error of the Alexa services, with the status they give it.
pub fn alexa_err(e: latchkey_alexa::AlexaError) -> ServerFnError {
    match e {
        latchkey_alexa::AlexaError::Service(e) => err(e),
        e => fail(StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY), e.to_string()),
    }
}

fn set_retry_after(secs: u64) {
    if let Some(resp) = use_context::<leptos_actix::ResponseOptions>() {
        resp.insert_header(header::RETRY_AFTER, HeaderValue::from(secs));
    }
}

pub async fn request() -> Result<HttpRequest, ServerFnError> {
    leptos_actix::extract::<HttpRequest>().await.map_err(|e| ServerFnError::new(e.to_string()))
}

/// The client's address behind the trusted proxies (see the server's `http::extract::client_ip`).
pub fn client_ip(req: &HttpRequest, trusted: &[latchkey_core::net::IpNet]) -> String {
    let Some(peer) = req.peer_addr() else { return "unknown".to_owned() };
    let forwarded: Vec<&str> = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect();
    latchkey_core::net::client_ip(peer.ip(), &forwarded, trusted).to_string()
}

/// Refuses requests a browser made on behalf of another site. With the session cookie SameSite=Strict
/// and this check, a forged cross-site form or fetch cannot act as the signed-in user (OWASP's
/// "verify origin with standard headers" defence; forms work without JavaScript, so no token field).
pub fn check_origin(c: &DashboardContext, req: &HttpRequest) -> Result<(), ServerFnError> {
    let h = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if h("sec-fetch-site").is_some_and(|s| s == "cross-site") {
        return Err(fail(StatusCode::FORBIDDEN, "cross-site request refused"));
    }
    let public = &c.auth.config.public_url;
    let origin = h("origin").or_else(|| h("referer").and_then(|r| url_origin(&r)));
    match origin {
        Some(o) if o.trim_end_matches('/') != public.trim_end_matches('/') => {
            Err(fail(StatusCode::FORBIDDEN, "request from another origin refused"))
        }
        _ => Ok(()),
    }
}

fn url_origin(u: &str) -> Option<String> {
    let (scheme, rest) = u.split_once("://")?;
    let host = rest.split('/').next()?;
    Some(format!("{scheme}://{host}"))
}

pub async fn session() -> Result<Option<(DashboardSession, String)>, ServerFnError> {
    let c = ctx()?;
    let req = request().await?;
    let Some(sid) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else { return Ok(None) };
    Ok(c.auth.dashboard_session(&sid).await.map_err(err)?.map(|s| (s, sid)))
}

/// The signed-in actor, or a redirect to the sign-in page.
pub async fn actor() -> Result<Actor, ServerFnError> {
    let c = ctx()?;
    let req = request().await?;
    check_origin(&c, &req)?;
    match session().await? {
        Some((s, _)) => Ok(s.actor(Some(client_ip(&req, &c.trusted_proxies)))),
        None => {
            leptos_actix::redirect("/admin/login");
            Err(fail(StatusCode::UNAUTHORIZED, "sign in first"))
        }
    }
}

pub async fn access(slug: &str) -> Result<(DashboardContext, Access), ServerFnError> {
    let c = ctx()?;
    let actor = actor().await?;
    let a = c.auth.access(&actor, slug).await.map_err(err)?;
    Ok((c, a))
}

pub fn set_cookie(value: &str, max_age: i64) {
    let Ok(c) = ctx() else { return };
    let secure = if c.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    if let (Some(resp), Ok(v)) = (use_context::<leptos_actix::ResponseOptions>(), HeaderValue::from_str(&cookie)) {
        resp.append_header(header::SET_COOKIE, v);
    }
}

/// Security headers of every dashboard page: a CSP whose script nonce matches the hydration script.
pub fn set_page_headers() {
    let Some(resp) = use_context::<leptos_actix::ResponseOptions>() else { return };
    let nonce = leptos::nonce::use_nonce().map(|n| n.to_string()).unwrap_or_default();
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' https: data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    );
    let pairs = [
        ("content-security-policy", csp),
        ("x-frame-options", "DENY".to_owned()),
        ("referrer-policy", "same-origin".to_owned()),
        ("cache-control", "no-store".to_owned()),
    ];
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.insert_header(HeaderName::from_static(k), v);
        }
    }
}

/// Whether this server-function call is a plain HTML form post (no JavaScript yet): its answer is a
/// redirect back to the page, not the function's result.
pub async fn plain_form_post() -> bool {
    request().await.is_ok_and(|r| {
        r.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
    })
}

/// Keeps a value shown only once for the page a plain form post is redirected to (with JavaScript the
/// function's own result shows it, and nothing is kept).
pub async fn keep_for_next_page(label: &str, value: &str) {
    if !plain_form_post().await {
        return;
    }
    let (Ok(c), Ok(Some((_, sid)))) = (ctx(), session().await) else { return };
    if let Err(e) = c.auth.flash_once(&sid, label, value).await {
        tracing::warn!(error = %e, "one-time value not kept for the next page");
    }
}
