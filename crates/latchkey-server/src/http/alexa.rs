//! The skill backend's endpoints: directives (AcceptGrant, skill events) and events to Alexa. Every
//! call needs a tenant API key as `Authorization: Bearer`.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_alexa::{AlexaError, EventRequest, outcome_label};
use latchkey_oauth::TenantCtx;
use serde_json::Value;

use super::extract::bearer;
use crate::app::AppState;

fn error(e: AlexaError) -> HttpResponse {
    if let AlexaError::Service(s) = &e {
        s.log("alexa");
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        resp.insert_header(("WWW-Authenticate", "Bearer realm=\"latchkey\""));
    }
    if let Some(s) = e.retry_after() {
        resp.insert_header(("Retry-After", s.to_string()));
    }
    resp.json(e.body())
}

/// Resolves the tenant, checks the API key and parses the JSON body.
async fn prepare(
    state: &AppState,
    req: &HttpRequest,
    slug: &str,
    body: &[u8],
) -> Result<(TenantCtx, Value), AlexaError> {
    let t = state.auth.tenant(slug).await.map_err(AlexaError::from)?;
    state.alexa.authenticate(&t, bearer(req).as_deref()).await?;
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| AlexaError::bad_request(format!("the body is not valid JSON: {e}")))?;
    Ok((t, json))
}

#[derive(serde::Deserialize)]
pub struct DirectiveQuery {
    /// NA, EU or FE: the region of the skill endpoint that received the directive.
    region: Option<String>,
}

/// `POST /t/{slug}/alexa/directives[?region=NA|EU|FE]`
pub async fn directives(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    query: web::Query<DirectiveQuery>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (t, json) = prepare(&state, &req, &slug, &body).await?;
        let region = match query.region.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) => Some(r.parse().map_err(AlexaError::bad_request)?),
            None => None,
        };
        state.alexa.handle_directive(&t, &json, region).await
    }
    .await;
    // AcceptGrant's Login with Amazon exchange failing is answered as an Alexa ErrorResponse (200).
    let outcome = match &result {
        Ok(v) if v["event"]["header"]["name"] == "ErrorResponse" => "error_response".to_owned(),
        Ok(_) => "ok".to_owned(),
        Err(e) => e.status().to_string(),
    };
    state.metrics.count("alexa_directives_total", format!("outcome=\"{outcome}\""));
    match result {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(e) => error(e),
    }
}

#[derive(serde::Deserialize)]
pub struct EventsQuery {
    /// `true`: wait for the gateway's answers instead of 202 once stored.
    #[serde(default)]
    wait: bool,
}

/// `POST /t/{slug}/alexa/events[?wait=true]`: by default `202 Accepted` once the event is stored for
/// every destination, delivered by the outbox workers; with `wait=true`, the gateway's outcome.
pub async fn events(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    query: web::Query<EventsQuery>,
    body: web::Bytes,
) -> HttpResponse {
    if !query.wait {
        let result = async {
            let (t, json) = prepare(&state, &req, &slug, &body).await?;
            let ev = EventRequest::parse(&json)?;
            state.alexa.accept_event(&t, &ev).await
        }
        .await;
        let outcome = match &result {
            Ok(_) => "stored".to_owned(),
            Err(e) => outcome_label(Err(e)),
        };
        state.metrics.count("alexa_events_total", format!("outcome=\"{outcome}\""));
        return match result {
            Ok(v) => HttpResponse::Accepted().json(v),
            Err(e) => error(e),
        };
    }
    let result = async {
        let (t, json) = prepare(&state, &req, &slug, &body).await?;
        let ev = EventRequest::parse(&json)?;
        state.alexa.send_event(&t, &ev).await
    }
    .await;
    let outcomes = match &result {
        Ok(d) => {
            for via in d.disabled_via() {
                state.metrics.count("alexa_grants_disabled_total", format!("via=\"{via}\""));
            }
            d.outcome_labels()
        }
        Err(e) => vec![outcome_label(Err(e))],
    };
    for outcome in outcomes {
        state.metrics.count("alexa_events_total", format!("outcome=\"{outcome}\""));
    }
    match result {
        Ok(d) => {
            HttpResponse::build(StatusCode::from_u16(d.http_status()).unwrap_or(StatusCode::ACCEPTED)).json(d.body())
        }
        Err(e) => error(e),
    }
}

/// `POST /t/{slug}/alexa/events/batch[?wait=true]`
pub async fn events_batch(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    query: web::Query<EventsQuery>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (t, json) = prepare(&state, &req, &slug, &body).await?;
        state.alexa.send_events(&t, &json, query.wait).await
    }
    .await;
    match result {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(e) => error(e),
    }
}

/// `POST /t/{slug}/alexa/app-to-app`
pub async fn app_to_app(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let (t, json) = prepare(&state, &req, &slug, &body).await?;
        let r = latchkey_alexa::app_to_app::AppToAppRequest::parse(&json)?;
        state.alexa.app_to_app(&t, &r).await
    }
    .await;
    match result {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(e) => error(e),
    }
}

/// `GET /t/{slug}/alexa/skills/{skill}/readiness`
pub async fn readiness(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (slug, skill) = path.into_inner();
    let result = async {
        let t = state.auth.tenant(&slug).await.map_err(AlexaError::from)?;
        state.alexa.authenticate(&t, bearer(&req).as_deref()).await?;
        state.alexa.readiness(&t, &skill).await
    }
    .await;
    match result {
        Ok(r) => HttpResponse::Ok().json(r),
        Err(e) => error(e),
    }
}
