//! The sign-in form. One `<form method="post">` with `email` and `password`; errors inline.
use latchkey_store::records::Tenant;
use maud::{Markup, html};

use super::layout::page;

pub struct LoginView<'a> {
    pub tenant: &'a Tenant,
    pub action: &'a str,
    pub flow_id: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    /// "Continue with …" links: (provider name, start URL).
    pub providers: &'a [(String, String)],
    /// Whether the password form is offered (a tenant may allow only its upstream providers).
    pub password: bool,
}

pub fn login_page(v: &LoginView<'_>) -> Markup {
    page(
        Some(v.tenant),
        &format!("Sign in – {}", v.tenant.name),
        html! {
            h1 { "Sign in" }
            p.sub { "to link your " (v.tenant.name) " account with " strong { (v.client_name) } }
            @if let Some(e) = v.error {
                p.error role="alert" id="login-error" { (e) }
            }
            @for (name, url) in v.providers {
            a.provider href=(url) { "Continue with " (name) }
        }
        @if !v.providers.is_empty() && v.password {
            p.or { "or sign in with your password" }
        }
        @if v.password {
        form method="post" action=(v.action) novalidate {
                input type="hidden" name="flow" value=(v.flow_id);
                input type="hidden" name="csrf" value=(v.csrf);
                label for="email" { "Email" }
                input #email type="email" name="email" value=(v.email) autocomplete="username" required
                    autocapitalize="none" spellcheck="false" autofocus[v.email.is_empty()]
                    aria-describedby=[v.error.map(|_| "login-error")];
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required
                    autofocus[!v.email.is_empty()];
                button type="submit" { "Sign in" }
            }
            a.back href=(format!("/t/{}/password/forgot?flow={}", v.tenant.slug, v.flow_id)) { "Forgot your password?" }
            }
        },
    )
}
