//! Management operations: what the CLI calls today and the dashboard and management API will call.
//! One place for each rule (slug format, redirect URIs, Alexa's minimum token lifetime), so no
//! adapter can skip one.
use latchkey_core::alexa::{self, AlexaRegion, SkillKind};
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_core::hashing::secret_hash;
use latchkey_core::refresh::{DEFAULT_GRACE_SECS, RefreshPolicy};
use latchkey_core::{redirect, scope, slug};
use latchkey_store::records::{
    ApiKey, Client, EndUser, GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_REFRESH_TOKEN, NewClient,
    NewSkill, Operator, Skill, Tenant,
};
use serde::Serialize;
use serde_json::json;

use crate::access::Access;
use crate::error::{ServiceError, ServiceResult};
use crate::keys::{SigningAlg, generate_key_set};
use crate::password::PasswordHasher;
use crate::{AuthServer, random};

pub const DEFAULT_ACCESS_TOKEN_TTL: i64 = 3600;
pub const DEFAULT_CLIENT_SCOPES: &str = "openid profile email";
pub const DEFAULT_SKILL_SCOPES: &str = "openid profile";

/// Options shared by skills and plain clients.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub auth_method: ClientAuthMethod,
    pub scopes: Option<String>,
    pub access_token_ttl: Option<i64>,
    pub refresh_policy: Option<RefreshPolicy>,
    pub refresh_token_ttl: Option<i64>,
    pub require_pkce: bool,
    /// The algorithm of the client's ID tokens; RS256 when not given (OIDC Registration §2).
    pub id_token_signed_response_alg: Option<SigningAlg>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            auth_method: ClientAuthMethod::ClientSecretBasic,
            scopes: None,
            access_token_ttl: None,
            refresh_policy: None,
            refresh_token_ttl: None,
            require_pkce: false,
            id_token_signed_response_alg: None,
        }
    }
}

/// A client with its secret, shown once.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedClient {
    pub client_id: String,
    pub client_secret: String,
    #[serde(skip)]
    pub client: Client,
}

/// What the Alexa console's account-linking page asks for.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedSkill {
    pub id: String,
    pub client_id: String,
    pub client_secret: String,
    pub authorization_uri: String,
    pub access_token_uri: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub auth_method: ClientAuthMethod,
    #[serde(skip)]
    pub skill: Skill,
}

/// How long a replaced client secret keeps working unless the rotation says otherwise, and at most.
pub const DEFAULT_SECRET_GRACE_SECS: i64 = 86_400;
pub const MAX_SECRET_GRACE_SECS: i64 = 30 * 86_400;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedSecret {
    pub client_id: String,
    /// Shown once.
    pub client_secret: String,
    /// Until when (Unix seconds) the replaced secret keeps working; absent when it stopped at once.
    pub previous_secret_expires_at: Option<i64>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    pub id: String,
    pub key: String,
}

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(msg.into())
}

pub(crate) fn parse_scopes(s: &str) -> ServiceResult<Vec<String>> {
    let v = scope::parse(s).map_err(|e| invalid(e.description))?;
    if v.is_empty() {
        return Err(invalid("at least one scope is required"));
    }
    Ok(v)
}

/// A client's (and its skill's) display name, trimmed.
pub(crate) fn check_name(name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(invalid("client name must be 1-200 characters"));
    }
    Ok(name.to_owned())
}

pub(crate) fn check_redirect_uris(uris: &[String], grant_types: &[String]) -> ServiceResult<()> {
    for u in uris {
        redirect::validate_registered(u).map_err(invalid)?;
    }
    if grant_types.iter().any(|g| g == GRANT_AUTHORIZATION_CODE) && uris.is_empty() {
        return Err(invalid("the authorization_code grant needs at least one redirect URI"));
    }
    Ok(())
}

pub(crate) fn check_refresh_policy(policy: RefreshPolicy) -> ServiceResult<()> {
    if let RefreshPolicy::Rotate { grace_secs } = policy
        && !(0..=86_400 * 7).contains(&grace_secs)
    {
        return Err(invalid("refresh grace window must be 0 to 7 days"));
    }
    Ok(())
}

/// Alexa's console takes at most 15 scopes for a skill.
pub(crate) fn check_skill_scopes(scopes: &[String]) -> ServiceResult<()> {
    if scopes.len() > alexa::MAX_SCOPES {
        return Err(invalid(format!("Alexa allows at most {} scopes for a skill", alexa::MAX_SCOPES)));
    }
    Ok(())
}

