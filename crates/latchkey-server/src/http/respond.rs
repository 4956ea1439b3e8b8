//! The one mapping from service errors to HTTP responses, and the headers every response kind carries.
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use latchkey_core::error::ErrorCode;
use latchkey_oauth::ServiceError;
use latchkey_store::records::Tenant;
use maud::Markup;
use serde_json::Value;

use crate::pages::error_page;

/// Pages: no caching, no framing, no scripts, no referrer.
pub const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'none'; base-uri 'none'";

pub fn page(status: StatusCode, body: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(body.into_string())
}

/// A JSON body that must not be cached (token responses, introspection, userinfo).
pub fn json_no_store(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// Public, cacheable JSON (discovery, JWKS).
pub fn json_public(body: &Value, max_age: u32) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={max_age}")))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(body)
}

pub fn redirect(url: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish()
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

/// RFC 6749 §5.2 JSON error. `invalid_client` carries `WWW-Authenticate` (§5.2 requires it when the
/// client tried Basic; sending it always tells every client which scheme to use).
pub fn oauth_json_error(e: ServiceError) -> HttpResponse {
    e.log("oauth");
    let (code, o) = e.to_oauth();
    let mut resp = json_no_store(status(code), &o.to_json_body());
    if o.code == ErrorCode::InvalidClient {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"latchkey\", charset=\"UTF-8\""));
    }
    retry_after(&mut resp, e.retry_after());
    resp
}

fn retry_after(resp: &mut HttpResponse, secs: Option<u64>) {
    if let Some(s) = secs
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

/// RFC 6750 §3 error for a protected resource (userinfo).
pub fn bearer_error(e: ServiceError) -> HttpResponse {
    e.log("oauth");
    let (code, o) = e.to_oauth();
    let mut resp = json_no_store(status(code), &o.to_json_body());
    let challenge = format!(
        "Bearer error=\"{}\", error_description=\"{}\"",
        o.code.as_str(),
        latchkey_core::error::sanitize_description(&o.description)
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// An error on one of our own pages, for requests that must not be redirected: the status and words
/// every surface gives the error, with the OAuth code for the refusals a client caused.
pub fn error_page_response(tenant: Option<&Tenant>, e: ServiceError) -> HttpResponse {
    e.log("page");
    let shown = e.shown();
    let (title, message, code) = match &e {
        ServiceError::NotFound(what) => ("Not found", format!("{what} does not exist."), None),
        ServiceError::Forbidden(m) => ("Unavailable", m.clone(), None),
        ServiceError::RateLimited { retry_after } => (
            "Too many requests",
            format!("Too many sign-in requests came from your network. Try again in {retry_after} seconds."),
            Some("temporarily_unavailable"),
        ),
        _ => {
            let (_, o) = e.to_oauth();
            ("This link request cannot continue", o.description, Some(o.code.as_str()))
        }
    };
    // A refused link request is a bad request to the person looking at the page, whichever RFC 6749
    // code names it (401 or 403 would suggest signing in again).
    let code_status = match &e {
        ServiceError::OAuth(_) if shown.status < 500 => 400,
        _ => shown.status,
    };
    let mut resp = page(status(code_status), error_page(tenant, title, &message, code));
    retry_after(&mut resp, shown.retry_after);
    resp
}
