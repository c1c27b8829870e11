//! The result model: directions, findings, reports, options.

use serde::Serialize;

use crate::normalize::DocumentKind;
use crate::rules::{Effect, Level};

/// Which side of an exchange a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent by clients, validated by the server.
    Request,
    /// Sent by the server, read by clients.
    Response,
    /// Both: a message that flows either way, or whose use is unknown.
    Both,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
            Direction::Both => "both",
        }
    }

    /// Whether a change with `effect` hurts clients in this direction.
    pub fn hurts(self, effect: Effect) -> bool {
        match self {
            Direction::Request => effect.tightens,
            Direction::Response => effect.loosens,
            Direction::Both => effect.tightens || effect.loosens,
        }
    }
}

/// Which findings fail the gate (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum FailOn {
    /// Breaking findings only.
    #[default]
    Breaking,
    /// Breaking and potentially breaking findings.
    Warn,
}

/// One classified change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The rule id (see [`RULES`]).
    pub rule: &'static str,
    pub level: Level,
    /// `level == Breaking` (kept for readers of the first JSON format).
    pub breaking: bool,
    /// The direction the change was judged in.
    pub direction: Direction,
    /// The operation it was found through, e.g. `POST /v1/things`; `None`
    /// for standalone schemas.
    pub operation: Option<String>,
    /// JSON pointer into the new document (where the old thing was, for
    /// removals).
    pub pointer: String,
    /// JSON pointer into the old document.
    pub old_pointer: String,
    /// What changed, old → new.
    pub message: String,
    /// What it means for a partner's client.
    pub explanation: String,
}

/// The result of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub kind: DocumentKind,
    pub breaking: usize,
    pub potentially_breaking: usize,
    pub compatible: usize,
    pub changes: Vec<Change>,
}

impl Report {
    pub fn is_breaking(&self) -> bool {
        self.breaking > 0
    }

    /// Whether the gate fails at `fail_on`.
    pub fn fails(&self, fail_on: FailOn) -> bool {
        match fail_on {
            FailOn::Breaking => self.breaking > 0,
            FailOn::Warn => self.breaking + self.potentially_breaking > 0,
        }
    }
}

/// How to compare.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Direction of standalone schemas (inferred when `None`).
    pub direction: Option<Direction>,
    /// Today as `YYYY-MM-DD`, to judge sunset dates; `None`: every sunset
    /// is in the future.
    pub today: Option<String>,
}
