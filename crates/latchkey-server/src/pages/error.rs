//! The error page shown when a request cannot safely go back to the client.
use latchkey_store::records::Tenant;
use maud::{Markup, html};

use super::layout::page;

pub fn error_page(tenant: Option<&Tenant>, title: &str, message: &str, code: Option<&str>) -> Markup {
    page(
        tenant,
        title,
        html! {
            h1 { (title) }
            p.error role="alert" { (message) }
            @if let Some(c) = code {
                p.sub { "Error code: " code { (c) } }
            }
            p.sub { "Close this page and try linking again from the app. If it keeps happening, contact the company that makes your device." }
        },
    )
}
