//! `/t/{tenant}/api/v1/smapi-credentials`: the tenant's Skill Management API credentials, used to
//! publish skills' account linking to the Alexa console and to compare the console with Latchkey.
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_alexa::smapi::SmapiCredentialsInput;
use latchkey_store::records::SmapiStatus;

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, ok};
use crate::app::AppState;

#[utoipa::path(get, path = "/t/{tenant}/api/v1/smapi-credentials", tag = "skills",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = SmapiStatus, description = "whether credentials are set; secrets are never shown"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(state: web::Data<AppState>, req: HttpRequest, tenant: web::Path<String>) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.alexa.smapi_status(&a).await?)
}

#[utoipa::path(put, path = "/t/{tenant}/api/v1/smapi-credentials", tag = "skills", request_body = SmapiCredentialsInput,
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = SmapiStatus, description = "stored, sealed, after Login with Amazon accepted them"),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Json<SmapiCredentialsInput>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.alexa.set_smapi_credentials(&a, body.into_inner()).await?)
}

#[utoipa::path(delete, path = "/t/{tenant}/api/v1/smapi-credentials", tag = "skills",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(state: web::Data<AppState>, req: HttpRequest, tenant: web::Path<String>) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    state.alexa.delete_smapi_credentials(&a).await?;
    Ok(HttpResponse::NoContent().finish())
}
