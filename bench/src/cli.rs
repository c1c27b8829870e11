//! The `crossdock-bench` command line: each benchmark prints its figures
//! and a ratio against a baseline measured in the same run.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// crossdock's benchmarks: each prints a ratio against a baseline measured
/// in the same run, with CPU per unit of work.
#[derive(Debug, Parser)]
#[command(name = "crossdock-bench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The simulated ERP (stateful, recording on, no faults) against a bare
    /// hyper server answering the same body, with the same load generator.
    Simulator {
        /// Requests per target and round.
        #[arg(long, default_value_t = 100_000)]
        requests: u64,
        /// Alternating rounds; the ratio is between the medians.
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        /// Time bound per target, in seconds.
        #[arg(long, default_value_t = 60)]
        max_seconds: u64,
        /// Keep-alive connections, one request in flight each.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// The simulator's history file.
        #[arg(long, default_value = "target/crossdock/bench-simulator.jsonl")]
        history: PathBuf,
    },
    /// Durable ASN intake with group commit against one transaction per
    /// request (both fsync before the 2xx), in one run.
    CoreIntake {
        /// ASNs per run.
        #[arg(long, default_value_t = 2_000)]
        asns: u64,
        /// Clients, one request in flight each.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Time bound per run, in seconds.
        #[arg(long, default_value_t = 60)]
        max_seconds: u64,
        /// Alternating rounds; the ratio is between the medians.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Where the databases go.
        #[arg(long, default_value = "target/crossdock/bench-core")]
        dir: PathBuf,
    },
    /// The full inbound flow (PO → ack → ASN → expectation → receipt →
    /// posting) with the simulators in this process; completed POs/s.
    CoreLifecycle {
        /// Load window in seconds (the target is stated for 60).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Release loops, one release in flight each (128: with 64 the
        /// offered load, not the flow, was the limit: a sixth of two cores
        /// stayed idle).
        #[arg(long, default_value_t = 128)]
        concurrency: usize,
        /// POs released and not yet completed (every line posted at the
        /// ERP), at most: a loop releases its next PO only when one has
        /// completed, so the run measures what the flow sustains, not how
        /// fast the core takes in POs it will deliver later (unbounded, the
        /// outbox backlog reached 1,300–23,000 rows after 20 s and as few as
        /// half the POs released completed in the window). 0: no bound.
        #[arg(long, default_value_t = 512)]
        in_flight: usize,
        /// Lines per PO.
        #[arg(long, default_value_t = 1)]
        lines: u32,
        /// SQLite: the shortest time between two commits' starts while the
        /// core is busy (the store's `commit_interval`, 20 ms unless given;
        /// 0 commits as soon as the previous commit is done).
        #[arg(long)]
        commit_interval_ms: Option<u64>,
        /// Seconds allowed after the window to drain.
        #[arg(long, default_value_t = 30)]
        drain_seconds: u64,
        /// Where the database and histories go.
        #[arg(long, default_value = "target/crossdock/bench-core")]
        dir: PathBuf,
        /// Store on this PostgreSQL server (a database per run, dropped
        /// after) instead of a SQLite file in --dir.
        #[arg(long, value_name = "postgres://USER@HOST:PORT")]
        store: Option<String>,
        /// Replica counts to run, one run each (the curve), e.g. 1,2,3;
        /// above 1 needs --store.
        #[arg(long, value_delimiter = ',', default_value = "1", value_parser = clap::value_parser!(u32).range(1..=16))]
        replicas: Vec<u32>,
    },
    /// The open-model load driver against wrk (closed loop), on the same bare
    /// hyper server with the same connections: wrk first, then the driver
    /// scheduled at wrk's rate. Needs wrk (exit 2 when missing).
    Driver {
        /// Keep-alive connections, for both.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds each runs.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// wrk's threads.
        #[arg(long, default_value_t = 1)]
        wrk_threads: usize,
    },
    /// A target that stalls once: the driver's p99 against the true p99
    /// computed from the schedule and the stall.
    Stall {
        /// Arrival rate.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Seconds of sends.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// When the stall begins, seconds after the start.
        #[arg(long, default_value_t = 3.0)]
        stall_at: f64,
        /// How long it lasts, in seconds.
        #[arg(long, default_value_t = 1.0)]
        stall_for: f64,
        /// Keep-alive connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
    },
    /// Realistic histories of N recorded exchanges on disk (a real run,
    /// replicated with fresh keys), then the history checker over them:
    /// time and peak RSS.
    Checker {
        /// Exchanges to generate.
        #[arg(long, default_value_t = 1_000_000)]
        exchanges: u64,
        /// Where the histories go.
        #[arg(long, default_value = "target/crossdock/bench-checker")]
        dir: PathBuf,
    },
}

