//! Alexa grants on a link: one per refresh family that went through AcceptGrant, with its Login with
//! Amazon tokens (sealed with the master key, bound to the grant's id), region and event status.
use latchkey_core::alexa::AlexaRegion;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    Set,
};

use super::Scoped;
use crate::entities::{amazon_grant, linked_account, refresh_family};
use crate::error::StoreError;
use crate::records::{AmazonGrant, AmazonTokens};
use crate::secrets::context;
use crate::{new_id, now};

/// Keeps grants whose Latchkey refresh family is not revoked (a revoked family means Alexa's side of
/// the link is broken until the user links again). A correlated lookup by the family's key, so its cost
/// does not grow with the tenant's revoked families.
fn family_not_revoked(tenant_id: &str) -> Condition {
    let revoked = Query::select()
        .expr(Expr::val(1))
        .from(refresh_family::Entity)
        .and_where(
            Expr::col((refresh_family::Entity, refresh_family::Column::Id))
                .equals((amazon_grant::Entity, amazon_grant::Column::FamilyId)),
        )
        .and_where(Expr::col((refresh_family::Entity, refresh_family::Column::TenantId)).eq(tenant_id))
        .and_where(Expr::col((refresh_family::Entity, refresh_family::Column::RevokedAt)).is_not_null())
        .to_owned();
    Condition::all().add(Expr::exists(revoked).not())
}

/// A grant and its Amazon tokens as opened: none before AcceptGrant or after the grant ended, or why
/// they could not be opened.
pub type GrantWithTokens = (AmazonGrant, Result<Option<AmazonTokens>, StoreError>);

/// A grant events go to, and whose link it is on.
#[derive(Debug, FromQueryResult)]
pub(crate) struct EventDestination {
    pub id: String,
    pub region: String,
    pub user_id: String,
    pub client_id: String,
}

/// The deliverable grants of a tenant's links for any of `users` and `clients` (client row ids), oldest
/// first, in one query on `db` (the outbox's storing transaction). The caller keeps the (user, client)
/// pairs it asked for.
pub(crate) async fn event_destinations_of<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    users: &[&str],
    clients: &[&str],
) -> Result<Vec<EventDestination>, StoreError> {
    use amazon_grant::Column as G;
    use linked_account::Column as L;
    let (g, l) = (amazon_grant::Entity, linked_account::Entity);
    let q = deliverable_grant_ids(tenant_id, users, clients)
        .column((g, G::Region))
        .column((l, L::UserId))
        .column((l, L::ClientId))
        .order_by((g, G::CreatedAt), Order::Asc)
        .order_by((g, G::Id), Order::Asc)
        .to_owned();
    Ok(EventDestination::find_by_statement(db.get_database_backend().build(&q)).all(db).await?)
}

/// The ids of the grants events for any of `users` and `clients` (client row ids) go to: active, on a
/// link that is not revoked, their Latchkey grant not revoked. The one spelling of where an event
/// goes, for the outbox's group commit and for `?wait=true` alike.
fn deliverable_grant_ids(tenant_id: &str, users: &[&str], clients: &[&str]) -> SelectStatement {
    use amazon_grant::Column as G;
    use linked_account::Column as L;
    let (g, l) = (amazon_grant::Entity, linked_account::Entity);
    Query::select()
        .column((g, G::Id))
        .from(g)
        .inner_join(l, Expr::col((l, L::Id)).equals((g, G::LinkId)))
        .and_where(Expr::col((g, G::TenantId)).eq(tenant_id))
        .and_where(Expr::col((l, L::TenantId)).eq(tenant_id))
        .and_where(Expr::col((l, L::UserId)).is_in(users.iter().copied()))
        .and_where(Expr::col((l, L::ClientId)).is_in(clients.iter().copied()))
        .and_where(Expr::col((l, L::Status)).ne("revoked"))
        .and_where(Expr::col((g, G::Status)).eq("active"))
        .cond_where(family_not_revoked(tenant_id))
        .to_owned()
}

