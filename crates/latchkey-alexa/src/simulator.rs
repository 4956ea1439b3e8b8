//! The linking simulator: runs the whole account-linking flow against a running Latchkey exactly as
//! Alexa would (the app's browser for authorize, sign-in and consent; Amazon's servers for the token
//! and refresh requests, with the skill's configured scheme), and reports what Alexa would see at each
//! step.
use latchkey_core::alexa::AlexaRegion;
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_store::records::Client;
use serde::Serialize;
use serde_json::Value;
use std::time::{Duration, Instant};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Step {
    pub step: &'static str,
    pub ok: bool,
    pub http_status: Option<u16>,
    pub millis: u128,
    /// What the Alexa app or Amazon's servers observe.
    pub alexa_sees: String,
}

pub struct SimulationInput<'a> {
    pub issuer: &'a str,
    pub client: &'a Client,
    pub client_secret: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    /// Alexa's redirect URI for each region the skill is live in, the default region's first: the whole
    /// flow runs with the first, and the others must reach the sign-in page too.
    pub redirect_uris: Vec<(AlexaRegion, String)>,
    /// The scheme Alexa authenticates with: the console's when it can be read, else the client's.
    pub auth_method: ClientAuthMethod,
}

/// How long Alexa waits for the token endpoint before it gives up on the link.
pub const ALEXA_TOKEN_BUDGET: Duration = Duration::from_millis(4500);

/// What Alexa makes of a token answer that took `elapsed`: `Some(reason)` when it has given up.
pub fn over_budget(elapsed: Duration) -> Option<String> {
    (elapsed > ALEXA_TOKEN_BUDGET).then(|| {
        format!(
            "the token endpoint took {} ms; Alexa gives up after {} ms",
            elapsed.as_millis(),
            ALEXA_TOKEN_BUDGET.as_millis()
        )
    })
}

fn authorize_step(region: AlexaRegion) -> &'static str {
    match region {
        AlexaRegion::NA => "authorize_na",
        AlexaRegion::EU => "authorize_eu",
        AlexaRegion::FE => "authorize_fe",
    }
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

struct Run {
    steps: Vec<Step>,
    started: Instant,
}

impl Run {
    fn push(&mut self, step: &'static str, ok: bool, status: Option<u16>, sees: impl Into<String>) -> bool {
        self.steps.push(Step {
            step,
            ok,
            http_status: status,
            millis: self.started.elapsed().as_millis(),
            alexa_sees: sees.into(),
        });
        self.started = Instant::now();
        ok
    }
}

fn token_request(
    http: &reqwest::Client,
    url: &str,
    client: &Client,
    method: ClientAuthMethod,
    secret: &str,
    form: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    match method {
        ClientAuthMethod::ClientSecretBasic => http.post(url).basic_auth(&client.client_id, Some(secret)).form(form),
        ClientAuthMethod::ClientSecretPost => {
            let mut f = form.to_vec();
            f.push(("client_id", &client.client_id));
            f.push(("client_secret", secret));
            http.post(url).form(&f)
        }
    }
}

