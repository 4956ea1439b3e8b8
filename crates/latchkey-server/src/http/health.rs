//! Liveness and readiness.
use actix_web::{HttpResponse, web};
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
