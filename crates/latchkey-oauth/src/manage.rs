//! Tenant management: the reads and changes the dashboard and the management API share. Each takes an
//! [`Access`], checks its role, and audits changes under its actor. Creating things lives in `admin`
//! (shared with the CLI); this module adds listing, inspecting, editing and deleting.
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_core::refresh::RefreshPolicy;
use latchkey_core::signing::SigningAlg;
use latchkey_store::records::{
    AmazonGrant, ApiKey, AuditEvent, Client, EndUser, FederatedIdentity, LinkedAccount, Skill, Tenant, TenantSettings,
    TenantStatus, UpstreamProvider,
};
use latchkey_store::repo::AuditFilter;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AuthServer;
use crate::access::{Access, Actor};
use crate::admin::{
    check_name, check_redirect_uris, check_refresh_policy, check_skill_scopes, check_ttl, parse_scopes,
};
use crate::alexa_grants::GrantRef;
use crate::error::{ServiceError, ServiceResult};
use crate::password::PasswordHasher;

pub const MAX_PAGE: u64 = 200;
pub const DEFAULT_PAGE: u64 = 50;
/// The largest offset a cursor may carry: far past any real list, far below `i64::MAX`.
const MAX_OFFSET: u64 = 1 << 40;

/// Offset pagination with an opaque cursor (the offset, as text).
#[derive(Clone, Copy, Debug)]
pub struct PageReq {
    pub offset: u64,
    pub limit: u64,
}

impl PageReq {
    pub fn parse(cursor: Option<&str>, limit: Option<u64>) -> ServiceResult<Self> {
        let offset = match cursor.filter(|c| !c.is_empty()) {
            // Bounded: the database takes offsets as signed 64-bit numbers, and a larger one used to
            // panic in the conversion (the connection dropped, with a backtrace in the log).
            Some(c) => c
                .parse::<u64>()
                .ok()
                .filter(|o| *o <= MAX_OFFSET)
                .ok_or_else(|| ServiceError::Invalid("cursor is not valid".into()))?,
            None => 0,
        };
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(ServiceError::Invalid(format!("limit must be 1-{MAX_PAGE}")));
        }
        Ok(Self { offset, limit })
    }

    /// Fetches one more than asked, to know whether a next page exists.
    pub(crate) fn fetch(&self) -> u64 {
        self.limit + 1
    }

    pub fn page<T>(&self, mut items: Vec<T>) -> Page<T> {
        let more = items.len() as u64 > self.limit;
        items.truncate(usize::try_from(self.limit).unwrap_or(usize::MAX));
        Page { next_cursor: more.then(|| (self.offset + self.limit).to_string()), items }
    }

    /// Pages a list that is already in memory (tenant-sized lists: skills, clients, keys).
    pub fn page_vec<T>(&self, items: Vec<T>) -> Page<T> {
        let skip = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let take = usize::try_from(self.fetch()).unwrap_or(usize::MAX);
        let rest: Vec<T> = items.into_iter().skip(skip).take(take).collect();
        self.page(rest)
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A skill with what the Alexa console's account-linking page needs.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SkillView {
    #[serde(flatten)]
    pub skill: Skill,
    pub client: Client,
    pub authorization_uri: String,
    pub access_token_uri: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    #[serde(flatten)]
    pub user: EndUser,
    pub has_password: bool,
    pub federated_identities: Vec<FederatedIdentity>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    #[serde(flatten)]
    pub link: LinkedAccount,
    pub user_email: Option<String>,
    pub client_name: Option<String>,
    pub oauth_client_id: Option<String>,
    /// The Alexa skill this link's client belongs to, if any.
    pub alexa_skill_id: Option<String>,
    /// One per Alexa account that sent AcceptGrant for this link (a household has several), oldest
    /// first; Amazon's tokens are never shown.
    pub alexa_grants: Vec<AmazonGrant>,
}

