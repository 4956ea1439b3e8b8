//! Who an upstream provider says signed in: the verified ID token's claims, completed from the
//! userinfo endpoint where the ID token leaves them out. OpenID Connect Core §5.4 lets a provider
//! return the `email` and `profile` claims only from userinfo when it issues an access token, and
//! many do (npm `oidc-provider` with its default settings among them).
//!
//! Pure: reading the claims out of `openidconnect`'s types and merging them; the requests are in
//! federation.rs.
use openidconnect::core::{CoreIdTokenClaims, CoreUserInfoClaims};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpstreamIdentity {
    pub subject: String,
    pub email: Option<String>,
    /// The provider's own `email_verified`, for that same `email`.
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub preferred_username: Option<String>,
}

impl UpstreamIdentity {
    pub fn from_id_token(c: &CoreIdTokenClaims) -> Self {
        Self {
            subject: c.subject().as_str().to_owned(),
            email: c.email().map(|e| e.as_str().to_owned()),
            email_verified: c.email_verified(),
            name: c.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
            given_name: c.given_name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
            preferred_username: c.preferred_username().map(|u| u.as_str().to_owned()),
        }
    }

    pub fn from_userinfo(c: &CoreUserInfoClaims) -> Self {
        Self {
            subject: c.subject().as_str().to_owned(),
            email: c.email().map(|e| e.as_str().to_owned()),
            email_verified: c.email_verified(),
            name: c.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
            given_name: c.given_name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
            preferred_username: c.preferred_username().map(|u| u.as_str().to_owned()),
        }
    }

    /// True only when the provider asserts this email address as verified.
    pub fn verified_email(&self) -> Option<&str> {
        self.email.as_deref().filter(|_| self.email_verified == Some(true))
    }

    /// A claim by its OpenID Connect name, for the fields a claim map may read.
    pub fn claim(&self, name: &str) -> Option<&str> {
        match name {
            "sub" => Some(self.subject.as_str()),
            "email" => self.email.as_deref(),
            "name" => self.name.as_deref(),
            "given_name" => self.given_name.as_deref(),
            "preferred_username" => self.preferred_username.as_deref(),
            _ => None,
        }
    }

    /// Whether the ID token lacks a claim that mapping this identity may need: the email and its
    /// verification (matching and creating accounts), and the claim the display name is read from.
    pub fn lacks(&self, name_claim: &str) -> bool {
        self.email.is_none() || self.email_verified.is_none() || self.claim(name_claim).is_none()
    }

    /// Completes these (ID-token) claims from a userinfo answer. The caller has checked that its
    /// `sub` is this identity's. ID-token claims win where both have one; an email and its
    /// verification always come from the same source, so a verified flag never attaches to an
    /// address the userinfo answer did not assert.
    pub fn merge_userinfo(mut self, u: UpstreamIdentity) -> Self {
        match (&self.email, &u.email) {
            (None, Some(_)) => {
                self.email = u.email;
                self.email_verified = u.email_verified;
            }
            (Some(mine), Some(theirs)) if mine == theirs && self.email_verified.is_none() => {
                self.email_verified = u.email_verified;
            }
            _ => {}
        }
        self.name = self.name.or(u.name);
        self.given_name = self.given_name.or(u.given_name);
        self.preferred_username = self.preferred_username.or(u.preferred_username);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(email: Option<&str>, verified: Option<bool>, name: Option<&str>) -> UpstreamIdentity {
        UpstreamIdentity {
            subject: "s".into(),
            email: email.map(Into::into),
            email_verified: verified,
            name: name.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn userinfo_fills_what_the_id_token_left_out() {
        let merged = id(None, None, None).merge_userinfo(id(Some("a@x"), Some(true), Some("Ann")));
        assert_eq!(merged.verified_email(), Some("a@x"));
        assert_eq!(merged.name.as_deref(), Some("Ann"));
    }

    #[test]
    fn id_token_claims_win() {
        let merged = id(Some("a@x"), Some(false), Some("Ann")).merge_userinfo(id(Some("a@x"), Some(true), Some("Bob")));
        assert_eq!(merged.verified_email(), None, "the ID token said unverified");
        assert_eq!(merged.name.as_deref(), Some("Ann"));
        let merged = id(Some("a@x"), None, None).merge_userinfo(id(Some("b@x"), Some(true), None));
        assert_eq!(merged.email.as_deref(), Some("a@x"));
        assert_eq!(merged.verified_email(), None, "userinfo verified another address, not this one");
    }

    #[test]
    fn verification_of_the_same_address_is_taken() {
        let merged = id(Some("a@x"), None, None).merge_userinfo(id(Some("a@x"), Some(true), None));
        assert_eq!(merged.verified_email(), Some("a@x"));
    }

    #[test]
    fn what_is_lacking() {
        assert!(id(None, None, Some("n")).lacks("name"));
        assert!(id(Some("a@x"), None, Some("n")).lacks("name"));
        assert!(id(Some("a@x"), Some(true), None).lacks("name"));
        assert!(!id(Some("a@x"), Some(false), Some("n")).lacks("name"));
        assert!(id(Some("a@x"), Some(true), Some("n")).lacks("given_name"));
    }
}
