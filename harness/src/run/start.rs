//! Stage 2 of a run: start the parties. Bind a listener per party, create
//! the simulators (each recording to its history file), configure and
//! start the core (in process, or reach it at its URL), give every caller
//! its own fresh bearer token, then serve the simulators (or the recording
//! proxies before external partners).

use std::sync::Arc;
use std::time::Duration;

use integration_core::pgstore::ScratchDb;
use integration_core::{Caller, CoreConfig, Credentials, Partners};
use scenario::SimRole;
use simulators::Server;
use simulators::erp::ErpSim;
use simulators::faults::FaultSet;
use simulators::recorder::Recorder;
use simulators::supplier::SupplierSim;
use simulators::wms::WmsSim;
use tokio::net::TcpListener;

use super::events::Prepared;
use super::external::{self, Activity, CoreAccess};
use super::options::{RunError, RunOptions};
use super::orders::supplier_gln;
use super::plan::Plan;
use crate::behaviour;

/// The parties of a running scenario.
pub struct Started {
    pub erp: Arc<ErpSim>,
    pub wms: Arc<WmsSim>,
    pub supplier: Arc<SupplierSim>,
    /// The core, in process or at its URL.
    pub core: CoreAccess,
    pub core_url: String,
    pub ops_token: String,
    /// The simulators' servers and the proxies before external partners.
    pub servers: Vec<Server>,
    pub activity: Arc<Activity>,
    /// The run's part of the events stream (`--events`).
    pub events: Option<Prepared>,
    /// The run's PostgreSQL database (`--store`), dropped after.
    pub database: Option<ScratchDb>,
}

/// The four listeners: one per partner (or its proxy), one for the core.
struct Listeners {
    erp: TcpListener,
    wms: TcpListener,
    supplier: TcpListener,
    core: TcpListener,
}

/// A fresh bearer token per caller of the core.
struct Tokens {
    erp: String,
    wms: String,
    supplier: String,
    ops: String,
}

/// Starts every party of `plan`.
pub async fn start(plan: &Plan, opts: &RunOptions) -> Result<Started, RunError> {
    let parties = &plan.parties;
    let l = Listeners {
        erp: external::bind_partner(parties, SimRole::Erp).await?,
        wms: external::bind_partner(parties, SimRole::Wms).await?,
        supplier: external::bind_partner(parties, SimRole::Supplier).await?,
        core: bind().await?,
    };
    let core_url = parties
        .core
        .as_ref()
        .map_or_else(|| url(&l.core), |c| c.url.clone());
    let (erp, wms, supplier) = simulators_for(plan, &core_url)?;
    let token = || format!("{:032x}", rand::random::<u128>());
    let tokens = Tokens {
        erp: token(),
        wms: token(),
        supplier: token(),
        ops: token(),
    };
    let partner_tokens =
        parties.caller_tokens([tokens.erp.clone(), tokens.wms.clone(), tokens.supplier.clone()]);
    let ops_token = parties
        .core
        .as_ref()
        .map_or(tokens.ops.clone(), |c| c.ops_token.clone());
    for (client, token) in [erp.core_client(), wms.core_client(), supplier.core_client()]
        .into_iter()
        .zip(partner_tokens.clone())
    {
        if let Some(token) = token {
            client
                .set_bearer(token)
                .expect("a new simulator has no token yet");
        }
    }
    let mut config = core_config(plan, opts, &l, &tokens);
    let events = prepare_events(plan, opts).await?;
    config.events = events.as_ref().map(|e| e.config.clone());
    let database = prepare_database(opts).await?;
    config.postgres = database.as_ref().map(|db| db.url());
    let replicas = opts.store.as_ref().map_or(1, |s| s.replicas);
    let core = match &parties.core {
        Some(c) => CoreAccess::external(c)?,
        None => CoreAccess::start(config, l.core, replicas).await?,
    };
    let activity = Arc::new(Activity::default());
    let mut servers = serve_partners(
        plan,
        (&erp, &wms, &supplier),
        (l.erp, l.wms, l.supplier),
        &activity,
    )?;
    let recorders = [erp.recorder(), wms.recorder(), supplier.recorder()];
    servers.extend(
        external::serve_peer_proxies(parties, &core_url, &recorders, &partner_tokens, &activity).await?,
    );
    Ok(Started {
        erp,
        wms,
        supplier,
        core,
        core_url,
        ops_token,
        servers,
        activity,
        events,
        database,
    })
}

async fn bind() -> Result<TcpListener, RunError> {
    TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| RunError::Start {
            what: "a listener on 127.0.0.1",
            message: e.to_string(),
        })
}

fn url(l: &TcpListener) -> String {
    format!("http://{}", l.local_addr().expect("bound listener"))
}

/// The three simulators of a run: ERP, WMS, supplier.
type Simulators = (Arc<ErpSim>, Arc<WmsSim>, Arc<SupplierSim>);

