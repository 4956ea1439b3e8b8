//! sea-orm entities, one per table. Repositories in `crate::repo` are the only users; nothing outside
//! this crate sees an entity.
pub mod account;
pub mod alexa_delivery;
pub mod amazon_grant;
pub mod api_key;
pub mod audit_event;
pub mod end_user;
pub mod federated_identity;
pub mod linked_account;
pub mod oauth_client;
pub mod operator;
pub mod refresh_family;
pub mod refresh_token;
pub mod revocation;
pub mod signing_key;
pub mod skill;
pub mod smapi_credential;
pub mod tenant;
pub mod tenant_member;
pub mod upstream_provider;
