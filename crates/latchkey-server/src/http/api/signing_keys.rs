//! `/t/{tenant}/api/v1/signing-keys`: the keys the tenant's JWKS publishes, and rotation (which is also
//! how the tenant's signing algorithm changes).
use actix_web::{HttpRequest, web};
use latchkey_oauth::admin::SigningKeyInfo;
use latchkey_oauth::keys::SigningAlg;

use super::auth::tenant_access;
use super::problem::Problem;
use super::{ApiResult, ok, optional_json};
use crate::app::AppState;

#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSigningKeyBody {
    /// Sign with this algorithm from now on; without it the new key keeps the current key's algorithm.
    pub alg: Option<SigningAlg>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SigningKeyList {
    /// Current first, then the next key of a scheduled rotation and the previous key.
    pub keys: Vec<SigningKeyInfo>,
}

#[utoipa::path(get, path = "/t/{tenant}/api/v1/signing-keys", tag = "signing keys",
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = SigningKeyList), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(state: web::Data<AppState>, req: HttpRequest, tenant: web::Path<String>) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    ok(&SigningKeyList { keys: state.auth.signing_keys(&a).await? })
}

#[utoipa::path(post, path = "/t/{tenant}/api/v1/signing-keys/rotate", tag = "signing keys",
    request_body(content = Option<RotateSigningKeyBody>, description = "optional; without it the new key keeps the current algorithm"),
    params(("tenant" = String, Path, description = "tenant slug")),
    responses((status = 200, body = SigningKeyInfo, description = "the new current key; the one it replaces stays published as previous, so tokens it signed keep verifying"),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn rotate(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> ApiResult {
    let a = tenant_access(&state, &req, &tenant).await?;
    let b: RotateSigningKeyBody = optional_json(&body)?;
    ok(&state.auth.rotate_signing_key(&a, b.alg).await?)
}
