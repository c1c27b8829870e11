//! `crossdock certify`: the simulators and the reference core are
//! certified; deliberately broken partners are not, and the failed checks
//! name their flaw; an unreachable target is exit 2.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use contracts::routes::OPERATIONS;
use contracts::{Problem, Role, Validator};
use harness::certify::{CallbackListen, Certificate, CertifyError, CertifyOptions, Status, certify};
use simulators::faults::FaultSet;
use simulators::recorder::Recorder;

/// Options for a fast run: a short latency phase, a bounded callback wait.
fn options(role: Role, target: &str, out: &Path) -> CertifyOptions {
    let mut o = CertifyOptions::new(role, target, out.to_owned());
    o.rate_per_s = 50.0;
    o.latency_requests = 10;
    o.callback_wait = Duration::from_secs(8);
    o.p99_bound = Duration::from_secs(2);
    o.callback = CallbackListen::Listener(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    o
}

/// A callback listener bound now, so the target can be told its URL first.
fn callback_listener() -> (std::net::TcpListener, String) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (l, url)
}

fn status_of(c: &Certificate, name: &str) -> Status {
    c.check(name).unwrap_or_else(|| panic!("no check {name}")).status
}

fn assert_certified(c: &Certificate) {
    let failed: Vec<String> = c
        .checks
        .iter()
        .filter(|k| k.status == Status::Fail)
        .map(|k| format!("{}: {}", k.name, k.detail))
        .collect();
    assert!(c.certified && failed.is_empty(), "not certified: {failed:#?}");
}

