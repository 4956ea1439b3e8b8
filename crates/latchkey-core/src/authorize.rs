//! Validation of an authorization request (RFC 6749 §4.1.1, RFC 7636, OIDC Core §3.1.2.1), in the order
//! that keeps users safe: the client and redirect URI first, because until both are known good an error
//! must be shown on our own page and never sent to an unverified URI (RFC 6749 §4.1.2.1).
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, OAuthError};
use crate::{pkce, redirect, scope};

/// Caps on what a flow stores for an anonymous visitor; with them a stored flow stays under
/// `MAX_FLOW_BYTES`. Alexa's own `state` is a few hundred characters.
pub const MAX_STATE_LEN: usize = 2048;
pub const MAX_NONCE_LEN: usize = 512;
pub const MAX_LOGIN_HINT_LEN: usize = 256;
/// Longer than any list of scopes a client may register (Alexa allows 15).
pub const MAX_SCOPE_LEN: usize = 1024;
/// The most a stored flow can take: the capped parameters, a registered redirect URI (bounded where
/// clients are registered) and a few fixed fields.
pub const MAX_FLOW_BYTES: usize = 8 * 1024;

/// The raw parameters of an authorization request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub response_mode: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    /// RFC 6749 §3.1: parameters must not repeat. Names that did are listed here.
    pub repeated: Vec<String>,
}

impl AuthorizeParams {
    /// Builds the parameters from decoded query or form pairs, noting repeated names.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut p = Self::default();
        for (k, v) in pairs {
            let k = k.as_ref();
            let slot = match k {
                "response_type" => &mut p.response_type,
                "client_id" => &mut p.client_id,
                "redirect_uri" => &mut p.redirect_uri,
                "scope" => &mut p.scope,
                "state" => &mut p.state,
                "nonce" => &mut p.nonce,
                "code_challenge" => &mut p.code_challenge,
                "code_challenge_method" => &mut p.code_challenge_method,
                "prompt" => &mut p.prompt,
                "response_mode" => &mut p.response_mode,
                "max_age" => &mut p.max_age,
                "login_hint" => &mut p.login_hint,
                _ => continue,
            };
            if slot.is_some() {
                if !p.repeated.iter().any(|r| r == k) {
                    p.repeated.push(k.to_owned());
                }
            } else {
                *slot = Some(v.into());
            }
        }
        p
    }
}

/// What the authorization endpoint needs to know about the client, whatever store it came from.
#[derive(Clone, Debug)]
pub struct ClientView<'a> {
    pub redirect_uris: &'a [String],
    pub allowed_scopes: &'a [String],
    pub require_pkce: bool,
    pub allows_authorization_code: bool,
}

/// What the user should be asked for, from `prompt` (OIDC Core §3.1.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A request that passed every check: safe to show the login page for, and to redirect back to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatedAuthorization {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the request named the redirect URI; if so the token request must repeat it (§4.1.3).
    pub redirect_uri_given: bool,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
}

/// Why a request was refused, and where the refusal may be shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Client or redirect URI could not be trusted: show an error page, never redirect.
    Page(OAuthError),
    /// The redirect URI is registered: send the error back to the client with its `state`.
    Redirect { redirect_uri: String, error: OAuthError, state: Option<String> },
}

/// Checks the request's client-independent form before the client is looked up.
pub fn precheck(params: &AuthorizeParams) -> Result<&str, Rejection> {
    for fatal in ["client_id", "redirect_uri"] {
        if params.repeated.iter().any(|r| r == fatal) {
            return Err(Rejection::Page(OAuthError::invalid_request(format!(
                "parameter '{fatal}' was sent more than once"
            ))));
        }
    }
    params
        .client_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Rejection::Page(OAuthError::invalid_request("client_id is missing")))
}

