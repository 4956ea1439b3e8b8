//! Server functions: what the dashboard's pages call. Each checks the session, the request's origin
//! and the caller's role in the tenant, then calls one service function. The row types are shared by
//! the server and the browser.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::server::{access, check_origin, client_ip, ctx, err, request, session, set_cookie};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TenantRow {
    pub slug: String,
    pub name: String,
    pub status: String,
    pub role: String,
    pub users: Option<u64>,
    pub links: Option<u64>,
    pub token_requests_today: Option<i64>,
    /// Operators: (day, token requests), the last seven days, oldest first.
    pub token_requests_by_day: Vec<(String, i64)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Home {
    pub email: String,
    pub operator: bool,
    /// Operators only: whether the database and the KV store answer.
    pub health: Option<String>,
    pub tenants: Vec<TenantRow>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SkillRow {
    pub id: String,
    pub name: String,
    pub alexa_skill_id: String,
    pub kind: String,
    pub region: String,
    pub client_id: String,
    pub authorization_uri: String,
    pub access_token_uri: String,
    pub redirect_uris: Vec<String>,
    pub scopes: String,
    pub auth_scheme: String,
    pub access_token_ttl: i64,
    /// What the edit form starts from.
    pub vendor_id: String,
    /// Every region, the default first.
    pub regions: Vec<String>,
    pub auth_method: String,
    pub refresh_policy: String,
    pub grace_secs: i64,
    pub lwa_client_id: Option<String>,
    pub has_lwa_client_secret: bool,
    /// The app's redirect URLs (app-to-app linking): the client's redirect URIs that are not Alexa's.
    pub app_redirect_urls: Vec<String>,
    /// Events handed to `POST /alexa/events`, by delivery status, and the latest few deliveries.
    pub events: EventSummary,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EventSummary {
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
    /// (status, Amazon's code or the gateway status, when), newest first.
    pub recent: Vec<(String, String, i64)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CreatedSkillRow {
    pub skill: SkillRow,
    pub client_secret: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StepRow {
    pub step: String,
    pub ok: bool,
    pub http_status: Option<u16>,
    pub millis: u64,
    pub alexa_sees: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UserRow {
    pub id: String,
    /// Upstream providers' subjects this user signs in with.
    pub federated: Vec<String>,
    pub email: String,
    pub name: Option<String>,
    pub disabled: bool,
    pub email_verified: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LinkRow {
    pub id: String,
    pub user_email: String,
    pub skill: String,
    pub scopes: String,
    pub status: String,
    pub created_at: i64,
    pub last_refreshed_at: Option<i64>,
    pub alexa_grants: Vec<AlexaGrantRow>,
}

/// One Alexa account's grant on a link (a household has several).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AlexaGrantRow {
    pub id: String,
    pub region: String,
    pub status: String,
    pub created_at: i64,
    pub last_refreshed_at: Option<i64>,
    pub has_amazon_tokens: bool,
    pub last_event_status: Option<String>,
    pub last_event_at: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditRow {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
}

/// `None` when `slug` can be signed up for, otherwise why not.
#[server(prefix = "/admin/fn")]
pub async fn check_slug(slug: String) -> Result<Option<String>, ServerFnError> {
    Ok(ctx()?.auth.slug_available(slug.trim()).await.map_err(err)?.err())
}

#[server(prefix = "/admin/fn")]
pub async fn sign_up(company: String, slug: String, email: String, password: String) -> Result<String, ServerFnError> {
    let c = ctx()?;
    let req = request().await?;
    check_origin(&c, &req)?;
    let ip = client_ip(&req, &c.trusted_proxies);
    let input = latchkey_oauth::accounts::SignupInput { company, slug, email: email.clone(), password };
    c.auth.sign_up(input, &ip).await.map_err(err)?;
    Ok(format!("We sent a verification link to {email}. Open it to activate your tenant."))
}

#[server(prefix = "/admin/fn")]
pub async fn resend_verification(email: String) -> Result<String, ServerFnError> {
    let c = ctx()?;
    let req = request().await?;
    check_origin(&c, &req)?;
    c.auth.resend_verification(&email, &client_ip(&req, &c.trusted_proxies)).await.map_err(err)?;
    Ok("If that address has an unverified account, a new link is on its way.".into())
}

/// What a verification link is for: the address, then the tenants it activates. Reading it spends
/// nothing and verifies nothing.
#[server(prefix = "/admin/fn")]
pub async fn verification_info(token: String) -> Result<(String, Vec<String>), ServerFnError> {
    let i = ctx()?.auth.verification_info(&token).await.map_err(err)?;
    Ok((i.email, i.tenants))
}

/// Verifies the address: the POST of the form the link opens, with the password the owner chooses.
#[server(prefix = "/admin/fn")]
pub async fn verify_email(token: String, password: String) -> Result<(), ServerFnError> {
    let c = ctx()?;
    let req = request().await?;
    check_origin(&c, &req)?;
    c.auth.verify_email(&token, &password, &client_ip(&req, &c.trusted_proxies)).await.map_err(err)?;
    // The link is spent: going back to its page would only say so. The sign-in page says it worked.
    leptos_actix::redirect("/admin/login?verified=1");
    Ok(())
}

#[server(prefix = "/admin/fn")]
pub async fn sign_in(email: String, password: String) -> Result<(), ServerFnError> {
    let c = ctx()?;
    let req = request().await?;
    check_origin(&c, &req)?;
    let (sid, _) =
        c.auth.dashboard_sign_in(&email, &password, &client_ip(&req, &c.trusted_proxies)).await.map_err(err)?;
    set_cookie(&sid, latchkey_oauth::accounts::DASHBOARD_SESSION_TTL.as_secs() as i64);
    leptos_actix::redirect("/admin");
    Ok(())
}

#[server(prefix = "/admin/fn")]
pub async fn sign_out(everywhere: Option<String>) -> Result<(), ServerFnError> {
    let c = ctx()?;
    check_origin(&c, &request().await?)?;
    if let Some((s, sid)) = session().await? {
        if everywhere.is_some() {
            c.auth.sign_out_everywhere(&s).await.map_err(err)?;
        }
        c.auth.dashboard_sign_out(&sid).await.map_err(err)?;
    }
    set_cookie("", 0);
    leptos_actix::redirect("/admin/login");
    Ok(())
}

#[server(prefix = "/admin/fn")]
pub async fn load_home() -> Result<Home, ServerFnError> {
    let c = ctx()?;
    let actor = crate::server::actor().await?;
    let (email, operator) = match &actor.principal {
        latchkey_oauth::access::Principal::Account { email, .. } => (email.clone(), false),
        latchkey_oauth::access::Principal::Operator { email, .. } => (email.clone(), true),
        _ => (String::new(), false),
    };
    let tenants = if operator {
        c.auth
            .list_tenants_for_operator(&actor)
            .await
            .map_err(err)?
            .into_iter()
            .map(|t| TenantRow {
                slug: t.tenant.slug,
                name: t.tenant.name,
                status: t.tenant.status.as_str().into(),
                role: "operator".into(),
                users: Some(t.users),
                links: Some(t.links),
                token_requests_today: Some(t.token_requests_today),
                token_requests_by_day: t.token_requests_by_day.into_iter().map(|d| (d.day, d.count)).collect(),
            })
            .collect()
    } else {
        c.auth
            .my_tenants(&actor)
            .await
            .map_err(err)?
            .into_iter()
            .map(|(t, role)| TenantRow {
                slug: t.slug,
                name: t.name,
                status: t.status.as_str().into(),
                role: role.to_string(),
                users: None,
                links: None,
                token_requests_today: None,
                token_requests_by_day: Vec::new(),
            })
            .collect()
    };
    let health = if operator {
        Some(match c.auth.ready().await {
            Ok(()) => "Database and KV store answer.".to_owned(),
            Err(e) => format!("Degraded: {e}"),
        })
    } else {
        None
    };
    Ok(Home { email, operator, health, tenants })
}

#[server(prefix = "/admin/fn")]
pub async fn set_tenant_suspended(slug: String, suspend: bool) -> Result<(), ServerFnError> {
    let c = ctx()?;
    let actor = crate::server::actor().await?;
    let status = if suspend {
        latchkey_store::records::TenantStatus::Suspended
    } else {
        latchkey_store::records::TenantStatus::Active
    };
    c.auth.set_tenant_status(&actor, &slug, status).await.map_err(err)
}

#[cfg(feature = "ssr")]
fn skill_row(v: latchkey_oauth::manage::SkillView) -> SkillRow {
    use latchkey_core::refresh::RefreshPolicy;
    let (refresh_policy, grace_secs) = match v.client.refresh_policy {
        RefreshPolicy::Rotate { grace_secs } => ("rotate", grace_secs),
        RefreshPolicy::Fixed { .. } => ("fixed", latchkey_core::refresh::DEFAULT_GRACE_SECS),
    };
    SkillRow {
        app_redirect_urls: latchkey_alexa::registration::app_redirect_urls(&v.skill, &v.client),
        vendor_id: v.skill.vendor_id,
        regions: v.skill.regions.iter().map(|r| r.as_str().to_owned()).collect(),
        auth_method: v.client.auth_method.as_str().into(),
        refresh_policy: refresh_policy.into(),
        grace_secs,
        lwa_client_id: v.skill.lwa_client_id,
        has_lwa_client_secret: v.skill.has_lwa_client_secret,
        id: v.skill.id,
        name: v.skill.name,
        alexa_skill_id: v.skill.alexa_skill_id,
        kind: v.skill.kind.as_str().into(),
        region: latchkey_core::alexa::regions_text(&v.skill.regions),
        client_id: v.client.client_id,
        authorization_uri: v.authorization_uri,
        access_token_uri: v.access_token_uri,
        redirect_uris: v.client.redirect_uris,
        scopes: v.client.scopes.join(" "),
        auth_scheme: match v.client.auth_method {
            latchkey_core::client_auth::ClientAuthMethod::ClientSecretBasic => "HTTP Basic (Recommended)".into(),
            _ => "Credentials in request body".into(),
        },
        access_token_ttl: v.client.access_token_ttl,
        events: EventSummary::default(),
    }
}

#[server(prefix = "/admin/fn")]
pub async fn list_skills(slug: String) -> Result<Vec<SkillRow>, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let mut rows = Vec::new();
    for v in c.auth.list_skills(&a).await.map_err(err)? {
        let mut row = skill_row(v);
        let counts = c.auth.skill_delivery_counts(&a, &row.id).await.map_err(err)?;
        let page = latchkey_oauth::manage::PageReq::parse(None, Some(5)).map_err(err)?;
        let recent = c.auth.skill_event_deliveries(&a, &row.id, None, page).await.map_err(err)?;
        row.events = EventSummary {
            pending: counts.pending,
            delivered: counts.delivered,
            failed: counts.failed,
            recent: recent
                .items
                .into_iter()
                .map(|d| {
                    let detail = d.last_code.or(d.last_status.map(|s| s.to_string())).unwrap_or_default();
                    (d.status, detail, d.created_at)
                })
                .collect(),
        };
        rows.push(row);
    }
    Ok(rows)
}

#[server(prefix = "/admin/fn")]
#[allow(clippy::too_many_arguments)]
pub async fn create_skill(
    slug: String,
    name: String,
    alexa_skill_id: String,
    vendor_id: String,
    kind: String,
    region: String,
    auth_method: String,
    access_token_ttl: String,
    lwa_client_id: String,
    lwa_client_secret: String,
) -> Result<CreatedSkillRow, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let ttl = match access_token_ttl.trim() {
        "" => None,
        t => Some(
            t.parse::<i64>()
                .map_err(|_| crate::server::bad_input("access-token lifetime must be a number of seconds"))?,
        ),
    };
    let lwa = match (lwa_client_id.trim(), lwa_client_secret.trim()) {
        ("", "") => None,
        (id, secret) if !id.is_empty() && !secret.is_empty() => Some((id.to_owned(), secret.to_owned())),
        _ => return Err(crate::server::bad_input("give both Login with Amazon values, or neither")),
    };
    let auth_method: latchkey_core::client_auth::ClientAuthMethod =
        auth_method.parse().map_err(|e: String| crate::server::bad_input(e))?;
    let kind = serde_json::from_value(serde_json::Value::String(kind))
        .map_err(|_| crate::server::bad_input("unknown skill kind"))?;
    let regions = latchkey_core::alexa::parse_regions(&region).map_err(crate::server::bad_input)?;
    let opts = latchkey_oauth::admin::ClientOptions { auth_method, access_token_ttl: ttl, ..Default::default() };
    let s = c
        .auth
        .create_skill(&a, &name, alexa_skill_id.trim(), vendor_id.trim(), kind, &regions, lwa, &opts)
        .await
        .map_err(err)?;
    let view = c.auth.get_skill(&a, &s.id).await.map_err(err)?;
    crate::server::keep_for_next_page("Client secret", &s.client_secret).await;
    Ok(CreatedSkillRow { skill: skill_row(view), client_secret: s.client_secret })
}

/// The skill's edit form. Region checkboxes arrive only when ticked; the default region is always one of
/// the skill's. A blank messaging secret keeps the stored one.
#[server(prefix = "/admin/fn")]
#[allow(clippy::too_many_arguments)]
pub async fn update_skill(
    slug: String,
    skill: String,
    name: String,
    vendor_id: String,
    default_region: String,
    region_na: Option<String>,
    region_eu: Option<String>,
    region_fe: Option<String>,
    auth_method: String,
    access_token_ttl: i64,
    refresh_policy: String,
    grace_secs: i64,
    lwa_client_id: String,
    lwa_client_secret: String,
    remove_lwa: Option<String>,
    app_redirect_urls: String,
) -> Result<SkillRow, ServerFnError> {
    use latchkey_core::refresh::RefreshPolicy;
    let (c, a) = access(&slug).await?;
    let bad = crate::server::bad_input;
    let mut regions = vec![default_region.parse::<latchkey_core::alexa::AlexaRegion>().map_err(bad)?];
    for (ticked, r) in [(region_na, "NA"), (region_eu, "EU"), (region_fe, "FE")] {
        if ticked.is_some() {
            regions.push(r.parse().map_err(bad)?);
        }
    }
    let current = c.auth.get_skill(&a, &skill).await.map_err(err)?;
    let refresh_policy = match refresh_policy.as_str() {
        // A fixed policy keeps its idle expiry, which this form does not show.
        "fixed" => match current.client.refresh_policy {
            p @ RefreshPolicy::Fixed { .. } => p,
            RefreshPolicy::Rotate { .. } => RefreshPolicy::Fixed { idle_secs: None },
        },
        _ => RefreshPolicy::Rotate { grace_secs },
    };
    let (lwa_id, lwa_secret) = (lwa_client_id.trim(), lwa_client_secret.trim());
    let remove = remove_lwa.is_some();
    let u = latchkey_oauth::skill_update::SkillUpdate {
        name: Some(name),
        vendor_id: Some(vendor_id),
        regions: Some(regions),
        lwa_client_id: (!remove && !lwa_id.is_empty()).then(|| lwa_id.to_owned()),
        lwa_client_secret: (!remove && !lwa_secret.is_empty()).then(|| lwa_secret.to_owned()),
        remove_lwa_credentials: remove,
        app_redirect_urls: Some(
            app_redirect_urls.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect(),
        ),
        auth_method: Some(auth_method.parse().map_err(bad)?),
        access_token_ttl: Some(access_token_ttl),
        refresh_policy: Some(refresh_policy),
        ..Default::default()
    };
    let view = c.auth.update_skill(&a, &current.skill.id, u).await.map_err(err)?;
    Ok(skill_row(view))
}

#[server(prefix = "/admin/fn")]
pub async fn simulate(
    slug: String,
    skill: String,
    email: String,
    password: String,
    client_secret: String,
) -> Result<Vec<StepRow>, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let r = c.alexa.simulate(&a, &skill, &email, &password, &client_secret).await.map_err(err)?;
    Ok(r.steps
        .into_iter()
        .map(|s| StepRow {
            step: s.step.into(),
            ok: s.ok,
            http_status: s.http_status,
            millis: s.millis as u64,
            alexa_sees: s.alexa_sees,
        })
        .collect())
}

#[server(prefix = "/admin/fn")]
pub async fn list_users(slug: String, q: String) -> Result<Vec<UserRow>, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let page = latchkey_oauth::manage::PageReq::parse(None, Some(100)).map_err(err)?;
    let p = c.auth.search_users(&a, Some(q.as_str()), page).await.map_err(err)?;
    let providers = c.auth.list_providers(&a).await.map_err(err)?;
    let mut rows = Vec::with_capacity(p.items.len());
    for u in p.items {
        let ids = c.auth.federated_identities(&a, &u.id).await.map_err(err)?;
        let federated = ids
            .into_iter()
            .map(|f| {
                let name = providers.iter().find(|p| p.id == f.provider_id).map(|p| p.name.clone()).unwrap_or_default();
                format!("{name}: {}", f.subject)
            })
            .collect();
        rows.push(UserRow {
            id: u.id,
            federated,
            email: u.email,
            name: u.name,
            disabled: u.disabled,
            email_verified: u.email_verified,
        });
    }
    Ok(rows)
}

#[server(prefix = "/admin/fn")]
pub async fn create_user(slug: String, email: String, name: String, password: String) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let name = Some(name.trim().to_owned()).filter(|n| !n.is_empty());
    let u =
        c.auth.create_user(&a, &email, Some(password.as_str()).filter(|p| !p.is_empty()), name).await.map_err(err)?;
    Ok(u.email)
}

/// Creates the user without a password and mails a link to choose one.
#[server(prefix = "/admin/fn")]
pub async fn invite_user(slug: String, email: String, name: String) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let name = Some(name.trim().to_owned()).filter(|n| !n.is_empty());
    let u = c.auth.invite_user(&a, &email, name).await.map_err(err)?;
    Ok(format!("Invitation mailed to {}.", u.email))
}

