//! The command line, parsed by the binary and executed here.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::contracts_cmd::{self, ValidateFormat};
use crate::exit;
use crate::run::{RunError, RunOptions, run_scenario};

/// crossdock: contract testing and simulation for supplier, ERP and WMS integrations.
#[derive(Debug, Parser)]
#[command(name = "crossdock", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against the reference core with simulated ERP, WMS and supplier.
    Run {
        /// Scenario files (TOML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Output directory; each scenario writes into OUT/<name>/.
        #[arg(long, default_value = "target/crossdock")]
        out: PathBuf,
        /// Seed for every random decision (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Contract governance: validate documents, compare contract versions.
    Contracts {
        #[command(subcommand)]
        command: ContractsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContractsCommand {
    /// Validate a JSON document against a contract type: JSON Schema plus domain rules.
    ///
    /// Exit 0 valid, 1 invalid, 2 unreadable input (file, JSON, unknown type).
    Validate {
        /// The JSON document.
        file: PathBuf,
        /// The contract type, e.g. AdvanceShipNotice (see contracts/schemas/).
        #[arg(long = "type", value_name = "TYPE")]
        type_name: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
        format: ValidateFormat,
    },
}

/// Executes a parsed command line; returns the process exit code.
pub async fn execute(cli: Cli) -> u8 {
    match cli.command {
        Command::Run { scenarios, out, seed } => {
            let opts = RunOptions {
                out_dir: out,
                seed,
                core_asn_dedup: true,
            };
            let mut code = exit::OK;
            for file in &scenarios {
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
        Command::Contracts { command } => match command {
            ContractsCommand::Validate {
                file,
                type_name,
                format,
            } => contracts_cmd::run_validate(&file, &type_name, format),
        },
    }
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
        RunError::Scenario(_) => exit::BAD_INPUT,
        _ => exit::INFRASTRUCTURE,
    }
}
