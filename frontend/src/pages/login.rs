//! `/admin/login`
use leptos::prelude::*;

use crate::api::SignIn;
use crate::components::outcome;

#[component]
pub fn Login() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    view! {
        <main class="narrow">
            <h1>"Sign in to Latchkey"</h1>
            <section class="card">
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
