//! The refresh grant's one-trip first use (repo/first_use.rs) against the decision it stands in for:
//! it may write only where `refresh::decide` rotates and the general path would rotate too, and it
//! must leave every other state as it found it for the general path to answer.
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_core::hashing::secret_hash;
use latchkey_core::refresh::{self, Decision, RefreshPolicy, TokenState};
use latchkey_store::repo::FirstUse;
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::helpers::*;
use crate::refresh_concurrency::store_rig;

on_both_backends!(
    first_use_agrees_with_decide,
    first_uses_at_once_rotate_once,
    a_disabled_users_refresh_changes_nothing
);

const POLICY: RefreshPolicy = RefreshPolicy::Rotate { grace_secs: 3600 };

/// How the token is used, when it expires, whose grant it is: every combination, each on its own grant.
#[derive(Clone, Copy, Debug)]
struct Case {
    used_ago: Option<i64>,
    expires_in: Option<i64>,
    family_revoked: bool,
    user: Who,
    own_client: bool,
    own_tenant: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Enabled,
    Disabled,
    /// A grant without a user (none is left for a deleted user: their grants go with them).
    NoUser,
}

fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    for used_ago in [None, Some(10), Some(7200)] {
        for expires_in in [None, Some(600), Some(0), Some(-5)] {
            for family_revoked in [false, true] {
                for user in [Who::Enabled, Who::Disabled, Who::NoUser] {
                    for (own_client, own_tenant) in [(true, true), (false, true), (true, false)] {
                        all.push(Case { used_ago, expires_in, family_revoked, user, own_client, own_tenant });
                    }
                }
            }
        }
    }
    all
}

/// Store level: for each case, the first use rotates exactly when `decide` says `Rotate` for the
/// token as stored, the client and tenant are the grant's and the user (if any) is enabled; and when
/// it does not, the token is unchanged and no child was stored.
async fn first_use_agrees_with_decide(backend: Backend) {
    let (app, _, tenant, client) = store_rig(backend).await;
    let other = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let other_tenant = app.auth.tenant_for_admin(&other.slug).await.expect("tenant").id().clone();
    let scoped = app.store.scoped(&tenant);
    let db = app.raw_db().await;
    let (mut rotated, mut refused) = (0, 0);
    for (n, case) in cases().into_iter().enumerate() {
        let now = latchkey_store::now();
        let user = match case.user {
            Who::NoUser => None,
            _ => Some(scoped.create_user(&format!("case-{n}@example.com"), None, None).await.expect("user").id),
        };
        let hash = secret_hash(&format!("case-{n}"));
        let family = latchkey_store::new_id();
        let expires_at = case.expires_in.map(|e| now + e);
        scoped
            .start_family(&family, &client, user.as_deref(), &["profile".into()], None, &hash, expires_at)
            .await
            .expect("grant");
        if let Some(ago) = case.used_ago {
            let sql = format!(
                "UPDATE refresh_tokens SET used_at = {}, last_used_at = {} WHERE token_hash = '{hash}'",
                now - ago,
                now - ago
            );
            db.execute_unprepared(&sql).await.expect("mark used");
        }
        if case.family_revoked {
            scoped.revoke_family(&family, "test").await.expect("revoke");
        }
        if let (Who::Disabled, Some(u)) = (case.user, &user) {
            scoped.set_user_disabled(u, true).await.expect("disable");
        }
        let before = scoped.refresh_token_by_hash(&hash).await.expect("read").expect("stored");
        let state = TokenState {
            used_at: before.used_at,
            last_used_at: before.last_used_at,
            created_at: before.created_at,
            expires_at: before.expires_at,
            family_revoked: before.family.revoked_at.is_some(),
        };
        let child = secret_hash(&format!("case-{n}, the child"));
        let asker = if case.own_tenant { scoped } else { app.store.scoped(&other_tenant) };
        let outcome = asker
            .rotate_on_first_use(FirstUse {
                token_hash: &hash,
                client_row_id: if case.own_client { &client } else { "another-client" },
                child_hash: child.clone(),
                child_expires_at: None,
            })
            .await
            .expect("first use");
        let decided = refresh::decide(POLICY, state, latchkey_store::now());
        let want = decided == Decision::Rotate
            && case.own_client
            && case.own_tenant
            && matches!(case.user, Who::Enabled | Who::NoUser);
        let after = scoped.refresh_token_by_hash(&hash).await.expect("read").expect("kept");
        let stored_child = scoped.refresh_token_by_hash(&child).await.expect("read");
        match outcome {
            Some(record) => {
                assert!(want, "{case:?} rotated; decide said {decided:?}, and only the own client's enabled grant may");
                assert_eq!((record.id.as_str(), record.family.id.as_str()), (before.id.as_str(), family.as_str()));
                assert_eq!(record.family.user_id, user, "{case:?}: the record names the grant's user");
                assert!(after.used_at.is_some(), "{case:?}: the token is used");
                let stored_child = stored_child.expect("the child is stored");
                assert_eq!(stored_child.family.id, family, "{case:?}: the child is in the grant");
                rotated += 1;
            }
            None => {
                assert!(!want, "{case:?} did not rotate, but decide said {decided:?}");
                assert_eq!((after.used_at, after.last_used_at), (before.used_at, before.last_used_at), "{case:?}");
                assert!(stored_child.is_none(), "{case:?}: no child");
                refused += 1;
            }
        }
    }
    assert!(rotated > 0 && refused > rotated, "rotated {rotated}, refused {refused}");
    app.cleanup().await;
}

/// Store level: eight first uses of one token at once; exactly one rotates, the others write nothing.
async fn first_uses_at_once_rotate_once(backend: Backend) {
    let (app, f, tenant, client) = store_rig(backend).await;
    let scoped = app.store.scoped(&tenant);
    let hash = secret_hash("contested");
    let family = latchkey_store::new_id();
    scoped.start_family(&family, &client, Some(&f.user_id), &[], None, &hash, None).await.expect("grant");
    let uses = (0..8).map(|n| {
        scoped.rotate_on_first_use(FirstUse {
            token_hash: &hash,
            client_row_id: &client,
            child_hash: secret_hash(&format!("contested child {n}")),
            child_expires_at: None,
        })
    });
    let outcomes = futures::future::join_all(uses).await;
    let rotated = outcomes.into_iter().map(|o| o.expect("first use")).filter(Option::is_some).count();
    assert_eq!(rotated, 1);
    let db = app.raw_db().await;
    let children = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM refresh_tokens WHERE family_id = '{family}'"),
        ))
        .await
        .expect("count")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n");
    assert_eq!(children, 2, "the token and one child");
    app.cleanup().await;
}

/// Over HTTP: a disabled user's refresh is refused and leaves the token unused, so once the user is
/// enabled again the same token is a first use and rotates.
async fn a_disabled_users_refresh_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    let rt = linked_tokens(&app, &f).await["refresh_token"].as_str().expect("rt").to_owned();
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    app.auth.set_user_disabled(&t, &f.user_id, true).await.expect("disable");
    let refused = refresh(&app, &f, &rt).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
    let token = app.store.scoped(t.id()).refresh_token_by_hash(&secret_hash(&rt)).await.expect("read").expect("kept");
    assert_eq!(token.used_at, None, "the refused refresh did not use the token");
    app.auth.set_user_disabled(&t, &f.user_id, false).await.expect("enable");
    let body = json_ok(refresh(&app, &f, &rt).await).await;
    assert!(body["refresh_token"].as_str().is_some_and(|child| child != rt), "a new token: {body}");
    app.cleanup().await;
}
