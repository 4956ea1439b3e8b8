//! `latchkey-loadgen`: drives one scenario against a running Latchkey for a fixed time with a fixed
//! number of concurrent workers, then prints throughput and latency percentiles as one JSON line.
//! Bounded in time and count; it talks only to the URL it is given (use loopback).
#![forbid(unsafe_code)]
use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server's allocator, so the argon2id ceiling allocates its 19 MiB like the server does (with
/// glibc's malloc every hash maps fresh pages, and the ceiling came out below what the server did).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scenario {
    /// authorize → sign in → consent → code → token, as Alexa drives it.
    Link,
    /// refresh_token grant with rotation: each worker links its own account first (not timed), then
    /// refreshes with the newest refresh token each time, as Alexa does.
    Refresh,
    /// client_credentials grant (one RS256 signature per request).
    ClientCredentials,
    /// RFC 7662 introspection of one access token.
    Introspect,
    /// One link flow; prints its token response (for seeding the refresh and introspect runs).
    Seed,
    /// AcceptGrant forwarded by a skill backend (needs `fake-amazon` as Login with Amazon).
    AcceptGrant,
    /// A ChangeReport handed over for delivery: `202` once stored (the outbox delivers it later).
    Event,
    /// A ChangeReport relayed with `?wait=true`: the answer is the gateway's (needs `fake-amazon`).
    EventWait,
    /// Waits until the skill has no pending events (the outbox drained); prints how long it took.
    Drain,
    /// Serve a fast fake of Login with Amazon and the Event Gateway on `--base` until killed.
    FakeAmazon,
    /// A ceiling, no server involved: argon2id hashes per second with the sign-in's own hasher and
    /// parameters, one after another (pin it to the server's core).
    Argon2id,
    /// Ceilings, no server involved: access-token signatures and verifications per second for each
    /// signing algorithm, with the server's own JWS code (aws-lc-rs). `openssl speed` measures the
    /// system's OpenSSL, which is not what signs; its Ed25519 is slower than aws-lc's.
    Jws,
}

#[derive(Parser, Debug, Clone)]
struct Args {
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// e.g. http://127.0.0.1:8080; several, comma-separated, are used in turn for every request (a
    /// round-robin load balancer: each step of a flow lands on the next instance).
    #[arg(long)]
    base: String,
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    client_id: String,
    /// A generated secret starts with '-' one time in 64: a value, not a flag.
    #[arg(long, allow_hyphen_values = true)]
    client_secret: String,
    #[arg(long, default_value = "")]
    redirect_uri: String,
    #[arg(long, default_value = "")]
    email: String,
    #[arg(long, default_value = "")]
    password: String,
    /// For refresh and introspect: the token to use; for accept-grant: the grantee access token.
    #[arg(long, default_value = "")]
    token: String,
    /// For accept-grant and event: the tenant API key.
    #[arg(long, default_value = "")]
    api_key: String,
    /// For event: the user's sub and the Alexa skill id.
    #[arg(long, default_value = "")]
    user: String,
    #[arg(long, default_value = "")]
    skill: String,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// For drain: the fake Amazon's address (host:port), to count what its gateway received.
    #[arg(long)]
    amazon: Option<String>,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// For fake-amazon: how long its Event Gateway takes to answer, as Amazon's does from afar (the
    /// outbox's rate against a gateway that is not on the same machine).
    #[arg(long, default_value_t = 0)]
    gateway_latency_ms: u64,
    /// For link, seed and refresh: the scopes the flow asks for. With `openid`, each token response
    /// (refresh included) carries an ID token: a second signature.
    #[arg(long, default_value = "openid profile")]
    scope: String,
    /// For introspect: how many distinct access tokens the run cycles through. With more than one, each
    /// worker links an account and refreshes it for its share before the run (not timed), as a skill
    /// backend sees its linked accounts' tokens, each many times an hour. 1: one token over and over.
    #[arg(long, default_value_t = 1)]
    distinct_tokens: usize,
    /// Hard cap on requests (flows for `link`), whatever the time.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
    /// Open loop: offer this many requests per second in all, spread evenly over the workers, and time
    /// each request from when it was due, not from when it went out, so a stall also counts against
    /// the requests it held back (no coordinated omission). This is latency at a given load, as a
    /// latency target is stated; 0 (the default) is a closed loop, each worker sending again as soon
    /// as it has its answer, which measures the most the server can take (and its latency there is
    /// set by that rate: concurrency / throughput). Tokio's timer wakes on whole milliseconds, so a
    /// request may go out up to 1 ms after it was due, and that wait is counted in its latency.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
}

