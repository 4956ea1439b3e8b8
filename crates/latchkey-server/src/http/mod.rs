//! HTTP adapters: each handler parses, calls one service function, and renders. Errors are mapped to
//! responses in one place (`respond`).
pub mod alexa;
pub mod api;
pub mod body_limit;
pub mod extract;
pub mod health;
pub mod oauth_api;
pub mod oauth_pages;
pub mod password_pages;
pub mod respond;
pub mod wellknown;
