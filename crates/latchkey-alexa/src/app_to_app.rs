//! App-to-app account linking (ALEXA.md §7): the device company's app backend holds the user's
//! Latchkey authorization code and an Amazon authorization code; Latchkey exchanges the Amazon code at
//! Login with Amazon, finds the user's Alexa API region, and enables the skill with the link in one call.
use latchkey_oauth::TenantCtx;
use serde_json::{Value, json};

use crate::AlexaService;
use crate::error::AlexaError;

/// `{"skill", "latchkey_code", "latchkey_redirect_uri", "amazon_code", "amazon_redirect_uri", "stage"}`.
pub struct AppToAppRequest {
    pub skill: String,
    pub latchkey_code: String,
    pub latchkey_redirect_uri: String,
    pub amazon_code: String,
    pub amazon_redirect_uri: String,
    pub stage: String,
}

impl AppToAppRequest {
    pub fn parse(v: &Value) -> Result<Self, AlexaError> {
        let f = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.len() <= 2048)
                .map(str::to_owned)
                .ok_or_else(|| AlexaError::BadRequest(format!("'{k}' is required")))
        };
        let stage = v.get("stage").and_then(Value::as_str).unwrap_or("live").to_owned();
        if stage != "live" && stage != "development" {
            return Err(AlexaError::BadRequest("'stage' must be live or development".into()));
        }
        Ok(Self {
            skill: f("skill")?,
            latchkey_code: f("latchkey_code")?,
            latchkey_redirect_uri: f("latchkey_redirect_uri")?,
            amazon_code: f("amazon_code")?,
            amazon_redirect_uri: f("amazon_redirect_uri")?,
            stage,
        })
    }
}

impl AlexaService {
    pub async fn app_to_app(&self, t: &TenantCtx, req: &AppToAppRequest) -> Result<Value, AlexaError> {
        let scoped = self.auth.store.scoped(t.id());
        let skill =
            scoped.skill(&req.skill).await?.ok_or_else(|| AlexaError::NotFound(format!("skill '{}'", req.skill)))?;
        let (Some(id), Some(secret)) = (skill.lwa_client_id.clone(), scoped.skill_lwa_secret(&skill.id).await?) else {
            return Err(AlexaError::Conflict("the skill has no Login with Amazon credentials configured".into()));
        };
        // App-to-app codes come from the Alexa app or LWA's own page, whose token endpoint is the global
        // (North America) one in Amazon's app-to-app guide, whatever the user's region.
        let amazon = self
            .lwa(latchkey_core::alexa::AlexaRegion::NA)
            .exchange_code_with_redirect(&id, &secret, &req.amazon_code, &req.amazon_redirect_uri)
            .await
            .map_err(|e| AlexaError::Conflict(format!("Login with Amazon refused the Amazon code: {e}")))?;
        let api_base = self.endpoints.alexa_api_url.trim_end_matches('/');
        let scheme = api_base.split("://").next().unwrap_or("https");
        let endpoints: Value = self
            .http
            .get(format!("{api_base}/v1/alexaApiEndpoint"))
            .bearer_auth(&amazon.access_token)
            .send()
            .await
            .map_err(|e| AlexaError::Unavailable(format!("the Alexa API is unreachable: {e}")))?
            .json()
            .await
            .map_err(|e| AlexaError::Gateway {
                status: 502,
                code: "BAD_ANSWER".into(),
                description: e.to_string(),
                probable_cause: None,
                attempts: 1,
                retry_after: None,
            })?;
        let host = endpoints.pointer("/endpoints/0").and_then(Value::as_str).ok_or_else(|| AlexaError::Gateway {
            status: 502,
            code: "NO_ENDPOINT".into(),
            description: "alexaApiEndpoint named no endpoint".into(),
            probable_cause: None,
            attempts: 1,
            retry_after: None,
        })?;
        let body = json!({
            "stage": req.stage,
            "accountLinkRequest": {"redirectUri": req.latchkey_redirect_uri, "authCode": req.latchkey_code, "type": "AUTH_CODE"}
        });
        let resp = self
            .http
            .post(format!("{scheme}://{host}/v1/users/~current/skills/{}/enablement", skill.alexa_skill_id))
            .bearer_auth(&amazon.access_token)
            .json(&body)
            .send()
            .await
            .map_err(|e| AlexaError::Unavailable(format!("the Alexa API is unreachable: {e}")))?;
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        if status != 201 && status != 200 {
            let message = answer["message"].as_str().unwrap_or("").to_owned();
            return Err(AlexaError::Gateway {
                status,
                code: "ENABLEMENT_FAILED".into(),
                description: message,
                probable_cause: None,
                attempts: 1,
                retry_after: None,
            });
        }
        scoped
            .audit(
                "app-to-app",
                "alexa.app_to_app.enabled",
                Some(&skill.alexa_skill_id),
                json!({"endpoint": host, "stage": req.stage}),
                None,
            )
            .await?;
        Ok(json!({"status": "enabled", "alexa_api_endpoint": host, "enablement": answer}))
    }
}