fn hidden(html: &str, name: &str) -> anyhow::Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).context("hidden field missing")? + marker.len();
    let end = html[start..].find('"').context("unterminated field")? + start;
    Ok(html[start..end].to_owned())
}

static NEXT_BASE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The tenant's URL on the next instance, round-robin.
fn tenant_url(args: &Args) -> String {
    let bases: Vec<&str> = args.base.split(',').collect();
    let i = NEXT_BASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % bases.len();
    format!("{}/t/{}", bases[i], args.tenant)
}

async fn one(
    args: &Args,
    http: &reqwest::Client,
    own_refresh: &mut Option<String>,
    token: &str,
) -> anyhow::Result<serde_json::Value> {
    match args.scenario {
        Scenario::ClientCredentials => {
            let r = http
                .post(format!("{}/oauth2/token", tenant_url(args)))
                .basic_auth(&args.client_id, Some(&args.client_secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("token: {}", r.status());
            }
        }
        Scenario::Refresh => {
            let rt = own_refresh.clone().context("no refresh token")?;
            let r = http
                .post(format!("{}/oauth2/token", tenant_url(args)))
                .basic_auth(&args.client_id, Some(&args.client_secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())])
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("refresh: {} {}", r.status(), r.text().await.unwrap_or_default());
            }
            let v: serde_json::Value = r.json().await?;
            *own_refresh = v["refresh_token"].as_str().map(str::to_owned);
            return Ok(v);
        }
        Scenario::Introspect => {
            let r = http
                .post(format!("{}/oauth2/introspect", tenant_url(args)))
                .basic_auth(&args.client_id, Some(&args.client_secret))
                .form(&[("token", token)])
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("introspect: {}", r.status());
            }
        }
        Scenario::AcceptGrant => {
            let body = serde_json::json!({"directive": {
                "header": {"namespace": "Alexa.Authorization", "name": "AcceptGrant", "messageId": "m", "payloadVersion": "3"},
                "payload": {"grant": {"type": "OAuth2.AuthorizationCode", "code": "any-code"}, "grantee": {"type": "BearerToken", "token": args.token}}}});
            let r = http
                .post(format!("{}/alexa/directives", tenant_url(args)))
                .bearer_auth(&args.api_key)
                .json(&body)
                .send()
                .await?;
            let v: serde_json::Value = r.json().await?;
            if v.pointer("/event/header/name").and_then(|n| n.as_str()) != Some("AcceptGrant.Response") {
                bail!("AcceptGrant failed: {v}");
            }
        }
        Scenario::Event | Scenario::EventWait => {
            let wait = if matches!(args.scenario, Scenario::EventWait) { "?wait=true" } else { "" };
            let body = serde_json::json!({"user": args.user, "skill": args.skill, "event": {
                "header": {"namespace": "Alexa", "name": "ChangeReport", "messageId": "m", "payloadVersion": "3"},
                "endpoint": {"endpointId": "lock-1"},
                "payload": {"change": {"cause": {"type": "PHYSICAL_INTERACTION"}, "properties": []}}}});
            let r = http
                .post(format!("{}/alexa/events{wait}", tenant_url(args)))
                .bearer_auth(&args.api_key)
                .json(&body)
                .send()
                .await?;
            if r.status().as_u16() != 202 {
                bail!("event: {} {}", r.status(), r.text().await.unwrap_or_default());
            }
        }
        Scenario::FakeAmazon | Scenario::Drain | Scenario::Argon2id | Scenario::Jws => bail!("not a load scenario"),
        Scenario::Link | Scenario::Seed => {
            // A fresh browser per flow, as each Alexa app webview is.
            let browser =
                reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build()?;
            let q = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("response_type", "code"),
                    ("client_id", args.client_id.as_str()),
                    ("redirect_uri", args.redirect_uri.as_str()),
                    ("state", "loadgen-state"),
                    ("scope", args.scope.as_str()),
                    ("prompt", "consent"),
                ])
                .finish();
            let page = browser.get(format!("{}/oauth2/authorize?{q}", tenant_url(args))).send().await?.text().await?;
            let page = browser
                .post(format!("{}/login", tenant_url(args)))
                .form(&[
                    ("flow", hidden(&page, "flow")?),
                    ("csrf", hidden(&page, "csrf")?),
                    ("email", args.email.clone()),
                    ("password", args.password.clone()),
                ])
                .send()
                .await?
                .text()
                .await?;
            let r = browser
                .post(format!("{}/consent", tenant_url(args)))
                .form(&[
                    ("flow", hidden(&page, "flow")?),
                    ("csrf", hidden(&page, "csrf")?),
                    ("decision", "allow".into()),
                ])
                .send()
                .await?;
            let Some(loc) = r.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned) else {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                let why = body.split("role=\"alert\"").nth(1).and_then(|s| s.split('<').next()).unwrap_or("");
                bail!("no redirect after consent: {status} {why}");
            };
            let code = url::Url::parse(&loc)?
                .query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
                .context("no code")?;
            let r = http
                .post(format!("{}/oauth2/token", tenant_url(args)))
                .basic_auth(&args.client_id, Some(&args.client_secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", args.redirect_uri.as_str()),
                ])
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("code exchange: {}", r.status());
            }
            return Ok(r.json().await?);
        }
    }
    Ok(serde_json::Value::Null)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    if let Scenario::FakeAmazon = args.scenario {
        return fake_amazon(&args.base, Duration::from_millis(args.gateway_latency_ms)).await;
    }
    if let Scenario::Seed = args.scenario {
        println!("{}", one(&args, &http, &mut None, &args.token).await?);
        return Ok(());
    }
    if let Scenario::Drain = args.scenario {
        return drain(&args, &http).await;
    }
    if let Scenario::Argon2id = args.scenario {
        return argon2id_ceiling(args.seconds).await;
    }
    if let Scenario::Jws = args.scenario {
        return jws_ceilings(args.seconds);
    }
    let budget = Arc::new(std::sync::atomic::AtomicU64::new(args.max_requests));
    // Workers set up first (refresh workers link an account each), then all start together.
    let barrier = Arc::new(tokio::sync::Barrier::new(args.concurrency + 1));
    let mut workers = Vec::new();
    // Open loop: each worker sends every `interval`, the workers staggered evenly across it.
    let interval = (args.rate > 0.0).then(|| Duration::from_secs_f64(args.concurrency as f64 / args.rate));
    for worker in 0..args.concurrency {
        let (args, http, budget, barrier) = (args.clone(), http.clone(), budget.clone(), barrier.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            // Refresh workers each start from a link of their own (a Seed flow, not timed).
            let mut own_refresh = None;
            let minting = matches!(args.scenario, Scenario::Introspect) && args.distinct_tokens > 1;
            if matches!(args.scenario, Scenario::Refresh) || minting {
                let seed_args = Args { scenario: Scenario::Seed, ..(*args).clone() };
                match one(&seed_args, &http, &mut None, "").await {
                    Ok(v) => own_refresh = v["refresh_token"].as_str().map(str::to_owned),
                    Err(e) => eprintln!("seed failed: {e:#}"),
                }
            }
            // Introspect workers with distinct tokens mint their share by refreshing their own link.
            let mut pool = vec![args.token.clone()];
            if minting {
                pool.clear();
                let refresh_args = Args { scenario: Scenario::Refresh, ..(*args).clone() };
                for _ in 0..args.distinct_tokens.div_ceil(args.concurrency) {
                    match one(&refresh_args, &http, &mut own_refresh, "").await {
                        Ok(v) => pool.extend(v["access_token"].as_str().map(str::to_owned)),
                        Err(e) => eprintln!("minting failed: {e:#}"),
                    }
                }
            }
            let mut next_token = 0usize;
            barrier.wait().await;
            let started = Instant::now();
            let deadline = started + Duration::from_secs(args.seconds);
            let mut due = interval.map(|i| started + i.mul_f64(worker as f64 / args.concurrency as f64));
            while Instant::now() < deadline
                && budget
                    .fetch_update(std::sync::atomic::Ordering::Relaxed, std::sync::atomic::Ordering::Relaxed, |b| {
                        b.checked_sub(1)
                    })
                    .is_ok()
            {
                let token = pool.get(next_token % pool.len().max(1)).map_or("", String::as_str);
                next_token += 1;
                let t = match (due, interval) {
                    (Some(d), Some(i)) => {
                        if d >= deadline {
                            break;
                        }
                        tokio::time::sleep_until(d.into()).await;
                        due = Some(d + i);
                        d
                    }
                    _ => Instant::now(),
                };
                match one(&args, &http, &mut own_refresh, token).await {
                    Ok(_) => lat.push(t.elapsed().as_micros() as u64),
                    Err(e) => {
                        errors += 1;
                        if errors == 1 {
                            eprintln!("error: {e:#}");
                        }
                    }
                }
            }
            (lat, errors)
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await?;
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).map_or(0.0, |v| *v as f64 / 1000.0)
    };
    println!(
        "{}",
        serde_json::json!({
            "scenario": format!("{:?}", args.scenario),
            "concurrency": args.concurrency,
            "offered_per_second": (args.rate > 0.0).then_some(args.rate),
            "scope": args.scope,
            "distinct_tokens": args.distinct_tokens,
            "ok": all.len(),
            "errors": errors,
            "seconds": (elapsed * 100.0).round() / 100.0,
            "per_second": ((all.len() as f64 / elapsed) * 10.0).round() / 10.0,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
        })
    );
    Ok(())
}