/// Validates the request against the client. Call after `precheck` and after looking the client up
/// (an unknown client is a `Page` rejection the caller makes).
pub fn validate(params: &AuthorizeParams, client: &ClientView<'_>) -> Result<ValidatedAuthorization, Rejection> {
    let client_id = precheck(params)?.to_owned();
    let Some(redirect_uri) = redirect::select(params.redirect_uri.as_deref(), client.redirect_uris) else {
        let why = match params.redirect_uri.as_deref() {
            Some(r) => format!("redirect_uri '{r}' is not registered for this client"),
            None => "redirect_uri is required because this client registers several".to_owned(),
        };
        return Err(Rejection::Page(OAuthError::invalid_request(why)));
    };
    let redirect_uri = redirect_uri.to_owned();
    // Oversized parameters get our own 400 page: nothing this large is stored for an anonymous
    // visitor, and an oversized state is not echoed to the client either.
    for (name, value, cap) in [
        ("state", &params.state, MAX_STATE_LEN),
        ("nonce", &params.nonce, MAX_NONCE_LEN),
        ("login_hint", &params.login_hint, MAX_LOGIN_HINT_LEN),
        ("scope", &params.scope, MAX_SCOPE_LEN),
    ] {
        if value.as_ref().is_some_and(|v| v.len() > cap) {
            return Err(Rejection::Page(OAuthError::invalid_request(format!(
                "{name} is longer than {cap} characters"
            ))));
        }
    }
    let state = params.state.clone();
    let reject = |error: OAuthError| Rejection::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        // A state too long to carry is not echoed: the client will not match it anyway.
        state: state.clone().filter(|s| s.len() <= MAX_STATE_LEN),
    };

    if let Some(r) = params.repeated.first() {
        return Err(reject(OAuthError::invalid_request(format!("parameter '{r}' was sent more than once"))));
    }
    match params.response_type.as_deref() {
        None | Some("") => return Err(reject(OAuthError::invalid_request("response_type is missing"))),
        Some("code") => {}
        Some(_) => {
            return Err(reject(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            )));
        }
    }
    if !client.allows_authorization_code {
        return Err(reject(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code grant",
        )));
    }
    if let Some(mode) = params.response_mode.as_deref()
        && mode != "query"
    {
        return Err(reject(OAuthError::invalid_request("only response_mode=query is supported")));
    }
    let scopes = scope::resolve(params.scope.as_deref(), client.allowed_scopes).map_err(reject)?;
    let code_challenge = pkce::validate_challenge(
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
        client.require_pkce,
    )
    .map_err(reject)?;
    let prompt = parse_prompt(params.prompt.as_deref()).map_err(reject)?;
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(m) => Some(
            m.parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| reject(OAuthError::invalid_request("max_age must be a non-negative integer")))?,
        ),
    };
    Ok(ValidatedAuthorization {
        client_id,
        redirect_uri: redirect_uri.clone(),
        redirect_uri_given: params.redirect_uri.is_some(),
        scopes,
        state,
        nonce: params.nonce.clone(),
        code_challenge,
        prompt,
        max_age,
        login_hint: params.login_hint.clone(),
    })
}

fn parse_prompt(p: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut out = Prompt::default();
    for v in p.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        match v {
            "none" => out.none = true,
            "login" => out.login = true,
            "consent" => out.consent = true,
            "select_account" => {}
            _ => return Err(OAuthError::invalid_request(format!("unsupported prompt value '{v}'"))),
        }
    }
    if out.none && (out.login || out.consent) {
        return Err(OAuthError::invalid_request("prompt=none cannot be combined with other values"));
    }
    Ok(out)
}