/// Changes to a client; `None` keeps the current value. Unknown fields are refused, so a misspelt
/// setting is an error rather than a silent no-op.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientUpdate {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub scopes: Option<String>,
    pub auth_method: Option<ClientAuthMethod>,
    pub access_token_ttl: Option<i64>,
    pub refresh_policy: Option<RefreshPolicy>,
    /// Absolute refresh-token lifetime in seconds, at least an hour; `0` for none (Alexa's preference).
    pub refresh_token_ttl: Option<i64>,
    pub require_pkce: Option<bool>,
    /// The algorithm of the client's ID tokens: RS256, ES256 or EdDSA.
    pub id_token_signed_response_alg: Option<SigningAlg>,
}

/// Branding of the login pages.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Branding {
    pub display_name: Option<String>,
    pub brand_color: Option<String>,
    pub logo_url: Option<String>,
}

/// What a user's own password reset ends. Browser sessions always end; grants end unless
/// `keep_grants_on_self_service_reset` (a reset after a stolen password then leaves the thief's
/// grants working until they are unlinked).
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct PasswordPolicy {
    pub keep_grants_on_self_service_reset: bool,
}

/// One tenant as operators see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TenantOverview {
    #[serde(flatten)]
    pub tenant: Tenant,
    pub issuer: String,
    pub users: u64,
    pub links: u64,
    pub token_requests_today: i64,
    /// Token requests per day (UTC), the last seven days, oldest first; today is the last.
    pub token_requests_by_day: Vec<DayCount>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub count: i64,
}

/// Names what was not found (`client 'x'`), for a store's or a service's error alike.
pub(crate) fn not_found<E: Into<ServiceError>>(what: String) -> impl FnOnce(E) -> ServiceError {
    move |e| match e.into() {
        ServiceError::NotFound(_) => ServiceError::NotFound(what),
        other => other,
    }
}

pub fn validate_color(c: &str) -> ServiceResult<()> {
    let ok = c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit());
    if ok { Ok(()) } else { Err(ServiceError::Invalid("colour must look like #1a2b3c".into())) }
}

/// Sets `field` and notes `name` as changed, when `value` differs from what it holds.
pub(crate) fn set_if_changed<T: PartialEq>(
    field: &mut T,
    value: T,
    name: &'static str,
    changed: &mut Vec<&'static str>,
) {
    if *field != value {
        *field = value;
        changed.push(name);
    }
}

/// Checks each value of `u` as creation does and applies it to `c`; the names of the settings whose
/// values changed are returned for the audit log (never the values: a redirect URI can be all a phisher
/// needs).
pub(crate) fn apply_client_update(c: &mut Client, u: ClientUpdate, min_ttl: i64) -> ServiceResult<Vec<&'static str>> {
    let mut changed = Vec::new();
    if let Some(n) = u.name {
        set_if_changed(&mut c.name, check_name(&n)?, "name", &mut changed);
    }
    if let Some(uris) = u.redirect_uris {
        check_redirect_uris(&uris, &c.grant_types)?;
        set_if_changed(&mut c.redirect_uris, uris, "redirect_uris", &mut changed);
    }
    if let Some(s) = u.scopes {
        set_if_changed(&mut c.scopes, parse_scopes(&s)?, "scopes", &mut changed);
    }
    if let Some(m) = u.auth_method {
        set_if_changed(&mut c.auth_method, m, "auth_method", &mut changed);
    }
    if let Some(ttl) = u.access_token_ttl {
        check_ttl(ttl, min_ttl, "access-token lifetime")?;
        set_if_changed(&mut c.access_token_ttl, ttl, "access_token_ttl", &mut changed);
    }
    if let Some(p) = u.refresh_policy {
        check_refresh_policy(p)?;
        set_if_changed(&mut c.refresh_policy, p, "refresh_policy", &mut changed);
    }
    if let Some(rt) = u.refresh_token_ttl {
        let rt = match rt {
            0 => None,
            rt => {
                check_ttl(rt, 3600, "refresh-token lifetime")?;
                Some(rt)
            }
        };
        set_if_changed(&mut c.refresh_token_ttl, rt, "refresh_token_ttl", &mut changed);
    }
    if let Some(b) = u.require_pkce {
        set_if_changed(&mut c.require_pkce, b, "require_pkce", &mut changed);
    }
    if let Some(a) = u.id_token_signed_response_alg {
        set_if_changed(&mut c.id_token_signed_response_alg, a, "id_token_signed_response_alg", &mut changed);
    }
    Ok(changed)
}

