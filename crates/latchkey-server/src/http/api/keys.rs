//! `/t/{tenant}/api/v1/api-keys`
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_oauth::admin::CreatedApiKey;
use latchkey_store::records::ApiKey;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, created, ok};
use crate::app::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyBody {
    pub name: String,
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/api-keys", tag = "api-keys",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = Vec<ApiKey>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(state: web::Data<AppState>, req: HttpRequest, tenant: web::Path<String>) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.list_api_keys(&a).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/api-keys", tag = "api-keys", request_body = CreateApiKeyBody,
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 201, body = CreatedApiKey, description = "the key is shown only here"), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Json<CreateApiKeyBody>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    created(&state.auth.create_api_key(&a, &body.name).await?)
}

#[utoipa::path(delete, path = "/t/{tenant}/api/v1/api-keys/{key}", tag = "api-keys",
    params(("tenant" = String, Path, description = "tenant slug"), ("key" = String, Path, description = "key id")),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    state.auth.delete_api_key(&a, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
