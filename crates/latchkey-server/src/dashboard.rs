//! Mounting the Leptos dashboard: its pages under `/admin`, its server functions under `/admin/fn`,
//! and the browser bundle (built by scripts/build-dashboard.sh) under `/admin/pkg`.
use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::{App, Error, web};
use latchkey_alexa::AlexaService;
use latchkey_frontend::server::DashboardContext;
use latchkey_frontend::{App as DashboardApp, OUTPUT_NAME, shell};
use latchkey_oauth::AuthServer;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_actix::{LeptosRoutes, generate_route_list};
use std::path::PathBuf;

use crate::config::Config;

#[derive(Clone)]
pub struct Dashboard {
    options: LeptosOptions,
    context: DashboardContext,
    site_root: PathBuf,
    routes: Vec<leptos_actix::ActixRouteListing>,
}

impl Dashboard {
    pub fn new(
        config: &Config,
        auth: &AuthServer,
        alexa: &AlexaService,
        secure_cookies: bool,
        trusted_proxies: std::sync::Arc<Vec<latchkey_core::net::IpNet>>,
    ) -> Self {
        let site_root = config.dashboard_dir();
        let options = LeptosOptions::builder()
            .output_name(OUTPUT_NAME)
            .site_root(site_root.display().to_string())
            .site_pkg_dir("pkg")
            .build();
        if !site_root.join("pkg").join(format!("{OUTPUT_NAME}.js")).exists() {
            tracing::warn!(
                dir = %site_root.display(),
                "dashboard bundle not found: pages are served without hydration (run scripts/build-dashboard.sh)"
            );
        }
        Self {
            options,
            context: DashboardContext { auth: auth.clone(), alexa: alexa.clone(), secure_cookies, trusted_proxies },
            site_root,
            routes: generate_route_list(DashboardApp),
        }
    }

    pub fn mount<T>(&self, app: App<T>) -> App<T>
    where
        T: ServiceFactory<ServiceRequest, Config = (), Error = Error, InitError = ()> + 'static,
    {
        let ctx = self.context.clone();
        let options = self.options.clone();
        app.app_data(web::Data::new(self.options.clone()))
            .service(actix_files::Files::new("/admin/pkg", self.site_root.join("pkg")))
            .leptos_routes_with_context(
                self.routes.clone(),
                move || {
                    provide_context(ctx.clone());
                    leptos::nonce::provide_nonce();
                },
                move || shell(options.clone()),
            )
    }
}

/// server_fn answers 500 when it cannot read a server function's arguments (a missing or malformed
/// field), before any of our code runs. That is the caller's mistake: 400, so that only real faults
/// are 5xx. Our own errors already carry their status (frontend/src/server.rs, `fail`).
pub async fn server_fn_input_errors<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, Error>
where
    B: actix_web::body::MessageBody + 'static,
{
    let res = res.map_into_boxed_body();
    if res.status() != actix_web::http::StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    // Server-function error bodies are a short "Kind|message" text.
    let bytes = actix_web::body::to_bytes_limited(body, 64 * 1024)
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("error body too large"))?
        .map_err(|_| actix_web::error::ErrorInternalServerError("error body unreadable"))?;
    if [&b"Args|"[..], b"Deserialization|", b"MissingArg|"].iter().any(|k| bytes.starts_with(k)) {
        *head.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
    }
    Ok(actix_web::dev::ServiceResponse::new(req, head.set_body(actix_web::body::BoxBody::new(bytes))))
}
