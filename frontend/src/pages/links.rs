//! `/admin/t/:slug/links`: linked accounts; revoking one revokes its tokens and deletes Amazon's.
use leptos::prelude::*;

use crate::api::{RevokeLink, list_links, list_skills};
use crate::components::{TenantPage, clean, outcome, when};
use crate::pages::{query, slug};

#[component]
pub fn Links() -> impl IntoView {
    let slug = slug();
    let q = query("user");
    let skill = query("skill");
    let revoke = ServerAction::<RevokeLink>::new();
    let links = Resource::new(
        move || (slug.get(), q.get(), skill.get(), revoke.version().get()),
        |(s, q, k, _)| list_links(s, q, k),
    );
    let skills = Resource::new(move || slug.get(), list_skills);
    view! {
        <TenantPage title="Linked accounts" current="/links">
            <form method="get" class="card" role="search">
                <label for="user">"User (email or id)"</label>
                <input id="user" name="user" value=move || q.get() />
                <Suspense fallback=|| ()>
                    {move || skills.get().and_then(Result::ok).map(|list| view! {
                        <label for="skill">"Skill"</label>
                        <select id="skill" name="skill">
                            <option value="">"All skills"</option>
                            {list.into_iter().map(|k| {
                                let selected = skill.get_untracked() == k.id;
                                view! { <option value=k.id selected=selected>{format!("{} ({})", k.name, k.alexa_skill_id)}</option> }
                            }).collect_view()}
                        </select>
                    })}
                </Suspense>
                <button type="submit" class="secondary">"Search"</button>
            </form>
            <section class="card">
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || links.get().map(|r| match r {
                        Err(e) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p>"No linked accounts."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="responsive">
                                <thead><tr><th>"User"</th><th>"Skill"</th><th>"Scopes"</th><th>"Status"</th><th>"Linked"</th><th>"Last refresh"</th><th>"Amazon tokens"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|l| {
                                        let active = l.status == "active";
                                        let id = l.id.clone();
                                        view! {
                                            <tr data-link=l.id.clone()>
                                                <td>{l.user_email}</td>
                                                <td>{l.skill}</td>
                                                <td>{l.scopes}</td>
                                                <td><span class="badge link-status">{l.status}</span></td>
                                                <td>{when(l.created_at)}</td>
                                                <td>{l.last_refreshed_at.map(when).unwrap_or_else(|| "never".into())}</td>
                                                <td>{if l.has_amazon_tokens { "present" } else { "none" }}{l.last_event_status.map(|s| format!(" (last event: {s})"))}</td>
                                                <td>
                                                    {active.then(|| view! {
                                                        <ActionForm action=revoke>
                                                            <input type="hidden" name="slug" value=slug.get_untracked() />
                                                            <input type="hidden" name="link" value=id.clone() />
                                                            <button type="submit" class="small danger">"Revoke"</button>
                                                        </ActionForm>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
                </Suspense>
                {outcome(revoke.value(), |_| view! { <p class="ok" role="status">"Link revoked: its tokens no longer work."</p> })}
            </section>
        </TenantPage>
    }
}
