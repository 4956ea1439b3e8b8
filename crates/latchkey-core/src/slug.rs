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

const RESERVED: &[&str] = &["admin", "api", "static", "well-known", "healthz", "readyz", "metrics"];

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
    if RESERVED.contains(&slug) {
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
        assert!(matches!(validate_slug("admin"), Err(SlugError::Reserved(_))));
    }
}
