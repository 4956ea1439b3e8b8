//! Configuration: defaults → optional TOML file (`LATCHKEY_CONFIG`, else `./latchkey.toml` if present)
//! → environment (`LATCHKEY_*`, plus the conventional `DATABASE_URL`, `REDIS_URL`, `SMTP_URL`).
//! Built once in `main` and passed down; nothing reads the environment after that.
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A string that never prints.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// Where the embedded default keeps its SQLite database, outgoing mail and master key.
    pub data_dir: PathBuf,
    /// Base URL users and Alexa reach us at; each tenant's issuer is `{public_url}/t/{slug}`.
    /// Unset: `http://{bind}`.
    pub public_url: Option<String>,
    pub bind: String,
    pub database_url: Option<Secret>,
    pub redis_url: Option<Secret>,
    /// Namespaces every Redis key, so several deployments (or tests) can share one Redis.
    pub redis_prefix: String,
    pub smtp_url: Option<Secret>,
    /// Where the dashboard's browser bundle is (`pkg/` inside). Unset: `target/site` of the source tree.
    pub dashboard_dir: Option<PathBuf>,
    /// The From address of mail Latchkey sends.
    pub mail_from: String,
    /// Base64 of 32 bytes. Unset: generated once into `{data_dir}/master.key`.
    pub master_key: Option<Secret>,
    /// Earlier master keys, comma-separated, still accepted for reading during a rotation. Unset:
    /// the lines of `{data_dir}/master.key.previous`, if that file exists.
    pub master_key_previous: Option<Secret>,
    /// Replaced by `trusted_proxies`: set to true, the start stops with a message saying so (it
    /// believed the leftmost `X-Forwarded-For` entry, which the client chooses).
    pub trust_proxy: bool,
    /// Your reverse proxies (CIDR list). The client address is the first `X-Forwarded-For` entry
    /// from the right that is not one of them. Empty: the header is ignored.
    pub trusted_proxies: String,
    /// Internal networks (CIDR list) where upstream OpenID providers may be reached, over http or
    /// https. Empty: only https to public addresses (and loopback while the public URL is loopback).
    pub allowed_upstream_networks: String,
    /// `text` or `json`.
    pub log_format: String,
    /// Replaces Login with Amazon's three regional token endpoints; `{region}` becomes NA, EU or FE.
    pub lwa_token_url: Option<String>,
    /// Replaces the three regional Alexa Event Gateway URLs (tests point it at a fake).
    pub alexa_event_gateway_url: Option<String>,
    /// The Alexa REST API (alexaApiEndpoint, skill enablement for app-to-app linking).
    pub alexa_api_url: String,
    /// The Skill Management API (publishing account linking to the console, reading it back).
    pub smapi_url: String,
    /// Bearer token for `/metrics`. Unset: `/metrics` answers only to loopback clients.
    pub metrics_token: Option<Secret>,
    /// Token requests per second per client, across instances (0: off).
    pub token_rate_per_client: i64,
    /// Skill-backend requests per second per tenant API key, across instances (0: off).
    pub api_rate_per_key: i64,
    /// `on` (default) or `off`: every limit per client address (sign-in failures per address, new
    /// authorization flows, forgot-password, sign-up). Off for load tests from one address.
    pub per_ip_limits: String,
    /// New authorization flows one client address may start per minute, per tenant (0: off).
    pub flows_per_ip_minute: i64,
    /// How often each instance tries the scheduled upkeep (one instance at a time does it; 0: never).
    pub maintenance_interval_secs: u64,
    /// How long an instance holds an Alexa event it is delivering; if it stops, another instance
    /// delivers the event once this has passed.
    pub alexa_event_lease_secs: u64,
    /// How stale an instance's view of live grants may be, in milliseconds: a revocation committed on
    /// any instance (or by the CLI) is honoured by every instance's introspection within this. The view
    /// reads the revocation feed every quarter of it; when it cannot, checks read the database.
    pub revocation_bound_ms: u64,
    /// Whether this instance delivers stored Alexa events (`on`, the default) or only accepts them
    /// (`off`: an instance that answers skill backends while others deliver).
    pub alexa_outbox_worker: String,
    /// The most Alexa event deliveries one tenant may have waiting; past it, its new events are
    /// refused with 429 until deliveries catch up (0: no bound).
    pub alexa_pending_events_per_tenant: u64,
    /// Scheduled signing-key rotation period (0: only manual `latchkey keys rotate`).
    pub signing_key_rotation_secs: u64,
    /// How long the next signing key is published in the JWKS before it starts signing.
    pub signing_key_publish_ahead_secs: u64,
    /// Days unusable refresh tokens are kept before pruning (0: never pruned; at least 8).
    pub refresh_token_retention_days: u64,
    /// Days audit events are kept (0: forever).
    pub audit_retention_days: u64,
    /// Days delivered and failed Alexa events stay visible for their status (0: kept forever).
    pub alexa_event_retention_days: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./latchkey-data"),
            public_url: None,
            bind: "127.0.0.1:8080".into(),
            database_url: None,
            redis_url: None,
            redis_prefix: "latchkey:".into(),
            smtp_url: None,
            dashboard_dir: None,
            mail_from: "Latchkey <no-reply@latchkey.localhost>".into(),
            master_key: None,
            master_key_previous: None,
            trust_proxy: false,
            trusted_proxies: String::new(),
            allowed_upstream_networks: String::new(),
            log_format: "text".into(),
            lwa_token_url: None,
            alexa_event_gateway_url: None,
            alexa_api_url: "https://api.amazonalexa.com".into(),
            smapi_url: latchkey_alexa::smapi::DEFAULT_SMAPI_URL.into(),
            metrics_token: None,
            token_rate_per_client: 5000,
            api_rate_per_key: 500,
            per_ip_limits: "on".into(),
            flows_per_ip_minute: 60,
            maintenance_interval_secs: 3600,
            alexa_event_lease_secs: 60,
            revocation_bound_ms: 1000,
            alexa_outbox_worker: "on".into(),
            alexa_pending_events_per_tenant: latchkey_alexa::outbox::DEFAULT_PENDING_CAP,
            signing_key_rotation_secs: 90 * 86_400,
            signing_key_publish_ahead_secs: 86_400,
            refresh_token_retention_days: 30,
            audit_retention_days: 365,
            alexa_event_retention_days: 7,
        }
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("LATCHKEY_PUBLIC_URL '{0}' is not a valid URL")]
    BadPublicUrl(String),
    #[error(
        "LATCHKEY_PUBLIC_URL '{0}' uses http on a non-loopback host; use https (plain http is allowed only for localhost, 127.0.0.0/8 and ::1)"
    )]
    InsecurePublicUrl(String),
    #[error(
        "LATCHKEY_PUBLIC_URL '{0}' must be just a scheme, host and optional port, without a path, query or fragment"
    )]
    PublicUrlHasPath(String),
    #[error("data directory {0}: {1}")]
    DataDir(String, String),
}

