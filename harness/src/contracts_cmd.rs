//! `crossdock contracts …`: contract governance from the command line.
//!
//! `contracts validate <FILE> --type <TYPE>` reads a JSON document and judges
//! it with [`contracts::Validator`] (JSON Schema + domain rules). Output, one
//! finding per line: `FILE: at POINTER: MESSAGE [RULE]`; with `--format json`,
//! one JSON object `{"file", "type", "valid", "findings": [{pointer, rule,
//! message}]}`.

use std::io::Write;
use std::path::{Path, PathBuf};

use contracts::{Finding, Validator};
use serde::Serialize;

use crate::exit;

/// Why a document could not be judged at all (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not JSON: {message}")]
    NotJson {
        path: PathBuf,
        line: usize,
        column: usize,
        /// serde_json's message without its position.
        message: String,
    },
    #[error("unknown contract type {name:?}; known types: {known}")]
    UnknownType { name: String, known: String },
}

/// Output format of `contracts validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidateFormat {
    /// One line per finding.
    Text,
    /// One JSON document.
    Json,
}

/// The verdict on one document.
#[derive(Debug, Serialize)]
pub struct Verdict {
    pub file: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub valid: bool,
    pub findings: Vec<Finding>,
}

/// Reads `path` and validates it as a `type_name`.
pub fn validate_file(validator: &Validator, path: &Path, type_name: &str) -> Result<Verdict, InputError> {
    if !validator.type_names().any(|n| n == type_name) {
        return Err(InputError::UnknownType {
            name: type_name.to_owned(),
            known: validator.type_names().collect::<Vec<_>>().join(", "),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let message = e.to_string();
        let suffix = format!(" at line {line} column {column}");
        InputError::NotJson {
            path: path.to_owned(),
            line,
            column,
            message: message.strip_suffix(&suffix).unwrap_or(&message).to_owned(),
        }
    })?;
    let findings = validator
        .validate(type_name, &doc)
        .expect("the type was checked above");
    Ok(Verdict {
        file: path.display().to_string(),
        type_name: type_name.to_owned(),
        valid: findings.is_empty(),
        findings,
    })
}

/// Runs `contracts validate`; returns the exit code.
pub fn run_validate(file: &Path, type_name: &str, format: ValidateFormat) -> u8 {
    let validator = Validator::new();
    let verdict = match validate_file(&validator, file, type_name) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("crossdock: error: {e}");
            return exit::BAD_INPUT;
        }
    };
    let mut out = std::io::stdout().lock();
    let written = match format {
        ValidateFormat::Json => serde_json::to_writer_pretty(&mut out, &verdict)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        ValidateFormat::Text => write_text(&mut out, &verdict),
    };
    if let Err(e) = written {
        eprintln!("crossdock: error: failed to write the verdict: {e}");
        return exit::INFRASTRUCTURE;
    }
    if verdict.valid {
        exit::OK
    } else {
        exit::CHECKS_FAILED
    }
}

fn write_text(out: &mut impl Write, verdict: &Verdict) -> std::io::Result<()> {
    if verdict.valid {
        return writeln!(out, "{}: valid {}", verdict.file, verdict.type_name);
    }
    for f in &verdict.findings {
        writeln!(out, "{}: {f}", verdict.file)?;
    }
    writeln!(
        out,
        "{}: invalid {}: {} finding{}",
        verdict.file,
        verdict.type_name,
        verdict.findings.len(),
        if verdict.findings.len() == 1 { "" } else { "s" }
    )
}