/// Runs the flow; stops at the first failing step.
pub async fn simulate(input: SimulationInput<'_>) -> Vec<Step> {
    let mut run = Run { steps: Vec::new(), started: Instant::now() };
    let (Ok(browser), Ok(amazon)) = (
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build(),
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(Duration::from_secs(10)).build(),
    ) else {
        run.push("setup", false, None, "could not create an HTTP client");
        return run.steps;
    };
    let c = input.client;
    let Some(redirect) = input.redirect_uris.first().map(|(_, u)| u.clone()) else {
        run.push("setup", false, None, "the skill has no region");
        return run.steps;
    };
    let state = format!("simulated-{}", uuid::Uuid::new_v4().simple());
    let scope = c.scopes.join(" ");
    // Alexa's PKCE: S256 of a fresh verifier.
    let verifier = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let challenge = latchkey_core::pkce::s256_challenge(&verifier);
    let authorize_url = |redirect: &str| {
        url::Url::parse_with_params(
            &format!("{}/oauth2/authorize", input.issuer),
            &[
                ("client_id", c.client_id.as_str()),
                ("response_type", "code"),
                ("state", &state),
                ("scope", &scope),
                ("redirect_uri", redirect),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
    };
    let authorize = match authorize_url(&redirect) {
        Ok(u) => u,
        Err(e) => {
            run.push("authorize", false, None, format!("bad authorization URI: {e}"));
            return run.steps;
        }
    };
    // 1. Alexa opens the authorization URI in the app.
    let page = match browser.get(authorize).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            let form = hidden(&body, "flow").zip(hidden(&body, "csrf"));
            if !run.push(
                "authorize",
                status == 200 && form.is_some(),
                Some(status),
                if status == 200 { "the sign-in page" } else { "an error page instead of the sign-in page" },
            ) {
                return run.steps;
            }
            form
        }
        Err(e) => {
            run.push("authorize", false, None, format!("the authorization URI is unreachable: {e}"));
            return run.steps;
        }
    };
    let Some((flow, csrf)) = page else { return run.steps };
    // 2. The user signs in.
    let login = browser
        .post(format!("{}/login", input.issuer))
        .form(&[("flow", flow.as_str()), ("csrf", csrf.as_str()), ("email", input.email), ("password", input.password)])
        .send()
        .await;
    let mut location: Option<String>;
    match login {
        Ok(r) => {
            let status = r.status().as_u16();
            location = r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body = r.text().await.unwrap_or_default();
            let ok = status == 200 || status == 302;
            let sees = match status {
                200 => "the consent page",
                302 => "consent already given; straight back to Alexa",
                401 => "the sign-in form again: wrong email or password",
                429 => "the sign-in form again: too many failed attempts",
                _ => "an error page",
            };
            if !run.push("sign_in", ok, Some(status), sees) {
                return run.steps;
            }
            // 3. The user allows access.
            if status == 200 {
                let (Some(flow), Some(csrf)) = (hidden(&body, "flow"), hidden(&body, "csrf")) else {
                    run.push("consent", false, Some(status), "no consent form");
                    return run.steps;
                };
                match browser
                    .post(format!("{}/consent", input.issuer))
                    .form(&[("flow", flow.as_str()), ("csrf", csrf.as_str()), ("decision", "allow")])
                    .send()
                    .await
                {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        location = r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
                        if !run.push("consent", status == 302, Some(status), "the user allowed access") {
                            return run.steps;
                        }
                    }
                    Err(e) => {
                        run.push("consent", false, None, e.to_string());
                        return run.steps;
                    }
                }
            }
        }
        Err(e) => {
            run.push("sign_in", false, None, e.to_string());
            return run.steps;
        }
    }
    // 4. The app is sent back to Alexa with the code and the state, unchanged.
    let back = location.as_deref().and_then(|l| url::Url::parse(l).ok());
    let code = back.as_ref().and_then(|u| u.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()));
    let state_back =
        back.as_ref().and_then(|u| u.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()));
    let to_alexa = location.as_deref().is_some_and(|l| l.starts_with(&redirect));
    let ok = to_alexa && code.is_some() && state_back.as_deref() == Some(state.as_str());
    if !run.push(
        "redirect_to_alexa",
        ok,
        Some(302),
        if ok {
            format!("{redirect}?code=…&state=(unchanged)")
        } else {
            format!("an unexpected redirect: {location:?}")
        },
    ) {
        return run.steps;
    }
    let Some(code) = code else { return run.steps };
    // 5. Amazon's servers exchange the code, authenticating as the console says, within Alexa's budget.
    let token_url = format!("{}/oauth2/token", input.issuer);
    let asked = Instant::now();
    let tokens: Option<Value> = match token_request(
        &amazon,
        &token_url,
        c,
        input.auth_method,
        input.client_secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ],
    )
    .send()
    .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let ttl = body["expires_in"].as_i64().unwrap_or(0);
            let slow = over_budget(asked.elapsed());
            let ok = status == 200
                && body["access_token"].is_string()
                && body["refresh_token"].is_string()
                && ttl >= 360
                && slow.is_none();
            let sees = if let Some(slow) = slow {
                slow
            } else if ok {
                format!("tokens (expires_in {ttl} s) via {}", input.auth_method.alexa_name())
            } else {
                format!(
                    "{} {}",
                    body["error"].as_str().unwrap_or("error"),
                    body["error_description"].as_str().unwrap_or("")
                )
            };
            if !run.push("token", ok, Some(status), sees) {
                return run.steps;
            }
            Some(body)
        }
        Err(e) => {
            run.push("token", false, None, format!("the token endpoint is unreachable: {e}"));
            return run.steps;
        }
    };
    // 6. Amazon refreshes before expiry.
    let rt = tokens.as_ref().and_then(|t| t["refresh_token"].as_str()).unwrap_or_default().to_owned();
    let asked = Instant::now();
    match token_request(
        &amazon,
        &token_url,
        c,
        input.auth_method,
        input.client_secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .send()
    .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            let slow = over_budget(asked.elapsed());
            let ok = status == 200 && slow.is_none();
            let sees = match (slow, status) {
                (Some(slow), _) => slow,
                (None, 200) => "a new access token; the link stays healthy".to_owned(),
                _ => "invalid_grant: Alexa would mark the link broken".to_owned(),
            };
            if !run.push("refresh", ok, Some(status), sees) {
                return run.steps;
            }
        }
        Err(e) => {
            run.push("refresh", false, None, e.to_string());
            return run.steps;
        }
    }
    // 7. The skill's other regions: their Alexa redirect URI reaches the sign-in page (or, the user
    // being signed in and having consented, goes straight back to that region's Alexa).
    for (region, uri) in input.redirect_uris.iter().skip(1) {
        let step = authorize_step(*region);
        let Ok(url) = authorize_url(uri) else {
            run.push(step, false, None, "bad authorization URI");
            return run.steps;
        };
        match browser.get(url).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let location = r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let body = r.text().await.unwrap_or_default();
                let signs_in = status == 200 && hidden(&body, "flow").is_some();
                let back = status == 302 && location.as_deref().is_some_and(|l| l.starts_with(uri.as_str()));
                let sees = if signs_in || back {
                    format!("{} reaches the sign-in page with {uri}", region.as_str())
                } else {
                    format!("{}'s redirect URI {uri} is refused", region.as_str())
                };
                if !run.push(step, signs_in || back, Some(status), sees) {
                    return run.steps;
                }
            }
            Err(e) => {
                run.push(step, false, None, e.to_string());
                return run.steps;
            }
        }
    }
    run.steps
}

