//! Logging setup: human-readable text by default, JSON lines with `LATCHKEY_LOG_FORMAT=json`; every
//! line of a request carries its request id (the span opened in app.rs). With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported over OTLP (otel.rs).
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Keep this; pass it to `shutdown` before exiting so queued spans are sent.
pub struct Telemetry(Option<SdkTracerProvider>);

pub fn init(format: &str) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let (provider, tracer) = match crate::otel::provider() {
        Ok(Some((p, t))) => (Some(p), Some(t)),
        Ok(None) => (None, None),
        Err(e) => {
            eprintln!("warning: OpenTelemetry export is off: {e}");
            (None, None)
        }
    };
    let otel = tracer.map(|t| {
        tracing_opentelemetry::layer().with_tracer(t).with_filter(tracing_subscriber::filter::filter_fn(|m| {
            // The exporter's own HTTP calls must not be exported (a feedback loop).
            let t = m.target();
            !(t.starts_with("opentelemetry")
                || t.starts_with("hyper")
                || t.starts_with("reqwest")
                || t.starts_with("h2"))
        }))
    });
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if format == "json" { fmt.json().boxed() } else { fmt.boxed() };
    // Ignore a second init (tests start several apps in one process).
    match tracing_subscriber::registry().with(filter).with(otel).with(fmt).try_init() {
        Ok(()) => Telemetry(provider),
        Err(_) => {
            if let Some(p) = provider {
                let _ = p.shutdown();
            }
            Telemetry(None)
        }
    }
}

impl Telemetry {
    /// Flushes queued spans (bounded by the exporter's timeout) and stops the exporter.
    pub async fn shutdown(self) {
        if let Some(p) = self.0 {
            let _ = tokio::task::spawn_blocking(move || p.shutdown()).await;
        }
    }
}
