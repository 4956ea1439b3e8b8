//! App-to-app account linking (ALEXA.md §7): the device company's app backend holds the user's
//! Latchkey authorization code and an Amazon authorization code; Latchkey exchanges the Amazon code at
//! Login with Amazon, finds the user's Alexa API region, and enables the skill with the link in one call.
use latchkey_oauth::TenantCtx;
use serde_json::{Value, json};

use crate::AlexaService;
use crate::error::AlexaError;

/// `{"skill", "latchkey_code" | "latchkey_access_token", "latchkey_redirect_uri", "amazon_code",
/// "amazon_redirect_uri", "amazon_code_verifier"?, "stage"}`.
pub struct AppToAppRequest {
    pub skill: String,
    pub latchkey: LatchkeyGrant,
    pub latchkey_redirect_uri: String,
    pub amazon_code: String,
    pub amazon_redirect_uri: String,
    /// The PKCE verifier the app used when it asked the Alexa app or LWA for the Amazon code; LWA wants
    /// it with the code.
    pub amazon_code_verifier: Option<String>,
    pub stage: String,
}

/// How the app proves the user: a code from the browser flow, or, for a user already signed in to
/// Latchkey in the app, an access token this tenant issued to them (Latchkey then issues the code).
pub enum LatchkeyGrant {
    Code(String),
    SignedIn { access_token: String },
}

/// RFC 7636 §4.1: 43-128 unreserved characters.
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// An Alexa API host as `alexaApiEndpoint` names it (`api.eu.amazonalexa.com`): a host and maybe a
/// port, nothing that could turn the URL into another one.
fn valid_host(h: &str) -> bool {
    !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
}

impl AppToAppRequest {
    pub fn parse(v: &Value) -> Result<Self, AlexaError> {
        let f = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.len() <= 2048)
                .map(str::to_owned)
                .ok_or_else(|| AlexaError::bad_request(format!("'{k}' is required")))
        };
        let amazon_code_verifier = match v.get("amazon_code_verifier") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if valid_verifier(s) => Some(s.clone()),
            Some(_) => {
                return Err(AlexaError::bad_request("'amazon_code_verifier' must be 43-128 PKCE characters"));
            }
        };
        let stage = v.get("stage").and_then(Value::as_str).unwrap_or("live").to_owned();
        if stage != "live" && stage != "development" {
            return Err(AlexaError::bad_request("'stage' must be live or development"));
        }
        let latchkey = match (v.get("latchkey_code").is_some(), v.get("latchkey_access_token").is_some()) {
            (true, false) => LatchkeyGrant::Code(f("latchkey_code")?),
            (false, true) => LatchkeyGrant::SignedIn { access_token: f("latchkey_access_token")? },
            _ => {
                return Err(AlexaError::bad_request(
                    "give 'latchkey_code' or, for a user signed in to Latchkey, 'latchkey_access_token'",
                ));
            }
        };
        Ok(Self {
            skill: f("skill")?,
            latchkey,
            latchkey_redirect_uri: f("latchkey_redirect_uri")?,
            amazon_code: f("amazon_code")?,
            amazon_redirect_uri: f("amazon_redirect_uri")?,
            amazon_code_verifier,
            stage,
        })
    }
}