/// Runs one benchmark; returns the exit code.
pub async fn execute(command: BenchCommand) -> u8 {
    match command {
        BenchCommand::Simulator {
            requests,
            rounds,
            max_seconds,
            concurrency,
            history,
        } => simulator(requests, rounds, max_seconds, concurrency, history).await,
        BenchCommand::CoreIntake {
            asns,
            concurrency,
            max_seconds,
            rounds,
            dir,
        } => {
            crate::core::run_intake(&crate::core::IntakeOptions {
                asns,
                concurrency,
                max_duration: Duration::from_secs(max_seconds),
                rounds,
                dir,
            })
            .await
        }
        c @ BenchCommand::CoreLifecycle { .. } => lifecycle(c).await,
        command => execute_load(command).await,
    }
}

async fn simulator(requests: u64, rounds: u32, max_seconds: u64, concurrency: usize, history: PathBuf) -> u8 {
    let opts = crate::simulator::BenchOptions {
        requests,
        max_duration: std::time::Duration::from_secs(max_seconds),
        concurrency: concurrency.max(1),
        rounds,
        history,
    };
    match crate::simulator::bench_simulator(&opts).await {
        Ok(r) => {
            let line = |name: &str, t: &crate::simulator::Throughput| {
                println!(
                    "{name:<12} {:>9} requests  {:>6} errors  {:>8.1} s  {:>10.0} req/s  {:>6.1} µs CPU/req",
                    t.requests,
                    t.errors,
                    t.elapsed.as_secs_f64(),
                    t.per_second(),
                    t.cpu_us_per_request()
                );
            };
            for (i, (b, sim)) in r.bare_rounds.iter().zip(&r.simulator_rounds).enumerate() {
                line(&format!("bare #{}", i + 1), b);
                line(&format!("sim #{}", i + 1), sim);
            }
            println!(
                "medians      bare hyper {:.0} req/s, simulator {:.0} req/s",
                r.bare_median(),
                r.simulator_median()
            );
            println!("ratio        {:.2} (simulator / bare hyper, medians)", r.ratio());
            println!(
                "cpu/request  bare hyper {:.1} µs, simulator {:.1} µs: cpu ratio {:.2} (bare / simulator, medians)",
                r.bare_cpu_us(),
                r.simulator_cpu_us(),
                r.cpu_ratio()
            );
            if let Some(rss) = r.rss_after {
                println!("rss after    {:.1} MB", rss as f64 / 1_048_576.0);
            }
            println!("recorded     {} exchanges", r.recorded);
            harness::exit::OK
        }
        Err(e) => {
            eprintln!("crossdock: error: benchmark failed: {e}");
            harness::exit::INFRASTRUCTURE
        }
    }
}

async fn lifecycle(command: BenchCommand) -> u8 {
    let BenchCommand::CoreLifecycle {
        seconds,
        concurrency,
        in_flight,
        lines,
        commit_interval_ms,
        drain_seconds,
        dir,
        store,
        replicas,
    } = command
    else {
        unreachable!("only core-lifecycle comes here");
    };
    if store.is_none() && replicas.iter().any(|n| *n > 1) {
        eprintln!("crossdock: error: --replicas above 1 needs --store postgres://…");
        return harness::exit::BAD_INPUT;
    }
    if let Some(Err(e)) = store.as_deref().map(|s| harness::run::RunStore::new(s, 1)) {
        eprintln!("crossdock: error: {e}");
        return harness::exit::BAD_INPUT;
    }
    let opts = crate::core::LifecycleOptions {
        duration: Duration::from_secs(seconds),
        concurrency,
        in_flight: (in_flight > 0).then_some(in_flight),
        lines,
        commit_interval: commit_interval_ms.map(Duration::from_millis),
        drain: Duration::from_secs(drain_seconds),
        dir,
        postgres: store,
        replicas: 1,
    };
    crate::core::run_lifecycle(&opts, &replicas).await
}

