//! `crossdock-bench core-intake` and `crossdock-bench core-lifecycle`: the
//! reference core's durable intake and its whole inbound flow, each measured
//! in one run.
//!
//! **core-intake** runs the same ASN intake twice on fresh SQLite files,
//! both with `synchronous=FULL` (the 2xx only after the fsync): once with
//! one transaction per request (group commit off, `max_batch = 1`, the naive
//! baseline) and once with group commit. The figure is the ratio of their
//! throughputs, plus the group-commit run's p99.
//!
//! **core-lifecycle** runs the core with the three simulators in this
//! process: the ERP releases POs as fast as `concurrency` release loops
//! allow, with at most `in_flight` released and not yet completed (a loop
//! waits for a completion before it releases more); each goes PO →
//! supplier → acknowledgement → ASN → expectation → WMS receipt → ERP
//! goods-receipt posting. The figure is completed POs
//! (all lines posted) per second over the load window. With `--store
//! postgres://… --replicas 1,2,3` it runs once per replica count, each on
//! a database of its own on that server, the parties' connections spread
//! over the replicas, and prints the curve (throughput against replicas).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use contracts::http::IDEMPOTENCY_KEY;
use contracts::ids::with_check_digit;
use contracts::inbound::{
    AdvanceShipNotice, AsnLine, AsnPurpose, HandlingUnit, HandlingUnitLevel, PoLine, PoLineStatus,
    PurchaseOrder, Uom,
};
use contracts::routes::core;
use contracts::{Gln, Gtin, Sscc};
use integration_core::{CoreConfig, Partners, StoreOptions};
use simulators::erp::ErpSim;
use simulators::faults::FaultSet;
use simulators::recorder::Recorder;
use simulators::supplier::{SupplierConfig, SupplierSim};
use simulators::wms::{WmsConfig, WmsSim};

/// Why a core benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchCoreError {
    #[error("failed to {what}: {message}")]
    Setup { what: String, message: String },
}

fn setup(what: impl Into<String>) -> impl FnOnce(String) -> BenchCoreError {
    let what = what.into();
    move |message| BenchCoreError::Setup { what, message }
}

// ---------------------------------------------------------------- documents

fn gln(n: u64) -> Gln {
    Gln::parse(&with_check_digit(&format!("{n:012}"))).expect("valid GLN")
}

fn gtin(line_no: u32) -> Gtin {
    Gtin::parse(&with_check_digit(&format!(
        "{:012}",
        400_000_000_000u64 + u64::from(line_no)
    )))
    .expect("valid GTIN")
}

/// PO number `n` with `lines` lines of 10 each.
fn purchase_order(n: u64, lines: u32) -> PurchaseOrder {
    PurchaseOrder {
        po_number: format!("PO-{n:08}"),
        version: 1,
        supplier_gln: gln(506_000_000_001),
        ship_to_gln: gln(506_000_000_009),
        currency: "EUR".into(),
        order_date: "2026-11-20".into(),
        lines: (1..=lines)
            .map(|line_no| PoLine {
                line_no,
                sku: format!("SKU-{line_no:03}"),
                gtin: gtin(line_no),
                quantity: 10,
                uom: Uom::Ea,
                unit_price: "1.50".into(),
                requested_date: "2026-11-27".into(),
                over_tolerance_pct: 10,
                under_tolerance_pct: 5,
                status: PoLineStatus::Open,
            })
            .collect(),
    }
}

