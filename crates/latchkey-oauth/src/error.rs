//! The service layer's one error type. The HTTP edge maps it once: OAuth errors per RFC 6749, the rest
//! to a status with a clean message; `Internal` detail is logged, never sent.
use latchkey_core::OAuthError;
use latchkey_store::{KvError, StoreError};
use thiserror::Error;

#[derive(Clone, Debug, Error)]
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
    /// A dependency (mail, an upstream provider, Amazon) cannot be used now. The message is shown: it
    /// names the dependency for the caller; its internals go to the log where the error is made.
    #[error("{0}")]
    Unavailable(String),
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    /// Too much of this caller's work is already waiting (a tenant's undelivered Alexa events): the
    /// same answer as a rate limit, with the reason.
    #[error("{reason}; retry in {retry_after} s")]
    Backlog { reason: String, retry_after: u64 },
    /// A fault of ours; the message is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
    /// The database failed or went away; the store's error (and the driver's under it) is kept as the
    /// source, for the log.
    #[error("storage failed")]
    Store(#[source] StoreError),
    /// The key-value store (the in-memory one or Redis) cannot be reached.
    #[error("key-value store failed")]
    Kv(#[source] KvError),
}

/// What every surface may show of an error: its status, a stable name for its kind, a message safe
/// for the caller, and how long to wait before retrying. Each surface only chooses its body's shape
/// (problem JSON, OAuth JSON, a page, a server function's error, the CLI's stderr and exit code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    pub status: u16,
    pub kind: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

/// The wait suggested when a dependency is down.
const UNAVAILABLE_RETRY_SECS: u64 = 5;

impl ServiceError {
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::Internal(msg.into())
    }

    /// What the error means as an HTTP status: the one mapping every surface uses (the OAuth
    /// endpoints keep RFC 6749's codes, which carry their own status; see `to_oauth`).
    pub fn status(&self) -> u16 {
        match self {
            Self::OAuth(o) => o.code.http_status(),
            Self::Invalid(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::RateLimited { .. } | Self::Backlog { .. } => 429,
            Self::Unavailable(_) | Self::Kv(_) | Self::Store(StoreError::Unavailable(_)) => 503,
            Self::Internal(_) | Self::Store(_) => 500,
        }
    }

    /// A stable, machine-readable name for the kind of error (the Alexa endpoints' `error` field).
    pub fn kind(&self) -> &'static str {
        match self.status() {
            400 => "bad_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            409 => "conflict",
            429 => "rate_limited",
            503 => "unavailable",
            _ => "internal_error",
        }
    }

    /// What a caller may be told. Faults (500) say only that something failed on our side; storage
    /// outages say "retry shortly" without the database's words.
    pub fn shown(&self) -> Shown {
        let status = self.status();
        let message = match self {
            Self::OAuth(o) => o.description.clone(),
            Self::Kv(_) | Self::Store(_) if status == 503 => {
                "the service is temporarily unavailable; retry shortly".to_owned()
            }
            Self::Internal(_) | Self::Store(_) | Self::Kv(_) => "internal error".to_owned(),
            _ => self.to_string(),
        };
        Shown { status, kind: self.kind(), message, retry_after: self.retry_after() }
    }

    /// How long the caller should wait before retrying, when the error says.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after } | Self::Backlog { retry_after, .. } => Some(*retry_after),
            _ if self.status() == 503 => Some(UNAVAILABLE_RETRY_SECS),
            _ => None,
        }
    }

    /// Logs what the caller is not shown, with the whole chain of causes: faults as errors, outages as
    /// warnings, an OAuth refusal's operator detail as info. Every surface calls this once per error.
    pub fn log(&self, surface: &'static str) {
        match self {
            Self::OAuth(o) => {
                if let Some(d) = &o.debug {
                    tracing::info!(surface, error = %o.code, detail = %d, "oauth request refused");
                }
            }
            _ if self.status() == 500 => tracing::error!(surface, detail = %chain(self), "internal error"),
            _ if self.status() == 503 => tracing::warn!(surface, detail = %chain(self), "dependency unavailable"),
            _ => {}
        }
    }

    /// The RFC 6749 error for this error, with the HTTP status to send it with: the OAuth endpoints'
    /// and the sign-in pages' view of the same mapping.
    pub fn to_oauth(&self) -> (u16, OAuthError) {
        use latchkey_core::error::ErrorCode;
        // The OAuth endpoints' usual refusal (invalid_grant, invalid_client) is taken as it is.
        if let Self::OAuth(o) = self {
            return (o.code.http_status(), o.clone());
        }
        let shown = self.shown();
        let code = match self {
            _ if shown.status == 500 => return (500, OAuthError::server_error()),
            Self::Forbidden(_) => ErrorCode::AccessDenied,
            Self::Unauthorized(_) => ErrorCode::InvalidClient,
            _ if shown.status >= 429 => ErrorCode::TemporarilyUnavailable,
            _ => ErrorCode::InvalidRequest,
        };
        // RFC 6749 has no "not found" or "too many requests"; the status still says which it was.
        let status = match shown.status {
            404 | 429 => shown.status,
            _ => code.http_status(),
        };
        (status, OAuthError::new(code, shown.message))
    }

    /// The CLI's exit code for this error: 1 for faults, and a distinct code per kind of refusal so
    /// scripts can tell "not found" from "not allowed" (documented in the README).
    pub fn exit_code(&self) -> u8 {
        exit_code_for_status(self.status())
    }
}

