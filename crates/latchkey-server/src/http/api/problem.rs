//! RFC 9457 problem details: the management API's one error format.
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use latchkey_alexa::AlexaError;
use latchkey_oauth::ServiceError;
use latchkey_oauth::error::Shown;
use serde::Serialize;
use utoipa::ToSchema;

/// `application/problem+json` (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Seconds to wait, for 429 and 503.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: u16, detail: impl Into<String>) -> Self {
        let title = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
        Self { kind: "about:blank".into(), title: title.into(), status, detail: detail.into(), retry_after: None }
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "sign in, or send a tenant API key as Authorization: Bearer")
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code())
            .content_type("application/problem+json")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(self);
        let h = resp.headers_mut();
        if self.status == 401 {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"latchkey\""));
        }
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        e.log("api");
        Self::shown(e.shown())
    }
}

impl From<AlexaError> for Problem {
    fn from(e: AlexaError) -> Self {
        match e {
            AlexaError::Service(e) => e.into(),
            other => Self::new(other.status(), other.to_string()),
        }
    }
}

impl Problem {
    fn shown(s: Shown) -> Self {
        Self { retry_after: s.retry_after, ..Self::new(s.status, s.message) }
    }
}

/// Malformed JSON, query strings and paths answer a problem, not actix's plain-text 400.
pub fn json_error(err: actix_web::error::JsonPayloadError, _: &actix_web::HttpRequest) -> actix_web::Error {
    let status = match &err {
        actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
        | actix_web::error::JsonPayloadError::Overflow { .. } => 413,
        _ => 400,
    };
    Problem::new(status, format!("request body: {err}")).into()
}

pub fn query_error(err: actix_web::error::QueryPayloadError, _: &actix_web::HttpRequest) -> actix_web::Error {
    Problem::new(400, format!("query string: {err}")).into()
}

pub fn path_error(err: actix_web::error::PathError, _: &actix_web::HttpRequest) -> actix_web::Error {
    Problem::new(404, format!("path: {err}")).into()
}
