//! Latchkey's authorization-server services: the decisions of `authorize`, `token`, `introspect`,
//! `revoke`, `userinfo` and discovery, plus the management operations the CLI (and later the dashboard
//! and API) call. Built on the pure rules in `latchkey-core` and the repositories in `latchkey-store`;
//! knows nothing about HTTP.
#![forbid(unsafe_code)]

pub mod access;
pub mod accounts;
pub mod admin;
pub mod alexa_events;
pub mod alexa_grants;
pub mod authorize;
mod cache;
mod credentials;
pub mod discovery;
pub mod error;
pub mod federation;
pub mod introspect;
pub mod keys;
pub mod live_grants;
pub mod maintenance;
pub mod manage;
pub mod outbound;
pub mod password;
pub mod random;
mod revocation_feed;
pub mod revoke;
pub mod signed_in_code;
pub mod skill_update;
mod throttle;
pub mod token;
pub mod tokens;
pub mod upstream_identity;
pub mod usage;
pub mod user_mail;
pub mod userinfo;

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::TenantId;
use latchkey_store::records::{ApiKey, Client, EndUser, Skill, Tenant, TenantStatus};
use latchkey_store::{Kv, Store};

use cache::TtlCache;
pub use error::{ServiceError, ServiceResult};
use keys::TenantKeys;
use password::PasswordHasher;

/// Lifetimes and limits of the authorization server.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// `{public_url}/t/{slug}` is each tenant's issuer.
    pub public_url: String,
    pub code_ttl: Duration,
    /// How long a flow is kept once the user has signed in (consent, federation round trips).
    pub flow_ttl: Duration,
    /// How long a flow is kept before the user signs in: what an anonymous visitor can make the
    /// server hold, so short.
    pub flow_pending_ttl: Duration,
    /// New flows (stored before sign-in) one client address may start per minute, per tenant (0: no
    /// limit). With `MAX_FLOW_BYTES`, what one address can make the server hold is bounded.
    pub flows_per_ip_minute: i64,
    /// `false` turns off every limit per client address (sign-in failures per address, new flows,
    /// forgot-password, sign-up), for load tests from one address (`LATCHKEY_PER_IP_LIMITS=off`).
    /// Limits per account, client and API key stay on.
    pub per_ip_limits: bool,
    pub session_ttl: Duration,
    pub id_token_ttl: i64,
    /// Failed sign-ins one client address may make on one account before each further failure makes
    /// that pair wait (1 s, doubling), and failures one address may make across accounts, in
    /// `login_window` (see throttle.rs).
    pub login_free_failures: i64,
    pub login_failures_per_ip: i64,
    pub login_window: Duration,
    /// How long tenant and key lookups may be served from memory. Short, because the CLI and other
    /// instances change these rows and nothing else tells this process.
    pub cache_ttl: Duration,
    /// Token requests per second one client may make (0: no limit). Counted in the KV store, so the
    /// limit holds across instances.
    pub token_rate_per_client: i64,
    /// Requests per second one tenant API key may make on the skill-backend endpoints (0: no limit).
    pub api_rate_per_key: i64,
    /// Internal networks upstream providers may be reached in, over http or https
    /// (`LATCHKEY_ALLOWED_UPSTREAM_NETWORKS`); everything else must be https to a public address
    /// (loopback too while `public_url` is loopback). See latchkey-core/src/outbound.rs.
    pub allowed_upstream_networks: Vec<latchkey_core::net::IpNet>,
    /// How stale this process's view of live grants may be (live_grants.rs): a revocation committed
    /// anywhere is honoured by every instance's introspection and userinfo within this
    /// (`LATCHKEY_REVOCATION_BOUND_MS`).
    pub revocation_bound: Duration,
}

impl AuthConfig {
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            code_ttl: Duration::from_secs(120),
            flow_ttl: Duration::from_secs(1800),
            flow_pending_ttl: Duration::from_secs(600),
            flows_per_ip_minute: 60,
            per_ip_limits: true,
            session_ttl: Duration::from_secs(8 * 3600),
            id_token_ttl: 3600,
            login_free_failures: 5,
            login_failures_per_ip: 50,
            login_window: Duration::from_secs(900),
            cache_ttl: Duration::from_secs(5),
            token_rate_per_client: 0,
            api_rate_per_key: 0,
            allowed_upstream_networks: Vec::new(),
            revocation_bound: Duration::from_secs(1),
        }
    }
}

