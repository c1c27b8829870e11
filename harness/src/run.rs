//! One scenario run: start the simulated parties and the reference core on
//! free 127.0.0.1 ports, drive the load, wait (bounded) for quiescence,
//! then check the recorded history and build the report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use contracts::ids::with_check_digit;
use contracts::inbound::{PoLine, PoLineStatus, PurchaseOrder, Uom};
use contracts::{Gln, Gtin, Validator};
use integration_core::{CoreConfig, Partners};
use reports::{FaultWindow, REPORT_FORMAT, Report};
use simulators::erp::ErpSim;
use simulators::faults::FaultSet;
use simulators::recorder::{Recorder, now_us};
use simulators::rfc3339_utc;
use simulators::supplier::SupplierSim;
use simulators::wms::WmsSim;

use crate::check::{self, Expectations, HistoryError};

pub mod events;
pub mod external;
pub mod ops;
pub mod outbound;
pub mod store;
use crate::inventory_invoicing;
use crate::load::{Driver, LoadReport};
use crate::scenario::{Scenario, ScenarioError, SimRole};
pub use store::RunStore;

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
    /// run checks them (`check::events`); `None`: no events.
    pub events: Option<events::RunEvents>,
    /// `--external`, `--token-for`, `--listen`: roles played by systems
    /// at a URL, over the scenario's `[parties]`.
    pub parties: external::PartyOverrides,
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
    fn report(&self, event: Progress) {
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
    History(#[from] HistoryError),
    #[error(transparent)]
    Report(#[from] reports::WriteError),
}

/// The supplier every generated PO is addressed to.
fn supplier_gln() -> Gln {
    Gln::parse(&with_check_digit("506000000001")).expect("valid GLN")
}

/// Deterministic purchase orders for a scenario and seed.
pub fn generate_orders(scenario: &Scenario, seed: u64) -> Vec<PurchaseOrder> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_0f0e_d3e5);
    let ship_to = Gln::parse(&with_check_digit("506000000009")).expect("valid GLN");
    let Some(load) = &scenario.load else {
        return Vec::new();
    };
    let range = load.lines_per_po;
    (1..=load.purchase_orders.0)
        .map(|n| {
            let lines = rng.random_range(range.min..=range.max);
            PurchaseOrder {
                po_number: format!("PO-{n:07}"),
                version: 1,
                supplier_gln: supplier_gln(),
                ship_to_gln: ship_to.clone(),
                currency: "EUR".into(),
                order_date: "2026-11-20".into(),
                lines: (1..=lines)
                    .map(|line_no| {
                        let item: u32 = rng.random_range(1..=99_999);
                        PoLine {
                            line_no,
                            sku: format!("SKU-{item:05}"),
                            gtin: Gtin::parse(&with_check_digit(&format!("400638{item:06}")))
                                .expect("valid GTIN"),
                            quantity: rng.random_range(1..=120),
                            uom: Uom::Ea,
                            unit_price: format!(
                                "{}.{:02}",
                                rng.random_range(1..=500),
                                rng.random_range(0..100)
                            ),
                            requested_date: "2026-11-27".into(),
                            over_tolerance_pct: 10,
                            under_tolerance_pct: 5,
                            status: PoLineStatus::Open,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

async fn bind() -> Result<TcpListener, RunError> {
    TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| RunError::Start {
            what: "a listener on 127.0.0.1",
            message: e.to_string(),
        })
}

fn output_dir(base: &Path, name: &str) -> Result<PathBuf, RunError> {
    let dir = base.join(name);
    let io = |source| RunError::Output {
        path: dir.clone(),
        source,
    };
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io)?;
    }
    std::fs::create_dir_all(&dir).map_err(io)?;
    Ok(dir)
}

/// The name of the PO-release flow in the report (latency row and load).
pub const RELEASE_FLOW: &str = "po-release";

/// The driver's latency row: intended send time to answer, every send
/// (fault windows included: it is what the client saw).
pub fn load_latency(name: &str, load: &LoadReport) -> reports::Latency {
    reports::Latency {
        name: name.to_owned(),
        count: load.latency_us.len(),
        p50_ms: load.quantile_ms(0.5),
        p90_ms: load.quantile_ms(0.9),
        p95_ms: load.quantile_ms(0.95),
        p99_ms: load.quantile_ms(0.99),
        max_ms: load.max_ms(),
        sla_p99_ms: None,
    }
}

/// The driver's counts for the report.
pub fn load_summary(name: &str, load: &LoadReport) -> reports::LoadSummary {
    reports::LoadSummary {
        name: name.to_owned(),
        sent: load.sent,
        ok: load.ok,
        failed: load.failed,
        missed_schedule: load.missed,
        late_after_ms: load.late_after.as_millis() as u64,
        timed_out: load.timed_out,
        max_in_flight: load.max_in_flight,
    }
}

/// Runs one scenario file to a report (written to disk too).
pub async fn run_scenario(file: &Path, opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let scenario = Scenario::load(file)?;
    let seed = opts.seed.or(scenario.seed).unwrap_or_else(rand::random);
    eprintln!(
        "crossdock: running {} ({}) with seed {seed}",
        scenario.name,
        file.display()
    );
    let parties = external::Plan::resolve(&scenario, &opts.parties)
        .map_err(|e| RunError::BadParties(format!("{}: {e}", file.display())))?;
    if parties.core.is_some() && opts.events.is_some() {
        return Err(RunError::BadParties(
            "--events judges the in-process core's events; not judged: external core".into(),
        ));
    }
    if parties.core.is_some() && opts.store.is_some() {
        return Err(RunError::BadParties(
            "--store is where the in-process core keeps its state; the core is external".into(),
        ));
    }
    parties.check_ready().await?;
    // Told now, and kept in the report (JSON, HTML, JUnit, terminal).
    let notes = parties.notes(&scenario);
    for note in &notes {
        eprintln!("crossdock: {note}");
    }
    let out = output_dir(&opts.out_dir, &scenario.name)?;
    let started_us = now_us();
    let started_at = rfc3339_utc(started_us);
    let t0 = Instant::now();
    let time_bound_s = scenario.time_bound_s().unwrap_or(30);
    let deadline = t0 + Duration::from_secs(u64::from(time_bound_s));

    let recorder = |name: &str| {
        Recorder::create(&out.join(format!("{name}.jsonl"))).map_err(|e| RunError::Output {
            path: out.join(name),
            source: e,
        })
    };
    let (erp_l, wms_l, sup_l, core_l) = (
        external::bind_partner(&parties, SimRole::Erp).await?,
        external::bind_partner(&parties, SimRole::Wms).await?,
        external::bind_partner(&parties, SimRole::Supplier).await?,
        bind().await?,
    );
    let url = |l: &TcpListener| format!("http://{}", l.local_addr().expect("bound listener"));
    let core_url = parties
        .core
        .as_ref()
        .map_or_else(|| url(&core_l), |c| c.url.clone());

    // Each party decides its faults from its own seed, derived from the run's.
    let faults_of = |salt: u64| FaultSet::new(seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let erp = ErpSim::new(&core_url, recorder("erp")?, faults_of(1));
    let wms = WmsSim::new(
        scenario.wms.config(&core_url, seed ^ 0x5715),
        recorder("wms")?,
        faults_of(2),
    );
    let supplier = SupplierSim::new(
        scenario.supplier.config(&core_url, seed),
        recorder("supplier")?,
        faults_of(3),
    );
    supplier.set_changes(scenario.supplier.changes());
    inventory_invoicing::configure_parties(
        scenario.invoicing.as_ref(),
        scenario.inventory.as_ref(),
        &supplier,
        &wms,
    );
    let mut core_config = CoreConfig::new(
        out.join("core.sqlite"),
        Partners {
            erp: url(&erp_l),
            wms: url(&wms_l),
            supplier: url(&sup_l),
        },
    );
    core_config.seed = seed;
    core_config.asn_dedup = opts.core.asn_dedup;
    core_config.ignore_stale_receipts = opts.core.ignore_stale_receipts;
    if let Some(n) = opts.core.max_attempts.or(scenario.core.max_attempts.map(|n| n.0)) {
        core_config.retry.policy.max_attempts = n;
    }
    core_config.release_failure_rejects = opts.core.release_failure_rejects;
    if let Some(o) = &scenario.outbound {
        core_config.release_timeout = Duration::from_millis(u64::from(o.release_timeout_ms.0));
    }
    inventory_invoicing::configure_core(scenario.invoicing.as_ref(), &mut core_config);
    core_config.adjustment_dedup = opts.core.adjustment_dedup;
    core_config.reconciliation_guard = opts.core.reconciliation_guard;
    if let Some(pct) = opts.core.price_tolerance_pct {
        core_config.invoicing.price_tolerance_pct = pct;
    }
    // The core never runs open: each party gets its own bearer token, new
    // for every run.
    let token = || format!("{:032x}", rand::random::<u128>());
    let (erp_token, wms_token, supplier_token, ops_token) = (token(), token(), token(), token());
    let partner_tokens =
        parties.caller_tokens([erp_token.clone(), wms_token.clone(), supplier_token.clone()]);
    let ops_token = parties.core.as_ref().map_or(ops_token, |c| c.ops_token.clone());
    core_config.credentials = integration_core::Credentials::default()
        .with(&erp_token, integration_core::Caller::Erp)
        .with(&wms_token, integration_core::Caller::Wms)
        .with(&ops_token, integration_core::Caller::Ops)
        .with(
            &supplier_token,
            integration_core::Caller::Supplier {
                gln: supplier_gln().as_str().to_owned(),
            },
        );
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
    let events = match &opts.events {
        Some(ev) => Some(
            ev.prepare(format!("/crossdock/core/run-{started_us}-{seed}"))
                .await
                .map_err(|message| RunError::Unreachable {
                    what: "NATS JetStream (--events)",
                    message,
                })?,
        ),
        None => None,
    };
    core_config.events = events.as_ref().map(|e| e.config.clone());
    let database = match &opts.store {
        Some(s) => Some(s.prepare().await.map_err(|message| RunError::Unreachable {
            what: "PostgreSQL (--store)",
            message,
        })?),
        None => None,
    };
    core_config.postgres = database.as_ref().map(|db| db.url());
    let replicas = opts.store.as_ref().map_or(1, |s| s.replicas);
    let core = match &parties.core {
        Some(c) => external::CoreAccess::external(c)?,
        None => external::CoreAccess::start(core_config, core_l, replicas).await?,
    };
    let start_err = |what| {
        move |e: std::io::Error| RunError::Start {
            what,
            message: e.to_string(),
        }
    };
    let activity = Arc::new(external::Activity::default());
    let party = |role, listener, app, faults: &Arc<FaultSet>, recorder: &Recorder| {
        external::serve_party(&parties, role, listener, app, faults, recorder, &activity)
            .map_err(start_err("a simulator or its proxy"))
    };
    let mut servers = vec![
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
    ];
    let recorders = [erp.recorder(), wms.recorder(), supplier.recorder()];
    servers.extend(
        external::serve_peer_proxies(&parties, &core_url, &recorders, &partner_tokens, &activity).await?,
    );

    let orders = generate_orders(&scenario, seed);
    let released: Vec<(String, Vec<u32>)> = orders
        .iter()
        .map(|po| (po.po_number.clone(), po.lines.iter().map(|l| l.line_no).collect()))
        .collect();
    erp.load(orders);
    let load_start = tokio::time::Instant::now();
    let load_start_us = now_us();

    // The fault timeline: each rule is added at its `at_s` and removed
    // `for_s` later, on the party it names.
    let mut timeline = JoinSet::new();
    let mut fault_windows = Vec::new();
    // The run may end once quiet and every window has opened; windows still
    // open then are closed with the run.
    let unopened = Arc::new(AtomicU64::new(
        (scenario.faults.len() + scenario.ops.len()) as u64,
    ));
    // Windows are timed from the load's start, reported from the run's.
    let load_offset_ms = load_start_us.saturating_sub(started_us) / 1000;
    for f in &scenario.faults {
        let set = match f.role {
            SimRole::Erp => erp.faults().clone(),
            SimRole::Wms => wms.faults().clone(),
            SimRole::Supplier => supplier.faults().clone(),
        };
        let (from, to) = (
            Duration::from_secs_f64(f.at_s),
            Duration::from_secs_f64(f.at_s + f.for_s),
        );
        fault_windows.push(FaultWindow {
            role: f.role.as_str().to_owned(),
            kind: f.rule.fault.name().to_owned(),
            endpoint: f.rule.endpoint.clone(),
            from_ms: load_offset_ms + from.as_millis() as u64,
            to_ms: load_offset_ms + to.as_millis() as u64,
        });
        let (rule, unopened) = (f.rule.clone(), unopened.clone());
        timeline.spawn(async move {
            tokio::time::sleep_until(load_start + from).await;
            let id = set
                .add(rule)
                .expect("rules are validated when the scenario is parsed");
            unopened.fetch_sub(1, Ordering::SeqCst);
            tokio::time::sleep_until(load_start + to).await;
            set.remove(id);
        });
    }
    // Operator steps, on the same timeline (they count as unopened until done).
    let ops_done = Arc::new(std::sync::Mutex::new(Vec::new()));
    for step in &scenario.ops {
        let (unopened, done) = (unopened.clone(), ops_done.clone());
        let step = ops::run_step(
            step.clone(),
            load_start,
            core_url.clone(),
            ops_token.clone(),
            done,
        );
        timeline.spawn(async move {
            step.await;
            unopened.fetch_sub(1, Ordering::SeqCst);
        });
    }
    // Sends overlapping a fault window are left out of the drivers' SLA figures.
    let exclude: Vec<(Duration, Duration)> = scenario
        .faults
        .iter()
        .map(|f| {
            (
                Duration::from_secs_f64(f.at_s),
                Duration::from_secs_f64(f.at_s + f.for_s),
            )
        })
        .collect();
    // The outbound flow's releases run beside the POs, on their own schedule.
    let outbound_driver = scenario.outbound.as_ref().map(|o| {
        let orders = outbound::prepare(&erp, &wms, o, seed);
        outbound::drive(
            erp.clone(),
            orders,
            o.schedule(),
            load_start,
            tokio::time::Instant::from_std(deadline),
            exclude.clone(),
        )
    });
    // Load: an open model (crate::load). Release i is due at its intended
    // time on the scenario's schedule, whether or not earlier releases have
    // been answered; its latency runs from that time to the core's answer.
    let total = released.len() as u64;
    let load = Driver::new(
        scenario
            .load
            .as_ref()
            .map_or_else(|| crate::load::Schedule::constant(1.0), |l| l.schedule()),
    )
    .max_sends(total)
    .max_duration(deadline.saturating_duration_since(Instant::now()))
    .start_at(load_start)
    .exclude(exclude)
    .run(|i| {
        opts.report(Progress::Releasing {
            released: i + 1,
            total,
        });
        let (erp, po_number) = (erp.clone(), released[i as usize].0.clone());
        async move { erp.release(&po_number).await.is_some_and(|a| a.is_success()) }
    })
    .await;
    let sent = load.sent;
    eprintln!("crossdock: {sent} purchase orders released; waiting for quiescence");

    // Quiescence: nothing in flight anywhere for two polls in a row, bounded
    // by the scenario's time bound.
    let mut quiet_polls = 0;
    let quiescence = loop {
        let outbox = core.status().await.map(|s| s.outbox_pending).unwrap_or(i64::MAX);
        let unopened_now = unopened.load(Ordering::SeqCst) as usize;
        let outbound_busy = outbound_driver.as_ref().is_some_and(|d| !d.is_finished());
        let busy = load.timed_out as usize
            + parties.proxies_busy(&activity)
            + unopened_now
            + supplier.pending()
            + wms.pending()
            + usize::from(outbound_busy);
        opts.report(Progress::Settling {
            in_flight: busy as u64,
            outbox_pending: outbox.max(0) as u64,
        });
        if busy == 0 && outbox == 0 {
            quiet_polls += 1;
            if quiet_polls >= 2 {
                break Ok(());
            }
        } else {
            quiet_polls = 0;
        }
        if Instant::now() >= deadline {
            break Err(format!(
                "not quiet after {} s: {} release(s), {} supplier and {} WMS send(s) in flight, \
                 {outbox} outbox row(s) pending, {unopened_now} fault window(s) or ops step(s) not yet due{}",
                time_bound_s,
                load.timed_out,
                supplier.pending(),
                wms.pending(),
                if outbound_busy {
                    ", sales-order releases still running"
                } else {
                    ""
                }
            ));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    // Then the reconciliations `[inventory]` asks for, and quiet again.
    let quiescence = match quiescence {
        Ok(()) => {
            inventory_invoicing::reconcile(scenario.inventory.as_ref(), &core, &ops_token, seed, deadline)
                .await
                .map(|_| ())
        }
        left => left,
    };
    timeline.abort_all();
    // The driver stops at the deadline, so it has finished here unless it
    // panicked.
    let outbound_released = match outbound_driver {
        Some(d) => d.await.ok(),
        None => None,
    };
    let ended_ms = t0.elapsed().as_millis() as u64;
    for w in &mut fault_windows {
        w.to_ms = w.to_ms.min(ended_ms);
    }
    // The same windows for the checker, in Unix µs, each on its party
    // (`fault_windows` holds one window per `[[faults]]` entry, in order).
    let fault_spans: Vec<crate::sla::FaultSpan> = fault_windows
        .iter()
        .zip(&scenario.faults)
        .map(|(w, f)| crate::sla::FaultSpan {
            party: f.role.role(),
            from_us: started_us + w.from_ms * 1000,
            to_us: started_us + w.to_ms * 1000,
        })
        .collect();
    let core_status = core.status().await.ok();
    core.stop().await;
    if let Some(db) = database {
        store::drop_database(db).await;
    }
    for server in servers {
        let _ = server.stop().await;
    }
    for r in [erp.recorder(), wms.recorder(), supplier.recorder()] {
        r.flush().await.map_err(|source| RunError::Output {
            path: r.path().to_owned(),
            source,
        })?;
    }

    let histories: Vec<PathBuf> = ["erp", "supplier", "wms"]
        .iter()
        .map(|p| out.join(format!("{p}.jsonl")))
        .collect();
    opts.report(Progress::Checking);
    let schemas = Validator::new();
    let findings = check::check(
        &histories,
        &schemas,
        &Expectations {
            released: released.into_iter().take(sent as usize).collect(),
            asn_to_expectation_p99_ms: scenario
                .sla
                .bounds(crate::sla::ASN_TO_EXPECTATION)
                .p99_ms
                .map_or(f64::INFINITY, |b| b.0),
            quiescence,
            price_tolerance_pct: scenario.invoicing.as_ref().map(|i| i.price_tolerance_pct),
            run_started_us: started_us,
            fault_windows: fault_spans.clone(),
        },
    )?;
    let mut findings = findings;
    if scenario.outbound.is_some() {
        let o = check::outbound::check(
            &histories,
            &check::outbound::OutboundExpectations {
                fault_windows: fault_spans.clone(),
            },
        )?;
        findings.checks.extend(o.checks);
        findings.latencies.extend(o.latencies);
        findings.counts.extend(o.counts);
        findings.flows.extend(o.flows);
        findings.deliveries.extend(o.deliveries);
    }
    // SLAs per flow that ran, and recovery after each fault window.
    let inbound = [crate::sla::ASN_TO_EXPECTATION, crate::sla::RECEIPT_TO_POSTING];
    let ran = |flow: &crate::sla::Flow| {
        if inbound.contains(flow) {
            scenario.load.is_some()
        } else {
            scenario.outbound.is_some()
        }
    };
    let mut flows: Vec<crate::sla::FlowMeasure> = Vec::new();
    if scenario.load.is_some() {
        flows.push(load.judged.clone());
    }
    flows.extend(outbound_released.as_ref().map(|r| r.judged.clone()));
    flows.extend(findings.flows.drain(..).filter(|m| ran(&m.flow)));
    let (sla_checks, slowest_recovery_ms) = crate::sla::judge(
        &scenario.sla,
        &flows,
        &fault_windows,
        started_us,
        &findings.deliveries,
    );
    findings.checks.extend(sla_checks);
    if !scenario.ops.is_empty() {
        let done = ops_done.lock().expect("ops lock").clone();
        let replayed = done.iter().filter_map(|d| d.outcome.as_ref().ok()).sum();
        findings.counts.insert("dead_letters_replayed".into(), replayed);
        let dead = core_status.as_ref().map(|s| s.outbox_dead as u64);
        findings.checks.push(ops::replay_check(&done, dead));
    }
    // Events: read the run's stream twice, once quiet (the outbox had no
    // event row pending), and judge.
    if let Some(ev) = &events {
        let read = |what| move |message| RunError::Start { what, message };
        let first = ev.read().await.map_err(read("reading the events stream"))?;
        let replay = ev.read().await.map_err(read("replaying the events stream"))?;
        let seen = check::events::EventsSeen {
            stream: ev.config.stream.clone(),
            first,
            replay,
        };
        findings.counts.insert("events".into(), seen.first.len() as u64);
        findings
            .checks
            .extend(check::events::check(&histories, &schemas, &seen)?);
    }
    let mut counts = findings.counts;
    if let Some(r) = &outbound_released {
        counts.insert("sales_orders".into(), r.sent);
        counts.insert("sales_orders_missed_schedule".into(), r.missed);
    }
    if let Some(ms) = slowest_recovery_ms {
        counts.insert("recovery_slowest_ms".into(), ms);
    }
    counts.insert("purchase_orders".into(), sent);
    counts.insert("missed_schedule".into(), load.missed);
    if let Some(s) = core_status {
        counts.insert("core_outbox_dead".into(), s.outbox_dead as u64);
        counts.insert("core_outbox_delivered".into(), s.outbox_delivered as u64);
    }
    let report = Report {
        format: REPORT_FORMAT,
        scenario: scenario.name.clone(),
        scenario_file: file.display().to_string(),
        seed,
        started_at,
        duration_ms: t0.elapsed().as_millis() as u64,
        passed: findings.checks.iter().all(|c| c.passed),
        counts,
        checks: findings.checks,
        latencies: {
            let mut rows = vec![load_latency(RELEASE_FLOW, &load)];
            rows.extend(
                outbound_released
                    .iter()
                    .map(|r| load_latency(outbound::ORDER_RELEASE_FLOW, r)),
            );
            rows.extend(findings.latencies);
            crate::sla::annotate(&scenario.sla, &mut rows);
            rows
        },
        load: {
            let mut load = vec![load_summary(RELEASE_FLOW, &load)];
            load.extend(
                outbound_released
                    .iter()
                    .map(|r| load_summary(outbound::ORDER_RELEASE_FLOW, r)),
            );
            load
        },
        fault_windows,
        throughput: findings.throughput,
        notes,
    };
    reports::write_json(&report, &out.join("report.json"))?;
    reports::write_junit(&report, &out.join("junit.xml"))?;
    reports::write_html(&report, &out.join("report.html"))?;
    Ok(RunOutcome { report, out_dir: out })
}
