//! `latchkey`: the server and its command line.
#![forbid(unsafe_code)]
use clap::Parser;
use latchkey_server::cli::{Cli, run};
use latchkey_server::{Config, private_files, telemetry};

/// mimalloc, not glibc's malloc: under load the request path allocates from many threads at once,
/// and glibc's allocator took a fifth of the server's CPU in the event benchmark (perf, benches/).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // Files this process creates (database, WAL, key, outgoing mail) are for its own user only, and
    // what an earlier version left readable is fixed before anything else runs.
    private_files::restrict_new_files();
    let telemetry = telemetry::init(&config.log_format);
    match private_files::fix_permissions(&config.data_dir) {
        Ok(fixed) if !fixed.is_empty() => {
            tracing::warn!(paths = ?fixed, "data directory files were readable by others; now private");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, dir = %config.data_dir.display(), "could not restrict the data directory"),
    }
    let result = run(cli, config).await;
    telemetry.shutdown().await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A service's refusal says which kind it was (the README's table); anything else is 1.
            let status = e
                .downcast_ref::<latchkey_oauth::ServiceError>()
                .map(latchkey_oauth::ServiceError::status)
                .or_else(|| e.downcast_ref::<latchkey_alexa::AlexaError>().map(latchkey_alexa::AlexaError::status));
            status.map_or(std::process::ExitCode::FAILURE, |s| {
                std::process::ExitCode::from(latchkey_oauth::error::exit_code_for_status(s))
            })
        }
    }
}
