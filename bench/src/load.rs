//! Benchmarks of the load driver and the history checker, each printing a
//! ratio against a baseline measured in the same run:
//!
//! - `crossdock-bench driver`: the open-model driver (`harness::load`)
//!   against wrk, on the same bare hyper server with the same number of
//!   connections: wrk first (closed loop, as fast as it goes), then the
//!   driver scheduled at wrk's rate; ratio = driver's answered/s ÷ wrk's.
//! - `crossdock-bench stall`: a target that stalls once for a second; the
//!   driver's p99 against the true p99 computed from the known schedule and
//!   stall (every send due in the stall waits until its end).
//! - `crossdock-bench checker`: realistic histories of N exchanges on disk
//!   (a real scenario run, replicated with fresh business keys, trace ids
//!   and SSCCs), then the history checker over them: time and peak RSS.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use harness::load::{Driver, LoadReport, Schedule};

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A tool the bench compares against is missing (exit 2).
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Failed(String),
}

impl BenchError {
    pub fn exit_code(&self) -> u8 {
        match self {
            BenchError::Missing(_) => harness::exit::BAD_INPUT,
            BenchError::Failed(_) => harness::exit::INFRASTRUCTURE,
        }
    }
}

fn failed(what: &str) -> impl Fn(std::io::Error) -> BenchError + '_ {
    move |e| BenchError::Failed(format!("{what}: {e}"))
}

/// A fixed set of keep-alive HTTP/1 connections; a send takes a free one,
/// waiting if none is (that wait is part of its latency).
pub struct Connections {
    free: Mutex<Vec<hyper::client::conn::http1::SendRequest<Empty<Bytes>>>>,
    permits: Semaphore,
    addr: SocketAddr,
}

impl Connections {
    pub async fn open(addr: SocketAddr, n: usize) -> std::io::Result<Arc<Self>> {
        let mut free = Vec::with_capacity(n);
        for _ in 0..n {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(std::io::Error::other)?;
            tokio::spawn(conn);
            free.push(sender);
        }
        Ok(Arc::new(Self {
            free: Mutex::new(free),
            permits: Semaphore::new(n),
            addr,
        }))
    }

    /// One GET /; true when answered 2xx.
    pub async fn get(&self) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let Some(mut sender) = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
            return false;
        };
        let req = Request::get("/")
            .header("host", self.addr.to_string())
            .body(Empty::new())
            .expect("a static request builds");
        let ok = match sender.send_request(req).await {
            Ok(resp) => {
                let good = resp.status().is_success();
                good && resp.into_body().collect().await.is_ok()
            }
            Err(_) => false,
        };
        // A broken connection is not returned; its permit is forgotten so
        // nobody waits for it.
        if ok || sender.is_ready() {
            self.free.lock().unwrap_or_else(|e| e.into_inner()).push(sender);
        } else {
            _permit.forget();
        }
        ok
    }
}

/// A bare hyper server answering `200 ok`; requests that arrive inside
/// `stall` are held until its end (a GC pause, a lock, a failover).
pub async fn stalling_server(
    stall: Option<(Instant, Instant)>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let join = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| async move {
                        let _ = req.into_body().collect().await;
                        if let Some((from, to)) = stall {
                            let now = Instant::now();
                            if now >= from && now < to {
                                tokio::time::sleep_until(to).await;
                            }
                        }
                        Ok::<_, Infallible>(Response::new(http_body_util::Full::new(Bytes::from_static(
                            b"ok",
                        ))))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, join))
}

/// `crossdock-bench driver` options.
#[derive(Debug, Clone)]
pub struct DriverBenchOptions {
    pub connections: usize,
    pub duration: Duration,
    /// wrk's threads.
    pub wrk_threads: usize,
}

/// `crossdock-bench driver` figures.
#[derive(Debug, Clone)]
pub struct DriverBench {
    pub wrk_per_s: f64,
    pub driver: LoadReport,
}

