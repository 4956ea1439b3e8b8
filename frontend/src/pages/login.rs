//! `/admin/login`
use leptos::prelude::*;

use crate::api::SignIn;
use crate::components::outcome;
use crate::pages::query;

#[component]
pub fn Login() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    // Where verifying an address lands (with or without JavaScript).
    let verified = query("verified");
    view! {
        <main class="narrow">
            <h1>"Sign in to Latchkey"</h1>
            <section class="card">
                {move || (!verified.get().is_empty()).then(|| view! {
                    <p class="ok" role="status">"Your email is verified and your tenant is active. Sign in with the password you just chose."</p>
                })}
                <ActionForm action=action>
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="username" required />
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" autocomplete="current-password" required />
                    <button type="submit">"Sign in"</button>
                </ActionForm>
                {outcome(action.value(), |_| ())}
            </section>
            <p>"New here? " <a href="/admin/signup">"Create a tenant"</a>" · " <a href="/admin/reset">"Forgot your password?"</a></p>
        </main>
    }
}
