//! Contract governance: compares two versions of a contract — an OpenAPI
//! 3.0/3.1 document or a JSON Schema, in JSON or YAML, with external `$ref`s
//! — and classifies every change with a stable rule id and a level
//! (breaking, potentially breaking, compatible). No async, no HTTP, no
//! file-system choice: files are read through a [`Loader`].
//!
//! The model: each change *tightens* the contract (some document valid before
//! is invalid now), *loosens* it (some document invalid before is valid now),
//! or both. Direction decides which hurts:
//! - a **request** (what clients send, servers validate) breaks when the
//!   contract tightens: an old client's request may be refused;
//! - a **response** (what servers send, clients read) breaks when it
//!   loosens: an old client may meet a value it was not told about.
//!
//! In an OpenAPI document the direction follows the location (parameters and
//! request bodies are requests; responses are responses). A standalone
//! schema's direction is given or inferred from how
//! [`contracts::routes::OPERATIONS`] uses the type; a type used both ways, or
//! unknown, is judged both ways. Rules and levels: [`rules::RULES`]
//! (docs/CONTRACT-RULES.md).
//!
//! Pipeline: [`load`] (read, parse, bundle external refs) → [`normalize`]
//! (version; 3.0 → 3.1 keywords) → `differ` (schemas; `allOf` merged) and
//! `openapi` (operations) → [`Report`] → [`render`].

pub mod error;
pub mod load;
pub mod normalize;
pub mod render;
pub mod rules;

mod differ;
mod model;
mod openapi;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use error::{DiffError, LoadError};
pub use load::{FsLoader, GitLoader, Loader};
pub use model::{Change, Direction, FailOn, Options, Report};
pub use normalize::DocumentKind;
pub use rules::{Effect, Level, RULES, Rule};

/// A loaded, bundled and normalised contract.
#[derive(Debug, Clone)]
pub struct Document {
    pub file: PathBuf,
    pub kind: DocumentKind,
    pub root: Value,
}

impl Document {
    /// Reads `path` (and every file it references) through `loader`.
    pub fn load(loader: &dyn Loader, path: &Path) -> Result<Document, LoadError> {
        let root = load::load_bundled(loader, path)?;
        Document::from_value(path, root)
    }

    /// A document already in memory; `file` names it in errors.
    pub fn from_value(file: &Path, mut root: Value) -> Result<Document, LoadError> {
        let kind = normalize::prepare(&mut root, file)?;
        Ok(Document {
            file: file.to_owned(),
            kind,
            root,
        })
    }
}

/// The direction of a catalog schema, from how operations use its type:
/// the type is named by `$id` (`…/v1/<Type>.json`) or `title`.
pub fn infer_direction(schema: &Value) -> Direction {
    let name = schema
        .get("$id")
        .and_then(Value::as_str)
        .and_then(|id| id.rsplit('/').next())
        .and_then(|f| f.strip_suffix(".json"))
        .or_else(|| schema.get("title").and_then(Value::as_str));
    let Some(name) = name else {
        return Direction::Both;
    };
    let ops = contracts::routes::OPERATIONS;
    let request = ops.iter().any(|o| o.request == name);
    let response = ops.iter().any(|o| o.response == name) || name == "Problem";
    match (request, response) {
        (true, false) => Direction::Request,
        (false, true) => Direction::Response,
        _ => Direction::Both,
    }
}

/// Compares two loaded documents.
pub fn compare(old: &Document, new: &Document, options: &Options) -> Result<Report, DiffError> {
    if old.kind != new.kind {
        return Err(DiffError::KindMismatch {
            old: old.kind.name(),
            new: new.kind.name(),
        });
    }
    let mut d = differ::Differ::new(&old.root, &new.root, options);
    match old.kind {
        DocumentKind::JsonSchema => {
            let dir = options.direction.unwrap_or_else(|| infer_direction(&new.root));
            d.schema(&old.root, &new.root, String::new(), String::new(), dir, 0);
        }
        DocumentKind::Openapi => d.openapi(),
    }
    Ok(report(old.kind, d.into_changes()))
}

/// Compares two documents already in memory (JSON values).
pub fn diff(old: Value, new: Value, options: &Options) -> Result<Report, DiffError> {
    if !old.is_object() {
        return Err(DiffError::NotAnObject { which: "old" });
    }
    if !new.is_object() {
        return Err(DiffError::NotAnObject { which: "new" });
    }
    let old = Document::from_value(Path::new("old"), old)?;
    let new = Document::from_value(Path::new("new"), new)?;
    compare(&old, &new, options)
}

/// Reads both versions through their loaders and compares them.
pub fn diff_files(
    old_loader: &dyn Loader,
    old: &Path,
    new_loader: &dyn Loader,
    new: &Path,
    options: &Options,
) -> Result<Report, DiffError> {
    let old = Document::load(old_loader, old)?;
    let new = Document::load(new_loader, new)?;
    compare(&old, &new, options)
}

fn report(kind: DocumentKind, mut changes: Vec<Change>) -> Report {
    changes.sort_by(|a, b| (&a.pointer, a.rule, &a.message).cmp(&(&b.pointer, b.rule, &b.message)));
    changes.dedup_by(|a, b| {
        a.pointer == b.pointer && a.rule == b.rule && a.message == b.message && a.direction == b.direction
    });
    let count = |l: Level| changes.iter().filter(|c| c.level == l).count();
    Report {
        kind,
        breaking: count(Level::Breaking),
        potentially_breaking: count(Level::PotentiallyBreaking),
        compatible: count(Level::Compatible),
        changes,
    }
}

/// `YYYY-MM-DD` of a count of days since 1970-01-01 (the civil calendar;
/// H. Hinnant's algorithm), for [`Options::today`].
pub fn date_from_unix_days(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
