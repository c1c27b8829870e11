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
    let doc = read_json(path)?;
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

/// Output format of `contracts diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// A table, one change per row.
    Table,
    /// The [`crate::contract_diff::DiffReport`] as JSON.
    Json,
    /// JUnit XML: one test case per change, breaking ones failed.
    Junit,
}

/// Why `contracts diff` could not compare (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum DiffInputError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("failed to compare {old} with {new}: {source}")]
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[source]
        source: crate::contract_diff::DiffError,
    },
}

fn read_json(path: &Path) -> Result<serde_json::Value, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let message = e.to_string();
        let suffix = format!(" at line {line} column {column}");
        InputError::NotJson {
            path: path.to_owned(),
            line,
            column,
            message: message.strip_suffix(&suffix).unwrap_or(&message).to_owned(),
        }
    })
}

/// Reads and compares two contract versions.
pub fn diff_files(
    old: &Path,
    new: &Path,
    direction: Option<crate::contract_diff::Direction>,
) -> Result<crate::contract_diff::DiffReport, DiffInputError> {
    let (o, n) = (read_json(old)?, read_json(new)?);
    crate::contract_diff::diff(&o, &n, direction).map_err(|source| DiffInputError::Diff {
        old: old.to_owned(),
        new: new.to_owned(),
        source,
    })
}

/// Runs `contracts diff`; returns the exit code (1 when anything breaks).
pub fn run_diff(
    old: &Path,
    new: &Path,
    format: DiffFormat,
    direction: Option<crate::contract_diff::Direction>,
) -> u8 {
    let report = match diff_files(old, new, direction) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("crossdock: error: {e}");
            return exit::BAD_INPUT;
        }
    };
    let text = match format {
        DiffFormat::Table => Ok(render_diff_table(&report)),
        DiffFormat::Json => serde_json::to_string_pretty(&report)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
        DiffFormat::Junit => diff_junit(&report, old, new),
    };
    let written = text.map_err(std::io::Error::other).and_then(|t| {
        let mut out = std::io::stdout().lock();
        out.write_all(t.as_bytes())
    });
    if let Err(e) = written {
        eprintln!("crossdock: error: failed to write the comparison: {e}");
        return exit::INFRASTRUCTURE;
    }
    if report.is_breaking() {
        exit::CHECKS_FAILED
    } else {
        exit::OK
    }
}

/// The table rendering: one row per change, then a summary line.
pub fn render_diff_table(report: &crate::contract_diff::DiffReport) -> String {
    let header = ["verdict", "rule", "direction", "where", "change"];
    let rows: Vec<[String; 5]> = report
        .changes
        .iter()
        .map(|c| {
            [
                if c.breaking { "BREAKING" } else { "compatible" }.to_owned(),
                c.rule.to_owned(),
                c.direction.as_str().to_owned(),
                if c.pointer.is_empty() {
                    "/".to_owned()
                } else {
                    c.pointer.clone()
                },
                c.message.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &[&str], out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    if !rows.is_empty() {
        line(&header, &mut out);
        for row in &rows {
            line(&row.each_ref().map(String::as_str), &mut out);
        }
    }
    out.push_str(&format!(
        "{} change(s): {} breaking, {} compatible\n",
        report.changes.len(),
        report.breaking,
        report.compatible
    ));
    out
}

/// JUnit XML: one test case per change (a failure when breaking).
pub fn diff_junit(
    report: &crate::contract_diff::DiffReport,
    old: &Path,
    new: &Path,
) -> Result<String, String> {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut junit = quick_junit::Report::new("crossdock-contracts-diff");
    let mut suite = TestSuite::new(format!("{} → {}", old.display(), new.display()));
    if report.changes.is_empty() {
        suite.add_test_case(TestCase::new("no changes", TestCaseStatus::success()));
    }
    for c in &report.changes {
        let status = if c.breaking {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!("breaking: {}", c.message));
            s.set_description(format!("{} at {} ({})", c.rule, c.pointer, c.direction.as_str()));
            s
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(format!("{} {}", c.rule, c.pointer), status);
        case.set_classname(c.rule);
        suite.add_test_case(case);
    }
    junit.add_test_suite(suite);
    junit.to_string().map_err(|e| e.to_string())
}
