//! Dashboard accounts (global: one person, one sign-in) and the signup transaction.
use latchkey_core::TenantId;
use latchkey_core::role::Role;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use super::members::{insert_member, member_record};
use super::signing_keys::{NewSigningKey, insert_keys};
use super::users::normalize_email;
use crate::entities::{account, tenant, tenant_member};
use crate::error::StoreError;
use crate::records::{Account, Member, Tenant, TenantSettings, TenantStatus};
use crate::{Store, new_id, now};

pub(super) fn account_record(m: account::Model) -> Account {
    Account {
        id: m.id,
        email: m.email,
        password_hash: m.password_hash,
        email_verified: m.email_verified,
        session_epoch: m.session_epoch,
        created_at: m.created_at,
    }
}

fn conflict_on_email(email: &str) -> impl Fn(sea_orm::DbErr) -> StoreError + '_ {
    move |e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("an account with email '{email}' already exists")),
        other => other,
    }
}

pub(super) async fn insert_account<C: sea_orm::ConnectionTrait>(
    db: &C,
    email: &str,
    password_hash: &str,
    verified: bool,
) -> Result<Account, StoreError> {
    let m = account::ActiveModel {
        id: Set(new_id()),
        email: Set(email.to_owned()),
        password_hash: Set(password_hash.to_owned()),
        email_verified: Set(verified),
        session_epoch: Set(0),
        created_at: Set(now()),
    }
    .insert(db)
    .await
    .map_err(conflict_on_email(email))?;
    Ok(account_record(m))
}

/// The pending tenants `account_id` owns.
async fn pending_tenants_owned<C: sea_orm::ConnectionTrait>(
    db: &C,
    account_id: &str,
) -> Result<Vec<tenant::Model>, StoreError> {
    let owned: Vec<String> = tenant_member::Entity::find()
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .filter(tenant_member::Column::Role.eq(Role::Owner.as_str()))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.tenant_id)
        .collect();
    Ok(tenant::Entity::find()
        .filter(tenant::Column::Id.is_in(owned))
        .filter(tenant::Column::Status.eq(TenantStatus::Pending.as_str()))
        .all(db)
        .await?)
}

