//! Building and running the HTTP application.
use actix_web::dev::Server;
use actix_web::dev::Service;
use actix_web::middleware::{DefaultHeaders, NormalizePath, TrailingSlash};
use actix_web::{App, HttpResponse, HttpServer, web};
use latchkey_oauth::{AuthConfig, AuthServer};
use latchkey_store::{SecretBox, Store};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

use crate::metrics::Metrics;

use crate::config::Config;
use crate::http::{alexa, api, health, oauth_api, oauth_pages, password_pages, wellknown};
use latchkey_alexa::{AlexaService, AmazonEndpoints};

/// Shared by every request.
pub struct AppState {
    pub metrics: Arc<Metrics>,
    pub metrics_token: Option<crate::config::Secret>,
    pub auth: AuthServer,
    pub alexa: AlexaService,
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`LATCHKEY_TRUSTED_PROXIES`).
    pub trusted_proxies: std::sync::Arc<Vec<latchkey_core::net::IpNet>>,
}

use crate::http::body_limit::{self, BODY_LIMIT};

/// The service layer, wired: the authorization server and the Alexa services over one database and
/// one key-value store. Only this wiring sees the store's handles; every surface calls the services.
#[derive(Clone)]
pub struct Services {
    pub auth: AuthServer,
    pub alexa: AlexaService,
}

/// Opens the database (running migrations) and the KV store, and builds the services over them.
pub async fn open_services(config: &Config, public_url: &str) -> anyhow::Result<Services> {
    let previous = config.previous_master_keys();
    let previous: Vec<&str> = previous.iter().map(String::as_str).collect();
    let secrets = SecretBox::from_base64(config.master_key()?.expose())?.with_previous(&previous)?;
    let store = Store::connect(&config.database_url()?, secrets).await?;
    store.migrate().await?;
    let kv = latchkey_store::kv::open(config.redis_url.as_ref().map(|s| s.expose()), &config.redis_prefix).await?;
    let mut auth_config = AuthConfig::new(public_url);
    auth_config.token_rate_per_client = config.token_rate_per_client;
    auth_config.api_rate_per_key = config.api_rate_per_key;
    auth_config.per_ip_limits = config.per_ip_limits()?;
    auth_config.flows_per_ip_minute = config.flows_per_ip_minute;
    auth_config.allowed_upstream_networks = config.allowed_upstream_networks()?;
    auth_config.revocation_bound = std::time::Duration::from_millis(config.revocation_bound_ms.max(100));
    let auth = AuthServer::new(store.clone(), kv.clone(), auth_config)?.with_mailer(config.mailer()?);
    let alexa = AlexaService::new(auth.clone(), store, kv, amazon_endpoints(config))?;
    Ok(Services { auth, alexa })
}

pub fn amazon_endpoints(config: &Config) -> AmazonEndpoints {
    AmazonEndpoints {
        lwa_token_url: config.lwa_token_url.clone(),
        event_gateway_url: config.alexa_event_gateway_url.clone(),
        alexa_api_url: config.alexa_api_url.clone(),
        smapi_url: config.smapi_url.clone(),
    }
}

/// A bound, not yet running, server.
pub struct Application {
    auth: AuthServer,
    maintenance: Option<(std::time::Duration, latchkey_oauth::maintenance::MaintenancePolicy)>,
    alexa: AlexaService,
    /// Whether this instance delivers stored Alexa events (`LATCHKEY_ALEXA_OUTBOX_WORKER`).
    outbox_worker: bool,
    port: u16,
    public_url: String,
    server: Server,
}

