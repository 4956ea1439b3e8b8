//! `/t/{slug}/password` (choose a password from a mailed link) and `/t/{slug}/password/forgot`.
//! The link's token is only spent by the form post, never by opening the page, so mail scanners that
//! fetch links cannot use it up.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_oauth::ServiceError;

use super::extract::{client_ip, form_pairs};
use super::respond::{error_page_response, page};
use crate::app::AppState;
use crate::pages::password::{forgot_page, forgot_sent_page, password_set_page, set_password_page};

/// The tenant of the path, or the error page to answer instead.
async fn tenant(state: &AppState, slug: &str) -> Result<latchkey_oauth::TenantCtx, HttpResponse> {
    state.auth.tenant(slug).await.map_err(|e| error_page_response(None, e))
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// A flow id worth carrying back to the sign-in page (ours are short and URL-safe).
fn flow_param(pairs: &[(String, String)]) -> Option<&str> {
    field(pairs, "flow")
        .filter(|f| f.len() <= 128 && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

pub async fn set_password_form(state: web::Data<AppState>, req: HttpRequest, slug: web::Path<String>) -> HttpResponse {
    let t = match tenant(&state, &slug).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let q = form_pairs(req.query_string().as_bytes());
    match field(&q, "token").filter(|t| t.len() <= 128) {
        Some(token) => page(StatusCode::OK, set_password_page(&t.tenant, token, None)),
        None => error_page_response(
            Some(&t.tenant),
            ServiceError::Invalid("this password link is incomplete; open the link from the mail again".into()),
        ),
    }
}

pub async fn set_password(state: web::Data<AppState>, slug: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let t = match tenant(&state, &slug).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let f = form_pairs(&body);
    let (Some(token), password) = (field(&f, "token").filter(|t| t.len() <= 128), field(&f, "password").unwrap_or(""))
    else {
        return error_page_response(Some(&t.tenant), ServiceError::Invalid("the form is incomplete".into()));
    };
    // A password the policy refuses does not spend the link: the form again, with the reason.
    if let Err(e) = latchkey_oauth::password::PasswordHasher::check_policy(password) {
        return page(StatusCode::BAD_REQUEST, set_password_page(&t.tenant, token, Some(&e.to_string())));
    }
    match state.auth.set_password_from_link(&t, token, password).await {
        Ok(_) => page(StatusCode::OK, password_set_page(&t.tenant)),
        Err(e) => error_page_response(Some(&t.tenant), e),
    }
}

pub async fn forgot_form(state: web::Data<AppState>, req: HttpRequest, slug: web::Path<String>) -> HttpResponse {
    let t = match tenant(&state, &slug).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let q = form_pairs(req.query_string().as_bytes());
    page(StatusCode::OK, forgot_page(&t.tenant, flow_param(&q), None))
}

pub async fn forgot(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let t = match tenant(&state, &slug).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let f = form_pairs(&body);
    let flow = flow_param(&f);
    let ip = client_ip(&req, &state.trusted_proxies);
    match state.auth.request_user_password_reset(&t, field(&f, "email").unwrap_or(""), &ip).await {
        Ok(()) => page(StatusCode::OK, forgot_sent_page(&t.tenant, flow)),
        Err(ServiceError::Invalid(m)) => page(StatusCode::BAD_REQUEST, forgot_page(&t.tenant, flow, Some(&m))),
        Err(ServiceError::RateLimited { .. }) => page(
            StatusCode::TOO_MANY_REQUESTS,
            forgot_page(&t.tenant, flow, Some("Too many requests from here; try again in an hour.")),
        ),
        Err(e) => error_page_response(Some(&t.tenant), e),
    }
}