/// The query of a successful answer (RFC 6749 §4.1.2), with `iss` (RFC 9207) so a client that talks
/// to several servers can tell which one answered.
pub fn success_redirect(redirect_uri: &str, code: &str, state: Option<&str>, issuer: &str) -> String {
    let mut params = vec![("code", code)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect::with_params(redirect_uri, &params)
}

/// The query of an error answer (RFC 6749 §4.1.2.1).
pub fn error_redirect(redirect_uri: &str, error: &OAuthError, state: Option<&str>, issuer: &str) -> String {
    let description = crate::error::sanitize_description(&error.description);
    let mut params = vec![("error", error.code.as_str()), ("error_description", description.as_str())];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect::with_params(redirect_uri, &params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CB: &str = "https://pitangui.amazon.com/api/skill/link/M2X";

    fn client() -> (Vec<String>, Vec<String>) {
        (
            vec![CB.to_string(), "https://layla.amazon.com/api/skill/link/M2X".to_string()],
            vec!["openid".to_string(), "smart_home".to_string()],
        )
    }

    fn view<'a>(c: &'a (Vec<String>, Vec<String>), pkce: bool) -> ClientView<'a> {
        ClientView { redirect_uris: &c.0, allowed_scopes: &c.1, require_pkce: pkce, allows_authorization_code: true }
    }

    fn params(extra: &[(&str, &str)]) -> AuthorizeParams {
        let mut pairs = vec![("response_type", "code"), ("client_id", "c1"), ("redirect_uri", CB), ("state", "xyz")];
        for (k, v) in extra {
            pairs.retain(|(pk, _)| pk != k);
            pairs.push((k, v));
        }
        AuthorizeParams::from_pairs(pairs.into_iter().filter(|(_, v)| !v.is_empty()))
    }

    fn redirect_code(r: Result<ValidatedAuthorization, Rejection>) -> ErrorCode {
        match r {
            Err(Rejection::Redirect { error, state, redirect_uri }) => {
                assert_eq!(redirect_uri, CB);
                assert_eq!(state.as_deref(), Some("xyz"));
                error.code
            }
            other => panic!("expected a redirect rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_passes() {
        let c = client();
        let v = validate(&params(&[]), &view(&c, false)).expect("valid");
        assert_eq!(v.redirect_uri, CB);
        assert_eq!(v.scopes, c.1);
        assert_eq!(v.state.as_deref(), Some("xyz"));
    }

    #[test]
    fn untrusted_redirects_end_on_a_page() {
        let c = client();
        for p in [
            params(&[("redirect_uri", "https://evil.example/cb")]),
            params(&[("redirect_uri", "")]),
            params(&[("client_id", "")]),
            AuthorizeParams::from_pairs([("client_id", "c1"), ("client_id", "c2"), ("redirect_uri", CB)]),
            AuthorizeParams::from_pairs([("client_id", "c1"), ("redirect_uri", CB), ("redirect_uri", CB)]),
        ] {
            assert!(matches!(validate(&p, &view(&c, false)), Err(Rejection::Page(_))), "{p:?}");
        }
    }

    #[test]
    fn errors_after_the_redirect_is_trusted_go_back_with_state() {
        let c = client();
        let v = view(&c, false);
        assert_eq!(redirect_code(validate(&params(&[("response_type", "")]), &v)), ErrorCode::InvalidRequest);
        assert_eq!(
            redirect_code(validate(&params(&[("response_type", "token")]), &v)),
            ErrorCode::UnsupportedResponseType
        );
        assert_eq!(redirect_code(validate(&params(&[("scope", "admin")]), &v)), ErrorCode::InvalidScope);
        assert_eq!(
            redirect_code(validate(&params(&[("code_challenge", "x"), ("code_challenge_method", "plain")]), &v)),
            ErrorCode::InvalidRequest
        );
        assert_eq!(redirect_code(validate(&params(&[("prompt", "none login")]), &v)), ErrorCode::InvalidRequest);
        assert_eq!(redirect_code(validate(&params(&[("max_age", "-1")]), &v)), ErrorCode::InvalidRequest);
        assert_eq!(redirect_code(validate(&params(&[("response_mode", "fragment")]), &v)), ErrorCode::InvalidRequest);
        let mut dup = params(&[]);
        dup.repeated.push("scope".into());
        assert_eq!(redirect_code(validate(&dup, &v)), ErrorCode::InvalidRequest);
        let strict = view(&c, true);
        assert_eq!(redirect_code(validate(&params(&[]), &strict)), ErrorCode::InvalidRequest);
        let no_code = ClientView { allows_authorization_code: false, ..view(&c, false) };
        assert_eq!(redirect_code(validate(&params(&[]), &no_code)), ErrorCode::UnauthorizedClient);
    }

    #[test]
    fn redirects_carry_state_and_issuer() {
        let u = success_redirect(CB, "abc", Some("s t"), "https://lk.example/t/acme");
        assert_eq!(u, format!("{CB}?code=abc&state=s+t&iss=https%3A%2F%2Flk.example%2Ft%2Facme"));
        let e = error_redirect(CB, &OAuthError::new(ErrorCode::AccessDenied, "denied"), Some("s"), "i");
        assert_eq!(e, format!("{CB}?error=access_denied&error_description=denied&state=s&iss=i"));
    }

    proptest! {
        #[test]
        fn arbitrary_params_never_panic(
            pairs in proptest::collection::vec(("[a-z_]{1,22}", ".{0,80}"), 0..12)
        ) {
            let c = client();
            let p = AuthorizeParams::from_pairs(pairs);
            let _ = validate(&p, &view(&c, false));
            let _ = validate(&p, &view(&c, true));
        }
    }
}
