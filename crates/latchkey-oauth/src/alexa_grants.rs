//! Ending one Alexa account's grant on a link. A household links one device account from several Alexa
//! accounts: one link, several grants (refresh families), each with its own Amazon tokens. When one
//! person disables the skill, or an operator unlinks one Alexa account, only that grant ends.
use latchkey_core::TenantId;
use latchkey_store::records::{AmazonGrant, LinkedAccount};
use latchkey_store::repo::GrantEnd;
use serde::Serialize;

use crate::AuthServer;
use crate::error::ServiceResult;

/// Which grant to end: the one a token's family names, or one known by its row.
pub enum GrantRef<'a> {
    Family(&'a str),
    Grant(&'a AmazonGrant),
}

/// What ending a grant changed.
#[derive(Debug, Default, Serialize)]
pub struct EndedGrant {
    /// The Amazon grant whose tokens were deleted, if the family had one that was still active.
    pub grant: Option<String>,
    pub family_revoked: bool,
    /// The link was revoked because this was its last unrevoked grant.
    pub link_revoked: bool,
}

impl AuthServer {
    /// Ends one grant: its Amazon tokens are deleted and events stop going to it. With
    /// `revoke_family`, the Latchkey tokens of that grant are revoked too, and the link itself once
    /// none of its grants is left; other household members' grants are untouched.
    pub async fn end_alexa_grant(
        &self,
        tid: &TenantId,
        link: &LinkedAccount,
        which: GrantRef<'_>,
        why: GrantEnd,
        revoke_family: bool,
    ) -> ServiceResult<EndedGrant> {
        let scoped = self.store.scoped(tid);
        let (grant, family) = match which {
            GrantRef::Family(f) => (scoped.amazon_grant_of_family(f).await?, Some(f.to_owned())),
            GrantRef::Grant(g) => (Some(g.clone()), g.family_id.clone()),
        };
        let reason = match why {
            GrantEnd::SkillDisabled => "skill_disabled",
            GrantEnd::Revoked => "unlinked",
        };
        let mut ended = EndedGrant::default();
        if let Some(g) = grant.filter(|g| g.link_id == link.id)
            && scoped.end_amazon_grant(&g.id, why, reason).await?
        {
            ended.grant = Some(g.id);
        }
        if revoke_family && let Some(f) = &family {
            ended.family_revoked = scoped.revoke_family(f, reason).await?;
            if link.status != "revoked" && scoped.active_family_count(&link.user_id, &link.client_id).await? == 0 {
                scoped.revoke_link(&link.id).await?;
                ended.link_revoked = true;
            }
        }
        Ok(ended)
    }
}