/// The per-day token counters are kept 40 days; operators see the last seven.
const USAGE_DAYS: i64 = 7;

impl AuthServer {
    // ---- skills ----

    async fn skill_view(&self, a: &Access, s: Skill) -> ServiceResult<SkillView> {
        let client = self
            .store
            .scoped(a.id())
            .client_by_row_id(&s.oauth_client_id)
            .await?
            .ok_or_else(|| ServiceError::internal("skill without its client"))?;
        Ok(self.view_of(a, s, client))
    }

    /// A skill with its client, as the console needs it.
    pub(crate) fn view_of(&self, a: &Access, skill: Skill, client: Client) -> SkillView {
        SkillView {
            authorization_uri: format!("{}/oauth2/authorize", a.issuer),
            access_token_uri: format!("{}/oauth2/token", a.issuer),
            skill,
            client,
        }
    }

    pub async fn list_skills(&self, a: &Access) -> ServiceResult<Vec<SkillView>> {
        let mut out = Vec::new();
        for s in self.store.scoped(a.id()).list_skills().await? {
            out.push(self.skill_view(a, s).await?);
        }
        Ok(out)
    }

    /// A skill of the caller's tenant by row or Alexa id, or 404.
    pub(crate) async fn find_skill(&self, a: &Access, id: &str) -> ServiceResult<Skill> {
        self.store.scoped(a.id()).skill(id).await?.ok_or_else(|| ServiceError::NotFound(format!("skill '{id}'")))
    }

    pub async fn get_skill(&self, a: &Access, id: &str) -> ServiceResult<SkillView> {
        let s = self.find_skill(a, id).await?;
        self.skill_view(a, s).await
    }

    pub async fn delete_skill(&self, a: &Access, id: &str) -> ServiceResult<()> {
        a.require_write()?;
        let s = self.get_skill(a, id).await?;
        self.store.scoped(a.id()).delete_skill(&s.skill.id).await.map_err(not_found(format!("skill '{id}'")))?;
        self.invalidate_client(a.id(), &s.client.client_id);
        self.invalidate_skills(a.id());
        a.audit(self, "skill.deleted", Some(&s.skill.alexa_skill_id), json!({})).await
    }

    // ---- clients ----

    pub async fn list_clients(&self, a: &Access) -> ServiceResult<Vec<Client>> {
        Ok(self.store.scoped(a.id()).list_clients().await?)
    }

