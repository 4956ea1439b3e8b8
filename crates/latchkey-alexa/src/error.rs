//! Errors of the Alexa endpoints, each with the status and JSON the skill backend gets. Everything but
//! Amazon's own answers is a `ServiceError`, so it gets the status, words and logging every surface
//! gives it.
use latchkey_oauth::ServiceError;
use latchkey_store::{KvError, StoreError};
use serde_json::{Value, json};

#[derive(Clone, Debug, thiserror::Error)]
pub enum AlexaError {
    /// Refusals and faults of our own (bad input, unknown skill, suspended tenant, storage down).
    #[error(transparent)]
    Service(ServiceError),
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
}

/// Shorthands for the service errors the Alexa code raises most.
impl AlexaError {
    pub fn unauthorized() -> Self {
        Self::Service(ServiceError::Unauthorized("a valid tenant API key is required as Authorization: Bearer".into()))
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::Service(ServiceError::Invalid(m.into()))
    }
    /// `what` names the missing thing; the message adds "not found".
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::Service(ServiceError::NotFound(what.into()))
    }
    /// The link cannot take events now (no Amazon tokens, skill disabled, revoked).
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::Service(ServiceError::Conflict(m.into()))
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        Self::Service(ServiceError::Unavailable(m.into()))
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::Service(ServiceError::Internal(m.into()))
    }

    /// The status for the skill backend. Amazon's own 4xx answers are passed on; its 5xx and
    /// throttling after retries become 502.
    pub fn status(&self) -> u16 {
        match self {
            Self::Service(e) => e.status(),
            Self::Gateway { status, .. } if (400..500).contains(status) && *status != 429 && *status != 401 => *status,
            Self::Gateway { .. } => 502,
            Self::GrantDisabled { status, .. } => *status,
        }
    }

    /// Our own fault or an outage (not Amazon's answer): worth retrying later.
    pub fn is_transient_fault(&self) -> bool {
        matches!(self, Self::Service(e) if e.status() >= 500)
    }

    /// The JSON body: Amazon's answer, or what every surface shows of a service error.
    pub fn body(&self) -> Value {
        match self {
            Self::Gateway { status, code, description, probable_cause, attempts, .. } => json!({
                "status": "failed", "gateway_status": status, "code": code, "description": description,
                "probable_cause": probable_cause, "attempts": attempts,
            }),
            Self::GrantDisabled { code, via, message, .. } => json!({
                "status": "failed", "error": "skill_disabled", "code": code, "via": via, "message": message,
            }),
            Self::Service(e) => {
                let shown = e.shown();
                json!({"status": "failed", "error": shown.kind, "message": shown.message})
            }
        }
    }

    /// Seconds the caller should wait before retrying, when we know.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Service(e) => e.retry_after(),
            _ => None,
        }
    }
}

impl From<ServiceError> for AlexaError {
    fn from(e: ServiceError) -> Self {
        Self::Service(e)
    }
}

impl From<StoreError> for AlexaError {
    fn from(e: StoreError) -> Self {
        Self::Service(e.into())
    }
}

impl From<KvError> for AlexaError {
    fn from(e: KvError) -> Self {
        Self::Service(e.into())
    }
}
