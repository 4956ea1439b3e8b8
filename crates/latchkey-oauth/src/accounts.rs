//! Dashboard accounts: self-signup with email verification, sign-in, sessions in the KV store,
//! sign-out everywhere, password reset, and invitations. Links sent by mail carry a random token; only
//! its hash is stored (in the KV store, with the link's lifetime), and taking it deletes it, so every
//! link works once.
use latchkey_core::hashing::secret_hash;
use latchkey_core::role::Role;
use latchkey_core::slug;
use latchkey_mail::Email;
use latchkey_store::records::{Account, Member};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

use crate::access::{Access, Actor, Principal};
use crate::error::{ServiceError, ServiceResult};
use crate::keys::generate_key_set;
use crate::password::PasswordHasher;
use crate::{AuthServer, random};

const VERIFY_TTL: Duration = Duration::from_secs(24 * 3600);
const RESET_TTL: Duration = Duration::from_secs(3600);
const INVITE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DASHBOARD_SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Signups and mail-sending requests allowed per client IP per hour, and mails per address per hour.
pub(crate) const SIGNUPS_PER_IP_HOUR: i64 = 10;
pub(crate) const MAILS_PER_ADDRESS_HOUR: i64 = 5;

/// What a mail is for; each has its own quota per address (`AuthServer::mail_quota`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum MailPurpose {
    Verification,
    SignupAttempt,
    AccountReset,
    MemberInvitation,
    UserInvitation,
    UserReset,
}

impl MailPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Verification => "verify",
            Self::SignupAttempt => "signup-attempt",
            Self::AccountReset => "account-reset",
            Self::MemberInvitation => "member-invite",
            Self::UserInvitation => "user-invite",
            Self::UserReset => "user-reset",
        }
    }
}

/// What the signup form sends.
#[derive(Clone, Debug, Deserialize)]
pub struct SignupInput {
    pub company: String,
    pub slug: String,
    pub email: String,
    pub password: String,
}

/// A dashboard session as stored in the KV store (under the hash of its id).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DashboardSession {
    pub kind: SessionKind,
    pub subject_id: String,
    pub email: String,
    pub epoch: i64,
    /// Sent back in a header or form field with every mutation (synchronizer token).
    pub csrf: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Account,
    Operator,
}

impl DashboardSession {
    pub fn actor(&self, ip: Option<String>) -> Actor {
        let principal = match self.kind {
            SessionKind::Account => Principal::Account { id: self.subject_id.clone(), email: self.email.clone() },
            SessionKind::Operator => Principal::Operator { id: self.subject_id.clone(), email: self.email.clone() },
        };
        Actor { principal, ip }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Invitation {
    tenant_id: String,
    tenant_slug: String,
    email: String,
    role: Role,
    invited_by: String,
}

/// What a verification link shows before it is used.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VerificationInfo {
    pub email: String,
    /// Slugs of the pending tenants verifying activates.
    pub tenants: Vec<String>,
}

/// What an invitation link shows before it is accepted.
#[derive(Clone, Debug, Serialize)]
pub struct InvitationInfo {
    pub tenant_slug: String,
    pub email: String,
    pub role: Role,
    /// An account with this email exists: accepting asks for its password, not a new one.
    pub account_exists: bool,
}

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(msg.into())
}

pub fn validate_email(email: &str) -> ServiceResult<String> {
    let email = email.trim();
    let ok = email.len() <= 320
        && email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && latchkey_mail::is_valid_address(email);
    if !ok {
        return Err(invalid("enter a valid email address"));
    }
    Ok(email.to_lowercase())
}

fn kv_key(kind: &str, token: &str) -> String {
    format!("acct:{kind}:{}", secret_hash(token))
}

impl AuthServer {
    fn dashboard_url(&self, path: &str) -> String {
        format!("{}/admin{path}", self.config.public_url)
    }

