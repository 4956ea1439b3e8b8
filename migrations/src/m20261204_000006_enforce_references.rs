//! The database enforces the references the services assume, within one tenant:
//! - a skill's OAuth client exists (deleting it while the skill does is refused: a skill without its
//!   client made the tenant's skill list fail);
//! - linked accounts, refresh families and federated identities belong to a user and a client of
//!   their own tenant, and go with them (deleting a user used to leave their links and grants behind);
//! - refresh tokens belong to a family of their own tenant.
//!
//! References are composite (tenant, row id), so a row can never point into another tenant, whatever
//! a service does. Rows that already break a rule are removed first and counted in the log; a skill
//! whose client is gone is also recorded in its tenant's audit log, since the tenant sees it vanish.
//!
//! PostgreSQL adds the constraints in place. SQLite cannot, so each table is rebuilt from its own
//! stored definition with the constraints appended, its rows copied, and its indexes recreated.
use sea_orm_migration::SchemaManagerConnection;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One reference: `table (tenant_id, column) -> parent (tenant_id, id)`.
struct Reference {
    name: &'static str,
    table: &'static str,
    column: &'static str,
    parent: &'static str,
    /// `CASCADE` or `NO ACTION` (checked at the end of the statement, so a tenant's deletion, which
    /// removes both sides, still works).
    on_delete: &'static str,
}

const REFERENCES: &[Reference] = &[
    Reference {
        name: "fk_skills_client",
        table: "skills",
        column: "oauth_client_id",
        parent: "oauth_clients",
        on_delete: "NO ACTION",
    },
    Reference {
        name: "fk_linked_accounts_user",
        table: "linked_accounts",
        column: "user_id",
        parent: "end_users",
        on_delete: "CASCADE",
    },
    Reference {
        name: "fk_linked_accounts_client",
        table: "linked_accounts",
        column: "client_id",
        parent: "oauth_clients",
        on_delete: "CASCADE",
    },
    Reference {
        name: "fk_refresh_families_client",
        table: "refresh_families",
        column: "client_id",
        parent: "oauth_clients",
        on_delete: "CASCADE",
    },
    Reference {
        name: "fk_refresh_families_user",
        table: "refresh_families",
        column: "user_id",
        parent: "end_users",
        on_delete: "CASCADE",
    },
    Reference {
        name: "fk_refresh_tokens_family",
        table: "refresh_tokens",
        column: "family_id",
        parent: "refresh_families",
        on_delete: "CASCADE",
    },
    Reference {
        name: "fk_federated_identities_user",
        table: "federated_identities",
        column: "user_id",
        parent: "end_users",
        on_delete: "CASCADE",
    },
];

/// Parents get a unique (tenant_id, id) key for the composite references to point at.
const PARENT_KEYS: &[(&str, &str)] = &[
    ("ux_oauth_clients_tenant_row", "oauth_clients"),
    ("ux_end_users_tenant_row", "end_users"),
    ("ux_refresh_families_tenant_row", "refresh_families"),
];

/// Tables in an order where each is rebuilt (SQLite) before any table that references it.
const CHILD_TABLES: &[&str] =
    &["skills", "linked_accounts", "refresh_families", "refresh_tokens", "federated_identities"];

fn breaks(r: &Reference) -> String {
    format!(
        "{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = {table}.{col} AND p.tenant_id = {table}.tenant_id)",
        col = r.column,
        parent = r.parent,
        table = r.table,
    )
}

