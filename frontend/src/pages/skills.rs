//! `/admin/t/:slug`: the tenant's Alexa skills, the values for the Alexa console, and the simulator.
use leptos::prelude::*;

use crate::api::{CreateSkill, EventSummary, Simulate, SkillRow, list_skills};
use crate::api_more::Readiness;
use crate::components::{CopyValue, OneTimeValue, TenantPage, clean, outcome, when};
use crate::pages::slug;

#[component]
fn ConsoleValues(s: SkillRow) -> impl IntoView {
    view! {
        <CopyValue label="Web Authorization URI" value=s.authorization_uri />
        <CopyValue label="Access Token URI" value=s.access_token_uri />
        <CopyValue label="Your Client ID" value=s.client_id />
        <CopyValue label="Scope" value=s.scopes />
        <CopyValue label="Authentication Scheme" value=s.auth_scheme />
        <CopyValue label="Default Access Token Expiration Time" value=s.access_token_ttl.to_string() />
        <p class="hint">"Alexa redirect URLs registered: "{s.redirect_uris.join(", ")}</p>
    }
}

/// Events the skill backend handed over: how many wait, went through, or failed, and the latest few.
#[component]
fn EventCounts(e: EventSummary) -> impl IntoView {
    view! {
        <p class="events" data-pending=e.pending data-delivered=e.delivered data-failed=e.failed>
            "Events: "{e.pending}" pending · "{e.delivered}" delivered · "{e.failed}" failed"
        </p>
        {(!e.recent.is_empty()).then(|| view! {
            <ul class="recent-events">
                {e.recent.into_iter().map(|(status, detail, at)| view! {
                    <li><span class="badge">{status}</span>" "{when(at)}" "{detail}</li>
                }).collect_view()}
            </ul>
        })}
    }
}

#[component]
pub fn Skills() -> impl IntoView {
    let slug = slug();
    let create = ServerAction::<CreateSkill>::new();
    let sim = ServerAction::<Simulate>::new();
    let check = ServerAction::<Readiness>::new();
    let skills = Resource::new(move || (slug.get(), create.version().get()), |(s, _)| list_skills(s));
    view! {
        <TenantPage title="Skills" current="">
            <OneTimeValue />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || skills.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p>"No skills yet: add one below."</p> }.into_any(),
                    Ok(list) => list.into_iter().map(|s| { let sid = s.id.clone(); view! {
                        <section class="card skill">
                            <h2>{s.name.clone()}" "<span class="badge">{s.kind.clone()}" · "{s.region.clone()}</span></h2>
                            <p class="hint">{s.alexa_skill_id.clone()}</p>
                            <EventCounts e=s.events.clone() />
                            <ConsoleValues s=s />
                            <ActionForm action=check>
                                <input type="hidden" name="slug" value=slug.get_untracked() />
                                <input type="hidden" name="skill" value=sid />
                                <button type="submit" class="secondary">"Check readiness for Alexa"</button>
                            </ActionForm>
                        </section>
                    }}).collect_view().into_any(),
                })}
            </Suspense>
            {outcome(check.value(), |items| view! {
                <section class="card" aria-label="Readiness">
                    <h2>"Readiness"</h2>
                    <ul class="steps">
                        {items.into_iter().map(|i| { let check_id = i.id.clone(); view! {
                            <li data-check=check_id data-status=i.status.clone()>
                                <strong>{match i.status.as_str() { "pass" => "✓ ", "warn" => "! ", _ => "✗ " }}{i.id}</strong>": "{i.detail}
                                {i.fix.map(|f| view! { <br /><span class="hint">"Fix: "{f}</span> })}
                            </li>
                        }}).collect_view()}
                    </ul>
                </section>
            })}
            <section class="card">
                <h2>"Add a skill"</h2>
                <ActionForm action=create>
                    <input type="hidden" name="slug" value=move || slug.get() />
                    <label for="name">"Name"</label>
                    <input id="name" name="name" required />
                    <label for="alexa_skill_id">"Alexa skill ID"</label>
                    <input id="alexa_skill_id" name="alexa_skill_id" placeholder="amzn1.ask.skill.…" required />
                    <label for="vendor_id">"Vendor ID"</label>
                    <input id="vendor_id" name="vendor_id" required aria-describedby="vendor-hint" />
                    <p class="hint" id="vendor-hint">"From the Alexa developer console; it is part of Alexa's redirect URLs."</p>
                    <label for="kind">"Kind"</label>
                    <select id="kind" name="kind">
                        <option value="smart-home">"Smart home"</option>
                        <option value="video">"Video"</option>
                        <option value="music">"Music"</option>
                        <option value="custom">"Custom"</option>
                    </select>
                    <label for="region">"Region"</label>
                    <select id="region" name="region">
                        <option value="NA">"North America"</option>
                        <option value="EU">"Europe"</option>
                        <option value="FE">"Far East"</option>
                    </select>
                    <label for="auth_method">"Authentication scheme (as set in the Alexa console)"</label>
                    <select id="auth_method" name="auth_method">
                        <option value="client_secret_basic">"HTTP Basic (Recommended)"</option>
                        <option value="client_secret_post">"Credentials in request body"</option>
                    </select>
                    <label for="access_token_ttl">"Access-token lifetime in seconds (optional)"</label>
                    <input id="access_token_ttl" name="access_token_ttl" type="number" min="60" placeholder="3600" />
                    <label for="lwa_client_id">"Login with Amazon client ID, for AcceptGrant (optional)"</label>
                    <input id="lwa_client_id" name="lwa_client_id" autocomplete="off" />
                    <label for="lwa_client_secret">"Login with Amazon client secret"</label>
                    <input id="lwa_client_secret" name="lwa_client_secret" type="password" autocomplete="off" />
                    <button type="submit">"Create skill"</button>
                </ActionForm>
                {outcome(create.value(), |c| view! {
                    <div class="secret" role="status">
                        <p><strong>"Skill created. Copy the client secret now: it is shown only once."</strong></p>
                        <CopyValue label="Client Secret" value=c.client_secret />
                        <ConsoleValues s=c.skill />
                    </div>
                })}
            </section>
            <section class="card">
                <h2>"Linking simulator"</h2>
                <p class="hint">"Runs the whole account-linking flow against this tenant as Alexa would, and shows each step."</p>
                <ActionForm action=sim>
                    <input type="hidden" name="slug" value=move || slug.get() />
                    <label for="sim-skill">"Skill (ID or Alexa skill ID)"</label>
                    <input id="sim-skill" name="skill" required />
                    <label for="sim-email">"End user's email"</label>
                    <input id="sim-email" name="email" type="email" required />
                    <label for="sim-password">"End user's password"</label>
                    <input id="sim-password" name="password" type="password" required />
                    <label for="sim-secret">"Client secret"</label>
                    <input id="sim-secret" name="client_secret" type="password" required />
                    <button type="submit">"Run the simulation"</button>
                </ActionForm>
                {outcome(sim.value(), |steps| view! {
                    <ol class="steps" aria-label="Simulation steps">
                        {steps.into_iter().map(|s| { let step = s.step.clone(); view! {
                            <li data-step=step data-ok=s.ok.to_string()>
                                <strong>{if s.ok { "✓ " } else { "✗ " }}{s.step}</strong>
                                {s.http_status.map(|c| format!(" (HTTP {c}, {} ms)", s.millis))}
                                ": "{s.alexa_sees}
                            </li>
                        }}).collect_view()}
                    </ol>
                })}
            </section>
        </TenantPage>
    }
}
