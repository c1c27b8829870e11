//! The command line, parsed by the binary and executed here.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::contracts_cmd::{self, ValidateFormat};
use crate::exit;
use crate::run::{CoreOverrides, Progress, ProgressSink, RunError, RunOptions, run_scenario};
use crate::scenario::SimRole;
use crate::simulate::{SimulateOptions, simulate};
use simulators::faults::Profile;

/// crossdock: contract testing and simulation for supplier, ERP and WMS integrations.
#[derive(Debug, Parser)]
#[command(name = "crossdock", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against the reference core with simulated ERP, WMS and
    /// supplier, or with any of them the system under test at a URL.
    Run {
        /// Scenario files (TOML), or directories of them (every `*.toml`, by name).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Output directory; each scenario writes into OUT/<name>/.
        #[arg(long, default_value = "target/crossdock")]
        out: PathBuf,
        /// Seed for every random decision (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// The in-process core publishes CloudEvents to this NATS server
        /// (JetStream on), and the run checks them (events-* checks).
        #[arg(long, value_name = "nats://HOST:PORT")]
        events: Option<String>,
        /// The JetStream stream of --events (created if absent).
        #[arg(long, value_name = "NAME", requires = "events", default_value = integration_core::events::DEFAULT_STREAM)]
        events_stream: String,
        /// This role is the system under test at URL, as `core=URL`,
        /// `erp=URL`, `wms=URL` or `supplier=URL` (repeatable; overrides
        /// the scenario's [parties]). See "System under test by URL".
        #[arg(long, value_name = "ROLE=URL", value_parser = crate::run::external::parse_role_value::<crate::run::external::PartyUrl>)]
        external: Vec<(crate::run::external::PartyRole, crate::run::external::PartyUrl)>,
        /// With an external core, the token it expects from a caller
        /// (`erp=T`, `wms=T`, `supplier=T`, `ops=T`, ops required); with an
        /// external partner, the token sent to it (repeatable).
        #[arg(long = "token-for", value_name = "ROLE=TOKEN", value_parser = parse_token_for)]
        tokens_for: Vec<(contracts::Role, String)>,
        /// Where the core reaches a partner role (its simulator, or the
        /// proxy before it), as `erp=127.0.0.1:7001` (repeatable).
        #[arg(long, value_name = "ROLE=ADDR", value_parser = crate::run::external::parse_role_value::<crate::run::external::LoopbackAddr>)]
        listen: Vec<(
            crate::run::external::PartyRole,
            crate::run::external::LoopbackAddr,
        )>,
        /// The in-process core stores on this PostgreSQL server: each
        /// scenario run creates a database of its own there and drops it
        /// afterwards (default: a SQLite file in the run's directory).
        #[arg(long, value_name = "postgres://USER@HOST:PORT")]
        store: Option<String>,
        /// Run this many core replicas on the --store database, the
        /// parties' calls spread across them.
        #[arg(long, default_value_t = 1, requires = "store", value_parser = clap::value_parser!(u32).range(1..=16))]
        replicas: u32,
    },
    /// Run one simulated party standalone, on a loopback address, until Ctrl-C.
    ///
    /// Prints its URL on the first line of standard output. Exit 0 after a
    /// clean stop (history flushed), 2 bad input, 3 could not listen or write.
    Simulate {
        /// The party to play.
        #[arg(long, value_enum)]
        role: SimRole,
        /// Address to listen on, e.g. 127.0.0.1:7001 (port 0 picks one).
        #[arg(long)]
        listen: std::net::SocketAddr,
        /// Base URL of the integration layer this party calls (its releases,
        /// acknowledgements, ASNs, receipts go there).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        peer_url: String,
        /// Faults file: `[[faults]]` rules (see simulators/src/faults.rs).
        #[arg(long)]
        faults: Option<PathBuf>,
        /// Behaviour file (TOML): the scenario's `[supplier]`, `[wms]`,
        /// `[invoicing]`, `[inventory]` sections, and `[outbound]` with the
        /// WMS's item master (see harness/src/simulate.rs).
        #[arg(long, value_name = "FILE")]
        behaviour: Option<PathBuf>,
        /// Default limits of a real system: netsuite (concurrency 15),
        /// dynamics (6,000 requests / 5 min), shipbob (150 requests / min).
        #[arg(long, value_enum)]
        profile: Option<ProfileArg>,
        /// Seed of the fault decisions.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// History file (JSON Lines).
        #[arg(long, default_value = "target/crossdock/simulate.jsonl")]
        history: PathBuf,
        /// Require `Authorization: Bearer TOKEN` on every request; a missing
        /// or wrong token is answered 401 problem+json.
        #[arg(long)]
        token: Option<String>,
        /// Bearer token to send to the peer (e.g. this party's token on
        /// `crossdock core`).
        #[arg(long)]
        peer_token: Option<String>,
    },
    /// Run the reference integration core standalone until Ctrl-C.
    ///
    /// Defaults: 127.0.0.1:8080, database target/crossdock/core/core.sqlite,
    /// partners on 127.0.0.1:7001 (ERP), :7002 (WMS), :7003 (supplier). Its
    /// URL is the first line of standard output; /openapi.json serves its
    /// contract. Exit 0 after a clean stop, 2 bad configuration, 3 could not
    /// start.
    Core {
        /// Configuration file (TOML; see harness/src/core_cmd.rs).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen address, overriding the file's.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Publish CloudEvents to this NATS server (JetStream on),
        /// overriding the file's [events] url.
        #[arg(long, value_name = "nats://HOST:PORT")]
        events: Option<String>,
        /// The JetStream stream, overriding the file's [events] stream.
        #[arg(long, value_name = "NAME")]
        events_stream: Option<String>,
        /// The store, overriding the file's `store`/`database`: a SQLite
        /// file, or a PostgreSQL database (postgres://…, must exist) that
        /// several cores may share.
        #[arg(long, value_name = "PATH|postgres://…")]
        store: Option<String>,
    },
    /// Two runs side by side: B regresses against A when a check newly fails
    /// or a latency percentile grew beyond the tolerance.
    ///
    /// Exit 0 no regression, 1 regression, 2 unreadable reports.
    Compare {
        /// The baseline run's report.json.
        a: PathBuf,
        /// The candidate run's report.json.
        b: PathBuf,
        /// How much a percentile may grow, in percent.
        #[arg(long, default_value_t = 10.0)]
        tolerance_pct: f64,
    },
    /// Benchmarks that print a ratio against a baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Certify a partner's running endpoint against its role's contract and
    /// write the evidence (certificate.json, junit.xml, report.html, the
    /// recorded exchanges). See docs/CERTIFY.md.
    ///
    /// Exit 0 certified, 1 not certified (a check failed), 2 target
    /// unreachable or bad input, 3 the harness could not listen or write.
    Certify {
        /// The role the target plays.
        #[arg(long, value_enum)]
        role: CertifyRole,
        /// Base URL of the target, e.g. http://127.0.0.1:9000.
        #[arg(long)]
        target: String,
        /// Bearer token for every request; also runs errors.missing-auth-401.
        #[arg(long)]
        token: Option<String>,
        /// Certifying the core: the token of one of its callers, as
        /// `erp=T`, `wms=T`, `supplier=T` or `ops=T` (its operator: ops
        /// endpoints, /metrics, /v1/trace) (repeatable); a request goes
        /// with the token of the role that calls its path.
        #[arg(long = "token-for", value_parser = parse_token_for)]
        tokens_for: Vec<(contracts::Role, String)>,
        /// Evidence directory [default: target/crossdock/certify/<role>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed of every generated document and key; the same seed repeats
        /// the same requests.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where the harness answers the target's callbacks (supplier, WMS,
        /// core); point the target's core (or partner) URLs here.
        #[arg(long, default_value = "127.0.0.1:7400")]
        callback_listen: std::net::SocketAddr,
        /// How long to wait for the callbacks a request causes, in seconds.
        #[arg(long, default_value_t = 10)]
        callback_wait_s: u64,
        /// Arrival rate of the latency phase, requests per second.
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
        /// Requests of the latency phase (0 skips it).
        #[arg(long, default_value_t = 40)]
        latency_requests: u32,
        /// Bound on p99 latency from the intended send time, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        p99_ms: u64,
        /// Certify only this operation's path (repeatable; partner roles);
        /// the certificate then says its scope is partial.
        #[arg(long = "operation", value_name = "PATH")]
        operations: Vec<String>,
    },
    /// Contract governance: validate documents, compare contract versions.
    Contracts {
        #[command(subcommand)]
        command: ContractsCommand,
    },
}

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

