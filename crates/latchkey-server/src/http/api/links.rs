//! `/t/{tenant}/api/v1/links`: linked accounts.
use actix_web::{HttpRequest, web};
use latchkey_oauth::manage::{LinkView, Page, PageReq};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, ok};
use crate::app::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct LinkQuery {
    /// A user id or email.
    pub user: Option<String>,
    /// A skill id or Alexa skill id.
    pub skill: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u64>,
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/links", tag = "links",
    params(("tenant" = String, Path, description = "tenant slug"), LinkQuery),
    responses((status = 200, body = Page<LinkView>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    q: web::Query<LinkQuery>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    let page = PageReq::parse(q.cursor.as_deref(), q.limit)?;
    ok(&state.auth.search_links(&a, q.user.as_deref(), q.skill.as_deref(), page).await?)
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/links/{link}", tag = "links",
    params(("tenant" = String, Path, description = "tenant slug"), ("link" = String, Path)),
    responses((status = 200, body = LinkView), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.get_link(&a, &id).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/links/{link}/revoke", tag = "links",
    params(("tenant" = String, Path, description = "tenant slug"), ("link" = String, Path)),
    responses((status = 200, body = LinkView, description = "tokens revoked, Amazon's tokens deleted"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, id) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.revoke_link(&a, &id).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/links/{link}/alexa-grants/{grant}/revoke", tag = "links",
    params(("tenant" = String, Path, description = "tenant slug"), ("link" = String, Path), ("grant" = String, Path, description = "one Alexa account's grant on the link")),
    responses((status = 200, body = LinkView, description = "that Alexa account's Latchkey tokens revoked and Amazon tokens deleted; the link's other Alexa accounts keep theirs, and the link ends with its last one"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_grant(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> ApiResult {
    let (tenant, link, grant) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.revoke_alexa_grant(&a, &link, &grant).await?)
}
