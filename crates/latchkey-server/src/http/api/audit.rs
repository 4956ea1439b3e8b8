//! `/t/{tenant}/api/v1/audit`
use actix_web::{HttpRequest, web};
use latchkey_oauth::manage::{Page, PageReq};
use latchkey_store::records::AuditEvent;
use latchkey_store::repo::AuditFilter;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, ok};
use crate::app::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// An action (`client.created`) or a prefix ending in a dot (`client.`).
    pub action: Option<String>,
    /// Part of the actor (`account:ann@`, `api_key:`, `cli`).
    pub actor: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    pub cursor: Option<String>,
    pub limit: Option<u64>,
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/audit", tag = "audit",
    params(("tenant" = String, Path, description = "tenant slug"), AuditQuery),
    responses((status = 200, body = Page<AuditEvent>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    q: web::Query<AuditQuery>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    let page = PageReq::parse(q.cursor.as_deref(), q.limit)?;
    let q = q.into_inner();
    let f = AuditFilter { action: q.action, actor: q.actor, since: q.since, until: q.until };
    ok(&state.auth.search_audit(&a, &f, page).await?)
}
