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

/// The newest mail to `to` in the outbox, decoded.
pub fn mailed_text(data_dir: &Path, to: &str) -> String {
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
    mails.pop().map(|(_, t)| t).unwrap_or_else(|| panic!("a mail to {to}"))
}

/// The token after `marker` (e.g. `/t/acme/password?token=`) in the newest mail to `to`.
pub fn mailed_link_token(data_dir: &Path, to: &str, marker: &str) -> String {
    let text = mailed_text(data_dir, to);
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
    app.auth.sign_up(input(), "127.0.0.1").await.expect("signup");
    let tenant = app.store.tenant_by_slug(&slug).await.expect("q").expect("pending tenant");
    assert_eq!(tenant.status.as_str(), "pending");
    assert!(app.auth.slug_available(&slug).await.expect("check").is_err(), "slug now taken");
    let other = SignupInput { email: format!("{}@example.com", unique("other")), ..input() };
    assert!(matches!(app.auth.sign_up(other, "127.0.0.1").await, Err(ServiceError::Conflict(_))), "taken by another");
    // The pending tenant's endpoints are not live; signing in waits for the email.
    let r =
        server_client().get(app.url(&format!("/t/{slug}/.well-known/openid-configuration"))).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 403);
    assert!(matches!(app.auth.dashboard_sign_in(&owner, PASSWORD, "127.0.0.1").await, Err(ServiceError::Forbidden(_))));

    let token = mailed_token(&app.data_dir, &owner, "/verify");
    app.auth.verify_email(&token, PASSWORD, "127.0.0.1").await.expect("verified");
    assert!(app.auth.verify_email(&token, PASSWORD, "127.0.0.1").await.is_err(), "links work once");
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
    app.auth.accept_invitation(&invite, PASSWORD, "127.0.0.1").await.expect("accepted");
    assert!(app.auth.accept_invitation(&invite, PASSWORD, "127.0.0.1").await.is_err(), "invitations work once");
    let (_, vs) = app.auth.dashboard_sign_in(&viewer, PASSWORD, "127.0.0.1").await.expect("viewer signs in");
    let va = app.auth.access(&vs.actor(None), &slug).await.expect("viewer access");
    // A provider test makes the server send requests out: viewers cannot start one.
    app.auth.create_provider(&owner_access, provider_input("corp", "https://sso.example.com")).await.expect("provider");
    assert!(matches!(app.auth.test_provider(&va, "corp").await, Err(ServiceError::Forbidden(_))));
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
    let events = app.store.scoped(&tenant.id).audit_events(None, 50).await.expect("audit");
    for action in ["tenant.signed_up", "tenant.activated", "member.invited", "member.joined"] {
        assert!(events.iter().any(|e| e.action == action), "{action} audited");
    }
    app.cleanup().await;
}

/// Reserved names: the server's own paths and names that would pass for the service are refused,
/// with a message saying so, at sign-up and in the live slug check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_slugs_are_refused_with_a_clear_message() {
    let app = TestApp::spawn(Backend::Embedded).await;
    for slug in
        ["admin", "api", "login", "www", "alexa", "latchkey", "metrics", "healthz", "readyz", "latchkey-billing"]
    {
        let why = app.auth.slug_available(slug).await.expect("check").expect_err(slug);
        assert!(why.contains("reserved"), "{slug}: {why}");
        let input = SignupInput {
            company: "Squatter".into(),
            slug: slug.into(),
            email: format!("{}@example.com", unique("s")),
            password: PASSWORD.into(),
        };
        match app.auth.sign_up(input, "127.0.0.1").await {
            Err(ServiceError::Conflict(m)) => assert!(m.contains("reserved"), "{slug}: {m}"),
            other => panic!("{slug}: {:?}", other.map(|_| ())),
        }
    }
    for slug in ["t", ".well-known"] {
        assert!(app.auth.slug_available(slug).await.expect("check").is_err(), "{slug}");
    }
    assert!(app.auth.create_tenant("status", "Status page").await.is_err(), "operators and the CLI too");
    app.cleanup().await;
}

