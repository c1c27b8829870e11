//! `crossdock simulate`: one simulated party, standalone, so an architect can
//! point their own integration layer at it. It runs until the shutdown
//! future resolves (Ctrl-C in the binary), then flushes its history.
//!
//! Its business behaviour comes from a behaviour file (`--behaviour`), with
//! the sections a scenario uses for the same parties:
//!
//! ```toml
//! [supplier]                      # as in a scenario
//! ack_delay_ms = 100
//! asn_delay_ms = 200
//! asn_copies = { min = 1, max = 2 }
//!
//! [wms]                           # as in a scenario
//! receipt_delay_ms = 100
//! short_probability = 0.1
//! variance_pct = 20
//!
//! [outbound]                      # the WMS's order releases and shipping
//! unknown_items = ["SKU-404"]     # … or known_items = [...]; neither: every SKU known
//! ship_delay_ms = 20
//! short_ship_probability = 0.1
//!
//! [invoicing]                     # the supplier invoices (as in a scenario)
//! price_variance_probability = 0.2
//!
//! [inventory]                     # the WMS adjusts stock (as in a scenario)
//! adjustment_probability = 0.5
//! ```
//!
//! A section left out keeps the standalone defaults (100 ms / 200 ms delays,
//! exact counts, every item known, no invoices or adjustments); sections
//! for another role are ignored, so one file can serve all three.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use simulators::erp::ErpSim;
use simulators::faults::{FaultRule, FaultSet, FaultsFile, Profile};
use simulators::recorder::Recorder;
use simulators::supplier::SupplierSim;
use simulators::wms::WmsSim;
use simulators::wms::outbound::{ItemMaster, OutboundConfig};
use simulators::{Server, serve};

use scenario::{
    InventorySection, InvoicingSection, Probability, ScenarioError, SimRole, SupplierBehaviour, WmsBehaviour,
    line_col, read_text, read_toml,
};

/// What to simulate, and where.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    pub role: SimRole,
    /// Must be a loopback address.
    pub listen: SocketAddr,
    /// Base URL of the integration layer this party calls.
    pub peer_url: String,
    pub faults_file: Option<PathBuf>,
    /// Business behaviour ([`BehaviourFile`]); absent: the standalone defaults.
    pub behaviour_file: Option<PathBuf>,
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
    scenario::check_fault_fields(file, &read_text(file, "faults file")?, &[])?;
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

/// A behaviour file: the party's business behaviour, in the sections a
/// scenario uses (see the module docs).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviourFile {
    #[serde(default)]
    pub supplier: Option<SupplierBehaviour>,
    #[serde(default)]
    pub wms: Option<WmsBehaviour>,
    #[serde(default)]
    pub outbound: Option<OutboundBehaviour>,
    #[serde(default)]
    pub invoicing: Option<InvoicingSection>,
    #[serde(default)]
    pub inventory: Option<InventorySection>,
}

/// `[outbound]` of a behaviour file: how the standalone WMS decides order
/// releases and ships them. The orders come from the caller, so the item
/// master is listed, not drawn.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundBehaviour {
    /// The item master: only these SKUs are known.
    #[serde(default)]
    pub known_items: Option<Vec<String>>,
    /// The item master: every SKU but these is known.
    #[serde(default)]
    pub unknown_items: Option<Vec<String>>,
    /// Time from an accepted release to its ship confirmation.
    #[serde(default)]
    pub ship_delay_ms: u64,
    /// Chance that a line ships short (half its quantity).
    #[serde(default)]
    pub short_ship_probability: Probability,
}

impl OutboundBehaviour {
    fn config(&self, seed: u64) -> OutboundConfig {
        let set = |skus: &[String]| skus.iter().cloned().collect::<HashSet<_>>();
        let items = match (&self.known_items, &self.unknown_items) {
            (Some(known), _) => ItemMaster::Known(set(known)),
            (None, Some(unknown)) => ItemMaster::AllBut(set(unknown)),
            (None, None) => ItemMaster::Any,
        };
        OutboundConfig {
            items,
            ship_delay: Duration::from_millis(self.ship_delay_ms),
            short_ship_probability: self.short_ship_probability.0,
            seed,
        }
    }
}

/// Reads a behaviour file, every error located (file, line, column, field).
pub fn load_behaviour(file: &Path) -> Result<BehaviourFile, SimulateError> {
    let behaviour: BehaviourFile = read_toml(file, "behaviour file")?;
    if let Some(outbound) = &behaviour.outbound
        && outbound.known_items.is_some()
        && outbound.unknown_items.is_some()
    {
        let text = read_text(file, "behaviour file")?;
        let offset = text.find("unknown_items").unwrap_or(0);
        let (line, column) = line_col(&text, offset);
        return Err(ScenarioError {
            file: file.to_owned(),
            line,
            column,
            field: Some("outbound.unknown_items".into()),
            message: "expected known_items or unknown_items, found both".into(),
        }
        .into());
    }
    Ok(behaviour)
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
    let behaviour = match &opts.behaviour_file {
        Some(file) => load_behaviour(file)?,
        None => BehaviourFile::default(),
    };
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
            let standalone = WmsBehaviour {
                receipt_delay_ms: 100,
                ..WmsBehaviour::default()
            };
            let config = behaviour.wms.as_ref().unwrap_or(&standalone);
            let wms = WmsSim::new(
                crate::behaviour::wms_config(config, &opts.peer_url, opts.seed),
                recorder.clone(),
                faults.clone(),
            );
            if let Some(outbound) = &behaviour.outbound {
                wms.outbound().configure(outbound.config(opts.seed));
            }
            if let Some(inventory) = &behaviour.inventory {
                wms.set_inventory(crate::behaviour::inventory_behaviour(inventory));
            }
            bearer(wms.core_client());
            simulators::wms::app(wms)
        }
        SimRole::Supplier => {
            let standalone = SupplierBehaviour {
                ack_delay_ms: 100,
                asn_delay_ms: 200,
                ..SupplierBehaviour::default()
            };
            let config = behaviour.supplier.as_ref().unwrap_or(&standalone);
            let supplier = SupplierSim::new(
                crate::behaviour::supplier_config(config, &opts.peer_url, opts.seed),
                recorder.clone(),
                faults.clone(),
            );
            if let Some(invoicing) = &behaviour.invoicing {
                supplier.set_invoicing(crate::behaviour::invoicing_behaviour(invoicing));
            }
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
