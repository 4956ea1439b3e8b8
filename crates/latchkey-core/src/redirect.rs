//! Redirect URIs: registration rules and exact matching (RFC 6749 §3.1.2, RFC 9700 §4.1.3).
use url::Url;

/// Checks a redirect URI before it is registered on a client: absolute, no fragment (RFC 6749
/// §3.1.2), https — or http only for loopback hosts (RFC 8252 §7.3) — or a private-use scheme with a
/// dot in it for native apps (RFC 8252 §7.1).
pub fn validate_registered(uri: &str) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("redirect URI '{uri}' is not an absolute URI: {e}"))?;
    if url.fragment().is_some() {
        return Err(format!("redirect URI '{uri}' must not contain a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("redirect URI '{uri}' must not contain credentials"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(format!("redirect URI '{uri}' must use https (http is allowed only for loopback)")),
        s if s.contains('.') => Ok(()),
        _ => Err(format!("redirect URI '{uri}' has an unsupported scheme")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Picks the redirect URI for an authorization request: the requested one if it is registered,
/// compared as exact strings; the only registered one if none was requested (RFC 6749 §3.1.2.3).
/// `None` means the request must end on an error page, never a redirect.
pub fn select<'a>(requested: Option<&'a str>, registered: &'a [String]) -> Option<&'a str> {
    match requested {
        Some(r) => registered.iter().find(|u| u.as_str() == r).map(String::as_str),
        None if registered.len() == 1 => registered.first().map(String::as_str),
        None => None,
    }
}

/// Appends parameters to a redirect URI, keeping any query it already has (RFC 6749 §3.1.2).
pub fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.into()
        }
        // Registered URIs are validated on registration, so this only guards old data.
        Err(_) => {
            let sep = if uri.contains('?') { '&' } else { '?' };
            let query = serde_urlencoded_pairs(params);
            format!("{uri}{sep}{query}")
        }
    }
}

fn serde_urlencoded_pairs(params: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter()).finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn registration_rules() {
        assert!(validate_registered("https://pitangui.amazon.com/api/skill/link/M2X").is_ok());
        assert!(validate_registered("http://127.0.0.1:8765/cb").is_ok());
        assert!(validate_registered("http://localhost/cb").is_ok());
        assert!(validate_registered("com.acme.app:/cb").is_ok());
        assert!(validate_registered("http://example.com/cb").is_err());
        assert!(validate_registered("https://example.com/cb#frag").is_err());
        assert!(validate_registered("https://u:p@example.com/cb").is_err());
        assert!(validate_registered("/relative").is_err());
        assert!(validate_registered("javascript:alert(1)").is_err());
    }

    #[test]
    fn exact_matching() {
        let reg = vec!["https://a.example/cb".to_string(), "https://b.example/cb".to_string()];
        assert_eq!(select(Some("https://a.example/cb"), &reg), Some("https://a.example/cb"));
        assert_eq!(select(Some("https://a.example/cb/"), &reg), None);
        assert_eq!(select(Some("https://A.example/cb"), &reg), None);
        assert_eq!(select(Some("https://a.example/cb?x=1"), &reg), None);
        assert_eq!(select(None, &reg), None);
        assert_eq!(select(None, &reg[..1]), Some("https://a.example/cb"));
    }

    #[test]
    fn params_are_appended_and_encoded() {
        assert_eq!(
            with_params("https://a.example/cb?x=1", &[("code", "c d"), ("state", "s&t=")]),
            "https://a.example/cb?x=1&code=c+d&state=s%26t%3D"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,200}") {
            let _ = validate_registered(&s);
            let reg = vec![s.clone()];
            prop_assert_eq!(select(Some(&s), &reg), Some(s.as_str()));
            let _ = with_params(&s, &[("state", &s)]);
        }

        #[test]
        fn state_survives_a_round_trip(state in ".{0,100}") {
            let u = with_params("https://a.example/cb", &[("code", "x"), ("state", &state)]);
            let parsed = Url::parse(&u).expect("valid url");
            let back = parsed.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned());
            prop_assert_eq!(back, Some(state));
        }
    }
}