/// Enumeration, as a browser without JavaScript posts the sign-up form: an address that already has
/// an account gets exactly the answer a new address gets, nothing is created, and its owner is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signup_form_answers_the_same_for_every_address() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let page = server_client().get(app.url("/admin/signup")).send().await.expect("page").text().await.expect("html");
    let action = page
        .split("<form action=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the sign-up form's action")
        .to_owned();
    let post = |email: String, slug: String| {
        let (app, action) = (&app, action.clone());
        async move {
            let resp = server_client()
                .post(app.url(&action))
                .header("origin", &app.base)
                .header("referer", app.url("/admin/signup"))
                .header("accept", "text/html")
                .form(&[
                    ("company", "Acme Locks"),
                    ("slug", slug.as_str()),
                    ("email", email.as_str()),
                    ("password", "a long password 1"),
                ])
                .send()
                .await
                .expect("post");
            let location = resp.headers().get("location").map(|v| v.to_str().unwrap_or_default().to_owned());
            // The answer names the address it was given; anything else must be identical.
            (resp.status(), location, resp.text().await.expect("body").replace(&email, "<address>"))
        }
    };
    let existing = format!("{}@example.com", unique("taken"));
    let hasher = latchkey_oauth::password::PasswordHasher::new().expect("hasher");
    app.store.create_account(&existing, &hasher.hash(PASSWORD).await.expect("hash"), true).await.expect("acct");
    let (new_slug, taken_slug) = (format!("co{}", &unique("")[..10]), format!("co{}", &unique("")[..10]));
    let fresh = post(format!("{}@example.com", unique("new")), new_slug.clone()).await;
    let known = post(existing.clone(), taken_slug.clone()).await;
    assert!(fresh.0.is_success() || fresh.0.is_redirection(), "{fresh:?}");
    assert_eq!(fresh, known, "the same answer whether or not the address has an account");
    assert!(app.store.tenant_by_slug(&new_slug).await.expect("q").is_some());
    assert!(app.store.tenant_by_slug(&taken_slug).await.expect("q").is_none(), "nothing created");
    assert!(mailed_text(&app.data_dir, &existing).contains("Someone tried to sign up"));
    app.cleanup().await;
}

on_both_backends!(
    signup_verify_invite_and_roles,
    a_signup_cannot_hold_someone_elses_address,
    operators_and_members_never_shadow_each_other
);

