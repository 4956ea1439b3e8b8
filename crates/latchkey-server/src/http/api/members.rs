//! `/t/{tenant}/api/v1/members`: who may use the tenant's dashboard, and invitations.
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_core::role::Role;
use latchkey_store::records::Member;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, ok};
use crate::app::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub role: Role,
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/members", tag = "members",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = Vec<Member>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(state: web::Data<AppState>, req: HttpRequest, tenant: web::Path<String>) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.list_members(&a).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/members/invitations", tag = "members", request_body = InviteBody,
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 202, description = "invitation mailed"), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn invite(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Json<InviteBody>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    state.auth.invite_member(&a, &body.email, body.role).await?;
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(put, path = "/t/{tenant}/api/v1/members/{member}/role", tag = "members", request_body = RoleBody,
    params(("tenant" = String, Path, description = "tenant slug"), ("member" = String, Path)),
    responses((status = 200, body = Member), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn set_role(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<RoleBody>,
) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.set_member_role(&a, &id, body.role).await?)
}

#[utoipa::path(delete, path = "/t/{tenant}/api/v1/members/{member}", tag = "members",
    params(("tenant" = String, Path, description = "tenant slug"), ("member" = String, Path)),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn remove(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    state.auth.remove_member(&a, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