impl Config {
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var("LATCHKEY_CONFIG").unwrap_or_else(|_| "latchkey.toml".into());
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("LATCHKEY_").ignore(&["config"]))
            .merge(Env::raw().only(&["database_url", "redis_url", "smtp_url"]))
            .extract()
            .map_err(|e| ConfigError::Load(e.to_string()))
    }

    /// The scheduled upkeep's policy (latchkey-oauth/src/maintenance.rs).
    pub fn maintenance_policy(&self) -> latchkey_oauth::maintenance::MaintenancePolicy {
        use std::time::Duration;
        let secs = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        latchkey_oauth::maintenance::MaintenancePolicy {
            key_rotation: secs(self.signing_key_rotation_secs),
            key_publish_ahead: Duration::from_secs(self.signing_key_publish_ahead_secs),
            refresh_retention: secs(self.refresh_token_retention_days * 86_400),
            audit_retention: secs(self.audit_retention_days * 86_400),
            event_retention: secs(self.alexa_event_retention_days * 86_400),
        }
    }

    pub fn dashboard_dir(&self) -> PathBuf {
        self.dashboard_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/site")))
    }

    /// SMTP when `SMTP_URL` is set; otherwise `.eml` files in `{data_dir}/outbox/`.
    pub fn mailer(&self) -> anyhow::Result<latchkey_mail::Mailer> {
        Ok(match &self.smtp_url {
            Some(url) => latchkey_mail::Mailer::smtp(url.expose(), &self.mail_from)?,
            None => latchkey_mail::Mailer::outbox(&self.data_dir.join("outbox"), &self.mail_from)?,
        })
    }

    /// The public URL, checked: https, or http only on a loopback host.
    pub fn public_url_for(&self, bound: &str) -> Result<String, ConfigError> {
        let raw = self.public_url.clone().unwrap_or_else(|| format!("http://{bound}"));
        let url = url::Url::parse(&raw).map_err(|_| ConfigError::BadPublicUrl(raw.clone()))?;
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::PublicUrlHasPath(raw));
        }
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(ConfigError::InsecurePublicUrl(raw)),
            _ => return Err(ConfigError::BadPublicUrl(raw)),
        }
        Ok(raw.trim_end_matches('/').to_owned())
    }

    /// `DATABASE_URL`, or the embedded SQLite file in the data directory.
    pub fn database_url(&self) -> Result<String, ConfigError> {
        match &self.database_url {
            Some(u) => Ok(u.expose().to_owned()),
            None => {
                self.ensure_data_dir()?;
                Ok(format!("sqlite://{}?mode=rwc", self.data_dir.join("latchkey.db").display()))
            }
        }
    }

    /// `LATCHKEY_TRUSTED_PROXIES` parsed; the old `LATCHKEY_TRUST_PROXY=true` is refused.
    pub fn trusted_proxies(&self) -> Result<Vec<latchkey_core::net::IpNet>, ConfigError> {
        if self.trust_proxy {
            return Err(ConfigError::Load(
                "LATCHKEY_TRUST_PROXY was replaced by LATCHKEY_TRUSTED_PROXIES: list your reverse proxies' \
                 addresses or networks (e.g. 10.0.0.0/8); the client's own X-Forwarded-For entries are never believed"
                    .into(),
            ));
        }
        latchkey_core::net::parse_networks(&self.trusted_proxies)
            .map_err(|e| ConfigError::Load(format!("LATCHKEY_TRUSTED_PROXIES: {e}")))
    }

    /// `LATCHKEY_ALLOWED_UPSTREAM_NETWORKS` parsed.
    pub fn allowed_upstream_networks(&self) -> Result<Vec<latchkey_core::net::IpNet>, ConfigError> {
        latchkey_core::net::parse_networks(&self.allowed_upstream_networks)
            .map_err(|e| ConfigError::Load(format!("LATCHKEY_ALLOWED_UPSTREAM_NETWORKS: {e}")))
    }

    /// `LATCHKEY_PER_IP_LIMITS` as a switch.
    pub fn per_ip_limits(&self) -> Result<bool, ConfigError> {
        switch("LATCHKEY_PER_IP_LIMITS", &self.per_ip_limits)
    }

    /// `LATCHKEY_ALEXA_OUTBOX_WORKER` as a switch.
    pub fn alexa_outbox_worker(&self) -> Result<bool, ConfigError> {
        switch("LATCHKEY_ALEXA_OUTBOX_WORKER", &self.alexa_outbox_worker)
    }

    /// Creates the data directory (0700: it holds the database, the key and mail with live links).
    pub fn ensure_data_dir(&self) -> Result<(), ConfigError> {
        crate::private_files::create_private_dir(&self.data_dir)
            .map_err(|e| ConfigError::DataDir(self.data_dir.display().to_string(), e.to_string()))
    }

    /// `LATCHKEY_MASTER_KEY`, or the key file in the data directory (created on first use, mode 0600).
    pub fn master_key(&self) -> Result<Secret, ConfigError> {
        if let Some(k) = &self.master_key {
            return Ok(k.clone());
        }
        self.ensure_data_dir()?;
        let path = self.data_dir.join("master.key");
        read_or_create_key(&path)
    }
}

