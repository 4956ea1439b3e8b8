//! The authorization endpoint as a small state machine: request → login → consent → code.
//!
//! The validated request lives in the KV store as a *flow* while the user signs in, so any instance can
//! carry it on. Each form post names the flow and carries its CSRF token, which must also match the
//! cookie set when the flow began: that binds the flow to the browser that started it.
use latchkey_core::authorize::{self as rules, AuthorizeParams, ClientView, Rejection, ValidatedAuthorization};
use latchkey_core::error::ErrorCode;
use latchkey_core::hashing::{constant_time_eq, secret_hash};
use latchkey_core::{OAuthError, TenantId};
use latchkey_store::now;
use latchkey_store::records::{Client, GRANT_AUTHORIZATION_CODE};
use serde::{Deserialize, Serialize};

use crate::error::{ServiceError, ServiceResult};
use crate::{AuthServer, TenantCtx, random};

/// A sign-in in progress.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flow {
    pub id: String,
    pub csrf: String,
    /// The `lk_browser` cookie of the browser that began the flow.
    pub browser: String,
    pub request: ValidatedAuthorization,
    pub client_row_id: String,
    pub client_name: String,
    pub user_id: Option<String>,
    pub auth_time: Option<i64>,
}

/// A signed-in browser (the `lk_session` cookie), per tenant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    pub user_id: String,
    pub auth_time: i64,
    /// When the session began, in milliseconds: a password change ends the sessions begun before it.
    #[serde(default)]
    pub started_ms: i64,
}

/// What an authorization code stands for until it is redeemed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub client_row_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
}

/// Where the browser goes next.
#[derive(Debug)]
pub enum Step {
    /// Show the sign-in form, with an inline error after a failed attempt.
    Login { flow: Flow, error: Option<LoginError> },
    /// Ask the user to allow the client.
    Consent { flow: Flow },
    /// Send the browser to the client (a code, or an error the client should see).
    Redirect { url: String },
    /// Show an error on our own page: the client or redirect URI cannot be trusted, or the flow is gone.
    ErrorPage { error: OAuthError },
    /// Signing in with an upstream provider failed: say why, and offer the way back to the sign-in form
    /// of the flow when it is still alive.
    FederationError { message: String, back_to_flow: Option<String> },
}

#[derive(Debug, Clone)]
pub struct LoginError {
    pub message: String,
    /// 401 for bad credentials, 429 when rate-limited.
    pub status: u16,
}

/// One post of the sign-in form.
pub struct LoginAttempt<'a> {
    pub flow_id: &'a str,
    pub csrf_form: &'a str,
    pub browser: Option<&'a str>,
    pub email: &'a str,
    pub password: &'a str,
    pub ip: &'a str,
}

pub struct StepOutcome {
    pub step: Step,
    /// A new sign-in session to set as a cookie.
    pub new_session: Option<String>,
}

impl From<Step> for StepOutcome {
    fn from(step: Step) -> Self {
        Self { step, new_session: None }
    }
}

fn flow_key(t: &TenantId, id: &str) -> String {
    format!("flow:{t}:{id}")
}
fn session_key(t: &TenantId, id: &str) -> String {
    format!("sess:{t}:{id}")
}
pub(crate) fn code_key(t: &TenantId, code: &str) -> String {
    format!("code:{t}:{}", secret_hash(code))
}

fn expired_flow() -> Step {
    Step::ErrorPage {
        error: OAuthError::invalid_request(
            "This sign-in request has expired or was already used. Go back to the app and start linking again.",
        ),
    }
}