async fn serve(app: Router) -> simulators::Server {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    simulators::serve_plain(l, app).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_supplier_is_certified_and_its_callbacks_checked() {
    let _turn = crate::scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let (listener, callback_url) = callback_listener();
    let recorder = Recorder::create(&dir.path().join("supplier.jsonl")).unwrap();
    let supplier = simulators::supplier::SupplierSim::new(
        simulators::supplier::SupplierConfig {
            core_url: callback_url,
            seed: 3,
            ack_delay: Duration::from_millis(20),
            asn_delay: Duration::from_millis(20),
            asn_copies: (1, 1),
            concurrent_copies: false,
        },
        recorder,
        FaultSet::new(3),
    );
    let app = simulators::auth::require_bearer(simulators::supplier::app(supplier), Some("s3cret"));
    let server = serve(app).await;
    let out = dir.path().join("out");
    let mut opts = options(Role::Supplier, &server.url(), &out);
    opts.callback = CallbackListen::Listener(listener);
    opts.token = Some("s3cret".into());
    let c = certify(opts).await.unwrap();
    server.stop().await.unwrap();

    assert_certified(&c);
    for name in [
        "conformance.status-documented",
        "conformance.response-valid",
        "idempotency.replay-same-result",
        "idempotency.key-reuse-different-body-422",
        "idempotency.concurrent-duplicate",
        "errors.invalid-document-4xx-problem",
        "errors.unknown-id-404",
        "errors.missing-auth-401",
        "callbacks.received",
        "callbacks.valid",
        "callbacks.consistent",
        "idempotency.one-effect",
        "sequences.documented-transitions",
        "inputs.utf8-and-boundaries",
        "latency.p99",
    ] {
        assert_eq!(status_of(&c, name), Status::Pass, "{name}");
    }
    // Nothing was rate limited, and the certificate does not pretend otherwise.
    assert_eq!(status_of(&c, "rate-limit.retry-after-on-429"), Status::Skipped);
    let received = c.check("callbacks.received").unwrap();
    assert!(
        received
            .cases
            .iter()
            .any(|k| k.subject.starts_with("advance ship notice")),
        "{received:?}"
    );
    assert_evidence(&c, &out, "supplier");
}

/// The evidence files exist and hold what the certificate says.
fn assert_evidence(c: &Certificate, out: &Path, role: &str) {
    use sha2::Digest;
    let cert: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("certificate.json")).unwrap()).unwrap();
    assert_eq!(cert["format"], "crossdock.certificate.v1");
    assert_eq!(cert["role"], role);
    assert_eq!(cert["certified"], c.certified);
    let committed = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../contracts/openapi/{role}.json")),
    )
    .unwrap();
    assert_eq!(
        cert["contract"]["sha256"],
        format!("{:x}", sha2::Sha256::digest(&committed))
    );
    assert_eq!(cert["checks"].as_array().unwrap().len(), c.checks.len());
    for check in cert["checks"].as_array().unwrap() {
        assert!(
            ["pass", "fail", "skipped"].contains(&check["status"].as_str().unwrap()),
            "{check}"
        );
        assert!(!check["detail"].as_str().unwrap().is_empty(), "{check}");
    }

    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&junit).unwrap();
    let suite = &parsed.test_suites[0];
    assert_eq!(suite.test_cases.len(), c.checks.len());
    assert_eq!(
        suite.failures,
        c.checks.iter().filter(|k| k.status == Status::Fail).count()
    );

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&html);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("report.html is not well-formed: {e}"),
        }
    }
    // Self-contained: no scripts, styles or images from elsewhere.
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains(" src="));

    let exchanges = std::fs::read_to_string(out.join("exchanges.jsonl")).unwrap();
    let records: Vec<contracts::Exchange> = exchanges
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        records.len() as u64 >= c.requests_sent,
        "{} < {}",
        records.len(),
        c.requests_sent
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_wms_is_certified_with_its_receipts() {
    let _turn = crate::scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let (listener, callback_url) = callback_listener();
    let wms = simulators::wms::WmsSim::new(
        simulators::wms::WmsConfig {
            core_url: callback_url,
            receipt_delay: Duration::from_millis(20),
            receiving: Default::default(),
            seed: 5,
        },
        Recorder::create(&dir.path().join("wms.jsonl")).unwrap(),
        FaultSet::new(5),
    );
    let server = serve(simulators::wms::app(wms)).await;
    let mut opts = options(Role::Wms, &server.url(), &dir.path().join("out"));
    opts.callback = CallbackListen::Listener(listener);
    let c = certify(opts).await.unwrap();
    server.stop().await.unwrap();
    assert_certified(&c);
    for name in [
        "callbacks.received",
        "callbacks.consistent",
        "idempotency.one-effect",
        "sequences.documented-transitions",
        "inputs.utf8-and-boundaries",
    ] {
        assert_eq!(status_of(&c, name), Status::Pass, "{name}");
    }
    assert!(c.scope_complete);
    // No token was given: the auth check says so rather than passing.
    let auth = c.check("errors.missing-auth-401").unwrap();
    assert_eq!(auth.status, Status::Skipped);
    assert!(auth.detail.contains("--token"), "{}", auth.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_erp_is_certified_with_a_bearer_token() {
    let _turn = crate::scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let erp = simulators::erp::ErpSim::new(
        "http://127.0.0.1:9",
        Recorder::create(&dir.path().join("erp.jsonl")).unwrap(),
        FaultSet::new(1),
    );
    let app = simulators::auth::require_bearer(simulators::erp::app(erp), Some("t0ken"));
    let server = serve(app).await;
    let mut opts = options(Role::Erp, &server.url(), &dir.path().join("out"));
    opts.token = Some("t0ken".into());
    let c = certify(opts).await.unwrap();
    server.stop().await.unwrap();
    assert_certified(&c);
    assert_eq!(status_of(&c, "errors.missing-auth-401"), Status::Pass);
    assert_eq!(status_of(&c, "callbacks.received"), Status::Skipped);
    // Every operation of the ERP contract, the inventory snapshot (a GET)
    // included.
    assert!(c.scope_complete);
    let all = contracts::routes::OPERATIONS
        .iter()
        .filter(|o| o.role == Role::Erp)
        .count();
    assert_eq!(c.operations.len(), all);
    assert!(c.operations.contains(&"GET /v1/inventory-snapshot".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_core_is_certified_playing_its_partners() {
    let _turn = crate::scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let (listener, callback_url) = callback_listener();
    let partners = integration_core::Partners {
        erp: callback_url.clone(),
        wms: callback_url.clone(),
        supplier: callback_url,
    };
    let mut config = integration_core::CoreConfig::new(dir.path().join("core.sqlite"), partners);
    // The core binds each token to one caller; certify sends each request
    // with the token of the role that calls its path.
    use integration_core::Caller;
    let supplier_gln = "5060000000016";
    config.credentials = integration_core::Credentials::default()
        .with("certify-erp-token-0001", Caller::Erp)
        .with("certify-wms-token-0001", Caller::Wms)
        .with(
            "certify-supplier-token-01",
            Caller::Supplier {
                gln: supplier_gln.into(),
            },
        )
        .with("certify-ops-token-000001", Caller::Ops);
    let core_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let core = integration_core::start(config, core_l).unwrap();
    let mut opts = options(Role::Core, &core.url(), &dir.path().join("out"));
    opts.callback = CallbackListen::Listener(listener);
    opts.tokens_for = vec![
        (Role::Erp, "certify-erp-token-0001".into()),
        (Role::Wms, "certify-wms-token-0001".into()),
        (Role::Supplier, "certify-supplier-token-01".into()),
        (Role::Core, "certify-ops-token-000001".into()),
    ];
    let c = certify(opts).await.unwrap();
    core.stop().await;
    assert_certified(&c);
    let received = c.check("callbacks.received").unwrap();
    assert_eq!(received.status, Status::Pass, "{received:?}");
    for step in [
        "delivered to the supplier",
        "acknowledgement",
        "delivered to the WMS",
        "goods receipt",
        "order release",
        "shipment",
        "inventory adjustment",
        "match result of invoice",
    ] {
        assert!(
            received.cases.iter().any(|k| k.subject.contains(step)),
            "{step}: {received:?}"
        );
    }
    // Every operation of the core's contract got a valid document (or, for
    // the operations endpoints, a valid request) and a documented answer,
    // and the idempotency checks ran on every intake.
    let core_ops: Vec<String> = OPERATIONS
        .iter()
        .filter(|o| o.role == Role::Core)
        .map(|o| format!("{} {}", o.method, o.path))
        .chain(
            contracts::openapi::OPS_OPERATIONS
                .iter()
                .map(|o| format!("{} {}", o.method, o.path)),
        )
        .collect();
    assert_eq!(c.operations.len(), core_ops.len(), "{:?}", c.operations);
    for name in [
        "conformance.status-documented",
        "conformance.response-valid",
        "idempotency.replay-same-result",
        "idempotency.key-reuse-different-body-422",
        "idempotency.concurrent-duplicate",
        "idempotency.one-effect",
        "idempotency.missing-key-400",
        "errors.unknown-id-404",
        "errors.missing-auth-401",
    ] {
        let check = c.check(name).unwrap();
        assert_eq!(check.status, Status::Pass, "{check:?}");
        for op in OPERATIONS.iter().filter(|o| o.role == Role::Core) {
            // One-effect cases name what the core forwarded (below).
            if [
                "errors.unknown-id-404",
                "errors.missing-auth-401",
                "idempotency.one-effect",
            ]
            .contains(&name)
            {
                continue;
            }
            assert!(
                check
                    .cases
                    .iter()
                    .any(|k| k.subject == format!("POST {}", op.path)),
                "{name} has no case for {}: {check:?}",
                op.path
            );
        }
    }
    // Each forward of a first request stayed one effect after its replay,
    // and each forward of concurrent copies was made once.
    let once = c.check("idempotency.one-effect").unwrap();
    for what in [
        "shipment",
        "order release",
        "match result",
        "inventory adjustment",
    ] {
        assert!(
            once.cases.iter().any(|k| k.subject.contains(what)),
            "{what}: {once:?}"
        );
    }
    let documented = c.check("conformance.status-documented").unwrap();
    for ops in ["GET /v1/ops/status", "GET /metrics", "GET /v1/trace/"] {
        assert!(
            documented.cases.iter().any(|k| k.subject.starts_with(ops)),
            "{ops}: {documented:?}"
        );
    }
    assert!(
        !documented.detail.contains("not exercised"),
        "{}",
        documented.detail
    );
    assert_evidence(&c, &dir.path().join("out"), "core");
}

/// How a hand-built partner (playing the ERP) is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flaw {
    None,
    /// Every request is a new effect, whatever its Idempotency-Key.
    NotIdempotent,
    /// Success answers that break the response schema.
    SchemaInvalidBodies,
    /// 500 for a document it cannot take.
    ServerErrorOnBadInput,
    /// One 429 (its fifth request), with or without Retry-After.
    RateLimitedOnce {
        retry_after: bool,
    },
    /// 1.5 s for one latency-phase request in 20 once 60 came: rare enough
    /// that a 40-request latency phase does not see it.
    SlowSometimes,
}

#[derive(Debug)]
struct Partner {
    flaw: Flaw,
    validator: Validator,
    counter: AtomicU64,
    requests: AtomicU64,
    /// Latency-phase requests seen.
    timed: AtomicU64,
    stored: Mutex<HashMap<String, (Bytes, u16, Value)>>,
}

fn problem(status: u16, slug: &str) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(Problem::new(status, slug, slug).with_detail(format!("refused: {slug}"))),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

async fn partner_handler(
    State(p): State<Arc<Partner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(op) = OPERATIONS
        .iter()
        .find(|o| o.role == Role::Erp && o.method == method.as_str() && o.path == uri.path())
    else {
        return problem(404, "not-found");
    };
    let n = p.requests.fetch_add(1, Ordering::SeqCst);
    // The suite's latency phase sends keys ending in "-latency".
    let timed = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|k| k.ends_with("-latency"));
    if p.flaw == Flaw::SlowSometimes && timed {
        let t = p.timed.fetch_add(1, Ordering::SeqCst);
        if t >= 60 && t % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
    }
    if method == Method::GET {
        return axum::Json(json!({
            "snapshot_id": "SNAP-ERP-1", "source": "erp", "warehouse_gln": "5060000000023",
            "taken_at": "2026-11-22T23:59:59Z", "positions": [],
        }))
        .into_response();
    }
    if let Flaw::RateLimitedOnce { retry_after } = p.flaw
        && n == 4
    {
        let mut r = problem(429, "too-many-requests");
        if retry_after {
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
        }
        return r;
    }
    let valid = serde_json::from_slice::<Value>(&body)
        .ok()
        .is_some_and(|d| p.validator.validate(op.request, &d).unwrap().is_empty());
    if !valid {
        return match p.flaw {
            Flaw::ServerErrorOnBadInput => problem(500, "internal-error"),
            _ => problem(422, "invalid-document"),
        };
    }
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) else {
        return problem(400, "idempotency-key-missing");
    };
    let status = op.success[0];
    let mut stored = p.stored.lock().unwrap();
    if p.flaw != Flaw::NotIdempotent
        && let Some((first, status, answer)) = stored.get(key)
    {
        return if *first == body {
            (StatusCode::from_u16(*status).unwrap(), axum::Json(answer.clone())).into_response()
        } else {
            problem(422, "idempotency-key-reused")
        };
    }
    let n = p.counter.fetch_add(1, Ordering::SeqCst);
    let answer = match p.flaw {
        Flaw::SchemaInvalidBodies => json!({ "unexpected": [n] }),
        _ => json!({ "reference": format!("REF-{n}") }),
    };
    stored.insert(key.to_owned(), (body, status, answer.clone()));
    (StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response()
}

fn partner(flaw: Flaw) -> Router {
    Router::new()
        .fallback(partner_handler)
        .with_state(Arc::new(Partner {
            flaw,
            validator: Validator::new(),
            counter: AtomicU64::new(1),
            requests: AtomicU64::new(0),
            timed: AtomicU64::new(0),
            stored: Mutex::default(),
        }))
}

/// Certifies a hand-built ERP with `flaw`; returns the certificate.
async fn certify_partner(flaw: Flaw, seed: u64, token: Option<&str>) -> Certificate {
    let dir = tempfile::tempdir().unwrap();
    certify_partner_into(flaw, &dir.path().join("out"), |o| {
        o.seed = seed;
        o.token = token.map(str::to_owned);
    })
    .await
}

/// Certifies a hand-built ERP with `flaw` and options changed by `tweak`,
/// the evidence into `out`.
async fn certify_partner_into(
    flaw: Flaw,
    out: &Path,
    tweak: impl FnOnce(&mut CertifyOptions),
) -> Certificate {
    let server = serve(partner(flaw)).await;
    let mut opts = options(Role::Erp, &server.url(), out);
    tweak(&mut opts);
    let c = certify(opts).await.unwrap();
    server.stop().await.unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_checks_are_named_with_the_option_that_runs_them_in_every_rendering() {
    let _turn = crate::scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A partner that checks no token at all: without --token it passes,
    // and every rendering says that authentication was not judged.
    let c = certify_partner_into(Flaw::None, &out, |o| o.partner_id = Some("5060000000030".into())).await;
    assert_certified(&c);
    let auth = c.check("errors.missing-auth-401").unwrap();
    assert_eq!(auth.status, Status::Skipped);
    assert_eq!(auth.enable.as_deref(), Some("--token T"));
    let wanted = "errors.missing-auth-401 (enable with --token T)";
    let terminal = harness::certify::render_terminal(&c);
    let verdict = terminal.lines().find(|l| l.starts_with("CERTIFIED")).unwrap();
    assert!(verdict.contains(wanted), "{terminal}");
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let junit = read("junit.xml");
    let case = junit
        .split("<testcase")
        .find(|c| c.contains("name=\"errors.missing-auth-401\""))
        .unwrap();
    assert!(
        case.contains("<skipped") && case.contains("(enable with --token T)"),
        "{case}"
    );
    assert!(read("report.html").contains(wanted));
    let cert: Value = serde_json::from_str(&read("certificate.json")).unwrap();
    let check = cert["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "errors.missing-auth-401")
        .unwrap();
    assert_eq!(check["enable"], "--token T");
    // Who judged, what, and whom.
    assert_eq!(cert["partner_id"], "5060000000030");
    assert_eq!(cert["suite_version"], harness::certify::SUITE_VERSION);
    assert_eq!(cert["crossdock"]["version"], env!("CARGO_PKG_VERSION"));
    let commit = cert["crossdock"]["git_commit"].as_str().unwrap();
    assert!(
        commit == "unknown" || (commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    // With a token the same partner is refused: the skip hid a real gap.
    let c = certify_partner(Flaw::None, 1, Some("expected")).await;
    assert_eq!(failed(&c), ["errors.missing-auth-401"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rarely_slow_partner_is_refused_by_a_sample_large_enough_for_p99() {
    let _turn = crate::scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    // The old default, 40 requests, misses it and says how little that proves.
    let c = certify_partner_into(Flaw::SlowSometimes, &dir.path().join("small"), |o| {
        o.latency_requests = 40;
        o.rate_per_s = 200.0;
        o.p99_bound = Duration::from_millis(1000);
    })
    .await;
    assert_certified(&c);
    let small = c.latency.clone().unwrap();
    assert_eq!(small.p99_upper_95_ms, None);
    assert!(small.confidence < 0.34, "{small:?}");
    let said = |c: &Certificate, what: &str| {
        c.check("latency.p99")
            .unwrap()
            .cases
            .iter()
            .any(|k| k.detail.contains(what))
    };
    assert!(said(&c, "--latency-requests"), "{:?}", c.check("latency.p99"));
    // The default sample (300) bounds p99 with 95 % confidence: refused.
    let c = certify_partner_into(Flaw::SlowSometimes, &dir.path().join("default"), |o| {
        o.latency_requests = CertifyOptions::new(Role::Erp, "http://x", dir.path().into()).latency_requests;
        o.rate_per_s = 200.0;
        o.p99_bound = Duration::from_millis(1000);
    })
    .await;
    assert_eq!(failed(&c), ["latency.p99"]);
    let l = c.latency.clone().unwrap();
    assert!(l.requests >= 299 && l.p99_upper_95_ms.unwrap() >= 1500.0, "{l:?}");
    assert!(said(&c, "with 95 % confidence"), "{:?}", c.check("latency.p99"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certify_verify_tells_an_intact_bundle_from_an_edited_one() {
    let _turn = crate::scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let key_file = dir.path().join("signing.key");
    std::fs::write(&key_file, "2a".repeat(32)).unwrap();
    let key = harness::certify::manifest::read_signing_key(&key_file).unwrap();
    let public = harness::certify::manifest::public_key_hex(&key);
    certify_partner_into(Flaw::None, &out, |o| o.signing_key = Some(key_file.clone())).await;
    let verify = |dir: &Path, public_key: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_crossdock"));
        cmd.args(["certify", "verify"]).arg(dir);
        if let Some(k) = public_key {
            cmd.args(["--public-key", k]);
        }
        let o = cmd.output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let (code, said) = verify(&out, Some(&public));
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains(&format!("signed by ed25519 key {public}")),
        "{said}"
    );
    // Someone else's key: refused.
    let other = "11".repeat(32);
    assert_eq!(verify(&out, Some(&other)).0, Some(1));
    // An edited certificate.
    let path = out.join("certificate.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("\"seed\": 1", "\"seed\": 2", 1);
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    let (code, said) = verify(&out, None);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("certificate.json"), "{said}");
    std::fs::remove_file(out.join("manifest.json")).unwrap();
    assert_eq!(verify(&out, None).0, Some(2));
}

fn failed(c: &Certificate) -> Vec<&str> {
    let mut f = c.failed();
    f.sort();
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_partners_fail_with_the_checks_that_name_their_flaw() {
    let _turn = crate::scenario_turn().await;
    // The same partner without a flaw passes: each failure below is its flaw's.
    assert_certified(&certify_partner(Flaw::None, 1, None).await);

    let c = certify_partner(Flaw::NotIdempotent, 1, None).await;
    assert!(!c.certified);
    assert_eq!(
        failed(&c),
        [
            "idempotency.concurrent-duplicate",
            "idempotency.key-reuse-different-body-422",
            "idempotency.replay-same-result",
        ]
    );

    let c = certify_partner(Flaw::SchemaInvalidBodies, 1, None).await;
    assert_eq!(failed(&c), ["conformance.response-valid"]);
    let detail = &c.check("conformance.response-valid").unwrap().detail;
    assert!(detail.contains("PartnerAck"), "{detail}");

    let c = certify_partner(Flaw::ServerErrorOnBadInput, 1, None).await;
    assert_eq!(failed(&c), ["errors.invalid-document-4xx-problem"]);
    let detail = &c.check("errors.invalid-document-4xx-problem").unwrap().detail;
    assert!(detail.contains("got status 500"), "{detail}");

    // A partner that checks no token fails the auth check when one is given.
    let c = certify_partner(Flaw::None, 1, Some("expected")).await;
    assert_eq!(failed(&c), ["errors.missing-auth-401"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_must_carry_retry_after_and_is_waited_out() {
    let _turn = crate::scenario_turn().await;
    let c = certify_partner(Flaw::RateLimitedOnce { retry_after: true }, 1, None).await;
    assert_certified(&c);
    let check = c.check("rate-limit.retry-after-on-429").unwrap();
    assert_eq!(check.status, Status::Pass, "{check:?}");
    assert_eq!(check.cases.len(), 1);

    let c = certify_partner(Flaw::RateLimitedOnce { retry_after: false }, 1, None).await;
    assert_eq!(failed(&c), ["rate-limit.retry-after-on-429"]);
    assert!(
        c.check("rate-limit.retry-after-on-429")
            .unwrap()
            .detail
            .contains("without Retry-After")
    );
}

#[test]
fn a_simulator_started_with_a_token_refuses_requests_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("erp.jsonl");
    let (child, url) = crate::spawn_server(&[
        "simulate".as_ref(),
        "--role".as_ref(),
        "erp".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--token".as_ref(),
        "s3cret".as_ref(),
        "--history".as_ref(),
        history.as_os_str(),
    ]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (without, wrong, with) = runtime.block_on(async {
        let c = reqwest::Client::new();
        let ack = contracts::routes::erp::PO_ACKNOWLEDGEMENTS;
        let body = harness::certify::docs::DocGen::new(1)
            .document("PoAcknowledgement", 1)
            .unwrap();
        let send = |token: Option<&'static str>| {
            let mut r = c
                .post(format!("{url}{ack}"))
                .header("idempotency-key", "k1")
                .json(&body);
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send()
        };
        let without = send(None).await.unwrap();
        let content_type = without.headers()["content-type"].to_str().unwrap().to_owned();
        (
            (without.status().as_u16(), content_type),
            send(Some("other")).await.unwrap().status().as_u16(),
            send(Some("s3cret")).await.unwrap().status().as_u16(),
        )
    });
    assert_eq!(crate::interrupt(child), Some(0));
    assert_eq!(without, (401, "application/problem+json".to_owned()));
    assert_eq!((wrong, with), (401, 201));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_repeats_the_same_requests() {
    let _turn = crate::scenario_turn().await;
    let keys = |c: &Certificate| c.requests_sha256.clone();
    let (a, b, other) = (
        certify_partner(Flaw::None, 9, None).await,
        certify_partner(Flaw::None, 9, None).await,
        certify_partner(Flaw::None, 10, None).await,
    );
    assert_eq!(a.requests_sent, b.requests_sent);
    assert_eq!(keys(&a), keys(&b));
    assert_ne!(keys(&a), keys(&other));
}

#[tokio::test]
async fn an_unreachable_target_is_an_error_not_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = options(Role::Erp, &format!("http://127.0.0.1:{port}"), dir.path());
    let e = certify(opts).await.unwrap_err();
    assert!(matches!(e, CertifyError::Unreachable { .. }), "{e}");
    assert_eq!(e.exit_code(), 2);
    let bad = options(Role::Erp, "ftp://example", dir.path());
    assert_eq!(certify(bad).await.unwrap_err().exit_code(), 2);
    let mut bad = options(Role::Erp, "http://127.0.0.1:9", dir.path());
    bad.operations = vec!["/v1/asns".into()];
    let e = certify(bad).await.unwrap_err();
    assert!(
        e.to_string().contains("not an operation of the erp contract"),
        "{e}"
    );
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn the_binary_exits_2_for_an_unreachable_target() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crossdock"))
        .args(["certify", "--role", "supplier", "--target"])
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unreachable"), "{stderr}");
}

/// A core whose order-release answers break their schema: the reference
/// core behind a proxy that drops `decided_at` from every decision.
#[derive(Clone)]
struct BrokenCore {
    upstream: String,
    http: reqwest::Client,
}

async fn broken_core_handler(
    State(p): State<BrokenCore>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!("{}{}", p.upstream, uri);
    let mut req = p
        .http
        .request(
            reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
            url,
        )
        .body(body);
    for (name, value) in &headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            req = req.header(name.as_str(), value.as_bytes());
        }
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").cloned();
    let mut bytes = resp.bytes().await.unwrap().to_vec();
    if uri.path() == contracts::routes::core::ORDER_RELEASES && status == 200 {
        let mut v: Value = serde_json::from_slice(&bytes).unwrap();
        v.as_object_mut().unwrap().remove("decided_at");
        bytes = serde_json::to_vec(&v).unwrap();
    }
    let mut r = (StatusCode::from_u16(status).unwrap(), bytes).into_response();
    if let Some(ct) = content_type {
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_bytes(ct.as_bytes()).unwrap(),
        );
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_answering_order_releases_with_invalid_decisions_is_not_certified() {
    let _turn = crate::scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let (listener, callback_url) = callback_listener();
    let partners = integration_core::Partners {
        erp: callback_url.clone(),
        wms: callback_url.clone(),
        supplier: callback_url,
    };
    let mut config = integration_core::CoreConfig::new(dir.path().join("core.sqlite"), partners);
    use integration_core::Caller;
    config.credentials = integration_core::Credentials::default()
        .with("certify-erp-token-0001", Caller::Erp)
        .with("certify-wms-token-0001", Caller::Wms)
        .with(
            "certify-supplier-token-01",
            Caller::Supplier {
                gln: "5060000000016".into(),
            },
        )
        .with("certify-ops-token-000001", Caller::Ops);
    let core_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let core = integration_core::start(config, core_l).unwrap();
    let proxy = serve(
        Router::new()
            .fallback(broken_core_handler)
            .with_state(BrokenCore {
                upstream: core.url(),
                http: reqwest::Client::new(),
            }),
    )
    .await;
    let mut opts = options(Role::Core, &proxy.url(), &dir.path().join("out"));
    opts.callback = CallbackListen::Listener(listener);
    opts.tokens_for = vec![
        (Role::Erp, "certify-erp-token-0001".into()),
        (Role::Wms, "certify-wms-token-0001".into()),
        (Role::Supplier, "certify-supplier-token-01".into()),
        (Role::Core, "certify-ops-token-000001".into()),
    ];
    let c = certify(opts).await.unwrap();
    proxy.stop().await.unwrap();
    core.stop().await;
    assert!(!c.certified);
    let why: Vec<String> = c
        .checks
        .iter()
        .filter(|k| k.status == Status::Fail)
        .map(|k| format!("{}: {}", k.name, k.detail))
        .collect();
    assert_eq!(failed(&c), ["conformance.response-valid"], "{why:#?}");
    let check = c.check("conformance.response-valid").unwrap();
    let bad: Vec<&str> = check
        .cases
        .iter()
        .filter(|k| !k.passed)
        .map(|k| k.subject.as_str())
        .collect();
    assert_eq!(bad, ["POST /v1/order-releases"], "{check:?}");
    assert!(check.detail.contains("OrderReleaseDecision"), "{}", check.detail);
}
