//! The readiness check a provider should pass before certification (ALEXA.md §8), item by item, each
//! with the fix when it fails.
use latchkey_core::alexa;
use latchkey_core::refresh::RefreshPolicy;
use latchkey_oauth::TenantCtx;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

use crate::AlexaService;
use crate::error::AlexaError;
use crate::lwa::LwaError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Warn,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Item {
    pub id: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub skill: String,
    pub ready: bool,
    pub items: Vec<Item>,
}

fn item(id: &'static str, ok: bool, detail: impl Into<String>, fix: impl Into<String>) -> Item {
    Item {
        id,
        status: if ok { Status::Pass } else { Status::Fail },
        detail: detail.into(),
        fix: (!ok).then(|| fix.into()),
    }
}

/// The fix for a setting of the skill: the CLI command, and where the dashboard has the same change.
fn update_command(t: &TenantCtx, skill: &latchkey_store::records::Skill, args: &str) -> String {
    format!(
        "latchkey skill update --tenant {} --skill {} {args}, or Edit on the skill in the dashboard",
        t.tenant.slug, skill.alexa_skill_id
    )
}

/// Amazon does not accept these issuers for the account-linking endpoints (ALEXA.md §1 names Let's
/// Encrypt); matched in the DER of the chain's certificates.
const REJECTED_ISSUERS: &[&str] = &["Let's Encrypt"];

