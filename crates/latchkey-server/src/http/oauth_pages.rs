//! The browser side of the authorization endpoint: `/authorize`, the sign-in form and the consent form.
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_core::authorize::AuthorizeParams;
use latchkey_oauth::TenantCtx;
use latchkey_oauth::authorize::{LoginAttempt, Step, StepOutcome};

use super::extract::{client_ip, cookie, form_pairs};
use super::respond::{error_page_response, page, redirect};
use crate::app::AppState;
use crate::pages::{consent::ConsentView, login::LoginView};
use crate::pages::{consent_page, error_page, federation_error_page, login_page};

const BROWSER_COOKIE: &str = "lk_browser";
const SESSION_COOKIE: &str = "lk_session";

fn make_cookie(
    state: &AppState,
    t: &TenantCtx,
    name: &'static str,
    value: String,
    max_age_secs: i64,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(format!("/t/{}/", t.tenant.slug))
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(max_age_secs))
        .finish()
}

/// "Continue with …" links for a flow.
async fn provider_links(state: &AppState, t: &TenantCtx, flow_id: &str) -> Vec<(String, String)> {
    let providers = state.auth.sign_in_providers(t).await;
    providers
        .into_iter()
        .map(|p| (p.name, format!("/t/{}/federation/{}/start?flow={flow_id}", t.tenant.slug, p.slug)))
        .collect()
}

/// Renders a step, setting the cookies it needs.
async fn render(
    state: &AppState,
    t: &TenantCtx,
    outcome: StepOutcome,
    email: &str,
    new_browser: Option<String>,
) -> HttpResponse {
    let slug = &t.tenant.slug;
    let providers = match &outcome.step {
        Step::Login { flow, .. } => provider_links(state, t, &flow.id).await,
        _ => Vec::new(),
    };
    let mut resp = match &outcome.step {
        Step::Login { flow, error } => {
            let action = format!("/t/{slug}/login");
            let status = error.as_ref().and_then(|e| StatusCode::from_u16(e.status).ok()).unwrap_or(StatusCode::OK);
            page(
                status,
                login_page(&LoginView {
                    tenant: &t.tenant,
                    action: &action,
                    flow_id: &flow.id,
                    csrf: &flow.csrf,
                    client_name: &flow.client_name,
                    email,
                    error: error.as_ref().map(|e| e.message.as_str()),
                    // Password-less tenants still get the form if no provider is configured: never a dead end.
                    password: t.tenant.settings.login_methods.as_deref() != Some("federated") || providers.is_empty(),
                    providers: &providers,
                }),
            )
        }
        Step::Consent { flow } => {
            let action = format!("/t/{slug}/consent");
            page(
                StatusCode::OK,
                consent_page(&ConsentView {
                    tenant: &t.tenant,
                    action: &action,
                    flow_id: &flow.id,
                    csrf: &flow.csrf,
                    client_name: &flow.client_name,
                    scopes: &flow.request.scopes,
                }),
            )
        }
        Step::Redirect { url } => redirect(url),
        Step::ErrorPage { error } => page(
            StatusCode::BAD_REQUEST,
            error_page(
                Some(&t.tenant),
                "This link request cannot continue",
                &error.description,
                Some(error.code.as_str()),
            ),
        ),
        Step::FederationError { message, back_to_flow } => {
            let back = back_to_flow.as_ref().map(|f| format!("/t/{slug}/login?flow={f}"));
            page(StatusCode::BAD_REQUEST, federation_error_page(&t.tenant, message, back.as_deref()))
        }
    };
    let ttl = state.auth.config.session_ttl.as_secs() as i64;
    if let Some(b) = new_browser {
        let _ = resp.add_cookie(&make_cookie(state, t, BROWSER_COOKIE, b, 365 * 86_400));
    }
    if let Some(sid) = outcome.new_session {
        let _ = resp.add_cookie(&make_cookie(state, t, SESSION_COOKIE, sid, ttl));
    }
    resp
}

async fn authorize_with(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: &str,
    pairs: Vec<(String, String)>,
) -> HttpResponse {
    let t = match state.auth.tenant(slug).await {
        Ok(t) => t,
        Err(e) => return error_page_response(None, e),
    };
    let (browser, new_browser) = match cookie(&req, BROWSER_COOKIE) {
        Some(b) => (b, None),
        None => match latchkey_oauth::random::token(16) {
            Ok(b) => (b.clone(), Some(b)),
            Err(e) => return error_page_response(Some(&t.tenant), e),
        },
    };
    let params = AuthorizeParams::from_pairs(pairs);
    let hint = params.login_hint.clone().unwrap_or_default();
    let session = cookie(&req, SESSION_COOKIE);
    let ip = crate::http::extract::client_ip(&req, &state.trusted_proxies);
    match state.auth.authorize(&t, params, &browser, session.as_deref(), &ip).await {
        Ok(outcome) => render(&state, &t, outcome, &hint, new_browser).await,
        Err(e) => error_page_response(Some(&t.tenant), e),
    }
}