/// An ASN shipping all of PO `n`, each line in its own carton on one pallet.
fn asn(n: u64, lines: u32) -> AdvanceShipNotice {
    let sscc = |serial: u64| Sscc::parse(&with_check_digit(&format!("{serial:017}"))).expect("valid SSCC");
    let pallet = sscc(n * 1_000);
    let mut handling_units = vec![HandlingUnit {
        sscc: pallet.clone(),
        level: HandlingUnitLevel::Pallet,
        parent_sscc: None,
    }];
    let mut asn_lines = Vec::new();
    for line_no in 1..=lines {
        let carton = sscc(n * 1_000 + u64::from(line_no));
        handling_units.push(HandlingUnit {
            sscc: carton.clone(),
            level: HandlingUnitLevel::Carton,
            parent_sscc: Some(pallet.clone()),
        });
        asn_lines.push(AsnLine {
            po_number: format!("PO-{n:08}"),
            po_line_no: line_no,
            gtin: gtin(line_no),
            quantity: 10,
            uom: Uom::Ea,
            lot: None,
            expiry: None,
            sscc: carton,
        });
    }
    AdvanceShipNotice {
        asn_id: format!("ASN-{n:08}"),
        purpose: AsnPurpose::Original,
        supplier_gln: gln(506_000_000_001),
        ship_date: "2026-11-26".into(),
        estimated_arrival: "2026-11-27".into(),
        carrier_scac: "ABCD".into(),
        bill_of_lading: format!("BOL-{n}"),
        handling_units,
        lines: asn_lines,
    }
}

// ---------------------------------------------------------------- core-intake

/// How much ASN intake to drive.
#[derive(Debug, Clone)]
pub struct IntakeOptions {
    /// ASNs per run (each against its own PO, loaded beforehand).
    pub asns: u64,
    /// Clients, one request in flight each.
    pub concurrency: usize,
    /// Time bound per run.
    pub max_duration: Duration,
    /// Alternating rounds (naive, group, naive, …); the ratio is taken
    /// between the medians, so a burst of noise skews a round, not the
    /// figure.
    pub rounds: u32,
    /// Where the two databases go.
    pub dir: PathBuf,
}

/// One run's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct IntakeFigures {
    pub accepted: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Write transactions the store committed during the timed part.
    pub commits: u64,
}

impl IntakeFigures {
    pub fn per_second(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Naive and group-commit rounds of one bench.
#[derive(Debug, Clone, PartialEq)]
pub struct IntakeReport {
    pub naive: Vec<IntakeFigures>,
    pub grouped: Vec<IntakeFigures>,
}

/// The round with the median throughput.
fn median(rounds: &[IntakeFigures]) -> &IntakeFigures {
    let mut sorted: Vec<&IntakeFigures> = rounds.iter().collect();
    sorted.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
    sorted[sorted.len() / 2]
}

impl IntakeReport {
    pub fn naive_median(&self) -> &IntakeFigures {
        median(&self.naive)
    }
    pub fn grouped_median(&self) -> &IntakeFigures {
        median(&self.grouped)
    }
    pub fn ratio(&self) -> f64 {
        self.grouped_median().per_second() / self.naive_median().per_second().max(1e-9)
    }
}

/// A partner that answers 201 to everything, so the outbox drains.
async fn sink() -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let join = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, Infallible>(
                        Response::builder()
                            .status(201)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(br#"{"reference":"x"}"#)))
                            .expect("a static response builds"),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, join))
}

const ERP_TOKEN: &str = "bench-erp-token-000001";
const WMS_TOKEN: &str = "bench-wms-token-000001";
const SUPPLIER_TOKEN: &str = "bench-supplier-token-01";

/// The bench's callers: the core never runs open.
fn credentials() -> integration_core::Credentials {
    use integration_core::Caller;
    integration_core::Credentials::default()
        .with(ERP_TOKEN, Caller::Erp)
        .with(WMS_TOKEN, Caller::Wms)
        .with(
            SUPPLIER_TOKEN,
            Caller::Supplier {
                gln: gln(506_000_000_001).as_str().to_owned(),
            },
        )
}

/// Sends `bodies(i)` for i in `0..total` to `target` (with `token`) from `concurrency`
/// clients; returns latencies (µs) of the 2xx answers and the error count.
async fn post_all(
    http: &reqwest::Client,
    target: String,
    token: &'static str,
    total: u64,
    concurrency: usize,
    max: Duration,
    body: impl Fn(u64) -> (String, Vec<u8>) + Send + Sync + 'static,
) -> (Histogram<u64>, u64, Duration) {
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let body = Arc::new(body);
    let start = Instant::now();
    let mut clients = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (http, next, errors, body) = (http.clone(), next.clone(), errors.clone(), body.clone());
        let target = target.clone();
        clients.spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || start.elapsed() >= max {
                    break hist;
                }
                let (key, bytes) = body(i);
                let sent = Instant::now();
                let answer = http
                    .post(&target)
                    .bearer_auth(token)
                    .header(IDEMPOTENCY_KEY, key)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes)
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        hist.saturating_record(sent.elapsed().as_micros() as u64);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    for h in clients.join_all().await {
        all.add(h).expect("same bounds");
    }
    (all, errors.load(Ordering::Relaxed), start.elapsed())
}