/// An error and its causes on one line, for logs.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cause = c.source();
    }
    out
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
            other => Self::Store(other),
        }
    }
}

impl From<KvError> for ServiceError {
    fn from(e: KvError) -> Self {
        Self::Kv(e)
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

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::error::ErrorCode;

    #[test]
    fn a_database_fault_keeps_its_cause_for_the_log_and_shows_none_of_it() {
        let e = ServiceError::from(StoreError::from(sea_orm::DbErr::Custom("relation \"x\" is gone".into())));
        assert_eq!(e.status(), 500);
        let shown = e.shown();
        assert_eq!((shown.message.as_str(), shown.kind), ("internal error", "internal_error"));
        assert!(std::error::Error::source(&e).is_some(), "the store error is the source");
        assert!(chain(&e).contains("relation \"x\" is gone"), "{}", chain(&e));
        let (status, o) = e.to_oauth();
        assert_eq!((status, o.code), (500, ErrorCode::ServerError));
        assert!(!o.description.contains("relation"));
    }

    #[test]
    fn an_outage_says_retry_without_the_databases_words() {
        let e = ServiceError::from(StoreError::from(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal(
            "connection to 10.0.0.5 refused".into(),
        ))));
        let shown = e.shown();
        assert_eq!((shown.status, shown.retry_after), (503, Some(UNAVAILABLE_RETRY_SECS)));
        assert!(!shown.message.contains("10.0.0.5"));
        assert!(chain(&e).contains("10.0.0.5"));
        assert_eq!(e.to_oauth().1.code, ErrorCode::TemporarilyUnavailable);
        assert_eq!(e.exit_code(), 7);
        let kv = ServiceError::from(KvError::Unavailable("redis down".into()));
        assert_eq!((kv.status(), kv.shown().message.contains("redis")), (503, false));
    }

    /// Every kind, as each surface sees it: status, name, exit code and RFC 6749 code agree.
    #[test]
    fn each_kind_maps_the_same_way_everywhere() {
        let cases = [
            (ServiceError::Invalid("x".into()), 400, "bad_request", 3, ErrorCode::InvalidRequest, 400),
            (ServiceError::Unauthorized("x".into()), 401, "unauthorized", 4, ErrorCode::InvalidClient, 401),
            (ServiceError::Forbidden("x".into()), 403, "forbidden", 4, ErrorCode::AccessDenied, 403),
            (ServiceError::NotFound("skill".into()), 404, "not_found", 5, ErrorCode::InvalidRequest, 404),
            (ServiceError::Conflict("x".into()), 409, "conflict", 6, ErrorCode::InvalidRequest, 400),
            (
                ServiceError::RateLimited { retry_after: 7 },
                429,
                "rate_limited",
                7,
                ErrorCode::TemporarilyUnavailable,
                429,
            ),
            (ServiceError::Unavailable("mail".into()), 503, "unavailable", 7, ErrorCode::TemporarilyUnavailable, 503),
            (ServiceError::internal("boom"), 500, "internal_error", 1, ErrorCode::ServerError, 500),
        ];
        for (e, status, kind, exit, code, oauth_status) in cases {
            assert_eq!((e.status(), e.kind(), e.exit_code()), (status, kind, exit), "{e:?}");
            assert_eq!(e.to_oauth().0, oauth_status, "{e:?}");
            assert_eq!(e.to_oauth().1.code, code, "{e:?}");
        }
        assert_eq!(ServiceError::NotFound("skill 'a'".into()).shown().message, "skill 'a' not found");
        assert_eq!(ServiceError::RateLimited { retry_after: 7 }.shown().retry_after, Some(7));
        let backlog = ServiceError::Backlog { reason: "9 events wait".into(), retry_after: 5 };
        assert_eq!((backlog.status(), backlog.kind(), backlog.exit_code()), (429, "rate_limited", 7));
        assert_eq!(backlog.shown().message, "9 events wait; retry in 5 s");
        assert_eq!(backlog.to_oauth().1.code, ErrorCode::TemporarilyUnavailable);
        assert_eq!(ServiceError::internal("secret detail").shown().message, "internal error");
        let refusal = ServiceError::OAuth(OAuthError::invalid_grant("expired"));
        assert_eq!((refusal.status(), refusal.to_oauth().1.description.as_str()), (400, "expired"));
    }
}
