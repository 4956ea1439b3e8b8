//! `/admin/t/:slug/branding`: how the login pages look, with a live preview.
use leptos::prelude::*;

use crate::api_more::{SetBranding, get_branding};
use crate::components::{TenantPage, clean, outcome};
use crate::pages::slug;

#[component]
pub fn BrandingPage() -> impl IntoView {
    let slug = slug();
    let save = ServerAction::<SetBranding>::new();
    let current = Resource::new(move || (slug.get(), save.version().get()), |(s, _)| get_branding(s));
    view! {
        <TenantPage title="Branding" current="/branding">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || current.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
                    Ok(b) => {
                        let name = RwSignal::new(b.display_name.clone());
                        let color = RwSignal::new(if b.brand_color.is_empty() { "#0b57d0".to_owned() } else { b.brand_color.clone() });
                        let logo = RwSignal::new(b.logo_url.clone());
                        view! {
                            <section class="card">
                                <ActionForm action=save>
                                    <input type="hidden" name="slug" value=slug.get_untracked() />
                                    <label for="b-name">"Display name"</label>
                                    <input id="b-name" name="display_name" value=b.display_name.clone() prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                                    <label for="b-color">"Accent colour"</label>
                                    <input id="b-color" name="brand_color" type="color" style="width:4rem;height:2.5rem;padding:.2rem" value=color.get_untracked() prop:value=move || color.get() on:input=move |ev| color.set(event_target_value(&ev)) />
                                    <label for="b-logo">"Logo URL (https)"</label>
                                    <input id="b-logo" name="logo_url" type="url" value=b.logo_url.clone() prop:value=move || logo.get() on:input=move |ev| logo.set(event_target_value(&ev)) />
                                    <button type="submit">"Save branding"</button>
                                </ActionForm>
                                {outcome(save.value(), |m| view! { <p class="ok" role="status">{m}</p> })}
                            </section>
                            <section class="card" aria-label="Login page preview">
                                <h2>"Preview"</h2>
                                <div class="preview" style=move || format!("border-top:6px solid {}", color.get())>
                                    {move || (!logo.get().is_empty()).then(|| view! { <img src=logo.get() alt="" style="max-height:40px" /> })}
                                    <h3>{move || format!("Sign in to {}", name.get())}</h3>
                                    <label>"Email"<input disabled /></label>
                                    <label>"Password"<input type="password" disabled /></label>
                                    <button type="button" disabled style=move || format!("background:{0};border-color:{0}", color.get())>"Sign in"</button>
                                </div>
                            </section>
                        }.into_any()
                    }
                })}
            </Suspense>
        </TenantPage>
    }
}
