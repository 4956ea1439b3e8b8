//! `/t/{tenant}/api/v1/alexa/events/{id}` and `/t/{tenant}/api/v1/skills/{skill}/events`: what became
//! of the events a skill backend handed to `POST /alexa/events`.
use actix_web::{HttpRequest, web};
use latchkey_oauth::alexa_events::{EventDestination, EventStatus};
use latchkey_oauth::manage::{Page, PageReq};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, ok};
use crate::app::AppState;

#[utoipa::path(get, path = "/t/{tenant}/api/v1/alexa/events/{event}", tag = "alexa",
    params(("tenant" = String, Path, description = "tenant slug"), ("event" = String, Path, description = "the id POST /alexa/events answered with")),
    responses((status = 200, body = EventStatus), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.alexa_event(&a, &id).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u64>,
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/skills/{skill}/events", tag = "alexa",
    params(("tenant" = String, Path, description = "tenant slug"), ("skill" = String, Path, description = "skill id or Alexa skill id"), DeliveryQuery),
    responses((status = 200, body = Page<EventDestination>, description = "one item per destination of each event, newest first"),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<DeliveryQuery>,
) -> ApiResult {
    let (tenant, skill) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    let page = PageReq::parse(q.cursor.as_deref(), q.limit)?;
    ok(&state.auth.skill_event_deliveries(&a, &skill, q.status.as_deref(), page).await?)
}