/// One intake run on a fresh database with `max_batch`.
async fn intake_run(
    opts: &IntakeOptions,
    name: &str,
    max_batch: usize,
) -> Result<IntakeFigures, BenchCoreError> {
    let db = opts.dir.join(format!("{name}.sqlite"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let (sink_addr, sink_join) = sink()
        .await
        .map_err(|e| setup("start a partner sink")(e.to_string()))?;
    let partner = format!("http://{sink_addr}");
    let mut config = CoreConfig::new(
        db,
        Partners {
            erp: partner.clone(),
            wms: partner.clone(),
            supplier: partner,
        },
    );
    config.store = StoreOptions {
        max_batch,
        ..StoreOptions::default()
    };
    config.credentials = credentials();
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| setup("bind 127.0.0.1")(e.to_string()))?;
    let core =
        integration_core::start(config, listener).map_err(|e| setup("start the core")(e.to_string()))?;
    let url = core.url();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.concurrency.max(1))
        .build()
        .map_err(|e| setup("build an HTTP client")(e.to_string()))?;
    // Setup, not timed: the POs the ASNs ship.
    let (_, errors, _) = post_all(
        &http,
        format!("{url}{}", core::PURCHASE_ORDERS),
        ERP_TOKEN,
        opts.asns,
        opts.concurrency,
        opts.max_duration,
        |i| {
            let po = purchase_order(i, 1);
            (
                format!("po-{i}"),
                serde_json::to_vec(&po).expect("a PO serializes"),
            )
        },
    )
    .await;
    if errors > 0 {
        return Err(setup("load the purchase orders")(format!("{errors} refused")));
    }
    let commits_before = core.commits();
    let (hist, errors, elapsed) = post_all(
        &http,
        format!("{url}{}", core::ASNS),
        SUPPLIER_TOKEN,
        opts.asns,
        opts.concurrency,
        opts.max_duration,
        |i| {
            (
                format!("asn-{i}"),
                serde_json::to_vec(&asn(i, 1)).expect("an ASN serializes"),
            )
        },
    )
    .await;
    let commits = core.commits() - commits_before;
    core.stop().await;
    sink_join.abort();
    let us = |v: u64| Duration::from_micros(v);
    Ok(IntakeFigures {
        accepted: hist.len(),
        errors,
        elapsed,
        p50: us(hist.value_at_quantile(0.5)),
        p99: us(hist.value_at_quantile(0.99)),
        max: us(hist.max()),
        commits,
    })
}

/// Runs the naive baseline, then group commit, in this process.
pub async fn bench_core_intake(opts: &IntakeOptions) -> Result<IntakeReport, BenchCoreError> {
    std::fs::create_dir_all(&opts.dir)
        .map_err(|e| setup(format!("create {}", opts.dir.display()))(e.to_string()))?;
    let (mut naive, mut grouped) = (Vec::new(), Vec::new());
    for _ in 0..opts.rounds.max(1) {
        naive.push(intake_run(opts, "naive", 1).await?);
        grouped.push(intake_run(opts, "grouped", StoreOptions::default().max_batch).await?);
    }
    Ok(IntakeReport { naive, grouped })
}

// ---------------------------------------------------------------- core-lifecycle

