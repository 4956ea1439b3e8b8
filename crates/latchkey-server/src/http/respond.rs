//! The one mapping from service errors to HTTP responses, and the headers every response kind carries.
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use latchkey_core::OAuthError;
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

/// The OAuth error for a service error, logging what the client must not see.
pub fn to_oauth(e: ServiceError) -> OAuthError {
    match e {
        ServiceError::OAuth(o) => {
            if let Some(d) = &o.debug {
                tracing::info!(error = %o.code, detail = %d, "oauth request refused");
            }
            o
        }
        ServiceError::NotFound(what) => OAuthError::invalid_request(format!("{what} not found")),
        ServiceError::Forbidden(m) => OAuthError::new(ErrorCode::AccessDenied, m),
        ServiceError::Unauthorized(m) => OAuthError::new(ErrorCode::InvalidClient, m),
        ServiceError::Invalid(m) | ServiceError::Conflict(m) => OAuthError::invalid_request(m),
        ServiceError::RateLimited { retry_after } => OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            format!("too many requests for this client; retry in {retry_after} s"),
        ),
        ServiceError::Unavailable(m) => {
            tracing::warn!(detail = %m, "dependency unavailable");
            OAuthError::new(ErrorCode::TemporarilyUnavailable, "the service is temporarily unavailable; retry shortly")
        }
        ServiceError::Internal(m) => {
            tracing::error!(detail = %m, "internal error");
            OAuthError::server_error()
        }
    }
}

/// RFC 6749 §5.2 JSON error. `invalid_client` carries `WWW-Authenticate` (§5.2 requires it when the
/// client tried Basic; sending it always tells every client which scheme to use).
pub fn oauth_json_error(e: ServiceError) -> HttpResponse {
    let not_found = matches!(e, ServiceError::NotFound(_));
    let limited = matches!(e, ServiceError::RateLimited { .. });
    let o = to_oauth(e);
    let code = match () {
        _ if not_found => 404,
        _ if limited => 429,
        _ => o.code.http_status(),
    };
    let mut resp = json_no_store(status(code), &o.to_json_body());
    if o.code == ErrorCode::InvalidClient {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"latchkey\", charset=\"UTF-8\""));
    }
    if limited {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    } else if o.code == ErrorCode::TemporarilyUnavailable {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    resp
}

/// RFC 6750 §3 error for a protected resource (userinfo).
pub fn bearer_error(e: ServiceError) -> HttpResponse {
    let o = to_oauth(e);
    let mut resp = json_no_store(status(o.code.http_status()), &o.to_json_body());
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

/// An error on one of our own pages, for requests that must not be redirected.
pub fn error_page_response(tenant: Option<&Tenant>, e: ServiceError) -> HttpResponse {
    let (st, title, msg, code) = match e {
        ServiceError::NotFound(what) => (404, "Not found", format!("{what} does not exist."), None),
        ServiceError::Forbidden(m) => (403, "Unavailable", m, None),
        ServiceError::RateLimited { retry_after } => {
            let mut resp = page(
                status(429),
                error_page(
                    tenant,
                    "Too many requests",
                    &format!("Too many sign-in requests came from your network. Try again in {retry_after} seconds."),
                    Some("temporarily_unavailable"),
                ),
            );
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&retry_after.to_string()) {
                resp.headers_mut().insert(actix_web::http::header::RETRY_AFTER, v);
            }
            return resp;
        }
        other => {
            let o = to_oauth(other);
            let st = match o.code {
                ErrorCode::ServerError => 500,
                ErrorCode::TemporarilyUnavailable => 503,
                _ => 400,
            };
            (st, "This link request cannot continue", o.description.clone(), Some(o.code.as_str()))
        }
    };
    page(status(st), error_page(tenant, title, &msg, code))
}
