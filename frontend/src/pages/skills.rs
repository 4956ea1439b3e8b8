//! `/admin/t/:slug`: the tenant's Alexa skills, the values for the Alexa console, and the simulator.
use leptos::prelude::*;

use crate::api::{CreateSkill, EventSummary, Simulate, SkillRow, UpdateSkill, list_skills};
use crate::api_more::Readiness;
use crate::api_smapi::{PublishSkill, SetSmapi, smapi_client};
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

/// Everything about a skill that can change without a new client id (so without users relinking).
#[component]
fn SkillEditor(s: SkillRow, slug: String, update: ServerAction<UpdateSkill>) -> impl IntoView {
    let [name_id, vendor_id, default_id, auth_id, ttl_id, rp_id, grace_id, lwa_id, secret_id, hint_id, app_id] = [
        "e-name",
        "e-vendor",
        "e-default",
        "e-auth",
        "e-ttl",
        "e-rp",
        "e-grace",
        "e-lwa-id",
        "e-lwa-secret",
        "e-lwa-hint",
        "e-app",
    ]
    .map(|field| format!("{field}-{}", s.id));
    let [na, eu, fe] = ["NA", "EU", "FE"].map(|r| s.regions.iter().any(|x| x == r));
    let default = s.regions.first().cloned().unwrap_or_default();
    let basic = s.auth_method == "client_secret_basic";
    let lwa_hint = if s.has_lwa_client_secret {
        "A secret is stored; leave this empty to keep it."
    } else {
        "No secret is stored: AcceptGrant and events need one."
    };
    view! {
        <details class="edit">
            <summary>"Edit"</summary>
            <ActionForm action=update>
                <input type="hidden" name="slug" value=slug />
                <input type="hidden" name="skill" value=s.id.clone() />
                <label for=name_id.clone()>"Name"</label>
                <input id=name_id.clone() name="name" value=s.name.clone() required />
                <label for=vendor_id.clone()>"Vendor ID"</label>
                <input id=vendor_id.clone() name="vendor_id" value=s.vendor_id.clone() required />
                <label for=default_id.clone()>"Default region"</label>
                <select id=default_id.clone() name="default_region">
                    {["NA", "EU", "FE"].map(|r| view! { <option value=r selected=default == r>{r}</option> })}
                </select>
                <fieldset>
                    <legend>"Live in (the default region always is)"</legend>
                    <label><input type="checkbox" name="region_na" value="on" checked=na style="width:auto" />" North America"</label>
                    <label><input type="checkbox" name="region_eu" value="on" checked=eu style="width:auto" />" Europe"</label>
                    <label><input type="checkbox" name="region_fe" value="on" checked=fe style="width:auto" />" Far East"</label>
                </fieldset>
                <label for=auth_id.clone()>"Authentication scheme (as set in the Alexa console)"</label>
                <select id=auth_id.clone() name="auth_method">
                    <option value="client_secret_basic" selected=basic>"HTTP Basic (Recommended)"</option>
                    <option value="client_secret_post" selected=!basic>"Credentials in request body"</option>
                </select>
                <label for=ttl_id.clone()>"Access-token lifetime (seconds)"</label>
                <input id=ttl_id.clone() name="access_token_ttl" type="number" min="60" value=s.access_token_ttl.to_string() />
                <label for=rp_id.clone()>"Refresh tokens"</label>
                <select id=rp_id.clone() name="refresh_policy">
                    <option value="rotate" selected=s.refresh_policy == "rotate">"Rotate on every use (with a grace window)"</option>
                    <option value="fixed" selected=s.refresh_policy == "fixed">"Fixed (never rotated)"</option>
                </select>
                <label for=grace_id.clone()>"Grace window (seconds)"</label>
                <input id=grace_id.clone() name="grace_secs" type="number" min="0" value=s.grace_secs.to_string() />
                <label for=lwa_id.clone()>"Login with Amazon client ID (Alexa Skill Messaging)"</label>
                <input id=lwa_id.clone() name="lwa_client_id" autocomplete="off" value=s.lwa_client_id.clone().unwrap_or_default() />
                <label for=secret_id.clone()>"Login with Amazon client secret"</label>
                <input id=secret_id.clone() name="lwa_client_secret" type="password" autocomplete="off" aria-describedby=hint_id.clone() />
                <p class="hint" id=hint_id.clone()>{lwa_hint}</p>
                <label><input type="checkbox" name="remove_lwa" value="on" style="width:auto" />" Forget the messaging credentials"</label>
                <label for=app_id.clone()>"Your app's redirect URLs, for app-to-app linking (one per line)"</label>
                <textarea id=app_id name="app_redirect_urls" rows="2" style="width:100%">{s.app_redirect_urls.join("\n")}</textarea>
                <button type="submit">"Save skill"</button>
            </ActionForm>
        </details>
    }
}

