//! The Skill Management API's account-linking resource (ALEXA.md "Automated registration"):
//! `PUT` and `GET /v1/skills/{skillId}/stages/{stage}/accountLinkingClient`, authorized with an access
//! token Login with Amazon issues for the vendor's refresh token. Publishing pushes what Latchkey would
//! have the console say and reads it back; the readiness check compares the two.
use latchkey_core::alexa::{self, AlexaRegion};
use latchkey_core::hashing::verify_secret;
use latchkey_oauth::access::Access;
use latchkey_oauth::{ServiceError, TenantCtx};
use latchkey_store::records::{Client, Skill, SmapiCredentials, SmapiStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::lwa::LwaError;
use crate::{AlexaError, AlexaService, registration};

pub const DEFAULT_SMAPI_URL: &str = "https://api.amazonalexa.com";
/// LWA refresh tokens are a few hundred characters; this bounds what is stored.
const MAX_REFRESH_TOKEN: usize = 2048;

/// The vendor's Login with Amazon client and the refresh token it issued for SMAPI
/// (`ask util generate-lwa-tokens --client-id … --client-confirmation …`).
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmapiCredentialsInput {
    pub lwa_client_id: String,
    pub lwa_client_secret: String,
    pub refresh_token: String,
}

/// A skill's stage in the console. Account linking is edited on the development stage; the live
/// stage takes it at certification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    #[default]
    Development,
    Live,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Live => "live",
        }
    }
}

impl std::str::FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "development" => Ok(Self::Development),
            "live" => Ok(Self::Live),
            other => Err(format!("unknown stage '{other}' (development or live)")),
        }
    }
}

/// One account-linking field as the console holds it beside what Latchkey expects.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ConsoleField {
    /// SMAPI's name for the field.
    pub field: &'static str,
    pub matches: bool,
    #[schema(value_type = Object)]
    pub console: Value,
    #[schema(value_type = Object)]
    pub latchkey: Value,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PublishReport {
    pub skill: String,
    pub stage: Stage,
    /// Whether what the console holds now is what was published, field by field.
    pub matches: bool,
    pub fields: Vec<ConsoleField>,
}

/// The fields SMAPI's `GET` answers (it never returns the secret), compared as sets where order means
/// nothing to Alexa. A lifetime the console does not hold is no mismatch: Latchkey's token answers
/// carry `expires_in`, which Alexa prefers.
pub fn compare(console: &Value, expected: &Value) -> Vec<ConsoleField> {
    const FIELDS: [&str; 9] = [
        "type",
        "clientId",
        "authorizationUrl",
        "accessTokenUrl",
        "accessTokenScheme",
        "scopes",
        "domains",
        "redirectUrls",
        "defaultTokenExpirationInSeconds",
    ];
    let as_set = |v: &Value| {
        let mut items: Vec<String> =
            v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default();
        items.sort();
        items.dedup();
        items
    };
    FIELDS
        .into_iter()
        .map(|field| {
            let (c, l) = (
                console.get(field).cloned().unwrap_or(Value::Null),
                expected.get(field).cloned().unwrap_or(Value::Null),
            );
            let matches = match field {
                "scopes" | "domains" | "redirectUrls" => as_set(&c) == as_set(&l),
                "defaultTokenExpirationInSeconds" => c.is_null() || c == l,
                _ => c == l,
            };
            ConsoleField { field, matches, console: c, latchkey: l }
        })
        .collect()
}

/// SMAPI's error body is `{"message": …, "code"?: …}`; the message is what an operator needs.
fn smapi_error(status: u16, body: &str, skill: &str, stage: Stage) -> AlexaError {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect());
    match status {
        400 => AlexaError::bad_request(format!("the Alexa console (SMAPI) refused the settings: {message}")),
        401 | 403 => AlexaError::conflict(format!(
            "SMAPI refused the vendor's credentials ({status}: {message}); they must belong to the skill's vendor"
        )),
        404 => AlexaError::not_found(format!(
            "the Alexa console's skill {skill} at stage {} (SMAPI: {message})",
            stage.as_str()
        )),
        _ => AlexaError::unavailable(format!("SMAPI answered {status}: {message}")),
    }
}