impl AuthServer {
    /// Handles `GET|POST /authorize`.
    pub async fn authorize(
        &self,
        t: &TenantCtx,
        params: AuthorizeParams,
        browser: &str,
        session_id: Option<&str>,
        ip: &str,
    ) -> ServiceResult<StepOutcome> {
        let client_id = match rules::precheck(&params) {
            Ok(c) => c.to_owned(),
            Err(Rejection::Page(error)) => return Ok(Step::ErrorPage { error }.into()),
            Err(Rejection::Redirect { .. }) => return Err(ServiceError::internal("precheck cannot redirect")),
        };
        let Some(client) = self.store.scoped(t.id()).client(&client_id).await? else {
            return Ok(Step::ErrorPage {
                error: OAuthError::new(ErrorCode::InvalidClient, format!("unknown client_id '{client_id}'")),
            }
            .into());
        };
        let view = ClientView {
            redirect_uris: &client.redirect_uris,
            allowed_scopes: &client.scopes,
            require_pkce: client.require_pkce,
            allows_authorization_code: client.allows_grant(GRANT_AUTHORIZATION_CODE),
        };
        let request = match rules::validate(&params, &view) {
            Ok(r) => r,
            Err(Rejection::Page(error)) => return Ok(Step::ErrorPage { error }.into()),
            Err(Rejection::Redirect { redirect_uri, error, state }) => {
                return Ok(Step::Redirect {
                    url: rules::error_redirect(&redirect_uri, &error, state.as_deref(), &t.issuer),
                }
                .into());
            }
        };
        let mut flow = Flow {
            id: random::token(16)?,
            csrf: random::token(16)?,
            browser: browser.to_owned(),
            request,
            client_row_id: client.id.clone(),
            client_name: client.name.clone(),
            user_id: None,
            auth_time: None,
        };
        // An existing sign-in session satisfies login unless the client asked for a fresh one.
        if let Some(sid) = session_id
            && !flow.request.prompt.login
            && let Some(session) = self.session(t.id(), sid).await?
            && flow.request.max_age.is_none_or(|m| now() - session.auth_time <= m)
            && self.active_user(t.id(), &session.user_id).await?
        {
            flow.user_id = Some(session.user_id);
            flow.auth_time = Some(session.auth_time);
        }
        // A flow stored for an anonymous visitor: bounded per address and tenant.
        if flow.user_id.is_none() && !flow.request.prompt.none {
            self.limit_new_flows(t.id(), ip).await?;
        }
        self.advance(t, flow, &client).await.map(Into::into)
    }

    /// Counts a new anonymous flow for `ip`; `RateLimited` past `flows_per_ip_minute`.
    async fn limit_new_flows(&self, t: &TenantId, ip: &str) -> ServiceResult<()> {
        if !self.config.per_ip_limits || self.config.flows_per_ip_minute <= 0 {
            return Ok(());
        }
        let key = format!("rl:flows:{t}:{ip}");
        self.window_limit(&key, self.config.flows_per_ip_minute, std::time::Duration::from_secs(60)).await
    }

    async fn session(&self, t: &TenantId, sid: &str) -> ServiceResult<Option<Session>> {
        if sid.len() > 64 {
            return Ok(None);
        }
        let session: Option<Session> =
            self.kv.get(&session_key(t, sid)).await?.and_then(|b| serde_json::from_slice(&b).ok());
        match session {
            Some(s) if !self.session_ended(t, &s.user_id, s.started_ms).await? => Ok(Some(s)),
            _ => Ok(None),
        }
    }

    async fn active_user(&self, t: &TenantId, user_id: &str) -> ServiceResult<bool> {
        Ok(self.store.scoped(t).user(user_id).await?.is_some_and(|u| !u.disabled))
    }

    /// Moves a flow to its next step: login, consent, or the code.
    async fn advance(&self, t: &TenantCtx, flow: Flow, client: &Client) -> ServiceResult<Step> {
        let req = &flow.request;
        let deny = |code: ErrorCode, msg: &str| Step::Redirect {
            url: rules::error_redirect(&req.redirect_uri, &OAuthError::new(code, msg), req.state.as_deref(), &t.issuer),
        };
        let Some(user_id) = flow.user_id.clone() else {
            if req.prompt.none {
                return Ok(deny(ErrorCode::LoginRequired, "the user is not signed in"));
            }
            self.save_flow(t.id(), &flow).await?;
            return Ok(Step::Login { flow, error: None });
        };
        let link = self.store.scoped(t.id()).link(&user_id, &client.id).await?;
        let consented =
            link.as_ref().is_some_and(|l| l.status == "active" && req.scopes.iter().all(|s| l.scopes.contains(s)));
        if !consented || req.prompt.consent {
            if req.prompt.none {
                return Ok(deny(ErrorCode::ConsentRequired, "the user has not allowed this client"));
            }
            self.save_flow(t.id(), &flow).await?;
            return Ok(Step::Consent { flow });
        }
        self.issue_code(t, &flow, &user_id).await
    }