/// The three simulators, each recording to `<role>.jsonl` and deciding its
/// faults from its own seed, derived from the run's.
fn simulators_for(plan: &Plan, core_url: &str) -> Result<Simulators, RunError> {
    let (scenario, seed, out) = (&plan.scenario, plan.seed, &plan.out);
    let recorder = |name: &str| {
        Recorder::create(&out.join(format!("{name}.jsonl"))).map_err(|e| RunError::Output {
            path: out.join(name),
            source: e,
        })
    };
    let faults_of = |salt: u64| FaultSet::new(seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let erp = ErpSim::new(core_url, recorder("erp")?, faults_of(1));
    let wms = WmsSim::new(
        behaviour::wms_config(&scenario.wms, core_url, seed ^ 0x5715),
        recorder("wms")?,
        faults_of(2),
    );
    let supplier = SupplierSim::new(
        behaviour::supplier_config(&scenario.supplier, core_url, seed),
        recorder("supplier")?,
        faults_of(3),
    );
    supplier.set_changes(behaviour::supplier_changes(&scenario.supplier));
    behaviour::configure_parties(
        scenario.invoicing.as_ref(),
        scenario.inventory.as_ref(),
        &supplier,
        &wms,
    );
    Ok((erp, wms, supplier))
}

/// The in-process core's configuration: partners at the listeners, the
/// scenario's settings, the test-only weaknesses of `opts.core`, and the
/// callers' tokens (the core never runs open).
fn core_config(plan: &Plan, opts: &RunOptions, l: &Listeners, tokens: &Tokens) -> CoreConfig {
    let scenario = &plan.scenario;
    let mut config = CoreConfig::new(
        plan.out.join("core.sqlite"),
        Partners {
            erp: url(&l.erp),
            wms: url(&l.wms),
            supplier: url(&l.supplier),
        },
    );
    config.seed = plan.seed;
    config.asn_dedup = opts.core.asn_dedup;
    config.ignore_stale_receipts = opts.core.ignore_stale_receipts;
    if let Some(n) = opts.core.max_attempts.or(scenario.core.max_attempts.map(|n| n.0)) {
        config.retry.policy.max_attempts = n;
    }
    config.release_failure_rejects = opts.core.release_failure_rejects;
    if let Some(o) = &scenario.outbound {
        config.release_timeout = Duration::from_millis(u64::from(o.release_timeout_ms.0));
    }
    behaviour::configure_core(scenario.invoicing.as_ref(), &mut config);
    config.adjustment_dedup = opts.core.adjustment_dedup;
    config.reconciliation_guard = opts.core.reconciliation_guard;
    if let Some(pct) = opts.core.price_tolerance_pct {
        config.invoicing.price_tolerance_pct = pct;
    }
    config.credentials = Credentials::default()
        .with(&tokens.erp, Caller::Erp)
        .with(&tokens.wms, Caller::Wms)
        .with(&tokens.ops, Caller::Ops)
        .with(
            &tokens.supplier,
            Caller::Supplier {
                gln: supplier_gln().as_str().to_owned(),
            },
        );
    config
}

async fn prepare_events(plan: &Plan, opts: &RunOptions) -> Result<Option<Prepared>, RunError> {
    let Some(ev) = &opts.events else {
        return Ok(None);
    };
    let source = format!("/crossdock/core/run-{}-{}", plan.started_us, plan.seed);
    ev.prepare(source)
        .await
        .map(Some)
        .map_err(|message| RunError::Unreachable {
            what: "NATS JetStream (--events)",
            message,
        })
}

async fn prepare_database(opts: &RunOptions) -> Result<Option<ScratchDb>, RunError> {
    let Some(s) = &opts.store else {
        return Ok(None);
    };
    s.prepare()
        .await
        .map(Some)
        .map_err(|message| RunError::Unreachable {
            what: "PostgreSQL (--store)",
            message,
        })
}

/// Serves each simulator on its listener (or, for an external partner, the
/// recording proxy before it).
fn serve_partners(
    plan: &Plan,
    (erp, wms, supplier): (&Arc<ErpSim>, &Arc<WmsSim>, &Arc<SupplierSim>),
    (erp_l, wms_l, sup_l): (TcpListener, TcpListener, TcpListener),
    activity: &Arc<Activity>,
) -> Result<Vec<Server>, RunError> {
    let party = |role, listener, app, faults: &Arc<FaultSet>, recorder: &Recorder| {
        external::serve_party(&plan.parties, role, listener, app, faults, recorder, activity).map_err(|e| {
            RunError::Start {
                what: "a simulator or its proxy",
                message: e.to_string(),
            }
        })
    };
    Ok(vec![
        party(
            SimRole::Erp,
            erp_l,
            simulators::erp::app(erp.clone()),
            erp.faults(),
            erp.recorder(),
        )?,
        party(
            SimRole::Wms,
            wms_l,
            simulators::wms::app(wms.clone()),
            wms.faults(),
            wms.recorder(),
        )?,
        party(
            SimRole::Supplier,
            sup_l,
            simulators::supplier::app(supplier.clone()),
            supplier.faults(),
            supplier.recorder(),
        )?,
    ])
}
