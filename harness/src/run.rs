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
use simulators::supplier::{SupplierConfig, SupplierSim};
use simulators::wms::{WmsConfig, WmsSim};
use simulators::{rfc3339_utc, serve};

use crate::check::{self, Expectations, HistoryError};

pub mod events;
pub mod outbound;
use crate::inventory_invoicing;
use crate::load::{Driver, LoadReport};
use crate::scenario::{Scenario, ScenarioError, SimRole};

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
    let (erp_l, wms_l, sup_l, core_l) = (bind().await?, bind().await?, bind().await?, bind().await?);
    let url = |l: &TcpListener| format!("http://{}", l.local_addr().expect("bound listener"));
    let core_url = url(&core_l);

    // Each party decides its faults from its own seed, derived from the run's.
    let faults_of = |salt: u64| FaultSet::new(seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let erp = ErpSim::new(&core_url, recorder("erp")?, faults_of(1));
    let wms = WmsSim::new(
        WmsConfig {
            core_url: core_url.clone(),
            receipt_delay: Duration::from_millis(scenario.wms.receipt_delay_ms),
            receiving: simulators::wms::Receiving {
                short_probability: scenario.wms.short_probability.0,
                over_probability: scenario.wms.over_probability.0,
                damaged_probability: scenario.wms.damaged_probability.0,
                variance_pct: scenario.wms.variance_pct,
                correction_probability: scenario.wms.correction_probability.0,
                wrong_item_probability: scenario.wms.wrong_item_probability.0,
                not_advised_probability: scenario.wms.not_advised_probability.0,
            },
            seed: seed ^ 0x5715,
        },
        recorder("wms")?,
        faults_of(2),
    );
    let supplier = SupplierSim::new(
        SupplierConfig {
            core_url: core_url.clone(),
            seed,
            ack_delay: Duration::from_millis(scenario.supplier.ack_delay_ms),
            asn_delay: Duration::from_millis(scenario.supplier.asn_delay_ms),
            asn_copies: (scenario.supplier.asn_copies.min, scenario.supplier.asn_copies.max),
            concurrent_copies: scenario.supplier.concurrent_copies,
        },
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
    if let Some(n) = opts.core.max_attempts {
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
    for (client, token) in [
        (erp.core_client(), erp_token),
        (wms.core_client(), wms_token),
        (supplier.core_client(), supplier_token),
    ] {
        client
            .set_bearer(token)
            .expect("a new simulator has no token yet");
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
    let core = integration_core::start(core_config, core_l).map_err(|e| RunError::Start {
        what: "the reference core",
        message: e.to_string(),
    })?;
    let start_err = |what| {
        move |e: std::io::Error| RunError::Start {
            what,
            message: e.to_string(),
        }
    };
    let servers = [
        serve(erp_l, simulators::erp::app(erp.clone()), erp.faults().clone())
            .map_err(start_err("the ERP simulator"))?,
        serve(wms_l, simulators::wms::app(wms.clone()), wms.faults().clone())
            .map_err(start_err("the WMS simulator"))?,
        serve(
            sup_l,
            simulators::supplier::app(supplier.clone()),
            supplier.faults().clone(),
        )
        .map_err(start_err("the supplier simulator"))?,
    ];

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
    let unopened = Arc::new(AtomicU64::new(scenario.faults.len() as u64));
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
    // The outbound flow's releases run beside the POs, on their own schedule.
    let outbound_driver = scenario.outbound.as_ref().map(|o| {
        let orders = outbound::prepare(&erp, &wms, o, seed);
        outbound::drive(
            erp.clone(),
            orders,
            o.arrival_rate_per_s.0,
            tokio::time::Instant::from_std(deadline),
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
                 {outbox} outbox row(s) pending, {unopened_now} fault window(s) not yet opened{}",
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
    let outbound_released = match outbound_driver {
        Some(d) if d.is_finished() => Some(d.await.unwrap_or_default()),
        Some(d) => {
            d.abort();
            Some(outbound::Released::default())
        }
        None => None,
    };
    let ended_ms = t0.elapsed().as_millis() as u64;
    for w in &mut fault_windows {
        w.to_ms = w.to_ms.min(ended_ms);
    }
    let core_status = core.status().await.ok();
    core.stop().await;
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
            asn_to_expectation_p99_ms: scenario.sla.asn_to_expectation_p99_ms.0,
            quiescence,
            price_tolerance_pct: scenario.invoicing.as_ref().map(|i| i.price_tolerance_pct),
            run_started_us: started_us,
            fault_windows_us: fault_windows
                .iter()
                .map(|w| (started_us + w.from_ms * 1000, started_us + w.to_ms * 1000))
                .collect(),
        },
    )?;
    let mut findings = findings;
    if scenario.outbound.is_some() {
        let o = check::outbound::check(
            &histories,
            &check::outbound::OutboundExpectations {
                fault_windows_us: fault_windows
                    .iter()
                    .map(|w| (started_us + w.from_ms * 1000, started_us + w.to_ms * 1000))
                    .collect(),
            },
        )?;
        findings.checks.extend(o.checks);
        findings.latencies.extend(o.latencies);
        findings.counts.extend(o.counts);
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
    if let Some(r) = outbound_released {
        counts.insert("sales_orders".into(), r.sent);
        counts.insert("sales_orders_missed_schedule".into(), r.missed_schedule);
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
            rows.extend(findings.latencies);
            rows
        },
        load: vec![load_summary(RELEASE_FLOW, &load)],
        fault_windows,
        throughput: findings.throughput,
    };
    reports::write_json(&report, &out.join("report.json"))?;
    reports::write_junit(&report, &out.join("junit.xml"))?;
    reports::write_html(&report, &out.join("report.html"))?;
    Ok(RunOutcome { report, out_dir: out })
}
