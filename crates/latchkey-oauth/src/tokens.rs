//! Access tokens (RFC 9068 JWT profile) and ID tokens (OIDC Core §2).
use latchkey_store::records::{Client, EndUser};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ServiceResult;
use crate::keys::{TenantKeys, token_hash};
use crate::random;

pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The claims of our access tokens. `fid` names the grant (refresh family) the token came from, so
/// revoking the grant also ends its access tokens.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fid: Option<String>,
}

pub struct IssuedAccessToken {
    pub token: String,
    pub claims: AccessClaims,
}

pub struct AccessTokenSpec<'a> {
    pub issuer: &'a str,
    pub client: &'a Client,
    pub subject: &'a str,
    pub scopes: &'a [String],
    pub family_id: Option<&'a str>,
    pub auth_time: Option<i64>,
    pub now: i64,
}

pub fn issue_access_token(keys: &TenantKeys, spec: AccessTokenSpec<'_>) -> ServiceResult<IssuedAccessToken> {
    let claims = AccessClaims {
        iss: spec.issuer.to_owned(),
        sub: spec.subject.to_owned(),
        aud: spec.client.client_id.clone(),
        exp: spec.now + spec.client.access_token_ttl,
        iat: spec.now,
        jti: random::token(16)?,
        client_id: spec.client.client_id.clone(),
        scope: spec.scopes.join(" "),
        auth_time: spec.auth_time,
        fid: spec.family_id.map(str::to_owned),
    };
    let token = keys.sign(
        ACCESS_TOKEN_TYP,
        &serde_json::to_value(&claims).map_err(|e| crate::ServiceError::internal(e.to_string()))?,
    )?;
    Ok(IssuedAccessToken { token, claims })
}

/// An access token whose signature and `typ` checked out: its claims, and the key that signed it.
pub struct SignedAccessToken {
    pub kid: String,
    pub claims: AccessClaims,
}

/// Verifies one of our access tokens: signature by a published key of this tenant, `typ`, issuer and
/// expiry. Revocation is checked by the caller.
pub fn verify_access_token(keys: &TenantKeys, issuer: &str, token: &str, now: i64) -> Option<AccessClaims> {
    let signed = verify_access_token_signature(keys, token)?;
    signed.claims.is_good_at(issuer, now).then_some(signed.claims)
}

/// The signature and `typ` half of [`verify_access_token`]; issuer and expiry are the caller's.
pub fn verify_access_token_signature(keys: &TenantKeys, token: &str) -> Option<SignedAccessToken> {
    let (kid, typ, claims) = keys.verify_with_kid(token)?;
    if typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
        return None;
    }
    Some(SignedAccessToken { kid, claims: serde_json::from_value(claims).ok()? })
}

impl AccessClaims {
    /// Issued by `issuer` and not expired at `now`.
    pub fn is_good_at(&self, issuer: &str, now: i64) -> bool {
        self.iss == issuer && self.exp > now
    }
}

/// The standard claims a user releases for the granted scopes (OIDC Core §5.4).
pub fn user_claims(user: &EndUser, scopes: &[String]) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("sub".into(), json!(user.id));
    if scopes.iter().any(|s| s == "email") {
        m.insert("email".into(), json!(user.email));
        m.insert("email_verified".into(), json!(user.email_verified));
    }
    if scopes.iter().any(|s| s == "profile")
        && let Some(n) = &user.name
    {
        m.insert("name".into(), json!(n));
    }
    m
}

pub struct IdTokenSpec<'a> {
    pub issuer: &'a str,
    /// The audience, whose registered algorithm signs the token.
    pub client: &'a Client,
    pub user: &'a EndUser,
    pub scopes: &'a [String],
    pub nonce: Option<&'a str>,
    pub auth_time: Option<i64>,
    pub access_token: &'a str,
    pub now: i64,
    pub ttl: i64,
}

pub fn issue_id_token(keys: &TenantKeys, spec: IdTokenSpec<'_>) -> ServiceResult<String> {
    let mut claims = user_claims(spec.user, spec.scopes);
    let alg = spec.client.id_token_signed_response_alg;
    // at_hash: the left half of the access token's hash, with the signature's hash (OIDC Core §3.1.3.6).
    claims.insert("at_hash".into(), json!(token_hash(alg, spec.access_token)));
    claims.insert("iss".into(), json!(spec.issuer));
    claims.insert("aud".into(), json!(spec.client.client_id));
    claims.insert("azp".into(), json!(spec.client.client_id));
    claims.insert("iat".into(), json!(spec.now));
    claims.insert("exp".into(), json!(spec.now + spec.ttl));
    if let Some(t) = spec.auth_time {
        claims.insert("auth_time".into(), json!(t));
    }
    if let Some(n) = spec.nonce {
        claims.insert("nonce".into(), json!(n));
    }
    keys.sign_with(alg, "JWT", &Value::Object(claims))
}