impl Config {
    /// The earlier master keys still accepted for reading.
    pub fn previous_master_keys(&self) -> Vec<String> {
        match &self.master_key_previous {
            Some(p) => p.expose().split(',').map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect(),
            None => std::fs::read_to_string(self.data_dir.join("master.key.previous"))
                .map(|s| s.lines().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect())
                .unwrap_or_default(),
        }
    }

    /// For the embedded default: makes a new `master.key` and keeps the old one in
    /// `master.key.previous`. Refused when the key comes from `LATCHKEY_MASTER_KEY`.
    pub fn generate_new_master_key(&self) -> Result<(), ConfigError> {
        if self.master_key.is_some() {
            return Err(ConfigError::Load(
                "LATCHKEY_MASTER_KEY is set: put the new key there and the old one in LATCHKEY_MASTER_KEY_PREVIOUS instead of --generate".into(),
            ));
        }
        let path = self.data_dir.join("master.key");
        let old = read_or_create_key(&path)?;
        let prev_path = self.data_dir.join("master.key.previous");
        let mut previous = std::fs::read_to_string(&prev_path).unwrap_or_default();
        previous.push_str(old.expose());
        previous.push('\n');
        let err = |e: std::io::Error| ConfigError::DataDir(prev_path.display().to_string(), e.to_string());
        let tmp = self.data_dir.join("master.key.previous.tmp");
        let _ = std::fs::remove_file(&tmp);
        write_private(&tmp, &previous).map_err(err)?;
        std::fs::rename(&tmp, &prev_path).map_err(err)?;
        let new = latchkey_store::SecretBox::generate_base64().map_err(|e| ConfigError::Load(e.to_string()))?;
        let tmp = self.data_dir.join("master.key.tmp");
        let _ = std::fs::remove_file(&tmp);
        write_private(&tmp, &new).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        Ok(())
    }
}

