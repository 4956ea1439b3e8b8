//! `/admin/t/:slug/api-keys`: keys for the skill backend and the management API (shown once), and the
//! tenant's token signing keys, whose rotation is also how its signing algorithm changes.
use leptos::prelude::*;

use crate::api_more::{CreateApiKey, DeleteApiKey, RotateSigningKey, list_api_keys, list_signing_keys};
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
            <SigningKeys />
        </TenantPage>
    }
}

#[component]
fn SigningKeys() -> impl IntoView {
    let slug = slug();
    let rotate = ServerAction::<RotateSigningKey>::new();
    let keys = Resource::new(move || (slug.get(), rotate.version().get()), |(s, _)| list_signing_keys(s));
    view! {
        <section class="card">
            <h2>"Token signing keys"</h2>
            <p class="hint">"There is a current key of each algorithm; the JWKS also publishes the next and previous ones. Access tokens are signed with the tenant's algorithm, ID tokens with the one each client chose (RS256 unless it chose another). RS256 is what every relying party accepts; ES256 and EdDSA sign many times faster. Rotating replaces every current key, and tokens the previous keys signed keep verifying."</p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || keys.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="responsive">
                            <thead><tr><th>"Key id"</th><th>"Algorithm"</th><th>"State"</th><th>"Signs"</th><th>"Created"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|k| {
                                    let signs = match (k.signs_access_tokens, k.state.as_str()) {
                                        (true, _) => "access tokens and the ID tokens of clients that chose it",
                                        (false, "current") => "ID tokens of clients that chose it",
                                        _ => "",
                                    };
                                    view! {
                                        <tr><td><code>{k.kid}</code></td><td>{k.alg}</td><td>{k.state}</td><td>{signs}</td><td>{when(k.created_at)}</td></tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
            <ActionForm action=rotate>
                <input type="hidden" name="slug" value=move || slug.get() />
                <label for="sk-alg">"Access-token signing algorithm"</label>
                <select id="sk-alg" name="alg">
                    <option value="">"Keep the current one"</option>
                    <option value="RS256">"RS256 (RSA 2048)"</option>
                    <option value="ES256">"ES256 (ECDSA P-256)"</option>
                    <option value="EdDSA">"EdDSA (Ed25519)"</option>
                </select>
                <button type="submit">"Rotate signing key"</button>
            </ActionForm>
            {outcome(rotate.value(), |m| view! { <p role="status">{m}</p> })}
        </section>
    }
}
