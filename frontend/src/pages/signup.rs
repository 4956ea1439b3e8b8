//! `/admin/signup` and `/admin/verify`.
use leptos::prelude::*;

use crate::api::{ResendVerification, SignUp, VerifyEmail, check_slug, verification_info};
use crate::components::{clean, outcome};
use crate::pages::query;

/// A rough strength score (0-4) for feedback while typing; the server enforces the real policy.
fn strength(p: &str) -> usize {
    let classes = [
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    match p.chars().count() {
        0..=9 => 0,
        10..=13 => classes.min(2),
        14..=19 => (classes + 1).min(3),
        _ => 4,
    }
}

#[component]
pub fn Signup() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let slug = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    // Checked live once hydrated: format and availability.
    let slug_state =
        Resource::new(move || slug.get(), |s| async move { if s.is_empty() { Ok(None) } else { check_slug(s).await } });
    let labels = ["too short", "weak", "fair", "good", "strong"];
    view! {
        <main class="narrow">
            <h1>"Create your Latchkey tenant"</h1>
            <section class="card">
                <ActionForm action=action>
                    <label for="company">"Company name"</label>
                    <input id="company" name="company" required maxlength="200" />
                    <label for="slug">"Tenant slug"</label>
                    <input id="slug" name="slug" required pattern="[a-z0-9][a-z0-9-]{1,38}[a-z0-9]" aria-describedby="slug-hint"
                        on:input=move |ev| slug.set(event_target_value(&ev)) />
                    <p class="hint" id="slug-hint" aria-live="polite">
                        "Lowercase letters, digits and hyphens; your issuer will be /t/<slug>. "
                        <Transition>
                            {move || slug_state.get().map(|r| match r {
                                Ok(None) if !slug.get().is_empty() => view! { <span class="ok">"Available"</span> }.into_any(),
                                Ok(Some(why)) => view! { <span class="error">{why}</span> }.into_any(),
                                Err(e) => view! { <span class="error">{clean(&e)}</span> }.into_any(),
                                _ => ().into_any(),
                            })}
                        </Transition>
                    </p>
                    <label for="email">"Your email"</label>
                    <input id="email" name="email" type="email" autocomplete="email" required />
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required
                        aria-describedby="pw-hint" on:input=move |ev| password.set(event_target_value(&ev)) />
                    <p class="hint" id="pw-hint" aria-live="polite">
                        "At least 10 characters. "
                        {move || (!password.get().is_empty()).then(|| format!("Strength: {}", labels[strength(&password.get())]))}
                    </p>
                    <button type="submit">"Create tenant"</button>
                </ActionForm>
                {outcome(action.value(), |msg| view! { <p class="ok" role="status">{msg}</p> })}
            </section>
            <p>"Already have an account? " <a href="/admin/login">"Sign in"</a></p>
        </main>
    }
}

/// Opening the mailed link shows this form and changes nothing (mail scanners open links); its POST
/// verifies, with the password the address's owner chooses.
#[component]
pub fn Verify() -> impl IntoView {
    let token = query("token");
    let info = Resource::new(move || token.get(), verification_info);
    let verify = ServerAction::<VerifyEmail>::new();
    let resend = ServerAction::<ResendVerification>::new();
    view! {
        <main class="narrow">
            <h1>"Verify your email"</h1>
            <section class="card">
                <Suspense fallback=|| view! { <p>"Checking your link…"</p> }>
                    {move || info.get().map(|r| match r {
                        Ok((email, tenants)) => view! {
                            <p>{format!("Verify {email} and activate the tenant {}.", tenants.join(", "))}</p>
                            <p class="hint">"If you did not sign up for this, close this page: nothing happens until you submit the form."</p>
                            <ActionForm action=verify>
                                <input type="hidden" name="token" value=token.get_untracked() />
                                <label for="password">"Your password"</label>
                                <input id="password" name="password" type="password" minlength="10" required
                                    autocomplete="new-password" aria-describedby="verify-hint" />
                                <p class="hint" id="verify-hint">
                                    "The one you chose when signing up, or a new one: whatever you type here becomes the account's password."
                                </p>
                                <button type="submit">"Verify and activate"</button>
                            </ActionForm>
                            {outcome(verify.value(), |_| ())}
                        }.into_any(),
                        Err(e) => view! {
                            <p class="error" role="alert">{clean(&e)}</p>
                            <ActionForm action=resend>
                                <label for="email">"Send a new link to"</label>
                                <input id="email" name="email" type="email" required />
                                <button type="submit">"Send"</button>
                            </ActionForm>
                            {outcome(resend.value(), |m| view! { <p class="ok">{m}</p> })}
                        }.into_any(),
                    })}
                </Suspense>
            </section>
        </main>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn strength_grows_with_length_and_variety() {
        assert_eq!(super::strength("short"), 0);
        assert!(super::strength("correct horse battery staple") > super::strength("abcdefghijk"));
    }
}
