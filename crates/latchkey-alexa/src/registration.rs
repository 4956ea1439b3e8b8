//! What to register on Amazon's side (ALEXA.md "Automated registration"): the fields of the Alexa
//! developer console's Account Linking page, and the body of SMAPI's
//! `PUT /v1/skills/{skillId}/stages/{stage}/accountLinkingClient`. Pure.
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_store::records::{Client, Skill};
use serde_json::{Value, json};

/// Client secrets are stored hashed and cannot be shown again.
pub const SECRET_PLACEHOLDER: &str =
    "<the client secret shown when the skill was created; `latchkey client rotate-secret` issues a new one>";

fn domain_of(issuer: &str) -> Vec<String> {
    url::Url::parse(issuer).ok().and_then(|u| u.host_str().map(|h| vec![h.to_owned()])).unwrap_or_default()
}

/// The console's Account Linking page, field by field, labelled as the console labels them.
pub fn alexa_console(skill: &Skill, client: &Client, issuer: &str) -> Value {
    json!({
        "Do you allow users to create an account or link to an existing account with you?": "Yes",
        "Authorization Grant Type": "Auth Code Grant",
        "Your Web Authorization URI": format!("{issuer}/oauth2/authorize"),
        "Access Token URI": format!("{issuer}/oauth2/token"),
        "Your Client ID": client.client_id,
        "Your Secret": SECRET_PLACEHOLDER,
        "Your Authentication Scheme": client.auth_method.alexa_name(),
        "Scope": client.scopes,
        "Domain List": domain_of(issuer),
        "Default Access Token Expiration Time": client.access_token_ttl,
        "Alexa Redirect URLs (already registered in Latchkey)": client.redirect_uris,
        "Skill": skill.alexa_skill_id,
    })
}

/// SMAPI's `accountLinkingClient` body.
pub fn smapi_body(client: &Client, issuer: &str) -> Value {
    json!({
        "accountLinkingRequest": {
            "skipOnEnablement": false,
            "type": "AUTH_CODE",
            "authorizationUrl": format!("{issuer}/oauth2/authorize"),
            "domains": domain_of(issuer),
            "clientId": client.client_id,
            "scopes": client.scopes,
            "accessTokenUrl": format!("{issuer}/oauth2/token"),
            "clientSecret": SECRET_PLACEHOLDER,
            "accessTokenScheme": match client.auth_method {
                ClientAuthMethod::ClientSecretBasic => "HTTP_BASIC",
                ClientAuthMethod::ClientSecretPost => "REQUEST_BODY_CREDENTIALS",
            },
            "defaultTokenExpirationInSeconds": client.access_token_ttl,
            "redirectUrls": client.redirect_uris,
        }
    })
}
