//! The database enforces the references the services assume (migration 6): fixtures an older database
//! could hold are written between migration steps, then the upgrade cleans them up, and afterwards
//! the database itself refuses what a buggy door could do (a skill left without its client, a link to
//! a user who is gone, a row pointing into another tenant).
use latchkey_migrations::MigratorTrait;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

use crate::helpers::*;

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<(), sea_orm::DbErr> {
    db.execute_unprepared(sql).await.map(|_| ())
}

fn sql(db: &DatabaseConnection, text: &str) -> sea_orm::Statement {
    sea_orm::Statement::from_string(db.get_database_backend(), text.to_owned())
}

async fn ids(db: &DatabaseConnection, table: &str) -> Vec<String> {
    let rows = db.query_all_raw(sql(db, &format!("SELECT id FROM {table} ORDER BY id"))).await.expect("select");
    rows.iter().map(|r| r.try_get::<String>("", "id").expect("id")).collect()
}

/// The one row `text` selects.
async fn one(db: &DatabaseConnection, text: &str) -> sea_orm::QueryResult {
    db.query_one_raw(sql(db, text)).await.expect("select").unwrap_or_else(|| panic!("a row for {text}"))
}

/// What an older database may hold: good rows, and rows whose parent is gone or in another tenant.
const FIXTURES: &[&str] = &[
    "INSERT INTO tenants (id, slug, name, status, settings, created_at) VALUES \
     ('t1', 'one', 'One', 'active', '{}', 1), ('t2', 'two', 'Two', 'active', '{}', 1)",
    "INSERT INTO oauth_clients (id, tenant_id, client_id, name, secret_hash, redirect_uris, auth_method, grant_types, \
     scopes, require_pkce, access_token_ttl, refresh_policy, refresh_grace_secs, created_at) VALUES \
     ('c1', 't1', 'pub-c1', 'C1', NULL, '[]', 'client_secret_basic', '[]', '', FALSE, 3600, 'rotate', 0, 1), \
     ('c2', 't2', 'pub-c2', 'C2', NULL, '[]', 'client_secret_basic', '[]', '', FALSE, 3600, 'rotate', 0, 1)",
    "INSERT INTO end_users (id, tenant_id, email, name, email_verified, disabled, created_at) VALUES \
     ('u1', 't1', 'u1@example.com', NULL, TRUE, FALSE, 1), ('u2', 't2', 'u2@example.com', NULL, TRUE, FALSE, 1)",
    // A skill whose client was deleted by `latchkey client delete` (the bug).
    "INSERT INTO skills (id, tenant_id, name, alexa_skill_id, vendor_id, kind, region, oauth_client_id, created_at) VALUES \
     ('s-ok', 't1', 'Locks', 'amzn1.ask.skill.ok', 'V', 'smart_home', 'NA', 'c1', 1), \
     ('s-orphan', 't1', 'Lights', 'amzn1.ask.skill.orphan', 'V', 'smart_home', 'NA', 'c-gone', 1)",
    // A link whose user is gone; a link pointing at another tenant's client.
    "INSERT INTO linked_accounts (id, tenant_id, user_id, client_id, scope, status, created_at, updated_at) VALUES \
     ('l-ok', 't1', 'u1', 'c1', 'x', 'active', 1, 1), \
     ('l-no-user', 't1', 'u-gone', 'c1', 'x', 'active', 1, 1), \
     ('l-cross', 't1', 'u1', 'c2', 'x', 'active', 1, 1)",
    // Families: a user's, a client-credentials one (no user), one whose user is gone, and another
    // tenant's user's under this tenant.
    "INSERT INTO refresh_families (id, tenant_id, client_id, user_id, scope, created_at) VALUES \
     ('f-ok', 't1', 'c1', 'u1', 'x', 1), ('f-cc', 't1', 'c1', NULL, 'x', 1), \
     ('f-no-user', 't1', 'c1', 'u-gone', 'x', 1), ('f-cross', 't1', 'c1', 'u2', 'x', 1)",
    "INSERT INTO refresh_tokens (id, tenant_id, family_id, token_hash, created_at) VALUES \
     ('r-ok', 't1', 'f-ok', 'h1', 1), ('r-of-removed', 't1', 'f-no-user', 'h2', 1), ('r-lost', 't1', 'f-gone', 'h3', 1)",
    "INSERT INTO upstream_providers (id, tenant_id, slug, name, issuer, client_id, client_secret, scopes, link_by_email, \
     create_users, claim_map, created_at) VALUES ('p1', 't1', 'corp', 'Corp', 'https://idp.example.com', 'c', 's', \
     'openid', FALSE, TRUE, '{}', 1)",
    "INSERT INTO federated_identities (id, tenant_id, provider_id, subject, user_id, created_at) VALUES \
     ('fi-ok', 't1', 'p1', 'sub-1', 'u1', 1), ('fi-no-user', 't1', 'p1', 'sub-2', 'u-gone', 1)",
];

