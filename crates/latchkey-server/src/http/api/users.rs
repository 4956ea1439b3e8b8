//! `/t/{tenant}/api/v1/users`: the tenant's end users.
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_oauth::manage::{Page, PageReq, UserView};
use latchkey_store::records::EndUser;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, created, ok};
use crate::app::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct UserQuery {
    /// Part of an email address.
    pub q: Option<String>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1-200, default 50.
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserBody {
    pub email: String,
    /// Omit for users who sign in only through an upstream provider.
    pub password: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordBody {
    pub password: String,
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/users", tag = "users",
    params(("tenant" = String, Path, description = "tenant slug"), UserQuery),
    responses((status = 200, body = Page<EndUser>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    q: web::Query<UserQuery>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    let page = PageReq::parse(q.cursor.as_deref(), q.limit)?;
    ok(&state.auth.search_users(&a, q.q.as_deref(), page).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/users", tag = "users", request_body = CreateUserBody,
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 201, body = EndUser), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Json<CreateUserBody>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    let b = body.into_inner();
    created(&state.auth.create_user(&a, &b.email, b.password.as_deref(), b.name).await?)
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/users/{user}", tag = "users",
    params(("tenant" = String, Path, description = "tenant slug"), ("user" = String, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.get_user(&a, &id).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/users/{user}/disable", tag = "users",
    params(("tenant" = String, Path, description = "tenant slug"), ("user" = String, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn disable(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.set_user_disabled(&a, &id, true).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/users/{user}/enable", tag = "users",
    params(("tenant" = String, Path, description = "tenant slug"), ("user" = String, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn enable(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.set_user_disabled(&a, &id, false).await?)
}

#[utoipa::path(put, path = "/t/{tenant}/api/v1/users/{user}/password", tag = "users", request_body = SetPasswordBody,
    params(("tenant" = String, Path, description = "tenant slug"), ("user" = String, Path, description = "user id")),
    responses((status = 204), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn set_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<SetPasswordBody>,
) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    state.auth.set_user_password(&a, &id, &body.password).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(delete, path = "/t/{tenant}/api/v1/users/{user}", tag = "users",
    params(("tenant" = String, Path, description = "tenant slug"), ("user" = String, Path, description = "user id")),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    state.auth.delete_user(&a, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteUserBody {
    pub email: String,
    pub name: Option<String>,
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/users/invite", tag = "users", request_body = InviteUserBody,
    description = "Creates the user without a password and mails a link (valid seven days, single use) to the tenant's page where the user chooses one.",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 201, body = EndUser), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn invite(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Json<InviteUserBody>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    let b = body.into_inner();
    created(&state.auth.invite_user(&a, &b.email, b.name).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/users/{user}/password-reset", tag = "users",
    description = "Mails the user a link (valid one hour, single use) to choose a new password.",
    params(("tenant" = String, Path, description = "tenant slug"), ("user" = String, Path, description = "user id")),
    responses((status = 202), (status = 400, body = Problem, content_type = "application/problem+json", description = "the user's address cannot receive mail"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 429, body = Problem, content_type = "application/problem+json"), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    state.auth.send_user_password_reset(&a, &id).await?;
    Ok(HttpResponse::Accepted().finish())
}
