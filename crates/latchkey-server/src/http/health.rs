//! Liveness and readiness.
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::app::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the database and the KV store both answer.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.auth.ready().await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            HttpResponse::ServiceUnavailable().json(json!({"status": "unavailable", "reason": e.to_string()}))
        }
    }
}

/// Prometheus metrics: with `LATCHKEY_METRICS_TOKEN` set, for that bearer token; otherwise only for
/// clients on the loopback interface (a sidecar or a port-forward).
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let allowed = match &state.metrics_token {
        Some(token) => super::extract::bearer(&req)
            .is_some_and(|b| latchkey_core::hashing::constant_time_eq(b.as_bytes(), token.expose().as_bytes())),
        None => req.peer_addr().is_some_and(|a| a.ip().is_loopback()),
    };
    if !allowed {
        return HttpResponse::Forbidden().json(
            json!({"error": "forbidden", "error_description": "metrics need LATCHKEY_METRICS_TOKEN as a bearer token"}),
        );
    }
    let mut body = state.metrics.render();
    // Gauges read at scrape time: database pools, and whether the KV store answers (and how fast).
    body.push_str("# TYPE latchkey_db_pool_connections gauge\n");
    for (pool, open, idle) in state.auth.pool_usage() {
        let in_use = (open as usize).saturating_sub(idle);
        body.push_str(&format!("latchkey_db_pool_connections{{pool=\"{pool}\",state=\"idle\"}} {idle}\n"));
        body.push_str(&format!("latchkey_db_pool_connections{{pool=\"{pool}\",state=\"in_use\"}} {in_use}\n"));
    }
    body.push_str(&format!(
        "# HELP latchkey_alexa_backlog_counts_total Counts of a tenant's waiting Alexa events, for its backlog bound.\n\
         # TYPE latchkey_alexa_backlog_counts_total counter\nlatchkey_alexa_backlog_counts_total {}\n",
        state.alexa.backlog_counts()
    ));
    let started = std::time::Instant::now();
    let kv_up = state.auth.kv_answers(std::time::Duration::from_secs(1)).await;
    body.push_str(&format!(
        "# TYPE latchkey_kv_up gauge\nlatchkey_kv_up {}\n# TYPE latchkey_kv_ping_seconds gauge\nlatchkey_kv_ping_seconds {:.6}\n",
        u8::from(kv_up),
        started.elapsed().as_secs_f64()
    ));
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(body)
}