/// A tenant resolved for a request, with its issuer.
#[derive(Clone, Debug)]
pub struct TenantCtx {
    pub tenant: Tenant,
    pub issuer: String,
}

impl TenantCtx {
    pub fn id(&self) -> &TenantId {
        &self.tenant.id
    }
}

/// Clients and end users by (tenant, id): the token and introspection endpoints' lookups.
type ClientCache = TtlCache<(TenantId, String), Option<Client>>;
type UserCache = TtlCache<(TenantId, String), Option<EndUser>>;

/// The authorization server: one per process, shared by every request.
/// How many verified access tokens an instance remembers: about 500 bytes each, so at most 10 MB; a
/// skill backend's working set is its linked accounts' current tokens.
const VERIFIED_TOKENS: u64 = 20_000;

#[derive(Clone)]
pub struct AuthServer {
    /// Private to the service layer: every surface goes through a service function, which does its
    /// own checks and audit (the Alexa services get the same handles when they are wired).
    pub(crate) store: Store,
    pub(crate) kv: Kv,
    pub config: Arc<AuthConfig>,
    pub hasher: PasswordHasher,
    tenants: Arc<TtlCache<String, Option<Tenant>>>,
    keys: Arc<TtlCache<TenantId, Arc<TenantKeys>>>,
    /// Access tokens this instance has verified, by tenant and SHA-256 (introspect.rs).
    pub(crate) verified_tokens: moka::sync::Cache<(TenantId, [u8; 32]), Arc<tokens::SignedAccessToken>>,
    clients: Arc<ClientCache>,
    users: Arc<UserCache>,
    api_keys: Arc<TtlCache<(TenantId, String), Option<ApiKey>>>,
    /// Skills by row or Alexa id: the skill backend names one on every event.
    skills: Arc<TtlCache<(TenantId, String), Skill>>,
    /// Upstream providers' discovery documents and keys (five minutes).
    upstream_metadata: Arc<TtlCache<(TenantId, String), Arc<openidconnect::core::CoreProviderMetadata>>>,
    /// For upstream providers: only allowed destinations (outbound.rs), bounded time, so an
    /// unreachable provider gives the user a page, not a hang.
    pub(crate) upstream_http: outbound::OutboundClient,
    /// Outgoing mail (verification, reset, invitations); the dashboard's account flows need it.
    pub mailer: Option<Arc<latchkey_mail::Mailer>>,
    /// Which grants are live, kept current by the revocation feed (revocation_feed.rs).
    pub(crate) live_grants: Arc<live_grants::LiveGrants>,
    usage: Arc<usage::UsageTally>,
}