/// Operator shadowing: a sign-up with an operator's address (in any letter case) used to shadow the
/// operator at sign-in. Operators' addresses are refused at sign-up and invitation, and where an
/// operator and an account share an address, the password decides who signs in.
async fn operators_and_members_never_shadow_each_other(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let local = unique("root");
    let operator = app.auth.create_operator(&format!("{local}@Example.COM"), "operator password 1").await.expect("op");
    assert_eq!(operator.email, format!("{local}@example.com"), "stored normalised");
    let shouted = format!("{}@EXAMPLE.com", local.to_uppercase());

    // A sign-up with the operator's address, in another case: nothing is created.
    let slug = format!("co{}", &unique("")[..10]);
    let input = SignupInput {
        company: "Shadow".into(),
        slug: slug.clone(),
        email: shouted.clone(),
        password: "stranger's password 1".into(),
    };
    app.auth.sign_up(input, "192.0.2.9").await.expect("the same answer as for any address");
    assert!(app.store.account_by_email(&operator.email).await.expect("q").is_none());
    assert!(mailed_text(&app.data_dir, &operator.email).contains("Someone tried to sign up"));
    assert!(app.store.tenant_by_slug(&slug).await.expect("q").is_none());
    let (_, s) = app.auth.dashboard_sign_in(&shouted, "operator password 1", "127.0.0.1").await.expect("operator");
    assert_eq!(s.kind, latchkey_oauth::accounts::SessionKind::Operator);

    // An account with the same address (data from before this check, or an operator created for a
    // member's address), even an unverified one, never locks the operator out; nor the reverse.
    let hasher = latchkey_oauth::password::PasswordHasher::new().expect("hasher");
    let hash = hasher.hash("member password 1").await.expect("hash");
    let acc = app.store.create_account(&shouted, &hash, false).await.expect("account");
    let (_, s) = app.auth.dashboard_sign_in(&operator.email, "operator password 1", "127.0.0.1").await.expect("op");
    assert_eq!(s.kind, latchkey_oauth::accounts::SessionKind::Operator, "the unverified account shadows nothing");
    assert!(matches!(
        app.auth.dashboard_sign_in(&operator.email, "member password 1", "127.0.0.1").await,
        Err(ServiceError::Forbidden(_))
    ));
    app.store.verify_account(&acc.id, None).await.expect("verify");
    let (_, s) = app.auth.dashboard_sign_in(&shouted, "member password 1", "127.0.0.1").await.expect("member");
    assert_eq!((s.kind, s.subject_id), (latchkey_oauth::accounts::SessionKind::Account, acc.id.clone()));
    let (_, s) = app.auth.dashboard_sign_in(&operator.email, "operator password 1", "127.0.0.1").await.expect("op");
    assert_eq!(s.kind, latchkey_oauth::accounts::SessionKind::Operator);
    assert!(matches!(
        app.auth.dashboard_sign_in(&operator.email, "neither password", "127.0.0.1").await,
        Err(ServiceError::Unauthorized(_))
    ));
    // An operator id typed as the address signs nobody in.
    assert!(app.auth.dashboard_sign_in(&operator.id, "operator password 1", "127.0.0.1").await.is_err());

    // An invitation to another operator's address cannot create a member account for it.
    let other_local = unique("ops");
    app.auth.create_operator(&format!("{other_local}@example.com"), "operator password 2").await.expect("op2");
    let f = app.fixture(latchkey_core::client_auth::ClientAuthMethod::ClientSecretBasic).await;
    let owner_access = app.auth.access(&s.actor(None), &f.slug).await.expect("operator access");
    let invited = format!("{}@Example.com", other_local.to_uppercase());
    app.auth.invite_member(&owner_access, &invited, Role::Admin).await.expect("invite");
    let token = mailed_token(&app.data_dir, &invited.to_lowercase(), "/invitation");
    assert!(matches!(
        app.auth.accept_invitation(&token, "stranger's password 1", "192.0.2.9").await,
        Err(ServiceError::Conflict(_))
    ));
    assert!(app.store.account_by_email(&invited).await.expect("q").is_none());
    app.cleanup().await;
}