impl AlexaService {
    fn smapi_url(&self, skill: &str, stage: Stage) -> String {
        format!(
            "{}/v1/skills/{}/stages/{}/accountLinkingClient",
            self.endpoints.smapi_url.trim_end_matches('/'),
            urlencoding(skill),
            stage.as_str()
        )
    }

    /// An SMAPI access token for `creds` (Login with Amazon's NA endpoint: SMAPI is global). A refusal
    /// is a `Conflict`: the stored credentials, not the request, need fixing.
    async fn smapi_access_token(&self, creds: &SmapiCredentials) -> Result<String, AlexaError> {
        let lwa = self.lwa(AlexaRegion::NA);
        match lwa.refresh(&creds.lwa_client_id, &creds.lwa_client_secret, &creds.refresh_token).await {
            Ok(tokens) => Ok(tokens.access_token),
            Err(LwaError::InvalidClient) => {
                Err(AlexaError::conflict("Login with Amazon rejected the SMAPI client id or secret"))
            }
            Err(LwaError::InvalidGrant(m)) => Err(AlexaError::conflict(format!(
                "Login with Amazon rejected the SMAPI refresh token ({m}): generate a new one with `ask util generate-lwa-tokens`"
            ))),
            Err(e) => Err(AlexaError::unavailable(e.to_string())),
        }
    }

    /// An SMAPI access token when the tenant has credentials (one read of them), `None` when it has none.
    async fn smapi_token_if_configured(&self, t: &TenantCtx) -> Result<Option<String>, AlexaError> {
        match self.store.scoped(t.id()).smapi_credentials().await? {
            Some(creds) => Ok(Some(self.smapi_access_token(&creds).await?)),
            None => Ok(None),
        }
    }

    async fn smapi_token(&self, t: &TenantCtx) -> Result<String, AlexaError> {
        self.smapi_token_if_configured(t).await?.ok_or_else(|| {
            AlexaError::conflict(format!(
                "no SMAPI credentials: set them with `latchkey tenant set-smapi {} --lwa-client-id …` or PUT /t/{}/api/v1/smapi-credentials",
                t.tenant.slug, t.tenant.slug
            ))
        })
    }

    /// Stores the tenant's SMAPI credentials once Login with Amazon has accepted them (a typo is caught
    /// now, not at the first publish).
    pub async fn set_smapi_credentials(
        &self,
        a: &Access,
        input: SmapiCredentialsInput,
    ) -> Result<SmapiStatus, AlexaError> {
        a.require_write()?;
        let check = |what: &str, v: &str, max: usize| {
            alexa::validate_lwa_credential(what, v, max)
                .map_err(|m| AlexaError::bad_request(m.replace("messaging", "SMAPI")))
        };
        check("client id", &input.lwa_client_id, alexa::MAX_LWA_CLIENT_ID)?;
        check("client secret", &input.lwa_client_secret, alexa::MAX_LWA_CLIENT_SECRET)?;
        check("refresh token", &input.refresh_token, MAX_REFRESH_TOKEN)?;
        let creds = SmapiCredentials {
            lwa_client_id: input.lwa_client_id,
            lwa_client_secret: input.lwa_client_secret,
            refresh_token: input.refresh_token,
        };
        self.smapi_access_token(&creds).await.map_err(|e| match e {
            AlexaError::Service(ServiceError::Conflict(m)) => AlexaError::bad_request(m),
            other => other,
        })?;
        let scoped = self.store.scoped(a.id());
        scoped.set_smapi_credentials(&creds).await?;
        a.audit(&self.auth, "tenant.smapi_credentials_set", None, json!({"lwa_client_id": creds.lwa_client_id}))
            .await?;
        Ok(scoped.smapi_status().await?)
    }

