//! `crossdock certify`: a partner proves, against its own running
//! endpoint, that it meets its role's contract, and gets evidence to hand
//! over.
//!
//! The suite derives from the contract: the role's operations
//! ([`contracts::routes::OPERATIONS`]), their schemas and the domain rules
//! ([`contracts::Validator`]) for what is sent and what is answered, and
//! request documents generated from the contract's examples and the seed
//! ([`docs::DocGen`]). Every check is named (`conformance.status-documented`,
//! `idempotency.replay-same-result`, …) and ends pass, fail or skipped, with
//! a detail and its cases. A role that calls back is answered by the
//! harness itself ([`callback`]) on `--callback-listen`.
//!
//! Evidence goes to the output directory: `certificate.json`
//! ([`Certificate`]), `junit.xml`, `report.html` and `exchanges.jsonl`
//! (every request the harness sent or received, [`contracts::Exchange`]).

pub mod callback;
mod certificate;
pub mod client;
pub mod docs;
mod evidence;
pub mod manifest;
mod suite;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use contracts::Role;
use simulators::recorder::{Recorder, now_us};

pub use certificate::{
    BuildRef, CERTIFICATE_FORMAT, Case, Certificate, CheckResult, ContractRef, LatencySummary, SUITE_VERSION,
    Status, contract_ref,
};
pub use evidence::{junit, render_html, render_terminal};

/// Where the harness listens for the target's callbacks.
#[derive(Debug)]
pub enum CallbackListen {
    Addr(SocketAddr),
    /// Already bound (tests bind 127.0.0.1:0 first, to tell the target).
    Listener(std::net::TcpListener),
}

/// One certification run.
#[derive(Debug)]
pub struct CertifyOptions {
    /// Supplier, WMS, ERP or core.
    pub role: Role,
    /// Base URL of the partner's endpoint.
    pub target: String,
    /// Who the target is, declared (e.g. its GLN); in the certificate.
    pub partner_id: Option<String>,
    /// A file with the ed25519 key (64 hex characters) that signs the
    /// manifest into `manifest.sig`.
    pub signing_key: Option<PathBuf>,
    /// Bearer token sent on every request; enables `errors.missing-auth-401`.
    pub token: Option<String>,
    /// Certifying the core: the token each of its callers uses (the core
    /// binds a token to one caller: ERP, WMS, or a supplier's GLN). A
    /// request to a core path goes with the token of the role that calls
    /// it; `token` is the fallback.
    pub tokens_for: Vec<(Role, String)>,
    pub out_dir: PathBuf,
    /// Seed of every generated document and key.
    pub seed: u64,
    /// Where the harness answers the target's callbacks (roles that call back).
    pub callback: CallbackListen,
    /// How long to wait for the callbacks a request causes.
    pub callback_wait: Duration,
    /// Open-model arrival rate of the latency phase, per second.
    pub rate_per_s: f64,
    /// Requests of the latency phase.
    pub latency_requests: u32,
    /// The bound on p99 latency, from the intended send time.
    pub p99_bound: Duration,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Paths of the operations to certify (partner roles); all of the
    /// role's when empty. A certificate with fewer says so.
    pub operations: Vec<String>,
}

impl CertifyOptions {
    /// The defaults of the command line for `role` at `target`.
    pub fn new(role: Role, target: impl Into<String>, out_dir: PathBuf) -> Self {
        Self {
            role,
            target: target.into(),
            partner_id: None,
            signing_key: None,
            token: None,
            tokens_for: Vec::new(),
            out_dir,
            seed: 1,
            callback: CallbackListen::Addr(SocketAddr::from(([127, 0, 0, 1], DEFAULT_CALLBACK_PORT))),
            callback_wait: Duration::from_secs(10),
            rate_per_s: 20.0,
            latency_requests: 300,
            p99_bound: Duration::from_millis(1000),
            request_timeout: Duration::from_secs(10),
            operations: Vec::new(),
        }
    }
}

/// Default port of the callback listener.
pub const DEFAULT_CALLBACK_PORT: u16 = 7400;

