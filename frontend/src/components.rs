//! Pieces every page uses: the page frame, tenant navigation, copyable values, messages, the CSS.
use leptos::prelude::*;

/// Mobile-first, system fonts, WCAG AA contrast on every text colour; no external assets.
pub const CSS: &str = r#"
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:#f5f6f8;color:#1b1f24}
a{color:#0b57d0}header.top{background:#1b1f24;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header.top a{color:#fff;text-decoration:none;font-weight:600}header.top form:first-of-type{margin-left:auto}
main{max-width:64rem;margin:0 auto;padding:1rem}main.narrow{max-width:28rem}
nav.tabs{display:flex;gap:.25rem;flex-wrap:wrap;margin:.5rem 0 1rem}nav.tabs a{padding:.4rem .8rem;border-radius:6px;background:#e6e9ee;color:#1b1f24;text-decoration:none}
nav.tabs a[aria-current=page]{background:#0b57d0;color:#fff}
section.card{background:#fff;border:1px solid #d6dae0;border-radius:10px;padding:1rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:.6rem 0 .2rem}input,select{width:100%;padding:.55rem .6rem;font:inherit;border:1px solid #8a929c;border-radius:6px;background:#fff}
input:focus,select:focus,button:focus,a:focus{outline:3px solid #8ab4f8;outline-offset:1px}
button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #0b57d0;background:#0b57d0;color:#fff;cursor:pointer;margin-top:.8rem}
button.secondary{background:#fff;color:#0b57d0}button.danger{background:#b3261e;border-color:#b3261e}button.small{padding:.2rem .6rem;margin:0}
.hint{color:#4a5260;font-size:.9rem;margin:.2rem 0}.error{color:#b3261e;font-weight:600}.ok{color:#146c2e;font-weight:600}
table{width:100%;border-collapse:collapse;font-size:.95rem}th,td{text-align:left;padding:.45rem;border-bottom:1px solid #e1e4e8;vertical-align:top}
.value{display:flex;flex-wrap:wrap;gap:.3rem .4rem;align-items:center;margin:.4rem 0}.value .badge{flex:0 0 100%;background:none;padding:0;font-weight:600}
.value code{flex:1 1 12rem;min-width:0;background:#f0f2f5;padding:.35rem .5rem;border-radius:6px;word-break:break-all}.hint{overflow-wrap:anywhere}
.steps li{margin:.3rem 0}.badge{display:inline-block;padding:0 .5rem;border-radius:999px;background:#e6e9ee;font-size:.85rem}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.bars{display:inline-flex;align-items:flex-end;gap:2px;height:24px}
.bar{display:inline-block;width:6px;background:#1f5fbf;border-radius:1px}
.preview{padding:1rem;border:1px solid #d6dae0;border-radius:8px;max-width:22rem}fieldset{border:1px solid #d6dae0;border-radius:6px;margin-top:.6rem}
textarea{font:inherit;padding:.5rem;border:1px solid #8a929c;border-radius:6px}
.secret{background:#fff4ce;border:1px solid #c9a400;padding:.6rem;border-radius:8px}
@media(max-width:640px){table.responsive thead{display:none}table.responsive tr{display:block;border-bottom:1px solid #d6dae0;padding:.4rem 0}table.responsive td{display:block;border:0;padding:.15rem .2rem}}
"#;

/// The bar at the top of every signed-in page.
#[component]
pub fn TopBar() -> impl IntoView {
    let sign_out = ServerAction::<crate::api::SignOut>::new();
    view! {
        <header class="top">
            <a href="/admin">"Latchkey"</a>
            <ActionForm action=sign_out>
                <button type="submit" class="small secondary">"Sign out"</button>
            </ActionForm>
            <ActionForm action=sign_out>
                <input type="hidden" name="everywhere" value="1" />
                <button type="submit" class="small secondary">"Sign out everywhere"</button>
            </ActionForm>
        </header>
    }
}

/// Tabs of a tenant's pages.
#[component]
pub fn TenantNav(slug: String, current: &'static str) -> impl IntoView {
    let tabs = [
        ("Skills", ""),
        ("OAuth clients", "/clients"),
        ("End users", "/users"),
        ("Linked accounts", "/links"),
        ("Providers", "/providers"),
        ("Branding", "/branding"),
        ("API keys", "/api-keys"),
        ("Members", "/members"),
        ("Audit log", "/audit"),
    ];
    view! {
        <nav class="tabs" aria-label="Tenant">
            {tabs
                .into_iter()
                .map(|(label, suffix)| {
                    let href = format!("/admin/t/{slug}{suffix}");
                    let cur = (suffix == current).then_some("page");
                    view! { <a href=href aria-current=cur>{label}</a> }
                })
                .collect_view()}
        </nav>
    }
}

/// The frame of a tenant's page: top bar, title, tabs.
#[component]
pub fn TenantPage(title: &'static str, current: &'static str, children: Children) -> impl IntoView {
    let slug = crate::pages::slug();
    view! {
        <TopBar />
        <main>
            <h1>{title}</h1>
            <TenantNav slug=slug.get_untracked() current=current />
            {children()}
        </main>
    }
}

/// A value to paste into the Alexa console, with a copy button (the button works once hydrated).
#[component]
pub fn CopyValue(label: &'static str, value: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let v = value.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            if let Some(w) = web_sys::window() {
                let _ = w.navigator().clipboard().write_text(&v);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &v;
        copied.set(true);
    };
    view! {
        <div class="value">
            <span class="badge">{label}</span>
            <code data-label=label>{value}</code>
            <button type="button" class="small secondary" on:click=copy aria-label=format!("Copy {label}")>
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </div>
    }
}

/// A value shown once that a form posted without JavaScript left for this page (see
/// `keep_for_next_page`); nothing otherwise.
#[component]
pub fn OneTimeValue() -> impl IntoView {
    let kept = Resource::new(|| (), |_| crate::api_more::take_one_time_value());
    view! {
        <Suspense fallback=|| ()>
            {move || kept.get().and_then(Result::ok).flatten().map(|(label, value)| view! {
                <div class="secret card" role="status">
                    <p><strong>"Copy it now: it is shown only once."</strong></p>
                    <div class="value">
                        <span class="badge">{label.clone()}</span>
                        <code data-label=label>{value}</code>
                    </div>
                </div>
            })}
        </Suspense>
    }
}

/// The outcome of an action: its error, or `ok` rendered.
pub fn outcome<T: Clone + Send + Sync + 'static, V: IntoView + 'static>(
    value: impl Get<Value = Option<Result<T, ServerFnError>>> + Send + Sync + 'static,
    ok: impl Fn(T) -> V + Send + Sync + 'static,
) -> impl IntoView {
    move || match value.get() {
        Some(Ok(v)) => ok(v).into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
        None => ().into_any(),
    }
}

/// A server function error as a user should read it.
pub fn clean(e: &ServerFnError) -> String {
    let s = e.to_string();
    s.split_once(": ").map(|(_, m)| m.to_owned()).unwrap_or(s)
}

pub fn when(ts: i64) -> String {
    // UTC, to the minute: enough for an admin list, no date library in the wasm.
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", secs / 3600, (secs % 3600) / 60)
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_unix_time_as_utc() {
        assert_eq!(super::when(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::when(1_795_000_000), "2026-11-18 11:06 UTC");
    }
}
