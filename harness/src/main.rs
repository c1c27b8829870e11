use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: the simulators, the core and
/// the load generators all allocate per request, and glibc malloc took
/// about 17 % of the CPU in the core-lifecycle profile (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = harness::cli::Cli::parse();
    harness::cli::entry::run_main("crossdock", || harness::cli::execute(cli))
}