    /// Stores a flow: briefly while nobody has signed in, longer once someone has.
    async fn save_flow(&self, t: &TenantId, flow: &Flow) -> ServiceResult<()> {
        let bytes = serde_json::to_vec(flow).map_err(|e| ServiceError::internal(e.to_string()))?;
        let ttl = if flow.user_id.is_some() { self.config.flow_ttl } else { self.config.flow_pending_ttl };
        self.kv.set(&flow_key(t, &flow.id), &bytes, ttl).await?;
        Ok(())
    }

    /// Loads a flow by id, without checks: callers compare the browser (and CSRF token) themselves.
    pub(crate) async fn load_flow_unchecked(&self, t: &TenantId, flow_id: &str) -> ServiceResult<Option<Flow>> {
        if flow_id.is_empty() || flow_id.len() > 64 {
            return Ok(None);
        }
        Ok(self.kv.get(&flow_key(t, flow_id)).await?.and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// Loads a flow for a form post: the form's CSRF token must match the flow's, and the browser
    /// cookie must be the one that began it.
    async fn load_flow(
        &self,
        t: &TenantId,
        flow_id: &str,
        csrf_form: &str,
        browser: Option<&str>,
    ) -> ServiceResult<Option<Flow>> {
        if flow_id.is_empty() || flow_id.len() > 64 {
            return Ok(None);
        }
        let Some(bytes) = self.kv.get(&flow_key(t, flow_id)).await? else {
            return Ok(None);
        };
        let Ok(flow) = serde_json::from_slice::<Flow>(&bytes) else {
            return Ok(None);
        };
        let ok = constant_time_eq(flow.csrf.as_bytes(), csrf_form.as_bytes())
            && browser.is_some_and(|b| constant_time_eq(flow.browser.as_bytes(), b.as_bytes()));
        Ok(ok.then_some(flow))
    }

    /// Handles the sign-in form.
    pub async fn login(&self, t: &TenantCtx, attempt: LoginAttempt<'_>) -> ServiceResult<StepOutcome> {
        let LoginAttempt { flow_id, csrf_form, browser, email, password, ip } = attempt;
        let Some(flow) = self.load_flow(t.id(), flow_id, csrf_form, browser).await? else {
            return Ok(expired_flow().into());
        };
        let email = email.trim();
        let fail = |flow: Flow, message: String, status: u16| -> StepOutcome {
            Step::Login { flow, error: Some(LoginError { message, status }) }.into()
        };
        if email.is_empty() || password.is_empty() {
            return Ok(fail(flow, "Enter your email and password.".into(), 400));
        }
        let door = crate::throttle::Door::EndUser(t.id());
        if let Some(wait) = self.login_wait(door, email, ip).await? {
            return Ok(fail(
                flow,
                format!("Too many failed sign-in attempts. Try again in {}.", crate::throttle::try_again_in(wait)),
                429,
            ));
        }
        let scoped = self.store.scoped(t.id());
        let user = if email.len() <= 320 { scoped.user_by_email(email).await? } else { None };
        let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let ok = self.hasher.verify(password, hash).await? && user.as_ref().is_some_and(|u| !u.disabled);
        let Some(user) = user.filter(|_| ok) else {
            self.login_failed(door, email, ip).await?;
            scoped
                .audit(
                    "anonymous",
                    "login.failed",
                    None,
                    serde_json::json!({"client_id": flow.request.client_id}),
                    Some(ip),
                )
                .await?;
            return Ok(fail(flow, "The email or password is not correct.".into(), 401));
        };
        self.login_succeeded(door, email, ip).await?;
        scoped.audit(&format!("user:{}", user.id), "login.succeeded", None, serde_json::json!({}), Some(ip)).await?;
        self.complete_sign_in(t, flow, user.id).await
    }

    /// A user has proven who they are (password or upstream provider): start a sign-in session and
    /// carry the flow on to consent or the code.
    pub(crate) async fn complete_sign_in(
        &self,
        t: &TenantCtx,
        mut flow: Flow,
        user_id: String,
    ) -> ServiceResult<StepOutcome> {
        let auth_time = now();
        let sid = random::token(24)?;
        let session = Session { user_id: user_id.clone(), auth_time, started_ms: crate::credentials::now_ms() };
        let bytes = serde_json::to_vec(&session).map_err(|e| ServiceError::internal(e.to_string()))?;
        self.kv.set(&session_key(t.id(), &sid), &bytes, self.config.session_ttl).await?;
        flow.user_id = Some(user_id);
        flow.auth_time = Some(auth_time);
        let client = self.flow_client(t, &flow).await?;
        let step = match client {
            Some(c) => self.advance(t, flow, &c).await?,
            None => expired_flow(),
        };
        Ok(StepOutcome { step, new_session: Some(sid) })
    }

    async fn flow_client(&self, t: &TenantCtx, flow: &Flow) -> ServiceResult<Option<Client>> {
        Ok(self.store.scoped(t.id()).client_by_row_id(&flow.client_row_id).await?)
    }

    /// Handles the consent form.
    pub async fn consent(
        &self,
        t: &TenantCtx,
        flow_id: &str,
        csrf_form: &str,
        browser: Option<&str>,
        allow: bool,
    ) -> ServiceResult<StepOutcome> {
        let Some(flow) = self.load_flow(t.id(), flow_id, csrf_form, browser).await? else {
            return Ok(expired_flow().into());
        };
        let Some(user_id) = flow.user_id.clone() else {
            return Ok(expired_flow().into());
        };
        let scoped = self.store.scoped(t.id());
        let req = &flow.request;
        if !allow {
            self.kv.delete(&flow_key(t.id(), &flow.id)).await?;
            scoped
                .audit(&format!("user:{user_id}"), "consent.denied", Some(&req.client_id), serde_json::json!({}), None)
                .await?;
            let error = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
            return Ok(Step::Redirect {
                url: rules::error_redirect(&req.redirect_uri, &error, req.state.as_deref(), &t.issuer),
            }
            .into());
        }
        scoped.grant_link(&user_id, &flow.client_row_id, &req.scopes).await?;
        scoped
            .audit(
                &format!("user:{user_id}"),
                "consent.granted",
                Some(&req.client_id),
                serde_json::json!({"scope": req.scopes.join(" ")}),
                None,
            )
            .await?;
        Ok(self.issue_code(t, &flow, &user_id).await?.into())
    }

    async fn issue_code(&self, t: &TenantCtx, flow: &Flow, user_id: &str) -> ServiceResult<Step> {
        let req = &flow.request;
        let code = random::token(32)?;
        let grant = CodeGrant {
            client_id: req.client_id.clone(),
            client_row_id: flow.client_row_id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            redirect_uri_given: req.redirect_uri_given,
            user_id: user_id.to_owned(),
            scopes: req.scopes.clone(),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            auth_time: flow.auth_time.unwrap_or_else(now),
        };
        let bytes = serde_json::to_vec(&grant).map_err(|e| ServiceError::internal(e.to_string()))?;
        self.kv.set(&code_key(t.id(), &code), &bytes, self.config.code_ttl).await?;
        // The flow is finished: its form cannot be posted again.
        self.kv.delete(&flow_key(t.id(), &flow.id)).await?;
        Ok(Step::Redirect { url: rules::success_redirect(&req.redirect_uri, &code, req.state.as_deref(), &t.issuer) })
    }
}