/// What a simulated link came to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SimulationResult {
    pub linked: bool,
    pub steps: Vec<Step>,
}

/// The skill's regions' Alexa redirect URIs, its default region's first.
pub fn region_redirects(skill: &latchkey_store::records::Skill) -> Vec<(AlexaRegion, String)> {
    skill.regions.iter().map(|r| (*r, latchkey_core::alexa::redirect_uri(&skill.vendor_id, *r))).collect()
}

/// The scheme SMAPI's `accessTokenScheme` names.
pub fn scheme_from_console(s: &str) -> Option<ClientAuthMethod> {
    match s {
        "HTTP_BASIC" => Some(ClientAuthMethod::ClientSecretBasic),
        "REQUEST_BODY_CREDENTIALS" => Some(ClientAuthMethod::ClientSecretPost),
        _ => None,
    }
}

impl crate::AlexaService {
    /// Runs the whole linking flow against the tenant's own endpoints as Alexa would for the skill: with
    /// the scheme the console declares (when SMAPI credentials let it be read), PKCE, and every
    /// region's redirect URI. It signs in as a real user and leaves a real link behind, so it needs
    /// write access; it is audited.
    pub async fn simulate(
        &self,
        a: &latchkey_oauth::access::Access,
        skill: &str,
        email: &str,
        password: &str,
        client_secret: &str,
    ) -> latchkey_oauth::ServiceResult<SimulationResult> {
        a.require_write()?;
        let view = self.auth.get_skill(a, skill).await?;
        let console_scheme =
            self.console_scheme(a, &view.skill).await.unwrap_or(None).and_then(|s| scheme_from_console(&s));
        let steps = simulate(SimulationInput {
            issuer: &a.issuer,
            client: &view.client,
            client_secret,
            email,
            password,
            redirect_uris: region_redirects(&view.skill),
            auth_method: console_scheme.unwrap_or(view.client.auth_method),
        })
        .await;
        let linked = steps.last().is_some_and(|s| s.ok) && steps.iter().any(|s| s.step == "refresh" && s.ok);
        a.audit(&self.auth, "skill.simulated", Some(&view.skill.alexa_skill_id), serde_json::json!({"linked": linked}))
            .await?;
        Ok(SimulationResult { linked, steps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alexa_gives_up_on_a_token_endpoint_slower_than_its_budget() {
        assert!(over_budget(Duration::from_millis(4400)).is_none());
        assert!(over_budget(ALEXA_TOKEN_BUDGET).is_none());
        let reason = over_budget(Duration::from_millis(4600));
        assert!(reason.as_deref().is_some_and(|r| r.contains("4600 ms") && r.contains("4500 ms")), "{reason:?}");
    }

    #[test]
    fn the_console_names_the_two_schemes() {
        assert_eq!(scheme_from_console("HTTP_BASIC"), Some(ClientAuthMethod::ClientSecretBasic));
        assert_eq!(scheme_from_console("REQUEST_BODY_CREDENTIALS"), Some(ClientAuthMethod::ClientSecretPost));
        assert_eq!(scheme_from_console("http_basic"), None);
    }
}
