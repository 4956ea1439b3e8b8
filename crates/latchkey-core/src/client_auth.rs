//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3).
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::OAuthError;

/// How a client is configured to authenticate (RFC 8414 `token_endpoint_auth_methods_supported`).
/// Alexa calls these "HTTP Basic" and "Credentials in request body".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
}

impl ClientAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    /// The name the Alexa developer console uses for this scheme.
    pub fn alexa_name(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "HTTP Basic (Recommended)",
            Self::ClientSecretPost => "Credentials in request body",
        }
    }
}

impl FromStr for ClientAuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "client_secret_basic" | "basic" | "HTTP_BASIC" => Ok(Self::ClientSecretBasic),
            "client_secret_post" | "post" | "REQUEST_BODY_CREDENTIALS" => Ok(Self::ClientSecretPost),
            _ => Err(format!("unknown client auth method '{s}' (client_secret_basic or client_secret_post)")),
        }
    }
}

impl fmt::Display for ClientAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Credentials as they arrived, with the method the client actually used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentedCredentials {
    pub client_id: String,
    pub secret: Option<String>,
    /// `None` when the client sent only a `client_id` (no secret at all).
    pub method: Option<ClientAuthMethod>,
}

/// Decodes an `Authorization: Basic` value. RFC 6749 §2.3.1: id and secret are form-urlencoded
/// before being joined with `:` and base64-encoded.
pub fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let bad = || OAuthError::invalid_client("malformed HTTP Basic credentials");
    let (scheme, rest) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let id = form_decode(id);
    let secret = form_decode(secret);
    if id.is_empty() {
        return Err(bad());
    }
    Ok((id, secret))
}

fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// Works out which credentials a request presented. RFC 6749 §2.3: a client must not use more than one
/// method in a request. A `client_id` form field alongside Basic is tolerated when it names the same
/// client, because some clients (Alexa among them) send both.
pub fn presented(
    authorization: Option<&str>,
    form_client_id: Option<&str>,
    form_client_secret: Option<&str>,
) -> Result<PresentedCredentials, OAuthError> {
    let basic = authorization
        .filter(|h| h.trim_start().len() >= 5 && h.trim_start()[..5].eq_ignore_ascii_case("basic"))
        .map(parse_basic)
        .transpose()?;
    match (basic, form_client_id, form_client_secret) {
        (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
            "client credentials were sent both in the Authorization header and in the body; use one",
        )),
        (Some((id, _)), Some(form_id), None) if form_id != id => {
            Err(OAuthError::invalid_request("client_id in the body differs from the HTTP Basic client"))
        }
        (Some((id, secret)), _, None) => Ok(PresentedCredentials {
            client_id: id,
            secret: Some(secret),
            method: Some(ClientAuthMethod::ClientSecretBasic),
        }),
        (None, Some(id), Some(secret)) => Ok(PresentedCredentials {
            client_id: id.to_owned(),
            secret: Some(secret.to_owned()),
            method: Some(ClientAuthMethod::ClientSecretPost),
        }),
        (None, Some(id), None) => Ok(PresentedCredentials { client_id: id.to_owned(), secret: None, method: None }),
        (None, None, _) => Err(OAuthError::invalid_client("client authentication is required")),
    }
}

/// The message for a client that authenticated with the wrong scheme: the most common Alexa linking
/// failure, so it names both what was received and what is expected (ALEXA.md §2).
pub fn method_mismatch(expected: ClientAuthMethod, received: Option<ClientAuthMethod>) -> OAuthError {
    let received = received.map_or("no client secret", ClientAuthMethod::alexa_name);
    OAuthError::invalid_client(format!(
        "this client authenticates with {} ({}); the request used {}",
        expected.alexa_name(),
        expected.as_str(),
        received
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn parses_basic() {
        assert_eq!(parse_basic(&basic("cid", "sec:ret")).ok(), Some(("cid".into(), "sec:ret".into())));
        assert_eq!(parse_basic(&basic("c%20id", "a+b")).ok(), Some(("c id".into(), "a b".into())));
        for bad in ["Basic", "Basic !!!", "Bearer abc", &basic("", "x"), "Basic Y2lk"] {
            assert_eq!(parse_basic(bad).map_err(|e| e.code), Err(ErrorCode::InvalidClient), "{bad}");
        }
    }

    #[test]
    fn detects_the_method_used() {
        let b = basic("cid", "s");
        let p = presented(Some(&b), None, None).expect("basic");
        assert_eq!(p.method, Some(ClientAuthMethod::ClientSecretBasic));
        let p = presented(Some(&b), Some("cid"), None).expect("basic + same id");
        assert_eq!(p.client_id, "cid");
        let p = presented(None, Some("cid"), Some("s")).expect("post");
        assert_eq!(p.method, Some(ClientAuthMethod::ClientSecretPost));
        let p = presented(None, Some("cid"), None).expect("id only");
        assert_eq!(p.method, None);
        assert_eq!(presented(Some(&b), None, Some("s")).map_err(|e| e.code), Err(ErrorCode::InvalidRequest));
        assert_eq!(presented(Some(&b), Some("other"), None).map_err(|e| e.code), Err(ErrorCode::InvalidRequest));
        assert_eq!(presented(None, None, None).map_err(|e| e.code), Err(ErrorCode::InvalidClient));
    }

    #[test]
    fn mismatch_names_both_schemes() {
        let e = method_mismatch(ClientAuthMethod::ClientSecretBasic, Some(ClientAuthMethod::ClientSecretPost));
        assert!(e.description.contains("HTTP Basic"));
        assert!(e.description.contains("request body"));
    }

    proptest! {
        #[test]
        fn basic_parser_never_panics(s in ".{0,200}") {
            let _ = parse_basic(&s);
            let _ = parse_basic(&format!("Basic {s}"));
        }

        #[test]
        fn basic_round_trips(id in "[A-Za-z0-9_-]{1,40}", secret in "[A-Za-z0-9_-]{0,60}") {
            prop_assert_eq!(parse_basic(&basic(&id, &secret)).ok(), Some((id, secret)));
        }
    }
}
