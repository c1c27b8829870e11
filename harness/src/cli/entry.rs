//! What a binary of ours does before and after its command: logging from
//! `CROSSDOCK_LOG` (default `warn`, on standard error), a multi-threaded
//! runtime, and the command's exit code as the process's.

use std::future::Future;
use std::process::ExitCode;

/// Sets up logging and the runtime, runs `command` on it, exits with its
/// code (`exit::INFRASTRUCTURE` when the runtime cannot start).
pub fn run_main<F: Future<Output = u8>>(name: &str, command: impl FnOnce() -> F) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CROSSDOCK_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: error: failed to start the async runtime: {e}");
            return ExitCode::from(crate::exit::INFRASTRUCTURE);
        }
    };
    ExitCode::from(runtime.block_on(command()))
}
