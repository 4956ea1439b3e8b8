//! Refresh-token policy (RFC 6749 §6, RFC 9700 §4.14, ALEXA.md §2).
//!
//! Alexa may retry a refresh whose answer it lost, so strict one-time use breaks links in production.
//! `Rotate` issues a new token on every use but honours the used token for a grace window; only a reuse
//! after the window counts as theft and revokes the family. `Fixed` keeps one token until it is revoked
//! or sits idle past a limit.
use serde::{Deserialize, Serialize};

use crate::time::UnixTime;

pub const DEFAULT_GRACE_SECS: i64 = 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum RefreshPolicy {
    Rotate { grace_secs: i64 },
    Fixed { idle_secs: Option<i64> },
}

impl RefreshPolicy {
    pub fn name(self) -> &'static str {
        match self {
            Self::Rotate { .. } => "rotate",
            Self::Fixed { .. } => "fixed",
        }
    }
}

/// The state of one stored refresh token and its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenState {
    pub used_at: Option<UnixTime>,
    pub last_used_at: Option<UnixTime>,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub family_revoked: bool,
}

/// What to do with a presented refresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// First use under `Rotate`: mark it used and issue a child.
    Rotate,
    /// A repeat within the grace window: issue a fresh child, keep the family.
    GraceRetry,
    /// `Fixed`: keep the token, issue a new access token.
    Keep,
    /// Reuse after the grace window: revoke the whole family (RFC 9700 §4.14.2).
    ReuseDetected,
    /// Expired, idle too long, or already revoked: `invalid_grant`, nothing else changes.
    Reject(RejectReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    Revoked,
    Expired,
    Idle,
}

pub fn decide(policy: RefreshPolicy, token: TokenState, now: UnixTime) -> Decision {
    if token.family_revoked {
        return Decision::Reject(RejectReason::Revoked);
    }
    if token.expires_at.is_some_and(|e| now >= e) {
        return Decision::Reject(RejectReason::Expired);
    }
    match policy {
        RefreshPolicy::Rotate { grace_secs } => match token.used_at {
            None => Decision::Rotate,
            Some(used) if now - used <= grace_secs => Decision::GraceRetry,
            Some(_) => Decision::ReuseDetected,
        },
        RefreshPolicy::Fixed { idle_secs } => {
            let last = token.last_used_at.unwrap_or(token.created_at);
            match idle_secs {
                Some(idle) if now - last > idle => Decision::Reject(RejectReason::Idle),
                _ => Decision::Keep,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROTATE: RefreshPolicy = RefreshPolicy::Rotate { grace_secs: 3600 };

    fn fresh() -> TokenState {
        TokenState { used_at: None, last_used_at: None, created_at: 1000, expires_at: None, family_revoked: false }
    }

    #[test]
    fn rotation_with_grace() {
        assert_eq!(decide(ROTATE, fresh(), 2000), Decision::Rotate);
        let used = TokenState { used_at: Some(2000), ..fresh() };
        assert_eq!(decide(ROTATE, used, 2001), Decision::GraceRetry);
        assert_eq!(decide(ROTATE, used, 5600), Decision::GraceRetry);
        assert_eq!(decide(ROTATE, used, 5601), Decision::ReuseDetected);
        let strict = RefreshPolicy::Rotate { grace_secs: 0 };
        assert_eq!(decide(strict, used, 2001), Decision::ReuseDetected);
    }

    #[test]
    fn revoked_and_expired_are_rejected_before_anything_else() {
        let revoked = TokenState { family_revoked: true, used_at: Some(1), ..fresh() };
        assert_eq!(decide(ROTATE, revoked, 2), Decision::Reject(RejectReason::Revoked));
        let expired = TokenState { expires_at: Some(1500), ..fresh() };
        assert_eq!(decide(ROTATE, expired, 1500), Decision::Reject(RejectReason::Expired));
        assert_eq!(decide(ROTATE, expired, 1499), Decision::Rotate);
    }

    #[test]
    fn fixed_tokens_expire_when_idle() {
        let p = RefreshPolicy::Fixed { idle_secs: Some(100) };
        assert_eq!(decide(p, fresh(), 1100), Decision::Keep);
        assert_eq!(decide(p, fresh(), 1101), Decision::Reject(RejectReason::Idle));
        let recently = TokenState { last_used_at: Some(1090), ..fresh() };
        assert_eq!(decide(p, recently, 1150), Decision::Keep);
        assert_eq!(decide(RefreshPolicy::Fixed { idle_secs: None }, fresh(), i64::MAX), Decision::Keep);
    }
}
