//! `latchkey`: the server and its command line.
#![forbid(unsafe_code)]
use clap::Parser;
use latchkey_server::cli::{Cli, run};
use latchkey_server::{Config, telemetry};

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
    let telemetry = telemetry::init(&config.log_format);
    let result = run(cli, config).await;
    telemetry.shutdown().await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
