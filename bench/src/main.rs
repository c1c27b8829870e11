use std::process::ExitCode;

use clap::Parser;

/// mimalloc, as in the `crossdock` binary, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = bench::cli::Cli::parse();
    harness::cli::entry::run_main("crossdock-bench", || bench::cli::execute(cli.command))
}
