//! `crossdock simulate`: one simulated party, standalone, so an architect can
//! point their own integration layer at it. It runs until the shutdown
//! future resolves (Ctrl-C in the binary), then flushes its history.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use simulators::erp::ErpSim;
use simulators::faults::{FaultRule, FaultSet, FaultsFile, Profile};
use simulators::recorder::Recorder;
use simulators::supplier::{SupplierConfig, SupplierSim};
use simulators::wms::{WmsConfig, WmsSim};
use simulators::{Server, serve};

use crate::scenario::{ScenarioError, SimRole, read_toml};

/// What to simulate, and where.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    pub role: SimRole,
    /// Must be a loopback address.
    pub listen: SocketAddr,
    /// Base URL of the integration layer this party calls.
    pub peer_url: String,
    pub faults_file: Option<PathBuf>,
    pub profile: Option<Profile>,
    pub seed: u64,
    /// JSON Lines history of every exchange.
    pub history: PathBuf,
    /// Require `Authorization: Bearer <token>` on every request (401 otherwise).
    pub token: Option<String>,
    /// Bearer token this party sends to the peer (the reference core needs
    /// one per partner).
    pub peer_token: Option<String>,
}

/// Why a simulator did not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(transparent)]
    FaultsFile(#[from] ScenarioError),
    #[error("{0}")]
    BadInput(String),
    #[error("failed to {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl SimulateError {
    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            SimulateError::FaultsFile(_) | SimulateError::BadInput(_) => crate::exit::BAD_INPUT,
            SimulateError::Io { .. } => crate::exit::INFRASTRUCTURE,
        }
    }
}

/// Reads a faults file (`[[faults]]` rules), every error located.
pub fn load_faults(file: &Path) -> Result<Vec<FaultRule>, SimulateError> {
    let parsed: FaultsFile = read_toml(file, "faults file")?;
    for (i, rule) in parsed.faults.iter().enumerate() {
        rule.validate().map_err(|message| ScenarioError {
            file: file.to_owned(),
            line: 0,
            column: 0,
            field: Some(format!("faults[{i}]")),
            message,
        })?;
    }
    Ok(parsed.faults)
}

/// Runs the simulator until `shutdown` resolves; `started` gets its URL once
/// it listens. Returns the number of exchanges recorded.
pub async fn simulate(
    opts: SimulateOptions,
    started: impl FnOnce(&str),
    shutdown: impl Future<Output = ()>,
) -> Result<u64, SimulateError> {
    if !opts.listen.ip().is_loopback() {
        return Err(SimulateError::BadInput(format!(
            "--listen {}: expected a loopback address (127.0.0.1 or [::1])",
            opts.listen
        )));
    }
    let mut rules = opts.profile.map(Profile::rules).unwrap_or_default();
    if let Some(file) = &opts.faults_file {
        rules.extend(load_faults(file)?);
    }
    let faults = FaultSet::new(opts.seed);
    for rule in rules {
        faults.add(rule).map_err(SimulateError::BadInput)?;
    }
    let recorder = Recorder::create(&opts.history).map_err(|source| SimulateError::Io {
        what: format!("create the history file {}", opts.history.display()),
        source,
    })?;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| SimulateError::Io {
            what: format!("listen on {}", opts.listen),
            source,
        })?;
    let bearer = |client: &simulators::client::PartnerClient| {
        if let Some(token) = &opts.peer_token {
            client
                .set_bearer(token.clone())
                .expect("a new simulator has no token yet");
        }
    };
    let app = match opts.role {
        SimRole::Erp => {
            let erp = ErpSim::new(&opts.peer_url, recorder.clone(), faults.clone());
            bearer(erp.core_client());
            simulators::erp::app(erp)
        }
        SimRole::Wms => {
            let wms = WmsSim::new(
                WmsConfig {
                    core_url: opts.peer_url.clone(),
                    receipt_delay: Duration::from_millis(100),
                    receiving: Default::default(),
                    seed: opts.seed,
                },
                recorder.clone(),
                faults.clone(),
            );
            bearer(wms.core_client());
            simulators::wms::app(wms)
        }
        SimRole::Supplier => {
            let supplier = SupplierSim::new(
                SupplierConfig {
                    core_url: opts.peer_url.clone(),
                    seed: opts.seed,
                    ack_delay: Duration::from_millis(100),
                    asn_delay: Duration::from_millis(200),
                    asn_copies: (1, 1),
                    concurrent_copies: false,
                },
                recorder.clone(),
                faults.clone(),
            );
            bearer(supplier.core_client());
            simulators::supplier::app(supplier)
        }
    };
    let app = simulators::auth::require_bearer(app, opts.token.as_deref());
    let server: Server = serve(listener, app, faults).map_err(|source| SimulateError::Io {
        what: "start the server".into(),
        source,
    })?;
    started(&server.url());
    shutdown.await;
    server.stop().await.map_err(|source| SimulateError::Io {
        what: "stop the server".into(),
        source,
    })?;
    recorder.flush().await.map_err(|source| SimulateError::Io {
        what: format!("flush the history {}", opts.history.display()),
        source,
    })
}