/// How long and how hard to drive the full inbound flow.
#[derive(Debug, Clone)]
pub struct LifecycleOptions {
    /// The load window; releases stop after it.
    pub duration: Duration,
    /// Release loops, one release in flight each.
    pub concurrency: usize,
    /// POs released and not yet completed, at most (a loop waits for one
    /// to complete before it releases another); `None`: no bound, each loop
    /// releases its next PO as soon as the core has taken the last.
    pub in_flight: Option<usize>,
    /// Lines per PO.
    pub lines: u32,
    /// The store's `commit_interval` (SQLite); `None`: the store's default.
    pub commit_interval: Option<Duration>,
    /// Time allowed after the window for the flow to drain.
    pub drain: Duration,
    /// Where the database and the simulators' histories go.
    pub dir: PathBuf,
    /// A PostgreSQL server: each run on a database of its own there
    /// instead of a SQLite file in `dir`.
    pub postgres: Option<String>,
    /// Core replicas sharing the store (more than 1 only on PostgreSQL).
    pub replicas: u32,
}

/// The full flow's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleReport {
    pub window: Duration,
    pub released: u64,
    /// POs with every line posted by the end of the window.
    pub completed_in_window: u64,
    /// POs with every line posted when the run ended (window + drain).
    pub completed: u64,
    /// Window plus the time it took to drain.
    pub total: Duration,
    pub outbox_dead: i64,
    /// Outbox rows pending when the window closed: the core's backlog.
    pub outbox_pending_at_window_end: i64,
    /// Write transactions (fsyncs) over the whole run.
    pub commits: u64,
    /// CPU seconds used over the window by this process and by the
    /// PostgreSQL server's processes (Linux `/proc`; zero elsewhere).
    pub cpu_self_s: f64,
    pub cpu_postgres_s: f64,
}

/// CPU seconds (user + system) of this process, and of each `postgres`
/// process by pid, from `/proc` (empty where there is none).
fn cpu_snapshot() -> (f64, std::collections::HashMap<u32, f64>) {
    let tick = 100.0; // USER_HZ on Linux
    let cpu_of = |stat: &str| -> Option<(String, f64)> {
        let (open, close) = (stat.find('(')?, stat.rfind(')')?);
        let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some((stat[open + 1..close].to_owned(), ticks / tick))
    };
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| cpu_of(&s))
        .map_or(0.0, |(_, s)| s);
    let mut postgres = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Some((_, secs)) = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| cpu_of(&s))
            .filter(|(name, _)| name == "postgres")
        {
            postgres.insert(pid, secs);
        }
    }
    (own, postgres)
}

/// CPU seconds the `postgres` processes alive at both snapshots used between them.
fn postgres_cpu_between(
    before: &std::collections::HashMap<u32, f64>,
    after: &std::collections::HashMap<u32, f64>,
) -> f64 {
    after
        .iter()
        .filter_map(|(pid, s)| before.get(pid).map(|b| (s - b).max(0.0)))
        .sum()
}

/// The stated lifecycle target: completed POs per second, sustained over
/// a window of at least [`TARGET_WINDOW`].
pub const TARGET_PER_SECOND: f64 = 2000.0;
pub const TARGET_WINDOW: Duration = Duration::from_secs(60);

impl LifecycleReport {
    /// Whether this run shows the target met: `None` when its window was
    /// shorter than the target's (it says nothing either way).
    pub fn target_met(&self) -> Option<bool> {
        (self.window >= TARGET_WINDOW).then(|| self.sustained_per_second() >= TARGET_PER_SECOND)
    }

