//! Latchkey's domain types and OAuth 2.0 / OpenID Connect protocol rules.
//!
//! Everything here is pure: no I/O, no async, no framework types. The authorization-server services in
//! `latchkey-oauth` make their decisions by calling into this crate, so the rules can be unit-tested
//! exhaustively without a server.
#![forbid(unsafe_code)]

pub mod alexa;
pub mod authorize;
pub mod client_auth;
pub mod error;
pub mod hashing;
pub mod ids;
pub mod net;
pub mod outbound;
pub mod pkce;
pub mod redirect;
pub mod refresh;
pub mod role;
pub mod scope;
pub mod signing;
pub mod slug;
pub mod time;

pub use error::{ErrorCode, OAuthError};
pub use ids::TenantId;
