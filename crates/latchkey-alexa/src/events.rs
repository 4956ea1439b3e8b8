//! Relaying events to the Alexa Event Gateway (ALEXA.md §5 and "Latchkey's events endpoint").
use latchkey_core::alexa::AlexaRegion;
use latchkey_oauth::TenantCtx;
use serde::Serialize;
use serde_json::{Value, json};

use crate::AlexaService;
use crate::error::AlexaError;
use crate::gateway::{self, Verdict};
use crate::messages::{self, TokenLocation};

/// `{"user": sub, "skill": alexa skill id, "event": {…}, "context": {…}?}`.
#[derive(Debug, Clone)]
pub struct EventRequest {
    pub user: String,
    pub skill: String,
    pub event: Value,
    pub context: Option<Value>,
}

impl EventRequest {
    pub fn parse(v: &Value) -> Result<Self, AlexaError> {
        let field =
            |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty() && s.len() <= 256).map(str::to_owned);
        let user = field("user").ok_or_else(|| {
            AlexaError::BadRequest("'user' (the sub of the user's Latchkey tokens) is required".into())
        })?;
        let skill =
            field("skill").ok_or_else(|| AlexaError::BadRequest("'skill' (the Alexa skill id) is required".into()))?;
        let event = v
            .get("event")
            .filter(|e| e.is_object())
            .cloned()
            .ok_or_else(|| AlexaError::BadRequest("'event' must be an object".into()))?;
        let context = match v.get("context") {
            None | Some(Value::Null) => None,
            Some(c) if c.is_object() => Some(c.clone()),
            Some(_) => return Err(AlexaError::BadRequest("'context' must be an object".into())),
        };
        Ok(Self { user, skill, event, context })
    }
}

#[derive(Debug, Serialize)]
pub struct EventOutcome {
    pub status: &'static str,
    pub gateway_status: u16,
    pub attempts: u32,
    pub token_refreshed: bool,
    pub token_location: &'static str,
}

impl AlexaService {
    /// The regional gateway, or the configured override; `{region}` in an override becomes NA, EU or FE,
    /// so a test (or a proxy) can still tell the regions apart.
    fn gateway_url(&self, region: AlexaRegion) -> String {
        match &self.endpoints.event_gateway_url {
            Some(u) => u.replace("{region}", region.as_str()),
            None => gateway::regional_url(region).to_owned(),
        }
    }

    pub async fn send_event(&self, t: &TenantCtx, req: &EventRequest) -> Result<EventOutcome, AlexaError> {
        let scoped = self.auth.store.scoped(t.id());
        let skill = scoped
            .skill(&req.skill)
            .await?
            .ok_or_else(|| AlexaError::NotFound(format!("skill '{}' is not registered in this tenant", req.skill)))?;
        let link = scoped
            .link(&req.user, &skill.oauth_client_id)
            .await?
            .ok_or_else(|| AlexaError::NotFound("this user has not linked this skill".into()))?;
        match link.status.as_str() {
            "inactive" => {
                return Err(AlexaError::Conflict(
                    "the user disabled the skill in Alexa; events for this link stop until the user enables it again"
                        .into(),
                ));
            }
            "revoked" => return Err(AlexaError::Conflict("this link has been revoked".into())),
            _ => {}
        }
        let (mut token, mut refreshed) = self.amazon_token(t, &skill, &link, None).await?;
        let url = self.gateway_url(skill.region);
        let mut attempts = 0u32;
        let mut backoffs = 0u32;
        let mut retried_auth = false;
        loop {
            attempts += 1;
            let mut event = req.event.clone();
            let location = messages::insert_token(&mut event, &token).map_err(AlexaError::BadRequest)?;
            let mut body = json!({"event": event});
            if let Some(c) = &req.context {
                body["context"] = c.clone();
            }
            let (status, answer) = match self.http.post(&url).bearer_auth(&token).json(&body).send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    (status, resp.json::<Value>().await.unwrap_or(Value::Null))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Event Gateway unreachable");
                    (503, json!({"payload": {"code": "UNREACHABLE", "description": e.to_string()}}))
                }
            };
            let (code, description) = gateway::error_code(&answer);
            match gateway::verdict(status, &code) {
                Verdict::Accepted => {
                    // A write per event would make SQLite the bottleneck: record success only when it
                    // changes the link's status or the last record is over a minute old.
                    let stale = link.last_event_at.is_none_or(|at| latchkey_store::now() - at > 60);
                    if stale || link.last_event_status.as_deref() != Some("accepted") {
                        scoped.record_event_outcome(&link.id, "accepted").await?;
                    }
                    return Ok(EventOutcome {
                        status: "accepted",
                        gateway_status: status,
                        attempts,
                        token_refreshed: refreshed,
                        token_location: match location {
                            TokenLocation::EndpointScope => "endpoint.scope",
                            TokenLocation::PayloadScope => "payload.scope",
                        },
                    });
                }
                Verdict::RefreshAndRetry if !retried_auth => {
                    retried_auth = true;
                    let (t2, r) = self.amazon_token(t, &skill, &link, Some(&token)).await?;
                    token = t2;
                    refreshed |= r;
                    continue;
                }
                Verdict::SkillDisabled => {
                    scoped.delete_amazon_tokens(&link.id).await?;
                    scoped.set_link_status(&link.id, "inactive").await?;
                    scoped
                        .audit(
                            "alexa",
                            "alexa.skill_disabled",
                            Some(&skill.alexa_skill_id),
                            json!({"link": link.id, "via": "event_gateway"}),
                            None,
                        )
                        .await?;
                }
                Verdict::Backoff if backoffs < 3 => {
                    // Amazon: retry throttling and 5xx up to 3 times, at least a second apart.
                    tokio::time::sleep(self.retry_base * 2u32.pow(backoffs)).await;
                    backoffs += 1;
                    continue;
                }
                _ => {}
            }
            scoped.record_event_outcome(&link.id, &code).await?;
            return Err(AlexaError::Gateway {
                status,
                probable_cause: gateway::probable_cause(&code, skill.region),
                code,
                description,
                attempts,
            });
        }
    }

    /// Several events in one call; each gets its own result, in order.
    pub async fn send_events(&self, t: &TenantCtx, body: &Value) -> Result<Value, AlexaError> {
        let items = body
            .get("events")
            .and_then(Value::as_array)
            .ok_or_else(|| AlexaError::BadRequest("'events' must be an array".into()))?;
        if items.is_empty() || items.len() > 100 {
            return Err(AlexaError::BadRequest("'events' must hold 1 to 100 events".into()));
        }
        let mut results = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let r = match EventRequest::parse(item) {
                Ok(req) => self.send_event(t, &req).await,
                Err(e) => Err(e),
            };
            results.push(match r {
                Ok(o) => json!({"index": i, "http_status": 202, "result": o}),
                Err(AlexaError::Internal(m)) => return Err(AlexaError::Internal(m)),
                Err(AlexaError::Unavailable(m)) => return Err(AlexaError::Unavailable(m)),
                Err(e) => json!({"index": i, "http_status": e.status(), "result": e.body()}),
            });
        }
        Ok(json!({"results": results}))
    }
}
