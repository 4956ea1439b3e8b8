//! `/t/{tenant}/api/v1/clients`
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_core::refresh::RefreshPolicy;
use latchkey_oauth::admin::{ClientOptions, CreatedClient, RotatedSecret};
use latchkey_oauth::manage::ClientUpdate;
use latchkey_store::records::Client;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, created, ok, optional_json};
use crate::app::AppState;

/// Options shared by skills and clients; absent fields take the defaults.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ClientOptionsBody {
    /// `client_secret_basic` (default) or `client_secret_post`.
    pub auth_method: Option<ClientAuthMethod>,
    /// Space-separated.
    pub scopes: Option<String>,
    /// Seconds; a skill's client needs at least 360 (Alexa's rule).
    pub access_token_ttl: Option<i64>,
    pub refresh_policy: Option<RefreshPolicy>,
    pub refresh_token_ttl: Option<i64>,
    pub require_pkce: Option<bool>,
    /// The algorithm of the client's ID tokens: RS256 (default, what OpenID Connect assumes), ES256 or
    /// EdDSA.
    pub id_token_signed_response_alg: Option<latchkey_oauth::keys::SigningAlg>,
}

impl ClientOptionsBody {
    pub fn into_options(self) -> Result<ClientOptions, Problem> {
        Ok(ClientOptions {
            auth_method: self.auth_method.unwrap_or(ClientAuthMethod::ClientSecretBasic),
            scopes: self.scopes,
            access_token_ttl: self.access_token_ttl,
            refresh_policy: self.refresh_policy,
            refresh_token_ttl: self.refresh_token_ttl,
            require_pkce: self.require_pkce.unwrap_or(false),
            id_token_signed_response_alg: self.id_token_signed_response_alg,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateClientBody {
    pub name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// authorization_code, refresh_token, client_credentials
    pub grant_types: Vec<String>,
    #[serde(flatten)]
    pub options: ClientOptionsBody,
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/clients", tag = "clients",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = Vec<Client>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(state: web::Data<AppState>, req: HttpRequest, tenant: web::Path<String>) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.list_clients(&a).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/clients", tag = "clients", request_body = CreateClientBody,
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 201, body = CreatedClient, description = "the client secret is shown only here"),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Json<CreateClientBody>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    let b = body.into_inner();
    let c = state.auth.create_client(&a, &b.name, b.redirect_uris, b.grant_types, &b.options.into_options()?).await?;
    created(&c)
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/clients/{client_id}", tag = "clients",
    params(("tenant" = String, Path, description = "tenant slug"), ("client_id" = String, Path)),
    responses((status = 200, body = Client), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.get_client(&a, &id).await?)
}

#[utoipa::path(patch, path = "/t/{tenant}/api/v1/clients/{client_id}", tag = "clients", request_body = ClientUpdate,
    params(("tenant" = String, Path, description = "tenant slug"), ("client_id" = String, Path)),
    responses((status = 200, body = Client), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<ClientUpdate>,
) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.update_client(&a, &id, body.into_inner()).await?)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretBody {
    /// How long the replaced secret keeps working, in seconds: default 86400 (a day), at most 30 days,
    /// `0` to stop it at once (after a leak).
    pub grace_secs: Option<i64>,
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/clients/{client_id}/rotate-secret", tag = "clients",
    request_body(content = Option<RotateSecretBody>, description = "optional; without it the replaced secret works for a day"),
    params(("tenant" = String, Path, description = "tenant slug"), ("client_id" = String, Path)),
    responses((status = 200, body = RotatedSecret), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    let b: RotateSecretBody = optional_json(&body)?;
    ok(&state.auth.rotate_client_secret(&a, &id, b.grace_secs).await?)
}

#[utoipa::path(delete, path = "/t/{tenant}/api/v1/clients/{client_id}", tag = "clients",
    params(("tenant" = String, Path, description = "tenant slug"), ("client_id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    state.auth.delete_client(&a, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
