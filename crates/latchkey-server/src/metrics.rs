//! Prometheus metrics, kept in process and rendered in the text exposition format at `/metrics`.
//! Labels are routes (patterns such as `/t/{slug}/oauth2/token`, never a tenant's slug, so the series
//! count stays bounded), methods, status codes, grant types and outcomes.
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Histogram buckets in seconds; 4.5 s is Alexa's timeout for the token endpoint.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 4.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    durations: BTreeMap<String, Histogram>,
    counters: BTreeMap<(&'static str, String), u64>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.with(|m| {
            *m.requests.entry((route.to_owned(), method.to_owned(), status)).or_default() += 1;
            let h = m.durations.entry(route.to_owned()).or_default();
            for (i, b) in BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        });
    }

    /// Increments a labelled counter, e.g. `("token_grants_total", "grant_type=\"refresh_token\",outcome=\"ok\"")`.
    pub fn count(&self, name: &'static str, labels: String) {
        self.with(|m| *m.counters.entry((name, labels)).or_default() += 1);
    }

    pub fn render(&self) -> String {
        self.with(|m| {
            let mut out = String::new();
            let _ = writeln!(out, "# HELP latchkey_http_requests_total HTTP requests by route, method and status.");
            let _ = writeln!(out, "# TYPE latchkey_http_requests_total counter");
            for ((route, method, status), n) in &m.requests {
                let _ = writeln!(
                    out,
                    "latchkey_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
            let _ = writeln!(out, "# HELP latchkey_http_request_duration_seconds Request latency by route.");
            let _ = writeln!(out, "# TYPE latchkey_http_request_duration_seconds histogram");
            for (route, h) in &m.durations {
                let r = escape(route);
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "latchkey_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "latchkey_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "latchkey_http_request_duration_seconds_sum{{route=\"{r}\"}} {}", h.sum);
                let _ = writeln!(out, "latchkey_http_request_duration_seconds_count{{route=\"{r}\"}} {}", h.count);
            }
            let mut last = "";
            for ((name, labels), n) in &m.counters {
                if *name != last {
                    let _ = writeln!(out, "# TYPE latchkey_{name} counter");
                    last = name;
                }
                let _ = writeln!(out, "latchkey_{name}{{{labels}}} {n}");
            }
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_exposition_format() {
        let m = Metrics::default();
        m.observe_request("/t/{slug}/oauth2/token", "POST", 200, 0.003);
        m.observe_request("/t/{slug}/oauth2/token", "POST", 200, 0.2);
        m.count("token_grants_total", "grant_type=\"refresh_token\",outcome=\"ok\"".into());
        let text = m.render();
        assert!(text.contains(
            "latchkey_http_requests_total{route=\"/t/{slug}/oauth2/token\",method=\"POST\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "latchkey_http_request_duration_seconds_bucket{route=\"/t/{slug}/oauth2/token\",le=\"0.005\"} 1"
        ));
        assert!(
            text.contains(
                "latchkey_http_request_duration_seconds_bucket{route=\"/t/{slug}/oauth2/token\",le=\"+Inf\"} 2"
            )
        );
        assert!(text.contains("latchkey_token_grants_total{grant_type=\"refresh_token\",outcome=\"ok\"} 1"));
    }
}
