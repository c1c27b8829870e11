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
}

impl Default for CoreOverrides {
    fn default() -> Self {
        Self {
            asn_dedup: true,
            max_attempts: None,
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
    let range = scenario.load.lines_per_po;
    (1..=scenario.load.purchase_orders.0)
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
    let deadline = t0 + Duration::from_secs(u64::from(scenario.load.time_bound_s.0));

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
    if let Some(n) = opts.core.max_attempts {
        core_config.retry.policy.max_attempts = n;
    }
    // The core never runs open: each party gets its own bearer token, new
    // for every run.
    let token = || format!("{:032x}", rand::random::<u128>());
    let (erp_token, wms_token, supplier_token) = (token(), token(), token());
    core_config.credentials = integration_core::Credentials::default()
        .with(&erp_token, integration_core::Caller::Erp)
        .with(&wms_token, integration_core::Caller::Wms)
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

    // Load: an open model. Release i is due at t0 + i / rate, whether or not
    // earlier releases have been answered.
    let orders = generate_orders(&scenario, seed);
    let released: Vec<(String, Vec<u32>)> = orders
        .iter()
        .map(|po| (po.po_number.clone(), po.lines.iter().map(|l| l.line_no).collect()))
        .collect();
    erp.load(orders);
    let interval = Duration::from_secs_f64(1.0 / scenario.load.arrival_rate_per_s.0);
    let missed = Arc::new(AtomicU64::new(0));
    let mut releases = JoinSet::new();
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
    let mut sent = 0u64;
    for (i, (po_number, _)) in released.iter().enumerate() {
        if Instant::now() >= deadline {
            break;
        }
        let due = load_start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        if tokio::time::Instant::now().saturating_duration_since(due) > Duration::from_millis(10) {
            missed.fetch_add(1, Ordering::Relaxed);
        }
        let (erp, po_number) = (erp.clone(), po_number.clone());
        releases.spawn(async move { erp.release(&po_number).await });
        sent += 1;
        opts.report(Progress::Releasing {
            released: sent,
            total: released.len() as u64,
        });
    }
    eprintln!("crossdock: {sent} purchase orders released; waiting for quiescence");

    // Quiescence: nothing in flight anywhere for two polls in a row, bounded
    // by the scenario's time bound.
    let mut quiet_polls = 0;
    let quiescence = loop {
        while releases.try_join_next().is_some() {}
        let outbox = core.status().await.map(|s| s.outbox_pending).unwrap_or(i64::MAX);
        let unopened_now = unopened.load(Ordering::SeqCst) as usize;
        let busy = releases.len() + unopened_now + supplier.pending() + wms.pending();
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
                 {outbox} outbox row(s) pending, {unopened_now} fault window(s) not yet opened",
                scenario.load.time_bound_s.0,
                releases.len(),
                supplier.pending(),
                wms.pending()
            ));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    releases.abort_all();
    timeline.abort_all();
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
            run_started_us: started_us,
            fault_windows_us: fault_windows
                .iter()
                .map(|w| (started_us + w.from_ms * 1000, started_us + w.to_ms * 1000))
                .collect(),
        },
    )?;
    let mut counts = findings.counts;
    counts.insert("purchase_orders".into(), sent);
    counts.insert("missed_schedule".into(), missed.load(Ordering::Relaxed));
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
        latencies: findings.latencies,
        fault_windows,
        throughput: findings.throughput,
    };
    reports::write_json(&report, &out.join("report.json"))?;
    reports::write_junit(&report, &out.join("junit.xml"))?;
    reports::write_html(&report, &out.join("report.html"))?;
    Ok(RunOutcome { report, out_dir: out })
}
