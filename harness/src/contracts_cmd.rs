//! `crossdock contracts …`: contract governance from the command line.
//!
//! `contracts validate <FILE> --type <TYPE>` reads a JSON document and judges
//! it with [`contracts::Validator`] (JSON Schema + domain rules). Output, one
//! finding per line: `FILE: at POINTER: MESSAGE [RULE]`; with `--format json`,
//! one JSON object `{"file", "type", "valid", "findings": [{pointer, rule,
//! message}]}`.
//!
//! `contracts diff OLD NEW` / `contracts diff --base git:REF PATH…` reads
//! the contracts and hands them to the [`governance`] crate, which compares,
//! classifies and renders; this module only maps its result to exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};

use contracts::{Finding, Validator};
use governance::render::{Compared, Format};
use governance::{Direction, FailOn, FsLoader, GitLoader, Loader, Options, Report};
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

/// Validates the `bytes` read from `path` as a `type_name`.
pub fn validate_bytes(
    validator: &Validator,
    path: &Path,
    bytes: &[u8],
    type_name: &str,
) -> Result<Verdict, InputError> {
    if !validator.type_names().any(|n| n == type_name) {
        return Err(InputError::UnknownType {
            name: type_name.to_owned(),
            known: validator.type_names().collect::<Vec<_>>().join(", "),
        });
    }
    let doc = parse_json(path, bytes)?;
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
pub fn run_validate(file: &Path, type_name: Option<&str>, format: ValidateFormat) -> u8 {
    let bytes = match crate::edi::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("crossdock: error: {e}");
            return exit::BAD_INPUT;
        }
    };
    if crate::edi::is_x12(&bytes) {
        return run_validate_x12(file, &bytes, format);
    }
    let Some(type_name) = type_name else {
        eprintln!("crossdock: error: --type is required for a JSON document (X12 is recognised by its ISA)");
        return exit::BAD_INPUT;
    };
    let validator = Validator::new();
    let verdict = match validate_bytes(&validator, file, &bytes, type_name) {
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

/// `contracts validate` of an X12 file: every interchange, group and set
/// (envelopes, counts, codes, the mapping to the canonical types); each
/// fault on a line with its X12 code.
fn run_validate_x12(file: &Path, bytes: &[u8], format: ValidateFormat) -> u8 {
    let t = crate::edi::x12_to_json(bytes);
    let name = file.display().to_string();
    let sets: Vec<serde_json::Value> = t
        .documents
        .iter()
        .map(|d| serde_json::json!({"set": d["set"], "control_number": d["control_number"], "type": d["type"]}))
        .collect();
    match format {
        ValidateFormat::Json => println!(
            "{}",
            serde_json::json!({
                "file": name,
                "type": "X12",
                "valid": t.problems.is_empty(),
                "documents": sets,
                "problems": t.problems,
            })
        ),
        ValidateFormat::Text => {
            for p in &t.problems {
                println!("{name}: {p}");
            }
            match t.problems.len() {
                0 => println!("{name}: valid X12 ({} transaction set(s))", sets.len()),
                n => println!("{name}: invalid X12: {n} problem(s)"),
            }
        }
    }
    if t.problems.is_empty() {
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

/// Arguments of `contracts diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    /// `OLD NEW`; with `--base`, the files to compare with their version at
    /// that revision.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Compare each PATH in the working tree with the same file at a git
    /// revision: `git:REF` (e.g. `git:origin/main`).
    #[arg(long, value_name = "git:REF")]
    pub base: Option<String>,
    /// Output format (`text` is an alias of `table`).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Direction of a standalone schema (inferred from the contract's
    /// operations when absent; OpenAPI documents carry their own).
    #[arg(long, value_enum)]
    pub direction: Option<Direction>,
    /// Which findings fail the gate (exit 1): `breaking`, or `warn` for
    /// potentially breaking ones too.
    #[arg(long, value_enum, default_value_t = FailOn::Breaking)]
    pub fail_on: FailOn,
}

/// Why `contracts diff` could not compare (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum DiffInputError {
    #[error("--base must be git:REF, not {0:?}")]
    Base(String),
    #[error("expected two paths (OLD NEW) without --base, got {0}")]
    Paths(usize),
    #[error("failed to compare {old} with {new}: {source}")]
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[source]
        source: Box<governance::DiffError>,
    },
}

/// Today (UTC) as `YYYY-MM-DD`, to judge sunset dates.
fn today() -> Option<String> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(governance::date_from_unix_days((secs / 86_400) as i64))
}

/// Compares what `args` names: two files, or each path with its version at
/// the `--base` revision.
pub fn diff_reports(args: &DiffArgs) -> Result<Vec<(PathBuf, PathBuf, Report)>, DiffInputError> {
    let options = Options {
        direction: args.direction,
        today: today(),
    };
    let compare = |old_loader: &dyn Loader, old: &Path, new: &Path| {
        governance::diff_files(old_loader, old, &FsLoader, new, &options).map_err(|source| {
            DiffInputError::Diff {
                old: old.to_owned(),
                new: new.to_owned(),
                source: Box::new(source),
            }
        })
    };
    match &args.base {
        None => {
            let [old, new] = args.paths.as_slice() else {
                return Err(DiffInputError::Paths(args.paths.len()));
            };
            Ok(vec![(old.clone(), new.clone(), compare(&FsLoader, old, new)?)])
        }
        Some(base) => {
            let revision = base
                .strip_prefix("git:")
                .filter(|r| !r.is_empty())
                .ok_or_else(|| DiffInputError::Base(base.clone()))?;
            let git = GitLoader {
                revision: revision.to_owned(),
            };
            args.paths
                .iter()
                .map(|p| {
                    let old = PathBuf::from(format!("{base}:{}", p.display()));
                    let report = compare(&git, p, p)?;
                    Ok((old, p.clone(), report))
                })
                .collect()
        }
    }
}

/// Runs `contracts diff`; returns the exit code (1 when the gate fails).
pub fn run_diff(args: &DiffArgs) -> u8 {
    let reports = match diff_reports(args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("crossdock: error: {e}");
            return exit::BAD_INPUT;
        }
    };
    let compared: Vec<Compared<'_>> = reports
        .iter()
        .map(|(old, new, report)| Compared { old, new, report })
        .collect();
    let written = governance::render::render(args.format, &compared, args.fail_on)
        .map_err(std::io::Error::other)
        .and_then(|t| std::io::stdout().lock().write_all(t.as_bytes()));
    if let Err(e) = written {
        eprintln!("crossdock: error: failed to write the comparison: {e}");
        return exit::INFRASTRUCTURE;
    }
    if reports.iter().any(|(_, _, r)| r.fails(args.fail_on)) {
        exit::CHECKS_FAILED
    } else {
        exit::OK
    }
}

fn parse_json(path: &Path, bytes: &[u8]) -> Result<serde_json::Value, InputError> {
    serde_json::from_slice(bytes).map_err(|e| {
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
