//! Request parsing shared by handlers: form bodies, headers, cookies, the client IP.
use actix_web::HttpRequest;
use actix_web::http::header;
use latchkey_core::OAuthError;

/// Decodes an `application/x-www-form-urlencoded` body into pairs. Invalid UTF-8 is replaced, never
/// a panic; the caller decides what a missing or repeated parameter means.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Form endpoints require the form content type (RFC 6749 §3.2, §4.1.3).
pub fn require_form(req: &HttpRequest) -> Result<(), OAuthError> {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(())
    } else {
        Err(OAuthError::invalid_request("Content-Type must be application/x-www-form-urlencoded"))
    }
}

pub fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

/// The bearer token of RFC 6750 §2.1.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let h = authorization(req)?.trim();
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned()).filter(|t| !t.is_empty())
}

pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(name).map(|c| c.value().to_owned()).filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The client's address: the peer, or, when the peer is one of `trusted` proxies, the first
/// `X-Forwarded-For` entry from the right that is not a trusted proxy. Entries further left were
/// written by the client and are never believed.
pub fn client_ip(req: &HttpRequest, trusted: &[latchkey_core::net::IpNet]) -> String {
    let Some(peer) = req.peer_addr() else { return "unknown".to_owned() };
    let forwarded: Vec<&str> = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect();
    latchkey_core::net::client_ip(peer.ip(), &forwarded, trusted).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_forms() {
        assert_eq!(
            form_pairs(b"a=1&b=x+y&c=%26"),
            vec![("a".into(), "1".into()), ("b".into(), "x y".into()), ("c".into(), "&".into())]
        );
    }

    proptest! {
        #[test]
        fn form_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = form_pairs(&body);
        }
    }
}
