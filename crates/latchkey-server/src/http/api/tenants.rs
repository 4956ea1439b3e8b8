//! `/api/v1/tenants`: operators' view of every tenant.
use actix_web::{HttpRequest, web};
use latchkey_oauth::manage::TenantOverview;
use latchkey_store::records::TenantStatus;

use super::auth::session_actor;
use super::problem::Problem;
use super::{ApiResult, ok};
use crate::app::AppState;

#[utoipa::path(get, path = "/api/v1/tenants", tag = "operators",
    responses((status = 200, body = Vec<TenantOverview>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list(state: web::Data<AppState>, req: HttpRequest) -> ApiResult {
    let actor = session_actor(&state, &req).await?;
    ok(&state.auth.list_tenants_for_operator(&actor).await?)
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/suspend", tag = "operators",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = TenantOverview), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn suspend(state: web::Data<AppState>, req: HttpRequest, tenant: web::Path<String>) -> ApiResult {
    set_status(&state, &req, &tenant, TenantStatus::Suspended).await
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/resume", tag = "operators",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = TenantOverview), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn resume(state: web::Data<AppState>, req: HttpRequest, tenant: web::Path<String>) -> ApiResult {
    set_status(&state, &req, &tenant, TenantStatus::Active).await
}

async fn set_status(state: &AppState, req: &HttpRequest, slug: &str, status: TenantStatus) -> ApiResult {
    let actor = session_actor(state, req).await?;
    state.auth.set_tenant_status(&actor, slug, status).await?;
    let all = state.auth.list_tenants_for_operator(&actor).await?;
    let t = all.into_iter().find(|t| t.tenant.slug == slug).ok_or_else(|| Problem::new(404, "tenant not found"))?;
    ok(&t)
}