/// A role `crossdock certify` can certify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CertifyRole {
    Supplier,
    Wms,
    Erp,
    Core,
}

impl From<CertifyRole> for contracts::Role {
    fn from(r: CertifyRole) -> Self {
        match r {
            CertifyRole::Supplier => contracts::Role::Supplier,
            CertifyRole::Wms => contracts::Role::Wms,
            CertifyRole::Erp => contracts::Role::Erp,
            CertifyRole::Core => contracts::Role::Core,
        }
    }
}

/// A named profile of real-system limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProfileArg {
    Netsuite,
    Dynamics,
    Shipbob,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Netsuite => Profile::Netsuite,
            ProfileArg::Dynamics => Profile::Dynamics,
            ProfileArg::Shipbob => Profile::Shipbob,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ContractsCommand {
    /// Validate a JSON document against a contract type: JSON Schema plus domain rules.
    ///
    /// Exit 0 valid, 1 invalid, 2 unreadable input (file, JSON, unknown type).
    Validate {
        /// The JSON document.
        file: PathBuf,
        /// The contract type, e.g. AdvanceShipNotice (see contracts/schemas/).
        #[arg(long = "type", value_name = "TYPE")]
        type_name: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
        format: ValidateFormat,
    },
    /// Compare two versions of a contract (OpenAPI 3.0/3.1 or JSON Schema,
    /// JSON or YAML), or each PATH with its version at `--base git:REF`;
    /// classify each change as breaking, potentially breaking or compatible.
    ///
    /// Exit 0 when the gate passes, 1 when a change fails it (`--fail-on`),
    /// 2 unreadable or unknown input.
    Diff(contracts_cmd::DiffArgs),
}

