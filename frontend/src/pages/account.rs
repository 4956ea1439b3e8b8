//! `/admin/reset` (ask for a link, or set a new password from one) and `/admin/invitation`.
use leptos::prelude::*;

use crate::api_more::{AcceptInvitation, RequestReset, ResetPassword, invitation_info};
use crate::components::{clean, outcome};
use crate::pages::query;

#[component]
pub fn Reset() -> impl IntoView {
    let token = query("token");
    let ask = ServerAction::<RequestReset>::new();
    let set = ServerAction::<ResetPassword>::new();
    view! {
        <main class="narrow">
            <h1>"Reset your password"</h1>
            <section class="card">
                <Show
                    when=move || !token.get().is_empty()
                    fallback=move || view! {
                        <ActionForm action=ask>
                            <label for="email">"Your email"</label>
                            <input id="email" name="email" type="email" autocomplete="email" required />
                            <button type="submit">"Send a reset link"</button>
                        </ActionForm>
                        {outcome(ask.value(), |m| view! { <p class="ok" role="status">{m}</p> })}
                    }
                >
                    <ActionForm action=set>
                        <input type="hidden" name="token" value=move || token.get() />
                        <label for="password">"New password"</label>
                        <input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required />
                        <button type="submit">"Set the new password"</button>
                    </ActionForm>
                    {outcome(set.value(), |m| view! { <p class="ok" role="status">{m}" "<a href="/admin/login">"Sign in"</a></p> })}
                </Show>
            </section>
        </main>
    }
}

#[component]
pub fn Invitation() -> impl IntoView {
    let token = query("token");
    let info = Resource::new(move || token.get(), invitation_info);
    let accept = ServerAction::<AcceptInvitation>::new();
    view! {
        <main class="narrow">
            <h1>"Join a tenant"</h1>
            <section class="card">
                <Suspense fallback=|| view! { <p>"Checking your invitation…"</p> }>
                    {move || info.get().map(|r| match r {
                        Err(e) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
                        Ok(i) => view! {
                            <p>{format!("{} is invited to {} as {}.", i.email, i.tenant_slug, i.role)}</p>
                            <ActionForm action=accept>
                                <input type="hidden" name="token" value=token.get_untracked() />
                                <label for="password">{if i.account_exists { "Your Latchkey password" } else { "Choose a password" }}</label>
                                <input id="password" name="password" type="password" minlength="10" required
                                    autocomplete=if i.account_exists { "current-password" } else { "new-password" } />
                                <button type="submit">"Accept the invitation"</button>
                            </ActionForm>
                            {outcome(accept.value(), |m| view! { <p class="ok" role="status">{m}" "<a href="/admin/login">"Sign in"</a></p> })}
                        }.into_any(),
                    })}
                </Suspense>
            </section>
        </main>
    }
}