/// Pre-hijack: a stranger signs up with the owner's address and a password of their choosing. A mail
/// scanner (or the owner) opening the link verifies nothing; the owner verifies with a POST in which
/// they choose the password, so the stranger's never works. A second signup for a pending address
/// replaces the first and voids its link; unverified signups expire after a day.
async fn a_signup_cannot_hold_someone_elses_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let victim = format!("{}@example.com", unique("owner"));
    let signup = |slug: &str, password: &str| SignupInput {
        company: "Acme Locks".into(),
        slug: slug.into(),
        email: victim.clone(),
        password: password.into(),
    };
    let slug = format!("co{}", &unique("")[..10]);
    let stranger_password = "stranger's password 1";
    app.auth.sign_up(signup(&slug, stranger_password), "192.0.2.7").await.expect("signup");
    let first = app.store.tenant_by_slug(&slug).await.expect("q").expect("first");
    let first_token = mailed_token(&app.data_dir, &victim, "/verify");

    // The owner signs up too: the stranger's signup is replaced, its link void, even its slug reusable.
    app.auth.sign_up(signup(&slug, PASSWORD), "127.0.0.1").await.expect("replaces");
    let second = app.store.tenant_by_slug(&slug).await.expect("q").expect("second");
    assert_ne!(first.id, second.id);
    assert!(app.auth.verification_info(&first_token).await.is_err(), "the replaced signup's link is void");
    assert!(app.auth.verify_email(&first_token, stranger_password, "192.0.2.7").await.is_err());
    assert!(app.store.tenant_by_id(&first.id).await.expect("q").is_none(), "the replaced tenant is gone");
    let audit = app.store.scoped(&second.id).audit_events(Some("signup.replaced"), 5).await.expect("audit");
    assert_eq!(audit.len(), 1, "the replacement is audited");

    // The stranger signs up once more (another slug), after the owner: the owner's link dies, and the
    // owner's next link is what counts. Opening it (a plain GET, as a mail scanner does) verifies nothing.
    let slug3 = format!("co{}", &unique("")[..10]);
    app.auth.sign_up(signup(&slug3, stranger_password), "192.0.2.7").await.expect("replaces again");
    let token = mailed_token(&app.data_dir, &victim, "/verify");
    let page = server_client().get(app.url(&format!("/admin/verify?token={token}"))).send().await.expect("get");
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.expect("page");
    assert!(page.contains("Verify and activate") && page.contains(&victim) && page.contains(&slug3), "{page}");
    let r = server_client().get(app.url(&format!("/t/{slug3}/.well-known/openid-configuration"))).send().await;
    assert_eq!(r.expect("get").status().as_u16(), 403, "opening the link activated nothing");
    assert!(app.auth.verification_info(&token).await.is_ok(), "opening the link spent nothing");

    // A weak password is refused without spending the link; the owner's own password verifies.
    assert!(matches!(app.auth.verify_email(&token, "short", "127.0.0.1").await, Err(ServiceError::Invalid(_))));
    let account = app.auth.verify_email(&token, PASSWORD, "127.0.0.1").await.expect("verified");
    assert!(account.email_verified);
    assert!(app.auth.verify_email(&token, PASSWORD, "127.0.0.1").await.is_err(), "links work once");
    assert!(
        matches!(
            app.auth.dashboard_sign_in(&victim, stranger_password, "192.0.2.7").await,
            Err(ServiceError::Unauthorized(_))
        ),
        "the password typed at signup by the stranger never works"
    );
    app.auth.dashboard_sign_in(&victim, PASSWORD, "127.0.0.1").await.expect("the owner signs in");
    let r = server_client().get(app.url(&format!("/t/{slug3}/.well-known/openid-configuration"))).send().await;
    assert_eq!(r.expect("get").status().as_u16(), 200, "the tenant is active");
    // A verified account is never replaced by a signup, and sign-up does not say it exists: the same
    // answer as for a new address, nothing created, and the owner is told by mail instead.
    let slug5 = format!("co{}", &unique("")[..10]);
    let again = SignupInput { slug: slug5.clone(), ..signup(&slug, stranger_password) };
    app.auth.sign_up(again, "192.0.2.7").await.expect("the same answer as a new address");
    assert!(app.store.tenant_by_slug(&slug5).await.expect("q").is_none(), "nothing was created");
    assert!(mailed_text(&app.data_dir, &victim).contains("Someone tried to sign up"), "the owner is told");
    app.auth.dashboard_sign_in(&victim, PASSWORD, "127.0.0.1").await.expect("still the owner's");

    // Pending signups expire after a day, freeing the slug and the address.
    let late = format!("{}@example.com", unique("late"));
    let slug4 = format!("co{}", &unique("")[..10]);
    let input =
        SignupInput { company: "Late".into(), slug: slug4.clone(), email: late.clone(), password: PASSWORD.into() };
    app.auth.sign_up(input, "127.0.0.1").await.expect("signup");
    let pending = app.store.tenant_by_slug(&slug4).await.expect("q").expect("pending");
    let late_token = mailed_token(&app.data_dir, &late, "/verify");
    assert_eq!(app.auth.prune_expired_signups(latchkey_store::now()).await.expect("prune"), 0, "not yet");
    let tomorrow = latchkey_store::now() + 24 * 3600 + 60;
    assert!(app.auth.prune_expired_signups(tomorrow).await.expect("prune") >= 1);
    assert!(app.store.tenant_by_id(&pending.id).await.expect("q").is_none());
    assert!(app.store.account_by_email(&late).await.expect("q").is_none());
    assert!(app.auth.slug_available(&slug4).await.expect("check").is_ok(), "the slug is free again");
    assert!(app.auth.verification_info(&late_token).await.is_err());
    app.cleanup().await;
}