pub(crate) fn validate_lwa(client_id: &str, client_secret: &str) -> ServiceResult<()> {
    alexa::validate_lwa_credential("client id", client_id, alexa::MAX_LWA_CLIENT_ID).map_err(invalid)?;
    alexa::validate_lwa_credential("client secret", client_secret, alexa::MAX_LWA_CLIENT_SECRET).map_err(invalid)
}

pub(crate) fn check_ttl(ttl: i64, min: i64, what: &str) -> ServiceResult<()> {
    if ttl < min {
        return Err(invalid(format!("{what} must be at least {min} seconds")));
    }
    if ttl > 86_400 * 30 {
        return Err(invalid(format!("{what} must be at most 30 days")));
    }
    Ok(())
}

impl AuthServer {
    pub async fn create_tenant(&self, slug: &str, name: &str) -> ServiceResult<(Tenant, String)> {
        self.create_tenant_signing_with(slug, name, SigningAlg::default()).await
    }

    /// Creates a tenant whose access tokens are signed with `alg` from the start. It gets a key of every
    /// algorithm: each client's ID tokens are signed with the one it registered (RS256 by default).
    pub async fn create_tenant_signing_with(
        &self,
        slug: &str,
        name: &str,
        alg: SigningAlg,
    ) -> ServiceResult<(Tenant, String)> {
        slug::validate_slug(slug).map_err(|e| invalid(e.to_string()))?;
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(invalid("tenant name must be 1-200 characters"));
        }
        let keys = generate_key_set().await?;
        let tenant = self.store.create_tenant(slug, name, alg, keys).await?;
        self.invalidate(slug, &tenant.id);
        self.store
            .scoped(&tenant.id)
            .audit("cli", "tenant.created", Some(&tenant.slug), json!({"name": name, "signing_alg": alg}), None)
            .await?;
        let issuer = self.issuer_for(&tenant.slug);
        Ok((tenant, issuer))
    }

    fn build_client(
        &self,
        name: &str,
        redirect_uris: Vec<String>,
        grant_types: Vec<String>,
        opts: &ClientOptions,
        min_ttl: i64,
        default_scopes: &str,
    ) -> ServiceResult<(NewClient, String)> {
        let name = check_name(name)?;
        check_redirect_uris(&redirect_uris, &grant_types)?;
        let ttl = opts.access_token_ttl.unwrap_or(DEFAULT_ACCESS_TOKEN_TTL);
        check_ttl(ttl, min_ttl, "access-token lifetime")?;
        if let Some(rt) = opts.refresh_token_ttl {
            check_ttl(rt, 3600, "refresh-token lifetime")?;
        }
        let policy = opts.refresh_policy.unwrap_or(RefreshPolicy::Rotate { grace_secs: DEFAULT_GRACE_SECS });
        check_refresh_policy(policy)?;
        let secret = random::secret()?;
        Ok((
            NewClient {
                client_id: random::client_id()?,
                name,
                secret_hash: Some(secret_hash(&secret)),
                redirect_uris,
                auth_method: opts.auth_method,
                grant_types,
                scopes: parse_scopes(opts.scopes.as_deref().unwrap_or(default_scopes))?,
                require_pkce: opts.require_pkce,
                access_token_ttl: ttl,
                refresh_policy: policy,
                refresh_token_ttl: opts.refresh_token_ttl,
                id_token_signed_response_alg: opts.id_token_signed_response_alg.unwrap_or_default(),
            },
            secret,
        ))
    }

    pub async fn create_client(
        &self,
        t: &Access,
        name: &str,
        redirect_uris: Vec<String>,
        grant_types: Vec<String>,
        opts: &ClientOptions,
    ) -> ServiceResult<CreatedClient> {
        t.require_write()?;
        let known = [GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_CLIENT_CREDENTIALS];
        if grant_types.is_empty() {
            return Err(invalid("at least one grant type is required"));
        }
        if let Some(g) = grant_types.iter().find(|g| !known.contains(&g.as_str())) {
            return Err(invalid(format!("unknown grant type '{g}' ({})", known.join(", "))));
        }
        let (new, secret) = self.build_client(name, redirect_uris, grant_types, opts, 60, DEFAULT_CLIENT_SCOPES)?;
        let client = self.store.scoped(t.id()).create_client(new).await?;
        t.audit(self, "client.created", Some(&client.client_id), json!({"name": client.name})).await?;
        Ok(CreatedClient { client_id: client.client_id.clone(), client_secret: secret, client })
    }

    /// Issues a new secret. The one it replaces keeps working for `grace_secs` (default a day: Alexa
    /// refreshes with the secret in its console about hourly, and the console is updated by hand);
    /// `0` cuts it at once, as after a leak.
    pub async fn rotate_client_secret(
        &self,
        t: &Access,
        client_id: &str,
        grace_secs: Option<i64>,
    ) -> ServiceResult<RotatedSecret> {
        t.require_write()?;
        let grace = grace_secs.unwrap_or(DEFAULT_SECRET_GRACE_SECS);
        if !(0..=MAX_SECRET_GRACE_SECS).contains(&grace) {
            return Err(invalid(format!(
                "the grace period must be 0 to {} days, in seconds",
                MAX_SECRET_GRACE_SECS / 86_400
            )));
        }
        let until = (grace > 0).then(|| latchkey_store::now() + grace);
        let secret = random::secret()?;
        self.store.scoped(t.id()).rotate_client_secret(client_id, &secret_hash(&secret), until).await.map_err(|e| {
            match e {
                latchkey_store::StoreError::NotFound => ServiceError::NotFound(format!("client '{client_id}'")),
                other => other.into(),
            }
        })?;
        self.invalidate_client(t.id(), client_id);
        t.audit(
            self,
            "client.secret_rotated",
            Some(client_id),
            json!({"grace_secs": grace, "previous_secret_expires_at": until}),
        )
        .await?;
        Ok(RotatedSecret { client_id: client_id.to_owned(), client_secret: secret, previous_secret_expires_at: until })
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn create_skill(
        &self,
        t: &Access,
        name: &str,
        alexa_skill_id: &str,
        vendor_id: &str,
        kind: SkillKind,
        regions: &[AlexaRegion],
        lwa: Option<(String, String)>,
        opts: &ClientOptions,
    ) -> ServiceResult<CreatedSkill> {
        t.require_write()?;
        let regions = alexa::parse_regions(&alexa::regions_text(regions)).map_err(invalid)?;
        alexa::validate_skill_id(alexa_skill_id).map_err(invalid)?;
        alexa::validate_vendor_id(vendor_id).map_err(invalid)?;
        if let Some((id, secret)) = &lwa {
            validate_lwa(id, secret)?;
        }
        let redirect_uris = alexa::redirect_uris(vendor_id);
        let grants = vec![GRANT_AUTHORIZATION_CODE.to_owned(), GRANT_REFRESH_TOKEN.to_owned()];
        let (new_client, secret) =
            self.build_client(name, redirect_uris, grants, opts, kind.min_access_token_ttl(), DEFAULT_SKILL_SCOPES)?;
        check_skill_scopes(&new_client.scopes)?;
        let (lwa_client_id, lwa_client_secret) = match lwa {
            Some((id, secret)) => (Some(id), Some(secret)),
            None => (None, None),
        };
        let (skill, client) = self
            .store
            .scoped(t.id())
            .create_skill(
                NewSkill {
                    name: name.trim().to_owned(),
                    alexa_skill_id: alexa_skill_id.to_owned(),
                    vendor_id: vendor_id.to_owned(),
                    kind,
                    regions,
                    lwa_client_id,
                    lwa_client_secret,
                },
                new_client,
            )
            .await?;
        t.audit(self, "skill.created", Some(&skill.alexa_skill_id), json!({"client_id": client.client_id})).await?;
        Ok(CreatedSkill {
            id: skill.id.clone(),
            client_id: client.client_id.clone(),
            client_secret: secret,
            authorization_uri: format!("{}/oauth2/authorize", t.issuer),
            access_token_uri: format!("{}/oauth2/token", t.issuer),
            redirect_uris: client.redirect_uris.clone(),
            scopes: client.scopes.clone(),
            auth_method: client.auth_method,
            skill,
        })
    }

    pub async fn create_user(
        &self,
        t: &Access,
        email: &str,
        password: Option<&str>,
        name: Option<String>,
    ) -> ServiceResult<EndUser> {
        t.require_write()?;
        let email = crate::accounts::validate_email(email)?;
        let hash = match password {
            Some(p) => {
                PasswordHasher::check_policy(p)?;
                Some(self.hasher.hash(p).await?)
            }
            None => None,
        };
        let user = self.store.scoped(t.id()).create_user(&email, hash, name).await?;
        t.audit(self, "user.created", Some(&user.id), json!({"email": user.email})).await?;
        Ok(user)
    }

    pub async fn create_api_key(&self, t: &Access, name: &str) -> ServiceResult<CreatedApiKey> {
        t.require_write()?;
        if name.trim().is_empty() || name.len() > 200 {
            return Err(invalid("API key name must be 1-200 characters"));
        }
        let key = format!("lk_{}", random::secret()?);
        let rec: ApiKey = self.store.scoped(t.id()).create_api_key(name.trim(), &key[..10], &secret_hash(&key)).await?;
        t.audit(self, "apikey.created", Some(&rec.id), json!({"name": rec.name})).await?;
        Ok(CreatedApiKey { id: rec.id, key })
    }

    pub async fn create_operator(&self, email: &str, password: &str) -> ServiceResult<Operator> {
        let email = crate::accounts::validate_email(email)?;
        PasswordHasher::check_policy(password)?;
        let hash = self.hasher.hash(password).await?;
        let o = self.store.create_operator(&email, &hash).await?;
        self.store.audit_global("cli", "operator.created", Some(&o.id), json!({"email": o.email})).await?;
        Ok(o)
    }

    /// Re-seals every secret under the current master key (after `keys rotate-master`); audited as
    /// an installation event with the counts.
    pub async fn reseal_secrets(
        &self,
        actor: &crate::access::Actor,
    ) -> ServiceResult<latchkey_store::repo::ResealReport> {
        Self::require_operator(actor)?;
        let report = self.store.reseal_all().await?;
        self.store
            .audit_global(&actor.label(), "secrets.resealed", None, serde_json::to_value(&report).unwrap_or_default())
            .await?;
        Ok(report)
    }

    pub async fn list_operators(&self, actor: &crate::access::Actor) -> ServiceResult<Vec<Operator>> {
        Self::require_operator(actor)?;
        Ok(self.store.list_operators().await?)
    }

    /// An operator by id or email address.
    pub async fn get_operator(&self, actor: &crate::access::Actor, id_or_email: &str) -> ServiceResult<Operator> {
        Self::require_operator(actor)?;
        self.store
            .operator(id_or_email)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("operator '{id_or_email}'")))
    }

    /// Removes an operator; their dashboard sessions end with them (sessions are checked against the
    /// operator row).
    pub async fn delete_operator(&self, actor: &crate::access::Actor, id_or_email: &str) -> ServiceResult<Operator> {
        let o = self.get_operator(actor, id_or_email).await?;
        self.store.delete_operator(&o.id).await?;
        self.store.audit_global(&actor.label(), "operator.deleted", Some(&o.id), json!({"email": o.email})).await?;
        Ok(o)
    }

    /// Generates a new key of every algorithm and signs with them from now on; the old ones stay
    /// published as "previous", so what they signed keeps verifying. With `alg`, the tenant's access
    /// tokens are signed with that algorithm from now on. Returns the new key that signs access tokens.
    pub async fn rotate_signing_key(&self, t: &Access, alg: Option<SigningAlg>) -> ServiceResult<SigningKeyInfo> {
        t.require_write()?;
        // From the database, not this instance's key cache: another instance may have just changed it.
        let scoped = self.store.scoped(t.id());
        let from = scoped.signing_alg().await?;
        let alg = alg.unwrap_or(from);
        let keys = generate_key_set().await?;
        let kid = keys
            .iter()
            .find(|k| k.alg == alg.as_str())
            .map(|k| k.kid.clone())
            .ok_or_else(|| ServiceError::internal("no key of the tenant's algorithm was generated"))?;
        scoped.rotate_signing_keys(keys, alg).await?;
        self.invalidate(&t.tenant.slug, t.id());
        t.audit(self, "keys.rotated", Some(&kid), json!({"alg": alg, "previous_alg": from})).await?;
        self.signing_keys(t)
            .await?
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| ServiceError::internal("rotated key vanished"))
    }

    /// The tenant's published keys (next, current, previous): what the JWKS serves, with their state.
    /// The key that signs access tokens comes first, then the other current keys (RS256 first), then
    /// the next and previous ones.
    pub async fn signing_keys(&self, t: &Access) -> ServiceResult<Vec<SigningKeyInfo>> {
        let scoped = self.store.scoped(t.id());
        let alg = scoped.signing_alg().await?;
        let mut keys: Vec<SigningKeyInfo> = scoped
            .published_key_summaries()
            .await?
            .into_iter()
            .map(|k| {
                let current = k.state == latchkey_store::records::KeyState::Current;
                SigningKeyInfo {
                    signs_access_tokens: current && k.alg == alg.as_str(),
                    kid: k.kid,
                    alg: k.alg,
                    state: k.state.as_str().to_owned(),
                    created_at: k.created_at,
                }
            })
            .collect();
        // Stable: the store's order (current, next, previous; newest first) is kept within each rank.
        keys.sort_by_key(|k| {
            let alg_rank = SigningAlg::ALL.iter().position(|a| a.as_str() == k.alg).unwrap_or(usize::MAX);
            (!k.signs_access_tokens, k.state != "current", if k.state == "current" { alg_rank } else { 0 })
        });
        Ok(keys)
    }
}

