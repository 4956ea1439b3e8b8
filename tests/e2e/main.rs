//! The end-to-end suite: the real server on random loopback ports, driven over HTTP exactly as Alexa
//! (its in-app browser and its token client), a skill backend and an OIDC relying party would.
//! One test binary, so everything links once.
/// Runs a scenario `async fn(Backend)` as two tests: on SQLite + in-memory KV and on PostgreSQL + Redis.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(crate::helpers::Backend::Embedded).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

mod fake_oidc;
mod fakes;
mod helpers;

mod accounts;
mod alexa;
mod alexa_grants_migration;
mod cli;
mod cluster;
mod crash;
mod dashboard_statuses;
mod error_mapping;
mod errors;
mod event_backlog;
mod event_group_commit;
mod event_outbox;
mod federation;
mod files_at_rest;
mod flow;
mod guessing;
mod hostile_input;
mod introspection_cache;
mod isolation;
mod logs;
mod maintenance;
mod management_api;
mod oidc;
mod outbound;
mod races;
mod references;
mod refresh;
mod refresh_concurrency;
mod refresh_first_use;
mod resilience;
mod revocation_view;
mod scale;
mod secret_rotation;
mod signing_algs;
mod skill_updates;
mod smapi;
mod telemetry;
mod user_mail;
