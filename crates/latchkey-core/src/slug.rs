//! Tenant slugs: they appear in every issuer URL, so they are short, lowercase and URL-safe.
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SlugError {
    #[error("slug must be 3 to 40 characters")]
    Length,
    #[error("slug may contain only lowercase letters, digits and single hyphens, and must start with a letter")]
    Characters,
    #[error("slug '{0}' is reserved")]
    Reserved(String),
}

/// Words a tenant may not take: the server's own top-level paths and the path segments under a
/// tenant (a slug is `/t/{slug}` today and may become a subdomain), and names that would let a tenant
/// pass for the service itself. `t` and `.well-known` never get this far (length, characters).
const RESERVED: &[&str] = &[
    "admin",
    "alexa",
    "amazon",
    "api",
    "assets",
    "docs",
    "federation",
    "fn",
    "healthz",
    "latchkey",
    "login",
    "logout",
    "metrics",
    "oauth2",
    "openid",
    "operator",
    "operators",
    "password",
    "pkg",
    "readyz",
    "signup",
    "static",
    "status",
    "support",
    "verify",
    "well-known",
    "www",
];

/// Prefixes reserved for the same reason: `alexa-…`, `amazon-…` and `latchkey-…` would look official.
/// Only with the hyphen: `alexandra-lights` is an ordinary name.
const RESERVED_PREFIXES: &[&str] = &["alexa-", "amazon-", "amzn-", "latchkey-"];

/// Checks a tenant slug: `[a-z][a-z0-9-]{2,39}`, no leading/trailing/double hyphen, not reserved.
pub fn validate_slug(slug: &str) -> Result<(), SlugError> {
    if !(3..=40).contains(&slug.len()) {
        return Err(SlugError::Length);
    }
    let bytes = slug.as_bytes();
    let ok_chars = bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if !ok_chars || !bytes[0].is_ascii_lowercase() || slug.ends_with('-') || slug.contains("--") {
        return Err(SlugError::Characters);
    }
    if RESERVED.contains(&slug) || RESERVED_PREFIXES.iter().any(|p| slug.starts_with(p)) {
        return Err(SlugError::Reserved(slug.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_slugs() {
        for s in ["acme", "acme-locks", "a1b", "x".repeat(40).as_str()] {
            assert_eq!(validate_slug(s), Ok(()), "{s}");
        }
    }

    #[test]
    fn rejects_bad_slugs() {
        assert_eq!(validate_slug("ab"), Err(SlugError::Length));
        assert_eq!(validate_slug(&"a".repeat(41)), Err(SlugError::Length));
        for s in ["Acme", "1abc", "ab-", "a--b", "ab_c", "ab c", "-abc", "äbc"] {
            assert_eq!(validate_slug(s), Err(SlugError::Characters), "{s}");
        }
        for s in [
            "admin",
            "api",
            "login",
            "www",
            "alexa",
            "latchkey",
            "well-known",
            "metrics",
            "latchkey-support",
            "amazon-echo",
        ] {
            assert!(matches!(validate_slug(s), Err(SlugError::Reserved(_))), "{s}");
        }
        assert_eq!(validate_slug("t"), Err(SlugError::Length));
        assert_eq!(validate_slug(".well-known"), Err(SlugError::Characters));
        assert_eq!(validate_slug("alexandra-lights"), Ok(()), "a prefix needs its hyphen");
    }
}
