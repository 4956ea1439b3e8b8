//! `/t/{tenant}/api/v1/branding`: how the tenant's login pages look.
use actix_web::{HttpRequest, web};
use latchkey_oauth::manage::Branding;

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, ok};
use crate::app::AppState;

#[utoipa::path(get, path = "/t/{tenant}/api/v1/branding", tag = "branding",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = Branding), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(state: web::Data<AppState>, req: HttpRequest, tenant: web::Path<String>) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.branding(&a))
}

#[utoipa::path(put, path = "/t/{tenant}/api/v1/branding", tag = "branding", request_body = Branding,
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = Branding), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Json<Branding>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.set_branding(&a, body.into_inner()).await?)
}
