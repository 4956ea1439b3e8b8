//! `/admin/t/:slug/audit`: who did what, when, from where.
use leptos::prelude::*;

use crate::api::list_audit;
use crate::components::{TenantPage, clean, when};
use crate::pages::{query, slug};

#[component]
pub fn Audit() -> impl IntoView {
    let slug = slug();
    let action = query("action");
    let events = Resource::new(move || (slug.get(), action.get()), |(s, a)| list_audit(s, a));
    view! {
        <TenantPage title="Audit log" current="/audit">
            <form method="get" class="card" role="search">
                <label for="action">"Action (or a prefix ending in a dot, like client.)"</label>
                <input id="action" name="action" value=move || action.get() />
                <button type="submit" class="secondary">"Filter"</button>
            </form>
            <section class="card">
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || events.get().map(|r| match r {
                        Err(e) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="responsive">
                                <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"From"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|e| view! {
                                        <tr><td>{when(e.at)}</td><td>{e.actor}</td><td>{e.action}</td><td>{e.target.unwrap_or_default()}</td><td>{e.ip.unwrap_or_default()}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
                </Suspense>
            </section>
        </TenantPage>
    }
}