fn to_record(m: amazon_grant::Model) -> Result<AmazonGrant, StoreError> {
    Ok(AmazonGrant {
        region: m.region.parse().map_err(StoreError::Corrupt)?,
        has_amazon_tokens: m.lwa_refresh_token.is_some(),
        amazon_token_expires_at: m.lwa_expires_at,
        id: m.id,
        link_id: m.link_id,
        family_id: m.family_id,
        status: m.status,
        created_at: m.created_at,
        updated_at: m.updated_at,
        last_refreshed_at: m.last_refreshed_at,
        last_event_status: m.last_event_status,
        last_event_at: m.last_event_at,
        ended_at: m.ended_at,
        ended_reason: m.ended_reason,
    })
}

/// Why a grant stopped receiving events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantEnd {
    /// Alexa says the user disabled the skill (a skill event, or the Event Gateway and LWA).
    SkillDisabled,
    /// Unlinked in Latchkey (the dashboard, the API, a whole link's revocation).
    Revoked,
}

impl GrantEnd {
    fn status(self) -> &'static str {
        match self {
            Self::SkillDisabled => "disabled",
            Self::Revoked => "revoked",
        }
    }
}

impl Scoped<'_> {
    fn grants(&self) -> sea_orm::Select<amazon_grant::Entity> {
        amazon_grant::Entity::find().filter(amazon_grant::Column::TenantId.eq(self.tid()))
    }

    /// The grants `q` selects, oldest first.
    async fn oldest_first(&self, q: sea_orm::Select<amazon_grant::Entity>) -> Result<Vec<AmazonGrant>, StoreError> {
        q.order_by_asc(amazon_grant::Column::CreatedAt)
            .order_by_asc(amazon_grant::Column::Id)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect()
    }

    /// A link's grants that `q` keeps, oldest first.
    async fn link_grants(
        &self,
        link_id: &str,
        q: impl FnOnce(sea_orm::Select<amazon_grant::Entity>) -> sea_orm::Select<amazon_grant::Entity>,
    ) -> Result<Vec<AmazonGrant>, StoreError> {
        self.oldest_first(q(self.grants().filter(amazon_grant::Column::LinkId.eq(link_id)))).await
    }

    /// Every grant of a link, oldest first.
    pub async fn amazon_grants(&self, link_id: &str) -> Result<Vec<AmazonGrant>, StoreError> {
        self.link_grants(link_id, |q| q).await
    }

    /// The grants of a link that events go to: active, and their Latchkey grant not revoked.
    pub async fn deliverable_amazon_grants(&self, link_id: &str) -> Result<Vec<AmazonGrant>, StoreError> {
        let alive = family_not_revoked(&self.tid());
        self.link_grants(link_id, |q| q.filter(amazon_grant::Column::Status.eq("active")).filter(alive)).await
    }

    /// Where an event for `user_id` through the client `client_row_id` goes, in one query: the
    /// deliverable grants of their link, none if the link is revoked. Oldest first.
    pub async fn event_destination_grants(
        &self,
        user_id: &str,
        client_row_id: &str,
    ) -> Result<Vec<AmazonGrant>, StoreError> {
        let ids = deliverable_grant_ids(&self.tid(), &[user_id], &[client_row_id]);
        self.oldest_first(self.grants().filter(amazon_grant::Column::Id.in_subquery(ids))).await
    }

    /// Grants by id, in one query, each with its Amazon tokens opened (none before AcceptGrant or after
    /// the grant ended): a claimed batch's destinations and what to send them with. Tokens that cannot
    /// be opened are that grant's error, not the batch's, so one grant's trouble (a row sealed under a
    /// key this process lacks) does not hold back the other tenants' events claimed with it.
    pub async fn amazon_grants_with_tokens(&self, ids: &[String]) -> Result<Vec<GrantWithTokens>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.grants()
            .filter(amazon_grant::Column::Id.is_in(ids.iter().map(String::as_str)))
            .all(self.db())
            .await?
            .into_iter()
            .map(|m| {
                let tokens = self.open_tokens(&m);
                Ok((to_record(m)?, tokens))
            })
            .collect()
    }

    pub async fn amazon_grant(&self, grant_id: &str) -> Result<Option<AmazonGrant>, StoreError> {
        self.grants().filter(amazon_grant::Column::Id.eq(grant_id)).one(self.db()).await?.map(to_record).transpose()
    }

    pub async fn amazon_grant_of_family(&self, family_id: &str) -> Result<Option<AmazonGrant>, StoreError> {
        self.grants()
            .filter(amazon_grant::Column::FamilyId.eq(family_id))
            .one(self.db())
            .await?
            .map(to_record)
            .transpose()
    }

    /// Records an AcceptGrant: the grant of `family_id` gets these tokens and this region, and is
    /// active again if it had ended; a grant without a family (a token without one) is always new.
    pub async fn accept_amazon_grant(
        &self,
        link_id: &str,
        family_id: Option<&str>,
        region: AlexaRegion,
        tokens: &AmazonTokens,
    ) -> Result<AmazonGrant, StoreError> {
        if let Some(f) = family_id
            && let Some(existing) = self.amazon_grant_of_family(f).await?
        {
            return self.renew_grant(&existing.id, region, tokens).await;
        }
        let id = new_id();
        let (access, refresh) = self.seal_tokens(&id, tokens)?;
        let t = now();
        let inserted = amazon_grant::ActiveModel {
            id: Set(id.clone()),
            tenant_id: Set(self.tid()),
            link_id: Set(link_id.to_owned()),
            family_id: Set(family_id.map(str::to_owned)),
            region: Set(region.as_str().to_owned()),
            status: Set("active".into()),
            lwa_access_token: Set(Some(access)),
            lwa_refresh_token: Set(Some(refresh)),
            lwa_expires_at: Set(Some(tokens.expires_at)),
            created_at: Set(t),
            updated_at: Set(t),
            last_refreshed_at: Set(None),
            last_event_status: Set(None),
            last_event_at: Set(None),
            ended_at: Set(None),
            ended_reason: Set(None),
        }
        .insert(self.writer())
        .await;
        match inserted.map_err(StoreError::from) {
            Ok(m) => to_record(m),
            // Alexa retried the AcceptGrant while the first was still being stored: the family's grant
            // exists now, so this is a renewal.
            Err(StoreError::Conflict(c)) => match family_id {
                Some(f) => {
                    let existing = self.amazon_grant_of_family(f).await?.ok_or(StoreError::Conflict(c))?;
                    self.renew_grant(&existing.id, region, tokens).await
                }
                None => Err(StoreError::Conflict(c)),
            },
            Err(e) => Err(e),
        }
    }

    async fn renew_grant(
        &self,
        grant_id: &str,
        region: AlexaRegion,
        tokens: &AmazonTokens,
    ) -> Result<AmazonGrant, StoreError> {
        let (access, refresh) = self.seal_tokens(grant_id, tokens)?;
        amazon_grant::Entity::update_many()
            .col_expr(amazon_grant::Column::LwaAccessToken, Expr::value(access))
            .col_expr(amazon_grant::Column::LwaRefreshToken, Expr::value(refresh))
            .col_expr(amazon_grant::Column::LwaExpiresAt, Expr::value(tokens.expires_at))
            .col_expr(amazon_grant::Column::Region, Expr::value(region.as_str()))
            .col_expr(amazon_grant::Column::Status, Expr::value("active"))
            .col_expr(amazon_grant::Column::EndedAt, Expr::value(Option::<i64>::None))
            .col_expr(amazon_grant::Column::EndedReason, Expr::value(Option::<String>::None))
            .col_expr(amazon_grant::Column::UpdatedAt, Expr::value(now()))
            .filter(amazon_grant::Column::TenantId.eq(self.tid()))
            .filter(amazon_grant::Column::Id.eq(grant_id))
            .exec(self.writer())
            .await?;
        self.amazon_grant(grant_id).await?.ok_or(StoreError::NotFound)
    }

    fn seal_tokens(&self, grant_id: &str, t: &AmazonTokens) -> Result<(String, String), StoreError> {
        let tid = self.tid();
        let secrets = self.store.secrets();
        Ok((
            secrets.seal_str(&context::amazon_access(&tid, grant_id), &t.access_token)?,
            secrets.seal_str(&context::amazon_refresh(&tid, grant_id), &t.refresh_token)?,
        ))
    }

    /// A grant's tokens after a refresh at Login with Amazon.
    pub async fn store_refreshed_amazon_tokens(&self, grant_id: &str, t: &AmazonTokens) -> Result<(), StoreError> {
        let (access, refresh) = self.seal_tokens(grant_id, t)?;
        let at = now();
        let r = amazon_grant::Entity::update_many()
            .col_expr(amazon_grant::Column::LwaAccessToken, Expr::value(access))
            .col_expr(amazon_grant::Column::LwaRefreshToken, Expr::value(refresh))
            .col_expr(amazon_grant::Column::LwaExpiresAt, Expr::value(t.expires_at))
            .col_expr(amazon_grant::Column::LastRefreshedAt, Expr::value(at))
            .col_expr(amazon_grant::Column::UpdatedAt, Expr::value(at))
            .filter(amazon_grant::Column::TenantId.eq(self.tid()))
            .filter(amazon_grant::Column::Id.eq(grant_id))
            // A grant that ended while LWA answered stays ended, without tokens.
            .filter(amazon_grant::Column::Status.eq("active"))
            .exec(self.writer())
            .await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    pub async fn amazon_tokens(&self, grant_id: &str) -> Result<Option<AmazonTokens>, StoreError> {
        match self.grants().filter(amazon_grant::Column::Id.eq(grant_id)).one(self.db()).await? {
            Some(m) => self.open_tokens(&m),
            None => Ok(None),
        }
    }

    /// A grant row's Amazon tokens, opened with the keys bound to its tenant and id.
    fn open_tokens(&self, m: &amazon_grant::Model) -> Result<Option<AmazonTokens>, StoreError> {
        let (Some(a), Some(r), Some(exp)) = (&m.lwa_access_token, &m.lwa_refresh_token, m.lwa_expires_at) else {
            return Ok(None);
        };
        let secrets = self.store.secrets();
        Ok(Some(AmazonTokens {
            access_token: secrets.open_str(&context::amazon_access(&m.tenant_id, &m.id), a)?,
            refresh_token: secrets.open_str(&context::amazon_refresh(&m.tenant_id, &m.id), r)?,
            expires_at: exp,
        }))
    }

    /// Ends one grant: its Amazon tokens are deleted and no event goes to it. Returns whether it was
    /// still active (false: already ended, or not this tenant's).
    pub async fn end_amazon_grant(&self, grant_id: &str, why: GrantEnd, reason: &str) -> Result<bool, StoreError> {
        let r = self
            .end_grants(why, reason, now())
            .filter(amazon_grant::Column::Id.eq(grant_id))
            .exec(self.writer())
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// Ending this tenant's active grants (narrow it with a filter): status, no Amazon tokens, when
    /// and why. The one place that says what an ended grant looks like.
    pub(super) fn end_grants(&self, why: GrantEnd, reason: &str, t: i64) -> sea_orm::UpdateMany<amazon_grant::Entity> {
        amazon_grant::Entity::update_many()
            .col_expr(amazon_grant::Column::Status, Expr::value(why.status()))
            .col_expr(amazon_grant::Column::LwaAccessToken, Expr::value(Option::<String>::None))
            .col_expr(amazon_grant::Column::LwaRefreshToken, Expr::value(Option::<String>::None))
            .col_expr(amazon_grant::Column::LwaExpiresAt, Expr::value(Option::<i64>::None))
            .col_expr(amazon_grant::Column::EndedAt, Expr::value(t))
            .col_expr(amazon_grant::Column::EndedReason, Expr::value(reason))
            .col_expr(amazon_grant::Column::UpdatedAt, Expr::value(t))
            .filter(amazon_grant::Column::TenantId.eq(self.tid()))
            .filter(amazon_grant::Column::Status.eq("active"))
    }

    pub async fn record_grant_event_outcome(&self, grant_id: &str, status: &str) -> Result<(), StoreError> {
        amazon_grant::Entity::update_many()
            .col_expr(amazon_grant::Column::LastEventStatus, Expr::value(status))
            .col_expr(amazon_grant::Column::LastEventAt, Expr::value(now()))
            .filter(amazon_grant::Column::TenantId.eq(self.tid()))
            .filter(amazon_grant::Column::Id.eq(grant_id))
            .exec(self.writer())
            .await?;
        Ok(())
    }
}
