//! The records repositories hand out: parsed, typed, and free of storage details.
use latchkey_core::TenantId;
use latchkey_core::alexa::{AlexaRegion, SkillKind};
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_core::refresh::RefreshPolicy;
use latchkey_core::signing::SigningAlg;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
    /// Signed up in the dashboard; the owner has not verified their email yet.
    Pending,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "suspended" => Self::Suspended,
            "pending" => Self::Pending,
            _ => Self::Active,
        }
    }
}

/// Per-tenant settings kept as one JSON document: branding and login options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TenantSettings {
    /// Accent colour of the login pages, `#rrggbb`.
    pub brand_color: Option<String>,
    pub logo_url: Option<String>,
    /// `both` (default), `password`, or `federated` (only the upstream providers' buttons).
    pub login_methods: Option<String>,
    /// A password set through a mailed link keeps the user's grants (their Alexa links) alive;
    /// browser sessions still end. Unset: off, every grant ends (docs/security.md says the risk).
    pub keep_grants_on_self_service_reset: Option<bool>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub settings: TenantSettings,
    pub created_at: i64,
    /// Signs the tenant's access tokens (its ID tokens go by each client's setting).
    pub signing_alg: SigningAlg,
}

pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Client {
    /// Internal row id.
    pub id: String,
    pub tenant_id: TenantId,
    /// The public `client_id`.
    pub client_id: String,
    pub name: String,
    #[serde(skip)]
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub auth_method: ClientAuthMethod,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub require_pkce: bool,
    pub access_token_ttl: i64,
    pub refresh_policy: RefreshPolicy,
    /// Absolute lifetime of refresh tokens; `None` means they do not expire (Alexa's preference).
    pub refresh_token_ttl: Option<i64>,
    pub created_at: i64,
    /// The secret the last rotation replaced, while its grace period lasts.
    #[serde(skip)]
    pub previous_secret_hash: Option<String>,
    /// When the replaced secret stops working (Unix seconds); absent when only one secret works.
    pub previous_secret_expires_at: Option<i64>,
    /// The algorithm of the ID tokens this client gets (OIDC Registration §2; RS256 unless it chose).
    pub id_token_signed_response_alg: SigningAlg,
}

impl Client {
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// The replaced secret's hash, if it still works at `now`.
    pub fn previous_secret_hash_at(&self, now: i64) -> Option<&str> {
        match (&self.previous_secret_hash, self.previous_secret_expires_at) {
            (Some(h), Some(until)) if now < until => Some(h),
            _ => None,
        }
    }
}

/// What is needed to create a client; the secret hash is computed by the caller.
#[derive(Clone, Debug)]
pub struct NewClient {
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub auth_method: ClientAuthMethod,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub require_pkce: bool,
    pub access_token_ttl: i64,
    pub refresh_policy: RefreshPolicy,
    pub refresh_token_ttl: Option<i64>,
    pub id_token_signed_response_alg: SigningAlg,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Skill {
    pub id: String,
    pub tenant_id: TenantId,
    pub name: String,
    pub alexa_skill_id: String,
    pub vendor_id: String,
    pub kind: SkillKind,
    /// The first of `regions`: where an AcceptGrant that names no region is taken to come from.
    pub region: AlexaRegion,
    /// Every region the skill is live in; each Alexa grant's events go to the region it came through.
    pub regions: Vec<AlexaRegion>,
    pub lwa_client_id: Option<String>,
    /// Whether messaging credentials are stored; the secret itself stays encrypted.
    pub has_lwa_client_secret: bool,
    /// Internal id of the skill's OAuth client.
    pub oauth_client_id: String,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct NewSkill {
    pub name: String,
    pub alexa_skill_id: String,
    pub vendor_id: String,
    pub kind: SkillKind,
    /// At least one, each once.
    pub regions: Vec<AlexaRegion>,
    pub lwa_client_id: Option<String>,
    pub lwa_client_secret: Option<String>,
}

/// A tenant's Skill Management API credentials, opened (never serialized).
#[derive(Clone)]
pub struct SmapiCredentials {
    pub lwa_client_id: String,
    pub lwa_client_secret: String,
    pub refresh_token: String,
}

impl std::fmt::Debug for SmapiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmapiCredentials").field("lwa_client_id", &self.lwa_client_id).finish_non_exhaustive()
    }
}

/// Whether a tenant has SMAPI credentials, as operators see it (no secrets).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SmapiStatus {
    pub configured: bool,
    pub lwa_client_id: Option<String>,
    pub updated_at: Option<i64>,
}