    /// Completed POs per second over the load window.
    pub fn sustained_per_second(&self) -> f64 {
        self.completed_in_window as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// Completed POs per second from the start to the end of the drain:
    /// the whole flow's rate, backlog included.
    pub fn end_to_end_per_second(&self) -> f64 {
        self.completed as f64 / self.total.as_secs_f64().max(1e-9)
    }
}

fn recorder(dir: &Path, name: &str) -> Result<Recorder, BenchCoreError> {
    let path = dir.join(format!("{name}.jsonl"));
    Recorder::create(&path).map_err(|e| setup(format!("create {}", path.display()))(e.to_string()))
}

/// Runs the full inbound flow on the embedded store with the simulators in
/// this process.
/// The core and the three simulators of a lifecycle run, started.
struct Flow {
    erp: Arc<ErpSim>,
    core: harness::run::store::Cores,
    servers: [simulators::Server; 3],
    database: Option<integration_core::pgstore::ScratchDb>,
}

/// Starts the core (on SQLite in `opts.dir`, or a fresh PostgreSQL
/// database) and the simulators, each with its token.
async fn start_flow(opts: &LifecycleOptions) -> Result<Flow, BenchCoreError> {
    std::fs::create_dir_all(&opts.dir)
        .map_err(|e| setup(format!("create {}", opts.dir.display()))(e.to_string()))?;
    let database = match &opts.postgres {
        Some(server) => Some(
            harness::run::RunStore::new(server, opts.replicas)
                .map_err(setup("use --store"))?
                .prepare()
                .await
                .map_err(setup("create a PostgreSQL database"))?,
        ),
        None if opts.replicas > 1 => {
            return Err(setup("run replicas")(
                "--replicas above 1 needs --store postgres://…".into(),
            ));
        }
        None => None,
    };
    let db = opts.dir.join("lifecycle.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let bind = || async {
        TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| setup("bind 127.0.0.1")(e.to_string()))
    };
    let (erp_l, wms_l, sup_l, core_l) = (bind().await?, bind().await?, bind().await?, bind().await?);
    let url = |l: &TcpListener| format!("http://{}", l.local_addr().expect("bound listener"));
    let core_url = url(&core_l);
    let erp = ErpSim::new(&core_url, recorder(&opts.dir, "erp")?, FaultSet::new(1));
    let wms = WmsSim::new(
        WmsConfig {
            core_url: core_url.clone(),
            receipt_delay: Duration::ZERO,
            receiving: simulators::wms::Receiving::default(),
            seed: 2,
        },
        recorder(&opts.dir, "wms")?,
        FaultSet::new(2),
    );
    let supplier = SupplierSim::new(
        SupplierConfig {
            core_url: core_url.clone(),
            seed: 3,
            ack_delay: Duration::ZERO,
            asn_delay: Duration::ZERO,
            asn_copies: (1, 1),
            concurrent_copies: false,
        },
        recorder(&opts.dir, "supplier")?,
        FaultSet::new(3),
    );
    let mut config = CoreConfig::new(
        db,
        Partners {
            erp: url(&erp_l),
            wms: url(&wms_l),
            supplier: url(&sup_l),
        },
    );
    config.credentials = credentials();
    config.postgres = database.as_ref().map(|db| db.url());
    if let Some(interval) = opts.commit_interval {
        config.store.commit_interval = interval;
    }
    for (client, token) in [
        (erp.core_client(), ERP_TOKEN),
        (wms.core_client(), WMS_TOKEN),
        (supplier.core_client(), SUPPLIER_TOKEN),
    ] {
        client
            .set_bearer(token.to_owned())
            .expect("a new simulator has no token yet");
    }
    let core = harness::run::store::Cores::start(config, core_l, opts.replicas)
        .await
        .map_err(|e| setup("start the core")(e.to_string()))?;
    let serve_err = |what: &str| setup(format!("serve the {what} simulator"));
    let servers = [
        simulators::serve(erp_l, simulators::erp::app(erp.clone()), erp.faults().clone())
            .map_err(|e| serve_err("ERP")(e.to_string()))?,
        simulators::serve(wms_l, simulators::wms::app(wms.clone()), wms.faults().clone())
            .map_err(|e| serve_err("WMS")(e.to_string()))?,
        simulators::serve(
            sup_l,
            simulators::supplier::app(supplier.clone()),
            supplier.faults().clone(),
        )
        .map_err(|e| serve_err("supplier")(e.to_string()))?,
    ];
    Ok(Flow {
        erp,
        core,
        servers,
        database,
    })
}