    pub(crate) async fn send_mail(&self, to: &str, subject: &str, body: String) -> ServiceResult<()> {
        let mailer = self.mailer.as_ref().ok_or_else(|| ServiceError::Unavailable("mail is not configured".into()))?;
        mailer.send(&Email { to: to.to_owned(), subject: subject.to_owned(), body }).await.map_err(|e| match e {
            // An address stored before addresses were checked against the mailer's rules: the
            // request cannot succeed by retrying, so it is the caller's 400, not our 503.
            latchkey_mail::MailError::Address(_) => {
                ServiceError::Invalid(format!("mail cannot be sent to this address ({e}); correct the address"))
            }
            e => {
                tracing::warn!(detail = %crate::error::chain(&e), "mail could not be sent");
                ServiceError::Unavailable("mail could not be sent; try again shortly".into())
            }
        })
    }

    /// A counter per `key` over an hour; `RateLimited` past `limit`.
    pub(crate) async fn hourly_limit(&self, key: &str, limit: i64) -> ServiceResult<()> {
        self.window_limit(&format!("rl:hour:{key}"), limit, Duration::from_secs(3600)).await
    }

    /// A counter per `key` over a fixed `window` from its first use; `RateLimited` (with the time
    /// left in the window) past `limit`.
    pub(crate) async fn window_limit(&self, key: &str, limit: i64, window: Duration) -> ServiceResult<()> {
        let n = self.kv.incr(key, window).await?;
        if n > limit {
            let left = self.kv.ttl(key).await?.unwrap_or(0).max(1);
            return Err(ServiceError::RateLimited { retry_after: u64::try_from(left).unwrap_or(1) });
        }
        Ok(())
    }

    /// The operator with this address (not an operator id typed into the email field).
    async fn operator_by_email(&self, email: &str) -> ServiceResult<Option<latchkey_store::records::Operator>> {
        let email = email.trim().to_lowercase();
        Ok(self.store.operator(&email).await?.filter(|o| o.email == email))
    }

    /// Whether `slug` can be signed up for: `Ok` or the reason it cannot.
    pub async fn slug_available(&self, s: &str) -> ServiceResult<Result<(), String>> {
        if let Err(e) = slug::validate_slug(s) {
            return Ok(Err(e.to_string()));
        }
        if self.store.tenant_by_slug(s).await?.is_some() {
            return Ok(Err(format!("'{s}' is taken")));
        }
        Ok(Ok(()))
    }

    /// Creates a pending tenant with its owner and mails the owner a verification link. A signup
    /// for an address whose earlier signup is still unverified replaces it: the earlier pending
    /// tenant and account are discarded and their link stops working, so a stranger's signup never
    /// holds someone else's address. Unverified signups expire after 24 hours.
    ///
    /// The answer is the same for every address (a taken slug is public anyway): for an address
    /// that already has an account, or is an operator's, nothing is created and its owner is mailed
    /// that someone tried, so sign-up cannot tell anyone who has an account.
    pub async fn sign_up(&self, input: SignupInput, ip: &str) -> ServiceResult<()> {
        let company = input.company.trim();
        if company.is_empty() || company.len() > 200 {
            return Err(invalid("company name must be 1-200 characters"));
        }
        let slug = input.slug.trim();
        let email = validate_email(&input.email)?;
        PasswordHasher::check_policy(&input.password)?;
        if self.config.per_ip_limits {
            self.hourly_limit(&format!("signup:ip:{ip}"), SIGNUPS_PER_IP_HOUR).await?;
        }
        self.prune_expired_signups(latchkey_store::now()).await?;
        let existing = self.store.account_by_email(&email).await?;
        // An operator's address never becomes a member account too.
        let taken =
            existing.as_ref().is_some_and(|a| a.email_verified) || self.operator_by_email(&email).await?.is_some();
        let earlier = existing.filter(|a| !a.email_verified);
        let earlier_slugs = match &earlier {
            Some(a) => self.store.pending_signup_slugs(&a.id).await?,
            None => Vec::new(),
        };
        // The earlier signup's own slug is free to take again: it is being replaced.
        if !earlier_slugs.iter().any(|s| s == slug)
            && let Err(reason) = self.slug_available(slug).await?
        {
            return Err(ServiceError::Conflict(reason));
        }
        // The same work whoever the address belongs to, so the time taken tells no more than the answer.
        let hash = self.hasher.hash(&input.password).await?;
        let keys = generate_key_set().await?;
        if taken {
            self.mail_signup_attempt(&email).await;
            return Ok(());
        }
        let replaced = match &earlier {
            Some(a) => match self.store.discard_pending_signup(&a.id).await {
                Ok(slugs) => slugs,
                // Verified or discarded meanwhile: nothing to replace.
                Err(latchkey_store::StoreError::NotFound) => Vec::new(),
                Err(e) => return Err(e.into()),
            },
            None => Vec::new(),
        };
        let (tenant, account, _owner) = self.store.sign_up(slug, company, keys, &email, &hash).await?;
        let scoped = self.store.scoped(&tenant.id);
        let actor = format!("account:{email}");
        scoped.audit(&actor, "tenant.signed_up", Some(&tenant.slug), json!({"name": company}), Some(ip)).await?;
        if earlier.is_some() {
            scoped
                .audit(&actor, "signup.replaced", Some(&tenant.slug), json!({"replaced_tenants": replaced}), Some(ip))
                .await?;
        }
        // The tenant exists now; a failed mail is reported but the owner can ask for another.
        if let Err(e) = self.send_verification(&account).await {
            tracing::warn!(error = %e, "verification mail not sent");
        }
        Ok(())
    }