impl AlexaService {
    pub async fn app_to_app(&self, t: &TenantCtx, req: &AppToAppRequest) -> Result<Value, AlexaError> {
        let scoped = self.store.scoped(t.id());
        let skill =
            scoped.skill(&req.skill).await?.ok_or_else(|| AlexaError::not_found(format!("skill '{}'", req.skill)))?;
        let (Some(id), Some(secret)) = (skill.lwa_client_id.clone(), scoped.skill_lwa_secret(&skill.id).await?) else {
            return Err(AlexaError::conflict("the skill has no Login with Amazon credentials configured"));
        };
        // Before the Amazon code (single use) is spent: the user's Latchkey code, issued here for a user
        // already signed in to Latchkey in the app.
        let latchkey_code = match &req.latchkey {
            LatchkeyGrant::Code(c) => c.clone(),
            LatchkeyGrant::SignedIn { access_token } => self
                .auth
                .code_for_signed_in_user(t, access_token, &skill.oauth_client_id, &req.latchkey_redirect_uri)
                .await
                .map_err(|e| match e {
                    latchkey_oauth::ServiceError::OAuth(o) => AlexaError::bad_request(o.description),
                    other => other.into(),
                })?,
        };
        // App-to-app codes come from the Alexa app or LWA's own page, whose token endpoint is the global
        // (North America) one in Amazon's app-to-app guide, whatever the user's region.
        let amazon = self
            .lwa(latchkey_core::alexa::AlexaRegion::NA)
            .exchange_code_with_redirect(
                &id,
                &secret,
                &req.amazon_code,
                &req.amazon_redirect_uri,
                req.amazon_code_verifier.as_deref(),
            )
            .await
            .map_err(|e| AlexaError::conflict(format!("Login with Amazon refused the Amazon code: {e}")))?;
        let api_base = self.endpoints.alexa_api_url.trim_end_matches('/');
        let scheme = api_base.split("://").next().unwrap_or("https");
        let endpoints: Value = self
            .http
            .get(format!("{api_base}/v1/alexaApiEndpoint"))
            .bearer_auth(&amazon.access_token)
            .send()
            .await
            .map_err(|e| AlexaError::unavailable(format!("the Alexa API is unreachable: {e}")))?
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
        let hosts: Vec<&str> = endpoints["endpoints"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).filter(|h| valid_host(h)).collect())
            .unwrap_or_default();
        if hosts.is_empty() {
            return Err(AlexaError::Gateway {
                status: 502,
                code: "NO_ENDPOINT".into(),
                description: "alexaApiEndpoint named no endpoint".into(),
                probable_cause: None,
                attempts: 1,
                retry_after: None,
            });
        }
        let body = json!({
            "stage": req.stage,
            "accountLinkRequest": {"redirectUri": req.latchkey_redirect_uri, "authCode": latchkey_code, "type": "AUTH_CODE"}
        });
        // Amazon: when alexaApiEndpoint names several endpoints it cannot tell which region holds the
        // user, so the enablement goes to every one of them; the user's own answers 201.
        let mut outcomes = Vec::new();
        let mut enabled: Option<(String, Value)> = None;
        for host in &hosts {
            let resp = self
                .http
                .post(format!("{scheme}://{host}/v1/users/~current/skills/{}/enablement", skill.alexa_skill_id))
                .bearer_auth(&amazon.access_token)
                .json(&body)
                .send()
                .await;
            let (status, answer) = match resp {
                Ok(r) => {
                    let status = r.status().as_u16();
                    (Some(status), r.json::<Value>().await.unwrap_or(Value::Null))
                }
                Err(e) => (None, json!({"message": format!("unreachable: {e}")})),
            };
            outcomes.push(json!({"endpoint": host, "status": status, "message": answer["message"]}));
            if matches!(status, Some(200 | 201)) && enabled.is_none() {
                enabled = Some(((*host).to_owned(), answer));
            }
        }
        let Some((host, answer)) = enabled else {
            let first = outcomes.first().cloned().unwrap_or_default();
            return Err(AlexaError::Gateway {
                status: first["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(502),
                code: "ENABLEMENT_FAILED".into(),
                description: outcomes
                    .iter()
                    .map(|o| format!("{}: {}", o["endpoint"], o["message"]))
                    .collect::<Vec<_>>()
                    .join("; "),
                probable_cause: None,
                attempts: u32::try_from(outcomes.len()).unwrap_or(u32::MAX),
                retry_after: None,
            });
        };
        scoped
            .audit(
                "app-to-app",
                "alexa.app_to_app.enabled",
                Some(&skill.alexa_skill_id),
                json!({"endpoint": host, "stage": req.stage, "signed_in": matches!(req.latchkey, LatchkeyGrant::SignedIn { .. })}),
                None,
            )
            .await?;
        Ok(json!({"status": "enabled", "alexa_api_endpoint": host, "enablement": answer, "endpoints": outcomes}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_and_hosts_are_what_the_specs_allow() {
        assert!(valid_verifier(&"a".repeat(43)) && valid_verifier(&"A-._~1".repeat(20)));
        assert!(
            !valid_verifier(&"a".repeat(42)) && !valid_verifier(&"a".repeat(129)) && !valid_verifier(&"a b".repeat(20))
        );
        assert!(valid_host("api.eu.amazonalexa.com") && valid_host("127.0.0.1:8080"));
        for bad in ["", "evil.example/path", "user@evil.example", "evil.example?x", "h\nx"] {
            assert!(!valid_host(bad), "{bad:?}");
        }
    }
}