pub async fn bench_core_lifecycle(opts: &LifecycleOptions) -> Result<LifecycleReport, BenchCoreError> {
    let Flow {
        erp,
        core,
        servers,
        database,
    } = start_flow(opts).await?;

    let lines = u64::from(opts.lines.max(1));
    let completed = {
        let erp = erp.clone();
        move || erp.summary().goods_receipt_postings as u64 / lines
    };
    let next = Arc::new(AtomicU64::new(0));
    // The bound on POs in flight: a permit per PO released, given back
    // (by the watcher below) as POs complete.
    let in_flight = opts
        .in_flight
        .map(|n| Arc::new(tokio::sync::Semaphore::new(n.max(1))));
    let cpu_before = cpu_snapshot();
    let start = Instant::now();
    let window_end = tokio::time::Instant::from_std(start + opts.duration);
    let watcher = in_flight.clone().map(|permits| {
        let completed = completed.clone();
        tokio::spawn(async move {
            let mut seen = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(2)).await;
                let now = completed();
                if now > seen {
                    permits.add_permits((now - seen) as usize);
                    seen = now;
                }
            }
        })
    });
    let mut loops = JoinSet::new();
    for _ in 0..opts.concurrency.max(1) {
        let (erp, next, window, n_lines) = (erp.clone(), next.clone(), opts.duration, opts.lines.max(1));
        let in_flight = in_flight.clone();
        loops.spawn(async move {
            while start.elapsed() < window {
                if let Some(permits) = &in_flight {
                    match tokio::time::timeout_at(window_end, permits.acquire()).await {
                        Ok(Ok(permit)) => permit.forget(),
                        _ => break,
                    }
                }
                let n = next.fetch_add(1, Ordering::Relaxed);
                let po = purchase_order(n, n_lines);
                let number = po.po_number.clone();
                erp.load([po]);
                erp.release(&number).await;
            }
        });
    }
    loops.join_all().await;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    let window = start.elapsed();
    let cpu_after = cpu_snapshot();
    let completed_in_window = completed();
    let outbox_pending_at_window_end = core.status().await.map(|s| s.outbox_pending).unwrap_or(-1);
    let released = next.load(Ordering::Relaxed);
    let drain_until = Instant::now() + opts.drain;
    while completed() < released && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = start.elapsed();
    let done = completed();
    let outbox_dead = core.status().await.map(|s| s.outbox_dead).unwrap_or(-1);
    let commits = core.commits();
    core.stop().await;
    for server in servers {
        let _ = server.stop().await;
    }
    if let Some(db) = database {
        harness::run::store::drop_database(db).await;
    }
    Ok(LifecycleReport {
        window,
        released,
        completed_in_window,
        completed: done,
        total,
        outbox_dead,
        outbox_pending_at_window_end,
        commits,
        cpu_self_s: cpu_after.0 - cpu_before.0,
        cpu_postgres_s: postgres_cpu_between(&cpu_before.1, &cpu_after.1),
    })
}

// ---------------------------------------------------------------- CLI

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `crossdock-bench core-intake`: prints both runs and the ratio; the exit
/// code is 0 when it ran (the figures are for reading, not a gate).
pub async fn run_intake(opts: &IntakeOptions) -> u8 {
    match bench_core_intake(opts).await {
        Ok(r) => {
            let rounds = r.naive.iter().zip(&r.grouped).enumerate();
            let all = rounds
                .flat_map(|(i, (n, g))| [(format!("naive #{}", i + 1), n), (format!("group #{}", i + 1), g)]);
            let medians = [
                ("naive median".to_owned(), r.naive_median()),
                ("group median".to_owned(), r.grouped_median()),
            ];
            for (name, f) in all.chain(medians) {
                println!(
                    "{name:<12} {:>7} ASNs  {:>4} errors  {:>6.2} s  {:>8.0} ASN/s  p50 {:>6.1} ms  p99 {:>6.1} ms  \
                     max {:>6.1} ms  {:>6} commits",
                    f.accepted,
                    f.errors,
                    f.elapsed.as_secs_f64(),
                    f.per_second(),
                    ms(f.p50),
                    ms(f.p99),
                    ms(f.max),
                    f.commits
                );
            }
            println!(
                "ratio  {:.2} (group commit / one transaction per request, medians; target >= 2)",
                r.ratio()
            );
            println!(
                "p99    {:.1} ms with group commit, median round (target < 50 ms)",
                ms(r.grouped_median().p99)
            );
            harness::exit::OK
        }
        Err(e) => {
            eprintln!("crossdock: error: benchmark failed: {e}");
            harness::exit::INFRASTRUCTURE
        }
    }
}