/// Pushes the skill's account linking to the Alexa console through SMAPI, with the client secret
/// (stored hashed, so typed here).
#[component]
fn PublishForm(skill_id: String, slug: String, publish: ServerAction<PublishSkill>) -> impl IntoView {
    let [secret_id, stage_id] = ["p-secret", "p-stage"].map(|f| format!("{f}-{skill_id}"));
    view! {
        <details class="publish">
            <summary>"Publish to the Alexa console"</summary>
            <ActionForm action=publish>
                <input type="hidden" name="slug" value=slug />
                <input type="hidden" name="skill" value=skill_id.clone() />
                <label for=secret_id.clone()>"The skill client's current secret"</label>
                <input id=secret_id name="client_secret" type="password" autocomplete="off" required />
                <label for=stage_id.clone()>"Stage"</label>
                <select id=stage_id name="stage">
                    <option value="development" selected=true>"Development"</option>
                    <option value="live">"Live"</option>
                </select>
                <button type="submit">"Publish"</button>
            </ActionForm>
        </details>
    }
}

/// The vendor's Skill Management API credentials, which Publish and the console comparison use.
#[component]
fn SmapiCredentials(slug: Memo<String>) -> impl IntoView {
    let save = ServerAction::<SetSmapi>::new();
    let current = Resource::new(move || (slug.get(), save.version().get()), |(s, _)| smapi_client(s));
    view! {
        <section class="card" aria-label="Alexa console (SMAPI)">
            <h2>"Alexa console (SMAPI)"</h2>
            <Suspense fallback=|| ()>
                {move || current.get().map(|r| match r {
                    Ok(Some(id)) => view! { <p class="smapi-status">"Credentials set for "<code>{id}</code>"."</p> }.into_any(),
                    Ok(None) => view! { <p class="smapi-status">"No SMAPI credentials: skills cannot be published, and the console cannot be compared."</p> }.into_any(),
                    // The skills above already say why the tenant cannot be read.
                    Err(_) => ().into_any(),
                })}
            </Suspense>
            <p class="hint">"The Login with Amazon client and the refresh token that "<code>"ask util generate-lwa-tokens"</code>" prints. They are checked with Login with Amazon, then stored encrypted."</p>
            <ActionForm action=save>
                <input type="hidden" name="slug" value=move || slug.get() />
                <label for="smapi-id">"SMAPI client ID"</label>
                <input id="smapi-id" name="lwa_client_id" autocomplete="off" required />
                <label for="smapi-secret">"SMAPI client secret"</label>
                <input id="smapi-secret" name="lwa_client_secret" type="password" autocomplete="off" required />
                <label for="smapi-refresh">"Refresh token"</label>
                <input id="smapi-refresh" name="refresh_token" type="password" autocomplete="off" required />
                <button type="submit">"Save SMAPI credentials"</button>
            </ActionForm>
            {outcome(save.value(), |m| view! { <p class="ok" role="status">{m}</p> })}
        </section>
    }
}

#[component]
pub fn Skills() -> impl IntoView {
    let slug = slug();
    let create = ServerAction::<CreateSkill>::new();
    let sim = ServerAction::<Simulate>::new();
    let check = ServerAction::<Readiness>::new();
    let update = ServerAction::<UpdateSkill>::new();
    let publish = ServerAction::<PublishSkill>::new();
    let skills =
        Resource::new(move || (slug.get(), create.version().get(), update.version().get()), |(s, _, _)| list_skills(s));
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
                            <ConsoleValues s=s.clone() />
                            <PublishForm skill_id=s.alexa_skill_id.clone() slug=slug.get_untracked() publish=publish />
                            <SkillEditor s=s slug=slug.get_untracked() update=update />
                            <ActionForm action=check>
                                <input type="hidden" name="slug" value=slug.get_untracked() />
                                <input type="hidden" name="skill" value=sid />
                                <button type="submit" class="secondary">"Check readiness for Alexa"</button>
                            </ActionForm>
                        </section>
                    }}).collect_view().into_any(),
                })}
            </Suspense>
            {outcome(publish.value(), |p| view! {
                <p class=if p.matches { "ok published" } else { "error published" } role="status">
                    {if p.matches {
                        format!("Published to the {} stage: the console holds what Latchkey expects.", p.stage)
                    } else {
                        format!("Published to the {} stage, but the console differs in: {}.", p.stage, p.differing.join(", "))
                    }}
                </p>
            })}
            {outcome(update.value(), |s| view! {
                <p class="ok" role="status">"Skill "{s.name}" saved. Its client ID is unchanged: linked users keep working."</p>
            })}
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
            <SmapiCredentials slug=slug />
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
