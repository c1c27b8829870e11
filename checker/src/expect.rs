//! What a run expected besides its histories ([`Expectations`], the
//! `expectations.json` a run writes), and reading a run's directory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::history::HistoryError;
use crate::sla::{FaultSpan, FaultWindow};
use crate::{events, ops, sla};

/// The version of [`Expectations`]' JSON form.
pub const EXPECTATIONS_FORMAT: u32 = 1;

/// The file a run writes its [`Expectations`] to, beside its histories.
pub const EXPECTATIONS_FILE: &str = "expectations.json";

/// What the checker needs besides the histories. Its JSON form is the
/// `expectations.json` a run writes; every field but `format` may be left
/// out (a history recorded by another tool is judged with the defaults:
/// the POs the ERP sent are the released ones, no fault windows, the
/// default SLA).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Expectations {
    /// [`EXPECTATIONS_FORMAT`].
    pub format: u32,
    /// When the run started (Unix microseconds): the origin of fault
    /// windows and of the throughput series.
    pub run_started_us: u64,
    /// Every PO the ERP was asked to release: (po_number, line numbers).
    /// `None`: every PO the ERP's history shows it sent to the core.
    pub released: Option<Vec<(String, Vec<u32>)>>,
    /// Why the run did not go quiet within its time bound; `None`: it did.
    pub not_quiet: Option<String>,
    /// The fault windows injected.
    pub fault_windows: Vec<FaultWindow>,
    /// The SLA judged.
    pub sla: sla::Sla,
    /// The 3-way match's price tolerance the scenario configured.
    pub price_tolerance_pct: Option<u8>,
    /// The inbound flow ran (the scenario released POs): its SLAs are judged.
    pub inbound: bool,
    /// The outbound flow ran: its pass runs and its SLAs are judged.
    pub outbound: bool,
    /// What the load drivers measured of their flows (`po_release`,
    /// `order_release`), from each send's intended time.
    pub driven: Vec<sla::FlowMeasure>,
    /// The operator steps and the core's dead letters at the end.
    pub ops: Option<ops::OpsOutcome>,
    /// The run's events, read twice from the stream.
    pub events: Option<events::EventsSeen>,
    /// The checks the run exists to exercise: each must have judged
    /// something (`required-checks-judged`), else a core that refused the
    /// business the scenario drives would pass it.
    pub required: Vec<String>,
}

impl Default for Expectations {
    fn default() -> Self {
        Self {
            format: EXPECTATIONS_FORMAT,
            run_started_us: 0,
            released: None,
            not_quiet: None,
            fault_windows: vec![],
            sla: sla::Sla::default(),
            price_tolerance_pct: None,
            inbound: true,
            outbound: false,
            driven: vec![],
            ops: None,
            events: None,
            required: vec![],
        }
    }
}

impl Expectations {
    /// The fault windows on their parties, in Unix microseconds.
    pub fn fault_spans(&self) -> Vec<FaultSpan> {
        self.fault_windows
            .iter()
            .map(|w| FaultSpan {
                party: w.role,
                from_us: self.run_started_us + w.from_ms * 1000,
                to_us: self.run_started_us + w.to_ms * 1000,
            })
            .collect()
    }
}

/// Why a run's directory could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("failed to read {path}: {message}")]
    Expectations { path: PathBuf, message: String },
    #[error("no history (*.jsonl) in {0}")]
    NoHistory(PathBuf),
}

/// The history files of a run directory: every `*.jsonl`, by name.
pub fn histories_in(dir: &Path) -> Result<Vec<PathBuf>, CheckError> {
    let read = std::fs::read_dir(dir).map_err(|e| CheckError::Expectations {
        path: dir.to_owned(),
        message: e.to_string(),
    })?;
    let mut files: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CheckError::NoHistory(dir.to_owned()));
    }
    Ok(files)
}

/// Reads `dir/expectations.json`; the defaults when there is none.
pub fn expectations_in(dir: &Path) -> Result<Expectations, CheckError> {
    let path = dir.join(EXPECTATIONS_FILE);
    let bad = |message: String| CheckError::Expectations {
        path: path.clone(),
        message,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let e: Expectations = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
            if e.format != EXPECTATIONS_FORMAT {
                return Err(bad(format!(
                    "expected format {EXPECTATIONS_FORMAT}, found {}",
                    e.format
                )));
            }
            Ok(e)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Expectations::default()),
        Err(e) => Err(bad(e.to_string())),
    }
}