    pub async fn get_client(&self, a: &Access, client_id: &str) -> ServiceResult<Client> {
        self.store
            .scoped(a.id())
            .client(client_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("client '{client_id}'")))
    }

    pub async fn update_client(&self, a: &Access, client_id: &str, u: ClientUpdate) -> ServiceResult<Client> {
        a.require_write()?;
        let found = self.get_client(a, client_id).await?;
        // Whether it is a skill's client does not change; Alexa's rules then hold however it is edited.
        let skill = self.store.scoped(a.id()).list_skills().await?.into_iter().find(|s| s.oauth_client_id == found.id);
        let min_ttl = skill.as_ref().map(|s| s.kind.min_access_token_ttl()).unwrap_or(60);
        let mut changed = Vec::new();
        let c = self
            .store
            .scoped(a.id())
            .modify_client(client_id, |mut c| {
                changed = apply_client_update(&mut c, u, min_ttl)?;
                if skill.is_some() {
                    check_skill_scopes(&c.scopes)?;
                }
                Ok::<_, ServiceError>((!changed.is_empty()).then_some(c))
            })
            .await
            .map_err(not_found(format!("client '{client_id}'")))?;
        if !changed.is_empty() {
            self.invalidate_client(a.id(), client_id);
            a.audit(self, "client.updated", Some(client_id), json!({"changed": changed})).await?;
        }
        Ok(c)
    }

    pub async fn delete_client(&self, a: &Access, client_id: &str) -> ServiceResult<()> {
        a.require_write()?;
        let c = self.get_client(a, client_id).await?;
        if self.store.scoped(a.id()).list_skills().await?.iter().any(|s| s.oauth_client_id == c.id) {
            return Err(ServiceError::Conflict("this client belongs to a skill: delete the skill".into()));
        }
        self.store.scoped(a.id()).delete_client(client_id).await.map_err(not_found(format!("client '{client_id}'")))?;
        self.invalidate_client(a.id(), client_id);
        a.audit(self, "client.deleted", Some(client_id), json!({})).await
    }

    // ---- end users ----

    async fn user_view(&self, a: &Access, user: EndUser) -> ServiceResult<UserView> {
        let federated_identities = self.store.scoped(a.id()).federated_identities(&user.id).await?;
        Ok(UserView { has_password: user.password_hash.is_some(), user, federated_identities })
    }

    pub async fn search_users(&self, a: &Access, q: Option<&str>, page: PageReq) -> ServiceResult<Page<EndUser>> {
        let users = self.store.scoped(a.id()).search_users(q, page.offset, page.fetch()).await?;
        Ok(page.page(users))
    }

    /// A user by id or email address (the CLI's `--user`).
    pub async fn find_user(&self, a: &Access, id_or_email: &str) -> ServiceResult<EndUser> {
        let scoped = self.store.scoped(a.id());
        let found = if id_or_email.contains('@') {
            scoped.user_by_email(id_or_email).await?
        } else {
            scoped.user(id_or_email).await?
        };
        found.ok_or_else(|| ServiceError::NotFound(format!("user '{id_or_email}'")))
    }

    /// Every user of the tenant, unpaged (the CLI's export-style listing).
    pub async fn all_users(&self, a: &Access) -> ServiceResult<Vec<EndUser>> {
        Ok(self.store.scoped(a.id()).list_users().await?)
    }

    /// The upstream identities a user signs in with.
    pub async fn federated_identities(&self, a: &Access, user_id: &str) -> ServiceResult<Vec<FederatedIdentity>> {
        Ok(self.store.scoped(a.id()).federated_identities(user_id).await?)
    }

    /// One user's linked accounts.
    pub async fn user_links(&self, a: &Access, user_id: &str) -> ServiceResult<Vec<LinkedAccount>> {
        Ok(self.store.scoped(a.id()).list_links(Some(user_id)).await?)
    }

    pub async fn get_user(&self, a: &Access, id: &str) -> ServiceResult<UserView> {
        let u =
            self.store.scoped(a.id()).user(id).await?.ok_or_else(|| ServiceError::NotFound(format!("user '{id}'")))?;
        self.user_view(a, u).await
    }

    pub async fn set_user_disabled(&self, a: &Access, id: &str, disabled: bool) -> ServiceResult<UserView> {
        a.require_write()?;
        self.store.scoped(a.id()).set_user_disabled(id, disabled).await.map_err(not_found(format!("user '{id}'")))?;
        self.invalidate_user(a.id(), id);
        a.audit(self, if disabled { "user.disabled" } else { "user.enabled" }, Some(id), json!({})).await?;
        self.get_user(a, id).await
    }

    /// Sets a new password for an end user (the admin hands it over; the user can be told to change it).
    pub async fn set_user_password(&self, a: &Access, id: &str, password: &str) -> ServiceResult<()> {
        a.require_write()?;
        PasswordHasher::check_policy(password)?;
        let hash = self.hasher.hash(password).await?;
        self.store.scoped(a.id()).set_user_password_hash(id, &hash).await.map_err(not_found(format!("user '{id}'")))?;
        a.audit(self, "user.password_set", Some(id), json!({})).await?;
        // Set by an admin: whoever held the old password may hold the grants, so they end always.
        self.password_changed(a.id(), id, &a.actor.label(), false).await?;
        Ok(())
    }

    pub async fn delete_user(&self, a: &Access, id: &str) -> ServiceResult<()> {
        a.require_write()?;
        self.store.scoped(a.id()).delete_user(id).await.map_err(not_found(format!("user '{id}'")))?;
        self.invalidate_user(a.id(), id);
        a.audit(self, "user.deleted", Some(id), json!({})).await
    }

    // ---- linked accounts ----

    async fn link_view(&self, a: &Access, link: LinkedAccount, skills: &[Skill]) -> ServiceResult<LinkView> {
        let scoped = self.store.scoped(a.id());
        let user = scoped.user(&link.user_id).await?;
        let client = scoped.client_by_row_id(&link.client_id).await?;
        Ok(LinkView {
            alexa_grants: scoped.amazon_grants(&link.id).await?,
            user_email: user.map(|u| u.email),
            client_name: client.as_ref().map(|c| c.name.clone()),
            oauth_client_id: client.map(|c| c.client_id),
            alexa_skill_id: skills
                .iter()
                .find(|s| s.oauth_client_id == link.client_id)
                .map(|s| s.alexa_skill_id.clone()),
            link,
        })
    }

    /// Links, newest first, optionally of one user (id or email) and/or one skill (id or Alexa id).
    pub async fn search_links(
        &self,
        a: &Access,
        user: Option<&str>,
        skill: Option<&str>,
        page: PageReq,
    ) -> ServiceResult<Page<LinkView>> {
        let scoped = self.store.scoped(a.id());
        let user_id = match user.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => match scoped.user(u).await? {
                Some(x) => Some(x.id),
                None => match scoped.user_by_email(u).await? {
                    Some(x) => Some(x.id),
                    None => return Ok(Page { items: vec![], next_cursor: None }),
                },
            },
            None => None,
        };
        let client_row = match skill.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => match scoped.skill(s).await? {
                Some(x) => Some(x.oauth_client_id),
                None => return Ok(Page { items: vec![], next_cursor: None }),
            },
            None => None,
        };
        let links = scoped.search_links(user_id.as_deref(), client_row.as_deref(), page.offset, page.fetch()).await?;
        let skills = scoped.list_skills().await?;
        let mut views = Vec::with_capacity(links.len());
        for l in links {
            views.push(self.link_view(a, l, &skills).await?);
        }
        Ok(page.page(views))
    }

    pub async fn get_link(&self, a: &Access, id: &str) -> ServiceResult<LinkView> {
        let scoped = self.store.scoped(a.id());
        let link = scoped.link_by_id(id).await?.ok_or_else(|| ServiceError::NotFound(format!("link '{id}'")))?;
        let skills = scoped.list_skills().await?;
        self.link_view(a, link, &skills).await
    }

    /// Unlinks: the link's token families are revoked and Amazon's tokens deleted, in one transaction.
    pub async fn revoke_link(&self, a: &Access, id: &str) -> ServiceResult<LinkView> {
        a.require_write()?;
        let link = self.store.scoped(a.id()).revoke_link(id).await.map_err(not_found(format!("link '{id}'")))?;
        a.audit(self, "link.revoked", Some(id), json!({"user_id": link.user_id})).await?;
        self.get_link(a, id).await
    }

    /// Unlinks one Alexa account of a household: that grant's Amazon tokens are deleted and its Latchkey
    /// tokens revoked; the link ends only if it was the last grant.
    pub async fn revoke_alexa_grant(&self, a: &Access, link_id: &str, grant_id: &str) -> ServiceResult<LinkView> {
        a.require_write()?;
        let scoped = self.store.scoped(a.id());
        let not_found = || ServiceError::NotFound(format!("Alexa grant '{grant_id}' of link '{link_id}'"));
        let link = scoped.link_by_id(link_id).await?.ok_or_else(not_found)?;
        let grant = scoped.amazon_grant(grant_id).await?.filter(|g| g.link_id == link.id).ok_or_else(not_found)?;
        let ended = self
            .end_alexa_grant(a.id(), &link, GrantRef::Grant(&grant), latchkey_store::repo::GrantEnd::Revoked, true)
            .await?;
        a.audit(self, "link.alexa_grant_revoked", Some(link_id), json!({"grant": grant.id, "ended": ended})).await?;
        self.get_link(a, link_id).await
    }

    // ---- providers ----

    pub async fn list_providers(&self, a: &Access) -> ServiceResult<Vec<UpstreamProvider>> {
        Ok(self.store.scoped(a.id()).list_providers().await?)
    }

    pub async fn get_provider(&self, a: &Access, slug: &str) -> ServiceResult<UpstreamProvider> {
        self.store
            .scoped(a.id())
            .provider(slug)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("provider '{slug}'")))
    }

    pub async fn delete_provider(&self, a: &Access, slug: &str) -> ServiceResult<()> {
        a.require_write()?;
        self.store.scoped(a.id()).delete_provider(slug).await.map_err(not_found(format!("provider '{slug}'")))?;
        a.audit(self, "provider.deleted", Some(slug), json!({})).await
    }

    // ---- API keys ----

    pub async fn list_api_keys(&self, a: &Access) -> ServiceResult<Vec<ApiKey>> {
        Ok(self.store.scoped(a.id()).list_api_keys().await?)
    }

    pub async fn delete_api_key(&self, a: &Access, id: &str) -> ServiceResult<()> {
        a.require_write()?;
        self.store.scoped(a.id()).delete_api_key(id).await.map_err(not_found(format!("API key '{id}'")))?;
        self.invalidate_api_keys(a.id());
        a.audit(self, "apikey.deleted", Some(id), json!({})).await
    }

    // ---- audit log ----

    pub async fn search_audit(&self, a: &Access, f: &AuditFilter, page: PageReq) -> ServiceResult<Page<AuditEvent>> {
        let events = self.store.scoped(a.id()).search_audit(f, page.offset, page.fetch()).await?;
        Ok(page.page(events))
    }

    // ---- branding ----

    pub fn branding(&self, a: &Access) -> Branding {
        Branding {
            display_name: Some(a.tenant.name.clone()),
            brand_color: a.tenant.settings.brand_color.clone(),
            logo_url: a.tenant.settings.logo_url.clone(),
        }
    }

    pub async fn set_branding(&self, a: &Access, b: Branding) -> ServiceResult<Branding> {
        a.require_write()?;
        let mut settings: TenantSettings = a.tenant.settings.clone();
        if let Some(c) = b.brand_color.as_deref().filter(|c| !c.is_empty()) {
            validate_color(c)?;
        }
        if let Some(u) = b.logo_url.as_deref().filter(|u| !u.is_empty()) {
            let parsed = url::Url::parse(u).map_err(|_| ServiceError::Invalid("logo URL must be absolute".into()))?;
            if parsed.scheme() != "https" {
                return Err(ServiceError::Invalid("logo URL must use https".into()));
            }
        }
        settings.brand_color = b.brand_color.clone().filter(|c| !c.is_empty());
        settings.logo_url = b.logo_url.clone().filter(|u| !u.is_empty());
        self.store.set_tenant_settings(a.id(), &settings).await?;
        if let Some(name) = b.display_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            if name.len() > 200 {
                return Err(ServiceError::Invalid("display name must be 1-200 characters".into()));
            }
            self.store.set_tenant_name(a.id(), name).await?;
        }
        self.invalidate(&a.tenant.slug, a.id());
        a.audit(self, "tenant.branding", None, json!({"brand_color": settings.brand_color})).await?;
        let mut fresh = self.access(&a.actor, &a.tenant.slug).await?;
        fresh.actor = a.actor.clone();
        Ok(self.branding(&fresh))
    }

    pub fn password_policy(&self, a: &Access) -> PasswordPolicy {
        PasswordPolicy {
            keep_grants_on_self_service_reset: a.tenant.settings.keep_grants_on_self_service_reset.unwrap_or(false),
        }
    }

    pub async fn set_password_policy(&self, a: &Access, p: PasswordPolicy) -> ServiceResult<PasswordPolicy> {
        a.require_write()?;
        let mut settings: TenantSettings = a.tenant.settings.clone();
        settings.keep_grants_on_self_service_reset = Some(p.keep_grants_on_self_service_reset);
        self.store.set_tenant_settings(a.id(), &settings).await?;
        self.invalidate(&a.tenant.slug, a.id());
        a.audit(
            self,
            "tenant.password_policy",
            None,
            json!({"keep_grants_on_self_service_reset": p.keep_grants_on_self_service_reset}),
        )
        .await?;
        Ok(p)
    }

    // ---- operators ----

    pub(crate) fn require_operator(actor: &Actor) -> ServiceResult<()> {
        if actor.is_operator() { Ok(()) } else { Err(ServiceError::Forbidden("operators only".into())) }
    }

    /// The tenants a signed-in account is a member of, with its role in each.
    pub async fn my_tenants(&self, actor: &Actor) -> ServiceResult<Vec<(Tenant, latchkey_core::role::Role)>> {
        let crate::access::Principal::Account { id, .. } = &actor.principal else {
            return Err(ServiceError::Unauthorized("sign in first".into()));
        };
        Ok(self.store.memberships(id).await?)
    }

    /// The caller's access to tenant `slug` with a tenant API key (`lk_…`), as the management API and
    /// the skill backend present it; an unknown tenant or key is `Unauthorized` alike.
    pub async fn api_key_access(&self, slug: &str, key: &str, ip: Option<String>) -> ServiceResult<Access> {
        let unauthorized = || ServiceError::Unauthorized("a valid tenant API key is required".into());
        let tenant = self.store.tenant_by_slug(slug).await?.ok_or_else(unauthorized)?;
        let api_key = self.tenant_api_key(&tenant.id, key).await?.ok_or_else(unauthorized)?;
        self.rate_limit(&format!("api:{}", api_key.id), self.config.api_rate_per_key).await?;
        let actor = Actor {
            principal: crate::access::Principal::ApiKey {
                id: api_key.id.clone(),
                prefix: api_key.prefix.clone(),
                tenant_id: tenant.id.as_str().to_owned(),
            },
            ip,
        };
        self.access(&actor, slug).await
    }

    pub async fn list_tenants_for_operator(&self, actor: &Actor) -> ServiceResult<Vec<TenantOverview>> {
        Self::require_operator(actor)?;
        // This process's latest counts first, so the figures include them (others' lag a second).
        self.flush_usage().await;
        let mut out = Vec::new();
        for t in self.store.list_tenants().await? {
            let scoped = self.store.scoped(&t.id);
            let (users, links) = (scoped.count_users().await?, scoped.count_links().await?);
            let this_day = latchkey_store::now() / 86_400;
            let mut by_day = Vec::with_capacity(USAGE_DAYS as usize);
            for day in (this_day - USAGE_DAYS + 1)..=this_day {
                let count = self
                    .kv
                    .get(&crate::usage::usage_key(&t.id, day))
                    .await?
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                by_day.push(DayCount { day: latchkey_core::time::civil_date(day), count });
            }
            let token_requests_today = by_day.last().map_or(0, |d| d.count);
            out.push(TenantOverview {
                issuer: self.issuer_for(&t.slug),
                tenant: t,
                users,
                links,
                token_requests_today,
                token_requests_by_day: by_day,
            });
        }
        Ok(out)
    }

    /// Suspends or resumes a tenant: a suspended tenant's endpoints answer a clear error at once on
    /// this instance, and within the cache lifetime on the others.
    pub async fn set_tenant_status(&self, actor: &Actor, slug: &str, status: TenantStatus) -> ServiceResult<()> {
        Self::require_operator(actor)?;
        let a = self.access(actor, slug).await?;
        self.store.set_tenant_status(a.id(), status).await?;
        self.invalidate(slug, a.id());
        a.audit(self, &format!("tenant.{}", status.as_str()), Some(slug), json!({})).await
    }

    /// Deletes a tenant and everything it owns. The audit entry outlives it (audit rows are kept by
    /// retention, not by tenant).
    pub async fn delete_tenant(&self, actor: &Actor, slug: &str) -> ServiceResult<()> {
        Self::require_operator(actor)?;
        let a = self.access(actor, slug).await?;
        self.store.delete_tenant(a.id()).await?;
        self.invalidate(slug, a.id());
        a.audit(self, "tenant.deleted", Some(slug), json!({})).await
    }
}

#[cfg(test)]
mod tests {
    use super::PageReq;

    #[test]
    fn cursors_past_the_bound_are_refused_not_passed_on() {
        assert_eq!(PageReq::parse(Some("40"), Some(10)).expect("ok").offset, 40);
        for c in ["9223372036854775808", "18446744073709551615", "-1", "1e3", "٣", " 1"] {
            assert!(PageReq::parse(Some(c), None).is_err(), "{c}");
        }
        assert!(PageReq::parse(None, Some(0)).is_err());
        assert!(PageReq::parse(None, Some(u64::MAX)).is_err());
        let p = PageReq::parse(Some("1099511627776"), Some(200)).expect("at the bound");
        assert_eq!(p.page_vec(vec![1, 2, 3]).items, Vec::<i32>::new());
    }
}
