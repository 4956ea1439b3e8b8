//! Observability of the real binary: every response carries a request id (the caller's, when it is
//! plain), JSON log lines of that request carry it too, and with OTEL_EXPORTER_OTLP_ENDPOINT set the
//! request's span reaches an OTLP/HTTP collector (a fake one here) with the same id.
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::scale::{free_port, start_logging_to};

type Received = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

async fn collect(received: web::Data<Received>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let ct = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    received.lock().expect("lock").push((req.path().to_owned(), ct, body.to_vec()));
    HttpResponse::Ok().content_type("application/json").body("{}")
}

/// A fake OTLP/HTTP collector: records what is posted to it.
fn start_collector(port: u16) -> Received {
    let received: Received = Arc::default();
    let r = received.clone();
    let server =
        HttpServer::new(move || App::new().app_data(web::Data::new(r.clone())).default_service(web::to(collect)))
            .workers(1)
            .bind(("127.0.0.1", port))
            .expect("bind collector")
            .run();
    tokio::spawn(server);
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_reach_json_logs_and_the_otlp_collector() {
    let collector_port = free_port();
    let received = start_collector(collector_port);
    let dir = std::env::temp_dir().join(unique("latchkey-otel-"));
    std::fs::create_dir_all(&dir).expect("dir");
    let log = dir.join("server.log");
    let port = free_port();
    let env: Vec<(&str, String)> = vec![
        ("LATCHKEY_DATA_DIR", dir.display().to_string()),
        ("LATCHKEY_LOG_FORMAT", "json".into()),
        ("RUST_LOG", "info".into()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{collector_port}")),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".into()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
    ];
    let mut inst = start_logging_to(&env, Some(&log), port).await;
    let c = server_client();

    // A plain id is kept and echoed; a hostile one is replaced by a fresh id.
    let resp = c
        .get(format!("{}/t/nosuch/.well-known/jwks.json", inst.base))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .expect("req");
    assert_eq!(resp.headers()["x-request-id"], "trace-me-123");
    let resp = c
        .get(format!("{}/t/nosuch/.well-known/jwks.json", inst.base))
        .header("x-request-id", "evil\"}, {\"forged\": 1")
        .send()
        .await
        .expect("req");
    let fresh = resp.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    assert_eq!(fresh.len(), 32, "{fresh}");
    let resp = c.get(format!("{}/healthz", inst.base)).send().await.expect("req");
    assert!(resp.headers().get("x-request-id").is_some());

    // The span of the first request arrives at the collector, as OTLP JSON, with the id.
    let started = Instant::now();
    let body = loop {
        let found = received.lock().expect("lock").iter().find_map(|(path, ct, body)| {
            let text = String::from_utf8_lossy(body).into_owned();
            (text.contains("trace-me-123")).then(|| (path.clone(), ct.clone(), text))
        });
        if let Some(f) = found {
            break f;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no span reached the collector");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(body.0, "/v1/traces");
    assert!(body.1.starts_with("application/json"), "{}", body.1);
    let export: serde_json::Value = serde_json::from_str(&body.2).expect("OTLP JSON");
    let text = export.to_string();
    assert!(text.contains("\"latchkey\""), "service.name is latchkey");
    assert!(text.contains("\"request\""), "the request span");

    // JSON log lines: the request's line carries its id in the span, and parses as JSON.
    inst.terminate();
    let logs = std::fs::read_to_string(&log).expect("log");
    let line = logs.lines().find(|l| l.contains("trace-me-123")).expect("a log line with the request id");
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(v["span"]["request_id"], "trace-me-123", "{v}");
    assert_eq!(v["fields"]["status"], 404);
    assert!(!logs.contains("forged\": 1"), "a hostile id never reaches the log");
    let _ = std::fs::remove_dir_all(&dir);
}