impl Application {
    /// Binds `config.bind` (port 0 picks a free port, for tests) and prepares the server.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let outbox_worker = config.alexa_outbox_worker()?;
        let listener = TcpListener::bind(&config.bind)?;
        let addr = listener.local_addr()?;
        let public_url = config.public_url_for(&addr.to_string())?;
        let Services { auth, mut alexa } = open_services(&config, &public_url).await?;
        // At least the 25 s one delivery can take (two gateway calls and an LWA refresh).
        alexa.outbox_lease = std::time::Duration::from_secs(config.alexa_event_lease_secs.max(1));
        alexa.pending_cap = config.alexa_pending_events_per_tenant;
        let metrics = Arc::new(Metrics::default());
        let trusted_proxies = Arc::new(config.trusted_proxies()?);
        let state = web::Data::new(AppState {
            metrics: metrics.clone(),
            metrics_token: config.metrics_token.clone(),
            alexa: alexa.clone(),
            auth: auth.clone(),
            secure_cookies: public_url.starts_with("https://"),
            trusted_proxies: trusted_proxies.clone(),
        });
        let dashboard = crate::dashboard::Dashboard::new(
            &config,
            &auth,
            &alexa,
            public_url.starts_with("https://"),
            trusted_proxies,
        );
        let server = HttpServer::new(move || {
            let metrics = metrics.clone();
            let app = App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(BODY_LIMIT))
                // Innermost, so a refused body is still logged and counted by the wrappers outside.
                .wrap_fn(|mut req, srv| {
                    let call = match body_limit::enforce(&mut req) {
                        body_limit::Verdict::TooLarge(limit) => Err(req.into_response(body_limit::too_large(limit))),
                        verdict => Ok((srv.call(req), verdict)),
                    };
                    async move {
                        match call {
                            Err(refused) => Ok(refused.map_into_boxed_body()),
                            Ok((fut, body_limit::Verdict::Watched { limit, tripped })) => {
                                let res = fut.await?;
                                if !tripped.load(std::sync::atomic::Ordering::Relaxed) {
                                    return Ok(res.map_into_boxed_body());
                                }
                                let (req, _) = res.into_parts();
                                Ok(actix_web::dev::ServiceResponse::new(req, body_limit::too_large(limit))
                                    .map_into_boxed_body())
                            }
                            Ok((fut, _)) => Ok(fut.await?.map_into_boxed_body()),
                        }
                    }
                })
                .wrap_fn(|req, srv| {
                    let fut = srv.call(req);
                    async move { crate::dashboard::server_fn_input_errors(fut.await?).await }
                })
                .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                .wrap_fn(move |req, srv| {
                    // Route patterns, not paths: a tenant's slug never becomes a label.
                    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
                    let method = req.method().to_string();
                    // Paths only: query strings carry codes and states that do not belong in logs.
                    let path = req.path().to_owned();
                    let id = crate::request_id::from_headers(req.headers());
                    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
                    let started = Instant::now();
                    let metrics = metrics.clone();
                    let fut = span.in_scope(|| srv.call(req));
                    async move {
                        let mut res = fut.await?;
                        let status = res.status().as_u16();
                        let elapsed = started.elapsed();
                        metrics.observe_request(&route, &method, status, elapsed.as_secs_f64());
                        crate::request_id::set_header(res.headers_mut(), &id);
                        if path != "/healthz" && path != "/readyz" {
                            tracing::info!(status, ms = elapsed.as_secs_f64() * 1000.0, path = %path, "request");
                        }
                        Ok(res)
                    }
                    .instrument(span)
                })
                .wrap(NormalizePath::new(TrailingSlash::Trim));
            dashboard.mount(app).configure(routes)
        })
        .listen(listener)?
        .shutdown_timeout(20)
        .run();
        let maintenance = (config.maintenance_interval_secs > 0)
            .then(|| (std::time::Duration::from_secs(config.maintenance_interval_secs), config.maintenance_policy()));
        Ok(Self { auth, maintenance, alexa, outbox_worker, port: addr.port(), public_url, server })
    }

    /// The service layer this application serves, for setting up data in-process (tests, tools).
    pub fn auth(&self) -> &AuthServer {
        &self.auth
    }

    pub fn alexa(&self) -> &AlexaService {
        &self.alexa
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let upkeep =
            self.maintenance.map(|(every, policy)| tokio::spawn(maintenance_loop(self.auth.clone(), every, policy)));
        // Instances deliver stored Alexa events unless told not to; the database's claims keep them
        // from doubling.
        let outbox = self.outbox_worker.then(|| tokio::spawn(self.alexa.clone().run_outbox()));
        // Keeps this instance's view of live grants current (introspection reads it).
        let feed = tokio::spawn(self.auth.clone().follow_revocations());
        let usage = tokio::spawn(self.auth.clone().tally_usage());
        let result = self.server.await;
        feed.abort();
        usage.abort();
        // The last second's token counts.
        self.auth.flush_usage().await;
        if let Some(task) = outbox {
            task.abort();
        }
        // Stopping mid-round is safe: each step is one transaction.
        if let Some(task) = upkeep {
            task.abort();
        }
        result
    }
}

