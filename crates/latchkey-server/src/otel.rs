//! OpenTelemetry trace export over OTLP/HTTP, on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. The
//! exporter reads the standard variables itself (`OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `_HEADERS`,
//! `_TIMEOUT`, `OTEL_BSP_*`); the protocol is `http/protobuf` unless `OTEL_EXPORTER_OTLP_PROTOCOL` says
//! `http/json` (gRPC is not compiled in). Requests go through our own reqwest client, on our runtime.
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

type BoxErr = Box<dyn std::error::Error + Send + Sync>;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn protocol() -> Protocol {
    match env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL")) {
        Some(p) if p.eq_ignore_ascii_case("http/json") => Protocol::HttpJson,
        _ => Protocol::HttpBinary,
    }
}

/// The provider and a tracer for the tracing layer, or `None` when export is not configured.
pub fn provider() -> Result<Option<(SdkTracerProvider, SdkTracer)>, BoxErr> {
    if env("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() && env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none() {
        return Ok(None);
    }
    let exporter =
        SpanExporter::builder().with_http().with_protocol(protocol()).with_http_client(TokioReqwest::new()?).build()?;
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("latchkey").build())
        .with_batch_exporter(exporter)
        .build();
    let tracer = provider.tracer("latchkey");
    Ok(Some((provider, tracer)))
}

/// The batch processor exports from its own thread, which has no Tokio reactor: each export runs as a
/// task on the server's runtime and the thread waits for it.
#[derive(Debug, Clone)]
struct TokioReqwest {
    client: reqwest::Client,
    rt: tokio::runtime::Handle,
}

impl TokioReqwest {
    fn new() -> Result<Self, BoxErr> {
        Ok(Self {
            client: reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build()?,
            rt: tokio::runtime::Handle::try_current()?,
        })
    }
}

#[async_trait::async_trait]
impl HttpClient for TokioReqwest {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        self.rt
            .spawn(async move {
                let resp = client.execute(reqwest::Request::try_from(request)?).await?;
                let (status, headers) = (resp.status(), resp.headers().clone());
                let mut out = Response::builder().status(status).body(resp.bytes().await?)?;
                *out.headers_mut() = headers;
                Ok::<_, HttpError>(out)
            })
            .await?
    }
}
