//! The OAuth 2.0 error, as RFC 6749 §4.1.2.1 (redirect) and §5.2 (token endpoint JSON) define it.
//!
//! Like fosite's `RFC6749Error`, it carries a client-facing `description` and an operator-only `debug`
//! detail. Only `error` and `error_description` ever reach a client; `debug` goes to the log.
use serde::Serialize;
use std::fmt;

/// The registered error codes (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7009 §2.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    UnsupportedTokenType,
    InvalidScope,
    AccessDenied,
    InvalidToken,
    ServerError,
    TemporarilyUnavailable,
    /// OpenID Connect Core §3.1.2.6, for `prompt=none`.
    LoginRequired,
    ConsentRequired,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::InvalidToken => "invalid_token",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
        }
    }

    /// The HTTP status for this error in a direct (non-redirect) response. RFC 6749 §5.2: 400 by
    /// default, 401 for a failed client authentication; RFC 6750 §3.1: 401 for a bad bearer token.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::AccessDenied => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error with its client-facing description and an operator-only debug detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    /// Operator-only detail; logged, never sent.
    pub debug: Option<String>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into(), debug: None }
    }

    pub fn with_debug(mut self, debug: impl Into<String>) -> Self {
        self.debug = Some(debug.into());
        self
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    pub fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "the server could not complete the request")
    }

    /// The RFC 6749 §5.2 JSON body: exactly `error` and `error_description`.
    pub fn to_json_body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": self.code.as_str(),
            "error_description": sanitize_description(&self.description),
        })
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {}

/// RFC 6749 §5.2 limits `error_description` to printable ASCII except `"` and `\`.
pub fn sanitize_description(d: &str) -> String {
    d.chars()
        .map(|c| match c {
            '\x20'..='\x7e' if c != '"' && c != '\\' => c,
            _ => '\'',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_has_exactly_error_and_description() {
        let e = OAuthError::invalid_grant("code \"expired\"").with_debug("secret detail");
        let body = e.to_json_body();
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["error_description"], "code 'expired'");
        assert_eq!(body.as_object().map(|o| o.len()), Some(2));
        assert!(!body.to_string().contains("secret detail"));
    }

    #[test]
    fn statuses_follow_the_rfcs() {
        assert_eq!(ErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(ErrorCode::InvalidGrant.http_status(), 400);
        assert_eq!(ErrorCode::UnsupportedGrantType.http_status(), 400);
        assert_eq!(ErrorCode::InvalidToken.http_status(), 401);
    }

    #[test]
    fn description_is_printable_ascii() {
        assert_eq!(sanitize_description("é\n\\ok"), "'''ok");
    }
}
