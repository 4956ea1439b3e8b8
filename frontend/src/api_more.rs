//! Server functions of the configuration pages: members and invitations, password reset, OAuth
//! clients, upstream providers, branding, API keys, token signing keys, skill readiness.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::server::{access, check_origin, client_ip, ctx, err, request};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MemberRow {
    pub id: String,
    pub email: String,
    pub role: String,
    pub verified: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct InvitationRow {
    pub tenant_slug: String,
    pub email: String,
    pub role: String,
    pub account_exists: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClientRow {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: String,
    pub auth_method: String,
    pub access_token_ttl: i64,
    pub refresh_policy: String,
    pub grace_secs: i64,
    /// While a rotation's grace period lasts: when the replaced secret stops working.
    pub previous_secret_expires_at: Option<i64>,
    /// RS256, ES256 or EdDSA.
    pub id_token_alg: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ProviderRow {
    pub slug: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub scopes: String,
    pub link_by_email: bool,
    pub create_users: bool,
    pub callback_uri: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct BrandingRow {
    pub display_name: String,
    pub brand_color: String,
    pub logo_url: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReadinessRow {
    pub id: String,
    pub status: String,
    pub detail: String,
    pub fix: Option<String>,
}

#[cfg(feature = "ssr")]
fn role(s: &str) -> Result<latchkey_core::role::Role, ServerFnError> {
    s.parse().map_err(crate::server::bad_input)
}

#[server(prefix = "/admin/fn")]
pub async fn list_members(slug: String) -> Result<Vec<MemberRow>, ServerFnError> {
    let (c, a) = access(&slug).await?;
    Ok(c.auth
        .list_members(&a)
        .await
        .map_err(err)?
        .into_iter()
        .map(|m| MemberRow { id: m.id, email: m.email, role: m.role.to_string(), verified: m.email_verified })
        .collect())
}

#[server(prefix = "/admin/fn")]
pub async fn invite_member(slug: String, email: String, role: String) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    c.auth.invite_member(&a, &email, self::role(&role)?).await.map_err(err)?;
    Ok(format!("Invitation sent to {}.", email.trim()))
}

#[server(prefix = "/admin/fn")]
pub async fn set_member_role(slug: String, member: String, role: String) -> Result<(), ServerFnError> {
    let (c, a) = access(&slug).await?;
    c.auth.set_member_role(&a, &member, self::role(&role)?).await.map_err(err)?;
    Ok(())
}

#[server(prefix = "/admin/fn")]
pub async fn remove_member(slug: String, member: String) -> Result<(), ServerFnError> {
    let (c, a) = access(&slug).await?;
    c.auth.remove_member(&a, &member).await.map_err(err)
}

#[server(prefix = "/admin/fn")]
pub async fn invitation_info(token: String) -> Result<InvitationRow, ServerFnError> {
    let i = ctx()?.auth.invitation_info(&token).await.map_err(err)?;
    Ok(InvitationRow {
        tenant_slug: i.tenant_slug,
        email: i.email,
        role: i.role.to_string(),
        account_exists: i.account_exists,
    })
}

#[server(prefix = "/admin/fn")]
pub async fn accept_invitation(token: String, password: String) -> Result<String, ServerFnError> {
    let c = ctx()?;
    let req = request().await?;
    check_origin(&c, &req)?;
    let m = c.auth.accept_invitation(&token, &password, &client_ip(&req, &c.trusted_proxies)).await.map_err(err)?;
    Ok(format!("You joined as {}. Sign in to continue.", m.role))
}

#[server(prefix = "/admin/fn")]
pub async fn request_reset(email: String) -> Result<String, ServerFnError> {
    let c = ctx()?;
    let req = request().await?;
    check_origin(&c, &req)?;
    c.auth.request_password_reset(&email, &client_ip(&req, &c.trusted_proxies)).await.map_err(err)?;
    Ok("If that address has an account, a reset link is on its way.".into())
}

#[server(prefix = "/admin/fn")]
pub async fn reset_password(token: String, password: String) -> Result<String, ServerFnError> {
    let c = ctx()?;
    check_origin(&c, &request().await?)?;
    c.auth.reset_password(&token, &password).await.map_err(err)?;
    Ok("Your password is changed and every session is signed out. Sign in with the new password.".into())
}

#[cfg(feature = "ssr")]
fn client_row(c: latchkey_store::records::Client) -> ClientRow {
    let (refresh_policy, grace_secs) = match c.refresh_policy {
        latchkey_core::refresh::RefreshPolicy::Rotate { grace_secs } => ("rotate".to_owned(), grace_secs),
        latchkey_core::refresh::RefreshPolicy::Fixed { .. } => ("fixed".to_owned(), 0),
    };
    ClientRow {
        client_id: c.client_id,
        name: c.name,
        redirect_uris: c.redirect_uris,
        grant_types: c.grant_types,
        scopes: c.scopes.join(" "),
        auth_method: c.auth_method.as_str().into(),
        access_token_ttl: c.access_token_ttl,
        refresh_policy,
        grace_secs,
        previous_secret_expires_at: c.previous_secret_expires_at,
        id_token_alg: c.id_token_signed_response_alg.as_str().to_owned(),
    }
}

#[cfg(feature = "ssr")]
fn auth_method(s: &str) -> Result<latchkey_core::client_auth::ClientAuthMethod, ServerFnError> {
    s.parse().map_err(|e: String| crate::server::bad_input(e))
}

#[cfg(feature = "ssr")]
fn lines(s: &str) -> Vec<String> {
    s.split(['\n', ',']).map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

#[server(prefix = "/admin/fn")]
pub async fn list_clients(slug: String) -> Result<Vec<ClientRow>, ServerFnError> {
    let (c, a) = access(&slug).await?;
    Ok(c.auth.list_clients(&a).await.map_err(err)?.into_iter().map(client_row).collect())
}

#[server(prefix = "/admin/fn")]
#[allow(clippy::too_many_arguments)]
pub async fn create_client(
    slug: String,
    name: String,
    redirect_uris: String,
    grant_code: Option<String>,
    grant_refresh: Option<String>,
    grant_client_credentials: Option<String>,
    auth_method: String,
) -> Result<(ClientRow, String), ServerFnError> {
    let (c, a) = access(&slug).await?;
    let grant_types: Vec<String> = [
        (grant_code, "authorization_code"),
        (grant_refresh, "refresh_token"),
        (grant_client_credentials, "client_credentials"),
    ]
    .into_iter()
    .filter_map(|(on, g)| on.map(|_| g.to_owned()))
    .collect();
    let opts =
        latchkey_oauth::admin::ClientOptions { auth_method: self::auth_method(&auth_method)?, ..Default::default() };
    let created = c.auth.create_client(&a, &name, lines(&redirect_uris), grant_types, &opts).await.map_err(err)?;
    crate::server::keep_for_next_page("Client secret", &created.client_secret).await;
    Ok((client_row(created.client), created.client_secret))
}

#[server(prefix = "/admin/fn")]
#[allow(clippy::too_many_arguments)]
pub async fn update_client(
    slug: String,
    client_id: String,
    redirect_uris: String,
    scopes: String,
    auth_method: String,
    access_token_ttl: i64,
    refresh_policy: String,
    grace_secs: i64,
    id_token_alg: String,
) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let id_token_alg = id_token_alg.parse::<latchkey_core::signing::SigningAlg>().map_err(crate::server::bad_input)?;
    let policy = match refresh_policy.as_str() {
        "fixed" => latchkey_core::refresh::RefreshPolicy::Fixed { idle_secs: None },
        _ => latchkey_core::refresh::RefreshPolicy::Rotate { grace_secs },
    };
    let u = latchkey_oauth::manage::ClientUpdate {
        redirect_uris: Some(lines(&redirect_uris)),
        scopes: Some(scopes),
        auth_method: Some(self::auth_method(&auth_method)?),
        access_token_ttl: Some(access_token_ttl),
        refresh_policy: Some(policy),
        id_token_signed_response_alg: Some(id_token_alg),
        ..Default::default()
    };
    c.auth.update_client(&a, &client_id, u).await.map_err(err)?;
    Ok(format!("Client {client_id} saved."))
}

/// A new secret, and until when the replaced one still works (`grace_hours` 0: not at all).
#[server(prefix = "/admin/fn")]
pub async fn rotate_client_secret(
    slug: String,
    client_id: String,
    grace_hours: i64,
) -> Result<(String, Option<i64>), ServerFnError> {
    let (c, a) = access(&slug).await?;
    let grace =
        grace_hours.checked_mul(3600).ok_or_else(|| crate::server::bad_input("the grace period is too long"))?;
    let r = c.auth.rotate_client_secret(&a, &client_id, Some(grace)).await.map_err(err)?;
    crate::server::keep_for_next_page("Client secret", &r.client_secret).await;
    Ok((r.client_secret, r.previous_secret_expires_at))
}

#[server(prefix = "/admin/fn")]
pub async fn list_providers(slug: String) -> Result<Vec<ProviderRow>, ServerFnError> {
    let (c, a) = access(&slug).await?;
    Ok(c.auth
        .list_providers(&a)
        .await
        .map_err(err)?
        .into_iter()
        .map(|p| ProviderRow {
            callback_uri: c.auth.federation_callback_uri(&a, &p.slug),
            slug: p.slug,
            name: p.name,
            issuer: p.issuer,
            client_id: p.client_id,
            scopes: p.scopes.join(" "),
            link_by_email: p.link_by_email,
            create_users: p.create_users,
        })
        .collect())
}

#[server(prefix = "/admin/fn")]
#[allow(clippy::too_many_arguments)]
pub async fn create_provider(
    slug: String,
    provider: String,
    name: String,
    issuer: String,
    client_id: String,
    client_secret: String,
    link_by_email: Option<String>,
    create_users: Option<String>,
) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let input = latchkey_oauth::admin::ProviderInput {
        slug: provider,
        name,
        issuer,
        client_id,
        client_secret,
        scopes: None,
        link_by_email: link_by_email.is_some(),
        create_users: create_users.is_some(),
        claim_map: None,
    };
    let (_, callback) = c.auth.create_provider(&a, input).await.map_err(err)?;
    Ok(callback)
}

#[server(prefix = "/admin/fn")]
#[allow(clippy::too_many_arguments)]
pub async fn update_provider(
    slug: String,
    provider: String,
    name: String,
    issuer: String,
    client_id: String,
    client_secret: String,
    link_by_email: Option<String>,
    create_users: Option<String>,
) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let u = latchkey_oauth::admin::ProviderUpdate {
        name: Some(name),
        issuer: Some(issuer),
        client_id: Some(client_id),
        // Empty keeps the stored secret: it is never sent back to the browser.
        client_secret: Some(client_secret).filter(|s| !s.is_empty()),
        link_by_email: Some(link_by_email.is_some()),
        create_users: Some(create_users.is_some()),
        ..Default::default()
    };
    let p = c.auth.update_provider(&a, &provider, u).await.map_err(err)?;
    Ok(format!("{} saved.", p.name))
}

#[server(prefix = "/admin/fn")]
pub async fn test_provider(slug: String, provider: String) -> Result<(bool, String), ServerFnError> {
    let (c, a) = access(&slug).await?;
    Ok(match c.auth.test_provider(&a, &provider).await.map_err(err)? {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    })
}

#[server(prefix = "/admin/fn")]
pub async fn delete_provider(slug: String, provider: String) -> Result<(), ServerFnError> {
    let (c, a) = access(&slug).await?;
    c.auth.delete_provider(&a, &provider).await.map_err(err)
}

#[server(prefix = "/admin/fn")]
pub async fn get_branding(slug: String) -> Result<BrandingRow, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let b = c.auth.branding(&a);
    Ok(BrandingRow {
        display_name: b.display_name.unwrap_or_default(),
        brand_color: b.brand_color.unwrap_or_default(),
        logo_url: b.logo_url.unwrap_or_default(),
    })
}

