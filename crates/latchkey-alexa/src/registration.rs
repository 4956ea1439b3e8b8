//! What to register on Amazon's side (ALEXA.md "Automated registration"): the fields of the Alexa
//! developer console's Account Linking page, and the body of SMAPI's
//! `PUT /v1/skills/{skillId}/stages/{stage}/accountLinkingClient`. Pure. In that body `redirectUrls`
//! are the company's app's URLs (app-to-app linking), not Alexa's three, and `domains` are the other
//! domains the sign-in page uses.
use latchkey_core::alexa;
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_store::records::{Client, Skill};
use serde_json::{Value, json};

/// Client secrets are stored hashed and cannot be shown again.
pub const SECRET_PLACEHOLDER: &str =
    "<the client secret shown when the skill was created; `latchkey client rotate-secret` issues a new one>";

/// The console's Domain List: the *additional* domains the sign-in page sends users to or loads from
/// (upstream providers, a logo elsewhere), each once, never the issuer's own, at most Alexa's 15.
pub fn additional_domains(issuer: &str, urls: &[&str]) -> Vec<String> {
    let host = |u: &str| url::Url::parse(u).ok().and_then(|u| u.host_str().map(str::to_owned));
    let own = host(issuer);
    let mut out: Vec<String> = Vec::new();
    for h in urls.iter().filter_map(|u| host(u)) {
        if Some(&h) != own.as_ref() && !out.contains(&h) {
            out.push(h);
        }
    }
    out.truncate(alexa::MAX_DOMAINS);
    out
}

/// The client's redirect URIs that are not Alexa's three: the company's own app's, for app-to-app
/// linking. These are SMAPI's `redirectUrls` (the console's "Your Redirect URLs").
pub fn app_redirect_urls(skill: &Skill, client: &Client) -> Vec<String> {
    let alexa = alexa::redirect_uris(&skill.vendor_id);
    client.redirect_uris.iter().filter(|u| !alexa.contains(u)).cloned().collect()
}

/// The console's Account Linking page, field by field, labelled as the console labels them.
pub fn alexa_console(skill: &Skill, client: &Client, issuer: &str, domains: &[String]) -> Value {
    json!({
        "Do you allow users to create an account or link to an existing account with you?": "Yes",
        "Authorization Grant Type": "Auth Code Grant",
        "Your Web Authorization URI": format!("{issuer}/oauth2/authorize"),
        "Access Token URI": format!("{issuer}/oauth2/token"),
        "Your Client ID": client.client_id,
        "Your Secret": SECRET_PLACEHOLDER,
        "Your Authentication Scheme": client.auth_method.alexa_name(),
        "Scope": client.scopes,
        "Domain List": domains,
        "Default Access Token Expiration Time": client.access_token_ttl,
        "Your Redirect URLs (app-to-app linking)": app_redirect_urls(skill, client),
        "Alexa Redirect URLs (already registered in Latchkey)": alexa::redirect_uris(&skill.vendor_id),
        "Skill": skill.alexa_skill_id,
    })
}

/// SMAPI's `accountLinkingClient` body, as Amazon's accountLinkingRequest schema defines it.
pub fn smapi_body(skill: &Skill, client: &Client, issuer: &str, domains: &[String], client_secret: &str) -> Value {
    json!({
        "accountLinkingRequest": {
            "skipOnEnablement": false,
            "type": "AUTH_CODE",
            "authorizationUrl": format!("{issuer}/oauth2/authorize"),
            "domains": domains,
            "clientId": client.client_id,
            "scopes": client.scopes,
            "accessTokenUrl": format!("{issuer}/oauth2/token"),
            "clientSecret": client_secret,
            "accessTokenScheme": match client.auth_method {
                ClientAuthMethod::ClientSecretBasic => "HTTP_BASIC",
                ClientAuthMethod::ClientSecretPost => "REQUEST_BODY_CREDENTIALS",
            },
            "defaultTokenExpirationInSeconds": client.access_token_ttl,
            "redirectUrls": app_redirect_urls(skill, client),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_list_holds_only_other_hosts_once() {
        let d = additional_domains(
            "https://id.acme.example/t/acme",
            &[
                "https://login.upstream.example",
                "https://id.acme.example/logo.png",
                "https://login.upstream.example/x",
                "not a url",
            ],
        );
        assert_eq!(d, ["login.upstream.example"]);
        let many: Vec<String> = (0..20).map(|i| format!("https://h{i}.example")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(additional_domains("https://id.example", &refs).len(), alexa::MAX_DOMAINS);
    }
}
