//! `POST /alexa/directives`: AcceptGrant and skill events, forwarded by the skill backend exactly as
//! Alexa sent them; the answer is exactly what the backend must return to Alexa.
use latchkey_core::alexa::{self, AlexaRegion};
use latchkey_oauth::TenantCtx;
use latchkey_oauth::tokens::AccessClaims;
use latchkey_store::records::Skill;
use serde_json::{Value, json};

use latchkey_oauth::alexa_grants::{EndedGrant, GrantRef};
use latchkey_store::repo::GrantEnd;

use crate::AlexaService;
use crate::error::AlexaError;
use crate::lwa::LwaError;
use crate::messages::{self, Incoming, SkillEventKind};

impl AlexaService {
    /// `region` is where the directive arrived: the skill backend passes the region of its endpoint
    /// (`?region=`), which Amazon's tokens from an AcceptGrant belong to.
    pub async fn handle_directive(
        &self,
        t: &TenantCtx,
        body: &Value,
        region: Option<AlexaRegion>,
    ) -> Result<Value, AlexaError> {
        match messages::parse(body).map_err(AlexaError::bad_request)? {
            Incoming::AcceptGrant { code, grantee_token } => self.accept_grant(t, &code, &grantee_token, region).await,
            Incoming::SkillEvent { kind, alexa_skill_id, access_token, body } => {
                self.skill_event(t, kind, &alexa_skill_id, access_token.as_deref(), &body).await
            }
        }
    }

    /// The skill that owns the client a token was issued to.
    async fn skill_of_client(&self, t: &TenantCtx, client_id: &str) -> Result<Option<Skill>, AlexaError> {
        let scoped = self.store.scoped(t.id());
        let Some(client) = scoped.client(client_id).await? else {
            return Ok(None);
        };
        Ok(scoped.list_skills().await?.into_iter().find(|s| s.oauth_client_id == client.id))
    }

    /// AcceptGrant (ALEXA.md §4). Every failure is an `ErrorResponse` with `ACCEPT_GRANT_FAILED` and a
    /// message, logged with detail; infrastructure failures are errors of our own.
    async fn accept_grant(
        &self,
        t: &TenantCtx,
        code: &str,
        grantee_token: &str,
        region: Option<AlexaRegion>,
    ) -> Result<Value, AlexaError> {
        let fail = |why: &str| {
            tracing::warn!(tenant = %t.tenant.slug, reason = why, "AcceptGrant failed");
            Ok(messages::accept_grant_error(why))
        };
        let Some(claims) = self.auth.active_access_token(t, grantee_token).await? else {
            return fail("the grantee token is not a valid, unexpired Latchkey access token of this tenant");
        };
        let Some(skill) = self.skill_of_client(t, &claims.client_id).await? else {
            return fail("the grantee token was not issued to an Alexa skill's client");
        };
        // A backend that does not say where the AcceptGrant arrived, for a skill live in several regions,
        // is an integration error to fix, not the user's: a 400, before Amazon's one-use code is spent.
        let region = alexa::accept_grant_region(&skill.regions, region).map_err(AlexaError::bad_request)?;
        let scoped = self.store.scoped(t.id());
        let (Some(lwa_id), Some(lwa_secret)) = (skill.lwa_client_id.clone(), scoped.skill_lwa_secret(&skill.id).await?)
        else {
            return fail("the skill has no Alexa Skill Messaging credentials configured in Latchkey");
        };
        let Some(link) = scoped.link(&claims.sub, &skill.oauth_client_id).await?.filter(|l| l.status != "revoked")
        else {
            return fail("the user has no active link with this skill");
        };
        let tokens = match self.lwa(region).exchange_code(&lwa_id, &lwa_secret, code).await {
            Ok(t) => t,
            Err(e) => {
                let why = match &e {
                    LwaError::InvalidClient => "Login with Amazon rejected the skill's messaging client id or secret",
                    LwaError::InvalidGrant(_) => {
                        "Login with Amazon rejected the grant code (invalid, expired or already used)"
                    }
                    LwaError::Unreachable(_) => "Login with Amazon could not be reached",
                    LwaError::Other(_) => "Login with Amazon refused the exchange",
                };
                tracing::warn!(tenant = %t.tenant.slug, skill = %skill.alexa_skill_id, error = %e, "LWA code exchange failed");
                audit(
                    self,
                    t,
                    &claims,
                    "alexa.accept_grant.failed",
                    json!({"skill": skill.alexa_skill_id, "reason": why}),
                )
                .await?;
                return Ok(messages::accept_grant_error(why));
            }
        };
        let grant = scoped.accept_amazon_grant(&link.id, claims.fid.as_deref(), region, &tokens).await?;
        audit(
            self,
            t,
            &claims,
            "alexa.accept_grant",
            json!({"skill": skill.alexa_skill_id, "link": link.id, "grant": grant.id, "region": grant.region}),
        )
        .await?;
        Ok(messages::accept_grant_response())
    }

    /// Skill events (ALEXA.md §6). `SkillDisabled` ends the grant whose token came with it: its Latchkey
    /// tokens are revoked and its Amazon tokens forgotten.
    async fn skill_event(
        &self,
        t: &TenantCtx,
        kind: SkillEventKind,
        alexa_skill_id: &str,
        access_token: Option<&str>,
        body: &Value,
    ) -> Result<Value, AlexaError> {
        let scoped = self.store.scoped(t.id());
        let skill = scoped
            .skill(alexa_skill_id)
            .await?
            .ok_or_else(|| AlexaError::not_found(format!("skill '{alexa_skill_id}' in this tenant")))?;
        // Skill events can arrive long after the token in them expired: identify the user's grant by a
        // token we signed, expired or not, issued to this skill's client.
        let claims = match access_token {
            Some(tok) => self.auth.user_token_claims_any_age(t, tok).await?,
            None => None,
        };
        let client = scoped.client_by_row_id(&skill.oauth_client_id).await?;
        let claims = claims.filter(|c| client.as_ref().is_some_and(|cl| cl.client_id == c.client_id));
        let user = claims.as_ref().map(|c| c.sub.clone());
        let mut detail = json!({"skill": skill.alexa_skill_id, "event": kind.as_str(), "body": body});
        if kind == SkillEventKind::SkillDisabled
            && let Some(claims) = &claims
            && let Some(link) = scoped.link(&claims.sub, &skill.oauth_client_id).await?
        {
            // Only the grant this Alexa account holds ends; a household's other members keep theirs.
            let ended = match &claims.fid {
                Some(fid) => {
                    self.auth
                        .end_alexa_grant(t.id(), &link, GrantRef::Family(fid), GrantEnd::SkillDisabled, true)
                        .await?
                }
                // A token without a family names no grant: the whole link goes, as it always did.
                None => {
                    scoped.revoke_link(&link.id).await?;
                    EndedGrant { link_revoked: true, ..Default::default() }
                }
            };
            detail["link"] = json!(link.id);
            detail["ended"] = json!(ended);
        }
        let actor = user.as_deref().map_or("alexa".to_owned(), |u| format!("user:{u}"));
        scoped
            .audit(&actor, &format!("alexa.skill_event.{}", kind.as_str()), Some(&skill.alexa_skill_id), detail, None)
            .await?;
        Ok(messages::skill_event_ack())
    }
}

async fn audit(
    s: &AlexaService,
    t: &TenantCtx,
    claims: &AccessClaims,
    action: &str,
    detail: Value,
) -> Result<(), AlexaError> {
    s.store
        .scoped(t.id())
        .audit(&format!("user:{}", claims.sub), action, Some(&claims.client_id), detail, None)
        .await?;
    Ok(())
}