/// Every instance wakes up each `every`; the KV lock inside lets one of them do the round.
async fn maintenance_loop(
    auth: AuthServer,
    every: std::time::Duration,
    policy: latchkey_oauth::maintenance::MaintenancePolicy,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Held a little less than a period, so the next round (on any instance) is not blocked.
        let lock = every.mul_f64(0.9).max(std::time::Duration::from_millis(500));
        if let Some(report) = auth.run_maintenance(&policy, lock).await
            && report != latchkey_oauth::maintenance::MaintenanceReport::default()
        {
            tracing::info!(?report, "maintenance round");
        }
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .service(web::scope("/api").configure(api::operator_routes))
        .service(web::scope("/t/{tenant}/api/v1").configure(api::tenant_routes))
        .service(
            web::scope("/t/{slug}")
                .route("/.well-known/openid-configuration", web::get().to(wellknown::openid_configuration))
                .route("/.well-known/oauth-authorization-server", web::get().to(wellknown::openid_configuration))
                .route("/.well-known/jwks.json", web::get().to(wellknown::jwks))
                .route("/oauth2/authorize", web::get().to(oauth_pages::authorize_get))
                .route("/oauth2/authorize", web::post().to(oauth_pages::authorize_post))
                .route("/login", web::post().to(oauth_pages::login))
                .route("/login", web::get().to(oauth_pages::login_again))
                .route("/password", web::get().to(password_pages::set_password_form))
                .route("/password", web::post().to(password_pages::set_password))
                .route("/password/forgot", web::get().to(password_pages::forgot_form))
                .route("/password/forgot", web::post().to(password_pages::forgot))
                .route("/federation/{provider}/start", web::get().to(oauth_pages::federation_start))
                .route("/federation/{provider}/callback", web::get().to(oauth_pages::federation_callback))
                .route("/consent", web::post().to(oauth_pages::consent))
                .route("/oauth2/token", web::post().to(oauth_api::token))
                .route("/oauth2/revoke", web::post().to(oauth_api::revoke))
                .route("/oauth2/introspect", web::post().to(oauth_api::introspect))
                .route("/oauth2/userinfo", web::get().to(oauth_api::userinfo))
                .route("/oauth2/userinfo", web::post().to(oauth_api::userinfo))
                .route("/alexa/directives", web::post().to(alexa::directives))
                .route("/alexa/events", web::post().to(alexa::events))
                .route("/alexa/events/batch", web::post().to(alexa::events_batch))
                .route("/alexa/app-to-app", web::post().to(alexa::app_to_app))
                .route("/alexa/skills/{skill}/readiness", web::get().to(alexa::readiness)),
        )
        // After the tenant scope: dynamic routes are matched by regex in order, and these two are rare
        // while introspection and refresh are the hottest paths.
        .route("/.well-known/oauth-authorization-server/t/{slug}", web::get().to(wellknown::openid_configuration))
        .route("/.well-known/openid-configuration/t/{slug}", web::get().to(wellknown::openid_configuration))
        .default_service(web::to(not_found));
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({"error": "not_found", "error_description": "no such endpoint"}))
}