/// A published signing key as the API and CLI show it (never its private part).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SigningKeyInfo {
    pub kid: String,
    /// RS256, ES256 or EdDSA.
    pub alg: String,
    /// next (published ahead of a scheduled rotation), current (signs) or previous (still verifies).
    pub state: String,
    pub created_at: i64,
    /// Whether this key signs the tenant's access tokens (the current key of the tenant's algorithm).
    /// The other current keys sign ID tokens for the clients that chose their algorithm.
    pub signs_access_tokens: bool,
}

/// What `provider create` (and the API's POST) takes.
#[derive(Clone, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    pub slug: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Space-separated; `openid` is always added.
    pub scopes: Option<String>,
    #[serde(default)]
    pub link_by_email: bool,
    #[serde(default)]
    pub create_users: bool,
    /// `name=given_name`: display field = upstream claim. Only `name` is mappable; `email` and
    /// `email_verified` are refused (accounts match only the provider's verified `email`).
    pub claim_map: Option<String>,
}

/// Display fields a claim map may fill, and the upstream claims (OIDC Core §5.1) each may be read
/// from. Matching an existing account is never mappable: it reads only the provider's own `email`
/// with `email_verified: true`, so no renamed claim can name someone else's address.
const MAPPABLE: &[(&str, &[&str])] = &[("name", &["name", "given_name", "preferred_username"])];

