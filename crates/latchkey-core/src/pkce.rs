//! PKCE (RFC 7636). Only `S256` is accepted: `plain` offers no protection once the authorization request
//! is observed, and RFC 9700 §2.1.1 says not to use it.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::OAuthError;
use crate::hashing::constant_time_eq;

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Validates the `code_challenge` / `code_challenge_method` pair of an authorization request.
/// Returns the challenge to store, or `None` when PKCE was not used.
pub fn validate_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
    required: bool,
) -> Result<Option<String>, OAuthError> {
    match (challenge, method) {
        (None, None) if required => {
            Err(OAuthError::invalid_request("code_challenge is required for this client (PKCE S256)"))
        }
        (None, None) => Ok(None),
        (None, Some(_)) => Err(OAuthError::invalid_request("code_challenge_method given without code_challenge")),
        // RFC 7636 §4.3: a missing method means plain, which we refuse.
        (Some(_), None) | (Some(_), Some("plain")) => {
            Err(OAuthError::invalid_request("code_challenge_method must be S256; plain is not supported"))
        }
        (Some(_), Some(m)) if m != "S256" => {
            Err(OAuthError::invalid_request("unsupported code_challenge_method; use S256"))
        }
        // An S256 challenge is base64url(SHA-256) = exactly 43 characters.
        (Some(c), Some(_)) if c.len() != 43 || !is_pkce_string(c) => {
            Err(OAuthError::invalid_request("code_challenge must be 43 base64url characters"))
        }
        (Some(c), Some(_)) => Ok(Some(c.to_owned())),
    }
}

/// The S256 transformation: `BASE64URL(SHA256(verifier))`.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Checks a `code_verifier` at the token endpoint against the stored challenge (RFC 7636 §4.6).
pub fn verify(stored_challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (stored_challenge, verifier) {
        (None, None) => Ok(()),
        // RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
        (None, Some(_)) => {
            Err(OAuthError::invalid_grant("code_verifier sent but the authorization request had no code_challenge"))
        }
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        (Some(_), Some(v)) if !is_pkce_string(v) => {
            Err(OAuthError::invalid_grant("code_verifier must be 43-128 characters of [A-Za-z0-9-._~]"))
        }
        (Some(c), Some(v)) => {
            if constant_time_eq(s256_challenge(v).as_bytes(), c.as_bytes()) {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
        assert_eq!(verify(Some(CHALLENGE), Some(VERIFIER)), Ok(()));
    }

    #[test]
    fn challenge_rules() {
        assert_eq!(validate_challenge(None, None, false), Ok(None));
        assert_eq!(validate_challenge(Some(CHALLENGE), Some("S256"), true), Ok(Some(CHALLENGE.into())));
        for (c, m, req) in [
            (None, None, true),
            (None, Some("S256"), false),
            (Some(CHALLENGE), None, false),
            (Some(CHALLENGE), Some("plain"), false),
            (Some(CHALLENGE), Some("s256"), false),
            (Some("short"), Some("S256"), false),
            (Some(&CHALLENGE.replace('-', "+")[..]), Some("S256"), false),
        ] {
            let e = validate_challenge(c, m, req).expect_err("must be refused");
            assert_eq!(e.code, ErrorCode::InvalidRequest);
        }
    }

    #[test]
    fn verifier_rules() {
        assert!(verify(None, None).is_ok());
        assert_eq!(verify(None, Some(VERIFIER)).map_err(|e| e.code), Err(ErrorCode::InvalidGrant));
        assert_eq!(verify(Some(CHALLENGE), None).map_err(|e| e.code), Err(ErrorCode::InvalidGrant));
        let wrong = VERIFIER.replace('d', "e");
        assert_eq!(verify(Some(CHALLENGE), Some(&wrong)).map_err(|e| e.code), Err(ErrorCode::InvalidGrant));
        assert!(verify(Some(CHALLENGE), Some("tooshort")).is_err());
    }

    proptest! {
        #[test]
        fn any_valid_verifier_matches_its_own_challenge(v in "[A-Za-z0-9._~-]{43,128}") {
            let c = s256_challenge(&v);
            prop_assert_eq!(validate_challenge(Some(&c), Some("S256"), true), Ok(Some(c.clone())));
            prop_assert!(verify(Some(&c), Some(&v)).is_ok());
        }

        #[test]
        fn arbitrary_input_never_panics(c in ".{0,200}", v in ".{0,200}") {
            let _ = validate_challenge(Some(&c), Some("S256"), false);
            let _ = verify(Some(&c), Some(&v));
        }
    }
}