/// Executes a parsed command line; returns the process exit code.
pub async fn execute(cli: Cli) -> u8 {
    match cli.command {
        Command::Run {
            scenarios,
            out,
            seed,
            events,
            events_stream,
            external,
            tokens_for,
            listen,
            store,
            replicas,
        } => {
            let store = match store
                .map(|url| crate::run::RunStore::new(&url, replicas))
                .transpose()
            {
                Ok(store) => store,
                Err(e) => {
                    eprintln!("crossdock: error: {e}");
                    return exit::BAD_INPUT;
                }
            };
            let events = match events
                .map(|url| crate::run::events::RunEvents::new(&url, &events_stream))
                .transpose()
            {
                Ok(events) => events,
                Err(e) => {
                    eprintln!("crossdock: error: {e}");
                    return exit::BAD_INPUT;
                }
            };
            let mut opts = RunOptions {
                out_dir: out,
                seed,
                core: CoreOverrides::default(),
                progress: None,
                events,
                parties: crate::run::external::PartyOverrides {
                    external,
                    tokens_for,
                    listen,
                },
                store,
            };
            let files = match scenario_files(&scenarios) {
                Ok(files) => files,
                Err(e) => {
                    eprintln!("crossdock: error: {e}");
                    return exit::BAD_INPUT;
                }
            };
            let mut code = exit::OK;
            for file in &files {
                opts.progress = Some(progress_sink());
                let this = match run_scenario(file, &opts).await {
                    Ok(outcome) => {
                        println!("{}", reports::render_terminal(&outcome.report));
                        println!("reports: {}", outcome.out_dir.display());
                        verdict_code(&outcome.report)
                    }
                    Err(e) => {
                        eprintln!("crossdock: error: {e}");
                        exit_code(&e)
                    }
                };
                code = code.max(this);
            }
            code
        }
        Command::Simulate {
            role,
            listen,
            peer_url,
            faults,
            behaviour,
            profile,
            seed,
            history,
            token,
            peer_token,
        } => {
            let opts = SimulateOptions {
                role,
                listen,
                peer_url,
                faults_file: faults,
                behaviour_file: behaviour,
                profile: profile.map(Profile::from),
                seed,
                history: history.clone(),
                token,
                peer_token,
            };
            let started = |url: &str| {
                println!("{url}");
                eprintln!(
                    "crossdock: simulating {} on {url}; history in {}; Ctrl-C to stop",
                    role.as_str(),
                    history.display()
                );
            };
            let ctrl_c = match interrupted() {
                Ok(signal) => signal,
                Err(e) => {
                    eprintln!("crossdock: error: failed to listen for Ctrl-C: {e}");
                    return exit::INFRASTRUCTURE;
                }
            };
            match simulate(opts, started, ctrl_c).await {
                Ok(n) => {
                    eprintln!("crossdock: stopped; {n} exchanges in {}", history.display());
                    exit::OK
                }
                Err(e) => {
                    eprintln!("crossdock: error: {e}");
                    e.exit_code()
                }
            }
        }
        Command::Core {
            config,
            listen,
            events,
            events_stream,
            store,
        } => {
            // File, then CROSSDOCK_* environment, then the options.
            let loaded = crate::core_cmd::load_config(config.as_deref()).and_then(|mut file| {
                let warnings = crate::core_cmd::apply_env(&mut file, std::env::vars())?;
                Ok((file, warnings))
            });
            let file = match loaded {
                Ok((mut file, warnings)) => {
                    for w in warnings {
                        eprintln!("crossdock: warning: {w}");
                    }
                    if let Some(listen) = listen {
                        file.listen = listen;
                    }
                    if events.is_some() {
                        file.events.url = events;
                    }
                    if events_stream.is_some() {
                        file.events.stream = events_stream;
                    }
                    if let Some(store) = store {
                        match store.parse() {
                            Ok(store) => file.store = Some(store),
                            Err(e) => {
                                eprintln!("crossdock: error: --store: {e}");
                                return exit::BAD_INPUT;
                            }
                        }
                    }
                    file
                }
                Err(e) => {
                    eprintln!("crossdock: error: {e}");
                    return e.exit_code();
                }
            };
            let store = match &file.store {
                Some(s) => s.0.to_string(),
                None => file.database.display().to_string(),
            };
            let started = |url: &str| {
                println!("{url}");
                eprintln!("crossdock: reference core on {url}; store {store}; Ctrl-C to stop");
            };
            let ctrl_c = match interrupted() {
                Ok(signal) => signal,
                Err(e) => {
                    eprintln!("crossdock: error: failed to listen for Ctrl-C: {e}");
                    return exit::INFRASTRUCTURE;
                }
            };
            match crate::core_cmd::run_core(file, started, ctrl_c).await {
                Ok(()) => exit::OK,
                Err(e) => {
                    eprintln!("crossdock: error: {e}");
                    e.exit_code()
                }
            }
        }
        Command::Compare { a, b, tolerance_pct } => {
            let read = |p: &PathBuf| -> Result<serde_json::Value, String> {
                let text =
                    std::fs::read_to_string(p).map_err(|e| format!("failed to read {}: {e}", p.display()))?;
                serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", p.display()))
            };
            let compared = read(&a)
                .and_then(|ra| read(&b).map(|rb| (ra, rb)))
                .and_then(|(ra, rb)| {
                    reports::compare::compare(&ra, &rb, tolerance_pct).map_err(|e| e.to_string())
                });
            match compared {
                Ok(c) => {
                    print!("{}", reports::compare::render_comparison(&c));
                    if c.regressed() {
                        exit::CHECKS_FAILED
                    } else {
                        exit::OK
                    }
                }
                Err(e) => {
                    eprintln!("crossdock: error: {e}");
                    exit::BAD_INPUT
                }
            }
        }
        Command::Bench {
            command:
                BenchCommand::Simulator {
                    requests,
                    rounds,
                    max_seconds,
                    concurrency,
                    history,
                },
        } => {
            let opts = crate::bench::BenchOptions {
                requests,
                max_duration: std::time::Duration::from_secs(max_seconds),
                concurrency: concurrency.max(1),
                rounds,
                history,
            };
            match crate::bench::bench_simulator(&opts).await {
                Ok(r) => {
                    let line = |name: &str, t: &crate::bench::Throughput| {
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
                    exit::OK
                }
                Err(e) => {
                    eprintln!("crossdock: error: benchmark failed: {e}");
                    exit::INFRASTRUCTURE
                }
            }
        }
        Command::Bench {
            command:
                BenchCommand::CoreIntake {
                    asns,
                    concurrency,
                    max_seconds,
                    rounds,
                    dir,
                },
        } => {
            crate::bench_core::run_intake(&crate::bench_core::IntakeOptions {
                asns,
                concurrency,
                max_duration: std::time::Duration::from_secs(max_seconds),
                rounds,
                dir,
            })
            .await
        }
        Command::Bench {
            command:
                BenchCommand::CoreLifecycle {
                    seconds,
                    concurrency,
                    in_flight,
                    lines,
                    commit_interval_ms,
                    drain_seconds,
                    dir,
                    store,
                    replicas,
                },
        } => {
            if store.is_none() && replicas.iter().any(|n| *n > 1) {
                eprintln!("crossdock: error: --replicas above 1 needs --store postgres://…");
                return exit::BAD_INPUT;
            }
            if let Some(Err(e)) = store.as_deref().map(|s| crate::run::RunStore::new(s, 1)) {
                eprintln!("crossdock: error: {e}");
                return exit::BAD_INPUT;
            }
            let opts = crate::bench_core::LifecycleOptions {
                duration: std::time::Duration::from_secs(seconds),
                concurrency,
                in_flight: (in_flight > 0).then_some(in_flight),
                lines,
                commit_interval: commit_interval_ms.map(std::time::Duration::from_millis),
                drain: std::time::Duration::from_secs(drain_seconds),
                dir,
                postgres: store,
                replicas: 1,
            };
            crate::bench_core::run_lifecycle(&opts, &replicas).await
        }
        Command::Certify {
            role,
            target,
            token,
            tokens_for,
            out,
            seed,
            callback_listen,
            callback_wait_s,
            rate,
            latency_requests,
            p99_ms,
            operations,
        } => {
            let role = contracts::Role::from(role);
            let out = out.unwrap_or_else(|| crate::certify::default_out_dir(role));
            let mut opts = crate::certify::CertifyOptions::new(role, target, out.clone());
            opts.token = token;
            opts.tokens_for = tokens_for;
            opts.seed = seed;
            opts.callback = crate::certify::CallbackListen::Addr(callback_listen);
            opts.callback_wait = std::time::Duration::from_secs(callback_wait_s);
            opts.rate_per_s = rate;
            opts.latency_requests = latency_requests;
            opts.p99_bound = std::time::Duration::from_millis(p99_ms);
            opts.operations = operations;
            match crate::certify::certify(opts).await {
                Ok(c) => {
                    print!("{}", crate::certify::render_terminal(&c));
                    println!("evidence: {}", out.display());
                    if c.certified {
                        exit::OK
                    } else {
                        exit::CHECKS_FAILED
                    }
                }
                Err(e) => {
                    eprintln!("crossdock: error: {e}");
                    e.exit_code()
                }
            }
        }
        Command::Bench { command } => crate::bench_load::execute(command).await,
        Command::Contracts { command } => match command {
            ContractsCommand::Validate {
                file,
                type_name,
                format,
            } => contracts_cmd::run_validate(&file, &type_name, format),
            ContractsCommand::Diff(args) => contracts_cmd::run_diff(&args),
        },
    }
}

/// Renders run progress on standard error: a bar on a terminal, otherwise a
/// plain line at most once a second (and at each change of phase).
fn progress_sink() -> ProgressSink {
    use std::io::IsTerminal;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} {msg:40} [{bar:30}] {pos}/{len}")
        {
            bar.set_style(style);
        }
        return ProgressSink(Arc::new(move |p: &Progress| match p {
            Progress::Releasing { released, total } => {
                bar.set_length(*total);
                bar.set_position(*released);
                bar.set_message("releasing purchase orders");
            }
            Progress::Settling {
                in_flight,
                outbox_pending,
            } => bar.set_message(format!(
                "settling: {in_flight} in flight, {outbox_pending} in the outbox"
            )),
            Progress::Checking => bar.finish_and_clear(),
        }));
    }
    let last: Mutex<Option<(Instant, std::mem::Discriminant<Progress>)>> = Mutex::new(None);
    ProgressSink(Arc::new(move |p: &Progress| {
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        let phase = std::mem::discriminant(p);
        let due = match *last {
            None => true,
            Some((at, previous)) => previous != phase || at.elapsed() >= Duration::from_secs(1),
        };
        if !due {
            return;
        }
        *last = Some((Instant::now(), phase));
        match p {
            Progress::Releasing { released, total } => {
                eprintln!("crossdock: released {released}/{total} purchase orders")
            }
            Progress::Settling {
                in_flight,
                outbox_pending,
            } => eprintln!("crossdock: settling: {in_flight} in flight, {outbox_pending} in the outbox"),
            Progress::Checking => eprintln!("crossdock: checking the recorded history"),
        }
    }))
}

