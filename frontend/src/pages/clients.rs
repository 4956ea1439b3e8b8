//! `/admin/t/:slug/clients`: OAuth clients (a skill's own client included): edit, rotate the secret.
use leptos::prelude::*;

use crate::api_more::{ClientRow, CreateClient, RotateClientSecret, UpdateClient, list_clients};
use crate::components::{CopyValue, OneTimeValue, TenantPage, clean, outcome, when};
use crate::pages::slug;

#[component]
fn ClientEditor(c: ClientRow, slug: String) -> impl IntoView {
    let update = ServerAction::<UpdateClient>::new();
    let rotate = ServerAction::<RotateClientSecret>::new();
    let id = c.client_id.clone();
    let (slug2, id2) = (slug.clone(), id.clone());
    let basic = c.auth_method == "client_secret_basic";
    view! {
        <section class="card">
            <h2>{c.name}</h2>
            <CopyValue label="Client ID" value=c.client_id.clone() />
            <p class="hint">"Grants: "{c.grant_types.join(", ")}</p>
            <ActionForm action=update>
                <input type="hidden" name="slug" value=slug.clone() />
                <input type="hidden" name="client_id" value=id.clone() />
                <label for=format!("ru-{id}")>"Redirect URIs (one per line)"</label>
                <textarea id=format!("ru-{id}") name="redirect_uris" rows="3" style="width:100%">{c.redirect_uris.join("\n")}</textarea>
                <label for=format!("sc-{id}")>"Scopes"</label>
                <input id=format!("sc-{id}") name="scopes" value=c.scopes />
                <label for=format!("am-{id}")>"Client authentication"</label>
                <select id=format!("am-{id}") name="auth_method">
                    <option value="client_secret_basic" selected=basic>"HTTP Basic"</option>
                    <option value="client_secret_post" selected=!basic>"Credentials in request body"</option>
                </select>
                <label for=format!("tt-{id}")>"Access-token lifetime (seconds)"</label>
                <input id=format!("tt-{id}") name="access_token_ttl" type="number" min="60" value=c.access_token_ttl.to_string() />
                <label for=format!("rp-{id}")>"Refresh tokens"</label>
                <select id=format!("rp-{id}") name="refresh_policy">
                    <option value="rotate" selected=c.refresh_policy == "rotate">"Rotate on every use (with a grace window)"</option>
                    <option value="fixed" selected=c.refresh_policy == "fixed">"Fixed (never rotated)"</option>
                </select>
                <label for=format!("gr-{id}")>"Grace window (seconds)"</label>
                <input id=format!("gr-{id}") name="grace_secs" type="number" min="0" value=c.grace_secs.to_string() />
                <label for=format!("ia-{id}")>"ID-token signing algorithm"</label>
                <select id=format!("ia-{id}") name="id_token_alg">
                    <option value="RS256" selected=c.id_token_alg == "RS256">"RS256 (what relying parties accept unless told otherwise)"</option>
                    <option value="ES256" selected=c.id_token_alg == "ES256">"ES256"</option>
                    <option value="EdDSA" selected=c.id_token_alg == "EdDSA">"EdDSA (Ed25519)"</option>
                </select>
                <button type="submit">"Save"</button>
            </ActionForm>
            {outcome(update.value(), |m| view! { <p class="ok" role="status">{m}</p> })}
            {c.previous_secret_expires_at.map(|until| view! {
                <p class="hint grace" data-until=until>"The previous secret also works until "{when(until)}"."</p>
            })}
            <ActionForm action=rotate>
                <input type="hidden" name="slug" value=slug2 />
                <input type="hidden" name="client_id" value=id2.clone() />
                <label for=format!("gh-{id2}")>"Keep the old secret working for (hours; 0 stops it at once)"</label>
                <input id=format!("gh-{id2}") name="grace_hours" type="number" min="0" max="720" value="24" />
                <button type="submit" class="secondary">"Rotate the client secret"</button>
            </ActionForm>
            {outcome(rotate.value(), |(s, until)| view! {
                <div class="secret" role="status">
                    <p><strong>"New secret: copy it now, it is shown only once. "</strong>
                    {match until {
                        Some(t) => format!("The old one keeps working until {}: update the Alexa console before then.", when(t)),
                        None => "The old one has stopped working.".to_owned(),
                    }}</p>
                    <CopyValue label="Client Secret" value=s />
                </div>
            })}
        </section>
    }
}

#[component]
pub fn Clients() -> impl IntoView {
    let slug = slug();
    let create = ServerAction::<CreateClient>::new();
    let clients = Resource::new(move || (slug.get(), create.version().get()), |(s, _)| list_clients(s));
    view! {
        <TenantPage title="OAuth clients" current="/clients">
            <OneTimeValue />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || clients.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
                    Ok(list) => list.into_iter().map(|c| view! { <ClientEditor c=c slug=slug.get_untracked() /> }).collect_view().into_any(),
                })}
            </Suspense>
            <section class="card">
                <h2>"Add a client"</h2>
                <ActionForm action=create>
                    <input type="hidden" name="slug" value=move || slug.get() />
                    <label for="c-name">"Name"</label>
                    <input id="c-name" name="name" required />
                    <label for="c-ru">"Redirect URIs (one per line)"</label>
                    <textarea id="c-ru" name="redirect_uris" rows="2" style="width:100%"></textarea>
                    <fieldset>
                        <legend>"Grant types"</legend>
                        <label><input type="checkbox" name="grant_code" value="on" checked style="width:auto" />" authorization_code"</label>
                        <label><input type="checkbox" name="grant_refresh" value="on" checked style="width:auto" />" refresh_token"</label>
                        <label><input type="checkbox" name="grant_client_credentials" value="on" style="width:auto" />" client_credentials"</label>
                    </fieldset>
                    <label for="c-am">"Client authentication"</label>
                    <select id="c-am" name="auth_method">
                        <option value="client_secret_basic">"HTTP Basic"</option>
                        <option value="client_secret_post">"Credentials in request body"</option>
                    </select>
                    <button type="submit">"Create client"</button>
                </ActionForm>
                {outcome(create.value(), |(c, secret)| view! {
                    <div class="secret" role="status">
                        <p><strong>"Copy the client secret now: it is shown only once."</strong></p>
                        <CopyValue label="Client ID" value=c.client_id />
                        <CopyValue label="Client Secret" value=secret />
                    </div>
                })}
            </section>
        </TenantPage>
    }
}