/// What an update writes to a skill; its client is written beside it, in the same transaction.
#[derive(Clone, Debug)]
pub struct SkillChanges {
    pub name: String,
    pub vendor_id: String,
    /// At least one, each once.
    pub regions: Vec<AlexaRegion>,
    pub lwa: LwaChange,
}

/// A change to a skill's Alexa Skill Messaging credentials (the secret is sealed before it is stored).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LwaChange {
    #[default]
    Keep,
    /// A new client id and its secret.
    Set { client_id: String, client_secret: String },
    /// A new secret for the client id the skill has (the console can issue one).
    Secret(String),
    /// No messaging credentials: AcceptGrant and events stop until new ones are set.
    Clear,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EndUser {
    pub id: String,
    pub tenant_id: TenantId,
    pub email: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub name: Option<String>,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: TenantId,
    pub name: String,
    /// The first characters of the key, to recognise it in lists.
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Operator {
    pub id: String,
    pub email: String,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: i64,
}

/// A dashboard sign-in.
#[derive(Clone, Debug, Serialize)]
pub struct Account {
    pub id: String,
    pub email: String,
    #[serde(skip)]
    pub password_hash: String,
    pub email_verified: bool,
    pub session_epoch: i64,
    pub created_at: i64,
}

/// An account's role in one tenant.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub id: String,
    pub tenant_id: TenantId,
    pub account_id: String,
    pub email: String,
    pub email_verified: bool,
    pub role: latchkey_core::role::Role,
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published ahead of a scheduled rotation so verifiers holding a cached JWKS already know it;
    /// does not sign yet.
    Next,
    /// Signs new tokens.
    Current,
    /// Still published in the JWKS so tokens it signed keep verifying.
    Previous,
    /// No longer published.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Previous => "previous",
            Self::Retired => "retired",
        }
    }
}

/// A published signing key without its private part.
#[derive(Clone, Debug)]
pub struct KeySummary {
    pub kid: String,
    pub alg: String,
    pub state: KeyState,
    pub created_at: i64,
}

/// A signing key with its private part decrypted.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    pub private_pkcs8: Vec<u8>,
    pub public_jwk: serde_json::Value,
    pub state: KeyState,
    pub created_at: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LinkedAccount {
    pub id: String,
    pub tenant_id: TenantId,
    pub user_id: String,
    /// Internal id of the OAuth client.
    pub client_id: String,
    pub scopes: Vec<String>,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_refreshed_at: Option<i64>,
}

/// One Alexa account's grant on a link: what its AcceptGrant brought (Login with Amazon tokens, kept
/// encrypted and never shown) and where its events go. A household has several on one link.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AmazonGrant {
    pub id: String,
    pub link_id: String,
    /// The refresh family (Latchkey grant) the AcceptGrant's grantee token came from.
    pub family_id: Option<String>,
    /// The region whose skill endpoint received the AcceptGrant; events go to its gateway.
    pub region: AlexaRegion,
    /// `active`, `disabled` (the user disabled the skill in Alexa) or `revoked` (unlinked here).
    pub status: String,
    pub has_amazon_tokens: bool,
    pub amazon_token_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When Latchkey last refreshed this grant's Amazon token at Login with Amazon.
    pub last_refreshed_at: Option<i64>,
    pub last_event_status: Option<String>,
    pub last_event_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub ended_reason: Option<String>,
}

/// Login with Amazon tokens for one grant, decrypted.
#[derive(Clone)]
pub struct AmazonTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for AmazonTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmazonTokens").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RefreshFamily {
    pub id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scopes: Vec<String>,
    pub auth_time: Option<i64>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A stored refresh token joined with its family.
#[derive(Clone, Debug)]
pub struct RefreshTokenRecord {
    pub id: String,
    pub family: RefreshFamily,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub used_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: String,
    pub tenant_id: Option<String>,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: serde_json::Value,
    pub ip: Option<String>,
}

/// An upstream OpenID Connect provider a tenant's users can sign in with.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct UpstreamProvider {
    pub id: String,
    pub tenant_id: TenantId,
    pub slug: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// Sign in an existing user whose email matches the upstream's *verified* email.
    pub link_by_email: bool,
    /// Create a user on first sign-in when nothing matches.
    pub create_users: bool,
    /// Display field → upstream claim (`name` only; account matching is not mappable).
    pub claim_map: std::collections::BTreeMap<String, String>,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct NewUpstreamProvider {
    pub slug: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub link_by_email: bool,
    pub create_users: bool,
    pub claim_map: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FederatedIdentity {
    pub provider_id: String,
    pub subject: String,
    pub user_id: String,
    pub created_at: i64,
}