/// A future that resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are
/// installed now, before anything starts, so a signal that arrives early is
/// not lost to the default action.
fn interrupted() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// Expands directories into their `*.toml` files, sorted by name.
pub fn scenario_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            files.push(arg.clone());
            continue;
        }
        let entries = std::fs::read_dir(arg).map_err(|e| format!("failed to read {}: {e}", arg.display()))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        if found.is_empty() {
            return Err(format!("{} holds no *.toml scenario", arg.display()));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// The exit code for a run's verdict.
pub fn verdict_code(report: &reports::Report) -> u8 {
    if report.passed {
        exit::OK
    } else {
        exit::CHECKS_FAILED
    }
}

/// The exit code for a run that produced no verdict.
pub fn exit_code(e: &RunError) -> u8 {
    match e {
        RunError::Scenario(_) | RunError::Unreachable { .. } | RunError::BadParties(_) => exit::BAD_INPUT,
        _ => exit::INFRASTRUCTURE,
    }
}

/// `ROLE=TOKEN` of `certify --token-for`.
fn parse_token_for(s: &str) -> Result<(contracts::Role, String), String> {
    let (role, token) = s
        .split_once('=')
        .ok_or_else(|| format!("expected ROLE=TOKEN (erp, wms, supplier or ops), found {s:?}"))?;
    let role = match role {
        "erp" => contracts::Role::Erp,
        "wms" => contracts::Role::Wms,
        "supplier" => contracts::Role::Supplier,
        // The core's operator: its ops endpoints, /metrics and /v1/trace.
        "ops" => contracts::Role::Core,
        other => {
            return Err(format!(
                "expected a role of erp, wms, supplier or ops, found {other:?}"
            ));
        }
    };
    if token.is_empty() {
        return Err("expected a non-empty token after '='".into());
    }
    Ok((role, token.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::parse_token_for;
    use contracts::Role;

    #[test]
    fn token_for_names_a_caller_of_the_core_or_its_operator() {
        assert_eq!(parse_token_for("erp=T1"), Ok((Role::Erp, "T1".into())));
        // The operator's token stands for the core's own ops endpoints.
        assert_eq!(parse_token_for("ops=T4"), Ok((Role::Core, "T4".into())));
        assert!(parse_token_for("core=T").unwrap_err().contains("ops"));
        assert!(parse_token_for("erp=").is_err());
        assert!(parse_token_for("erp").is_err());
    }
}
