//! `crossdock contracts …`: validate documents, compare contract versions.

use std::path::PathBuf;

use clap::Subcommand;

use crate::contracts_cmd::{self, ValidateFormat};

#[derive(Debug, Subcommand)]
pub enum ContractsCommand {
    /// Validate a JSON document against a contract type (JSON Schema plus
    /// domain rules), or an X12 file (recognised by its ISA): envelopes,
    /// counts, codes and the mapping of every set, faults named with their
    /// TA1/997 codes.
    ///
    /// Exit 0 valid, 1 invalid, 2 unreadable input (file, JSON, unknown type).
    Validate {
        /// The JSON document or X12 file.
        file: PathBuf,
        /// The contract type of a JSON document, e.g. AdvanceShipNotice (see
        /// contracts/schemas/); not needed for X12.
        #[arg(long = "type", value_name = "TYPE")]
        type_name: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
        format: ValidateFormat,
    },
    /// Compare two versions of a contract (OpenAPI 3.0/3.1 or JSON Schema,
    /// JSON or YAML), or each PATH with its version at `--base git:REF`;
    /// classify each change as breaking, potentially breaking or compatible.
    ///
    /// Exit 0 when the gate passes, 1 when a change fails it (`--fail-on`),
    /// 2 unreadable or unknown input.
    Diff(contracts_cmd::DiffArgs),
}

pub fn execute(command: ContractsCommand) -> u8 {
    match command {
        ContractsCommand::Validate {
            file,
            type_name,
            format,
        } => contracts_cmd::run_validate(&file, type_name.as_deref(), format),
        ContractsCommand::Diff(args) => contracts_cmd::run_diff(&args),
    }
}
