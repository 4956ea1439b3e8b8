//! `/t/{tenant}/api/v1/password-policy`: what a user's own password reset ends.
use actix_web::{HttpRequest, web};
use latchkey_oauth::manage::PasswordPolicy;

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, ok};
use crate::app::AppState;

#[utoipa::path(get, path = "/t/{tenant}/api/v1/password-policy", tag = "password policy",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = PasswordPolicy), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(state: web::Data<AppState>, req: HttpRequest, tenant: web::Path<String>) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.password_policy(&a))
}

#[utoipa::path(put, path = "/t/{tenant}/api/v1/password-policy", tag = "password policy", request_body = PasswordPolicy,
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = PasswordPolicy, description = "browser sessions always end at a password change; with `keep_grants_on_self_service_reset` a reset by mailed link keeps the user's grants (Alexa links), so a thief's grants outlive the owner's reset"),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Json<PasswordPolicy>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.set_password_policy(&a, body.into_inner()).await?)
}