/// The roles that can be certified.
pub const CERTIFIABLE: [Role; 4] = [Role::Supplier, Role::Wms, Role::Erp, Role::Core];

/// Why a certification produced no verdict.
#[derive(Debug, thiserror::Error)]
pub enum CertifyError {
    #[error("{0}")]
    BadInput(String),
    #[error("target {target} is unreachable: {message}")]
    Unreachable { target: String, message: String },
    #[error("failed to {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl CertifyError {
    /// The documented exit code: 2 unreachable or bad input, 3 the harness's own failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CertifyError::BadInput(_) | CertifyError::Unreachable { .. } => crate::exit::BAD_INPUT,
            CertifyError::Io { .. } => crate::exit::INFRASTRUCTURE,
        }
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> CertifyError {
    move |source| CertifyError::Io { what, source }
}

/// Runs the role's suite against the target and writes the evidence.
pub async fn certify(opts: CertifyOptions) -> Result<Certificate, CertifyError> {
    if !CERTIFIABLE.contains(&opts.role) {
        return Err(CertifyError::BadInput(format!(
            "--role {}: expected supplier, wms, erp or core",
            opts.role
        )));
    }
    let url = opts.target.trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "http://".len() {
        return Err(CertifyError::BadInput(format!(
            "--target {:?}: expected an http:// or https:// base URL",
            opts.target
        )));
    }
    if opts.rate_per_s <= 0.0 || !opts.rate_per_s.is_finite() {
        return Err(CertifyError::BadInput(format!(
            "--rate {}: expected a positive number of requests per second",
            opts.rate_per_s
        )));
    }
    let scope = resolve_scope(opts.role, &opts.operations)?;
    let signing_key = match &opts.signing_key {
        Some(path) => Some(manifest::read_signing_key(path).map_err(CertifyError::BadInput)?),
        None => None,
    };
    let started_us = now_us();
    std::fs::create_dir_all(&opts.out_dir).map_err(io(format!("create {}", opts.out_dir.display())))?;
    let exchanges = opts.out_dir.join("exchanges.jsonl");
    let recorder = Recorder::create(&exchanges).map_err(io(format!("create {}", exchanges.display())))?;
    let client = client::TargetClient::new(
        url,
        opts.token.clone(),
        recorder.clone(),
        opts.role,
        opts.request_timeout,
    )
    .with_caller_tokens(opts.tokens_for.clone());
    if let Err(message) = client.reachable().await {
        return Err(CertifyError::Unreachable {
            target: url.to_owned(),
            message,
        });
    }
    let docs = docs::DocGen::new(opts.seed);

    // The receiving side, for roles that call back.
    let calls_back = opts.role != Role::Erp;
    let mut callback_server = None;
    let received = Arc::new(callback::Received::default());
    if calls_back {
        let listener = match opts.callback {
            CallbackListen::Listener(l) => l,
            CallbackListen::Addr(addr) => {
                std::net::TcpListener::bind(addr).map_err(io(format!("listen for callbacks on {addr}")))?
            }
        };
        listener
            .set_nonblocking(true)
            .map_err(io("use the callback listener".into()))?;
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(io("use the callback listener".into()))?;
        let app = callback::app(opts.role, received.clone(), recorder.clone(), docs);
        callback_server =
            Some(simulators::serve_plain(listener, app).map_err(io("serve the callback listener".into()))?);
    }

    let ctx = suite::Suite {
        role: opts.role,
        client: client.clone(),
        docs,
        validator: Arc::new(contracts::Validator::new()),
        received: calls_back.then(|| received.clone()),
        callback_wait: opts.callback_wait,
        rate_per_s: opts.rate_per_s,
        latency_requests: opts.latency_requests,
        p99_bound: opts.p99_bound,
        scope: scope.clone(),
    };
    let outcome = ctx.run().await;

    if let Some(server) = callback_server {
        server
            .stop()
            .await
            .map_err(io("stop the callback listener".into()))?;
    }
    recorder
        .flush()
        .await
        .map_err(io(format!("write {}", exchanges.display())))?;

    let judged = Judged {
        url,
        started_us,
        full_scope: scope.is_empty(),
        outcome,
    };
    let certificate = certificate_of(opts.role, opts.partner_id.clone(), opts.seed, judged);
    write_evidence(&certificate, &opts.out_dir, signing_key.as_ref())?;
    Ok(certificate)
}

