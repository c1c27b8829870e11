//! `crossdock edi translate FILE`: X12 interchanges to canonical JSON (one
//! document per transaction set) and a canonical JSON document to X12.
//! Exit 0 translated, 1 invalid (every fault named, with its X12 code), 2
//! unreadable input or bad arguments.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use crate::edi::{self, Envelope};
use crate::exit;

#[derive(Debug, Subcommand)]
pub enum EdiCommand {
    /// Translate X12 to canonical JSON documents, or a JSON document to X12.
    Translate {
        /// The input: X12 (starts with ISA) or a canonical JSON document.
        file: PathBuf,
        /// The output [default: json for X12 input, x12 for JSON input].
        #[arg(long, value_enum)]
        to: Option<Target>,
        /// The canonical type of a JSON input, e.g. AdvanceShipNotice.
        #[arg(long = "type", value_name = "TYPE")]
        type_name: Option<String>,
        /// Interchange sender, QUALIFIER:ID (ISA05/ISA06).
        #[arg(long, default_value = "ZZ:CROSSDOCK", value_parser = parse_party)]
        sender: (String, String),
        /// Interchange receiver, QUALIFIER:ID (ISA07/ISA08).
        #[arg(long, default_value = "ZZ:PARTNER", value_parser = parse_party)]
        receiver: (String, String),
        /// Control number of the interchange, group and set.
        #[arg(long, default_value_t = 1)]
        control: u32,
        /// Write 005010 instead of 004010.
        #[arg(long)]
        v5010: bool,
    },
}

/// What to translate into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    Json,
    X12,
}

fn parse_party(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((q, id)) if q.len() == 2 && !id.is_empty() && id.len() <= 15 => {
            Ok((q.to_owned(), id.to_owned()))
        }
        _ => Err(format!(
            "expected QUALIFIER:ID (a 2-character qualifier, an id of 1-15 characters), found {s:?}"
        )),
    }
}

pub fn execute(command: EdiCommand) -> u8 {
    let EdiCommand::Translate {
        file,
        to,
        type_name,
        sender,
        receiver,
        control,
        v5010,
    } = command;
    let bytes = match edi::read(&file) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let x12_in = edi::is_x12(&bytes);
    match (
        x12_in,
        to.unwrap_or(if x12_in { Target::Json } else { Target::X12 }),
    ) {
        (true, Target::Json) => to_json(&bytes),
        (false, Target::X12) => {
            let env = Envelope {
                sender,
                receiver,
                control,
                v5010,
            };
            to_x12(&file, &bytes, type_name.as_deref(), &env)
        }
        (true, Target::X12) | (false, Target::Json) => {
            eprintln!(
                "crossdock: error: {} is already {}",
                file.display(),
                if x12_in { "X12" } else { "JSON" }
            );
            exit::BAD_INPUT
        }
    }
}

fn fail(e: edi::EdiError) -> u8 {
    eprintln!("crossdock: error: {e}");
    exit::BAD_INPUT
}

fn to_json(bytes: &[u8]) -> u8 {
    let t = edi::x12_to_json(bytes);
    println!(
        "{}",
        serde_json::to_string_pretty(&t.documents).expect("JSON serializes")
    );
    for p in &t.problems {
        eprintln!("crossdock: {p}");
    }
    if t.problems.is_empty() {
        exit::OK
    } else {
        exit::CHECKS_FAILED
    }
}

fn to_x12(file: &std::path::Path, bytes: &[u8], type_name: Option<&str>, env: &Envelope) -> u8 {
    let Some(type_name) = type_name else {
        eprintln!(
            "crossdock: error: --type is required to translate JSON to X12 (e.g. --type AdvanceShipNotice)"
        );
        return exit::BAD_INPUT;
    };
    let doc: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(d) => d,
        Err(e) => {
            return fail(edi::EdiError::NotJson {
                path: file.to_owned(),
                message: e.to_string(),
            });
        }
    };
    match edi::json_to_x12(&doc, type_name, env) {
        Ok(Ok(x12)) => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(&x12);
            exit::OK
        }
        Ok(Err(problems)) => {
            for p in problems {
                eprintln!("crossdock: {}: {p}", file.display());
            }
            exit::CHECKS_FAILED
        }
        Err(e) => fail(e),
    }
}
