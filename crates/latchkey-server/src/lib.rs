//! The `latchkey` binary's library: configuration, the HTTP application, pages and the CLI.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod http;
pub mod metrics;
mod otel;
pub mod pages;
pub mod private_files;
pub mod request_id;
pub mod telemetry;

pub use app::Application;
pub use config::Config;