/// `crossdock-bench core-lifecycle`: prints the flow's throughput, once
/// per replica count in `replicas` (the curve, each against the first).
pub async fn run_lifecycle(opts: &LifecycleOptions, replicas: &[u32]) -> u8 {
    let mut curve = Vec::new();
    for &n in replicas {
        let opts = LifecycleOptions {
            replicas: n,
            ..opts.clone()
        };
        if replicas.len() > 1 {
            println!("== {n} replica(s)");
        }
        match bench_core_lifecycle(&opts).await {
            Ok(r) => {
                print_lifecycle(&r);
                curve.push((n, r.sustained_per_second(), r.end_to_end_per_second()));
            }
            Err(e) => {
                eprintln!("crossdock: error: benchmark failed: {e}");
                return harness::exit::INFRASTRUCTURE;
            }
        }
    }
    if let [(first_n, _, first), ..] = curve[..]
        && curve.len() > 1
    {
        // The end-to-end rate is the curve: with the backlog it includes,
        // a window too short to complete much still measures the flow.
        println!("curve      replicas  in window POs/s  end to end POs/s  vs {first_n} replica(s)");
        for (n, window, end_to_end) in &curve {
            let ratio = if first > 0.0 {
                format!("{:.2}x", end_to_end / first)
            } else {
                "-".into()
            };
            println!("curve      {n:>8}  {window:>15.0}  {end_to_end:>16.1}  {ratio:>6}");
        }
    }
    harness::exit::OK
}

fn print_lifecycle(r: &LifecycleReport) {
    println!(
        "window     {:.1} s, {} POs released ({:.0}/s)",
        r.window.as_secs_f64(),
        r.released,
        r.released as f64 / r.window.as_secs_f64().max(1e-9)
    );
    let verdict = match r.target_met() {
        Some(true) => "met",
        Some(false) => "missed",
        None => "not shown by a shorter window: --seconds 60",
    };
    println!(
        "sustained  {:.0} completed POs/s over the window (target >= {TARGET_PER_SECOND:.0} for {} s: {verdict})",
        r.sustained_per_second(),
        TARGET_WINDOW.as_secs()
    );
    println!(
        "backlog    {} outbox rows pending at the end of the window; {} commits in all",
        r.outbox_pending_at_window_end, r.commits
    );
    let secs = r.window.as_secs_f64().max(1e-9);
    println!(
        "cpu        this process {:.1} s ({:.2} cores), PostgreSQL {:.1} s ({:.2} cores) over the window",
        r.cpu_self_s,
        r.cpu_self_s / secs,
        r.cpu_postgres_s,
        r.cpu_postgres_s / secs
    );
    println!(
        "drained    {} of {} POs completed after {:.1} s; {} dead letters",
        r.completed,
        r.released,
        r.total.as_secs_f64(),
        r.outbox_dead
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(window_s: f64, completed_in_window: u64) -> LifecycleReport {
        LifecycleReport {
            window: Duration::from_secs_f64(window_s),
            released: completed_in_window,
            completed_in_window,
            completed: completed_in_window,
            total: Duration::from_secs_f64(window_s),
            outbox_dead: 0,
            outbox_pending_at_window_end: 0,
            commits: 1,
            cpu_self_s: 0.0,
            cpu_postgres_s: 0.0,
        }
    }

    #[test]
    fn the_target_is_judged_only_over_a_window_of_sixty_seconds() {
        assert_eq!(report(60.1, 120_300).target_met(), Some(true));
        assert_eq!(report(60.1, 120_100).target_met(), Some(false), "1998/s");
        assert_eq!(report(10.0, 40_000).target_met(), None, "4000/s, but over 10 s");
    }
}