/// Runs `driver`, `stall` and `checker`; returns the exit code.
pub async fn execute_load(command: BenchCommand) -> u8 {
    let result = match command {
        BenchCommand::Simulator { .. } => unreachable!("handled by simulator"),
        BenchCommand::CoreIntake { .. } | BenchCommand::CoreLifecycle { .. } => {
            unreachable!("handled by core")
        }
        BenchCommand::Driver {
            connections,
            seconds,
            wrk_threads,
        } => crate::load::bench_driver(&crate::load::DriverBenchOptions {
            connections: connections.max(1),
            duration: Duration::from_secs(seconds.max(1)),
            wrk_threads,
        })
        .await
        .map(|r| {
            println!("wrk        {:.0} req/s (closed loop, {connections} connections)", r.wrk_per_s);
            println!(
                "driver     {:.0} req/s answered, scheduled at {:.0}/s (open model, {connections} connections)",
                r.driver.per_second(),
                r.wrk_per_s
            );
            crate::load::print_load("", &r.driver);
            println!("ratio      {:.2} (driver / wrk requests per second; target >= 0.7)", r.ratio());
        }),
        BenchCommand::Stall {
            rate,
            seconds,
            stall_at,
            stall_for,
            connections,
        } => {
            let valid = |v: f64| v.is_finite() && v >= 0.0;
            if !(valid(rate) && rate > 0.0 && valid(stall_at) && valid(stall_for) && stall_for > 0.0) {
                eprintln!("crossdock: error: --rate and --stall-for must be > 0, --stall-at >= 0");
                return harness::exit::BAD_INPUT;
            }
            crate::load::bench_stall(&crate::load::StallBenchOptions {
                rate_per_s: rate,
                duration: Duration::from_secs(seconds.max(1)),
                stall_at: Duration::from_secs_f64(stall_at),
                stall_for: Duration::from_secs_f64(stall_for),
                connections: connections.max(1),
            })
            .await
            .map(|r| {
                println!("target     stalls once, {stall_for} s from {stall_at} s; {rate}/s for {seconds} s");
                crate::load::print_load("driver", &r.driver);
                println!(
                    "true       p99 {:.2} ms, max {:.2} ms (from the schedule and the stall)",
                    r.true_p99_ms, r.true_max_ms
                );
                println!("ratio      {:.3} (driver p99 / true p99; target within 0.9..1.1)", r.ratio());
            })
        }
        BenchCommand::Checker { exchanges, dir } => crate::load::bench_checker(&crate::load::CheckerBenchOptions { exchanges, dir })
            .await
            .map(|r| {
                println!(
                    "generated  {} exchanges, {:.0} MB, in {:.1} s",
                    r.exchanges,
                    crate::load::mb(r.bytes),
                    r.generate.as_secs_f64()
                );
                println!(
                    "checked    in {:.1} s ({:.0} exchanges/s; target < 30 s for 1,000,000)",
                    r.check.as_secs_f64(),
                    r.exchanges as f64 / r.check.as_secs_f64().max(1e-9)
                );
                if let Some(rss) = r.peak_rss {
                    println!("peak rss   {:.0} MB (target < 1024 MB)", crate::load::mb(rss));
                }
                if r.checks_passed {
                    println!("verdict    every check passed");
                } else {
                    println!("verdict    FAILED: {}", r.failed_checks.join(", "));
                }
            }),
    };
    match result {
        Ok(()) => harness::exit::OK,
        Err(e) => {
            eprintln!("crossdock: error: {e}");
            e.exit_code()
        }
    }
}
