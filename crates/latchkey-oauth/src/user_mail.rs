//! End users and mail: invitations (an account created without a password, the user chooses one
//! from a mailed link) and password resets (asked by the user on the sign-in page, or sent by the
//! tenant's staff). Links point at the tenant's own branded page (`/t/{slug}/password`), work once
//! and carry a random token whose hash alone is kept in the KV store.
use latchkey_store::records::EndUser;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

use crate::access::Access;
use crate::accounts::{MailPurpose, validate_email};
use crate::error::{ServiceError, ServiceResult};
use crate::password::PasswordHasher;
use crate::{AuthServer, TenantCtx};

const INVITE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
const RESET_TTL: Duration = Duration::from_secs(3600);
const KIND: &str = "user-password";

/// What a password link is for (shown on its page) and whose it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordLinkPurpose {
    Invitation,
    Reset,
}

#[derive(Serialize, Deserialize)]
struct PasswordLink {
    tenant_id: String,
    user_id: String,
    purpose: PasswordLinkPurpose,
}

impl AuthServer {
    /// Creates a user without a password and mails an invitation to choose one (seven days).
    pub async fn invite_user(&self, a: &Access, email: &str, name: Option<String>) -> ServiceResult<EndUser> {
        a.require_write()?;
        let email = validate_email(email)?;
        self.mail_quota(Some(a.id()), MailPurpose::UserInvitation, &email, None).await?;
        let user = self.create_user(a, &email, None, name).await?;
        self.mail_password_link(&a.ctx, &user, PasswordLinkPurpose::Invitation).await?;
        a.audit(self, "user.invited", Some(&user.id), json!({"email": user.email})).await?;
        Ok(user)
    }

    /// Staff send a user a reset link (one hour).
    pub async fn send_user_password_reset(&self, a: &Access, user_id: &str) -> ServiceResult<()> {
        a.require_write()?;
        let user = self
            .store
            .scoped(a.id())
            .user(user_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("user '{user_id}'")))?;
        self.mail_quota(Some(a.id()), MailPurpose::UserReset, &user.email, None).await?;
        self.mail_password_link(&a.ctx, &user, PasswordLinkPurpose::Reset).await?;
        a.audit(self, "user.password_reset_sent", Some(user_id), json!({})).await
    }

    /// A user asks for a reset link on the sign-in page. Answers the same whether or not the address
    /// belongs to a user, so the form cannot be used to find out who has an account.
    pub async fn request_user_password_reset(&self, t: &TenantCtx, email: &str, ip: &str) -> ServiceResult<()> {
        let email = validate_email(email)?;
        self.mail_quota(Some(t.id()), MailPurpose::UserReset, &email, Some(ip)).await?;
        let scoped = self.store.scoped(t.id());
        let Some(user) = scoped.user_by_email(&email).await?.filter(|u| !u.disabled) else { return Ok(()) };
        self.mail_password_link(t, &user, PasswordLinkPurpose::Reset).await?;
        scoped
            .audit(&format!("user:{}", user.id), "user.password_reset_requested", Some(&user.id), json!({}), Some(ip))
            .await?;
        Ok(())
    }

    /// Sets the password from a link and spends the link. The address is verified too (the mail
    /// reached its owner). A link of another tenant is refused like an unknown one.
    pub async fn set_password_from_link(
        &self,
        t: &TenantCtx,
        token: &str,
        password: &str,
    ) -> ServiceResult<(EndUser, PasswordLinkPurpose)> {
        PasswordHasher::check_policy(password)?;
        let refused =
            || ServiceError::Invalid("this password link is invalid, used or expired; ask for a new one".into());
        // Checked before the link is spent: a link posted to another tenant's page stays usable on
        // its own tenant's.
        let raw = self.peek_link(KIND, token).await?.ok_or_else(refused)?;
        let link: PasswordLink = serde_json::from_str(&raw).map_err(|e| ServiceError::internal(e.to_string()))?;
        if link.tenant_id != t.id().as_str() {
            return Err(refused());
        }
        let scoped = self.store.scoped(t.id());
        let user = scoped.user(&link.user_id).await?.filter(|u| !u.disabled).ok_or_else(refused)?;
        let hash = self.hasher.hash(password).await?;
        // Single use: only the caller that takes the link sets the password.
        self.redeem_link(KIND, token, "password").await?;
        scoped.set_user_password_hash(&user.id, &hash).await?;
        scoped.set_email_verified(&user.id, true).await?;
        // The tenant may let a user's own reset keep their Alexa links (off unless set).
        let keep_grants = t.tenant.settings.keep_grants_on_self_service_reset.unwrap_or(false);
        self.password_changed(t.id(), &user.id, &format!("user:{}", user.id), keep_grants).await?;
        scoped
            .audit(&format!("user:{}", user.id), "user.password_set_by_link", Some(&user.id), json!({}), None)
            .await?;
        Ok((user, link.purpose))
    }

    async fn mail_password_link(
        &self,
        t: &TenantCtx,
        user: &EndUser,
        purpose: PasswordLinkPurpose,
    ) -> ServiceResult<()> {
        let value = serde_json::to_vec(&PasswordLink {
            tenant_id: t.id().as_str().to_owned(),
            user_id: user.id.clone(),
            purpose,
        })
        .map_err(|e| ServiceError::internal(e.to_string()))?;
        let ttl = match purpose {
            PasswordLinkPurpose::Invitation => INVITE_TTL,
            PasswordLinkPurpose::Reset => RESET_TTL,
        };
        let token = self.mint_link_token(KIND, &value, ttl).await?;
        let link = format!("{}/password?token={token}", t.issuer);
        let company = t.tenant.name.clone();
        let (subject, body) = match purpose {
            PasswordLinkPurpose::Invitation => (
                format!("Your {company} account"),
                format!(
                    "{company} created an account for you ({}).\n\nChoose your password here:\n\n{link}\n\n\
                     The link works once and expires in seven days. Then sign in with this address and \
                     password when you link your devices.\n",
                    user.email
                ),
            ),
            PasswordLinkPurpose::Reset => (
                format!("Reset your {company} password"),
                format!(
                    "Someone asked to reset the password of your {company} account ({}).\n\nChoose a new \
                     password here:\n\n{link}\n\nThe link works once and expires in one hour. If it was not \
                     you, ignore this mail.\n",
                    user.email
                ),
            ),
        };
        self.send_mail(&user.email, &subject, body).await
    }
}