#[server(prefix = "/admin/fn")]
pub async fn set_branding(
    slug: String,
    display_name: String,
    brand_color: String,
    logo_url: String,
) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let b = latchkey_oauth::manage::Branding {
        display_name: Some(display_name),
        brand_color: Some(brand_color),
        logo_url: Some(logo_url),
    };
    c.auth.set_branding(&a, b).await.map_err(err)?;
    Ok("Branding saved: the login pages show it now.".into())
}

/// Whether a user's own password reset keeps their Alexa links.
#[server(prefix = "/admin/fn")]
pub async fn get_password_policy(slug: String) -> Result<bool, ServerFnError> {
    let (c, a) = access(&slug).await?;
    Ok(c.auth.password_policy(&a).keep_grants_on_self_service_reset)
}

/// `after_reset`: `keep` (grants survive a reset by mailed link) or `end` (the default).
#[server(prefix = "/admin/fn")]
pub async fn set_password_policy(slug: String, after_reset: String) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let keep = match after_reset.as_str() {
        "keep" => true,
        "end" => false,
        _ => return Err(crate::server::bad_input("choose keep or end")),
    };
    let p = latchkey_oauth::manage::PasswordPolicy { keep_grants_on_self_service_reset: keep };
    c.auth.set_password_policy(&a, p).await.map_err(err)?;
    Ok(if keep {
        "Saved: a user's own reset ends their browser sessions and keeps their Alexa links.".into()
    } else {
        "Saved: a user's own reset ends their browser sessions and their Alexa links.".into()
    })
}