    /// What the owner of an address that already has an account gets instead of a second account.
    /// Within the address's mail quota only; past it (or if mail fails) nothing is sent, and the
    /// sign-up's answer is the same either way.
    async fn mail_signup_attempt(&self, email: &str) {
        if self.mail_quota(None, MailPurpose::SignupAttempt, email, None).await.is_err() {
            return;
        }
        let (login, reset) = (self.dashboard_url("/login"), self.dashboard_url("/reset"));
        let sent = self
            .send_mail(
                email,
                "Someone tried to sign up for Latchkey with your address",
                format!(
                    "Someone (perhaps you) tried to create a Latchkey tenant with this address, which already \
                     has an account. Nothing was created.\n\nSign in: {login}\nForgot your password? {reset}\n\n\
                     If it was not you, you can ignore this mail.\n"
                ),
            )
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "sign-up attempt mail not sent");
        }
    }

    /// Discards signups nobody verified within a day (`VERIFY_TTL`, the link's lifetime) before
    /// `now`, freeing their slugs and addresses; how many.
    pub async fn prune_expired_signups(&self, now: i64) -> ServiceResult<usize> {
        let cutoff = now - VERIFY_TTL.as_secs() as i64;
        let mut n = 0;
        for id in self.store.expired_pending_signups(cutoff).await? {
            match self.store.discard_pending_signup(&id).await {
                Ok(slugs) => {
                    tracing::info!(account_id = %id, tenants = ?slugs, "expired signup discarded");
                    n += 1;
                }
                Err(latchkey_store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(n)
    }

    /// A single-use dashboard link to `path` carrying a fresh token; the KV store keeps only the
    /// token's hash, pointing at `value`, for `ttl`.
    async fn mint_link(&self, kind: &str, path: &str, value: &[u8], ttl: Duration) -> ServiceResult<String> {
        let token = self.mint_link_token(kind, value, ttl).await?;
        Ok(self.dashboard_url(&format!("{path}?token={token}")))
    }

    /// A fresh single-use token; the KV store keeps only its hash, pointing at `value`, for `ttl`.
    pub(crate) async fn mint_link_token(&self, kind: &str, value: &[u8], ttl: Duration) -> ServiceResult<String> {
        let token = random::secret()?;
        self.kv.set(&kv_key(kind, &token), value, ttl).await?;
        Ok(token)
    }

    /// The value behind a link's token, without spending it.
    pub(crate) async fn peek_link(&self, kind: &str, token: &str) -> ServiceResult<Option<String>> {
        Ok(self.kv.get(&kv_key(kind, token)).await?.and_then(|b| String::from_utf8(b).ok()))
    }

    /// Takes (and so spends) the value behind a link's token.
    pub(crate) async fn redeem_link(&self, kind: &str, token: &str, what: &str) -> ServiceResult<String> {
        self.kv
            .take(&kv_key(kind, token))
            .await?
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| invalid(format!("this {what} link is invalid, used or expired; ask for a new one")))
    }

    /// The quota on mail to one address, per (tenant, purpose, address): a stranger asking one
    /// tenant for reset links cannot use up another tenant's invitations to the same person, nor
    /// one purpose another's. `tenant` is `None` for the dashboard's own mail (sign-up, account
    /// resets). When a visitor rather than staff triggers the mail, `ip` adds a quota per address
    /// of the requester.
    pub(crate) async fn mail_quota(
        &self,
        tenant: Option<&latchkey_core::TenantId>,
        purpose: MailPurpose,
        email: &str,
        ip: Option<&str>,
    ) -> ServiceResult<()> {
        if let Some(ip) = ip.filter(|_| self.config.per_ip_limits) {
            self.hourly_limit(&format!("mail:ip:{ip}"), SIGNUPS_PER_IP_HOUR * 3).await?;
        }
        let scope = tenant.map_or("-", |t| t.as_str());
        let key = format!("mail:{scope}:{}:{}", purpose.as_str(), secret_hash(&email.trim().to_lowercase()));
        self.hourly_limit(&key, MAILS_PER_ADDRESS_HOUR).await
    }

    async fn send_verification(&self, account: &Account) -> ServiceResult<()> {
        let link = self.mint_link("verify", "/verify", account.id.as_bytes(), VERIFY_TTL).await?;
        self.send_mail(
            &account.email,
            "Verify your email for Latchkey",
            format!(
                "Welcome to Latchkey.\n\nConfirm your email address to activate your tenant:\n\n{link}\n\n\
                 The link works once and expires in 24 hours. If you did not sign up, ignore this mail.\n"
            ),
        )
        .await
    }

    /// Sends a fresh verification link, if the address belongs to an unverified account. Answers the
    /// same either way, so it cannot be used to find out who has an account.
    pub async fn resend_verification(&self, email: &str, ip: &str) -> ServiceResult<()> {
        let email = validate_email(email)?;
        self.mail_quota(None, MailPurpose::Verification, &email, Some(ip)).await?;
        if let Some(a) = self.store.account_by_email(&email).await?
            && !a.email_verified
        {
            self.send_verification(&a).await?;
        }
        Ok(())
    }

    /// What a verification link is for (the address and the tenants it activates), without spending
    /// it: opening the link (or a mail scanner fetching it) only shows the form whose POST verifies.
    pub async fn verification_info(&self, token: &str) -> ServiceResult<VerificationInfo> {
        let a = self.unverified_account(token).await?;
        Ok(VerificationInfo { tenants: self.store.pending_signup_slugs(&a.id).await?, email: a.email })
    }

    /// The still-unverified account a verification link is for, without spending the link.
    async fn unverified_account(&self, token: &str) -> ServiceResult<Account> {
        let gone = || invalid("this verification link is invalid, used or expired; ask for a new one");
        let id = self.peek_link("verify", token).await?.ok_or_else(gone)?;
        self.store.account(&id).await?.filter(|a| !a.email_verified).ok_or_else(gone)
    }

    /// Verifies an address: the explicit POST from the page the link opens. The owner of the address
    /// chooses the account's password here (the one typed at signup, or another), so an account
    /// never keeps a password its owner did not choose; the tenants it owns become active. A weak
    /// password is refused without spending the link.
    pub async fn verify_email(&self, token: &str, password: &str, ip: &str) -> ServiceResult<Account> {
        let email = self.unverified_account(token).await?.email;
        PasswordHasher::check_policy(password)?;
        let hash = self.hasher.hash(password).await?;
        // Single use: only the caller that takes the link verifies.
        let id = self.redeem_link("verify", token, "verification").await?;
        let activated = match self.store.verify_account(&id, Some(&hash)).await {
            Ok(t) => t,
            Err(latchkey_store::StoreError::NotFound) => {
                return Err(invalid("this verification link is invalid, used or expired; ask for a new one"));
            }
            Err(e) => return Err(e.into()),
        };
        let account = self.store.account(&id).await?.ok_or_else(|| ServiceError::NotFound("account".into()))?;
        for t in &activated {
            if let Some(tenant) = self.store.tenant_by_id(t).await? {
                self.invalidate(&tenant.slug, t);
                self.store
                    .scoped(t)
                    .audit(&format!("account:{email}"), "tenant.activated", Some(&tenant.slug), json!({}), Some(ip))
                    .await?;
            }
        }
        Ok(account)
    }

    /// Signs an account or operator in; returns the session id (for the cookie) and the session.
    pub async fn dashboard_sign_in(
        &self,
        email: &str,
        password: &str,
        ip: &str,
    ) -> ServiceResult<(String, DashboardSession)> {
        let email = email.trim().to_lowercase();
        if email.is_empty() || password.is_empty() {
            return Err(invalid("enter your email and password"));
        }
        let door = crate::throttle::Door::Dashboard;
        if let Some(wait) = self.login_wait(door, &email, ip).await? {
            return Err(ServiceError::RateLimited { retry_after: wait as u64 });
        }
        let (account, operator) = if email.len() <= 320 {
            (self.store.account_by_email(&email).await?, self.operator_by_email(&email).await?)
        } else {
            (None, None)
        };
        // An operator and an account with the same address (sign-ups refuse operators' addresses,
        // but an operator may be created for a member's address) never shadow each other: the
        // password decides which one signs in, the operator's checked first.
        let operator = match operator {
            Some(o) if self.hasher.verify(password, Some(&o.password_hash)).await? => Some(o),
            _ => None,
        };
        let account = match (account, &operator) {
            (Some(a), None) if self.hasher.verify(password, Some(&a.password_hash)).await? => Some(a),
            (None, None) => {
                // The same work as a real check, so the time taken does not tell who exists.
                self.hasher.verify(password, None).await?;
                None
            }
            _ => None,
        };
        let session = match (account, operator) {
            (_, Some(o)) => DashboardSession {
                kind: SessionKind::Operator,
                subject_id: o.id,
                email: o.email,
                epoch: 0,
                csrf: random::token(24)?,
            },
            (Some(a), None) if !a.email_verified => {
                return Err(ServiceError::Forbidden(
                    "verify your email first: use the link we sent, or ask for a new one".into(),
                ));
            }
            (Some(a), None) => DashboardSession {
                kind: SessionKind::Account,
                subject_id: a.id,
                email: a.email,
                epoch: a.session_epoch,
                csrf: random::token(24)?,
            },
            (None, None) => {
                self.login_failed(door, &email, ip).await?;
                return Err(ServiceError::Unauthorized("the email or password is not correct".into()));
            }
        };
        self.login_succeeded(door, &email, ip).await?;
        let sid = random::secret()?;
        let body = serde_json::to_vec(&session).map_err(|e| ServiceError::internal(e.to_string()))?;
        self.kv.set(&kv_key("session", &sid), &body, DASHBOARD_SESSION_TTL).await?;
        Ok((sid, session))
    }

    /// The live session behind a cookie: `None` when unknown, expired, or ended by "sign out
    /// everywhere" or a password change (the account's epoch moved on).
    pub async fn dashboard_session(&self, sid: &str) -> ServiceResult<Option<DashboardSession>> {
        if sid.is_empty() || sid.len() > 100 {
            return Ok(None);
        }
        let Some(raw) = self.kv.get(&kv_key("session", sid)).await? else { return Ok(None) };
        let Ok(s) = serde_json::from_slice::<DashboardSession>(&raw) else { return Ok(None) };
        let live = match s.kind {
            SessionKind::Account => {
                self.store.account(&s.subject_id).await?.is_some_and(|a| a.session_epoch == s.epoch)
            }
            SessionKind::Operator => self.store.operator(&s.subject_id).await?.is_some(),
        };
        Ok(live.then_some(s))
    }

    pub async fn dashboard_sign_out(&self, sid: &str) -> ServiceResult<()> {
        Ok(self.kv.delete(&kv_key("session", sid)).await?)
    }

    /// Ends every session of the account, on every instance.
    pub async fn sign_out_everywhere(&self, session: &DashboardSession) -> ServiceResult<()> {
        match session.kind {
            SessionKind::Account => self.store.bump_session_epoch(&session.subject_id).await?,
            SessionKind::Operator => {}
        }
        Ok(())
    }

    /// Mails a reset link if the address has an account; answers the same either way.
    pub async fn request_password_reset(&self, email: &str, ip: &str) -> ServiceResult<()> {
        let email = validate_email(email)?;
        self.mail_quota(None, MailPurpose::AccountReset, &email, Some(ip)).await?;
        let Some(a) = self.store.account_by_email(&email).await? else { return Ok(()) };
        let link = self.mint_link("reset", "/reset", a.id.as_bytes(), RESET_TTL).await?;
        self.send_mail(
            &a.email,
            "Reset your Latchkey password",
            format!(
                "Someone asked to reset the password of your Latchkey account.\n\nChoose a new password here:\n\n\
                 {link}\n\nThe link works once and expires in one hour. If it was not you, ignore this mail.\n"
            ),
        )
        .await
    }

    /// Redeems a reset link: sets the password, verifies the address (the mail reached its owner)
    /// and ends every session.
    pub async fn reset_password(&self, token: &str, password: &str) -> ServiceResult<Account> {
        PasswordHasher::check_policy(password)?;
        let id = self.redeem_link("reset", token, "reset").await?;
        let hash = self.hasher.hash(password).await?;
        self.store.set_account_password(&id, &hash).await?;
        self.store.verify_account(&id, None).await?;
        self.store.account(&id).await?.ok_or_else(|| ServiceError::NotFound("account".into()))
    }

    /// Invites `email` into the tenant with `role` (mailed link, seven days).
    pub async fn invite_member(&self, a: &Access, email: &str, role: Role) -> ServiceResult<()> {
        a.require_assign(role)?;
        let email = validate_email(email)?;
        self.mail_quota(Some(a.id()), MailPurpose::MemberInvitation, &email, None).await?;
        if let Some(acc) = self.store.account_by_email(&email).await?
            && self.store.scoped(a.id()).member_by_account(&acc.id).await?.is_some()
        {
            return Err(ServiceError::Conflict(format!("'{email}' is already a member")));
        }
        let inv = Invitation {
            tenant_id: a.id().as_str().to_owned(),
            tenant_slug: a.tenant.slug.clone(),
            email: email.clone(),
            role,
            invited_by: a.actor.label(),
        };
        let body = serde_json::to_vec(&inv).map_err(|e| ServiceError::internal(e.to_string()))?;
        let link = self.mint_link("invite", "/invitation", &body, INVITE_TTL).await?;
        self.send_mail(
            &email,
            &format!("You are invited to {} on Latchkey", a.tenant.name),
            format!(
                "You have been invited to join {} ({}) on Latchkey as {role}.\n\nAccept here:\n\n{link}\n\n\
                 The link works once and expires in seven days.\n",
                a.tenant.name, a.tenant.slug
            ),
        )
        .await?;
        a.audit(self, "member.invited", Some(&email), json!({"role": role})).await
    }

    async fn invitation(&self, token: &str) -> ServiceResult<Invitation> {
        let raw = self
            .kv
            .get(&kv_key("invite", token))
            .await?
            .ok_or_else(|| invalid("this invitation is invalid, used or expired; ask for a new one"))?;
        serde_json::from_slice(&raw).map_err(|e| ServiceError::internal(e.to_string()))
    }

    pub async fn invitation_info(&self, token: &str) -> ServiceResult<InvitationInfo> {
        let inv = self.invitation(token).await?;
        let account_exists = self.store.account_by_email(&inv.email).await?.is_some();
        Ok(InvitationInfo { tenant_slug: inv.tenant_slug, email: inv.email, role: inv.role, account_exists })
    }

    /// Accepts an invitation: with an existing account its password must match; otherwise `password`
    /// becomes the new account's (verified: the mail reached its owner).
    pub async fn accept_invitation(&self, token: &str, password: &str, ip: &str) -> ServiceResult<Member> {
        let inv = self.invitation(token).await?;
        let account = match self.store.account_by_email(&inv.email).await? {
            Some(acc) => {
                // The same throttle as dashboard sign-in: an invitation link is no way around it.
                let door = crate::throttle::Door::Dashboard;
                if let Some(wait) = self.login_wait(door, &acc.email, ip).await? {
                    return Err(ServiceError::RateLimited { retry_after: wait as u64 });
                }
                if !self.hasher.verify(password, Some(&acc.password_hash)).await? {
                    self.login_failed(door, &acc.email, ip).await?;
                    return Err(ServiceError::Unauthorized("the password is not correct".into()));
                }
                self.login_succeeded(door, &acc.email, ip).await?;
                acc
            }
            None if self.operator_by_email(&inv.email).await?.is_some() => {
                return Err(ServiceError::Conflict(
                    "this address belongs to a Latchkey operator; ask for an invitation to another address".into(),
                ));
            }
            None => {
                PasswordHasher::check_policy(password)?;
                let hash = self.hasher.hash(password).await?;
                self.store.create_account(&inv.email, &hash, true).await?
            }
        };
        // Single use: only the caller that deletes the invitation adds the member.
        if self.kv.take(&kv_key("invite", token)).await?.is_none() {
            return Err(invalid("this invitation has already been used"));
        }
        let tid = latchkey_core::TenantId::new(inv.tenant_id);
        let member = self.store.scoped(&tid).add_member(&account, inv.role).await?;
        self.store
            .scoped(&tid)
            .audit(
                &format!("account:{}", account.email),
                "member.joined",
                Some(&account.email),
                json!({"role": inv.role, "invited_by": inv.invited_by}),
                Some(ip),
            )
            .await?;
        Ok(member)
    }

    pub async fn list_members(&self, a: &Access) -> ServiceResult<Vec<Member>> {
        Ok(self.store.scoped(a.id()).list_members().await?)
    }

    async fn owners_left_without(&self, a: &Access, member_id: &str) -> ServiceResult<usize> {
        Ok(self
            .store
            .scoped(a.id())
            .list_members()
            .await?
            .iter()
            .filter(|m| m.role == Role::Owner && m.id != member_id)
            .count())
    }

    pub async fn set_member_role(&self, a: &Access, member_id: &str, role: Role) -> ServiceResult<Member> {
        let m = self
            .store
            .scoped(a.id())
            .member(member_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("member '{member_id}'")))?;
        a.require_assign(m.role)?;
        a.require_assign(role)?;
        if m.role == Role::Owner && role != Role::Owner && self.owners_left_without(a, member_id).await? == 0 {
            return Err(ServiceError::Conflict("a tenant needs at least one owner".into()));
        }
        self.store.scoped(a.id()).set_member_role(member_id, role).await?;
        a.audit(self, "member.role_changed", Some(&m.email), json!({"from": m.role, "to": role})).await?;
        Ok(Member { role, ..m })
    }

    pub async fn remove_member(&self, a: &Access, member_id: &str) -> ServiceResult<()> {
        let m = self
            .store
            .scoped(a.id())
            .member(member_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("member '{member_id}'")))?;
        a.require_assign(m.role)?;
        if m.role == Role::Owner && self.owners_left_without(a, member_id).await? == 0 {
            return Err(ServiceError::Conflict("a tenant needs at least one owner".into()));
        }
        self.store.scoped(a.id()).remove_member(member_id).await?;
        // Their open sessions may still list this tenant; the membership check on every request
        // refuses them from now on.
        a.audit(self, "member.removed", Some(&m.email), json!({"role": m.role})).await
    }
}

