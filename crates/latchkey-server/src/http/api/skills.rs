//! `/t/{tenant}/api/v1/skills`
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_alexa::simulator::SimulationResult;
use latchkey_alexa::smapi::{PublishReport, Stage};
use latchkey_core::alexa::{AlexaRegion, SkillKind};
use latchkey_oauth::admin::CreatedSkill;
use latchkey_oauth::manage::SkillView;
use latchkey_oauth::skill_update::SkillUpdate;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::tenant_access;
use super::clients::ClientOptionsBody;
use super::problem::Problem;
use super::{ApiResult, created, ok};
use crate::app::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSkillBody {
    pub name: String,
    /// `amzn1.ask.skill.…`
    pub alexa_skill_id: String,
    /// The vendor id in the three Alexa redirect URIs.
    pub vendor_id: String,
    pub kind: SkillKind,
    /// The skill's one region; or give `regions`.
    pub region: Option<AlexaRegion>,
    /// Every region the skill is live in, the first being the default for an AcceptGrant that names
    /// none. Each Alexa grant's events go to the region its AcceptGrant came through.
    pub regions: Option<Vec<AlexaRegion>>,
    /// Login with Amazon messaging credentials, for AcceptGrant.
    pub lwa_client_id: Option<String>,
    pub lwa_client_secret: Option<String>,
    #[serde(flatten)]
    pub options: ClientOptionsBody,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateBody {
    /// An end user of the tenant to link.
    pub email: String,
    pub password: String,
    /// The skill client's secret (stored hashed, so it must be supplied).
    pub client_secret: String,
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/skills", tag = "skills",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = Vec<SkillView>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(state: web::Data<AppState>, req: HttpRequest, tenant: web::Path<String>) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.list_skills(&a).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/skills", tag = "skills", request_body = CreateSkillBody,
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 201, body = CreatedSkill, description = "the client secret is shown only here"),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Json<CreateSkillBody>,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    let b = body.into_inner();
    let lwa = match (b.lwa_client_id, b.lwa_client_secret) {
        (Some(id), Some(s)) if !id.is_empty() && !s.is_empty() => Some((id, s)),
        (None, None) => None,
        (Some(i), None) if i.is_empty() => None,
        _ => return Err(Problem::new(400, "give both lwa_client_id and lwa_client_secret, or neither")),
    };
    let regions = match (b.regions, b.region) {
        (Some(list), None) => list,
        (None, Some(one)) => vec![one],
        (Some(list), Some(one)) if list.first() == Some(&one) => list,
        (Some(_), Some(_)) => return Err(Problem::new(400, "give region or regions, not both")),
        (None, None) => return Err(Problem::new(400, "give the skill's region (or regions): NA, EU, FE")),
    };
    let opts = b.options.into_options()?;
    let s = state.auth.create_skill(&a, &b.name, &b.alexa_skill_id, &b.vendor_id, b.kind, &regions, lwa, &opts).await?;
    created(&s)
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/skills/{skill}", tag = "skills",
    params(("tenant" = String, Path, description = "tenant slug"), ("skill" = String, Path, description = "skill id or Alexa skill id")),
    responses((status = 200, body = SkillView), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, skill) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.get_skill(&a, &skill).await?)
}

#[utoipa::path(patch, path = "/t/{tenant}/api/v1/skills/{skill}", tag = "skills", request_body = SkillUpdate,
    params(("tenant" = String, Path, description = "tenant slug"), ("skill" = String, Path, description = "skill id or Alexa skill id")),
    responses((status = 200, body = SkillView, description = "the skill as changed; its client id is kept, so no user relinks"),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<SkillUpdate>,
) -> ApiResult {
    let (tenant, skill) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.auth.update_skill(&a, &skill, body.into_inner()).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// The skill client's current secret (stored hashed, so it must be supplied); it goes to the console.
    pub client_secret: String,
    /// `development` (default) or `live`.
    #[serde(default)]
    pub stage: Stage,
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/skills/{skill}/publish", tag = "skills", request_body = PublishBody,
    params(("tenant" = String, Path, description = "tenant slug"), ("skill" = String, Path, description = "skill id or Alexa skill id")),
    responses((status = 200, body = PublishReport, description = "pushed through SMAPI and read back, field by field"),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn publish(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<PublishBody>,
) -> ApiResult {
    let (tenant, skill) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    let b = body.into_inner();
    ok(&state.alexa.publish(&a, &skill, &b.client_secret, b.stage).await?)
}

#[utoipa::path(delete, path = "/t/{tenant}/api/v1/skills/{skill}", tag = "skills",
    params(("tenant" = String, Path, description = "tenant slug"), ("skill" = String, Path, description = "skill id or Alexa skill id")),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, skill) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    state.auth.delete_skill(&a, &skill).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/skills/{skill}/readiness", tag = "skills",
    params(("tenant" = String, Path, description = "tenant slug"), ("skill" = String, Path, description = "skill id or Alexa skill id")),
    responses((status = 200, body = latchkey_alexa::readiness::Readiness), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn readiness(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let (tenant, skill) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&state.alexa.readiness(&a, &skill).await?)
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/skills/{skill}/simulate", tag = "skills", request_body = SimulateBody,
    params(("tenant" = String, Path, description = "tenant slug"), ("skill" = String, Path, description = "skill id or Alexa skill id")),
    responses((status = 200, body = SimulationResult, description = "each step of the linking flow as Alexa would run it"),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn simulate(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<SimulateBody>,
) -> ApiResult {
    let (tenant, skill) = path.into_inner();
    let a = tenant_access(&state, &req, &tenant).await?;
    let r = state.alexa.simulate(&a, &skill, &body.email, &body.password, &body.client_secret).await?;
    ok(&r)
}