/// How many passwords the sign-in's hasher hashes per second on this core: the ceiling of a linking
/// flow, which checks one password.
async fn argon2id_ceiling(seconds: u64) -> anyhow::Result<()> {
    let hasher = latchkey_oauth::password::PasswordHasher::new().map_err(|e| anyhow::anyhow!("{e}"))?;
    let (started, mut n) = (Instant::now(), 0u64);
    while started.elapsed() < Duration::from_secs(seconds) {
        hasher.hash("bench password 1").await.map_err(|e| anyhow::anyhow!("{e}"))?;
        n += 1;
    }
    let per_s = n as f64 / started.elapsed().as_secs_f64();
    println!("{}", serde_json::json!({"ceiling": "argon2id", "per_second": (per_s * 10.0).round() / 10.0}));
    Ok(())
}

/// A fast stand-in for Login with Amazon (any code, any refresh token) and the Event Gateway (202 to
/// any event with a bearer token), so the benchmark measures Latchkey, not Amazon.
/// Events the fake gateway accepted, for `drain`'s delivery rate.
static GATEWAY_EVENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

async fn fake_amazon(bind: &str, latency: Duration) -> anyhow::Result<()> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let addr = bind.trim_start_matches("http://").to_owned();
    HttpServer::new(move || {
        App::new()
            .route(
                "/auth/o2/token",
                web::post().to(|| async {
                    HttpResponse::Ok().json(serde_json::json!({
                        "access_token": "Atza|bench-access", "refresh_token": "Atzr|bench-refresh",
                        "token_type": "bearer", "expires_in": 3600}))
                }),
            )
            .route(
                "/{region}/v3/events",
                web::post().to(move || async move {
                    if !latency.is_zero() {
                        tokio::time::sleep(latency).await;
                    }
                    GATEWAY_EVENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    HttpResponse::Accepted().finish()
                }),
            )
            .route(
                "/stats",
                web::get().to(|| async {
                    HttpResponse::Ok().json(serde_json::json!({
                        "gateway_events": GATEWAY_EVENTS.load(std::sync::atomic::Ordering::Relaxed)}))
                }),
            )
    })
    .workers(1)
    .bind(addr)?
    .run()
    .await?;
    Ok(())
}

