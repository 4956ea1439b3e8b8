//! Errors of the Alexa endpoints, each with the status and JSON the skill backend gets.
use latchkey_oauth::ServiceError;
use latchkey_store::{KvError, StoreError};
use serde_json::{Value, json};

#[derive(Clone, Debug, thiserror::Error)]
pub enum AlexaError {
    #[error("a valid tenant API key is required as Authorization: Bearer")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The tenant is suspended or the key's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The link cannot take events now (no Amazon tokens, skill disabled, revoked).
    #[error("{0}")]
    Conflict(String),
    /// Amazon refused or failed.
    #[error("Alexa Event Gateway answered {status} {code}")]
    Gateway {
        status: u16,
        code: String,
        description: String,
        probable_cause: Option<String>,
        attempts: u32,
        /// Amazon's Retry-After, in seconds, when it sent one.
        retry_after: Option<u64>,
    },
    /// Amazon says this Alexa account disabled the skill (the gateway's `SKILL_DISABLED_EXCEPTION`, or
    /// Login with Amazon refusing the grant's refresh after an `INVALID_ACCESS_TOKEN_EXCEPTION`). The
    /// grant has been ended; `status` is what the skill backend gets (Amazon's 403, or 409 when LWA
    /// told).
    #[error("{message}")]
    GrantDisabled { status: u16, code: String, via: &'static str, message: String },
    #[error("{0}")]
    Unavailable(String),
    #[error("too many requests for this API key; retry in {0} s")]
    RateLimited(u64),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AlexaError {
    /// The status for the skill backend. Amazon's own 4xx answers are passed on; its 5xx and
    /// throttling after retries become 502.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::BadRequest(_) => 400,
            Self::NotFound(_) => 404,
            Self::Forbidden(_) => 403,
            Self::Conflict(_) => 409,
            Self::Gateway { status, .. } if (400..500).contains(status) && *status != 429 && *status != 401 => *status,
            Self::Gateway { .. } => 502,
            Self::GrantDisabled { status, .. } => *status,
            Self::Unavailable(_) => 503,
            Self::RateLimited(_) => 429,
            Self::Internal(_) => 500,
        }
    }

    pub fn body(&self) -> Value {
        match self {
            Self::Gateway { status, code, description, probable_cause, attempts, .. } => json!({
                "status": "failed", "gateway_status": status, "code": code, "description": description,
                "probable_cause": probable_cause, "attempts": attempts,
            }),
            Self::GrantDisabled { code, via, message, .. } => json!({
                "status": "failed", "error": "skill_disabled", "code": code, "via": via, "message": message,
            }),
            Self::Internal(_) => json!({"status": "failed", "error": "internal_error", "message": "internal error"}),
            other => json!({"status": "failed", "error": other.kind(), "message": other.to_string()}),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::BadRequest(_) => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::Forbidden(_) => "forbidden",
            Self::Conflict(_) => "conflict",
            Self::Gateway { .. } => "gateway_error",
            Self::GrantDisabled { .. } => "skill_disabled",
            Self::Unavailable(_) => "unavailable",
            Self::RateLimited(_) => "rate_limited",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl From<StoreError> for AlexaError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::Unavailable(m) => Self::Unavailable(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<KvError> for AlexaError {
    fn from(e: KvError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<ServiceError> for AlexaError {
    fn from(e: ServiceError) -> Self {
        match e {
            // Each kind keeps the status ServiceError::status gives it (Unauthorized used to be a 400,
            // Forbidden a 409).
            ServiceError::NotFound(m) => Self::NotFound(format!("{m} not found")),
            ServiceError::Forbidden(m) => Self::Forbidden(m),
            ServiceError::Conflict(m) => Self::Conflict(m),
            ServiceError::Unauthorized(_) => Self::Unauthorized,
            ServiceError::Invalid(m) => Self::BadRequest(m),
            ServiceError::OAuth(o) => Self::BadRequest(o.description),
            ServiceError::Unavailable(m) => Self::Unavailable(m),
            ServiceError::RateLimited { retry_after } => Self::RateLimited(retry_after),
            ServiceError::Internal(m) => Self::Internal(m),
        }
    }
}
