//! Who is calling the management API: a tenant API key (`Authorization: Bearer lk_…`) or a dashboard
//! session cookie. Session callers must echo the session's CSRF token in `X-CSRF-Token` on every
//! request that changes something; API keys are not sent by browsers on their own, so they need none.
use actix_web::HttpRequest;
use actix_web::http::Method;
use latchkey_oauth::access::{Access, Actor};
use latchkey_oauth::accounts::DashboardSession;
use subtle::ConstantTimeEq;

use super::problem::Problem;
use crate::app::AppState;
use crate::http::extract::{bearer, client_ip, cookie};

/// The dashboard's session cookie.
pub const SESSION_COOKIE: &str = "lk_admin";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in dashboard session behind the request's cookie, if any.
pub async fn session(state: &AppState, req: &HttpRequest) -> Result<Option<DashboardSession>, Problem> {
    match cookie(req, SESSION_COOKIE) {
        Some(sid) => Ok(state.auth.dashboard_session(&sid).await?),
        None => Ok(None),
    }
}

fn csrf_ok(req: &HttpRequest, s: &DashboardSession) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return true;
    }
    let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    !sent.is_empty() && bool::from(sent.as_bytes().ct_eq(s.csrf.as_bytes()))
}

/// A session caller (operators' endpoints, and tenants' when no API key is sent).
pub async fn session_actor(state: &AppState, req: &HttpRequest) -> Result<Actor, Problem> {
    let s = session(state, req).await?.ok_or_else(Problem::unauthorized)?;
    if !csrf_ok(req, &s) {
        return Err(Problem::new(403, "missing or wrong X-CSRF-Token header"));
    }
    Ok(s.actor(Some(client_ip(req, &state.trusted_proxies))))
}

/// The caller's access to tenant `slug`, by API key or session.
pub async fn tenant_access(state: &AppState, req: &HttpRequest, slug: &str) -> Result<Access, Problem> {
    let Some(key) = bearer(req) else {
        let actor = session_actor(state, req).await?;
        return Ok(state.auth.access(&actor, slug).await?);
    };
    let ip = Some(client_ip(req, &state.trusted_proxies));
    state.auth.api_key_access(slug, &key, ip).await.map_err(|e| match e {
        latchkey_oauth::ServiceError::Unauthorized(_) => Problem::unauthorized(),
        other => other.into(),
    })
}
