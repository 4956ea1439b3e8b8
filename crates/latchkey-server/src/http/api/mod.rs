//! The management API: `/t/{tenant}/api/v1/…` for a tenant (API key or dashboard session) and
//! `/api/v1/…` for operators. JSON in and out, RFC 9457 problems for errors, offset-cursor pagination,
//! and an OpenAPI document generated from these handlers at `/api/openapi.json`. Every handler is a
//! thin adapter over a service function in `latchkey-oauth` (the dashboard calls the same ones).
mod alexa_events;
mod audit;
pub mod auth;
mod branding;
mod clients;
mod docs;
mod keys;
mod links;
mod members;
mod password_policy;
pub mod problem;
mod providers;
mod signing_keys;
pub mod skills;
mod smapi;
mod tenants;
mod users;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::OpenApi;

use problem::Problem;

pub type ApiResult = Result<HttpResponse, Problem>;

/// An optional JSON body, read by hand: an empty one takes the default, a malformed one is a 400
/// (actix's optional JSON extractor would take the default for it silently).
fn optional_json<T: Default + serde::de::DeserializeOwned>(body: &web::Bytes) -> Result<T, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| Problem::new(400, format!("request body: {e}")))
}

fn ok<T: Serialize>(v: &T) -> ApiResult {
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(v))
}

fn created<T: Serialize>(v: &T) -> ApiResult {
    Ok(HttpResponse::Created().insert_header(("Cache-Control", "no-store")).json(v))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Latchkey management API", version = "1",
        description = "Manage a Latchkey tenant: Alexa skills, OAuth clients, end users, linked accounts, upstream providers, branding, API keys, members and the audit log. Authenticate with a tenant API key (`Authorization: Bearer lk_…`) or a dashboard session (cookie plus `X-CSRF-Token` on changes). Errors are RFC 9457 problem details."),
    paths(
        skills::list, skills::create, skills::get, skills::update, skills::delete, skills::readiness, skills::simulate, skills::publish,
        smapi::get, smapi::put, smapi::delete,
        clients::list, clients::create, clients::get, clients::update, clients::rotate_secret, clients::delete,
        users::list, users::create, users::get, users::disable, users::enable, users::set_password, users::delete, users::invite, users::password_reset,
        links::list, links::get, links::revoke, links::revoke_grant,
        alexa_events::get, alexa_events::list,
        providers::list, providers::create, providers::update, providers::test, providers::delete,
        keys::list, keys::create, keys::delete,
        members::list, members::invite, members::set_role, members::remove,
        audit::list, branding::get, branding::put, password_policy::get, password_policy::put,
        signing_keys::list, signing_keys::rotate,
        tenants::list, tenants::suspend, tenants::resume,
    ),
    components(schemas(Problem)),
    modifiers(&Security),
    security(("api_key" = []), ("session" = [])),
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("tenant API key")).build(),
            ),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
    }
}

/// Mounted at `/t/{tenant}/api/v1`.
pub fn tenant_routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().limit(64 * 1024).error_handler(problem::json_error))
        .app_data(web::QueryConfig::default().error_handler(problem::query_error))
        .app_data(web::PathConfig::default().error_handler(problem::path_error))
        .route("/skills", web::get().to(skills::list))
        .route("/skills", web::post().to(skills::create))
        .route("/skills/{skill}", web::get().to(skills::get))
        .route("/skills/{skill}", web::patch().to(skills::update))
        .route("/skills/{skill}", web::delete().to(skills::delete))
        .route("/skills/{skill}/readiness", web::get().to(skills::readiness))
        .route("/skills/{skill}/simulate", web::post().to(skills::simulate))
        .route("/skills/{skill}/publish", web::post().to(skills::publish))
        .route("/smapi-credentials", web::get().to(smapi::get))
        .route("/smapi-credentials", web::put().to(smapi::put))
        .route("/smapi-credentials", web::delete().to(smapi::delete))
        .route("/clients", web::get().to(clients::list))
        .route("/clients", web::post().to(clients::create))
        .route("/clients/{client_id}", web::get().to(clients::get))
        .route("/clients/{client_id}", web::patch().to(clients::update))
        .route("/clients/{client_id}", web::delete().to(clients::delete))
        .route("/clients/{client_id}/rotate-secret", web::post().to(clients::rotate_secret))
        .route("/users", web::get().to(users::list))
        .route("/users", web::post().to(users::create))
        .route("/users/invite", web::post().to(users::invite))
        .route("/users/{user}/password-reset", web::post().to(users::password_reset))
        .route("/users/{user}", web::get().to(users::get))
        .route("/users/{user}", web::delete().to(users::delete))
        .route("/users/{user}/disable", web::post().to(users::disable))
        .route("/users/{user}/enable", web::post().to(users::enable))
        .route("/users/{user}/password", web::put().to(users::set_password))
        .route("/alexa/events/{event}", web::get().to(alexa_events::get))
        .route("/skills/{skill}/events", web::get().to(alexa_events::list))
        .route("/links", web::get().to(links::list))
        .route("/links/{link}", web::get().to(links::get))
        .route("/links/{link}/revoke", web::post().to(links::revoke))
        .route("/links/{link}/alexa-grants/{grant}/revoke", web::post().to(links::revoke_grant))
        .route("/providers", web::get().to(providers::list))
        .route("/providers", web::post().to(providers::create))
        .route("/providers/{provider}", web::patch().to(providers::update))
        .route("/providers/{provider}", web::delete().to(providers::delete))
        .route("/providers/{provider}/test", web::post().to(providers::test))
        .route("/api-keys", web::get().to(keys::list))
        .route("/api-keys", web::post().to(keys::create))
        .route("/api-keys/{key}", web::delete().to(keys::delete))
        .route("/members", web::get().to(members::list))
        .route("/members/invitations", web::post().to(members::invite))
        .route("/members/{member}/role", web::put().to(members::set_role))
        .route("/members/{member}", web::delete().to(members::remove))
        .route("/audit", web::get().to(audit::list))
        .route("/branding", web::get().to(branding::get))
        .route("/branding", web::put().to(branding::put))
        .route("/password-policy", web::get().to(password_policy::get))
        .route("/password-policy", web::put().to(password_policy::put))
        .route("/signing-keys", web::get().to(signing_keys::list))
        .route("/signing-keys/rotate", web::post().to(signing_keys::rotate))
        .default_service(web::to(|| async { Problem::new(404, "no such endpoint").into_response() }));
}

/// Mounted at `/api`.
pub fn operator_routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().limit(64 * 1024).error_handler(problem::json_error))
        .app_data(web::PathConfig::default().error_handler(problem::path_error))
        .route("/openapi.json", web::get().to(docs::openapi_json))
        .route("/docs", web::get().to(docs::viewer))
        .route("/v1/tenants", web::get().to(tenants::list))
        .route("/v1/tenants/{tenant}/suspend", web::post().to(tenants::suspend))
        .route("/v1/tenants/{tenant}/resume", web::post().to(tenants::resume))
        .default_service(web::to(|| async { Problem::new(404, "no such endpoint").into_response() }));
}

impl Problem {
    fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}