/// What a run produced against its target.
struct Judged<'a> {
    url: &'a str,
    started_us: u64,
    full_scope: bool,
    outcome: suite::SuiteOutcome,
}

/// The certificate of `role` (declared `partner_id`, `seed`) for `judged`.
fn certificate_of(role: Role, partner_id: Option<String>, seed: u64, judged: Judged<'_>) -> Certificate {
    let Judged {
        url,
        started_us,
        full_scope,
        outcome,
    } = judged;
    let certified = outcome.checks.iter().all(|c| c.status != Status::Fail);
    Certificate {
        format: CERTIFICATE_FORMAT.into(),
        crossdock: BuildRef::current(),
        suite_version: SUITE_VERSION.into(),
        role,
        contract: contract_ref(role),
        // The ERP calls nothing back.
        counterpart_contracts: if role == Role::Erp {
            Vec::new()
        } else {
            callback::counterparts(role)
                .iter()
                .map(|r| contract_ref(*r))
                .collect()
        },
        target: url.to_owned(),
        partner_id,
        seed,
        date: simulators::rfc3339_utc(started_us),
        duration_ms: now_us().saturating_sub(started_us) / 1000,
        certified,
        operations: outcome.operations,
        scope_complete: full_scope,
        requests_sha256: outcome.requests_sha256,
        requests_sent: outcome.requests_sent,
        latency: outcome.latency,
        checks: outcome.checks,
        exchanges: "exchanges.jsonl".into(),
    }
}

/// The operations `--operation` names, each one of the role's.
fn resolve_scope(
    role: Role,
    paths: &[String],
) -> Result<Vec<&'static contracts::routes::Operation>, CertifyError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    if role == Role::Core {
        return Err(CertifyError::BadInput(
            "--operation applies to partner roles; the core's suite runs its inbound flow".into(),
        ));
    }
    let mut scope = Vec::new();
    for path in paths {
        let op = contracts::routes::OPERATIONS
            .iter()
            .find(|o| o.role == role && o.path == path.as_str())
            .ok_or_else(|| {
                let known: Vec<&str> = contracts::routes::OPERATIONS
                    .iter()
                    .filter(|o| o.role == role)
                    .map(|o| o.path)
                    .collect();
                CertifyError::BadInput(format!(
                    "--operation {path}: not an operation of the {role} contract; expected one of {}",
                    known.join(", ")
                ))
            })?;
        if !scope.contains(&op) {
            scope.push(op);
        }
    }
    let all = contracts::routes::OPERATIONS
        .iter()
        .filter(|o| o.role == role)
        .count();
    if scope.len() == all {
        scope.clear();
    }
    Ok(scope)
}

/// Writes certificate.json, junit.xml and report.html into `dir`, then
/// manifest.json over them and exchanges.jsonl (signed into manifest.sig
/// with `key`).
pub fn write_evidence(
    certificate: &Certificate,
    dir: &Path,
    key: Option<&ed25519_dalek::SigningKey>,
) -> Result<(), CertifyError> {
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(format!("write {}", path.display())))
    };
    let json = serde_json::to_string_pretty(certificate).expect("a certificate serializes");
    write("certificate.json", json + "\n")?;
    write("junit.xml", junit(certificate))?;
    write("report.html", render_html(certificate))?;
    manifest::write(dir, key).map_err(io(format!("write {}", dir.join("manifest.json").display())))?;
    Ok(())
}

/// The default output directory of `role`.
pub fn default_out_dir(role: Role) -> PathBuf {
    PathBuf::from("target/crossdock/certify").join(role.as_str())
}
