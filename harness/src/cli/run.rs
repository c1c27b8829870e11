//! `crossdock run`: scenarios against the reference core (or any role at a
//! URL), one verdict each; the exit code is the worst of them.

use std::path::PathBuf;

use clap::Args;

use super::args::parse_token_for;
use super::progress::progress_sink;
use crate::exit;
use crate::run::events::RunEvents;
use crate::run::external::{LoopbackAddr, PartyOverrides, PartyRole, PartyUrl, parse_role_value};
use crate::run::{CoreOverrides, RunError, RunOptions, RunStore, run_scenario};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files (TOML), or directories of them (every `*.toml`, by name).
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Output directory; each scenario writes into OUT/<name>/.
    #[arg(long, default_value = "target/crossdock")]
    pub out: PathBuf,
    /// Seed for every random decision (overrides the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The in-process core publishes CloudEvents to this NATS server
    /// (JetStream on), and the run checks them (events-* checks).
    #[arg(long, value_name = "nats://HOST:PORT")]
    pub events: Option<String>,
    /// The JetStream stream of --events (created if absent).
    #[arg(long, value_name = "NAME", requires = "events", default_value = integration_core::events::DEFAULT_STREAM)]
    pub events_stream: String,
    /// This role is the system under test at URL, as `core=URL`,
    /// `erp=URL`, `wms=URL` or `supplier=URL` (repeatable; overrides
    /// the scenario's [parties]). See "System under test by URL".
    #[arg(long, value_name = "ROLE=URL", value_parser = parse_role_value::<PartyUrl>)]
    pub external: Vec<(PartyRole, PartyUrl)>,
    /// With an external core, the token it expects from a caller
    /// (`erp=T`, `wms=T`, `supplier=T`, `ops=T`, ops required); with an
    /// external partner, the token sent to it (repeatable).
    #[arg(long = "token-for", value_name = "ROLE=TOKEN", value_parser = parse_token_for)]
    pub tokens_for: Vec<(contracts::Role, String)>,
    /// Where the core reaches a partner role (its simulator, or the
    /// proxy before it), as `erp=127.0.0.1:7001` (repeatable).
    #[arg(long, value_name = "ROLE=ADDR", value_parser = parse_role_value::<LoopbackAddr>)]
    pub listen: Vec<(PartyRole, LoopbackAddr)>,
    /// The in-process core stores on this PostgreSQL server: each
    /// scenario run creates a database of its own there and drops it
    /// afterwards (default: a SQLite file in the run's directory).
    #[arg(long, value_name = "postgres://USER@HOST:PORT")]
    pub store: Option<String>,
    /// Run this many core replicas on the --store database, the
    /// parties' calls spread across them.
    #[arg(long, default_value_t = 1, requires = "store", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub replicas: u32,
    /// Only read and check every scenario (exit 0 valid, 2 not); run none.
    #[arg(long)]
    pub validate_only: bool,
}

/// Runs every scenario; returns the worst exit code.
pub async fn execute(args: RunArgs) -> u8 {
    let validate_only = args.validate_only;
    let (mut opts, files) = match options(args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("crossdock: error: {e}");
            return exit::BAD_INPUT;
        }
    };
    // Every file is read and checked before any runs: a mistake in the
    // last file costs nothing.
    let invalid = validate(&files);
    if invalid > 0 {
        eprintln!(
            "crossdock: error: {invalid} of {} scenario(s) invalid; none was run",
            files.len()
        );
        return exit::BAD_INPUT;
    }
    if validate_only {
        println!("{} scenario(s) valid", files.len());
        return exit::OK;
    }
    let mut code = exit::OK;
    for file in &files {
        opts.progress = Some(progress_sink());
        let this = match run_scenario(file, &opts).await {
            Ok(outcome) => {
                println!("{}", reports::render_terminal(&outcome.report));
                println!("reports: {}", outcome.out_dir.display());
                verdict_code(&outcome.report)
            }
            Err(e) => {
                eprintln!("crossdock: error: {e}");
                exit_code(&e)
            }
        };
        code = code.max(this);
    }
    code
}

/// Reads every scenario; prints each error; returns how many failed. Two
/// scenarios of one run sharing a `name` would write into the same output
/// directory: the second is an error.
fn validate(files: &[PathBuf]) -> usize {
    let mut names: std::collections::HashMap<String, &PathBuf> = std::collections::HashMap::new();
    let mut failed = 0;
    for file in files {
        match scenario::Scenario::load(file) {
            Err(e) => {
                eprintln!("crossdock: error: {e}");
                failed += 1;
            }
            Ok(s) => {
                if let Some(first) = names.insert(s.name.clone(), file) {
                    eprintln!(
                        "crossdock: error: {}: name {:?} is also {}'s; each scenario of a run writes into OUT/<name>/, so names must differ",
                        file.display(),
                        s.name,
                        first.display()
                    );
                    failed += 1;
                }
            }
        }
    }
    failed
}

/// The run's options and its scenario files, checked.
fn options(args: RunArgs) -> Result<(RunOptions, Vec<PathBuf>), String> {
    let store = args
        .store
        .map(|url| RunStore::new(&url, args.replicas))
        .transpose()?;
    let events = args
        .events
        .map(|url| RunEvents::new(&url, &args.events_stream))
        .transpose()?;
    let files = scenario_files(&args.scenarios)?;
    let opts = RunOptions {
        out_dir: args.out,
        seed: args.seed,
        core: CoreOverrides::default(),
        progress: None,
        events,
        parties: PartyOverrides {
            external: args.external,
            tokens_for: args.tokens_for,
            listen: args.listen,
        },
        store,
    };
    Ok((opts, files))
}

/// Expands directories into their `*.toml` files, sorted by name.
pub fn scenario_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            files.push(arg.clone());
            continue;
        }
        let entries = std::fs::read_dir(arg).map_err(|e| format!("failed to read {}: {e}", arg.display()))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        if found.is_empty() {
            return Err(format!("{} holds no *.toml scenario", arg.display()));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// The exit code for a run's verdict.
pub fn verdict_code(report: &reports::Report) -> u8 {
    if report.passed {
        exit::OK
    } else {
        exit::CHECKS_FAILED
    }
}

/// The exit code for a run that produced no verdict.
pub fn exit_code(e: &RunError) -> u8 {
    match e {
        RunError::Scenario(_) | RunError::Unreachable { .. } | RunError::BadParties(_) => exit::BAD_INPUT,
        _ => exit::INFRASTRUCTURE,
    }
}
