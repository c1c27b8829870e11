//! `crossdock contracts …`: validate documents, compare contract versions.

use std::path::PathBuf;

use clap::Subcommand;

use crate::contract_diff::Direction;
use crate::contracts_cmd::{self, DiffFormat, ValidateFormat};

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
    /// Compare two versions of a JSON Schema or an OpenAPI document; classify
    /// each change as breaking or compatible, with request/response direction in mind.
    ///
    /// Exit 0 when nothing breaks, 1 when something does, 2 unreadable input.
    Diff {
        /// The old version.
        old: PathBuf,
        /// The new version.
        new: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
        format: DiffFormat,
        /// Direction of a standalone schema (inferred from the contract's
        /// operations when absent; OpenAPI documents carry their own).
        #[arg(long, value_enum)]
        direction: Option<Direction>,
    },
}

pub fn execute(command: ContractsCommand) -> u8 {
    match command {
        ContractsCommand::Validate {
            file,
            type_name,
            format,
        } => contracts_cmd::run_validate(&file, &type_name, format),
        ContractsCommand::Diff {
            old,
            new,
            format,
            direction,
        } => contracts_cmd::run_diff(&old, &new, format, direction),
    }
}