/// Local fields that decide which account an upstream user gets; a claim map may not set them.
const UNMAPPABLE: &[&str] = &["email", "email_verified"];

fn parse_claim_map(s: Option<&str>) -> ServiceResult<std::collections::BTreeMap<String, String>> {
    let mut map = std::collections::BTreeMap::new();
    for pair in s.unwrap_or("").split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (local, upstream) = pair
            .split_once('=')
            .ok_or_else(|| invalid(format!("claim map entry '{pair}' must look like field=claim")))?;
        let (local, upstream) = (local.trim(), upstream.trim());
        if UNMAPPABLE.contains(&local) {
            return Err(invalid(format!(
                "the claim map cannot set '{local}': accounts are matched only by the provider's own verified email claim"
            )));
        }
        let Some((_, allowed)) = MAPPABLE.iter().find(|(f, _)| *f == local) else {
            return Err(invalid(format!("unknown field '{local}' in the claim map (name)")));
        };
        if !allowed.contains(&upstream) {
            return Err(invalid(format!("'{local}' can be mapped from {}", allowed.join(", "))));
        }
        map.insert(local.to_owned(), upstream.to_owned());
    }
    Ok(map)
}

/// Changes to a provider; `None` keeps the current value.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderUpdate {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<String>,
    pub link_by_email: Option<bool>,
    pub create_users: Option<bool>,
    pub claim_map: Option<String>,
}