/// `GET /t/{slug}/oauth2/authorize`
pub async fn authorize_get(state: web::Data<AppState>, req: HttpRequest, slug: web::Path<String>) -> HttpResponse {
    let pairs = form_pairs(req.query_string().as_bytes());
    authorize_with(state, req, &slug, pairs).await
}

/// `POST /t/{slug}/oauth2/authorize` (OIDC Core §3.1.2.1 allows form-encoded POST).
pub async fn authorize_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    authorize_with(state, req, &slug, form_pairs(&body)).await
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

/// `POST /t/{slug}/login`
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let t = match state.auth.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return error_page_response(None, e),
    };
    let pairs = form_pairs(&body);
    let email = field(&pairs, "email");
    let browser = cookie(&req, BROWSER_COOKIE);
    let ip = client_ip(&req, &state.trusted_proxies);
    let r = state
        .auth
        .login(
            &t,
            LoginAttempt {
                flow_id: field(&pairs, "flow"),
                csrf_form: field(&pairs, "csrf"),
                browser: browser.as_deref(),
                email,
                password: field(&pairs, "password"),
                ip: &ip,
            },
        )
        .await;
    if let Ok(StepOutcome { step: Step::Login { error: Some(e), .. }, .. }) = &r {
        let reason = match e.status {
            429 => "rate_limited",
            401 => "bad_credentials",
            _ => "incomplete",
        };
        state.metrics.count("login_failures_total", format!("reason=\"{reason}\""));
    }
    match r {
        Ok(outcome) => render(&state, &t, outcome, email.trim(), None).await,
        Err(e) => error_page_response(Some(&t.tenant), e),
    }
}

/// `POST /t/{slug}/consent`
pub async fn consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let t = match state.auth.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return error_page_response(None, e),
    };
    let pairs = form_pairs(&body);
    let allow = match field(&pairs, "decision") {
        "allow" => true,
        "deny" => false,
        _ => {
            return page(
                StatusCode::BAD_REQUEST,
                error_page(
                    Some(&t.tenant),
                    "Choose Allow or Deny",
                    "The form did not say whether you allow access.",
                    Some("invalid_request"),
                ),
            );
        }
    };
    let browser = cookie(&req, BROWSER_COOKIE);
    match state.auth.consent(&t, field(&pairs, "flow"), field(&pairs, "csrf"), browser.as_deref(), allow).await {
        Ok(outcome) => render(&state, &t, outcome, "", None).await,
        Err(e) => error_page_response(Some(&t.tenant), e),
    }
}

/// `GET /t/{slug}/login?flow=…`: the sign-in form of a flow again (the way back from a failed
/// upstream sign-in).
pub async fn login_again(state: web::Data<AppState>, req: HttpRequest, slug: web::Path<String>) -> HttpResponse {
    let t = match state.auth.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return error_page_response(None, e),
    };
    let q = form_pairs(req.query_string().as_bytes());
    let browser = cookie(&req, BROWSER_COOKIE);
    match state.auth.flow_for_browser(&t, field(&q, "flow"), browser.as_deref()).await {
        Ok(Some(flow)) => render(&state, &t, Step::Login { flow, error: None }.into(), "", None).await,
        Ok(None) => page(
            StatusCode::BAD_REQUEST,
            error_page(
                Some(&t.tenant),
                "This sign-in request has expired",
                "Go back to the app and start linking again.",
                None,
            ),
        ),
        Err(e) => error_page_response(Some(&t.tenant), e),
    }
}

/// `GET /t/{slug}/federation/{provider}/start?flow=…`
pub async fn federation_start(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (slug, provider) = path.into_inner();
    let t = match state.auth.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return error_page_response(None, e),
    };
    let q = form_pairs(req.query_string().as_bytes());
    let browser = cookie(&req, BROWSER_COOKIE);
    match state.auth.federation_start(&t, &provider, field(&q, "flow"), browser.as_deref()).await {
        Ok(outcome) => render(&state, &t, outcome, "", None).await,
        Err(e) => error_page_response(Some(&t.tenant), e),
    }
}

/// `GET /t/{slug}/federation/{provider}/callback`
pub async fn federation_callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (slug, provider) = path.into_inner();
    let t = match state.auth.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return error_page_response(None, e),
    };
    let q = form_pairs(req.query_string().as_bytes());
    let browser = cookie(&req, BROWSER_COOKIE);
    let ip = client_ip(&req, &state.trusted_proxies);
    match state.auth.federation_callback(&t, &provider, &q, browser.as_deref(), &ip).await {
        Ok(outcome) => render(&state, &t, outcome, "", None).await,
        Err(e) => error_page_response(Some(&t.tenant), e),
    }
}
