//! The machine side: token, revocation, introspection, userinfo.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_oauth::token::Form;
use serde_json::json;

use super::extract::{authorization, bearer, form_pairs, require_form};
use super::respond::{bearer_error, json_no_store, oauth_json_error};
use crate::app::AppState;

/// `POST /t/{slug}/oauth2/token`
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(e) = require_form(&req) {
        return oauth_json_error(e.into());
    }
    let t = match state.auth.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return oauth_json_error(e),
    };
    let pairs = form_pairs(&body);
    let grant = pairs
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.as_str())
        .filter(|g| matches!(*g, "authorization_code" | "refresh_token" | "client_credentials"))
        .unwrap_or("other");
    let result = state.auth.token(&t, authorization(&req), &pairs).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(latchkey_oauth::ServiceError::OAuth(o)) => o.code.as_str(),
        Err(_) => "server_error",
    };
    state.metrics.count("token_grants_total", format!("grant_type=\"{grant}\",outcome=\"{outcome}\""));
    // Usage figures for operators: a tally in memory, written out once a second.
    state.auth.count_token_request(&t);
    match result {
        Ok(body) => json_no_store(StatusCode::OK, &body),
        Err(e) => oauth_json_error(e),
    }
}

/// `POST /t/{slug}/oauth2/revoke` (RFC 7009): 200 for any token once the client is authenticated.
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(e) = require_form(&req) {
        return oauth_json_error(e.into());
    }
    let t = match state.auth.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return oauth_json_error(e),
    };
    let pairs = form_pairs(&body);
    let result = async {
        let form = Form::new(&pairs)?;
        let client = state.auth.authenticate_client(&t, authorization(&req), &form).await?;
        let token =
            form.get("token").ok_or_else(|| latchkey_core::OAuthError::invalid_request("'token' is required"))?;
        state.auth.revoke(&t, &client, token, form.get("token_type_hint")).await
    }
    .await;
    match result {
        Ok(()) => json_no_store(StatusCode::OK, &json!({})),
        Err(e) => oauth_json_error(e),
    }
}

/// `POST /t/{slug}/oauth2/introspect` (RFC 7662).
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(e) = require_form(&req) {
        return oauth_json_error(e.into());
    }
    let t = match state.auth.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return oauth_json_error(e),
    };
    let pairs = form_pairs(&body);
    let result = async {
        let form = Form::new(&pairs)?;
        state.auth.introspection_caller(&t, authorization(&req), &form).await?;
        let token =
            form.get("token").ok_or_else(|| latchkey_core::OAuthError::invalid_request("'token' is required"))?;
        state.auth.introspect(&t, token, form.get("token_type_hint")).await
    }
    .await;
    match result {
        Ok(body) => json_no_store(StatusCode::OK, &body),
        Err(e) => oauth_json_error(e),
    }
}

/// `GET|POST /t/{slug}/oauth2/userinfo` — the token in the header, or as `access_token` in a form
/// body (RFC 6750 §2.2).
pub async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let t = match state.auth.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return oauth_json_error(e),
    };
    let from_body = if require_form(&req).is_ok() {
        form_pairs(&body).into_iter().find(|(k, _)| k == "access_token").map(|(_, v)| v)
    } else {
        None
    };
    let token = bearer(&req).or(from_body);
    match state.auth.userinfo(&t, token.as_deref()).await {
        Ok(body) => json_no_store(StatusCode::OK, &body),
        Err(e) => bearer_error(e),
    }
}