async fn references_are_enforced(backend: Backend) {
    let (db, pg_url, dir) = match backend {
        Backend::Postgres => {
            let url = fresh_pg_database().await;
            (Database::connect(url.as_str()).await.expect("pg"), Some(url), None)
        }
        Backend::Embedded => {
            let dir = std::env::temp_dir().join(unique("latchkey-refs-"));
            std::fs::create_dir_all(&dir).expect("dir");
            let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
            (Database::connect(url.as_str()).await.expect("sqlite"), None, Some(dir))
        }
    };
    latchkey_migrations::Migrator::up(&db, Some(5)).await.expect("migrations 1-5");
    for sql in FIXTURES {
        exec(&db, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    latchkey_migrations::Migrator::up(&db, None).await.expect("migration 6");

    // What broke a reference is gone; the rest is kept, every column intact.
    assert_eq!(ids(&db, "skills").await, ["s-ok"]);
    assert_eq!(ids(&db, "linked_accounts").await, ["l-ok"]);
    assert_eq!(ids(&db, "refresh_families").await, ["f-cc", "f-ok"]);
    assert_eq!(ids(&db, "refresh_tokens").await, ["r-ok"]);
    assert_eq!(ids(&db, "federated_identities").await, ["fi-ok"]);
    let kept = one(&db, "SELECT alexa_skill_id, oauth_client_id FROM skills WHERE id = 's-ok'").await;
    assert_eq!(kept.try_get::<String>("", "alexa_skill_id").expect("col"), "amzn1.ask.skill.ok");
    // The tenant learns why its skill vanished.
    let audit =
        one(&db, "SELECT tenant_id, target, detail FROM audit_events WHERE action = 'skill.removed_orphan'").await;
    assert_eq!(audit.try_get::<String>("", "tenant_id").expect("t"), "t1");
    assert_eq!(audit.try_get::<String>("", "target").expect("target"), "s-orphan");
    assert!(audit.try_get::<String>("", "detail").expect("detail").contains("amzn1.ask.skill.orphan"));

    // From now on the database refuses what the old doors could do.
    let refused = [
        ("a skill's client deleted", "DELETE FROM oauth_clients WHERE id = 'c1'"),
        (
            "a skill pointing at no client",
            "INSERT INTO skills (id, tenant_id, name, alexa_skill_id, vendor_id, kind, region, oauth_client_id, created_at) \
             VALUES ('s-new', 't1', 'N', 'amzn1.ask.skill.new', 'V', 'smart_home', 'NA', 'nothing', 1)",
        ),
        (
            "a link to a missing user",
            "INSERT INTO linked_accounts (id, tenant_id, user_id, client_id, scope, status, created_at, updated_at) \
             VALUES ('l-new', 't1', 'nobody', 'c1', 'x', 'active', 1, 1)",
        ),
        (
            "a link to another tenant's user",
            "INSERT INTO linked_accounts (id, tenant_id, user_id, client_id, scope, status, created_at, updated_at) \
             VALUES ('l-new', 't1', 'u2', 'c1', 'x', 'active', 1, 1)",
        ),
        (
            "a family of another tenant's client",
            "INSERT INTO refresh_families (id, tenant_id, client_id, user_id, scope, created_at) \
             VALUES ('f-new', 't1', 'c2', NULL, 'x', 1)",
        ),
        (
            "a token of no family",
            "INSERT INTO refresh_tokens (id, tenant_id, family_id, token_hash, created_at) VALUES ('r-new', 't1', 'none', 'h9', 1)",
        ),
    ];
    for (what, sql) in refused {
        assert!(exec(&db, sql).await.is_err(), "{backend:?}: {what} must be refused");
    }
    // Deleting a user takes their links, grants and tokens along; a client-credentials family stays.
    exec(&db, "DELETE FROM end_users WHERE id = 'u1'").await.expect("delete user");
    assert!(ids(&db, "linked_accounts").await.is_empty());
    assert_eq!(ids(&db, "refresh_families").await, ["f-cc"]);
    assert!(ids(&db, "refresh_tokens").await.is_empty());
    assert!(ids(&db, "federated_identities").await.is_empty());
    // A tenant still goes as a whole, its skill and the client the skill needs together.
    exec(&db, "DELETE FROM tenants WHERE id = 't1'").await.expect("delete tenant");
    assert!(ids(&db, "skills").await.is_empty());
    assert_eq!(ids(&db, "oauth_clients").await, ["c2"]);

    db.close().await.expect("close");
    if let Some(u) = pg_url {
        drop_pg_database(&u).await;
    }
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
    }
}

on_both_backends!(references_are_enforced);