impl AuthServer {
    /// An upstream issuer the server may fetch from (latchkey-core/src/outbound.rs), without its
    /// trailing slash. Checked again at every fetch: DNS may change after it is saved.
    async fn checked_issuer(&self, issuer: &str) -> ServiceResult<String> {
        let issuer = issuer.trim().trim_end_matches('/');
        self.upstream_http.check_destination(issuer).await.map_err(|r| invalid(format!("issuer: {r}")))?;
        Ok(issuer.to_owned())
    }

    pub async fn update_provider(
        &self,
        t: &Access,
        slug: &str,
        u: ProviderUpdate,
    ) -> ServiceResult<latchkey_store::records::UpstreamProvider> {
        t.require_write()?;
        let scoped = self.store.scoped(t.id());
        let mut p = scoped.provider(slug).await?.ok_or_else(|| ServiceError::NotFound(format!("provider '{slug}'")))?;
        if let Some(n) = u.name {
            if n.trim().is_empty() || n.len() > 100 {
                return Err(invalid("provider name must be 1-100 characters"));
            }
            p.name = n.trim().to_owned();
        }
        if let Some(i) = u.issuer {
            p.issuer = self.checked_issuer(&i).await?;
        }
        if let Some(c) = u.client_id.filter(|c| !c.is_empty()) {
            p.client_id = c;
        }
        if let Some(s) = u.scopes {
            let mut scopes = parse_scopes(&s)?;
            if !scopes.iter().any(|s| s == "openid") {
                scopes.insert(0, "openid".into());
            }
            p.scopes = scopes;
        }
        if let Some(b) = u.link_by_email {
            p.link_by_email = b;
        }
        if let Some(b) = u.create_users {
            p.create_users = b;
        }
        if let Some(m) = u.claim_map {
            p.claim_map = parse_claim_map(Some(&m))?;
        }
        scoped.update_provider(&p, u.client_secret.as_deref().filter(|s| !s.is_empty())).await?;
        t.audit(self, "provider.updated", Some(&p.slug), json!({})).await?;
        Ok(p)
    }

