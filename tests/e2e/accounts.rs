//! Dashboard accounts through the service functions the dashboard and API share: signup writes a
//! verification mail to the outbox, the link activates the tenant, sessions end on "sign out
//! everywhere", invitations give roles, and roles are enforced.
use latchkey_core::role::Role;
use latchkey_oauth::ServiceError;
use latchkey_oauth::accounts::SignupInput;
use std::path::Path;

use crate::helpers::*;

/// Decodes quoted-printable soft breaks and escapes, enough for the links in our mails.
fn decode_qp(s: &str) -> String {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The token of the newest link to `path` mailed to `to`, read from the outbox like a newcomer would.
pub fn mailed_token(data_dir: &Path, to: &str, path: &str) -> String {
    mailed_link_token(data_dir, to, &format!("/admin{path}?token="))
}

/// The token after `marker` (e.g. `/t/acme/password?token=`) in the newest mail to `to`.
pub fn mailed_link_token(data_dir: &Path, to: &str, marker: &str) -> String {
    let mut mails: Vec<_> = std::fs::read_dir(data_dir.join("outbox"))
        .expect("outbox")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let text = decode_qp(&std::fs::read_to_string(e.path()).ok()?);
            let modified = e.metadata().ok()?.modified().ok()?;
            text.contains(&format!("To: {to}")).then_some((modified, text))
        })
        .collect();
    mails.sort_by_key(|(m, _)| *m);
    let (_, text) = mails.last().unwrap_or_else(|| panic!("a mail to {to}"));
    let start = text.find(marker).unwrap_or_else(|| panic!("a {marker} link in:\n{text}"));
    let rest = &text[start + marker.len()..];
    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

async fn signup_verify_invite_and_roles(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = format!("co{}", &unique("")[..10]);
    let owner = format!("{}@example.com", unique("owner"));
    let input = || SignupInput {
        company: "Acme Locks".into(),
        slug: slug.clone(),
        email: owner.clone(),
        password: PASSWORD.into(),
    };
    let (tenant, _) = app.auth.sign_up(input(), "127.0.0.1").await.expect("signup");
    assert_eq!(tenant.status.as_str(), "pending");
    assert!(app.auth.slug_available(&slug).await.expect("check").is_err(), "slug now taken");
    assert!(matches!(app.auth.sign_up(input(), "127.0.0.1").await, Err(ServiceError::Conflict(_))));
    // The pending tenant's endpoints are not live; signing in waits for the email.
    let r =
        server_client().get(app.url(&format!("/t/{slug}/.well-known/openid-configuration"))).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 403);
    assert!(matches!(app.auth.dashboard_sign_in(&owner, PASSWORD, "127.0.0.1").await, Err(ServiceError::Forbidden(_))));

    let token = mailed_token(&app.data_dir, &owner, "/verify");
    app.auth.verify_email(&token).await.expect("verified");
    assert!(app.auth.verify_email(&token).await.is_err(), "links work once");
    let r =
        server_client().get(app.url(&format!("/t/{slug}/.well-known/openid-configuration"))).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 200, "the tenant is live after verification");

    // Sign in; the session names the owner; wrong passwords are refused.
    assert!(matches!(
        app.auth.dashboard_sign_in(&owner, "wrong password!", "127.0.0.1").await,
        Err(ServiceError::Unauthorized(_))
    ));
    let (sid, session) = app.auth.dashboard_sign_in(&owner, PASSWORD, "127.0.0.1").await.expect("sign in");
    let owner_access = app.auth.access(&session.actor(None), &slug).await.expect("access");
    assert_eq!(owner_access.role, Role::Owner);

    // Invite a viewer by mail; accepting creates their account.
    let viewer = format!("{}@example.com", unique("viewer"));
    app.auth.invite_member(&owner_access, &viewer, Role::Viewer).await.expect("invite");
    let invite = mailed_token(&app.data_dir, &viewer, "/invitation");
    let info = app.auth.invitation_info(&invite).await.expect("info");
    assert_eq!((info.role, info.account_exists), (Role::Viewer, false));
    app.auth.accept_invitation(&invite, PASSWORD).await.expect("accepted");
    assert!(app.auth.accept_invitation(&invite, PASSWORD).await.is_err(), "invitations work once");
    let (_, vs) = app.auth.dashboard_sign_in(&viewer, PASSWORD, "127.0.0.1").await.expect("viewer signs in");
    let va = app.auth.access(&vs.actor(None), &slug).await.expect("viewer access");
    assert_eq!(va.role, Role::Viewer);
    // A viewer reads but cannot change anything.
    assert!(app.auth.list_skills(&va).await.is_ok());
    assert!(matches!(
        app.auth.create_user(&va, "x@example.com", Some(PASSWORD), None).await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        app.auth.invite_member(&va, "y@example.com", Role::Viewer).await,
        Err(ServiceError::Forbidden(_))
    ));

    // A member of one tenant does not see another: same answer as a tenant that does not exist.
    let other = app.fixture(latchkey_core::client_auth::ClientAuthMethod::ClientSecretBasic).await;
    assert!(matches!(app.auth.access(&session.actor(None), &other.slug).await, Err(ServiceError::NotFound(_))));

    // The last owner cannot be demoted or removed.
    let members = app.auth.list_members(&owner_access).await.expect("members");
    let me = members.iter().find(|m| m.email == owner).expect("owner listed");
    assert!(matches!(
        app.auth.set_member_role(&owner_access, &me.id, Role::Admin).await,
        Err(ServiceError::Conflict(_))
    ));

    // Password reset ends every session; sign out everywhere too.
    app.auth.request_password_reset(&owner, "127.0.0.1").await.expect("reset mail");
    let reset = mailed_token(&app.data_dir, &owner, "/reset");
    app.auth.reset_password(&reset, "a brand new passphrase").await.expect("reset");
    assert!(app.auth.dashboard_session(&sid).await.expect("lookup").is_none(), "old session ended");
    let (sid2, s2) = app.auth.dashboard_sign_in(&owner, "a brand new passphrase", "127.0.0.1").await.expect("sign in");
    assert!(app.auth.dashboard_session(&sid2).await.expect("lookup").is_some());
    app.auth.sign_out_everywhere(&s2).await.expect("everywhere");
    assert!(app.auth.dashboard_session(&sid2).await.expect("lookup").is_none());

    // The audit log says who did what.
    let events = app.auth.store.scoped(&tenant.id).audit_events(None, 50).await.expect("audit");
    for action in ["tenant.signed_up", "tenant.activated", "member.invited", "member.joined"] {
        assert!(events.iter().any(|e| e.action == action), "{action} audited");
    }
    app.cleanup().await;
}

on_both_backends!(signup_verify_invite_and_roles);
