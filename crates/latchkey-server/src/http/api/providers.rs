//! `/t/{tenant}/api/v1/providers`: upstream OpenID Connect providers.
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_oauth::admin::{ProviderInput, ProviderUpdate};
use latchkey_store::records::UpstreamProvider;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, created, ok};
use crate::app::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedProvider {
    #[serde(flatten)]
    pub provider: UpstreamProvider,
    /// Register this redirect URI at the provider.
    pub callback_uri: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderTest {
    pub ok: bool,
    pub detail: String,
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/providers", tag = "providers",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = Vec<UpstreamProvider>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(state: web::Data<AppState>, req: HttpRequest, tenant: web::Path<String>) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.list_providers(&a).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/providers", tag = "providers", request_body = ProviderInput,
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 201, body = CreatedProvider), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Json<ProviderInput>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    let (provider, callback_uri) = state.auth.create_provider(&a, body.into_inner()).await?;
    created(&CreatedProvider { provider, callback_uri })
}

#[utoipa::path(patch, path = "/t/{tenant}/api/v1/providers/{provider}", tag = "providers", request_body = ProviderUpdate,
    params(("tenant" = String, Path, description = "tenant slug"), ("provider" = String, Path, description = "provider slug")),
    responses((status = 200, body = UpstreamProvider), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<ProviderUpdate>,
) -> ApiResult {
    let (tenant, slug) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.update_provider(&a, &slug, body.into_inner()).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/providers/{provider}/test", tag = "providers",
    params(("tenant" = String, Path, description = "tenant slug"), ("provider" = String, Path, description = "provider slug")),
    responses((status = 200, body = ProviderTest, description = "whether the provider's discovery document and keys could be fetched"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "the viewer role cannot make the server send requests"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn test(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, slug) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    let (ok_, detail) = match state.auth.test_provider(&a, &slug).await? {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    ok(&ProviderTest { ok: ok_, detail })
}

#[utoipa::path(delete, path = "/t/{tenant}/api/v1/providers/{provider}", tag = "providers",
    params(("tenant" = String, Path, description = "tenant slug"), ("provider" = String, Path, description = "provider slug")),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, slug) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    state.auth.delete_provider(&a, &slug).await?;
    Ok(HttpResponse::NoContent().finish())
}