impl Store {
    /// Self-signup: a pending tenant, its first signing key, an unverified account and its owner
    /// membership, all or nothing.
    pub async fn sign_up(
        &self,
        slug: &str,
        name: &str,
        first_keys: Vec<NewSigningKey>,
        email: &str,
        password_hash: &str,
    ) -> Result<(Tenant, Account, Member), StoreError> {
        let email = normalize_email(email);
        let txn = self.writer().begin().await?;
        let tid = new_id();
        let t = tenant::ActiveModel {
            id: Set(tid.clone()),
            slug: Set(slug.to_owned()),
            name: Set(name.to_owned()),
            status: Set(TenantStatus::Pending.as_str().to_owned()),
            settings: Set(serde_json::to_string(&TenantSettings::default())?),
            created_at: Set(now()),
            signing_alg: Set(latchkey_core::signing::SigningAlg::RS256.as_str().to_owned()),
        }
        .insert(&txn)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("the slug '{slug}' is taken")),
            other => other,
        })?;
        let tenant_id = TenantId::new(tid);
        insert_keys(&txn, &self.secrets, &tenant_id, first_keys).await?;
        let account = insert_account(&txn, &email, password_hash, false).await?;
        let member = insert_member(&txn, &tenant_id, &account, Role::Owner).await?;
        txn.commit().await?;
        let tenant = Tenant {
            id: tenant_id,
            slug: t.slug,
            name: t.name,
            status: TenantStatus::Pending,
            settings: TenantSettings::default(),
            created_at: t.created_at,
            signing_alg: latchkey_core::signing::SigningAlg::RS256,
        };
        Ok((tenant, account, member))
    }

    pub async fn create_account(
        &self,
        email: &str,
        password_hash: &str,
        verified: bool,
    ) -> Result<Account, StoreError> {
        insert_account(self.writer(), &normalize_email(email), password_hash, verified).await
    }

    pub async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        Ok(account::Entity::find_by_id(id).one(self.db()).await?.map(account_record))
    }

    pub async fn account_by_email(&self, email: &str) -> Result<Option<Account>, StoreError> {
        Ok(account::Entity::find()
            .filter(account::Column::Email.eq(normalize_email(email)))
            .one(self.db())
            .await?
            .map(account_record))
    }

    /// Marks the account verified and activates every pending tenant it owns, in one transaction.
    /// With `new_password_hash`, the account's password becomes that one (and every session ends):
    /// whoever verifies the address chooses the password, not whoever typed it at signup.
    pub async fn verify_account(
        &self,
        account_id: &str,
        new_password_hash: Option<&str>,
    ) -> Result<Vec<TenantId>, StoreError> {
        let txn = self.writer().begin().await?;
        let mut update = account::Entity::update_many().col_expr(account::Column::EmailVerified, Expr::value(true));
        if let Some(hash) = new_password_hash {
            update = update
                .col_expr(account::Column::PasswordHash, Expr::value(hash))
                .col_expr(account::Column::SessionEpoch, Expr::col(account::Column::SessionEpoch).add(1));
        }
        let r = update.filter(account::Column::Id.eq(account_id)).exec(&txn).await?;
        if r.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        let ids = pending_tenants_owned(&txn, account_id).await?;
        if !ids.is_empty() {
            tenant::Entity::update_many()
                .col_expr(tenant::Column::Status, Expr::value(TenantStatus::Active.as_str()))
                .filter(tenant::Column::Id.is_in(ids.iter().map(|t| t.id.clone())))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(ids.into_iter().map(|t| TenantId::new(t.id)).collect())
    }

    /// The slugs of the pending tenants an unverified account owns: what its signup holds.
    pub async fn pending_signup_slugs(&self, account_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(pending_tenants_owned(self.db(), account_id).await?.into_iter().map(|t| t.slug).collect())
    }

    /// Discards an unverified signup: the account and the pending tenants it owns (their keys and
    /// memberships go with them by cascade), all or nothing; returns the discarded tenants' slugs.
    /// A verified account is left alone (`NotFound`), so this never deletes a live account or an
    /// active tenant.
    pub async fn discard_pending_signup(&self, account_id: &str) -> Result<Vec<String>, StoreError> {
        let txn = self.writer().begin().await?;
        let Some(acc) = account::Entity::find_by_id(account_id).one(&txn).await? else {
            return Err(StoreError::NotFound);
        };
        if acc.email_verified {
            return Err(StoreError::NotFound);
        }
        let pending = pending_tenants_owned(&txn, account_id).await?;
        tenant::Entity::delete_many()
            .filter(tenant::Column::Id.is_in(pending.iter().map(|t| t.id.clone())))
            .filter(tenant::Column::Status.eq(TenantStatus::Pending.as_str()))
            .exec(&txn)
            .await?;
        account::Entity::delete_by_id(account_id).exec(&txn).await?;
        txn.commit().await?;
        Ok(pending.into_iter().map(|t| t.slug).collect())
    }

    /// Unverified accounts created before `cutoff` (unix seconds): signups nobody confirmed.
    pub async fn expired_pending_signups(&self, cutoff: i64) -> Result<Vec<String>, StoreError> {
        Ok(account::Entity::find()
            .filter(account::Column::EmailVerified.eq(false))
            .filter(account::Column::CreatedAt.lt(cutoff))
            .all(self.db())
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect())
    }

    /// Sets a new password and ends every session (the epoch moves).
    pub async fn set_account_password(&self, account_id: &str, password_hash: &str) -> Result<(), StoreError> {
        let r = account::Entity::update_many()
            .col_expr(account::Column::PasswordHash, Expr::value(password_hash))
            .col_expr(account::Column::SessionEpoch, Expr::col(account::Column::SessionEpoch).add(1))
            .filter(account::Column::Id.eq(account_id))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Ends every session of the account.
    pub async fn bump_session_epoch(&self, account_id: &str) -> Result<(), StoreError> {
        let r = account::Entity::update_many()
            .col_expr(account::Column::SessionEpoch, Expr::col(account::Column::SessionEpoch).add(1))
            .filter(account::Column::Id.eq(account_id))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// The tenants an account belongs to, with its role in each.
    pub async fn memberships(&self, account_id: &str) -> Result<Vec<(Tenant, Role)>, StoreError> {
        let rows = tenant_member::Entity::find()
            .filter(tenant_member::Column::AccountId.eq(account_id))
            .all(self.db())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            if let Some(t) = self.tenant_by_id(&TenantId::new(m.tenant_id.clone())).await?
                && let Ok(role) = m.role.parse::<Role>()
            {
                out.push((t, role));
            }
        }
        out.sort_by(|a, b| a.0.slug.cmp(&b.0.slug));
        Ok(out)
    }

    /// Adds an existing account to a tenant (global because the account is global); see
    /// `Scoped::add_member` for the tenant-scoped entry point.
    pub(super) async fn member_for(&self, tenant: &TenantId, account_id: &str) -> Result<Option<Member>, StoreError> {
        let Some(m) = tenant_member::Entity::find()
            .filter(tenant_member::Column::TenantId.eq(tenant.as_str()))
            .filter(tenant_member::Column::AccountId.eq(account_id))
            .one(self.db())
            .await?
        else {
            return Ok(None);
        };
        let Some(a) = self.account(account_id).await? else { return Ok(None) };
        Ok(member_record(m, &a))
    }
}