    pub async fn smapi_status(&self, a: &Access) -> Result<SmapiStatus, AlexaError> {
        Ok(self.store.scoped(a.id()).smapi_status().await?)
    }

    pub async fn delete_smapi_credentials(&self, a: &Access) -> Result<(), AlexaError> {
        a.require_write()?;
        self.store.scoped(a.id()).delete_smapi_credentials().await?;
        a.audit(&self.auth, "tenant.smapi_credentials_deleted", None, json!({})).await?;
        Ok(())
    }

    /// What the console holds for the skill at `stage` (`accountLinkingResponse`).
    async fn console_account_linking(&self, token: &str, skill: &str, stage: Stage) -> Result<Value, AlexaError> {
        let r = self
            .http
            .get(self.smapi_url(skill, stage))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| AlexaError::unavailable(format!("SMAPI could not be reached: {e}")))?;
        let status = r.status().as_u16();
        let body = r.text().await.map_err(|e| AlexaError::unavailable(e.to_string()))?;
        if status != 200 {
            return Err(smapi_error(status, &body, skill, stage));
        }
        let v: Value = serde_json::from_str(&body)
            .map_err(|e| AlexaError::unavailable(format!("SMAPI answered something unreadable: {e}")))?;
        Ok(v.get("accountLinkingResponse").cloned().unwrap_or(v))
    }

    /// The extra domains the console's Domain List needs for this tenant's sign-in page.
    pub async fn registration_domains(&self, t: &TenantCtx) -> Result<Vec<String>, AlexaError> {
        let providers = self.store.scoped(t.id()).list_providers().await?;
        let mut urls: Vec<&str> = providers.iter().map(|p| p.issuer.as_str()).collect();
        if let Some(logo) = t.tenant.settings.logo_url.as_deref() {
            urls.push(logo);
        }
        Ok(registration::additional_domains(&t.issuer, &urls))
    }

    /// The `accountLinkingRequest` Latchkey would have the console hold (the secret as given).
    async fn expected_request(
        &self,
        t: &TenantCtx,
        skill: &Skill,
        client: &Client,
        secret: &str,
    ) -> Result<Value, AlexaError> {
        let domains = self.registration_domains(t).await?;
        Ok(registration::smapi_body(skill, client, &t.issuer, &domains, secret)["accountLinkingRequest"].clone())
    }

    /// Compares the console's account linking (SMAPI `GET`) with Latchkey's side; `None` when the
    /// tenant has no SMAPI credentials to read it with.
    pub async fn compare_with_console(
        &self,
        t: &TenantCtx,
        skill: &Skill,
        client: &Client,
        stage: Stage,
    ) -> Result<Option<Vec<ConsoleField>>, AlexaError> {
        let Some(token) = self.smapi_token_if_configured(t).await? else { return Ok(None) };
        let console = self.console_account_linking(&token, &skill.alexa_skill_id, stage).await?;
        let expected = self.expected_request(t, skill, client, "").await?;
        Ok(Some(compare(&console, &expected)))
    }

    /// The Authentication Scheme the console holds for the skill (development stage), when the tenant
    /// has SMAPI credentials; `None` otherwise.
    pub async fn console_scheme(&self, t: &TenantCtx, skill: &Skill) -> Result<Option<String>, AlexaError> {
        let Some(token) = self.smapi_token_if_configured(t).await? else { return Ok(None) };
        let console = self.console_account_linking(&token, &skill.alexa_skill_id, Stage::Development).await?;
        Ok(console["accessTokenScheme"].as_str().map(str::to_owned))
    }

    /// Pushes the skill's account-linking settings to the console and reads them back. The client
    /// secret is stored hashed, so the caller gives it; it must be the client's current one, so the
    /// console never gets a secret that does not work.
    pub async fn publish(
        &self,
        a: &Access,
        skill_ref: &str,
        client_secret: &str,
        stage: Stage,
    ) -> Result<PublishReport, AlexaError> {
        a.require_write()?;
        let view = self.auth.get_skill(a, skill_ref).await?;
        let current = view.client.secret_hash.as_deref().is_some_and(|h| verify_secret(client_secret, h));
        if !current {
            return Err(AlexaError::bad_request(
                "that is not the skill client's current secret (`latchkey client rotate-secret` issues a new one)",
            ));
        }
        let request = self.expected_request(a, &view.skill, &view.client, client_secret).await?;
        let token = self.smapi_token(a).await?;
        let skill = &view.skill.alexa_skill_id;
        let r = self
            .http
            .put(self.smapi_url(skill, stage))
            .bearer_auth(&token)
            .json(&json!({ "accountLinkingRequest": request }))
            .send()
            .await
            .map_err(|e| AlexaError::unavailable(format!("SMAPI could not be reached: {e}")))?;
        let status = r.status().as_u16();
        if !(200..300).contains(&status) {
            let body = r.text().await.unwrap_or_default();
            return Err(smapi_error(status, &body, skill, stage));
        }
        let console = self.console_account_linking(&token, skill, stage).await?;
        let fields = compare(&console, &request);
        let matches = fields.iter().all(|f| f.matches);
        a.audit(&self.auth, "skill.published", Some(skill), json!({"stage": stage.as_str(), "matches": matches}))
            .await?;
        Ok(PublishReport { skill: skill.clone(), stage, matches, fields })
    }
}

