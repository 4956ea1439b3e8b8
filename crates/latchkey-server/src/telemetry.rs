//! Logging setup: human-readable text by default, JSON lines with `LATCHKEY_LOG_FORMAT=json`.
use tracing_subscriber::EnvFilter;

pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // Ignore a second init (tests start several apps in one process).
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}
