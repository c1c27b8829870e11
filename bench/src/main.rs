use std::process::ExitCode;

use clap::Parser;

/// mimalloc, as in the `crossdock` binary, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = bench::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CROSSDOCK_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("crossdock-bench: error: failed to start the async runtime: {e}");
            return ExitCode::from(harness::exit::INFRASTRUCTURE);
        }
    };
    ExitCode::from(runtime.block_on(bench::cli::execute(cli.command)))
}
