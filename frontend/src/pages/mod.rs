//! One module per page.
pub mod account;
pub mod audit;
pub mod branding;
pub mod clients;
pub mod home;
pub mod keys;
pub mod links;
pub mod login;
pub mod members;
pub mod providers;
pub mod signup;
pub mod skills;
pub mod users;

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The `:slug` of the current tenant page.
pub fn slug() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("slug").unwrap_or_default())
}

pub fn query(name: &'static str) -> Memo<String> {
    let q = use_query_map();
    Memo::new(move |_| q.read().get(name).unwrap_or_default())
}
