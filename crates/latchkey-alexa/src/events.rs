//! Relaying events to the Alexa Event Gateway (ALEXA.md §5 and "Latchkey's events endpoint").
use latchkey_core::alexa::AlexaRegion;
use latchkey_oauth::TenantCtx;
use serde::Serialize;
use serde_json::{Value, json};

use std::time::Duration;

use crate::AlexaService;
use crate::error::AlexaError;
use crate::gateway::{self, Verdict};
use crate::messages::{self, TokenLocation};
use crate::refresh;
use latchkey_store::records::{AmazonGrant, AmazonTokens, Skill};
use latchkey_store::repo::GrantEnd;

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
        let user = field("user")
            .ok_or_else(|| AlexaError::bad_request("'user' (the sub of the user's Latchkey tokens) is required"))?;
        let skill =
            field("skill").ok_or_else(|| AlexaError::bad_request("'skill' (the Alexa skill id) is required"))?;
        let event = v
            .get("event")
            .filter(|e| e.is_object())
            .cloned()
            .ok_or_else(|| AlexaError::bad_request("'event' must be an object"))?;
        let context = match v.get("context") {
            None | Some(Value::Null) => None,
            Some(c) if c.is_object() => Some(c.clone()),
            Some(_) => return Err(AlexaError::bad_request("'context' must be an object")),
        };
        Ok(Self { user, skill, event, context })
    }
}

/// Amazon: retry throttling and 5xx up to 3 times.
const MAX_INLINE_BACKOFFS: u32 = 3;
/// The longest a waiting caller's delivery sleeps for one Retry-After.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(4);

/// One grant's delivery that the gateway accepted.
#[derive(Debug, Serialize)]
pub struct EventOutcome {
    pub grant: String,
    pub region: AlexaRegion,
    pub status: &'static str,
    pub gateway_status: u16,
    pub attempts: u32,
    pub token_refreshed: bool,
    pub token_location: &'static str,
}

/// Where one event went: every deliverable Alexa grant of the user for the skill (a household has
/// several), each with its own outcome.
#[derive(Debug)]
pub struct EventDelivery {
    pub destinations: Vec<(String, AlexaRegion, Result<EventOutcome, AlexaError>)>,
}

impl EventDelivery {
    fn accepted(&self) -> usize {
        self.destinations.iter().filter(|(_, _, r)| r.is_ok()).count()
    }

    fn first_error(&self) -> Option<&AlexaError> {
        self.destinations.iter().find_map(|(_, _, r)| r.as_ref().err())
    }

    /// 202 once any destination accepted; otherwise the first destination's error status, so a user
    /// with one Alexa account gets exactly the answer that account's delivery got.
    pub fn http_status(&self) -> u16 {
        match self.first_error() {
            Some(e) if self.accepted() == 0 => e.status(),
            _ => 202,
        }
    }

    pub fn body(&self) -> Value {
        let destinations: Vec<Value> = self
            .destinations
            .iter()
            .map(|(grant, region, r)| match r {
                Ok(o) => serde_json::to_value(o).unwrap_or(Value::Null),
                Err(e) => {
                    let mut v = e.body();
                    v["grant"] = json!(grant);
                    v["region"] = json!(region);
                    v["http_status"] = json!(e.status());
                    v
                }
            })
            .collect();
        match self.first_error() {
            Some(e) if self.accepted() == 0 => {
                let mut v = e.body();
                v["destinations"] = json!(destinations);
                v
            }
            Some(_) => json!({"status": "partial", "destinations": destinations}),
            None => json!({"status": "accepted", "destinations": destinations}),
        }
    }

    /// One metrics label per destination: `accepted`, Amazon's error code, or our status.
    pub fn outcome_labels(&self) -> Vec<String> {
        self.destinations.iter().map(|(_, _, r)| outcome_label(r.as_ref().map(|_| ()))).collect()
    }

    /// How each grant this delivery found disabled was told (`event_gateway`, `login_with_amazon`).
    pub fn disabled_via(&self) -> Vec<&'static str> {
        self.destinations
            .iter()
            .filter_map(|(_, _, r)| match r {
                Err(AlexaError::GrantDisabled { via, .. }) => Some(*via),
                _ => None,
            })
            .collect()
    }
}

