//! `/t/{tenant}/api/v1/providers`: upstream OpenID Connect providers.
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_oauth::admin::{ProviderInput, ProviderUpdate};
use latchkey_store::records::UpstreamProvider;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, created, ok};
use crate::app::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProviderBody {
    pub slug: String,
    pub name: String,
    /// https (http only on loopback).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Space-separated; `openid` is always added.
    pub scopes: Option<String>,
    #[serde(default)]
    pub link_by_email: bool,
    #[serde(default)]
    pub create_users: bool,
    /// `email=email,name=name`
    pub claim_map: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProviderBody {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<String>,
    pub link_by_email: Option<bool>,
    pub create_users: Option<bool>,
    pub claim_map: Option<String>,
}

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

#[utoipa::path(post, path = "/t/{tenant}/api/v1/providers", tag = "providers", request_body = CreateProviderBody,
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 201, body = CreatedProvider), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Json<CreateProviderBody>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    let b = body.into_inner();
    let (provider, callback_uri) = state
        .auth
        .create_provider(
            &a,
            ProviderInput {
                slug: b.slug,
                name: b.name,
                issuer: b.issuer,
                client_id: b.client_id,
                client_secret: b.client_secret,
                scopes: b.scopes,
                link_by_email: b.link_by_email,
                create_users: b.create_users,
                claim_map: b.claim_map,
            },
        )
        .await?;
    created(&CreatedProvider { provider, callback_uri })
}

#[utoipa::path(patch, path = "/t/{tenant}/api/v1/providers/{provider}", tag = "providers", request_body = UpdateProviderBody,
    params(("tenant" = String, Path, description = "tenant slug"), ("provider" = String, Path, description = "provider slug")),
    responses((status = 200, body = UpstreamProvider), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateProviderBody>,
) -> ApiResult {
    let (tenant, slug) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    let b = body.into_inner();
    let u = ProviderUpdate {
        name: b.name,
        issuer: b.issuer,
        client_id: b.client_id,
        client_secret: b.client_secret,
        scopes: b.scopes,
        link_by_email: b.link_by_email,
        create_users: b.create_users,
        claim_map: b.claim_map,
    };
    ok(&state.auth.update_provider(&a, &slug, u).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/providers/{provider}/test", tag = "providers",
    params(("tenant" = String, Path, description = "tenant slug"), ("provider" = String, Path, description = "provider slug")),
    responses((status = 200, body = ProviderTest, description = "whether the provider's discovery document and keys could be fetched"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
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
