//! The pages end users see while linking: server-rendered, small, mobile-first, no JavaScript.
pub mod consent;
mod error;
mod layout;
pub mod login;
pub mod password;

pub use consent::consent_page;
pub use error::{error_page, federation_error_page};
pub use login::login_page;
