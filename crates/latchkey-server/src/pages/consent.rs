//! The consent form: allow or deny, as two submit buttons named `decision`.
use latchkey_store::records::Tenant;
use maud::{Markup, html};

use super::layout::page;

fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Confirm your identity".into(),
        "profile" => "See your name".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Stay connected when you are not using it".into(),
        other => format!("Access: {other}"),
    }
}

pub struct ConsentView<'a> {
    pub tenant: &'a Tenant,
    pub action: &'a str,
    pub flow_id: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub scopes: &'a [String],
}

pub fn consent_page(v: &ConsentView<'_>) -> Markup {
    page(
        Some(v.tenant),
        &format!("Allow access – {}", v.tenant.name),
        html! {
            h1 { "Allow " (v.client_name) "?" }
            p.sub { (v.client_name) " wants to use your " (v.tenant.name) " account. It will be able to:" }
            ul.scopes {
                @for s in v.scopes { li { (describe(s)) } }
            }
            form method="post" action=(v.action) {
                input type="hidden" name="flow" value=(v.flow_id);
                input type="hidden" name="csrf" value=(v.csrf);
                button type="submit" name="decision" value="allow" { "Allow" }
                button.secondary type="submit" name="decision" value="deny" { "Deny" }
            }
        },
    )
}
