//! What a run is given and what it gives back: its options, progress
//! events, outcome and errors. The bottom of the run: every stage imports
//! it, it imports none of them.

use std::path::PathBuf;

use contracts::Role;
use reports::Report;
use scenario::ScenarioError;
use scenario::parties::{LoopbackAddr, PartyRole, PartyUrl};

use super::events::RunEvents;
use super::store::RunStore;

/// How to run scenarios (built by the binary from its arguments).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Each scenario writes into `out_dir/<scenario name>/`.
    pub out_dir: PathBuf,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Deliberate weaknesses for the reference core, used by tests to prove
    /// that the checks catch what follows. The default is the real core.
    pub core: CoreOverrides,
    /// Receives progress events while a scenario runs (the binary renders
    /// them); `None` to run silently.
    pub progress: Option<ProgressSink>,
    /// The in-process core publishes its events to NATS JetStream, and the
    /// run checks them (`checker::events`); `None`: no events.
    pub events: Option<RunEvents>,
    /// `--external`, `--token-for`, `--listen`: roles played by systems
    /// at a URL, over the scenario's `[parties]`.
    pub parties: PartyOverrides,
    /// The in-process core stores on PostgreSQL (a database per run), as
    /// one or several replicas; `None`: a SQLite file in the run's directory.
    pub store: Option<RunStore>,
}

/// What a run is doing, as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Releasing purchase orders: `released` of `total` so far.
    Releasing { released: u64, total: u64 },
    /// Load done; waiting for the system to go quiet.
    Settling { in_flight: u64, outbox_pending: u64 },
    /// Checking the recorded history.
    Checking,
}

/// A receiver of [`Progress`] events.
#[derive(Clone)]
pub struct ProgressSink(pub std::sync::Arc<dyn Fn(&Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

impl RunOptions {
    pub(crate) fn report(&self, event: Progress) {
        if let Some(sink) = &self.progress {
            (sink.0)(&event);
        }
    }
}

/// Ways to weaken the reference core on purpose (tests only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreOverrides {
    /// Recognise resent ASNs by (supplier, asn_id).
    pub asn_dedup: bool,
    /// Delivery attempts before dead-lettering, instead of the configured.
    pub max_attempts: Option<u32>,
    /// Report an order release the WMS could not decide as rejected.
    pub release_failure_rejects: bool,
    /// Ignore stale receipt events (lower seq for the same receipt).
    pub ignore_stale_receipts: bool,
    /// Recognise redelivered inventory adjustments by source_event_id.
    pub adjustment_dedup: bool,
    /// The 3-way match's price tolerance, instead of the scenario's.
    pub price_tolerance_pct: Option<u8>,
    /// Refuse a reconciliation while adjustments are in flight.
    pub reconciliation_guard: bool,
}

impl Default for CoreOverrides {
    fn default() -> Self {
        Self {
            asn_dedup: true,
            max_attempts: None,
            release_failure_rejects: false,
            ignore_stale_receipts: true,
            adjustment_dedup: true,
            price_tolerance_pct: None,
            reconciliation_guard: true,
        }
    }
}

/// The result of one scenario run.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: Report,
    /// Where report.json, junit.xml and the histories are.
    pub out_dir: PathBuf,
}

/// Why a run could not produce a verdict.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("failed to prepare the output directory {path}: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to start {what}: {message}")]
    Start { what: &'static str, message: String },
    /// A service outside the harness that the run was pointed at (such as
    /// `--events nats://…`) did not answer: bad input, not a harness fault.
    #[error("{what} is unreachable: {message}")]
    Unreachable { what: &'static str, message: String },
    /// `[parties]` or `--external`/`--token-for`/`--listen` do not fit.
    #[error("parties: {0}")]
    BadParties(String),
    #[error(transparent)]
    History(#[from] checker::HistoryError),
    #[error(transparent)]
    Report(#[from] reports::WriteError),
}

/// The command line's say on the parties; it wins over the scenario's.
#[derive(Debug, Clone, Default)]
pub struct PartyOverrides {
    /// `--external ROLE=URL`.
    pub external: Vec<(PartyRole, PartyUrl)>,
    /// `--token-for ROLE=T`: with an external core, the token it expects
    /// from that caller (`ops`: its operator, as [`Role::Core`]); with an
    /// external partner, the token the proxy sends to it.
    pub tokens_for: Vec<(Role, String)>,
    /// `--listen ROLE=ADDR`.
    pub listen: Vec<(PartyRole, LoopbackAddr)>,
}
