//! The command line. Every command takes `--json` and then prints exactly one JSON object on stdout;
//! messages go to stderr, and a failure exits non-zero. Commands work on the database directly, so
//! they work whether or not a server is running.
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use latchkey_core::alexa::{AlexaRegion, SkillKind};
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_core::refresh::RefreshPolicy;
use latchkey_oauth::AuthServer;
use latchkey_oauth::access::Actor;
use latchkey_oauth::admin::ClientOptions;
use latchkey_oauth::keys::SigningAlg;
use latchkey_oauth::manage::ClientUpdate;
use latchkey_oauth::skill_update::SkillUpdate;
use latchkey_store::records::TenantStatus;
use serde_json::{Value, json};
use std::io::BufRead;

use crate::app::{Application, Services, open_services};
use crate::config::Config;
use latchkey_alexa::{AlexaService, registration};

#[derive(Parser, Debug)]
#[command(
    name = "latchkey",
    version,
    about = "Latchkey: account linking for Alexa skills, one OAuth 2.0 / OpenID Connect server per tenant"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run pending migrations, then serve HTTP.
    Serve {
        /// Address to listen on (overrides LATCHKEY_BIND).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Run pending database migrations and exit.
    Migrate(JsonFlag),
    /// Tenants: one authorization server each.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Alexa skills and the OAuth client Alexa uses for each.
    #[command(subcommand)]
    Skill(SkillCmd),
    /// OAuth clients.
    #[command(subcommand)]
    Client(ClientCmd),
    /// End users of a tenant.
    #[command(subcommand)]
    User(UserCmd),
    /// Tenant API keys (for the skill backend and the management API).
    #[command(subcommand)]
    Apikey(ApiKeyCmd),
    /// Platform operators.
    #[command(subcommand)]
    Operator(OperatorCmd),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Upstream OpenID Connect providers users can sign in with.
    #[command(subcommand)]
    Provider(ProviderCmd),
}

