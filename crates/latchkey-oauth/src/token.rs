//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6).
use latchkey_core::client_auth::{self, PresentedCredentials};
use latchkey_core::error::ErrorCode;
use latchkey_core::hashing::{secret_hash, verify_secret};
use latchkey_core::refresh::{self, Decision, RefreshPolicy, RejectReason, TokenState};
use latchkey_core::{OAuthError, pkce, scope};
use latchkey_store::now;
use latchkey_store::records::{
    Client, EndUser, GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_REFRESH_TOKEN, RefreshFamily,
};
use latchkey_store::repo::{FirstUse, RefreshOutcome, RotateRequest};
use serde_json::{Value, json};
use std::time::Duration;

use crate::authorize::{CodeGrant, code_key};
use crate::error::{ServiceError, ServiceResult};
use crate::tokens::{AccessTokenSpec, IdTokenSpec, issue_access_token, issue_id_token};
use crate::{AuthServer, TenantCtx, random};

/// A form body as decoded pairs, with RFC 6749 §3.2's rule that no parameter repeats.
pub struct Form<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Form<'a> {
    pub fn new(pairs: &'a [(String, String)]) -> Result<Self, OAuthError> {
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(p, _)| p == k) {
                return Err(OAuthError::invalid_request(format!("parameter '{k}' was sent more than once")));
            }
        }
        Ok(Self { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    fn require(&self, name: &str) -> Result<&'a str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("'{name}' is required")))
    }
}

/// Which of a client's secrets authenticated a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SecretUsed {
    Current,
    /// The one a rotation replaced, inside its grace period.
    Previous,
}

impl AuthServer {
    /// Authenticates the client of a token, revocation or introspection request exactly as the client
    /// is configured (ALEXA.md §2: a scheme mismatch is named in the error).
    pub async fn authenticate_client(
        &self,
        t: &TenantCtx,
        authorization: Option<&str>,
        form: &Form<'_>,
    ) -> ServiceResult<Client> {
        let presented: PresentedCredentials =
            client_auth::presented(authorization, form.get("client_id"), form.get("client_secret"))?;
        if presented.client_id.len() > 128 {
            return Err(OAuthError::invalid_client("unknown client").into());
        }
        let client = self.cached_client(t.id(), &presented.client_id).await?;
        // Unknown client and wrong secret read the same, so client ids cannot be probed.
        let Some(client) = client else {
            return Err(OAuthError::invalid_client("client authentication failed")
                .with_debug(format!("unknown client_id {}", presented.client_id))
                .into());
        };
        if presented.method != Some(client.auth_method) {
            return Err(client_auth::method_mismatch(client.auth_method, presented.method).into());
        }
        let now = latchkey_store::now();
        let previous = client.previous_secret_hash_at(now);
        let used = match (&client.secret_hash, &presented.secret) {
            (Some(h), Some(s)) if verify_secret(s, h) => SecretUsed::Current,
            (_, Some(s)) if previous.is_some_and(|h| verify_secret(s, h)) => SecretUsed::Previous,
            _ => return Err(OAuthError::invalid_client("client authentication failed").into()),
        };
        if previous.is_some() {
            self.note_secret_used(t, &client, used).await;
        }
        Ok(client)
    }

