//! `/admin/t/:slug/members`: who may use this tenant's dashboard; invitations by email.
use leptos::prelude::*;

use crate::api_more::{InviteMember, RemoveMember, SetMemberRole, list_members};
use crate::components::{TenantPage, clean, outcome};
use crate::pages::slug;

#[component]
pub fn Members() -> impl IntoView {
    let slug = slug();
    let invite = ServerAction::<InviteMember>::new();
    let set_role = ServerAction::<SetMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let members = Resource::new(
        move || (slug.get(), set_role.version().get(), remove.version().get()),
        |(s, _, _)| list_members(s),
    );
    view! {
        <TenantPage title="Members" current="/members">
            <section class="card">
                <p class="hint">"Owners manage everything including owners; admins manage the tenant and invite admins and viewers; viewers only read."</p>
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || members.get().map(|r| match r {
                        Err(e) => view! { <p class="error" role="alert">{clean(&e)}</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="responsive">
                                <thead><tr><th>"Email"</th><th>"Role"</th><th>"Change role"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|m| {
                                        let (id, id2) = (m.id.clone(), m.id.clone());
                                        let select_id = format!("role-{}", m.id);
                                        let current = m.role.clone();
                                        let role_label = format!("Role of {}", m.email);
                                        view! {
                                            <tr>
                                                <td>{m.email}{(!m.verified).then_some(" (unverified)")}</td>
                                                <td><span class="badge">{m.role.clone()}</span></td>
                                                <td>
                                                    <ActionForm action=set_role>
                                                        <input type="hidden" name="slug" value=slug.get_untracked() />
                                                        <input type="hidden" name="member" value=id />
                                                        <label class="sr" for=select_id.clone()>{role_label}</label>
                                                        <select id=select_id name="role">
                                                            {["owner", "admin", "viewer"].into_iter().map(|r| view! { <option value=r selected=r == current>{r}</option> }).collect_view()}
                                                        </select>
                                                        <button type="submit" class="small secondary">"Save"</button>
                                                    </ActionForm>
                                                </td>
                                                <td>
                                                    <ActionForm action=remove>
                                                        <input type="hidden" name="slug" value=slug.get_untracked() />
                                                        <input type="hidden" name="member" value=id2 />
                                                        <button type="submit" class="small danger">"Remove"</button>
                                                    </ActionForm>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
                </Suspense>
                {outcome(set_role.value(), |_| view! { <p class="ok" role="status">"Role changed."</p> })}
                {outcome(remove.value(), |_| view! { <p class="ok" role="status">"Member removed."</p> })}
            </section>
            <section class="card">
                <h2>"Invite someone"</h2>
                <ActionForm action=invite>
                    <input type="hidden" name="slug" value=move || slug.get() />
                    <label for="inv-email">"Email"</label>
                    <input id="inv-email" name="email" type="email" required />
                    <label for="inv-role">"Role"</label>
                    <select id="inv-role" name="role">
                        <option value="viewer">"Viewer"</option>
                        <option value="admin">"Admin"</option>
                        <option value="owner">"Owner"</option>
                    </select>
                    <button type="submit">"Send invitation"</button>
                </ActionForm>
                {outcome(invite.value(), |m| view! { <p class="ok" role="status">{m}</p> })}
            </section>
        </TenantPage>
    }
}