#[server(prefix = "/admin/fn")]
pub async fn list_api_keys(slug: String) -> Result<Vec<KeyRow>, ServerFnError> {
    let (c, a) = access(&slug).await?;
    Ok(c.auth
        .list_api_keys(&a)
        .await
        .map_err(err)?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
        })
        .collect())
}

#[server(prefix = "/admin/fn")]
pub async fn create_api_key(slug: String, name: String) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let key = c.auth.create_api_key(&a, &name).await.map_err(err)?.key;
    crate::server::keep_for_next_page("API key", &key).await;
    Ok(key)
}

/// The one-time value kept for this page by a plain form post, once.
#[server(prefix = "/admin/fn")]
pub async fn take_one_time_value() -> Result<Option<(String, String)>, ServerFnError> {
    let c = crate::server::ctx()?;
    match crate::server::session().await? {
        Some((_, sid)) => c.auth.take_flash(&sid).await.map_err(err),
        None => Ok(None),
    }
}

#[server(prefix = "/admin/fn")]
pub async fn delete_api_key(slug: String, key: String) -> Result<(), ServerFnError> {
    let (c, a) = access(&slug).await?;
    c.auth.delete_api_key(&a, &key).await.map_err(err)
}

#[server(prefix = "/admin/fn")]
pub async fn readiness(slug: String, skill: String) -> Result<Vec<ReadinessRow>, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let r = c.alexa.readiness(&a, &skill).await.map_err(crate::server::alexa_err)?;
    Ok(r.items
        .into_iter()
        .map(|i| ReadinessRow {
            id: i.id.into(),
            status: serde_json::to_value(i.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            detail: i.detail,
            fix: i.fix,
        })
        .collect())
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub state: String,
    pub created_at: i64,
    pub signs_access_tokens: bool,
}

#[server(prefix = "/admin/fn")]
pub async fn list_signing_keys(slug: String) -> Result<Vec<SigningKeyRow>, ServerFnError> {
    let (c, a) = access(&slug).await?;
    Ok(c.auth
        .signing_keys(&a)
        .await
        .map_err(err)?
        .into_iter()
        .map(|k| SigningKeyRow {
            kid: k.kid,
            alg: k.alg,
            state: k.state,
            created_at: k.created_at,
            signs_access_tokens: k.signs_access_tokens,
        })
        .collect())
}

/// `alg`: RS256, ES256 or EdDSA; empty keeps the current key's algorithm.
#[server(prefix = "/admin/fn")]
pub async fn rotate_signing_key(slug: String, alg: String) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let alg = match alg.as_str() {
        "" => None,
        s => Some(s.parse::<latchkey_oauth::keys::SigningAlg>().map_err(crate::server::bad_input)?),
    };
    let k = c.auth.rotate_signing_key(&a, alg).await.map_err(err)?;
    Ok(format!(
        "Access tokens are signed with {} key {} from now on, and each client's ID tokens with a new key of its \
         algorithm. The previous keys stay published, so tokens they signed keep verifying.",
        k.alg, k.kid
    ))
}