    /// During a rotation's grace period, the audit log says which secret token requests use, so an
    /// operator sees when Alexa has the new one (at most one entry per client and secret every ten
    /// minutes: Alexa refreshes for every linked user). Never fails the request it describes.
    async fn note_secret_used(&self, t: &TenantCtx, client: &Client, used: SecretUsed) {
        let which = match used {
            SecretUsed::Current => "current",
            SecretUsed::Previous => "previous",
        };
        let key = format!("secret-used:{}:{}:{which}", t.id().as_str(), client.client_id);
        match self.kv.set_nx(&key, b"1", std::time::Duration::from_secs(600)).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return tracing::debug!(error = %e, "secret use not noted"),
        }
        let detail =
            serde_json::json!({"secret": which, "previous_secret_expires_at": client.previous_secret_expires_at});
        let actor = format!("client:{}", client.client_id);
        if let Err(e) =
            self.store.scoped(t.id()).audit(&actor, "client.secret_used", Some(&client.client_id), detail, None).await
        {
            tracing::debug!(error = %e, "secret use not audited");
        }
    }

    /// Handles `POST /token`; returns the JSON success body.
    pub async fn token(
        &self,
        t: &TenantCtx,
        authorization: Option<&str>,
        pairs: &[(String, String)],
    ) -> ServiceResult<Value> {
        let form = Form::new(pairs)?;
        let client = self.authenticate_client(t, authorization, &form).await?;
        self.rate_limit(&format!("token:{}:{}", t.id(), client.client_id), self.config.token_rate_per_client).await?;
        let grant_type = form.require("grant_type")?;
        let known = [GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_CLIENT_CREDENTIALS];
        if !known.contains(&grant_type) {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type '{grant_type}' is not supported"),
            )
            .into());
        }
        if !client.allows_grant(grant_type) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("this client may not use the {grant_type} grant"),
            )
            .into());
        }
        match grant_type {
            GRANT_AUTHORIZATION_CODE => self.code_grant(t, &client, &form).await,
            GRANT_REFRESH_TOKEN => self.refresh_grant(t, &client, &form).await,
            _ => self.client_credentials_grant(t, &client, &form).await,
        }
    }

    async fn code_grant(&self, t: &TenantCtx, client: &Client, form: &Form<'_>) -> ServiceResult<Value> {
        let code = form.require("code")?;
        if code.len() > 128 {
            return Err(OAuthError::invalid_grant("invalid authorization code").into());
        }
        let key = code_key(t.id(), code);
        let used_key = format!("{key}:used");
        // The first redeemer wins; any later attempt is a replay (RFC 6749 §4.1.2).
        let replay_window = Duration::from_secs(600);
        if !self.kv.set_nx(&used_key, b"", replay_window).await? {
            if let Some(fid) =
                self.kv.get(&used_key).await?.and_then(|b| String::from_utf8(b).ok()).filter(|f| !f.is_empty())
            {
                let scoped = self.store.scoped(t.id());
                if scoped.revoke_family(&fid, "code_replay").await? {
                    scoped
                        .audit(
                            "system",
                            "grant.revoked",
                            Some(&fid),
                            json!({"reason": "authorization code replayed", "client_id": client.client_id}),
                            None,
                        )
                        .await?;
                }
            }
            return Err(OAuthError::invalid_grant("authorization code was already used").into());
        }
        let grant: CodeGrant = match self.kv.take(&key).await? {
            Some(b) => serde_json::from_slice(&b).map_err(|e| ServiceError::internal(e.to_string()))?,
            None => return Err(OAuthError::invalid_grant("invalid or expired authorization code").into()),
        };
        if grant.client_id != client.client_id {
            return Err(OAuthError::invalid_grant("authorization code was issued to another client").into());
        }
        match form.get("redirect_uri") {
            Some(r) if r != grant.redirect_uri => {
                return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request").into());
            }
            None if grant.redirect_uri_given => {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri is required (it was in the authorization request)",
                )
                .into());
            }
            _ => {}
        }
        pkce::verify(grant.code_challenge.as_deref(), form.get("code_verifier"))?;
        let scoped = self.store.scoped(t.id());
        let user = scoped
            .user(&grant.user_id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or_else(|| OAuthError::invalid_grant("the user is no longer active"))?;
        let issued_at = now();
        // The grant's id is recorded against the code before the grant is written: if this process dies
        // after the write but before answering, Alexa's retry with the same code is a replay and revokes
        // the grant, so no grant survives that nobody holds (tests/e2e/crash.rs).
        let family_id = latchkey_store::new_id();
        self.kv.set(&used_key, family_id.as_bytes(), replay_window).await?;
        let (family, refresh_token) =
            self.start_grant(t, client, &family_id, &grant.user_id, &grant.scopes, grant.auth_time, issued_at).await?;
        latchkey_store::fault::point("grant.after_commit");
        let keys = self.keys(t.id()).await?;
        let access = issue_access_token(
            &keys,
            AccessTokenSpec {
                issuer: &t.issuer,
                client,
                subject: &user.id,
                scopes: &grant.scopes,
                family_id: Some(&family.id),
                auth_time: Some(grant.auth_time),
                now: issued_at,
            },
        )?;
        let id_token = if grant.scopes.iter().any(|s| s == "openid") {
            Some(issue_id_token(
                &keys,
                IdTokenSpec {
                    issuer: &t.issuer,
                    client,
                    user: &user,
                    scopes: &grant.scopes,
                    nonce: grant.nonce.as_deref(),
                    auth_time: Some(grant.auth_time),
                    access_token: &access.token,
                    now: issued_at,
                    ttl: self.config.id_token_ttl,
                },
            )?)
        } else {
            None
        };
        Ok(token_body(
            &access.token,
            client.access_token_ttl,
            refresh_token.as_deref(),
            &grant.scopes,
            id_token.as_deref(),
        ))
    }

    /// Starts the family for a new grant: with a refresh token when the client may refresh.
    #[allow(clippy::too_many_arguments)]
    async fn start_grant(
        &self,
        t: &TenantCtx,
        client: &Client,
        family_id: &str,
        user_id: &str,
        scopes: &[String],
        auth_time: i64,
        issued_at: i64,
    ) -> ServiceResult<(RefreshFamily, Option<String>)> {
        let scoped = self.store.scoped(t.id());
        if client.allows_grant(GRANT_REFRESH_TOKEN) {
            let rt = random::secret()?;
            let expires = client.refresh_token_ttl.map(|ttl| issued_at + ttl);
            let fam = scoped
                .start_family(family_id, &client.id, Some(user_id), scopes, Some(auth_time), &secret_hash(&rt), expires)
                .await?;
            Ok((fam, Some(rt)))
        } else {
            Ok((
                scoped.start_tokenless_family(family_id, &client.id, Some(user_id), scopes, Some(auth_time)).await?,
                None,
            ))
        }
    }

    async fn refresh_grant(&self, t: &TenantCtx, client: &Client, form: &Form<'_>) -> ServiceResult<Value> {
        let presented = form.require("refresh_token")?;
        let scoped = self.store.scoped(t.id());
        if presented.len() > 256 {
            return Err(unusable_refresh_token().into());
        }
        let presented_hash = secret_hash(presented);
        let issued_at = now();
        let child_expires_at = client.refresh_token_ttl.map(|ttl| issued_at + ttl);
        // The common case in one trip to the database: a first use, under a rotating policy, with the
        // scope as granted (first_use.rs). Any other state falls through to the general path below.
        if matches!(client.refresh_policy, RefreshPolicy::Rotate { .. }) && form.get("scope").is_none() {
            let child = random::secret()?;
            let first_use = FirstUse {
                token_hash: &presented_hash,
                client_row_id: &client.id,
                child_hash: secret_hash(&child),
                child_expires_at,
            };
            if let Some(record) = scoped.rotate_on_first_use(first_use).await? {
                latchkey_store::fault::point("rotate.after_commit");
                let user = self.refreshing_user(t, &record.family).await?;
                let (family, scopes) = (&record.family, &record.family.scopes);
                let answer = Refreshed { family, user: user.as_ref(), scopes, refresh_token: &child, issued_at };
                return self.refresh_response(t, client, answer).await;
            }
        }
        let Some(record) = scoped.refresh_token_by_hash(&presented_hash).await? else {
            return Err(unusable_refresh_token().into());
        };
        if record.family.client_id != client.id {
            return Err(OAuthError::invalid_grant("refresh token was issued to another client").into());
        }
        let state = TokenState {
            used_at: record.used_at,
            last_used_at: record.last_used_at,
            created_at: record.created_at,
            expires_at: record.expires_at,
            family_revoked: record.family.revoked_at.is_some(),
        };
        let decision = refresh::decide(client.refresh_policy, state, issued_at);
        let scopes = scope::narrow(form.get("scope"), &record.family.scopes)?;
        let user = self.refreshing_user(t, &record.family).await?;
        let refresh_token = match decision {
            Decision::Reject(reason) => {
                let why = match reason {
                    RejectReason::Revoked => "refresh token has been revoked",
                    RejectReason::Expired => "refresh token has expired",
                    RejectReason::Idle => "refresh token expired after being unused too long",
                };
                return Err(OAuthError::invalid_grant(why).into());
            }
            Decision::ReuseDetected => {
                scoped.revoke_family(&record.family.id, "refresh_reuse").await?;
                scoped
                    .audit(
                        "system",
                        "grant.revoked",
                        Some(&record.family.id),
                        json!({"reason": "refresh token reused after the grace window", "client_id": client.client_id}),
                        None,
                    )
                    .await?;
                return Err(
                    OAuthError::invalid_grant("refresh token was already used; the grant has been revoked").into()
                );
            }
            Decision::Keep => {
                scoped.touch_refresh_token(&record).await?;
                presented.to_owned()
            }
            Decision::Rotate | Decision::GraceRetry => {
                let mut first_use = decision == Decision::Rotate;
                loop {
                    let child = random::secret()?;
                    let outcome = scoped
                        .rotate_refresh_token(RotateRequest {
                            parent: &record,
                            child_hash: secret_hash(&child),
                            child_expires_at,
                            first_use,
                        })
                        .await?;
                    match outcome {
                        RefreshOutcome::Issued => {
                            latchkey_store::fault::point("rotate.after_commit");
                            break child;
                        }
                        // Someone used it a moment ago: this is a retry inside the grace window.
                        RefreshOutcome::LostRace if first_use => first_use = false,
                        RefreshOutcome::LostRace => return Err(unusable_refresh_token().into()),
                    }
                }
            }
        };
        let (family, refresh_token) = (&record.family, &refresh_token);
        let answer = Refreshed { family, user: user.as_ref(), scopes: &scopes, refresh_token, issued_at };
        self.refresh_response(t, client, answer).await
    }

    /// The user a refresh is for, if its grant has one. From the cache: this process forgets a user the
    /// moment it disables or deletes them, and every other instance within the revocation bound
    /// (revocation_feed.rs). A disabled or deleted user's refresh is `invalid_grant`.
    async fn refreshing_user(&self, t: &TenantCtx, family: &RefreshFamily) -> ServiceResult<Option<EndUser>> {
        let Some(id) = &family.user_id else { return Ok(None) };
        let user = self.cached_user(t.id(), id).await?.filter(|u| !u.disabled);
        Ok(Some(user.ok_or_else(unusable_refresh_token)?))
    }

    /// The token response to a refresh that kept or rotated its token: a new access token, and an ID
    /// token when `openid` is among the scopes and the grant has a user.
    async fn refresh_response(&self, t: &TenantCtx, client: &Client, answer: Refreshed<'_>) -> ServiceResult<Value> {
        let Refreshed { family, user, scopes, refresh_token, issued_at } = answer;
        let keys = self.keys(t.id()).await?;
        let subject = user.map_or(client.client_id.as_str(), |u| u.id.as_str());
        let access = issue_access_token(
            &keys,
            AccessTokenSpec {
                issuer: &t.issuer,
                client,
                subject,
                scopes,
                family_id: Some(&family.id),
                auth_time: family.auth_time,
                now: issued_at,
            },
        )?;
        let id_token = match user {
            Some(u) if scopes.iter().any(|s| s == "openid") => Some(issue_id_token(
                &keys,
                IdTokenSpec {
                    issuer: &t.issuer,
                    client,
                    user: u,
                    scopes,
                    nonce: None,
                    auth_time: family.auth_time,
                    access_token: &access.token,
                    now: issued_at,
                    ttl: self.config.id_token_ttl,
                },
            )?),
            _ => None,
        };
        Ok(token_body(&access.token, client.access_token_ttl, Some(refresh_token), scopes, id_token.as_deref()))
    }

    async fn client_credentials_grant(&self, t: &TenantCtx, client: &Client, form: &Form<'_>) -> ServiceResult<Value> {
        // User-facing scopes mean nothing without a user.
        let allowed: Vec<String> = client
            .scopes
            .iter()
            .filter(|s| !matches!(s.as_str(), "openid" | "profile" | "email" | "offline_access"))
            .cloned()
            .collect();
        let scopes = scope::resolve(form.get("scope"), &allowed)?;
        let keys = self.keys(t.id()).await?;
        let access = issue_access_token(
            &keys,
            AccessTokenSpec {
                issuer: &t.issuer,
                client,
                subject: &client.client_id,
                scopes: &scopes,
                family_id: None,
                auth_time: None,
                now: now(),
            },
        )?;
        Ok(token_body(&access.token, client.access_token_ttl, None, &scopes, None))
    }
}

/// What a refresh that kept or rotated its token answers with.
struct Refreshed<'a> {
    family: &'a RefreshFamily,
    user: Option<&'a EndUser>,
    scopes: &'a [String],
    /// The refresh token to hand back: the child, or the presented one under a fixed policy.
    refresh_token: &'a str,
    issued_at: i64,
}

/// The answer to a refresh token that is unknown, or whose grant or user is gone: one message for all,
/// so that it says nothing about which.
fn unusable_refresh_token() -> OAuthError {
    OAuthError::invalid_grant("invalid, expired or revoked refresh token")
}

/// RFC 6749 §5.1.
fn token_body(access: &str, ttl: i64, refresh: Option<&str>, scopes: &[String], id_token: Option<&str>) -> Value {
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scopes.join(" "),
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    if let Some(i) = id_token {
        body["id_token"] = json!(i);
    }
    body
}
