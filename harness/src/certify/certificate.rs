//! The certificate: the one serialize-only type of `certificate.json`, its
//! checks and cases, and the contract it was judged against. The bottom of
//! `certify`: the suite and the evidence renderings import it.

use serde::Serialize;

use contracts::Role;

/// Format tag of `certificate.json`.
pub const CERTIFICATE_FORMAT: &str = "crossdock.certificate.v1";

/// Version of the certification suite: which checks run and what they
/// send. Raised whenever a check is added or judges differently.
pub const SUITE_VERSION: &str = "2";

/// The crossdock build that judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildRef {
    /// The `crossdock` package version.
    pub version: String,
    /// The git commit it was built from (`unknown` outside a checkout).
    pub git_commit: String,
}

impl BuildRef {
    pub fn current() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: option_env!("CROSSDOCK_GIT_COMMIT")
                .unwrap_or("unknown")
                .to_owned(),
        }
    }
}

/// The end of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// Not run or nothing to observe; the detail says why. Does not fail
    /// a certification.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skipped => "skipped",
        }
    }
}

/// One observation of a check: what was tried and what came back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    /// E.g. `POST /v1/purchase-orders`.
    pub subject: String,
    pub passed: bool,
    pub detail: String,
}

/// One named check and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub description: String,
    pub status: Status,
    /// Why it failed or was skipped, or what it covered.
    pub detail: String,
    /// For a check skipped for want of an option: the option that runs it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable: Option<String>,
    pub cases: Vec<Case>,
}

/// The contract a certificate refers to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContractRef {
    /// `info.version` of the role's OpenAPI document.
    pub version: String,
    /// The committed document, e.g. `contracts/openapi/supplier.json`.
    pub openapi: String,
    /// SHA-256 of that document's bytes, hex.
    pub sha256: String,
}

/// p99 latency of the open-model phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencySummary {
    pub requests: u64,
    pub rate_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub bound_ms: f64,
    /// The distribution-free 95 % upper confidence bound of p99 (an order
    /// statistic); absent when the sample is smaller than
    /// `min_requests_for_95`, and then the maximum is judged.
    pub p99_upper_95_ms: Option<f64>,
    /// Confidence that `max_ms` is at least the true p99: 1 - 0.99^n.
    pub confidence: f64,
    pub min_requests_for_95: u32,
    /// Requests that waited out a 429 as Retry-After asked, and for how
    /// long in all: reported apart, not counted in the latencies.
    pub retry_after_waits: u64,
    pub retry_after_wait_ms: f64,
}

/// `certificate.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Certificate {
    /// [`CERTIFICATE_FORMAT`].
    pub format: String,
    /// The crossdock build that ran the suite.
    pub crossdock: BuildRef,
    /// [`SUITE_VERSION`].
    pub suite_version: String,
    pub role: Role,
    pub contract: ContractRef,
    /// The contracts of the roles the target calls back (the harness
    /// validated its callbacks against them).
    pub counterpart_contracts: Vec<ContractRef>,
    pub target: String,
    /// Who the target is, as declared with `--partner-id` (e.g. a GLN).
    pub partner_id: Option<String>,
    pub seed: u64,
    /// RFC 3339 UTC start of the run.
    pub date: String,
    pub duration_ms: u64,
    /// No check failed.
    pub certified: bool,
    /// The role's operations the suite exercised, `METHOD path`.
    pub operations: Vec<String>,
    /// Whether those are all the operations of the role's contract
    /// (`--operation` narrows the scope while a partner is still building).
    pub scope_complete: bool,
    /// SHA-256 over the sorted requests the harness sent (method, path,
    /// Idempotency-Key, body): equal for two runs with the same seed
    /// against targets that answer alike.
    pub requests_sha256: String,
    pub requests_sent: u64,
    pub latency: Option<LatencySummary>,
    pub checks: Vec<CheckResult>,
    /// The recorded exchanges, relative to the certificate.
    pub exchanges: String,
}

impl Certificate {
    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The skipped checks, each as `name (enable with FLAG)` or `name`.
    pub fn skipped(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Skipped)
            .map(|c| match &c.enable {
                Some(flag) => format!("{} (enable with {flag})", c.name),
                None => c.name.clone(),
            })
            .collect()
    }

    /// Names of the failed checks.
    pub fn failed(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name.as_str())
            .collect()
    }
}

/// The committed OpenAPI document of `role` and its path.
fn committed_openapi(role: Role) -> (&'static str, &'static [u8]) {
    match role {
        Role::Supplier => (
            "contracts/openapi/supplier.json",
            include_bytes!("../../../contracts/openapi/supplier.json"),
        ),
        Role::Wms => (
            "contracts/openapi/wms.json",
            include_bytes!("../../../contracts/openapi/wms.json"),
        ),
        Role::Erp => (
            "contracts/openapi/erp.json",
            include_bytes!("../../../contracts/openapi/erp.json"),
        ),
        _ => (
            "contracts/openapi/core.json",
            include_bytes!("../../../contracts/openapi/core.json"),
        ),
    }
}

/// The contract reference of `role`.
pub fn contract_ref(role: Role) -> ContractRef {
    use sha2::Digest;
    let (path, bytes) = committed_openapi(role);
    let version = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|d| d["info"]["version"].as_str().map(str::to_owned))
        .unwrap_or_default();
    ContractRef {
        version,
        openapi: path.to_owned(),
        sha256: format!("{:x}", sha2::Sha256::digest(bytes)),
    }
}
