//! Migration 7 moves the Amazon tokens each link held to the Alexa grant they belong to. Fixtures an
//! older database holds are written after migration 6, the upgrade runs, and the store then reads the
//! moved tokens with the same master key (they were sealed for the link's id, which the grant keeps).
use latchkey_core::TenantId;
use latchkey_migrations::MigratorTrait;
use latchkey_store::{SecretBox, Store};
use sea_orm::{ConnectionTrait, Database};

use crate::helpers::*;

on_both_backends!(link_tokens_move_to_their_grant);

async fn link_tokens_move_to_their_grant(backend: Backend) {
    let (url, dir) = match backend {
        Backend::Postgres => (fresh_pg_database().await, None),
        Backend::Embedded => {
            let dir = std::env::temp_dir().join(unique("latchkey-grants-"));
            std::fs::create_dir_all(&dir).expect("dir");
            (format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display()), Some(dir))
        }
    };
    let db = Database::connect(url.as_str()).await.expect("db");
    latchkey_migrations::Migrator::up(&db, Some(6)).await.expect("migrations 1-6");

    // Tokens as the one-pair-per-link code sealed them: bound to the link's id.
    let key = SecretBox::generate_base64().expect("key");
    let sb = SecretBox::from_base64(&key).expect("box");
    let access = sb.seal_str("lwa_access:t1:l-tok", "Atza|moved-access").expect("seal");
    let refresh = sb.seal_str("lwa_refresh:t1:l-tok", "Atzr|moved-refresh").expect("seal");
    let fixtures = [
        "INSERT INTO tenants (id, slug, name, status, settings, created_at) VALUES ('t1', 'one', 'One', 'active', '{}', 1)".to_owned(),
        "INSERT INTO oauth_clients (id, tenant_id, client_id, name, secret_hash, redirect_uris, auth_method, grant_types, \
         scopes, require_pkce, access_token_ttl, refresh_policy, refresh_grace_secs, created_at) VALUES \
         ('c1', 't1', 'pub-c1', 'C1', NULL, '[]', 'client_secret_basic', '[]', '', FALSE, 3600, 'rotate', 0, 1)".to_owned(),
        "INSERT INTO end_users (id, tenant_id, email, name, email_verified, disabled, created_at) VALUES \
         ('u1', 't1', 'u1@example.com', NULL, TRUE, FALSE, 1), ('u2', 't1', 'u2@example.com', NULL, TRUE, FALSE, 1), \
         ('u3', 't1', 'u3@example.com', NULL, TRUE, FALSE, 1)".to_owned(),
        "INSERT INTO skills (id, tenant_id, name, alexa_skill_id, vendor_id, kind, region, oauth_client_id, created_at) VALUES \
         ('s1', 't1', 'Locks', 'amzn1.ask.skill.one', 'V', 'smart_home', 'EU', 'c1', 1)".to_owned(),
        // u1's link holds tokens; u2's Alexa reported the skill disabled; u3 unlinked.
        format!(
            "INSERT INTO linked_accounts (id, tenant_id, user_id, client_id, scope, status, created_at, updated_at, \
             lwa_access_token, lwa_refresh_token, lwa_expires_at, last_event_status, last_event_at) VALUES \
             ('l-tok', 't1', 'u1', 'c1', 'x', 'active', 1, 7, '{access}', '{refresh}', 99999, 'accepted', 8), \
             ('l-off', 't1', 'u2', 'c1', 'x', 'inactive', 1, 6, NULL, NULL, NULL, 'SKILL_DISABLED_EXCEPTION', 6), \
             ('l-gone', 't1', 'u3', 'c1', 'x', 'revoked', 1, 5, NULL, NULL, NULL, NULL, NULL)"
        ),
        // u1 linked three times: the newest grant was revoked since; the tokens belong to the newest
        // one still standing.
        "INSERT INTO refresh_families (id, tenant_id, client_id, user_id, scope, created_at, revoked_at) VALUES \
         ('f-old', 't1', 'c1', 'u1', 'x', 1, NULL), ('f-new', 't1', 'c1', 'u1', 'x', 5, NULL), \
         ('f-revoked', 't1', 'c1', 'u1', 'x', 9, 10), ('f-u2', 't1', 'c1', 'u2', 'x', 2, NULL)".to_owned(),
    ];
    for sql in &fixtures {
        db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    latchkey_migrations::Migrator::up(&db, None).await.expect("migration 7");
    assert!(
        db.execute_unprepared("SELECT lwa_access_token FROM linked_accounts").await.is_err(),
        "the link no longer holds Amazon tokens"
    );
    db.close().await.expect("close");

    let store = Store::connect(&url, SecretBox::from_base64(&key).expect("box")).await.expect("store");
    let tid = TenantId::new("t1");
    let scoped = store.scoped(&tid);
    let grants = scoped.amazon_grants("l-tok").await.expect("grants");
    assert_eq!(grants.len(), 1);
    let g = &grants[0];
    assert_eq!((g.id.as_str(), g.family_id.as_deref(), g.status.as_str()), ("l-tok", Some("f-new"), "active"));
    assert_eq!(g.region.as_str(), "EU", "the skill's region");
    assert_eq!((g.last_event_status.as_deref(), g.last_event_at), (Some("accepted"), Some(8)));
    let tokens = scoped.amazon_tokens(&g.id).await.expect("decrypts").expect("tokens");
    assert_eq!(
        (tokens.access_token.as_str(), tokens.refresh_token.as_str()),
        ("Atza|moved-access", "Atzr|moved-refresh")
    );
    assert_eq!(tokens.expires_at, 99999);
    assert_eq!(scoped.deliverable_amazon_grants("l-tok").await.expect("grants").len(), 1);

    // The disabled link keeps that fact on its grant and is an ordinary link again.
    let off = scoped.amazon_grants("l-off").await.expect("grants");
    assert_eq!(off.len(), 1);
    assert_eq!((off[0].status.as_str(), off[0].has_amazon_tokens), ("disabled", false));
    assert_eq!(off[0].family_id.as_deref(), Some("f-u2"));
    assert_eq!(scoped.link_by_id("l-off").await.expect("link").expect("link").status, "active");
    assert!(scoped.deliverable_amazon_grants("l-off").await.expect("grants").is_empty());
    // An unlinked link had no tokens and gets no grant.
    assert!(scoped.amazon_grants("l-gone").await.expect("grants").is_empty());

    // The grant goes with its family, and with its link.
    store.scoped(&tid).revoke_family("f-new", "test").await.expect("revoke");
    assert!(
        scoped.deliverable_amazon_grants("l-tok").await.expect("grants").is_empty(),
        "a revoked grant gets no events"
    );
    drop(store);
    let db = Database::connect(url.as_str()).await.expect("db");
    db.execute_unprepared("DELETE FROM end_users WHERE id = 'u1'").await.expect("delete user");
    let left = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM amazon_grants WHERE link_id = 'l-tok'".to_owned(),
        ))
        .await
        .expect("count")
        .expect("row");
    assert_eq!(left.try_get::<i64>("", "n").expect("n"), 0, "deleting the user took the grant along");
    db.close().await.expect("close");
    if backend == Backend::Postgres {
        drop_pg_database(&url).await;
    }
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
    }
}
