//! Discovery documents and the JWKS.
use actix_web::{HttpResponse, web};

use super::respond::{json_public, oauth_json_error};
use crate::app::AppState;

pub async fn openid_configuration(state: web::Data<AppState>, slug: web::Path<String>) -> HttpResponse {
    let t = match state.auth.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return oauth_json_error(e),
    };
    json_public(&state.auth.discovery(&t), 300)
}

pub async fn jwks(state: web::Data<AppState>, slug: web::Path<String>) -> HttpResponse {
    let t = match state.auth.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return oauth_json_error(e),
    };
    match state.auth.keys(t.id()).await {
        // Short max-age: after a rotation, verifiers must see the new key soon.
        Ok(k) => json_public(k.jwks(), 300),
        Err(e) => oauth_json_error(e),
    }
}