/// One-time values for browsers without JavaScript. A dashboard form that creates a secret (a client
/// secret, an API key) is answered, without JavaScript, by a redirect back to its page, so the value
/// cannot ride in the answer. It is kept for that session's next page instead: sealed with the master
/// key, for five minutes, and taken (deleted) when shown.
const FLASH_TTL: Duration = Duration::from_secs(300);

fn flash_key(session_id: &str) -> String {
    format!("dash:flash:{}", secret_hash(session_id))
}

impl AuthServer {
    pub async fn flash_once(&self, session_id: &str, label: &str, value: &str) -> ServiceResult<()> {
        let key = flash_key(session_id);
        let plain = serde_json::to_string(&(label, value)).map_err(|e| ServiceError::internal(e.to_string()))?;
        let sealed = self.store.secrets().seal_str(&key, &plain)?;
        self.kv.set(&key, sealed.as_bytes(), FLASH_TTL).await?;
        Ok(())
    }

    /// The value kept by `flash_once` for this session, once: (label, value).
    pub async fn take_flash(&self, session_id: &str) -> ServiceResult<Option<(String, String)>> {
        let key = flash_key(session_id);
        let Some(sealed) = self.kv.take(&key).await?.and_then(|b| String::from_utf8(b).ok()) else {
            return Ok(None);
        };
        let plain = self.store.secrets().open_str(&key, &sealed)?;
        Ok(serde_json::from_str(&plain).ok())
    }
}