/// A skill id in a URL path (they are `amzn1.ask.skill.<uuid>`; anything else is escaped).
fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Value {
        json!({
            "type": "AUTH_CODE", "clientId": "c1", "authorizationUrl": "https://id.example/t/a/oauth2/authorize",
            "accessTokenUrl": "https://id.example/t/a/oauth2/token", "accessTokenScheme": "HTTP_BASIC",
            "scopes": ["openid", "profile"], "domains": [], "redirectUrls": [], "defaultTokenExpirationInSeconds": 3600,
            "clientSecret": "s", "skipOnEnablement": false,
        })
    }

    #[test]
    fn the_console_matches_when_its_fields_do_in_any_order() {
        let mut console = expected();
        console["scopes"] = json!(["profile", "openid"]);
        console.as_object_mut().map(|o| o.remove("clientSecret"));
        console.as_object_mut().map(|o| o.remove("defaultTokenExpirationInSeconds"));
        assert!(compare(&console, &expected()).iter().all(|f| f.matches));
    }

    #[test]
    fn each_differing_field_is_named() {
        let mut console = expected();
        console["accessTokenScheme"] = json!("REQUEST_BODY_CREDENTIALS");
        console["redirectUrls"] = json!(["https://pitangui.amazon.com/api/skill/link/M2X"]);
        console["defaultTokenExpirationInSeconds"] = json!(60);
        let bad: Vec<&str> = compare(&console, &expected()).iter().filter(|f| !f.matches).map(|f| f.field).collect();
        assert_eq!(bad, ["accessTokenScheme", "redirectUrls", "defaultTokenExpirationInSeconds"]);
        assert!(compare(&json!({}), &expected()).iter().any(|f| f.field == "clientId" && !f.matches));
    }

    #[test]
    fn smapi_errors_say_what_to_do() {
        let e = smapi_error(400, r#"{"message":"Invalid scope"}"#, "amzn1.ask.skill.x", Stage::Development);
        assert!(matches!(&e, AlexaError::Service(ServiceError::Invalid(m)) if m.contains("Invalid scope")));
        assert_eq!(smapi_error(403, "{}", "s", Stage::Live).status(), 409);
        assert_eq!(smapi_error(404, "", "s", Stage::Live).status(), 404);
        assert_eq!(smapi_error(503, "<html>", "s", Stage::Live).status(), 503);
    }
}