fn read_or_create_key(path: &Path) -> Result<Secret, ConfigError> {
    let err = |e: std::io::Error| ConfigError::DataDir(path.display().to_string(), e.to_string());
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Secret::new(s.trim())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = latchkey_store::SecretBox::generate_base64().map_err(|e| ConfigError::Load(e.to_string()))?;
            write_private(path, &key).map_err(err)?;
            Ok(Secret::new(key))
        }
        Err(e) => Err(err(e)),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(content.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

/// An on/off setting; anything else is refused at startup rather than guessed.
fn switch(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        other => Err(ConfigError::Load(format!("{name} must be on or off, not '{other}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_rules() {
        let c = Config::default();
        assert_eq!(c.public_url_for("127.0.0.1:8080").ok().as_deref(), Some("http://127.0.0.1:8080"));
        let with = |u: &str| Config { public_url: Some(u.into()), ..Config::default() }.public_url_for("x:1");
        assert!(with("https://id.example.com").is_ok());
        assert!(with("http://localhost:9000/").is_ok());
        assert!(with("http://[::1]:9000").is_ok());
        assert!(matches!(with("http://id.example.com"), Err(ConfigError::InsecurePublicUrl(_))));
        assert!(matches!(with("https://id.example.com/base"), Err(ConfigError::PublicUrlHasPath(_))));
        assert!(matches!(with("not a url"), Err(ConfigError::BadPublicUrl(_))));
    }

    #[test]
    fn secrets_do_not_print() {
        let c = Config { master_key: Some(Secret::new("hunter2")), ..Config::default() };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
