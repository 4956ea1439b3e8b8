//! `/admin/t/:slug/users`: the tenant's end users.
use leptos::prelude::*;

use crate::api::{CreateUser, SetUserDisabled, list_users};
use crate::components::{TenantNav, TopBar, clean, outcome};
use crate::pages::{query, slug};

#[component]
pub fn Users() -> impl IntoView {
    let slug = slug();
    let q = query("q");
    let create = ServerAction::<CreateUser>::new();
    let disable = ServerAction::<SetUserDisabled>::new();
    let users = Resource::new(
        move || (slug.get(), q.get(), create.version().get(), disable.version().get()),
        |(s, q, _, _)| list_users(s, q),
    );
    view! {
        <TopBar />
        <main>
            <h1>"End users"</h1>
            <TenantNav slug=slug.get_untracked() current="/users" />
            <form method="get" class="card" role="search">
                <label for="q">"Search by email"</label>
                <input id="q" name="q" value=move || q.get() />
                <button type="submit" class="secondary">"Search"</button>
            </form>
            <section class="card">
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || users.get().map(|r| match r {
                        Err(e) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="responsive">
                                <thead><tr><th>"Email"</th><th>"Name"</th><th>"Status"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|u| view! {
                                        <tr>
                                            <td>{u.email}</td>
                                            <td>{u.name.unwrap_or_default()}</td>
                                            <td>{if u.disabled { "disabled" } else { "active" }}</td>
                                            <td>
                                                <ActionForm action=disable>
                                                    <input type="hidden" name="slug" value=slug.get_untracked() />
                                                    <input type="hidden" name="user" value=u.id />
                                                    <input type="hidden" name="disabled" value=(!u.disabled).to_string() />
                                                    <button type="submit" class="small secondary">{if u.disabled { "Enable" } else { "Disable" }}</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
                </Suspense>
                {outcome(disable.value(), |_| ())}
            </section>
            <section class="card">
                <h2>"Add a user"</h2>
                <ActionForm action=create>
                    <input type="hidden" name="slug" value=move || slug.get() />
                    <label for="u-email">"Email"</label>
                    <input id="u-email" name="email" type="email" required />
                    <label for="u-name">"Name"</label>
                    <input id="u-name" name="name" />
                    <label for="u-password">"Password"</label>
                    <input id="u-password" name="password" type="password" minlength="10" aria-describedby="u-pw-hint" />
                    <p class="hint" id="u-pw-hint">"Leave empty for users who sign in only through your identity provider."</p>
                    <button type="submit">"Add user"</button>
                </ActionForm>
                {outcome(create.value(), |email| view! { <p class="ok" role="status">{format!("{email} added.")}</p> })}
            </section>
        </main>
    }
}
