//! End users' password pages: choose a password from a mailed link (invitation or reset), and ask
//! for a reset link from the sign-in page. Same frame and branding as the sign-in page.
use latchkey_store::records::Tenant;
use maud::{Markup, html};

use latchkey_oauth::password::MIN_PASSWORD_LEN;

use super::layout::page;

pub fn set_password_page(tenant: &Tenant, token: &str, error: Option<&str>) -> Markup {
    page(
        Some(tenant),
        &format!("Choose your password – {}", tenant.name),
        html! {
            h1 { "Choose your password" }
            p.sub { "for your " (tenant.name) " account" }
            @if let Some(e) = error {
                p.error role="alert" id="password-error" { (e) }
            }
            form method="post" action=(format!("/t/{}/password", tenant.slug)) novalidate {
                input type="hidden" name="token" value=(token);
                label for="password" { "New password" }
                input #password type="password" name="password" autocomplete="new-password" required autofocus
                    minlength=(MIN_PASSWORD_LEN) aria-describedby=[error.map(|_| "password-error")];
                p.sub { "At least " (MIN_PASSWORD_LEN) " characters. A few unrelated words make a strong one." }
                button type="submit" { "Set password" }
            }
        },
    )
}

pub fn password_set_page(tenant: &Tenant) -> Markup {
    page(
        Some(tenant),
        &format!("Password set – {}", tenant.name),
        html! {
            h1 { "Your password is set" }
            p.sub role="status" { "Go back to the app and sign in with your email address and the new password." }
        },
    )
}

pub fn forgot_page(tenant: &Tenant, flow: Option<&str>, error: Option<&str>) -> Markup {
    page(
        Some(tenant),
        &format!("Reset your password – {}", tenant.name),
        html! {
            h1 { "Reset your password" }
            p.sub { "We will mail you a link to choose a new password." }
            @if let Some(e) = error {
                p.error role="alert" id="forgot-error" { (e) }
            }
            form method="post" action=(format!("/t/{}/password/forgot", tenant.slug)) novalidate {
                @if let Some(f) = flow {
                    input type="hidden" name="flow" value=(f);
                }
                label for="email" { "Email" }
                input #email type="email" name="email" autocomplete="username" required autofocus
                    autocapitalize="none" spellcheck="false" aria-describedby=[error.map(|_| "forgot-error")];
                button type="submit" { "Send the link" }
            }
            @if let Some(f) = flow {
                a.back href=(format!("/t/{}/login?flow={f}", tenant.slug)) { "Back to sign-in" }
            }
        },
    )
}

pub fn forgot_sent_page(tenant: &Tenant, flow: Option<&str>) -> Markup {
    page(
        Some(tenant),
        &format!("Check your mail – {}", tenant.name),
        html! {
            h1 { "Check your mail" }
            p.sub role="status" {
                "If an account uses that address, a link to choose a new password is on its way. It works once, for one hour."
            }
            @if let Some(f) = flow {
                a.back href=(format!("/t/{}/login?flow={f}", tenant.slug)) { "Back to sign-in" }
            }
        },
    )
}
