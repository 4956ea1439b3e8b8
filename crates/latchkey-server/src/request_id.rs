//! Request ids: every request gets one, carried by the tracing span of the request (so every log line
//! and exported span of that request has it) and returned in `X-Request-Id`. A caller's own id (a load
//! balancer's, a skill backend's) is kept when it is short and plain, so one id follows a request
//! across systems; anything else is replaced, so a hostile header cannot forge log lines.
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

pub const HEADER: &str = "x-request-id";

pub fn from_headers(headers: &HeaderMap) -> String {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_plain(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string())
}

pub fn set_header(headers: &mut HeaderMap, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        headers.insert(HeaderName::from_static(HEADER), v);
    }
}

fn is_plain(v: &str) -> bool {
    (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn with(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HeaderName::from_static(HEADER), HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn keeps_plain_ids_and_replaces_the_rest() {
        assert_eq!(from_headers(&with("abc-123_x.y")), "abc-123_x.y");
        for hostile in ["a b", "x\"}{", &"a".repeat(65), "id;drop"] {
            let id = from_headers(&with(hostile));
            assert_ne!(id, hostile);
            assert_eq!(id.len(), 32, "a fresh UUID");
        }
        assert_eq!(from_headers(&HeaderMap::new()).len(), 32);
    }
}