#[server(prefix = "/admin/fn")]
pub async fn send_user_reset(slug: String, user: String) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    c.auth.send_user_password_reset(&a, &user).await.map_err(err)?;
    Ok("Reset link mailed.".into())
}

#[server(prefix = "/admin/fn")]
pub async fn set_user_disabled(slug: String, user: String, disabled: bool) -> Result<(), ServerFnError> {
    let (c, a) = access(&slug).await?;
    c.auth.set_user_disabled(&a, &user, disabled).await.map_err(err)?;
    Ok(())
}

#[server(prefix = "/admin/fn")]
pub async fn set_user_password(slug: String, user: String, password: String) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    c.auth.set_user_password(&a, &user, &password).await.map_err(err)?;
    Ok("Password set.".into())
}

#[server(prefix = "/admin/fn")]
pub async fn list_links(slug: String, q: String, skill: String) -> Result<Vec<LinkRow>, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let page = latchkey_oauth::manage::PageReq::parse(None, Some(100)).map_err(err)?;
    let user = Some(q.trim()).filter(|q| !q.is_empty());
    let skill = Some(skill.trim()).filter(|s| !s.is_empty());
    let p = c.auth.search_links(&a, user, skill, page).await.map_err(err)?;
    Ok(p.items
        .into_iter()
        .map(|l| LinkRow {
            id: l.link.id,
            user_email: l.user_email.unwrap_or_default(),
            skill: l.alexa_skill_id.or(l.client_name).unwrap_or_default(),
            scopes: l.link.scopes.join(" "),
            status: l.link.status,
            created_at: l.link.created_at,
            last_refreshed_at: l.link.last_refreshed_at,
            alexa_grants: l
                .alexa_grants
                .into_iter()
                .map(|g| AlexaGrantRow {
                    id: g.id,
                    region: g.region.as_str().to_owned(),
                    status: g.status,
                    created_at: g.created_at,
                    last_refreshed_at: g.last_refreshed_at,
                    has_amazon_tokens: g.has_amazon_tokens,
                    last_event_status: g.last_event_status,
                    last_event_at: g.last_event_at,
                })
                .collect(),
        })
        .collect())
}

