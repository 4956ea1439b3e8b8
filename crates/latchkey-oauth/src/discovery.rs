//! OpenID Provider metadata (OIDC Discovery §3) and RFC 8414 authorization-server metadata.
use serde_json::{Value, json};

use crate::keys::SigningAlg;
use crate::{AuthServer, TenantCtx};

impl AuthServer {
    /// Every tenant can sign ID tokens with each algorithm (a client picks one when registered, RS256
    /// by default), so all are listed, RS256 first: OpenID Connect Discovery requires it.
    pub fn discovery(&self, t: &TenantCtx) -> Value {
        let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
        let i = &t.issuer;
        json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}/oauth2/authorize"),
            "token_endpoint": format!("{i}/oauth2/token"),
            "revocation_endpoint": format!("{i}/oauth2/revoke"),
            "introspection_endpoint": format!("{i}/oauth2/introspect"),
            "userinfo_endpoint": format!("{i}/oauth2/userinfo"),
            "jwks_uri": format!("{i}/.well-known/jwks.json"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "bearer"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "email", "email_verified", "name"],
            "prompt_values_supported": ["none", "login", "consent"],
            "authorization_response_iss_parameter_supported": true,
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
        })
    }
}
