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
    pub fn new(config: &Config, auth: &AuthServer, alexa: &AlexaService, secure_cookies: bool) -> Self {
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
            context: DashboardContext {
                auth: auth.clone(),
                alexa: alexa.clone(),
                secure_cookies,
                trust_proxy: config.trust_proxy,
            },
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
