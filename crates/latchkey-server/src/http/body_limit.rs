//! One request-body limit for every route (OAuth endpoints, the management API, the Alexa endpoints,
//! the sign-in pages and the dashboard's server functions alike), enforced before a handler reads
//! anything: a declared `Content-Length` over the limit is answered 413 at once, and a body without
//! one (chunked) is cut off with the same error as soon as it passes the limit.
use actix_web::HttpMessage;
use actix_web::HttpResponse;
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::http::header::CONTENT_LENGTH;
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The limit for every route: OAuth requests are a few hundred bytes, the largest management or Alexa
/// body a few KB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Routes allowed more than `BODY_LIMIT`, with why. Empty today: add a route here, not a second
/// mechanism, when one needs more.
const EXCEPTIONS: &[(&str, usize)] = &[];

/// The limit for a path.
pub fn limit_for(path: &str) -> usize {
    EXCEPTIONS.iter().find(|(prefix, _)| path.starts_with(prefix)).map_or(BODY_LIMIT, |(_, n)| *n)
}

/// The answer to a body over `limit`: 413, in the OAuth error shape every client here understands.
pub fn too_large(limit: usize) -> HttpResponse {
    HttpResponse::PayloadTooLarge().json(serde_json::json!({
        "error": "invalid_request",
        "error_description": format!("the request body is larger than {limit} bytes"),
    }))
}

/// What `enforce` decided for a request.
pub enum Verdict {
    /// Declared within the limit, or no body: nothing to watch.
    Fine,
    /// No declared length: the body is cut off past `limit`, and `tripped` says whether it was, so the
    /// answer can be 413 whatever the handler made of the cut-off body.
    Watched { limit: usize, tripped: Arc<AtomicBool> },
    /// Declared larger than `limit`: answer 413 without reading.
    TooLarge(usize),
}

/// Refuses an oversized declared body, and bounds an undeclared one.
pub fn enforce(req: &mut ServiceRequest) -> Verdict {
    let limit = limit_for(req.path());
    if let Some(len) = req.headers().get(CONTENT_LENGTH) {
        // A Content-Length that is not a number is refused by actix's parser before we get here.
        let len = len.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(u64::MAX);
        return if len > limit as u64 { Verdict::TooLarge(limit) } else { Verdict::Fine };
    }
    let tripped = Arc::new(AtomicBool::new(false));
    let flag = tripped.clone();
    let mut seen = 0usize;
    let limited = req.take_payload().map(move |chunk| {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            flag.store(true, Ordering::Relaxed);
            Err(PayloadError::Overflow)
        } else {
            Ok(chunk)
        }
    });
    req.set_payload(Payload::Stream { payload: Box::pin(limited) });
    Verdict::Watched { limit, tripped }
}
