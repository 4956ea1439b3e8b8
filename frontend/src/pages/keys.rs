//! `/admin/t/:slug/api-keys`: keys for the skill backend and the management API; shown once.
use leptos::prelude::*;

use crate::api_more::{CreateApiKey, DeleteApiKey, list_api_keys};
use crate::components::{CopyValue, OneTimeValue, TenantPage, clean, outcome, when};
use crate::pages::slug;

#[component]
pub fn ApiKeys() -> impl IntoView {
    let slug = slug();
    let create = ServerAction::<CreateApiKey>::new();
    let delete = ServerAction::<DeleteApiKey>::new();
    let keys = Resource::new(
        move || (slug.get(), create.version().get(), delete.version().get()),
        |(s, _, _)| list_api_keys(s),
    );
    view! {
        <TenantPage title="API keys" current="/api-keys">
            <OneTimeValue />
            <section class="card">
                <p class="hint">"Your skill backend sends a key as Authorization: Bearer to forward AcceptGrant and send events; the management API accepts it too (admin rights)."</p>
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || keys.get().map(|r| match r {
                        Err(e) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="responsive">
                                <thead><tr><th>"Name"</th><th>"Starts with"</th><th>"Created"</th><th>"Last used"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|k| view! {
                                        <tr>
                                            <td>{k.name}</td><td><code>{k.prefix}"…"</code></td><td>{when(k.created_at)}</td>
                                            <td>{k.last_used_at.map(when).unwrap_or_else(|| "never".into())}</td>
                                            <td>
                                                <ActionForm action=delete>
                                                    <input type="hidden" name="slug" value=slug.get_untracked() />
                                                    <input type="hidden" name="key" value=k.id />
                                                    <button type="submit" class="small danger">"Delete"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
                </Suspense>
            </section>
            <section class="card">
                <h2>"Create a key"</h2>
                <ActionForm action=create>
                    <input type="hidden" name="slug" value=move || slug.get() />
                    <label for="key-name">"Name"</label>
                    <input id="key-name" name="name" required />
                    <button type="submit">"Create key"</button>
                </ActionForm>
                {outcome(create.value(), |key| view! {
                    <div class="secret" role="status">
                        <p><strong>"Copy the key now: it is shown only once."</strong></p>
                        <CopyValue label="API key" value=key />
                    </div>
                })}
            </section>
        </TenantPage>
    }
}
