//! `crossdock core`: the reference integration core, standalone, until
//! Ctrl-C. Configuration in layers: the file, then `CROSSDOCK_*`
//! environment variables, then these options.

use std::path::PathBuf;

use clap::Args;

use super::args::interrupted;
use crate::core_cmd::{self, CoreFile};
use crate::exit;

#[derive(Debug, Args)]
pub struct CoreArgs {
    /// Configuration file (TOML; see harness/src/core_cmd.rs).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Listen address, overriding the file's.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Publish CloudEvents to this NATS server (JetStream on),
    /// overriding the file's [events] url.
    #[arg(long, value_name = "nats://HOST:PORT")]
    pub events: Option<String>,
    /// The JetStream stream, overriding the file's [events] stream.
    #[arg(long, value_name = "NAME")]
    pub events_stream: Option<String>,
    /// The store, overriding the file's `store`/`database`: a SQLite
    /// file, or a PostgreSQL database (postgres://…, must exist) that
    /// several cores may share.
    #[arg(long, value_name = "PATH|postgres://…")]
    pub store: Option<String>,
}

pub async fn execute(args: CoreArgs) -> u8 {
    let file = match configuration(args) {
        Ok(file) => file,
        Err(code) => return code,
    };
    let store = match &file.store {
        Some(s) => s.0.to_string(),
        None => file.database.display().to_string(),
    };
    let started = |url: &str| {
        println!("{url}");
        eprintln!("crossdock: reference core on {url}; store {store}; Ctrl-C to stop");
    };
    let ctrl_c = match interrupted() {
        Ok(signal) => signal,
        Err(e) => {
            eprintln!("crossdock: error: failed to listen for Ctrl-C: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    match core_cmd::run_core(file, started, ctrl_c).await {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("crossdock: error: {e}");
            e.exit_code()
        }
    }
}

/// File, then CROSSDOCK_* environment, then the options; the exit code of
/// what was wrong.
fn configuration(args: CoreArgs) -> Result<CoreFile, u8> {
    let loaded = core_cmd::load_config(args.config.as_deref()).and_then(|mut file| {
        let warnings = core_cmd::apply_env(&mut file, std::env::vars())?;
        Ok((file, warnings))
    });
    let (mut file, warnings) = loaded.map_err(|e| {
        eprintln!("crossdock: error: {e}");
        e.exit_code()
    })?;
    for w in warnings {
        eprintln!("crossdock: warning: {w}");
    }
    if let Some(listen) = args.listen {
        file.listen = listen;
    }
    if args.events.is_some() {
        file.events.url = args.events;
    }
    if args.events_stream.is_some() {
        file.events.stream = args.events_stream;
    }
    if let Some(store) = args.store {
        file.store = Some(store.parse().map_err(|e| {
            eprintln!("crossdock: error: --store: {e}");
            exit::BAD_INPUT
        })?);
    }
    Ok(file)
}