/// Unlinks one Alexa account of a household; the others keep their grants.
#[server(prefix = "/admin/fn")]
pub async fn revoke_alexa_grant(slug: String, link: String, grant: String) -> Result<(), ServerFnError> {
    let (c, a) = access(&slug).await?;
    c.auth.revoke_alexa_grant(&a, &link, &grant).await.map_err(err)?;
    Ok(())
}

#[server(prefix = "/admin/fn")]
pub async fn revoke_link(slug: String, link: String) -> Result<(), ServerFnError> {
    let (c, a) = access(&slug).await?;
    c.auth.revoke_link(&a, &link).await.map_err(err)?;
    Ok(())
}

#[server(prefix = "/admin/fn")]
pub async fn list_audit(slug: String, action: String) -> Result<Vec<AuditRow>, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let page = latchkey_oauth::manage::PageReq::parse(None, Some(200)).map_err(err)?;
    let f = latchkey_store::repo::AuditFilter { action: Some(action).filter(|a| !a.is_empty()), ..Default::default() };
    let p = c.auth.search_audit(&a, &f, page).await.map_err(err)?;
    Ok(p.items
        .into_iter()
        .map(|e| AuditRow { at: e.at, actor: e.actor, action: e.action, target: e.target, ip: e.ip })
        .collect())
}
