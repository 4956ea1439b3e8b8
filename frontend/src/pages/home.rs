//! `/admin`: the tenants this account belongs to; for operators, every tenant with usage figures.
use leptos::prelude::*;

use crate::api::{SetTenantSuspended, load_home};
use crate::components::{TopBar, clean};

#[component]
pub fn Home() -> impl IntoView {
    let suspend = ServerAction::<SetTenantSuspended>::new();
    let data = Resource::new(move || suspend.version().get(), |_| load_home());
    view! {
        <TopBar />
        <main>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || data.get().map(|r| match r {
                    Err(e) => view! { <p class="error">{clean(&e)}" "<a href="/admin/login">"Sign in"</a></p> }.into_any(),
                    Ok(h) => view! {
                        <h1>{if h.operator { "All tenants" } else { "Your tenants" }}</h1>
                        <p class="hint">"Signed in as "{h.email.clone()}</p>
                        {h.health.clone().map(|hl| view! { <section class="card" aria-label="Service health"><h2>"Service health"</h2><p>{hl}</p></section> })}
                        <section class="card">
                            <table class="responsive">
                                <thead><tr><th>"Tenant"</th><th>"Status"</th><th>"Role"</th>
                                    {h.operator.then(|| view! { <th>"Users"</th><th>"Active links"</th><th>"Token requests today"</th><th>"Last 7 days"</th><th></th> })}
                                </tr></thead>
                                <tbody>
                                    {h.tenants.into_iter().map(|t| {
                                        let suspended = t.status == "suspended";
                                        let slug = t.slug.clone();
                                        view! {
                                            <tr>
                                                <td><a href=format!("/admin/t/{}", t.slug)>{t.name}</a>" "<span class="hint">{t.slug.clone()}</span></td>
                                                <td><span class="badge">{t.status}</span></td>
                                                <td>{t.role}</td>
                                                {t.users.map(|u| view! {
                                                    <td>{u}</td><td>{t.links.unwrap_or(0)}</td><td>{t.token_requests_today.unwrap_or(0)}</td>
                                                    <td><UsageBars days=t.token_requests_by_day.clone() /></td>
                                                    <td>
                                                        <ActionForm action=suspend>
                                                            <input type="hidden" name="slug" value=slug.clone() />
                                                            <input type="hidden" name="suspend" value=(!suspended).to_string() />
                                                            <button type="submit" class=if suspended { "small" } else { "small danger" }>
                                                                {if suspended { "Resume" } else { "Suspend" }}
                                                            </button>
                                                        </ActionForm>
                                                    </td>
                                                })}
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                    }.into_any(),
                })}
            </Suspense>
        </main>
    }
}

/// Seven small bars, one per day; each says its date and count (title and screen-reader text).
#[component]
fn UsageBars(days: Vec<(String, i64)>) -> impl IntoView {
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let total: i64 = days.iter().map(|(_, n)| n).sum();
    view! {
        <span class="bars" aria-label=format!("{total} token requests in the last 7 days")>
            {days.into_iter().map(|(day, n)| {
                let h = 2 + (n * 22 / max);
                view! { <span class="bar" style=format!("height:{h}px") title=format!("{day}: {n}")></span> }
            }).collect_view()}
            <span class="sr">{format!("{total} in 7 days")}</span>
        </span>
    }
}
