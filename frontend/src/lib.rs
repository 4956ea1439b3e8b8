//! The admin dashboard: Leptos pages rendered on the server under `/admin` and hydrated in the
//! browser. Every page is plain HTML first (forms post to server functions and redirect back);
//! hydration adds inline validation and updates without full reloads. Server functions are thin
//! adapters over the same service functions as the management API (`latchkey-oauth`).
#![forbid(unsafe_code)]
// Deeply nested views (the operators' tenant table) exceed the default when built for the browser.
#![recursion_limit = "256"]

pub mod api;
pub mod api_more;
pub mod api_smapi;
mod components;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;

use leptos::prelude::*;
use leptos_meta::{MetaTags, provide_meta_context};
use leptos_router::SsrMode;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The name of the browser bundle (`{OUTPUT_NAME}.js`, `{OUTPUT_NAME}_bg.wasm` under `/admin/pkg`).
pub const OUTPUT_NAME: &str = "latchkey_dashboard";

/// The HTML document around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="robots" content="noindex" />
                <title>"Latchkey"</title>
                <style>{components::CSS}</style>
                <HydrationScripts options root="/admin" />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    #[cfg(feature = "ssr")]
    server::set_page_headers();
    view! {
        <Router>
            <Routes fallback=|| view! { <main class="narrow"><h1>"Not found"</h1><p><a href="/admin">"Back to the dashboard"</a></p></main> }>
                <Route path=path!("/admin") view=pages::home::Home ssr=SsrMode::Async />
                <Route path=path!("/admin/signup") view=pages::signup::Signup ssr=SsrMode::Async />
                <Route path=path!("/admin/verify") view=pages::signup::Verify ssr=SsrMode::Async />
                <Route path=path!("/admin/login") view=pages::login::Login ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:slug") view=pages::skills::Skills ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:slug/users") view=pages::users::Users ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:slug/links") view=pages::links::Links ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:slug/audit") view=pages::audit::Audit ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:slug/clients") view=pages::clients::Clients ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:slug/providers") view=pages::providers::Providers ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:slug/branding") view=pages::branding::BrandingPage ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:slug/api-keys") view=pages::keys::ApiKeys ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:slug/members") view=pages::members::Members ssr=SsrMode::Async />
                <Route path=path!("/admin/reset") view=pages::account::Reset ssr=SsrMode::Async />
                <Route path=path!("/admin/invitation") view=pages::account::Invitation ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
