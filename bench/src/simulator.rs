//! `crossdock-bench simulator`: the simulators' throughput against bare
//! hyper, measured in one run with one load generator.
//!
//! Both targets answer the same 201 body to the same POST. The bare server
//! does nothing else; the simulated ERP parses the body, keeps its books,
//! honours the Idempotency-Key (each request a new key, so each is a real
//! effect) and records the exchange to a history file. The figure that
//! matters is the ratio: the two runs share the machine, the runtime and the
//! generator, so noise mostly cancels.
//!
//! Each round also takes the process's CPU time (generator, server, and for
//! the simulator its recorder thread, flushed before the round's clock
//! stops). On a machine shared with other work, CPU time per request is the
//! steadier figure: a round that other processes slow down is slower in
//! wall time but costs about the same CPU.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use contracts::http::IDEMPOTENCY_KEY;
use contracts::routes::erp;
use simulators::erp::ErpSim;
use simulators::faults::FaultSet;
use simulators::recorder::Recorder;

/// How hard and how long to drive each target.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Requests per target (the run stops at this count…)
    pub requests: u64,
    /// …or after this long, whichever comes first.
    pub max_duration: Duration,
    /// Connections, each with one request in flight.
    pub concurrency: usize,
    /// Alternating rounds (bare, simulator, bare, …); the ratio is taken
    /// between the medians, so a burst of noise skews one round, not the
    /// figure.
    pub rounds: u32,
    /// Where the simulator's history goes.
    pub history: std::path::PathBuf,
}

/// One target's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Throughput {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// CPU time the whole process spent in the round (user + system).
    pub cpu: Duration,
}

impl Throughput {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// CPU microseconds per answered request.
    pub fn cpu_us_per_request(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / (self.requests.max(1) as f64)
    }
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// Each round's figures.
    pub bare_rounds: Vec<Throughput>,
    pub simulator_rounds: Vec<Throughput>,
    /// Resident memory after the simulator run, in bytes (Linux).
    pub rss_after: Option<u64>,
    /// Records in the simulator's history.
    pub recorded: u64,
}

fn median(rounds: &[Throughput]) -> f64 {
    median_of(rounds, Throughput::per_second)
}

fn median_of(rounds: &[Throughput], figure: impl Fn(&Throughput) -> f64) -> f64 {
    let mut rates: Vec<f64> = rounds.iter().map(figure).collect();
    rates.sort_by(f64::total_cmp);
    match rates.len() {
        0 => 0.0,
        n if n % 2 == 1 => rates[n / 2],
        n => (rates[n / 2 - 1] + rates[n / 2]) / 2.0,
    }
}

impl BenchReport {
    /// Median requests/s of the bare server.
    pub fn bare_median(&self) -> f64 {
        median(&self.bare_rounds)
    }

    /// Median requests/s of the simulator.
    pub fn simulator_median(&self) -> f64 {
        median(&self.simulator_rounds)
    }

    /// Simulator / bare hyper, between medians.
    pub fn ratio(&self) -> f64 {
        self.simulator_median() / self.bare_median().max(1e-9)
    }

    /// Median CPU microseconds per request of the bare server's rounds.
    pub fn bare_cpu_us(&self) -> f64 {
        median_of(&self.bare_rounds, Throughput::cpu_us_per_request)
    }

    /// Median CPU microseconds per request of the simulator's rounds.
    pub fn simulator_cpu_us(&self) -> f64 {
        median_of(&self.simulator_rounds, Throughput::cpu_us_per_request)
    }

    /// Bare hyper's CPU per request / the simulator's, between medians: the
    /// throughput ratio the two would have if CPU were the only limit.
    pub fn cpu_ratio(&self) -> f64 {
        self.bare_cpu_us() / self.simulator_cpu_us().max(1e-9)
    }
}

/// CPU time of this process so far (every thread, user + system).
fn process_cpu() -> Duration {
    cpu_time::ProcessTime::try_now()
        .map(|t| t.as_duration())
        .unwrap_or_default()
}

const BODY: &[u8] = br#"{"receipt_id":"RCV-1","receipt_line_no":1,"po_number":"PO-1","po_line_no":1,"sku":"SKU-1","quantity":5,"stock_status":"unrestricted"}"#;
const ANSWER: &[u8] = br#"{"reference":"GRP-00000001"}"#;