impl AlexaService {
    pub async fn readiness(&self, t: &TenantCtx, skill_ref: &str) -> Result<Readiness, AlexaError> {
        let scoped = self.store.scoped(t.id());
        let skill =
            scoped.skill(skill_ref).await?.ok_or_else(|| AlexaError::not_found(format!("skill '{skill_ref}'")))?;
        let client = scoped
            .client_by_row_id(&skill.oauth_client_id)
            .await?
            .ok_or_else(|| AlexaError::not_found("the skill's OAuth client"))?;
        let mut items = Vec::new();

        let expected = alexa::redirect_uris(&skill.vendor_id);
        let missing: Vec<&String> = expected.iter().filter(|u| !client.redirect_uris.contains(u)).collect();
        items.push(item(
            "redirect_uris",
            missing.is_empty(),
            format!("{} of Alexa's 3 redirect URIs for vendor {} are registered", 3 - missing.len(), skill.vendor_id),
            format!(
                "{} registers them again ({})",
                update_command(t, &skill, &format!("--vendor-id {}", skill.vendor_id)),
                missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ));
        items.extend(self.console_items(t, &skill, &client).await?);
        items.push(item(
            "scopes",
            client.scopes.len() <= alexa::MAX_SCOPES,
            format!("{} scopes; Alexa allows at most {}", client.scopes.len(), alexa::MAX_SCOPES),
            update_command(t, &skill, "--scope \"openid profile\""),
        ));
        let min = skill.kind.min_access_token_ttl();
        items.push(item(
            "access_token_lifetime",
            client.access_token_ttl >= min,
            format!("access tokens live {} s; a {} skill needs at least {min} s", client.access_token_ttl, skill.kind),
            update_command(t, &skill, &format!("--access-token-ttl {}", min.max(3600))),
        ));
        let (refresh_ok, refresh_detail) = match client.refresh_policy {
            RefreshPolicy::Fixed { .. } => (true, "refresh tokens are fixed (not rotated)".to_owned()),
            RefreshPolicy::Rotate { grace_secs } if grace_secs >= 60 => {
                (true, format!("refresh tokens rotate with a {grace_secs} s grace window for Alexa's retries"))
            }
            RefreshPolicy::Rotate { grace_secs } => (
                false,
                format!(
                    "refresh tokens rotate with only a {grace_secs} s grace window: a refresh Alexa retries after losing the answer revokes the link"
                ),
            ),
        };
        items.push(item(
            "refresh_policy",
            refresh_ok,
            refresh_detail,
            update_command(t, &skill, "--refresh-grace 3600 (or --refresh-policy fixed)"),
        ));

        let public = url::Url::parse(&t.issuer).map_err(|e| AlexaError::internal(e.to_string()))?;
        let https = public.scheme() == "https";
        let no_port = public.port().is_none();
        items.push(item(
            "public_url",
            https && no_port,
            format!("authorization and token URIs are under {}", t.issuer),
            "serve Latchkey at https on port 443 and set LATCHKEY_PUBLIC_URL without a port",
        ));
        items.push(if https {
            self.check_certificate(&public).await
        } else {
            item(
                "tls_certificate",
                false,
                "the public URL is not https, so there is no certificate to check",
                "put Latchkey behind TLS with a certificate from a CA Amazon trusts",
            )
        });
        items.push(self.check_lwa(t, &skill).await?);
        items.push(
            self.check_login_page(t, &client.client_id, expected.first().map(String::as_str).unwrap_or_default()).await,
        );

        Ok(Readiness { skill: skill.alexa_skill_id, ready: items.iter().all(|i| i.status != Status::Fail), items })
    }

    /// The console's side, read through SMAPI when the tenant has credentials: the authentication
    /// scheme, and every account-linking field against what Latchkey would publish.
    async fn console_items(
        &self,
        t: &TenantCtx,
        skill: &latchkey_store::records::Skill,
        client: &latchkey_store::records::Client,
    ) -> Result<Vec<Item>, AlexaError> {
        let scheme = format!("{} ({})", client.auth_method.alexa_name(), client.auth_method.as_str());
        let publish = format!(
            "latchkey skill publish --tenant {} --skill {} (reads the client secret from stdin), or Publish on the skill in the dashboard",
            t.tenant.slug, skill.alexa_skill_id
        );
        let fields = match self.compare_with_console(t, skill, client, crate::smapi::Stage::Development).await {
            Ok(Some(f)) => f,
            Ok(None) => {
                let warn = |id, detail: String| Item {
                    id,
                    status: Status::Warn,
                    detail,
                    fix: Some(format!(
                        "set SMAPI credentials (latchkey tenant set-smapi {} --lwa-client-id …) to compare",
                        t.tenant.slug
                    )),
                };
                return Ok(vec![
                    warn(
                        "auth_scheme",
                        format!(
                            "the client authenticates with {scheme}; the console's Authentication Scheme must say the same, and cannot be read without SMAPI credentials"
                        ),
                    ),
                    warn("console", "the console's account linking cannot be read without SMAPI credentials".into()),
                ]);
            }
            Err(e) => {
                let detail = format!("the console's account linking could not be read: {e}");
                return Ok(vec![item("console", false, detail, publish)]);
            }
        };
        let scheme_ok = fields.iter().any(|f| f.field == "accessTokenScheme" && f.matches);
        let console_scheme = fields.iter().find(|f| f.field == "accessTokenScheme").map(|f| f.console.to_string());
        let wrong: Vec<&str> = fields.iter().filter(|f| !f.matches).map(|f| f.field).collect();
        Ok(vec![
            item(
                "auth_scheme",
                scheme_ok,
                format!(
                    "the client authenticates with {scheme}; the console says {}",
                    console_scheme.unwrap_or_default()
                ),
                publish.clone(),
            ),
            item(
                "console",
                wrong.is_empty(),
                if wrong.is_empty() {
                    "the console's account linking (development stage) is what Latchkey expects".to_owned()
                } else {
                    format!("the console's account linking differs in: {}", wrong.join(", "))
                },
                publish,
            ),
        ])
    }

    /// A dry-run exchange of a code that cannot be valid: `invalid_grant` means LWA accepted the client
    /// credentials, `invalid_client` means it did not.
    async fn check_lwa(&self, t: &TenantCtx, skill: &latchkey_store::records::Skill) -> Result<Item, AlexaError> {
        let secret = self.store.scoped(t.id()).skill_lwa_secret(&skill.id).await?;
        let (Some(id), Some(secret)) = (skill.lwa_client_id.as_deref(), secret) else {
            return Ok(item(
                "lwa_credentials",
                false,
                "no Alexa Skill Messaging credentials: AcceptGrant and events cannot work",
                format!(
                    "copy the client id and secret from the console's Permissions page (Alexa Skill Messaging): {}",
                    update_command(t, skill, "--lwa-client-id <id> --lwa-client-secret-stdin")
                ),
            ));
        };
        Ok(match self.lwa(skill.region).exchange_code(id, &secret, "latchkey-readiness-check-not-a-code").await {
            Err(LwaError::InvalidGrant(_)) => {
                item("lwa_credentials", true, "Login with Amazon accepted the messaging credentials", "")
            }
            Err(LwaError::InvalidClient) => item(
                "lwa_credentials",
                false,
                "Login with Amazon rejected the messaging client id or secret",
                format!(
                    "copy them again from the console's Permissions page (Alexa Skill Messaging): {}",
                    update_command(t, skill, "--lwa-client-id <id> --lwa-client-secret-stdin")
                ),
            ),
            Err(e) => item(
                "lwa_credentials",
                false,
                format!("could not verify the credentials: {e}"),
                "check that Login with Amazon is reachable",
            ),
            Ok(_) => item(
                "lwa_credentials",
                false,
                "Login with Amazon accepted a made-up code",
                "this is not Login with Amazon; check LATCHKEY_LWA_TOKEN_URL",
            ),
        })
    }

    /// The sign-in page Alexa's users will see, fetched through the public URL.
    async fn check_login_page(&self, t: &TenantCtx, client_id: &str, redirect_uri: &str) -> Item {
        let url = match url::Url::parse_with_params(
            &format!("{}/oauth2/authorize", t.issuer),
            &[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("state", "readiness"),
                ("prompt", "login"),
            ],
        ) {
            Ok(u) => u,
            Err(e) => return item("login_page", false, format!("bad URL: {e}"), "check LATCHKEY_PUBLIC_URL"),
        };
        match self.http.get(url).send().await {
            Ok(r) if r.status().is_success() => {
                let body = r.text().await.unwrap_or_default();
                // A tenant may offer only its upstream providers ("Continue with …"): that signs in too.
                let form = body.contains("name=\"password\"") && body.contains("name=\"email\"");
                let providers = body.matches("class=\"provider\"").count();
                let offers = match (form, providers) {
                    (true, 0) => "the password form".to_owned(),
                    (true, n) => format!("the password form and {n} upstream provider(s)"),
                    (false, n) => format!("{n} upstream provider(s)"),
                };
                item(
                    "login_page",
                    form || providers > 0,
                    format!("the sign-in page answers through the public URL and offers {offers}"),
                    "the page answered but offered no way to sign in: set the tenant's sign-in methods (latchkey tenant set-login-methods)",
                )
            }
            Ok(r) => item(
                "login_page",
                false,
                format!("the authorization endpoint answered {}", r.status()),
                "check the proxy in front of Latchkey",
            ),
            Err(e) => item(
                "login_page",
                false,
                format!("the public URL is not reachable from here: {e}"),
                "check DNS, the load balancer and LATCHKEY_PUBLIC_URL",
            ),
        }
    }

    /// Connects with TLS and verifies the chain against the public web PKI roots (an incomplete chain
    /// fails here, as it does for Amazon), then looks for issuers Amazon rejects.
    async fn check_certificate(&self, public: &url::Url) -> Item {
        let host = public.host_str().unwrap_or_default().to_owned();
        let port = public.port().unwrap_or(443);
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let config =
            match rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
            {
                Ok(b) => b.with_root_certificates(roots).with_no_client_auth(),
                Err(e) => return item("tls_certificate", false, format!("TLS setup failed: {e}"), ""),
            };
        let Ok(name) = rustls::pki_types::ServerName::try_from(host.clone()) else {
            return item("tls_certificate", false, format!("'{host}' is not a valid server name"), "");
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let attempt = async {
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| e.to_string())?;
            let tls = connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
            let (_, conn) = tls.get_ref();
            Ok::<_, String>(
                conn.peer_certificates()
                    .map(|c| c.iter().map(|d| d.as_ref().to_vec()).collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
        };
        match tokio::time::timeout(Duration::from_secs(5), attempt).await {
            Err(_) => item(
                "tls_certificate",
                false,
                format!("{host}:{port} did not complete a TLS handshake in 5 s"),
                "check the load balancer",
            ),
            Ok(Err(e)) => item(
                "tls_certificate",
                false,
                format!("the certificate chain of {host} does not verify: {e}"),
                "serve the full chain (leaf and intermediates) from a CA Amazon trusts",
            ),
            Ok(Ok(chain)) => {
                let rejected = REJECTED_ISSUERS.iter().find(|issuer| {
                    chain
                        .iter()
                        .skip(1)
                        .chain(chain.first())
                        .any(|der| der.windows(issuer.len()).any(|w| w == issuer.as_bytes()))
                });
                match rejected {
                    Some(issuer) => item(
                        "tls_certificate",
                        false,
                        format!(
                            "the chain of {host} is issued by {issuer}, which Amazon does not accept for account linking"
                        ),
                        "use a certificate from a CA on Amazon's trust list",
                    ),
                    None => item(
                        "tls_certificate",
                        true,
                        format!("{host} serves a complete chain ({} certificates) that verifies", chain.len()),
                        "",
                    ),
                }
            }
        }
    }
}
