//! `/admin/t/:slug/providers`: upstream OpenID Connect providers for "Continue with …".
use leptos::prelude::*;

use crate::api_more::{CreateProvider, DeleteProvider, TestProvider, UpdateProvider, list_providers};
use crate::components::{CopyValue, TenantPage, clean, outcome};
use crate::pages::slug;

#[component]
pub fn Providers() -> impl IntoView {
    let slug = slug();
    let create = ServerAction::<CreateProvider>::new();
    let test = ServerAction::<TestProvider>::new();
    let delete = ServerAction::<DeleteProvider>::new();
    let update = ServerAction::<UpdateProvider>::new();
    let providers = Resource::new(
        move || (slug.get(), create.version().get(), delete.version().get(), update.version().get()),
        |(s, _, _, _)| list_providers(s),
    );
    view! {
        <TenantPage title="Upstream identity providers" current="/providers">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || providers.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p>"No providers: users sign in with a password."</p> }.into_any(),
                    Ok(list) => list.into_iter().map(|p| { let (ps1, ps2, ps3) = (p.slug.clone(), p.slug.clone(), p.slug.clone());
                    let ps4 = p.slug.clone();
                    let fid = move |f: &str| format!("{f}-{ps4}"); view! {
                        <section class="card">
                            <h2>{p.name.clone()}" "<span class="badge">{p.slug.clone()}</span></h2>
                            <p class="hint">{p.issuer.clone()}" · scopes "{p.scopes.clone()}
                                {p.link_by_email.then_some(" · links by verified email")}
                                {p.create_users.then_some(" · creates users")}</p>
                            <CopyValue label="Redirect URI to register upstream" value=p.callback_uri />
                            <details>
                                <summary>"Edit"</summary>
                                <ActionForm action=update>
                                    <input type="hidden" name="slug" value=slug.get_untracked() />
                                    <input type="hidden" name="provider" value=ps3 />
                                    <label for=fid("e-name")>"Button label"</label>
                                    <input id=fid("e-name") name="name" value=p.name.clone() required />
                                    <label for=fid("e-issuer")>"Issuer URL"</label>
                                    <input id=fid("e-issuer") name="issuer" type="url" value=p.issuer.clone() required />
                                    <label for=fid("e-cid")>"Client ID"</label>
                                    <input id=fid("e-cid") name="client_id" value=p.client_id.clone() required />
                                    <label for=fid("e-secret")>"New client secret (empty keeps the current one)"</label>
                                    <input id=fid("e-secret") name="client_secret" type="password" autocomplete="off" />
                                    <label><input type="checkbox" name="link_by_email" value="on" checked=p.link_by_email style="width:auto" />" Sign in existing users by verified email"</label>
                                    <label><input type="checkbox" name="create_users" value="on" checked=p.create_users style="width:auto" />" Create users on first sign-in"</label>
                                    <button type="submit">"Save"</button>
                                </ActionForm>
                            </details>
                            <ActionForm action=test>
                                <input type="hidden" name="slug" value=slug.get_untracked() />
                                <input type="hidden" name="provider" value=ps1 />
                                <button type="submit" class="secondary">"Test the connection"</button>
                            </ActionForm>
                            <ActionForm action=delete>
                                <input type="hidden" name="slug" value=slug.get_untracked() />
                                <input type="hidden" name="provider" value=ps2 />
                                <button type="submit" class="danger">"Delete"</button>
                            </ActionForm>
                        </section>
                    }}).collect_view().into_any(),
                })}
            </Suspense>
            {outcome(update.value(), |m| view! { <p class="ok" role="status">{m}</p> })}
            {outcome(test.value(), |(ok, detail)| view! {
                <p class=if ok { "ok" } else { "error" } role="status">{detail}</p>
            })}
            <section class="card">
                <h2>"Add a provider"</h2>
                <ActionForm action=create>
                    <input type="hidden" name="slug" value=move || slug.get() />
                    <label for="p-slug">"Short name (in URLs)"</label>
                    <input id="p-slug" name="provider" required />
                    <label for="p-name">"Button label"</label>
                    <input id="p-name" name="name" placeholder="Corp SSO" required />
                    <label for="p-issuer">"Issuer URL"</label>
                    <input id="p-issuer" name="issuer" type="url" required />
                    <label for="p-cid">"Client ID"</label>
                    <input id="p-cid" name="client_id" required />
                    <label for="p-secret">"Client secret"</label>
                    <input id="p-secret" name="client_secret" type="password" required />
                    <label><input type="checkbox" name="link_by_email" value="on" style="width:auto" />" Sign in existing users by verified email"</label>
                    <label><input type="checkbox" name="create_users" value="on" style="width:auto" />" Create users on first sign-in"</label>
                    <button type="submit">"Add provider"</button>
                </ActionForm>
                {outcome(create.value(), |callback| view! {
                    <div role="status"><p class="ok">"Provider added. Register this redirect URI at the provider:"</p><CopyValue label="Redirect URI" value=callback /></div>
                })}
            </section>
        </TenantPage>
    }
}