impl AuthServer {
    pub fn new(store: Store, kv: Kv, config: AuthConfig) -> ServiceResult<Self> {
        let ttl = config.cache_ttl;
        let upstream_http = outbound::OutboundClient::new(
            latchkey_core::outbound::OutboundPolicy::for_public_url(
                &config.public_url,
                config.allowed_upstream_networks.clone(),
            ),
            Duration::from_secs(3),
            Duration::from_secs(8),
        )
        .map_err(|e| ServiceError::internal(e.to_string()))?;
        let server = Self {
            live_grants: Arc::new(live_grants::LiveGrants::new(config.revocation_bound)),
            usage: Arc::new(usage::UsageTally::default()),
            store,
            kv,
            hasher: PasswordHasher::new()?,
            config: Arc::new(config),
            tenants: Arc::new(TtlCache::new(ttl)),
            keys: Arc::new(TtlCache::new(ttl)),
            verified_tokens: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_TOKENS)
                .time_to_live(Duration::from_secs(3600))
                .build(),
            clients: Arc::new(TtlCache::new(ttl)),
            users: Arc::new(TtlCache::new(ttl)),
            api_keys: Arc::new(TtlCache::new(ttl)),
            skills: Arc::new(TtlCache::new(ttl)),
            upstream_metadata: Arc::new(TtlCache::new(Duration::from_secs(300))),
            upstream_http,
            mailer: None,
        };
        server.listen_for_revocations();
        Ok(server)
    }

    pub fn with_mailer(mut self, mailer: latchkey_mail::Mailer) -> Self {
        self.mailer = Some(Arc::new(mailer));
        self
    }

    pub fn issuer_for(&self, slug: &str) -> String {
        format!("{}/t/{}", self.config.public_url, slug)
    }

    /// Resolves an active tenant by slug. Unknown → `NotFound`; suspended or pending → `Forbidden`.
    pub async fn tenant(&self, slug: &str) -> ServiceResult<TenantCtx> {
        let tenant = match self.tenants.get(&slug.to_owned()) {
            Some(t) => t,
            None => {
                let since = self.tenants.generation();
                let t = self.store.tenant_by_slug(slug).await?;
                self.tenants.put_unless_removed_since(since, slug.to_owned(), t.clone());
                t
            }
        };
        let tenant = tenant.ok_or_else(|| ServiceError::NotFound(format!("tenant '{slug}'")))?;
        match tenant.status {
            TenantStatus::Active => {}
            TenantStatus::Suspended => return Err(ServiceError::Forbidden(format!("tenant '{slug}' is suspended"))),
            TenantStatus::Pending => {
                return Err(ServiceError::Forbidden(format!(
                    "tenant '{slug}' is not active yet: its owner has not verified their email"
                )));
            }
        }
        Ok(TenantCtx { issuer: self.issuer_for(&tenant.slug), tenant })
    }

    /// The tenant's parsed signing keys. A tenant created before every tenant kept a key of each
    /// algorithm gets the missing ones here, the first time they are needed.
    pub async fn keys(&self, tenant: &TenantId) -> ServiceResult<Arc<TenantKeys>> {
        if let Some(k) = self.keys.get(tenant) {
            return Ok(k);
        }
        let since = self.keys.generation();
        let scoped = self.store.scoped(tenant);
        let alg = scoped.signing_alg().await?;
        let mut loaded = TenantKeys::load(&scoped.published_keys().await?, alg)?;
        let missing = loaded.missing_algs();
        if !missing.is_empty() {
            let added = scoped.add_missing_signing_keys(keys::generate_off_thread(missing).await?).await?;
            tracing::info!(tenant = %tenant, added, "added the signing keys this tenant lacked");
            loaded = TenantKeys::load(&scoped.published_keys().await?, alg)?;
        }
        let keys = Arc::new(loaded);
        self.keys.put_unless_removed_since(since, tenant.clone(), keys.clone());
        Ok(keys)
    }

    /// A client by public id, from a cache that lives `cache_ttl` at most: the token and introspection
    /// endpoints look the client up on every request.
    pub async fn cached_client(&self, t: &TenantId, client_id: &str) -> ServiceResult<Option<Client>> {
        let key = (t.clone(), client_id.to_owned());
        if let Some(c) = self.clients.get(&key) {
            return Ok(c);
        }
        let since = self.clients.generation();
        let c = self.store.scoped(t).client(client_id).await?;
        self.clients.put_unless_removed_since(since, key, c.clone());
        Ok(c)
    }

    /// A skill by row or Alexa id, cached like clients. Only found skills are kept, so one created a
    /// moment ago is found at once; a deleted one is forgotten here at once and elsewhere within
    /// `cache_ttl` (an event accepted meanwhile fails at delivery, its outcome recorded).
    pub async fn cached_skill(&self, t: &TenantId, id_or_alexa_id: &str) -> ServiceResult<Option<Skill>> {
        let key = (t.clone(), id_or_alexa_id.to_owned());
        if let Some(s) = self.skills.get(&key) {
            return Ok(Some(s));
        }
        let since = self.skills.generation();
        let s = self.store.scoped(t).skill(id_or_alexa_id).await?;
        if let Some(s) = &s {
            self.skills.put_unless_removed_since(since, key, s.clone());
        }
        Ok(s)
    }

    /// Forgets a tenant's cached skills after this process changed one.
    pub fn invalidate_skills(&self, t: &TenantId) {
        self.skills.remove_where(|(tid, _)| tid == t);
    }

    /// An end user by id, cached like clients. Disabling or deleting a user is in the revocation feed, so
    /// it drops the entry here at once and on every instance within the revocation bound; other changes
    /// show within `cache_ttl`.
    pub async fn cached_user(&self, t: &TenantId, user_id: &str) -> ServiceResult<Option<EndUser>> {
        let key = (t.clone(), user_id.to_owned());
        if let Some(u) = self.users.get(&key) {
            return Ok(u);
        }
        let since = self.users.generation();
        let u = self.store.scoped(t).user(user_id).await?;
        self.users.put_unless_removed_since(since, key, u.clone());
        Ok(u)
    }

    /// The tenant API key presented as `key`, if it is one of this tenant's; cached like clients, since
    /// the skill backend presents it on every call. A deleted key stops working within `cache_ttl`.
    pub async fn tenant_api_key(&self, t: &TenantId, key: &str) -> ServiceResult<Option<ApiKey>> {
        if key.is_empty() || key.len() > 128 {
            return Ok(None);
        }
        let cache_key = (t.clone(), latchkey_core::hashing::secret_hash(key));
        if let Some(k) = self.api_keys.get(&cache_key) {
            return Ok(k);
        }
        let since = self.api_keys.generation();
        let k = self.store.scoped(t).api_key_by_hash(&cache_key.1).await?;
        self.api_keys.put_unless_removed_since(since, cache_key, k.clone());
        Ok(k)
    }

    /// Forgets a cached client after this process changed it.
    pub fn invalidate_client(&self, t: &TenantId, client_id: &str) {
        self.clients.remove(&(t.clone(), client_id.to_owned()));
    }

    /// Forgets a cached end user after this process changed it (disabled users lose access at once here).
    pub fn invalidate_user(&self, t: &TenantId, user_id: &str) {
        self.users.remove(&(t.clone(), user_id.to_owned()));
    }

    /// Forgets a tenant's cached API keys (after one is deleted).
    pub fn invalidate_api_keys(&self, t: &TenantId) {
        self.api_keys.remove_where(|(tid, _)| tid == t);
    }

    /// Drops cached state for a tenant after this process changed it.
    pub fn invalidate(&self, slug: &str, tenant: &TenantId) {
        self.tenants.remove(&slug.to_owned());
        self.keys.remove(tenant);
    }

    /// A one-second window per `key`, starting at its first request: `Err(RateLimited)` once `limit`
    /// is exceeded.
    pub async fn rate_limit(&self, key: &str, limit: i64) -> ServiceResult<()> {
        if limit <= 0 {
            return Ok(());
        }
        // Fail open: with the KV store down, refreshing existing grants (which needs only the
        // database) keeps working rather than being refused by the limiter.
        let n = match self.kv.incr(&format!("rl:{key}"), Duration::from_secs(1)).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "rate limiter unavailable; not limiting");
                return Ok(());
            }
        };
        if n > limit {
            return Err(ServiceError::RateLimited { retry_after: 1 });
        }
        Ok(())
    }

    /// `/readyz`: the database and the KV store both answer.
    pub async fn ready(&self) -> ServiceResult<()> {
        self.store.ping().await?;
        self.kv.ping().await?;
        Ok(())
    }

    /// `sqlite` or `postgres`, for `latchkey migrate`'s report.
    pub fn database_backend(&self) -> &'static str {
        self.store.backend_name()
    }

    /// For `/metrics`: each database pool's (name, open, idle) connections.
    pub fn pool_usage(&self) -> Vec<(&'static str, u32, usize)> {
        self.store.pool_usage()
    }

    /// For `/metrics`: whether the KV store answers within `limit`.
    pub async fn kv_answers(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.kv.ping()).await.is_ok_and(|r| r.is_ok())
    }
}