/// Resident set size of this process, from /proc (Linux only).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A hyper server that answers every request with the fixed 201 body.
async fn bare_server() -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let join = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, Infallible>(
                        Response::builder()
                            .status(201)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(ANSWER)))
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

/// Drives `addr` with `concurrency` keep-alive connections until `total`
/// requests or `max` time; every request carries a new Idempotency-Key.
async fn drive(addr: SocketAddr, total: u64, max: Duration, concurrency: usize) -> Throughput {
    let issued = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (issued, done, errors) = (issued.clone(), done.clone(), errors.clone());
        workers.spawn(async move {
            let Ok(stream) = TcpStream::connect(addr).await else {
                errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let _ = stream.set_nodelay(true);
            let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
            else {
                errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            tokio::spawn(conn);
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= total || start.elapsed() >= max {
                    break;
                }
                let req = Request::post(erp::GOODS_RECEIPT_POSTINGS)
                    .header("host", addr.to_string())
                    .header("content-type", "application/json")
                    .header(IDEMPOTENCY_KEY, format!("bench-{n}"))
                    .body(Full::new(Bytes::from_static(BODY)))
                    .expect("a static request builds");
                if sender.ready().await.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                match sender.send_request(req).await {
                    Ok(resp) if resp.status() == 201 => {
                        let _ = resp.into_body().collect().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    workers.join_all().await;
    Throughput {
        requests: done.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        cpu: Duration::ZERO,
    }
}

/// Runs the comparison: `rounds` alternating rounds of bare hyper and the
/// simulated ERP, `requests` each (bounded by `max_duration` each).
pub async fn bench_simulator(opts: &BenchOptions) -> std::io::Result<BenchReport> {
    let (bare_addr, bare_join) = bare_server().await?;
    let recorder = Recorder::create(&opts.history)?;
    let sim = ErpSim::new("http://127.0.0.1:9", recorder.clone(), FaultSet::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let server = simulators::serve(listener, simulators::erp::app(sim.clone()), sim.faults().clone())?;
    // Warm both paths briefly so connection setup is not measured.
    drive(bare_addr, 2_000, Duration::from_secs(5), opts.concurrency).await;
    drive(server.addr, 2_000, Duration::from_secs(5), opts.concurrency).await;

    let (mut bare_rounds, mut simulator_rounds) = (Vec::new(), Vec::new());
    recorder.flush().await?;
    for _ in 0..opts.rounds.max(1) {
        let cpu = process_cpu();
        let mut bare = drive(bare_addr, opts.requests, opts.max_duration, opts.concurrency).await;
        bare.cpu = process_cpu().saturating_sub(cpu);
        bare_rounds.push(bare);
        let cpu = process_cpu();
        let mut sim = drive(server.addr, opts.requests, opts.max_duration, opts.concurrency).await;
        // The round's records written, so the next round does not pay for
        // them (the fsync's wait is CPU idle).
        recorder.flush().await?;
        sim.cpu = process_cpu().saturating_sub(cpu);
        simulator_rounds.push(sim);
    }
    bare_join.abort();
    server.stop().await?;
    let recorded = recorder.flush().await?;
    Ok(BenchReport {
        bare_rounds,
        simulator_rounds,
        rss_after: rss_bytes(),
        recorded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small run: both targets answer, every simulator request is a real,
    /// recorded effect. (Figures are not asserted: that is the bench's job.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_targets_answer_and_the_simulator_records_every_request() {
        let dir = tempfile::tempdir().unwrap();
        let report = bench_simulator(&BenchOptions {
            requests: 500,
            max_duration: Duration::from_secs(30),
            concurrency: 4,
            rounds: 2,
            history: dir.path().join("h.jsonl"),
        })
        .await
        .unwrap();
        assert_eq!(report.bare_rounds.len(), 2);
        for t in report.bare_rounds.iter().chain(&report.simulator_rounds) {
            assert_eq!((t.requests, t.errors), (500, 0));
        }
        // Warm-up (2,000) and both rounds, every one a recorded effect.
        assert_eq!(report.recorded, 2_000 + 2 * 500);
        assert!(report.ratio() > 0.0);
    }
}
