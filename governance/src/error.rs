//! Why two contracts could not be compared (the CLI's exit 2).

use std::path::PathBuf;

/// A contract that cannot be read or understood. Every variant names the
/// file, and the pointer or line where it can.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("failed to read {file}: {message}")]
    Read { file: PathBuf, message: String },
    #[error("{file}:{line}:{column}: not {format}: {message}")]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        format: &'static str,
        message: String,
    },
    #[error("{file}: at {pointer}: broken $ref {reference:?}: it points at nothing")]
    BrokenRef {
        file: PathBuf,
        pointer: String,
        reference: String,
    },
    #[error(
        "{file}: at /swagger: Swagger 2.0 documents are not compared; convert it to OpenAPI 3 first (e.g. `npx swagger2openapi {file}`)"
    )]
    Swagger2 { file: PathBuf },
    #[error("{file}: at {pointer}: unknown version {version:?}; expected OpenAPI 3.0.x or 3.1.x")]
    UnknownVersion {
        file: PathBuf,
        pointer: &'static str,
        version: String,
    },
    #[error("{file}: the document is not a JSON or YAML object")]
    NotAnObject { file: PathBuf },
}

/// Why two loaded documents cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot compare a {old} with a {new}")]
    KindMismatch { old: &'static str, new: &'static str },
    #[error("the {which} document is not a JSON object")]
    NotAnObject { which: &'static str },
}
