//! The service layer's one error type. The HTTP edge maps it once: OAuth errors per RFC 6749, the rest
//! to a status with a clean message; `Internal` detail is logged, never sent.
use latchkey_core::OAuthError;
use latchkey_store::{KvError, StoreError};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ServiceError {
    #[error("{0}")]
    OAuth(OAuthError),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    /// Credentials missing or wrong (dashboard sign-in, management API).
    #[error("{0}")]
    Unauthorized(String),
    #[error("service temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::Internal(msg.into())
    }

    /// What the error means as an HTTP status: the one mapping every surface uses (management API
    /// problems, dashboard server functions, Alexa endpoints; the OAuth endpoints keep RFC 6749's
    /// codes, which carry their own status). Each surface chooses only its body.
    pub fn status(&self) -> u16 {
        match self {
            Self::OAuth(o) => o.code.http_status(),
            Self::Invalid(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::RateLimited { .. } => 429,
            Self::Internal(_) => 500,
            Self::Unavailable(_) => 503,
        }
    }

    /// The CLI's exit code for this error: 1 for faults, and a distinct code per kind of refusal so
    /// scripts can tell "not found" from "not allowed" (documented in the README).
    pub fn exit_code(&self) -> u8 {
        exit_code_for_status(self.status())
    }
}

impl From<OAuthError> for ServiceError {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("record".into()),
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Invalid(m) => Self::Invalid(m),
            StoreError::Unavailable(m) => Self::Unavailable(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<KvError> for ServiceError {
    fn from(e: KvError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// The CLI's exit code for a refusal with this HTTP status (the README's table), for every service's
/// errors alike.
pub fn exit_code_for_status(status: u16) -> u8 {
    match status {
        400 => 3,
        401 | 403 => 4,
        404 => 5,
        409 => 6,
        429 | 503 => 7,
        _ => 1,
    }
}
