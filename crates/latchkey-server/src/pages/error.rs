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

/// An upstream sign-in that failed, with the way back to the sign-in form.
pub fn federation_error_page(tenant: &Tenant, message: &str, back: Option<&str>) -> Markup {
    page(
        Some(tenant),
        "Sign-in did not complete",
        html! {
            h1 { "Sign-in did not complete" }
            p.error role="alert" { (message) }
            @if let Some(b) = back {
                a.back href=(b) { "Back to sign-in" }
            } @else {
                p.sub { "Close this page and start linking again from the app." }
            }
        },
    )
}