/// `accepted`, Amazon's error code (letters and underscores only), or our status.
pub fn outcome_label(r: Result<(), &AlexaError>) -> String {
    match r {
        Ok(()) => "accepted".to_owned(),
        Err(AlexaError::Gateway { code, .. } | AlexaError::GrantDisabled { code, .. }) => {
            code.chars().filter(|c| c.is_ascii_uppercase() || *c == '_').take(64).collect()
        }
        Err(e) => e.status().to_string(),
    }
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

    /// Sends the event to every deliverable Alexa grant of the user for the skill, waiting for the
    /// gateway's answers (`?wait=true`).
    pub async fn send_event(&self, t: &TenantCtx, req: &EventRequest) -> Result<EventDelivery, AlexaError> {
        let (skill, grants) = self.event_destinations(t, req).await?;
        let mut destinations = Vec::with_capacity(grants.len());
        for grant in grants {
            let r = self.deliver(t, &skill, &grant, None, req, MAX_INLINE_BACKOFFS).await;
            destinations.push((grant.id, grant.region, r));
        }
        Ok(EventDelivery { destinations })
    }

    /// The skill and the grants an event goes to, or why it cannot go anywhere (404, 409).
    pub(crate) async fn event_destinations(
        &self,
        t: &TenantCtx,
        req: &EventRequest,
    ) -> Result<(Skill, Vec<AmazonGrant>), AlexaError> {
        let skill = self.event_skill(t, req).await?;
        let scoped = self.store.scoped(t.id());
        // The common case in one query; the reasons there is nowhere to deliver only when there is not.
        let grants = scoped.event_destination_grants(&req.user, &skill.oauth_client_id).await?;
        if grants.is_empty() {
            return Err(self.why_no_destination(t, &req.user, &skill).await?);
        }
        Ok((skill, grants))
    }

    /// The tenant's skill an event names (by its Alexa skill id).
    pub(crate) async fn event_skill(&self, t: &TenantCtx, req: &EventRequest) -> Result<Skill, AlexaError> {
        self.auth
            .cached_skill(t.id(), &req.skill)
            .await?
            .ok_or_else(|| AlexaError::not_found(format!("skill '{}' in this tenant", req.skill)))
    }

    /// Why an event for this user and skill has nowhere to go, in words the skill backend can act on.
    pub(crate) async fn why_no_destination(
        &self,
        t: &TenantCtx,
        user: &str,
        skill: &Skill,
    ) -> Result<AlexaError, AlexaError> {
        let scoped = self.store.scoped(t.id());
        let Some(link) = scoped.link(user, &skill.oauth_client_id).await? else {
            return Ok(AlexaError::not_found("a link of this user to this skill"));
        };
        if link.status == "revoked" {
            return Ok(AlexaError::conflict("this link has been revoked"));
        }
        let all = scoped.amazon_grants(&link.id).await?;
        Ok(AlexaError::conflict(if all.iter().any(|g| g.status == "disabled") {
            "the user disabled the skill in Alexa; events stop until the user enables it and links again"
        } else {
            "no Amazon tokens for this link: Alexa has not sent AcceptGrant for it (is \"Send Alexa Events\" enabled?)"
        }))
    }

    /// One grant's delivery: its token, its region's gateway, Amazon's retry rules. Throttling and
    /// Amazon's 5xx are retried here up to `max_backoffs` times; the outbox passes 0 and schedules the
    /// retry itself rather than holding a worker. `known` is the grant's tokens as the caller read them
    /// (the outbox, once per batch): used while they are good, read again (and refreshed) when not.
    pub(crate) async fn deliver(
        &self,
        t: &TenantCtx,
        skill: &Skill,
        grant: &AmazonGrant,
        known: Option<&AmazonTokens>,
        req: &EventRequest,
        max_backoffs: u32,
    ) -> Result<EventOutcome, AlexaError> {
        let scoped = self.store.scoped(t.id());
        let (mut token, mut refreshed) = match known.filter(|k| refresh::usable(k, None)) {
            Some(k) => (k.access_token.clone(), false),
            None => self.amazon_token(t, skill, grant, None).await?,
        };
        let url = self.gateway_url(grant.region);
        let mut attempts = 0u32;
        let mut backoffs = 0u32;
        let mut retried_auth = false;
        loop {
            attempts += 1;
            let mut event = req.event.clone();
            let location = messages::insert_token(&mut event, &token).map_err(AlexaError::bad_request)?;
            let mut body = json!({"event": event});
            if let Some(c) = &req.context {
                body["context"] = c.clone();
            }
            let (status, answer, retry_after) = match self.http.post(&url).bearer_auth(&token).json(&body).send().await
            {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    (status, resp.json::<Value>().await.unwrap_or(Value::Null), retry_after)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Event Gateway unreachable");
                    (503, json!({"payload": {"code": "UNREACHABLE", "description": e.to_string()}}), None)
                }
            };
            let (code, description) = gateway::error_code(&answer);
            match gateway::verdict(status, &code) {
                Verdict::Accepted => {
                    // A write per event would make SQLite the bottleneck: record success only when it
                    // changes the grant's status or the last record is over a minute old.
                    let stale = grant.last_event_at.is_none_or(|at| latchkey_store::now() - at > 60);
                    if stale || grant.last_event_status.as_deref() != Some("accepted") {
                        scoped.record_grant_event_outcome(&grant.id, "accepted").await?;
                    }
                    return Ok(EventOutcome {
                        grant: grant.id.clone(),
                        region: grant.region,
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
                    let (t2, r) = self.amazon_token(t, skill, grant, Some(&token)).await?;
                    token = t2;
                    refreshed |= r;
                    continue;
                }
                Verdict::SkillDisabled => {
                    scoped.record_grant_event_outcome(&grant.id, &code).await?;
                    return Err(self.skill_disabled_at_amazon(t, skill, grant, 403, &code, "event_gateway").await?);
                }
                Verdict::Backoff if backoffs < max_backoffs => {
                    // Amazon: retry throttling and 5xx up to 3 times, at least a second apart, and
                    // not before its Retry-After (capped: the caller is waiting).
                    let wait = (self.retry_base * 2u32.pow(backoffs))
                        .max(Duration::from_secs(retry_after.unwrap_or(0)).min(MAX_INLINE_WAIT));
                    tokio::time::sleep(wait).await;
                    backoffs += 1;
                    continue;
                }
                _ => {}
            }
            scoped.record_grant_event_outcome(&grant.id, &code).await?;
            return Err(AlexaError::Gateway {
                status,
                probable_cause: gateway::probable_cause(&code, grant.region),
                code,
                description,
                attempts,
                retry_after,
            });
        }
    }

    /// Amazon says this Alexa account disabled the skill: that grant's tokens go, events to it stop,
    /// and the tenant's audit log says so. The household's other grants are untouched. Returns the
    /// error the skill backend gets for this destination.
    pub(crate) async fn skill_disabled_at_amazon(
        &self,
        t: &TenantCtx,
        skill: &Skill,
        grant: &AmazonGrant,
        status: u16,
        code: &str,
        via: &'static str,
    ) -> Result<AlexaError, AlexaError> {
        let scoped = self.store.scoped(t.id());
        if scoped.end_amazon_grant(&grant.id, GrantEnd::SkillDisabled, "skill_disabled").await? {
            tracing::info!(tenant = %t.tenant.slug, grant = %grant.id, via, "Alexa grant disabled by Amazon");
            scoped
                .audit(
                    "alexa",
                    "alexa.skill_disabled",
                    Some(&skill.alexa_skill_id),
                    json!({"link": grant.link_id, "grant": grant.id, "region": grant.region, "via": via, "code": code}),
                    None,
                )
                .await?;
        }
        Ok(AlexaError::GrantDisabled {
            status,
            code: code.to_owned(),
            via,
            message: format!(
                "Amazon says this Alexa account disabled the skill ({code}); its Amazon tokens are deleted and it gets no more events until the user enables the skill and links again"
            ),
        })
    }

    /// Several events in one call; each gets its own result, in order: stored (202 with its id), or
    /// with `wait`, the gateway's outcome.
    pub async fn send_events(&self, t: &TenantCtx, body: &Value, wait: bool) -> Result<Value, AlexaError> {
        let items = body
            .get("events")
            .and_then(Value::as_array)
            .ok_or_else(|| AlexaError::bad_request("'events' must be an array"))?;
        if items.is_empty() || items.len() > 100 {
            return Err(AlexaError::bad_request("'events' must hold 1 to 100 events"));
        }
        let mut results = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let r = match EventRequest::parse(item) {
                Ok(req) if wait => self.send_event(t, &req).await.map(|d| (d.http_status(), d.body())),
                Ok(req) => self.accept_event(t, &req).await.map(|v| (202, v)),
                Err(e) => Err(e),
            };
            results.push(match r {
                Ok((status, body)) => json!({"index": i, "http_status": status, "result": body}),
                // Our own fault or an outage fails the whole batch: the caller retries it.
                Err(e) if e.is_transient_fault() => return Err(e),
                Err(e) => json!({"index": i, "http_status": e.status(), "result": e.body()}),
            });
        }
        Ok(json!({"results": results}))
    }
}
