//! The revocation feed (migration 13). A change that ends tokens before they expire records what it
//! ended in the same transaction, so the record exists exactly when the change does. After the commit,
//! this process's listener hears of it at once; other processes (instances, the CLI) read the feed.
use std::sync::{Arc, OnceLock};

use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set};

use super::Scoped;
use crate::entities::revocation;
use crate::error::StoreError;
use crate::{Store, new_id, now};
use latchkey_core::TenantId;

/// What a revocation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationKind {
    /// One grant (refresh-token family) and every token it issued; `subject` is the family id.
    Family,
    /// Whatever was known about one end user: disabled, deleted, or every grant revoked; `subject` is
    /// the user id.
    User,
    /// A client deleted, and with it every grant it held; `subject` is the client's row id.
    Client,
}

impl RevocationKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Family => "family",
            Self::User => "user",
            Self::Client => "client",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "family" => Self::Family,
            "user" => Self::User,
            "client" => Self::Client,
            _ => return None,
        })
    }
}

/// One entry of the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub id: String,
    pub tenant_id: TenantId,
    pub kind: RevocationKind,
    pub subject: String,
    pub created_at: i64,
}

/// Told of every revocation this process commits, right after the commit.
pub type RevocationListener = Arc<dyn Fn(&Revocation) + Send + Sync>;

/// Where the listener is kept: one per store, shared by its clones.
#[derive(Clone, Default)]
pub(crate) struct ListenerSlot(Arc<OnceLock<RevocationListener>>);

impl Store {
    /// Registers the one listener for this store's revocations (the authorization server's view of
    /// live grants). A second call is ignored: there is one view per process.
    pub fn listen_for_revocations(&self, listener: RevocationListener) {
        let _ = self.listener.0.set(listener);
    }

    /// Every tenant's feed entries recorded at or after `since` (seconds), oldest first. The one
    /// cross-tenant read of tenant data outside the operator's screens: each instance follows the whole
    /// feed, and applies each entry to its own tenant only.
    pub async fn revocations_since(&self, since: i64) -> Result<Vec<Revocation>, StoreError> {
        let rows = revocation::Entity::find()
            .filter(revocation::Column::CreatedAt.gte(since))
            .order_by_asc(revocation::Column::CreatedAt)
            .all(self.db())
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(Revocation {
                    kind: RevocationKind::parse(&r.kind)?,
                    id: r.id,
                    tenant_id: TenantId::new(r.tenant_id),
                    subject: r.subject,
                    created_at: r.created_at,
                })
            })
            .collect())
    }

    /// Drops feed entries older than `before` (seconds); how many.
    pub async fn prune_revocations(&self, before: i64) -> Result<u64, StoreError> {
        Ok(revocation::Entity::delete_many()
            .filter(revocation::Column::CreatedAt.lt(before))
            .exec(self.writer())
            .await?
            .rows_affected)
    }
}

impl Scoped<'_> {
    /// Records in the feed that `subject` was revoked, inside `txn`, commits `txn`, then tells this
    /// process's listener. Every change that ends tokens early commits through here.
    pub(crate) async fn commit_revoking(
        &self,
        txn: DatabaseTransaction,
        kind: RevocationKind,
        subject: &str,
    ) -> Result<(), StoreError> {
        let r = Revocation {
            id: new_id(),
            tenant_id: self.tenant_id().clone(),
            kind,
            subject: subject.to_owned(),
            created_at: now(),
        };
        revocation::ActiveModel {
            id: Set(r.id.clone()),
            tenant_id: Set(self.tid()),
            kind: Set(kind.as_str().to_owned()),
            subject: Set(r.subject.clone()),
            created_at: Set(r.created_at),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        if let Some(listener) = self.store.listener.0.get() {
            listener(&r);
        }
        Ok(())
    }
}