/// Polls the skill's pending deliveries until there are none, for at most `--seconds` × 10. With
/// `--amazon` (the fake's address) it also reports how many events the gateway received meanwhile: the
/// outbox's delivery rate once acceptance has stopped.
async fn drain(args: &Args, http: &reqwest::Client) -> anyhow::Result<()> {
    let gateway_events = || async {
        match &args.amazon {
            Some(a) => {
                let v: serde_json::Value = http.get(format!("http://{a}/stats")).send().await?.json().await?;
                anyhow::Ok(v["gateway_events"].as_u64())
            }
            None => Ok(None),
        }
    };
    let start = Instant::now();
    let before = gateway_events().await?;
    let url = format!("{}/api/v1/skills/{}/events?status=pending&limit=1", tenant_url(args), args.skill);
    while start.elapsed() < Duration::from_secs(args.seconds * 10) {
        let v: serde_json::Value = http.get(&url).bearer_auth(&args.api_key).send().await?.json().await?;
        if v["items"].as_array().is_some_and(Vec::is_empty) {
            let secs = start.elapsed().as_secs_f64();
            let delivered = match (before, gateway_events().await?) {
                (Some(b), Some(a)) => Some(a - b),
                _ => None,
            };
            println!(
                "{}",
                serde_json::json!({"scenario": "drain", "seconds": secs, "delivered_while_draining": delivered,
                    "deliveries_per_s": delivered.map(|d| (d as f64 / secs).round())})
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("events still pending after {} s", args.seconds * 10)
}

/// Signatures and verifications of a typical access token per second, for each algorithm, with the
/// server's own key handling; `seconds` is split between the six measurements.
fn jws_ceilings(seconds: u64) -> anyhow::Result<()> {
    use latchkey_oauth::keys::{SigningAlg, TenantKeys, generate};
    let each = Duration::from_secs_f64(seconds.max(1) as f64 / 6.0);
    let rate = |f: &dyn Fn() -> bool| -> anyhow::Result<f64> {
        let (started, mut n) = (Instant::now(), 0u64);
        while started.elapsed() < each {
            if !f() {
                bail!("a JWS operation failed");
            }
            n += 1;
        }
        Ok(((n as f64 / started.elapsed().as_secs_f64()) * 10.0).round() / 10.0)
    };
    let claims = serde_json::json!({
        "iss": "https://id.example.com/t/acme", "sub": "0190f5a2b7c84d1e9f3a6b5c4d3e2f10",
        "aud": "3f9a6c1e2b7d4a8c9e0f1a2b", "exp": 1_900_000_000, "iat": 1_899_996_400,
        "jti": "b3JkZXJlZC1qdGktdmFsdWU", "client_id": "3f9a6c1e2b7d4a8c9e0f1a2b", "scope": "devices",
    });
    for alg in SigningAlg::ALL {
        let k = generate(alg).map_err(|e| anyhow::anyhow!("{e}"))?;
        let keys = TenantKeys::with_new_key(k).map_err(|e| anyhow::anyhow!("{e}"))?;
        let token = keys.sign("at+jwt", &claims).map_err(|e| anyhow::anyhow!("{e}"))?;
        let name = alg.as_str().to_lowercase();
        let sign = rate(&|| keys.sign("at+jwt", &claims).is_ok())?;
        let verify = rate(&|| keys.verify(&token).is_some())?;
        println!("{}", serde_json::json!({"ceiling": format!("{name}_sign_lib"), "per_second": sign}));
        println!("{}", serde_json::json!({"ceiling": format!("{name}_verify_lib"), "per_second": verify}));
    }
    Ok(())
}
