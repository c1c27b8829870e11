use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: the simulators, the core and
/// the load generators all allocate per request, and glibc malloc took
/// about 17 % of the CPU in the core-lifecycle profile (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = harness::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CROSSDOCK_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("crossdock: error: failed to start the async runtime: {e}");
            return ExitCode::from(harness::exit::INFRASTRUCTURE);
        }
    };
    ExitCode::from(runtime.block_on(harness::cli::execute(cli)))
}