    /// `both`, `password` or `federated`: what the sign-in page offers.
    pub async fn set_login_methods(&self, t: &Access, methods: &str) -> ServiceResult<()> {
        t.require_write()?;
        if !matches!(methods, "both" | "password" | "federated") {
            return Err(invalid("login methods must be both, password or federated"));
        }
        let mut settings = t.tenant.settings.clone();
        settings.login_methods = Some(methods.to_owned());
        self.store.set_tenant_settings(t.id(), &settings).await?;
        self.invalidate(&t.tenant.slug, t.id());
        t.audit(self, "tenant.login_methods", None, json!({"methods": methods})).await?;
        Ok(())
    }

    /// Adds an upstream OpenID Connect provider; returns it with the callback URI to register upstream.
    pub async fn create_provider(
        &self,
        t: &Access,
        input: ProviderInput,
    ) -> ServiceResult<(latchkey_store::records::UpstreamProvider, String)> {
        t.require_write()?;
        slug::validate_slug(&input.slug).map_err(|e| invalid(format!("provider {e}")))?;
        if input.name.trim().is_empty() || input.name.len() > 100 {
            return Err(invalid("provider name must be 1-100 characters"));
        }
        let issuer = self.checked_issuer(&input.issuer).await?;
        if input.client_id.is_empty() || input.client_secret.is_empty() {
            return Err(invalid("client id and client secret are required"));
        }
        let mut scopes = parse_scopes(input.scopes.as_deref().unwrap_or("openid email profile"))?;
        if !scopes.iter().any(|s| s == "openid") {
            scopes.insert(0, "openid".into());
        }
        let claim_map = parse_claim_map(input.claim_map.as_deref())?;
        let p = self
            .store
            .scoped(t.id())
            .create_provider(latchkey_store::records::NewUpstreamProvider {
                slug: input.slug,
                name: input.name.trim().to_owned(),
                issuer,
                client_id: input.client_id,
                client_secret: input.client_secret,
                scopes,
                link_by_email: input.link_by_email,
                create_users: input.create_users,
                claim_map,
            })
            .await?;
        t.audit(self, "provider.created", Some(&p.slug), json!({"issuer": p.issuer})).await?;
        let callback = self.federation_callback_uri(t, &p.slug);
        Ok((p, callback))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_claim_map;

    #[test]
    fn claim_maps_fill_display_fields_only() {
        let m = parse_claim_map(Some(" name = given_name ")).expect("name is mappable");
        assert_eq!(m.get("name").map(String::as_str), Some("given_name"));
        assert!(parse_claim_map(None).expect("empty").is_empty());
        for map in ["email=email", "email=preferred_username", "email_verified=email", "name=name,email=email"] {
            let err = parse_claim_map(Some(map)).expect_err(map).to_string();
            assert!(err.contains("'email"), "{map}: {err}");
        }
        assert!(parse_claim_map(Some("name=sub")).is_err(), "only standard display claims");
        assert!(parse_claim_map(Some("picture")).is_err(), "field=claim");
    }
}