impl DriverBench {
    pub fn ratio(&self) -> f64 {
        self.driver.per_second() / self.wrk_per_s.max(1e-9)
    }
}

/// Requests/s from wrk's output (`Requests/sec: 12345.67`).
pub fn parse_wrk_rate(out: &str) -> Option<f64> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Runs wrk against `addr`; a clear error (exit 2) when it is not installed.
async fn run_wrk(addr: SocketAddr, opts: &DriverBenchOptions) -> Result<f64, BenchError> {
    let secs = opts.duration.as_secs().max(1);
    let args = [
        format!("-t{}", opts.wrk_threads.max(1)),
        format!("-c{}", opts.connections.max(opts.wrk_threads.max(1))),
        format!("-d{secs}s"),
        format!("http://{addr}/"),
    ];
    // wrk runs on a blocking thread; the server keeps the runtime.
    let out = tokio::task::spawn_blocking(move || std::process::Command::new("wrk").args(args).output())
        .await
        .map_err(|e| BenchError::Failed(e.to_string()))?;
    let out = match out {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BenchError::Missing(
                "wrk is not installed; `crossdock-bench driver` compares against it. \
                 Install it (Debian/Ubuntu: `apt-get install -y wrk`; macOS: `brew install wrk`) \
                 and run again"
                    .into(),
            ));
        }
        Err(e) => return Err(BenchError::Failed(format!("failed to run wrk: {e}"))),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    parse_wrk_rate(&text).ok_or_else(|| {
        BenchError::Failed(format!(
            "wrk printed no Requests/sec line (exit {:?}): {text}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

/// Drives `addr` through `connections` at `schedule` for `duration`.
async fn drive(
    addr: SocketAddr,
    connections: usize,
    schedule: Schedule,
    duration: Duration,
) -> Result<LoadReport, BenchError> {
    let conns = Connections::open(addr, connections)
        .await
        .map_err(failed("failed to connect"))?;
    let report = Driver::new(schedule)
        .max_sends(u64::MAX)
        // Sends stop at `duration`; answers are waited for a little longer.
        .max_duration(duration + Duration::from_secs(5))
        .send_for(duration)
        .run(|_| {
            let conns = conns.clone();
            async move { conns.get().await }
        })
        .await;
    Ok(report)
}

/// `crossdock-bench driver`.
pub async fn bench_driver(opts: &DriverBenchOptions) -> Result<DriverBench, BenchError> {
    let (addr, server) = stalling_server(None)
        .await
        .map_err(failed("failed to start the server"))?;
    // Warm up the server's path briefly.
    drive(
        addr,
        opts.connections,
        Schedule::constant(1000.0),
        Duration::from_millis(300),
    )
    .await?;
    let wrk_per_s = run_wrk(addr, opts).await?;
    let driver = drive(
        addr,
        opts.connections,
        Schedule::constant(wrk_per_s),
        opts.duration,
    )
    .await?;
    server.abort();
    Ok(DriverBench { wrk_per_s, driver })
}

/// `crossdock-bench stall` options.
#[derive(Debug, Clone)]
pub struct StallBenchOptions {
    pub rate_per_s: f64,
    pub duration: Duration,
    pub stall_at: Duration,
    pub stall_for: Duration,
    pub connections: usize,
}

/// `crossdock-bench stall` figures.
#[derive(Debug, Clone)]
pub struct StallBench {
    pub driver: LoadReport,
    /// p99 in ms, computed from the schedule and the stall alone.
    pub true_p99_ms: f64,
    pub true_max_ms: f64,
}

impl StallBench {
    /// Driver's p99 ÷ true p99.
    pub fn ratio(&self) -> f64 {
        self.driver.quantile_ms(0.99) / self.true_p99_ms.max(1e-9)
    }
}

/// The latencies a perfect client would see, in ms: a send due inside the
/// stall waits until its end; any other is answered at once. Quantile by
/// rank `ceil(q n)`, as HdrHistogram does.
pub fn true_quantile_ms(schedule: &Schedule, sends: u64, stall: (Duration, Duration), q: f64) -> f64 {
    let mut lat: Vec<f64> = schedule
        .offsets()
        .take(sends as usize)
        .map(|t| {
            if t >= stall.0 && t < stall.1 {
                (stall.1 - t).as_secs_f64() * 1000.0
            } else {
                0.0
            }
        })
        .collect();
    if lat.is_empty() {
        return 0.0;
    }
    lat.sort_by(f64::total_cmp);
    let rank = ((q * lat.len() as f64).ceil() as usize).clamp(1, lat.len());
    lat[rank - 1]
}

/// `crossdock-bench stall`.
pub async fn bench_stall(opts: &StallBenchOptions) -> Result<StallBench, BenchError> {
    let start = Instant::now() + Duration::from_millis(200);
    let window = (start + opts.stall_at, start + opts.stall_at + opts.stall_for);
    let (addr, server) = stalling_server(Some(window))
        .await
        .map_err(failed("failed to start the server"))?;
    let schedule = Schedule::constant(opts.rate_per_s);
    let conns = Connections::open(addr, opts.connections)
        .await
        .map_err(failed("failed to connect"))?;
    let driver = Driver::new(schedule.clone())
        .max_sends(u64::MAX)
        .max_duration(opts.duration + opts.stall_for + Duration::from_secs(5))
        .start_at(start)
        .send_for(opts.duration)
        .run(|_| {
            let conns = conns.clone();
            async move { conns.get().await }
        })
        .await;
    server.abort();
    let stall = (opts.stall_at, opts.stall_at + opts.stall_for);
    Ok(StallBench {
        true_p99_ms: true_quantile_ms(&schedule, driver.sent, stall, 0.99),
        true_max_ms: true_quantile_ms(&schedule, driver.sent, stall, 1.0),
        driver,
    })
}

/// `crossdock-bench checker` options.
#[derive(Debug, Clone)]
pub struct CheckerBenchOptions {
    /// Exchanges to generate (at least; whole copies of the template run).
    pub exchanges: u64,
    /// Where the template run and the generated histories go.
    pub dir: PathBuf,
}

/// `crossdock-bench checker` figures.
#[derive(Debug, Clone)]
pub struct CheckerBench {
    pub exchanges: u64,
    pub bytes: u64,
    pub generate: Duration,
    pub check: Duration,
    /// Peak resident set during the check (VmHWM, reset before it when the
    /// kernel allows), in bytes.
    pub peak_rss: Option<u64>,
    pub checks_passed: bool,
    pub failed_checks: Vec<String>,
}

/// The template: a real scenario run (200 POs through the reference core).
const TEMPLATE: &str = r#"name = "checker-template"
seed = 7
[load]
purchase_orders = 200
lines_per_po = { min = 1, max = 5 }
arrival_rate_per_s = 400
time_bound_s = 60
[supplier]
ack_delay_ms = 1
asn_delay_ms = 1
[wms]
receipt_delay_ms = 1
short_probability = 0.05
over_probability = 0.05
[sla]
asn_to_expectation_p99_ms = 60000
"#;

/// Offsets business numbers so that copy `k` of the template has keys of
/// its own: `PO-nnnnnnn` by `k × pos`, other `XXX-nnnnnnnn(nn)` numbers by
/// `k × 100,000`, SSCCs by `k × 10⁶` (check digit recomputed), trace ids
/// get the copy in their last 8 hex digits.
pub fn rewrite_str(s: &str, k: u64, pos: u64) -> String {
    let b = s.as_bytes();
    if b.len() == 18 && b.iter().all(u8::is_ascii_digit) {
        let body: u64 = s[..17].parse().expect("17 digits");
        return contracts::ids::with_check_digit(&format!("{:017}", body + k * 1_000_000));
    }
    if b.len() == 32 && b.iter().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) {
        return format!(
            "{}{:08x}",
            &s[..24],
            (k as u32) ^ u32::from_str_radix(&s[24..], 16).unwrap_or(0)
        );
    }
    let mut out = String::with_capacity(s.len() + 2);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' && i + 1 < b.len() && b[i + 1].is_ascii_digit() {
            let start = i + 1;
            let end = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
            let width = end - start;
            let prefix_start = s[..i]
                .rfind(|c: char| !c.is_ascii_uppercase())
                .map_or(0, |p| p + 1);
            let prefix = &s[prefix_start..i];
            let offset = match (prefix, width) {
                ("PO", 7) => Some(k * pos),
                ("LOT", _) => None,
                (p, 8 | 10) if !p.is_empty() => Some(k * 100_000),
                _ => None,
            };
            out.push('-');
            match offset {
                Some(off) => {
                    let n: u64 = s[start..end].parse().expect("digits");
                    out.push_str(&format!("{:0width$}", n + off));
                }
                None => out.push_str(&s[start..end]),
            }
            i = end;
            continue;
        }
        let ch = s[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn rewrite_value(v: &mut serde_json::Value, k: u64, pos: u64) {
    match v {
        serde_json::Value::String(s) => *s = rewrite_str(s, k, pos),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|v| rewrite_value(v, k, pos)),
        serde_json::Value::Object(m) => m.values_mut().for_each(|v| rewrite_value(v, k, pos)),
        _ => {}
    }
}

/// Writes `copies` copies of each template history, each copy with its own
/// keys and shifted `span_us` later in time; returns (exchanges, bytes).
fn replicate(
    template: &[(String, Vec<contracts::Exchange>)],
    out_dir: &Path,
    copies: u64,
    pos: u64,
    span_us: u64,
) -> std::io::Result<(u64, u64)> {
    use std::io::Write;
    let (mut n, mut bytes) = (0u64, 0u64);
    for (party, exchanges) in template {
        let path = out_dir.join(format!("{party}.jsonl"));
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let mut seq = 0u64;
        for k in 0..copies {
            for ex in exchanges {
                let mut ex = ex.clone();
                ex.seq = seq;
                seq += 1;
                ex.started_at_us += k * span_us;
                ex.finished_at_us += k * span_us;
                for s in [&mut ex.idempotency_key, &mut ex.trace_id].into_iter().flatten() {
                    *s = rewrite_str(s, k, pos);
                }
                for body in [&mut ex.request, &mut ex.response].into_iter().flatten() {
                    rewrite_value(body, k, pos);
                }
                let line = serde_json::to_string(&ex).map_err(std::io::Error::other)? + "\n";
                bytes += line.len() as u64;
                w.write_all(line.as_bytes())?;
                n += 1;
            }
        }
        w.flush()?;
    }
    Ok((n, bytes))
}

/// Resets the peak-RSS mark (Linux; ignored elsewhere).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size (VmHWM), in bytes (Linux only).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `crossdock-bench checker`.
pub async fn bench_checker(opts: &CheckerBenchOptions) -> Result<CheckerBench, BenchError> {
    use harness::run::{RunOptions, run_scenario};
    std::fs::create_dir_all(&opts.dir).map_err(failed("failed to create the bench directory"))?;
    let scenario = opts.dir.join("checker-template.toml");
    std::fs::write(&scenario, TEMPLATE).map_err(failed("failed to write the template scenario"))?;
    let outcome = run_scenario(
        &scenario,
        &RunOptions {
            out_dir: opts.dir.join("template"),
            seed: None,
            core: Default::default(),
            progress: None,
            events: None,
            parties: Default::default(),
            store: None,
        },
    )
    .await
    .map_err(|e| BenchError::Failed(format!("the template run failed: {e}")))?;
    if !outcome.report.passed {
        return Err(BenchError::Failed(format!(
            "the template run did not pass its checks; see {}",
            outcome.out_dir.display()
        )));
    }
    let mut template = Vec::new();
    let mut per_copy = 0u64;
    let (mut first_us, mut last_us) = (u64::MAX, 0u64);
    for party in ["erp", "supplier", "wms"] {
        let mut exchanges = Vec::new();
        checker::for_each_exchange(&outcome.out_dir.join(format!("{party}.jsonl")), |ex| {
            first_us = first_us.min(ex.started_at_us);
            last_us = last_us.max(ex.finished_at_us);
            exchanges.push(ex);
        })
        .map_err(|e| BenchError::Failed(e.to_string()))?;
        per_copy += exchanges.len() as u64;
        template.push((party.to_owned(), exchanges));
    }
    let copies = opts.exchanges.div_ceil(per_copy.max(1)).max(1);
    let pos = 200u64;
    let span_us = last_us.saturating_sub(first_us) + 1_000;
    let gen_dir = opts.dir.join("generated");
    std::fs::create_dir_all(&gen_dir).map_err(failed("failed to create the output directory"))?;

    let t = std::time::Instant::now();
    let (exchanges, bytes) = {
        let (template, gen_dir) = (template, gen_dir.clone());
        tokio::task::spawn_blocking(move || replicate(&template, &gen_dir, copies, pos, span_us))
            .await
            .map_err(|e| BenchError::Failed(e.to_string()))?
            .map_err(failed("failed to write the histories"))?
    };
    let generate = t.elapsed();

    // The ERP released every PO of every copy.
    let template_released: Vec<(String, Vec<u32>)> = harness::run::generate_orders(
        &scenario::Scenario::parse(&scenario, TEMPLATE).map_err(|e| BenchError::Failed(e.to_string()))?,
        outcome.report.seed,
    )
    .into_iter()
    .map(|po| (po.po_number, po.lines.iter().map(|l| l.line_no).collect()))
    .collect();
    let released: Vec<(String, Vec<u32>)> = (0..copies)
        .flat_map(|k| {
            template_released
                .iter()
                .map(move |(po, lines)| (rewrite_str(po, k, pos), lines.clone()))
        })
        .collect();
    let histories: Vec<PathBuf> = ["erp", "supplier", "wms"]
        .iter()
        .map(|p| gen_dir.join(format!("{p}.jsonl")))
        .collect();
    let mut expect = checker::Expectations {
        released: Some(released),
        run_started_us: first_us,
        ..checker::Expectations::default()
    };
    expect.sla.asn_to_expectation_p99_ms = Some(60_000.0);
    let (findings, check, peak_rss) = tokio::task::spawn_blocking(move || {
        reset_peak_rss();
        let t = std::time::Instant::now();
        let findings = checker::judge(&histories, &expect);
        (findings, t.elapsed(), peak_rss_bytes())
    })
    .await
    .map_err(|e| BenchError::Failed(e.to_string()))?;
    let findings = findings.map_err(|e| BenchError::Failed(e.to_string()))?;
    let failed_checks: Vec<String> = findings
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{} ({} violations)", c.name, c.violations_total))
        .collect();
    Ok(CheckerBench {
        exchanges,
        bytes,
        generate,
        check,
        peak_rss,
        checks_passed: failed_checks.is_empty(),
        failed_checks,
    })
}

pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

pub fn print_load(name: &str, r: &LoadReport) {
    println!(
        "{name:<10} {} sent, {} ok, {} failed, {} missed schedule, {} timed out, {} in flight at most",
        r.sent, r.ok, r.failed, r.missed, r.timed_out, r.max_in_flight
    );
    println!(
        "{:<10} latency from intended send: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        "",
        r.quantile_ms(0.5),
        r.quantile_ms(0.9),
        r.quantile_ms(0.99),
        r.max_ms()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_get_keys_of_their_own_and_keep_valid_check_digits() {
        assert_eq!(
            rewrite_str("po-release:PO-0000001:v1", 3, 200),
            "po-release:PO-0000601:v1"
        );
        assert_eq!(rewrite_str("grp:RCV-00000001:1", 2, 200), "grp:RCV-00200001:1");
        assert_eq!(rewrite_str("EVT-00000001-1", 1, 200), "EVT-00100001-1");
        assert_eq!(rewrite_str("IBE-IBE-0000000020", 1, 200), "IBE-IBE-0000100020");
        assert_eq!(rewrite_str("LOT-20261120", 5, 200), "LOT-20261120");
        assert_eq!(rewrite_str("2026-11-27", 5, 200), "2026-11-27");
        assert_eq!(rewrite_str("SKU-27661", 5, 200), "SKU-27661");
        let sscc = rewrite_str("006141410000000012", 4, 200);
        assert_eq!(&sscc[..17], "00614141004000001");
        assert!(contracts::Sscc::parse(&sscc).is_ok(), "{sscc}");
        let trace = rewrite_str("d8a2c7027e554b22117892c70646f973", 1, 200);
        assert_eq!(trace, "d8a2c7027e554b22117892c70646f972");
        assert_eq!(
            rewrite_str("d8a2c7027e554b22117892c70646f973", 0, 200),
            "d8a2c7027e554b22117892c70646f973"
        );
    }

    #[test]
    fn the_true_p99_comes_from_the_schedule_and_the_stall() {
        // 100/s for 10 s, stall from 3 s to 4 s: 100 of 1,000 sends wait
        // 1000, 990, …, 10 ms. p99 is rank 990: the 11th largest, 900 ms.
        let s = Schedule::constant(100.0);
        let stall = (Duration::from_secs(3), Duration::from_secs(4));
        let p99 = true_quantile_ms(&s, 1000, stall, 0.99);
        assert!((p99 - 900.0).abs() < 1e-6, "{p99}");
        assert!((true_quantile_ms(&s, 1000, stall, 1.0) - 1000.0).abs() < 1e-6);
        assert_eq!(true_quantile_ms(&s, 1000, stall, 0.5), 0.0);
    }

    #[test]
    fn wrk_s_rate_is_read_from_its_output() {
        let out = "Running 1s test @ http://127.0.0.1:1/\n  1 threads and 4 connections\n\
                   9876 requests in 1.00s, 1.2MB read\nRequests/sec:   9871.23\nTransfer/sec:      1.2MB\n";
        assert_eq!(parse_wrk_rate(out), Some(9871.23));
        assert_eq!(parse_wrk_rate("nothing"), None);
    }

    /// Tiny runs of each bench, so they cannot rot; figures are not asserted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_stall_bench_runs_and_sees_the_stall() {
        let r = bench_stall(&StallBenchOptions {
            rate_per_s: 200.0,
            duration: Duration::from_millis(1500),
            stall_at: Duration::from_millis(500),
            stall_for: Duration::from_millis(300),
            connections: 8,
        })
        .await
        .unwrap();
        assert!(r.driver.sent >= 250, "{}", r.driver.sent);
        assert_eq!(r.driver.timed_out, 0);
        // Whatever the machine, the sends due early in the stall waited for it.
        assert!(r.driver.max_ms() >= 250.0, "{}", r.driver.max_ms());
        assert!(r.true_p99_ms > 0.0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_driver_bench_runs_or_says_how_to_install_wrk() {
        match bench_driver(&DriverBenchOptions {
            connections: 4,
            duration: Duration::from_secs(1),
            wrk_threads: 1,
        })
        .await
        {
            Ok(r) => {
                assert!(r.wrk_per_s > 0.0);
                assert!(r.driver.ok > 0 && r.driver.failed == 0, "{:?}", r.driver);
            }
            Err(e @ BenchError::Missing(_)) => {
                assert!(e.to_string().contains("apt-get install -y wrk"));
                assert_eq!(e.exit_code(), harness::exit::BAD_INPUT);
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checker_bench_generates_valid_histories_that_pass() {
        let dir = tempfile::tempdir().unwrap();
        let r = bench_checker(&CheckerBenchOptions {
            exchanges: 5_000,
            dir: dir.path().to_owned(),
        })
        .await
        .unwrap();
        assert!(r.exchanges >= 5_000, "{}", r.exchanges);
        // Copies with keys of their own: a real history, every check green.
        assert!(r.checks_passed, "{:?}", r.failed_checks);
    }
}
