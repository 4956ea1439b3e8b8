//! Alexa's side of account linking: AcceptGrant (exchanging Amazon's grant code at Login with Amazon and
//! keeping the tokens on the link, encrypted), skill events, and relaying a device company's events to
//! the Alexa Event Gateway with a fresh Amazon token.
#![forbid(unsafe_code)]

pub mod app_to_app;
pub mod error;
pub mod gateway;
pub mod lwa;
pub mod messages;
pub mod readiness;
pub mod registration;
pub mod simulator;
pub mod smapi;

mod backlog;
mod directives;
mod events;
pub mod outbox;
mod refresh;

use latchkey_core::alexa::AlexaRegion;
use latchkey_oauth::{AuthServer, TenantCtx};
use latchkey_store::records::ApiKey;
use latchkey_store::{Kv, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use error::AlexaError;
pub use events::{EventDelivery, EventOutcome, EventRequest, outcome_label};

/// Where Amazon's services are. Defaults are Amazon's real endpoints; tests point them at local fakes.
#[derive(Clone, Debug)]
pub struct AmazonEndpoints {
    /// Replaces Login with Amazon's three regional token endpoints when set.
    pub lwa_token_url: Option<String>,
    /// Replaces the three regional Event Gateway URLs when set.
    pub event_gateway_url: Option<String>,
    /// The Alexa REST API, for `alexaApiEndpoint` and skill enablement (app-to-app linking).
    pub alexa_api_url: String,
    /// The Skill Management API, for publishing account linking and reading it back.
    pub smapi_url: String,
}

impl Default for AmazonEndpoints {
    fn default() -> Self {
        Self {
            lwa_token_url: None,
            event_gateway_url: None,
            alexa_api_url: "https://api.amazonalexa.com".into(),
            smapi_url: smapi::DEFAULT_SMAPI_URL.into(),
        }
    }
}

#[derive(Clone)]
pub struct AlexaService {
    pub auth: AuthServer,
    /// The same database and key-value store the authorization server was built with: this crate is
    /// part of the service layer, and nothing outside the services holds these handles.
    store: Store,
    kv: Kv,
    http: reqwest::Client,
    endpoints: Arc<AmazonEndpoints>,
    /// One in-process lock per link, so concurrent events refresh an Amazon token once.
    refresh_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// First backoff after throttling or an Amazon 5xx; Amazon asks for at least one second.
    pub retry_base: Duration,
    /// Wakes this instance's outbox worker when an event is accepted here.
    outbox_wake: Arc<tokio::sync::Notify>,
    /// How long a worker holds a claimed event before another instance may take it.
    pub outbox_lease: Duration,
    /// The most deliveries one tenant may have waiting before new events are refused (0: no bound).
    pub pending_cap: u64,
    /// This instance's view of each tenant's waiting deliveries (backlog.rs).
    backlogs: Arc<Mutex<HashMap<latchkey_core::TenantId, backlog::Seen>>>,
    /// How many times this instance counted a tenant's waiting deliveries (`backlog_counts`).
    backlog_counts: Arc<std::sync::atomic::AtomicU64>,
    /// Held by the request counting a tenant's backlog for the first time on this instance; removed
    /// once that count is its view (backlog.rs).
    first_counts: Arc<Mutex<backlog::FirstCounts>>,
}

impl AlexaService {
    pub fn new(auth: AuthServer, store: Store, kv: Kv, endpoints: AmazonEndpoints) -> Result<Self, AlexaError> {
        let http = reqwest::Client::builder()
            // Never follow redirects from a token endpoint (oauth2 crate guidance), and never hang.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| AlexaError::internal(e.to_string()))?;
        Ok(Self {
            auth,
            store,
            kv,
            http,
            endpoints: Arc::new(endpoints),
            refresh_locks: Arc::new(Mutex::new(HashMap::new())),
            retry_base: Duration::from_secs(1),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            outbox_lease: Duration::from_secs(60),
            pending_cap: backlog::DEFAULT_PENDING_CAP,
            backlogs: Arc::new(Mutex::new(HashMap::new())),
            backlog_counts: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            first_counts: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Checks `Authorization: Bearer <tenant API key>`; the skill backend's credential.
    pub async fn authenticate(&self, t: &TenantCtx, bearer: Option<&str>) -> Result<ApiKey, AlexaError> {
        let key = bearer.ok_or(AlexaError::unauthorized())?;
        let key = self.auth.tenant_api_key(t.id(), key).await?.ok_or(AlexaError::unauthorized())?;
        self.auth.rate_limit(&format!("apikey:{}:{}", t.id(), key.id), self.auth.config.api_rate_per_key).await?;
        Ok(key)
    }

    /// Login with Amazon for a region: an Alexa account's tokens are exchanged and refreshed where its
    /// AcceptGrant came from. `{region}` in a configured URL becomes NA, EU or FE.
    fn lwa(&self, region: AlexaRegion) -> lwa::Lwa<'_> {
        let token_url = match &self.endpoints.lwa_token_url {
            Some(u) => u.replace("{region}", region.as_str()),
            None => lwa::regional_token_url(region).to_owned(),
        };
        lwa::Lwa { http: &self.http, token_url }
    }
}