#[derive(Subcommand, Debug)]
pub enum ProviderCmd {
    Create {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// The provider's issuer (its discovery document is at {issuer}/.well-known/openid-configuration).
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        client_id: String,
        /// Generated secrets are base64url: one in 64 starts with '-', which is a value, not a flag.
        #[arg(long, allow_hyphen_values = true)]
        client_secret: String,
        #[arg(long)]
        scope: Option<String>,
        /// Sign in the existing user with the same verified email on first use.
        #[arg(long)]
        link_by_email: bool,
        /// Create a user on first sign-in when nothing matches.
        #[arg(long)]
        create_users: bool,
        /// Display fields from other claims, e.g. name=given_name (email is never mappable)
        #[arg(long)]
        claim_map: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    Update {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        provider: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        issuer: Option<String>,
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long, allow_hyphen_values = true)]
        client_secret: Option<String>,
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        link_by_email: Option<bool>,
        #[arg(long)]
        create_users: Option<bool>,
        #[arg(long)]
        claim_map: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    List {
        #[command(flatten)]
        t: TenantArg,
        #[command(flatten)]
        out: JsonFlag,
    },
    Show {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        provider: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    Delete {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        provider: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Args, Debug, Clone, Copy)]
pub struct JsonFlag {
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TenantArg {
    /// Tenant slug.
    #[arg(long)]
    pub tenant: String,
}

#[derive(Subcommand, Debug)]
pub enum TenantCmd {
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// How the tenant's access tokens are signed: RS256 (what every relying party accepts), ES256 or
        /// EdDSA. Change it later with `keys rotate --alg`. ID tokens go by each client's
        /// `--id-token-alg` (RS256 unless set).
        #[arg(long, default_value = "RS256")]
        signing_alg: SigningAlg,
        #[command(flatten)]
        out: JsonFlag,
    },
    List(JsonFlag),
    Show {
        slug: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Suspend a tenant: its endpoints answer with a clear error until resumed.
    Suspend {
        slug: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    Resume {
        slug: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Store the vendor's Skill Management API credentials (for `skill publish` and the console
    /// comparison in `skill check`): reads two lines from stdin, the LWA client secret then the refresh
    /// token from `ask util generate-lwa-tokens`. Login with Amazon must accept them first.
    SetSmapi {
        slug: String,
        /// The Login with Amazon client the refresh token was issued to.
        #[arg(long)]
        lwa_client_id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Forget the tenant's SMAPI credentials.
    RemoveSmapi {
        slug: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Which sign-in methods the sign-in page offers: both (default), password, or federated.
    SetLoginMethods {
        slug: String,
        #[arg(long)]
        methods: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Whether a user's own password reset (mailed link) keeps their grants (Alexa links). Off by
    /// default: every grant ends, so a thief's link does not outlive the owner's reset.
    SetPasswordPolicy {
        slug: String,
        #[arg(long, action = clap::ArgAction::Set)]
        keep_grants_on_self_service_reset: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Delete a tenant and everything it owns.
    Delete {
        slug: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Args, Debug)]
pub struct ClientOpts {
    /// client_secret_basic (HTTP Basic, Alexa's recommended scheme) or client_secret_post (credentials in body).
    #[arg(long, default_value = "client_secret_basic")]
    pub auth_method: ClientAuthMethod,
    /// Space-separated scopes the client may request.
    #[arg(long)]
    pub scope: Option<String>,
    /// Access-token lifetime in seconds (a skill needs at least 360, Alexa's rule).
    #[arg(long)]
    pub access_token_ttl: Option<i64>,
    /// rotate (new refresh token each use, old one honoured for the grace window) or fixed.
    #[arg(long, default_value = "rotate")]
    pub refresh_policy: String,
    /// Grace window for rotated refresh tokens, in seconds.
    #[arg(long, default_value_t = latchkey_core::refresh::DEFAULT_GRACE_SECS)]
    pub refresh_grace: i64,
    /// For `fixed` refresh tokens: expire after this many idle seconds.
    #[arg(long)]
    pub refresh_idle: Option<i64>,
    /// Absolute refresh-token lifetime in seconds (default: no expiry, as Alexa prefers).
    #[arg(long)]
    pub refresh_token_ttl: Option<i64>,
    /// Require PKCE (S256) on every authorization request.
    #[arg(long)]
    pub require_pkce: bool,
    /// The algorithm of the client's ID tokens: RS256 (default), ES256 or EdDSA.
    #[arg(long)]
    pub id_token_alg: Option<SigningAlg>,
}

impl ClientOpts {
    fn to_options(&self) -> anyhow::Result<ClientOptions> {
        let policy = match self.refresh_policy.as_str() {
            "rotate" => RefreshPolicy::Rotate { grace_secs: self.refresh_grace },
            "fixed" => RefreshPolicy::Fixed { idle_secs: self.refresh_idle },
            other => bail!("unknown refresh policy '{other}' (rotate or fixed)"),
        };
        Ok(ClientOptions {
            auth_method: self.auth_method,
            scopes: self.scope.clone(),
            access_token_ttl: self.access_token_ttl,
            refresh_policy: Some(policy),
            refresh_token_ttl: self.refresh_token_ttl,
            require_pkce: self.require_pkce,
            id_token_signed_response_alg: self.id_token_alg,
        })
    }
}

/// Client settings to change; an option left out keeps its value.
#[derive(Args, Debug)]
pub struct ClientChangeOpts {
    /// client_secret_basic or client_secret_post (must match the Alexa console's Authentication Scheme).
    #[arg(long)]
    pub auth_method: Option<ClientAuthMethod>,
    /// Space-separated scopes the client may request.
    #[arg(long)]
    pub scope: Option<String>,
    /// Access-token lifetime in seconds (a skill needs at least 360, Alexa's rule).
    #[arg(long)]
    pub access_token_ttl: Option<i64>,
    /// rotate or fixed.
    #[arg(long)]
    pub refresh_policy: Option<String>,
    /// Grace window for rotated refresh tokens, in seconds (implies rotate).
    #[arg(long)]
    pub refresh_grace: Option<i64>,
    /// For fixed refresh tokens: expire after this many idle seconds (implies fixed).
    #[arg(long)]
    pub refresh_idle: Option<i64>,
    /// Absolute refresh-token lifetime in seconds; 0 for none.
    #[arg(long)]
    pub refresh_token_ttl: Option<i64>,
    /// Require PKCE (S256) on every authorization request: true or false.
    #[arg(long)]
    pub require_pkce: Option<bool>,
    /// The algorithm of the client's ID tokens: RS256, ES256 or EdDSA.
    #[arg(long)]
    pub id_token_alg: Option<SigningAlg>,
}

impl ClientChangeOpts {
    fn refresh_policy(&self) -> anyhow::Result<Option<RefreshPolicy>> {
        let grace = || self.refresh_grace.unwrap_or(latchkey_core::refresh::DEFAULT_GRACE_SECS);
        Ok(match (self.refresh_policy.as_deref(), self.refresh_grace, self.refresh_idle) {
            (Some("rotate"), _, None) | (None, Some(_), None) => Some(RefreshPolicy::Rotate { grace_secs: grace() }),
            (Some("fixed"), None, idle) | (None, None, idle @ Some(_)) => {
                Some(RefreshPolicy::Fixed { idle_secs: idle })
            }
            (None, None, None) => None,
            (Some("rotate" | "fixed"), _, _) | (None, Some(_), Some(_)) => {
                bail!("--refresh-grace goes with rotate, --refresh-idle with fixed")
            }
            (Some(other), _, _) => bail!("unknown refresh policy '{other}' (rotate or fixed)"),
        })
    }

    fn to_update(&self, name: Option<String>, redirect_uris: Option<Vec<String>>) -> anyhow::Result<ClientUpdate> {
        Ok(ClientUpdate {
            name,
            redirect_uris,
            scopes: self.scope.clone(),
            auth_method: self.auth_method,
            access_token_ttl: self.access_token_ttl,
            refresh_policy: self.refresh_policy()?,
            refresh_token_ttl: self.refresh_token_ttl,
            require_pkce: self.require_pkce,
            id_token_signed_response_alg: self.id_token_alg,
        })
    }
}

// Parsed once per process; the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum SkillCmd {
    Create {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        name: String,
        /// amzn1.ask.skill.…
        #[arg(long)]
        alexa_skill_id: String,
        /// Your vendor ID from the Alexa developer console; sets the three Alexa redirect URIs.
        #[arg(long)]
        vendor_id: String,
        /// smart-home, video, music or custom.
        #[arg(long, default_value = "smart-home")]
        kind: SkillKind,
        /// NA, EU or FE: a region the skill is live in; repeat it (or give NA,EU) for several. The first
        /// is where an AcceptGrant that names no region is taken to come from.
        #[arg(long = "region", default_value = "NA", value_delimiter = ',', num_args = 1)]
        regions: Vec<AlexaRegion>,
        /// Alexa Skill Messaging client id (for AcceptGrant and events).
        #[arg(long, requires = "lwa_client_secret")]
        lwa_client_id: Option<String>,
        #[arg(long, requires = "lwa_client_id", allow_hyphen_values = true)]
        lwa_client_secret: Option<String>,
        #[command(flatten)]
        opts: ClientOpts,
        #[command(flatten)]
        out: JsonFlag,
    },
    List {
        #[command(flatten)]
        t: TenantArg,
        #[command(flatten)]
        out: JsonFlag,
    },
    Show {
        #[command(flatten)]
        t: TenantArg,
        /// Skill id or Alexa skill id.
        #[arg(long)]
        skill: String,
        /// `latchkey` (everything), `alexa-console` (the console's Account Linking fields) or `smapi`
        /// (the body of SMAPI's accountLinkingClient update).
        #[arg(long, default_value = "latchkey")]
        format: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Change a skill; options left out keep their values, and the client id stays (no user relinks).
    Update {
        #[command(flatten)]
        t: TenantArg,
        /// Skill id or Alexa skill id.
        #[arg(long)]
        skill: String,
        #[arg(long)]
        name: Option<String>,
        /// A new vendor id: Alexa's three redirect URIs follow it.
        #[arg(long)]
        vendor_id: Option<String>,
        /// Every region the skill is live in (replaces the list; repeat or give NA,EU), the first the default.
        #[arg(long = "region", value_delimiter = ',', num_args = 1)]
        regions: Vec<AlexaRegion>,
        /// Your app's redirect URL for app-to-app linking (replaces the list; repeat for several).
        #[arg(long = "app-redirect-url")]
        app_redirect_urls: Vec<String>,
        /// Remove every app redirect URL.
        #[arg(long, conflicts_with = "app_redirect_urls")]
        no_app_redirect_urls: bool,
        /// A new Alexa Skill Messaging client id (its secret is read from stdin: --lwa-client-secret-stdin).
        #[arg(long, requires = "lwa_client_secret_stdin")]
        lwa_client_id: Option<String>,
        /// Read the messaging client secret from one line of standard input.
        #[arg(long)]
        lwa_client_secret_stdin: bool,
        /// Forget the messaging credentials.
        #[arg(long, conflicts_with_all = ["lwa_client_id", "lwa_client_secret_stdin"])]
        remove_lwa_credentials: bool,
        #[command(flatten)]
        opts: ClientChangeOpts,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Push the skill's account linking to the Alexa console through SMAPI and read it back. Reads the
    /// skill client's current secret from stdin (it is stored hashed).
    Publish {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        skill: String,
        /// development or live.
        #[arg(long, default_value = "development")]
        stage: latchkey_alexa::smapi::Stage,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Readiness check against Amazon's requirements, item by item with fixes.
    Check {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        skill: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Run the whole linking flow against the running server as Alexa would, and show each step.
    /// Reads two lines from stdin: the user's password, then the skill client's secret.
    Simulate {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        skill: String,
        /// The end user's email.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    Delete {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        skill: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClientCmd {
    Create {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        name: String,
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Comma-separated: authorization_code,refresh_token,client_credentials.
        #[arg(long, default_value = "authorization_code,refresh_token", value_delimiter = ',')]
        grant_types: Vec<String>,
        #[command(flatten)]
        opts: ClientOpts,
        #[command(flatten)]
        out: JsonFlag,
    },
    List {
        #[command(flatten)]
        t: TenantArg,
        #[command(flatten)]
        out: JsonFlag,
    },
    Show {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Change a client; options left out keep their values.
    Update {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        name: Option<String>,
        /// Replaces the redirect URIs; repeat for several.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        #[command(flatten)]
        opts: ClientChangeOpts,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Issue a new secret (shown once); the old one keeps working for the grace period.
    RotateSecret {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        client_id: String,
        /// Seconds the old secret keeps working (default a day; 0 stops it at once, as after a leak).
        #[arg(long)]
        grace: Option<i64>,
        #[command(flatten)]
        out: JsonFlag,
    },
    Delete {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    Create {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        email: String,
        /// Read the password from one line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    List {
        #[command(flatten)]
        t: TenantArg,
        #[command(flatten)]
        out: JsonFlag,
    },
    Show {
        #[command(flatten)]
        t: TenantArg,
        /// User id or email.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    Delete {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        user: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApiKeyCmd {
    Create {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    List {
        #[command(flatten)]
        t: TenantArg,
        #[command(flatten)]
        out: JsonFlag,
    },
    Delete {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum OperatorCmd {
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    List(JsonFlag),
    Show {
        /// Operator id or email.
        operator: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    Delete {
        operator: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Re-seal every secret at rest under the current master key. Rotation: set the new key as
    /// LATCHKEY_MASTER_KEY and the old one in LATCHKEY_MASTER_KEY_PREVIOUS on every instance, run this,
    /// then drop the previous key. With the generated key file, --generate makes the new key first.
    RotateMaster {
        #[arg(long)]
        generate: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Generate a new key of every algorithm; the previous ones stay in the JWKS so issued tokens keep
    /// verifying.
    Rotate {
        #[command(flatten)]
        t: TenantArg,
        /// Sign access tokens with this algorithm from now on (RS256, ES256 or EdDSA); default: as now.
        #[arg(long)]
        alg: Option<SigningAlg>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// The published signing keys (next, current, previous) with their algorithm and state.
    List {
        #[command(flatten)]
        t: TenantArg,
        #[command(flatten)]
        out: JsonFlag,
    },
}

/// Prints a result: the JSON object with `--json`, else `key: value` lines.
fn emit(out: JsonFlag, v: Value) {
    if out.json {
        println!("{v}");
        return;
    }
    match &v {
        Value::Object(m) => {
            for (k, val) in m {
                match val {
                    Value::String(s) => println!("{k}: {s}"),
                    Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                        println!("{k}:");
                        for i in items {
                            println!("  - {i}");
                        }
                    }
                    other => println!("{k}: {other}"),
                }
            }
        }
        other => println!("{other}"),
    }
}

/// One line from stdin without its trailing newline, as `docker login --password-stdin` reads it.
fn read_stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading standard input")?;
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    Ok(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned())
}

pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    if let Command::Serve { bind } = cli.command {
        let mut config = config;
        if let Some(b) = bind {
            config.bind = b;
        }
        let app = Application::build(config).await?;
        tracing::info!(port = app.port(), public_url = app.public_url(), "latchkey is serving");
        return Ok(app.run_until_stopped().await?);
    }
    let public_url = config.public_url_for(&config.bind)?;
    if let Command::Keys(KeysCmd::RotateMaster { generate, out }) = cli.command {
        if generate {
            config.generate_new_master_key()?;
        }
        let Services { auth, .. } = open_services(&config, &public_url).await?;
        let report = auth.reseal_secrets(&Actor::cli()).await?;
        emit(out, serde_json::to_value(&report)?);
        return Ok(());
    }
    let Services { auth, alexa } = open_services(&config, &public_url).await?;
    match cli.command {
        Command::Serve { .. } => Ok(()),
        Command::Migrate(out) => {
            emit(out, json!({"migrated": true, "database": auth.database_backend()}));
            Ok(())
        }
        Command::Tenant(c) => tenant(&auth, &alexa, c).await,
        Command::Skill(c) => skill(&auth, &alexa, c).await,
        Command::Client(c) => client(&auth, c).await,
        Command::User(c) => user(&auth, c).await,
        Command::Apikey(c) => apikey(&auth, c).await,
        Command::Operator(c) => operator(&auth, c).await,
        Command::Provider(c) => provider(&auth, c).await,
        Command::Keys(KeysCmd::RotateMaster { .. }) => Ok(()),
        Command::Keys(KeysCmd::Rotate { t, alg, out }) => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let key = auth.rotate_signing_key(&tc, alg).await?;
            emit(out, json!({"kid": key.kid, "alg": key.alg, "tenant": tc.tenant.slug}));
            Ok(())
        }
        Command::Keys(KeysCmd::List { t, out }) => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            emit(out, json!({"keys": auth.signing_keys(&tc).await?}));
            Ok(())
        }
    }
}

fn tenant_json(auth: &AuthServer, t: &latchkey_store::records::Tenant) -> Value {
    json!({"id": t.id, "slug": t.slug, "name": t.name, "status": t.status, "issuer": auth.issuer_for(&t.slug), "created_at": t.created_at})
}

async fn tenant(auth: &AuthServer, alexa: &AlexaService, c: TenantCmd) -> anyhow::Result<()> {
    match c {
        TenantCmd::Create { slug, name, signing_alg, out } => {
            let (t, issuer) = auth.create_tenant_signing_with(&slug, &name, signing_alg).await?;
            emit(out, json!({"id": t.id, "slug": t.slug, "issuer": issuer, "signing_alg": signing_alg}));
        }
        TenantCmd::List(out) => {
            // The operators' overview (usage counts included), as the operator API answers it.
            let list = auth.list_tenants_for_operator(&Actor::cli()).await?;
            emit(out, json!({"tenants": list}));
        }
        TenantCmd::Show { slug, out } => {
            let t = auth.tenant_for_admin(&slug).await?;
            emit(out, tenant_json(auth, &t.tenant));
        }
        TenantCmd::Suspend { slug, out } => {
            auth.set_tenant_status(&Actor::cli(), &slug, TenantStatus::Suspended).await?;
            emit(out, json!({"slug": slug, "status": "suspended"}));
        }
        TenantCmd::Resume { slug, out } => {
            auth.set_tenant_status(&Actor::cli(), &slug, TenantStatus::Active).await?;
            emit(out, json!({"slug": slug, "status": "active"}));
        }
        TenantCmd::SetSmapi { slug, lwa_client_id, out } => {
            let t = auth.tenant_for_admin(&slug).await?;
            let input = latchkey_alexa::smapi::SmapiCredentialsInput {
                lwa_client_id,
                lwa_client_secret: read_stdin_line()?,
                refresh_token: read_stdin_line()?,
            };
            emit(out, serde_json::to_value(alexa.set_smapi_credentials(&t, input).await?)?);
        }
        TenantCmd::RemoveSmapi { slug, out } => {
            let t = auth.tenant_for_admin(&slug).await?;
            alexa.delete_smapi_credentials(&t).await?;
            emit(out, json!({"slug": slug, "smapi": "removed"}));
        }
        TenantCmd::SetLoginMethods { slug, methods, out } => {
            let t = auth.tenant_for_admin(&slug).await?;
            auth.set_login_methods(&t, &methods).await?;
            emit(out, json!({"slug": slug, "login_methods": methods}));
        }
        TenantCmd::SetPasswordPolicy { slug, keep_grants_on_self_service_reset, out } => {
            let t = auth.tenant_for_admin(&slug).await?;
            let p = auth
                .set_password_policy(&t, latchkey_oauth::manage::PasswordPolicy { keep_grants_on_self_service_reset })
                .await?;
            emit(out, json!({"slug": slug, "password_policy": p}));
        }
        TenantCmd::Delete { slug, out } => {
            auth.delete_tenant(&Actor::cli(), &slug).await?;
            emit(out, json!({"deleted": slug}));
        }
    }
    Ok(())
}

fn client_json(c: &latchkey_store::records::Client) -> Value {
    json!({
        "client_id": c.client_id, "name": c.name, "redirect_uris": c.redirect_uris,
        "auth_method": c.auth_method, "grant_types": c.grant_types, "scopes": c.scopes,
        "require_pkce": c.require_pkce, "access_token_ttl": c.access_token_ttl,
        "refresh_policy": c.refresh_policy, "refresh_token_ttl": c.refresh_token_ttl, "created_at": c.created_at,
        "id_token_signed_response_alg": c.id_token_signed_response_alg,
    })
}

async fn skill(auth: &AuthServer, alexa: &AlexaService, c: SkillCmd) -> anyhow::Result<()> {
    match c {
        SkillCmd::Create {
            t,
            name,
            alexa_skill_id,
            vendor_id,
            kind,
            regions,
            lwa_client_id,
            lwa_client_secret,
            opts,
            out,
        } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let lwa = lwa_client_id.zip(lwa_client_secret);
            let created = auth
                .create_skill(&tc, &name, &alexa_skill_id, &vendor_id, kind, &regions, lwa, &opts.to_options()?)
                .await?;
            emit(out, serde_json::to_value(&created)?);
        }
        SkillCmd::List { t, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let skills = auth.list_skills(&tc).await?;
            emit(out, json!({"skills": skills}));
        }
        SkillCmd::Show { t, skill, format, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let latchkey_oauth::manage::SkillView { skill: s, client, .. } = auth.get_skill(&tc, &skill).await?;
            let domains = alexa.registration_domains(&tc).await?;
            let v = match format.as_str() {
                "alexa-console" => registration::alexa_console(&s, &client, &tc.issuer, &domains),
                "smapi" => {
                    registration::smapi_body(&s, &client, &tc.issuer, &domains, registration::SECRET_PLACEHOLDER)
                }
                "latchkey" => {
                    let mut v = serde_json::to_value(&s)?;
                    v["client"] = client_json(&client);
                    v["authorization_uri"] = json!(format!("{}/oauth2/authorize", tc.issuer));
                    v["access_token_uri"] = json!(format!("{}/oauth2/token", tc.issuer));
                    v
                }
                other => bail!("unknown format '{other}' (latchkey, alexa-console, smapi)"),
            };
            emit(out, v);
        }
        SkillCmd::Update {
            t,
            skill,
            name,
            vendor_id,
            regions,
            app_redirect_urls,
            no_app_redirect_urls,
            lwa_client_id,
            lwa_client_secret_stdin,
            remove_lwa_credentials,
            opts,
            out,
        } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let lwa_client_secret = if lwa_client_secret_stdin { Some(read_stdin_line()?) } else { None };
            let update = SkillUpdate {
                name,
                vendor_id,
                regions: (!regions.is_empty()).then_some(regions),
                app_redirect_urls: (no_app_redirect_urls || !app_redirect_urls.is_empty()).then_some(app_redirect_urls),
                lwa_client_id,
                lwa_client_secret,
                remove_lwa_credentials,
                ..SkillUpdate::default()
            }
            .with_client_settings(opts.to_update(None, None)?);
            let view = auth.update_skill(&tc, &skill, update).await?;
            emit(out, serde_json::to_value(&view)?);
        }
        SkillCmd::Publish { t, skill, stage, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let secret = read_stdin_line()?;
            let report = alexa.publish(&tc, &skill, &secret, stage).await?;
            let matches = report.matches;
            emit(out, serde_json::to_value(&report)?);
            if !matches {
                bail!("the console does not hold what was published: see the fields that differ");
            }
        }
        SkillCmd::Check { t, skill, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let report = alexa.readiness(&tc, &skill).await?;
            let ready = report.ready;
            emit(out, serde_json::to_value(&report)?);
            if !ready {
                bail!("the skill is not ready for Alexa: see the failed items");
            }
        }
        SkillCmd::Simulate { t, skill, user, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let password = read_stdin_line()?;
            let secret = read_stdin_line()?;
            // The same service as the API and the dashboard: the console's scheme, PKCE, every region.
            let r = alexa.simulate(&tc, &skill, &user, &password, &secret).await?;
            let s = auth.get_skill(&tc, &skill).await?.skill;
            emit(out, json!({"skill": s.alexa_skill_id, "linked": r.linked, "steps": r.steps}));
            if !r.linked {
                bail!("the simulated link failed: see the last step");
            }
        }
        SkillCmd::Delete { t, skill, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            auth.delete_skill(&tc, &skill).await?;
            emit(out, json!({"deleted": skill}));
        }
    }
    Ok(())
}

async fn client(auth: &AuthServer, c: ClientCmd) -> anyhow::Result<()> {
    match c {
        ClientCmd::Create { t, name, redirect_uris, grant_types, opts, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let grants = grant_types.into_iter().map(|g| g.trim().to_owned()).filter(|g| !g.is_empty()).collect();
            let created = auth.create_client(&tc, &name, redirect_uris, grants, &opts.to_options()?).await?;
            emit(out, json!({"client_id": created.client_id, "client_secret": created.client_secret}));
        }
        ClientCmd::List { t, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let list: Vec<Value> = auth.list_clients(&tc).await?.iter().map(client_json).collect();
            emit(out, json!({"clients": list}));
        }
        ClientCmd::Show { t, client_id, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            emit(out, client_json(&auth.get_client(&tc, &client_id).await?));
        }
        ClientCmd::Update { t, client_id, name, redirect_uris, opts, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let uris = (!redirect_uris.is_empty()).then_some(redirect_uris);
            let c = auth.update_client(&tc, &client_id, opts.to_update(name, uris)?).await?;
            emit(out, client_json(&c));
        }
        ClientCmd::RotateSecret { t, client_id, grace, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let rotated = auth.rotate_client_secret(&tc, &client_id, grace).await?;
            emit(out, serde_json::to_value(&rotated)?);
        }
        ClientCmd::Delete { t, client_id, out } => {
            // Through the service: it refuses a skill's own client and audits the deletion.
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            auth.delete_client(&tc, &client_id).await?;
            emit(out, json!({"deleted": client_id}));
        }
    }
    Ok(())
}

async fn user(auth: &AuthServer, c: UserCmd) -> anyhow::Result<()> {
    match c {
        UserCmd::Create { t, email, password_stdin, name, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let password = if password_stdin { Some(read_stdin_line()?) } else { None };
            let u = auth.create_user(&tc, &email, password.as_deref(), name).await?;
            emit(out, json!({"id": u.id, "email": u.email}));
        }
        UserCmd::List { t, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let users = auth.all_users(&tc).await?;
            emit(out, json!({"users": users}));
        }
        UserCmd::Show { t, user, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let u = auth.find_user(&tc, &user).await?;
            let links = auth.user_links(&tc, &u.id).await?;
            let mut v = serde_json::to_value(&u)?;
            v["links"] = serde_json::to_value(links)?;
            emit(out, v);
        }
        UserCmd::Delete { t, user, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let u = auth.find_user(&tc, &user).await?;
            auth.delete_user(&tc, &u.id).await?;
            emit(out, json!({"deleted": u.id}));
        }
    }
    Ok(())
}

async fn apikey(auth: &AuthServer, c: ApiKeyCmd) -> anyhow::Result<()> {
    match c {
        ApiKeyCmd::Create { t, name, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let k = auth.create_api_key(&tc, &name).await?;
            emit(out, json!({"id": k.id, "key": k.key}));
        }
        ApiKeyCmd::List { t, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let keys = auth.list_api_keys(&tc).await?;
            emit(out, json!({"api_keys": keys}));
        }
        ApiKeyCmd::Delete { t, id, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            auth.delete_api_key(&tc, &id).await?;
            emit(out, json!({"deleted": id}));
        }
    }
    Ok(())
}

async fn operator(auth: &AuthServer, c: OperatorCmd) -> anyhow::Result<()> {
    match c {
        OperatorCmd::Create { email, password_stdin, out } => {
            if !password_stdin {
                bail!("operators need a password: pass --password-stdin and pipe it in");
            }
            let o = auth.create_operator(&email, &read_stdin_line()?).await?;
            emit(out, json!({"id": o.id, "email": o.email}));
        }
        OperatorCmd::List(out) => {
            let ops = auth.list_operators(&Actor::cli()).await?;
            emit(out, json!({"operators": ops}));
        }
        OperatorCmd::Show { operator, out } => {
            let o = auth.get_operator(&Actor::cli(), &operator).await?;
            emit(out, serde_json::to_value(o)?);
        }
        OperatorCmd::Delete { operator, out } => {
            let o = auth.delete_operator(&Actor::cli(), &operator).await?;
            emit(out, json!({"deleted": o.id}));
        }
    }
    Ok(())
}

async fn provider(auth: &AuthServer, c: ProviderCmd) -> anyhow::Result<()> {
    match c {
        ProviderCmd::Create {
            t,
            slug,
            name,
            issuer,
            client_id,
            client_secret,
            scope,
            link_by_email,
            create_users,
            claim_map,
            out,
        } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let input = latchkey_oauth::admin::ProviderInput {
                slug,
                name,
                issuer,
                client_id,
                client_secret,
                scopes: scope,
                link_by_email,
                create_users,
                claim_map,
            };
            let (p, callback) = auth.create_provider(&tc, input).await?;
            emit(out, json!({"id": p.id, "slug": p.slug, "callback_uri": callback}));
        }
        ProviderCmd::Update {
            t,
            provider,
            name,
            issuer,
            client_id,
            client_secret,
            scope,
            link_by_email,
            create_users,
            claim_map,
            out,
        } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let update = latchkey_oauth::admin::ProviderUpdate {
                name,
                issuer,
                client_id,
                client_secret,
                scopes: scope,
                link_by_email,
                create_users,
                claim_map,
            };
            let p = auth.update_provider(&tc, &provider, update).await?;
            emit(out, serde_json::to_value(&p)?);
        }
        ProviderCmd::List { t, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let list = auth.list_providers(&tc).await?;
            emit(out, json!({"providers": list}));
        }
        ProviderCmd::Show { t, provider, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            let p = auth.get_provider(&tc, &provider).await?;
            let mut v = serde_json::to_value(&p)?;
            v["callback_uri"] = json!(auth.federation_callback_uri(&tc, &p.slug));
            emit(out, v);
        }
        ProviderCmd::Delete { t, provider, out } => {
            let tc = auth.tenant_for_admin(&t.tenant).await?;
            auth.delete_provider(&tc, &provider).await?;
            emit(out, json!({"deleted": provider}));
        }
    }
    Ok(())
}
