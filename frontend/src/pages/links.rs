//! `/admin/t/:slug/links`: linked accounts; revoking one revokes its tokens and deletes Amazon's.
use leptos::prelude::*;

use crate::api::{AlexaGrantRow, RevokeAlexaGrant, RevokeLink, list_links, list_skills};
use crate::components::{TenantPage, clean, outcome, when};
use crate::pages::{query, slug};

#[component]
pub fn Links() -> impl IntoView {
    let slug = slug();
    let q = query("user");
    let skill = query("skill");
    let revoke = ServerAction::<RevokeLink>::new();
    let revoke_grant = ServerAction::<RevokeAlexaGrant>::new();
    let links = Resource::new(
        move || (slug.get(), q.get(), skill.get(), revoke.version().get(), revoke_grant.version().get()),
        |(s, q, k, _, _)| list_links(s, q, k),
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
                                <thead><tr><th>"User"</th><th>"Skill"</th><th>"Scopes"</th><th>"Status"</th><th>"Linked"</th><th>"Last refresh"</th><th>"Alexa accounts"</th><th></th></tr></thead>
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
                                                <td>
                                                    {if l.alexa_grants.is_empty() { Some("none") } else { None }}
                                                    <ul class="grants">
                                                        {l.alexa_grants.into_iter().map(|g| grant_item(g, slug.get_untracked(), id.clone(), revoke_grant)).collect_view()}
                                                    </ul>
                                                </td>
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
                {outcome(revoke_grant.value(), |_| view! { <p class="ok" role="status">"Alexa account unlinked: its tokens no longer work; the link's other Alexa accounts keep theirs."</p> })}
            </section>
        </TenantPage>
    }
}

/// One Alexa account on a link: since when, which region's gateway gets its events, how the last one
/// went, and a button to unlink just this account.
fn grant_item(g: AlexaGrantRow, slug: String, link: String, revoke: ServerAction<RevokeAlexaGrant>) -> impl IntoView {
    let active = g.status == "active";
    let detail = format!(
        "{} · linked {} · Amazon token refreshed {} · last event {}",
        g.region,
        when(g.created_at),
        g.last_refreshed_at.map(when).unwrap_or_else(|| "never".into()),
        match (g.last_event_status, g.last_event_at) {
            (Some(s), Some(at)) => format!("{s} ({})", when(at)),
            _ => "none".into(),
        },
    );
    let grant = g.id.clone();
    view! {
        <li data-grant=g.id>
            <span class="badge grant-status">{g.status}</span>" "{detail}
            {active.then(|| view! {
                <ActionForm action=revoke>
                    <input type="hidden" name="slug" value=slug.clone() />
                    <input type="hidden" name="link" value=link.clone() />
                    <input type="hidden" name="grant" value=grant.clone() />
                    <button type="submit" class="small danger">"Unlink this Alexa account"</button>
                </ActionForm>
            })}
        </li>
    }
}