fn constraint(r: &Reference) -> String {
    format!(
        "CONSTRAINT {name} FOREIGN KEY (tenant_id, {col}) REFERENCES {parent} (tenant_id, id) ON DELETE {on_delete}",
        name = r.name,
        col = r.column,
        parent = r.parent,
        on_delete = r.on_delete,
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let backend = db.get_database_backend();
        record_orphaned_skills(db).await?;
        // Parents before children: a family removed for its missing client takes its tokens along.
        for r in REFERENCES {
            let removed = db.execute_unprepared(&format!("DELETE FROM {} WHERE {}", r.table, breaks(r))).await?;
            if removed.rows_affected() > 0 {
                tracing::warn!(
                    table = r.table,
                    rows = removed.rows_affected(),
                    reference = r.name,
                    "rows pointing at a missing row of their tenant removed"
                );
            }
        }
        for (name, table) in PARENT_KEYS {
            db.execute_unprepared(&format!("CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {table} (tenant_id, id)"))
                .await?;
        }
        match backend {
            DbBackend::Sqlite => {
                for table in CHILD_TABLES {
                    let added: Vec<String> = REFERENCES.iter().filter(|r| r.table == *table).map(constraint).collect();
                    rebuild_sqlite_table(db, table, &added).await?;
                }
            }
            _ => {
                for r in REFERENCES {
                    db.execute_unprepared(&format!("ALTER TABLE {} ADD {}", r.table, constraint(r))).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("enforce_references removes rows that broke a reference; it cannot be undone".into()))
    }
}

/// A skill whose client is gone cannot link anyone; it is removed, and its tenant's audit log says so.
async fn record_orphaned_skills(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let skills = REFERENCES.iter().find(|r| r.table == "skills").map(breaks).unwrap_or_default();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT id, tenant_id, name, alexa_skill_id FROM skills WHERE {skills}"),
        ))
        .await?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for row in rows {
        let id: String = row.try_get("", "id")?;
        let tenant: String = row.try_get("", "tenant_id")?;
        let name: String = row.try_get("", "name")?;
        let alexa_id: String = row.try_get("", "alexa_skill_id")?;
        tracing::warn!(tenant_id = %tenant, skill = %id, alexa_skill_id = %alexa_id, "skill without its OAuth client removed");
        let detail = serde_json::json!({
            "reason": "its OAuth client had been deleted; the skill could not link anyone",
            "name": name,
            "alexa_skill_id": alexa_id,
        });
        db.execute(
            &Query::insert()
                .into_table(Alias::new("audit_events"))
                .columns(["id", "tenant_id", "at", "actor", "action", "target", "detail"].map(Alias::new))
                .values([
                    format!("m6-{id}").into(),
                    tenant.into(),
                    <i64 as TryFrom<u64>>::try_from(now).unwrap_or(i64::MAX).into(),
                    "migration".into(),
                    "skill.removed_orphan".into(),
                    id.into(),
                    detail.to_string().into(),
                ])
                .map_err(|e| DbErr::Migration(e.to_string()))?
                .take(),
        )
        .await?;
    }
    Ok(())
}

/// SQLite cannot add a constraint to a table: the table is created again from its stored definition
/// with `constraints` appended, its rows copied over, and its indexes recreated.
async fn rebuild_sqlite_table(
    db: &SchemaManagerConnection<'_>,
    table: &str,
    constraints: &[String],
) -> Result<(), DbErr> {
    let sql_of = |kind: &str| {
        Statement::from_string(
            DbBackend::Sqlite,
            format!("SELECT sql FROM sqlite_master WHERE type = '{kind}' AND tbl_name = '{table}' AND sql IS NOT NULL"),
        )
    };
    let definition: String = db
        .query_one_raw(sql_of("table"))
        .await?
        .ok_or_else(|| DbErr::Migration(format!("table {table} not found")))?
        .try_get("", "sql")?;
    let indexes: Vec<String> =
        db.query_all_raw(sql_of("index")).await?.iter().map(|r| r.try_get("", "sql")).collect::<Result<_, _>>()?;
    let (Some(open), Some(close)) = (definition.find('('), definition.rfind(')')) else {
        return Err(DbErr::Migration(format!("cannot read the definition of {table}: {definition}")));
    };
    let rebuilt = format!(
        "CREATE TABLE {table}_rebuilt {}, {}{}",
        &definition[open..close],
        constraints.join(", "),
        &definition[close..]
    );
    db.execute_unprepared(&rebuilt).await?;
    db.execute_unprepared(&format!("INSERT INTO {table}_rebuilt SELECT * FROM {table}")).await?;
    db.execute_unprepared(&format!("DROP TABLE {table}")).await?;
    db.execute_unprepared(&format!("ALTER TABLE {table}_rebuilt RENAME TO {table}")).await?;
    for index in indexes {
        db.execute_unprepared(&index).await?;
    }
    Ok(())
}
