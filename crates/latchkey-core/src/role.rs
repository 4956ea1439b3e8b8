//! Dashboard roles and what each may do. One table, so the dashboard, the management API and the CLI
//! cannot disagree about who may change what.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A member's role in one tenant, ordered by power.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything of the tenant except secrets; changes nothing.
    Viewer,
    /// Manages skills, clients, users, links, providers, branding, API keys; invites viewers and admins.
    Admin,
    /// Everything an admin may, plus managing members' roles and owners.
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// Whether this role may change the tenant's configuration and data.
    pub fn can_write(self) -> bool {
        self >= Role::Admin
    }

    /// Whether this role may grant `other` to someone (invite, change a role, remove a member with it).
    /// Admins manage admins and viewers; only owners touch owners.
    pub fn can_assign(self, other: Role) -> bool {
        self.can_write() && (self == Role::Owner || other < Role::Owner)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Self::Viewer),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            other => Err(format!("unknown role '{other}' (owner, admin, viewer)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_read_only_admins_below_owners() {
        assert!(!Role::Viewer.can_write());
        assert!(Role::Admin.can_write());
        assert!(Role::Admin.can_assign(Role::Viewer));
        assert!(Role::Admin.can_assign(Role::Admin));
        assert!(!Role::Admin.can_assign(Role::Owner));
        assert!(Role::Owner.can_assign(Role::Owner));
        assert!(!Role::Viewer.can_assign(Role::Viewer));
    }

    #[test]
    fn parses_what_it_prints() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
