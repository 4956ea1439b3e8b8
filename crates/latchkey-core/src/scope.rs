//! Scopes (RFC 6749 §3.3): space-delimited, case-sensitive tokens of NQCHAR.
use crate::error::OAuthError;

/// At most this many scope tokens in one request; Alexa's console allows 15.
pub const MAX_SCOPES: usize = 64;

fn is_scope_token(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Parses a scope string into distinct tokens, keeping their first-seen order.
pub fn parse(scope: &str) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::new();
    for t in scope.split(' ').filter(|t| !t.is_empty()) {
        if !is_scope_token(t) {
            return Err(OAuthError::invalid_scope("scope contains characters outside RFC 6749 §3.3"));
        }
        if !out.iter().any(|s| s == t) {
            out.push(t.to_owned());
        }
    }
    if out.len() > MAX_SCOPES {
        return Err(OAuthError::invalid_scope("too many scopes"));
    }
    Ok(out)
}

/// Resolves the scopes of a request against what the client may ask for. An absent or empty `scope`
/// means the client's full default set (RFC 6749 §3.3 lets the server pick a default).
pub fn resolve(requested: Option<&str>, allowed: &[String]) -> Result<Vec<String>, OAuthError> {
    let requested = match requested.map(parse).transpose()? {
        Some(r) if !r.is_empty() => r,
        _ => return Ok(allowed.to_vec()),
    };
    if let Some(unknown) = requested.iter().find(|s| !allowed.contains(s)) {
        return Err(OAuthError::invalid_scope(format!("scope '{unknown}' is not allowed for this client")));
    }
    Ok(requested)
}

/// Narrows scopes on refresh (RFC 6749 §6): the request may only ask for a subset of the original grant.
pub fn narrow(requested: Option<&str>, granted: &[String]) -> Result<Vec<String>, OAuthError> {
    match requested.map(parse).transpose()? {
        Some(r) if !r.is_empty() => {
            if let Some(extra) = r.iter().find(|s| !granted.contains(s)) {
                return Err(OAuthError::invalid_scope(format!("scope '{extra}' exceeds the scope originally granted")));
            }
            Ok(r)
        }
        _ => Ok(granted.to_vec()),
    }
}

pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_and_dedups() {
        assert_eq!(parse("openid  profile openid").ok(), Some(v(&["openid", "profile"])));
        assert_eq!(parse("").ok(), Some(vec![]));
        assert_eq!(parse("a\"b").map_err(|e| e.code), Err(ErrorCode::InvalidScope));
        assert_eq!(parse("a\\b").map_err(|e| e.code), Err(ErrorCode::InvalidScope));
        assert_eq!(parse("é").map_err(|e| e.code), Err(ErrorCode::InvalidScope));
    }

    #[test]
    fn resolves_against_allowed() {
        let allowed = v(&["openid", "profile", "smart_home"]);
        assert_eq!(resolve(None, &allowed).ok(), Some(allowed.clone()));
        assert_eq!(resolve(Some(""), &allowed).ok(), Some(allowed.clone()));
        assert_eq!(resolve(Some("openid"), &allowed).ok(), Some(v(&["openid"])));
        let e = resolve(Some("openid admin"), &allowed).expect_err("unknown scope");
        assert_eq!(e.code, ErrorCode::InvalidScope);
        assert!(e.description.contains("admin"));
    }

    #[test]
    fn narrows_on_refresh() {
        let granted = v(&["openid", "profile"]);
        assert_eq!(narrow(Some("profile"), &granted).ok(), Some(v(&["profile"])));
        assert_eq!(narrow(None, &granted).ok(), Some(granted.clone()));
        assert!(narrow(Some("email"), &granted).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,300}") {
            let _ = parse(&s);
            let _ = resolve(Some(&s), &["a".to_string()]);
        }
    }
}
