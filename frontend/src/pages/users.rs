//! `/admin/t/:slug/users`: the tenant's end users.
use leptos::prelude::*;

use crate::api::{CreateUser, InviteUser, SendUserReset, SetUserDisabled, SetUserPassword, list_users};
use crate::api_more::{SetPasswordPolicy, get_password_policy};
use crate::components::{TenantPage, clean, outcome};
use crate::pages::{query, slug};

#[component]
pub fn Users() -> impl IntoView {
    let slug = slug();
    let q = query("q");
    let create = ServerAction::<CreateUser>::new();
    let disable = ServerAction::<SetUserDisabled>::new();
    let set_pw = ServerAction::<SetUserPassword>::new();
    let invite = ServerAction::<InviteUser>::new();
    let reset = ServerAction::<SendUserReset>::new();
    let policy_save = ServerAction::<SetPasswordPolicy>::new();
    let policy = Resource::new(move || (slug.get(), policy_save.version().get()), |(s, _)| get_password_policy(s));
    let users = Resource::new(
        move || (slug.get(), q.get(), create.version().get(), disable.version().get(), invite.version().get()),
        |(s, q, _, _, _)| list_users(s, q),
    );
    view! {
        <TenantPage title="End users" current="/users">
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
                                <thead><tr><th>"Email"</th><th>"Name"</th><th>"Status"</th><th>"Signs in with"</th><th></th><th>"New password"</th><th>"Reset by mail"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|u| { let (uid, reset_id, pw_id) = (u.id.clone(), u.id.clone(), format!("pw-{}", u.id)); let reset_label = format!("Email {} a reset link", u.email); let pw_label = format!("New password for {}", u.email); view! {
                                        <tr>
                                            <td>{u.email}</td>
                                            <td>{u.name.unwrap_or_default()}</td>
                                            <td>{if u.disabled { "disabled" } else { "active" }}</td>
                                            <td>{if u.federated.is_empty() { "password".to_owned() } else { u.federated.join(", ") }}</td>
                                            <td>
                                                <ActionForm action=disable>
                                                    <input type="hidden" name="slug" value=slug.get_untracked() />
                                                    <input type="hidden" name="user" value=u.id />
                                                    <input type="hidden" name="disabled" value=(!u.disabled).to_string() />
                                                    <button type="submit" class="small secondary">{if u.disabled { "Enable" } else { "Disable" }}</button>
                                                </ActionForm>
                                            </td>
                                            <td>
                                                <ActionForm action=set_pw>
                                                    <input type="hidden" name="slug" value=slug.get_untracked() />
                                                    <input type="hidden" name="user" value=uid />
                                                    <label class="sr" for=pw_id.clone()>{pw_label}</label>
                                                    <input id=pw_id name="password" type="password" minlength="10" required />
                                                    <button type="submit" class="small secondary">"Set"</button>
                                                </ActionForm>
                                            </td>
                                            <td>
                                                <ActionForm action=reset>
                                                    <input type="hidden" name="slug" value=slug.get_untracked() />
                                                    <input type="hidden" name="user" value=reset_id />
                                                    <button type="submit" class="small secondary" aria-label=reset_label>"Email link"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }}).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
                </Suspense>
                {outcome(disable.value(), |_| ())}
                {outcome(set_pw.value(), |m| view! { <p class="ok" role="status">{m}</p> })}
                {outcome(reset.value(), |m| view! { <p class="ok" role="status">{m}</p> })}
            </section>
            <section class="card">
                <h2>"Invite a user by email"</h2>
                <p class="hint">"They get a link to choose their own password (valid for seven days)."</p>
                <ActionForm action=invite>
                    <input type="hidden" name="slug" value=move || slug.get() />
                    <label for="i-email">"Invitee email"</label>
                    <input id="i-email" name="email" type="email" required />
                    <label for="i-name">"Invitee name"</label>
                    <input id="i-name" name="name" />
                    <button type="submit">"Send invitation"</button>
                </ActionForm>
                {outcome(invite.value(), |m| view! { <p class="ok" role="status">{m}</p> })}
            </section>
            <section class="card">
                <h2>"When users reset their own password"</h2>
                <p class="hint">"Their browser sessions always end. Ending their Alexa links too is safer: if someone else knew the old password, their link ends with it. Keeping them spares users relinking Alexa after a forgotten password. A password you set here always ends both."</p>
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || policy.get().map(|r| match r {
                        Err(e) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
                        Ok(keep) => view! {
                            <ActionForm action=policy_save>
                                <input type="hidden" name="slug" value=slug.get_untracked() />
                                <label for="after-reset">"Alexa links after a user's own reset"</label>
                                <select id="after-reset" name="after_reset">
                                    <option value="end" selected=!keep>"End them (default)"</option>
                                    <option value="keep" selected=keep>"Keep them"</option>
                                </select>
                                <button type="submit" class="secondary">"Save"</button>
                            </ActionForm>
                        }.into_any(),
                    })}
                </Suspense>
                {outcome(policy_save.value(), |m| view! { <p class="ok" role="status">{m}</p> })}
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
        </TenantPage>
    }
}
