//! Shared fixtures: a recording partner stub, a core on a temporary SQLite
//! file or PostgreSQL database, a plain HTTP client, document builders and bounded waits.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use contracts::Problem;
use contracts::http::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, TRACEPARENT};
use contracts::ids::with_check_digit;
use contracts::inbound::{
    AckLine, AckLineStatus, AdvanceShipNotice, AsnLine, AsnPurpose, GoodsReceipt, HandlingUnit,
    HandlingUnitLevel, PoAcknowledgement, PoLine, PoLineStatus, PurchaseOrder, ReceiptLine, StockStatus, Uom,
};
use contracts::invoicing::{Invoice, InvoiceLine};
use contracts::problem::PROBLEM_JSON;
use contracts::{Gln, Gtin, Sscc};
use integration_core::{Caller, CoreConfig, CoreHandle, Credentials, OpsStatus, Partners};

/// How long any wait in these tests may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// A port nothing listens on: deliveries to it fail with a network error.
pub const CLOSED: &str = "http://127.0.0.1:9";

// ---------------------------------------------------------------- waits

/// Polls `check` every 10 ms until it holds; panics after [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the core's outbox holds nothing pending and returns its status.
pub async fn quiescent(core: &CoreHandle) -> OpsStatus {
    eventually("an empty outbox", || async {
        status(core).await.outbox_pending == 0
    })
    .await;
    status(core).await
}

/// The value of the sample line `name` (with its labels) in the
/// Prometheus text `text`.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map(|v| v.parse().unwrap())
}

/// Waits until the core has recorded `n` delivery attempts to `partner`
/// (`crossdock_outbox_attempts_total`), i.e. has taken in their answers.
pub async fn attempts_recorded(url: &str, partner: &str, n: f64) {
    let name = format!("crossdock_outbox_attempts_total{{partner=\"{partner}\"}}");
    eventually(&format!("{n} attempts to {partner} recorded"), || async {
        let text = client()
            .get(format!("{url}{}", contracts::routes::core::METRICS))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text");
        sample(&text, &name).is_some_and(|v| v >= n)
    })
    .await;
}

pub async fn status(core: &CoreHandle) -> OpsStatus {
    core.status().await.expect("the core reports its status")
}

/// Stops a core, failing the test if it does not stop within the deadline.
pub async fn stop(core: CoreHandle) {
    tokio::time::timeout(DEADLINE, core.stop())
        .await
        .expect("the core stops within the deadline");
}

// ---------------------------------------------------------------- partner stub

/// One request a stub received.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub idempotency_key: Option<String>,
    pub traceparent: Option<String>,
    /// The raw body, to compare attempts byte for byte.
    pub raw: String,
    pub body: Value,
    pub at: Instant,
}

impl Call {
    /// The trace id of the `traceparent` header, if well formed.
    pub fn trace_id(&self) -> Option<String> {
        let tp = self.traceparent.as_deref()?;
        let parts: Vec<&str> = tp.split('-').collect();
        (parts.len() == 4 && parts[0] == "00").then(|| parts[1].to_owned())
    }
}

/// One scripted answer.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<u64>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
            delay: Duration::ZERO,
        }
    }

    /// Answers `status` only after `delay`.
    pub fn slow(status: u16, delay: Duration) -> Self {
        Self {
            delay,
            ..Self::status(status)
        }
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::status(429)
        }
    }
}

#[derive(Debug, Default)]
struct StubState {
    calls: Mutex<Vec<Call>>,
    /// Answers for the first requests, in order; 201 after that.
    script: Mutex<Vec<Reply>>,
    /// Documents served with 200 on GET, by path (snapshots).
    documents: Mutex<std::collections::HashMap<String, Value>>,
}

/// A partner (ERP, WMS or supplier) on 127.0.0.1 that records every request
/// and answers 201 `{"reference":"x"}` unless scripted otherwise.
#[derive(Debug, Clone)]
pub struct Stub {
    pub url: String,
    state: Arc<StubState>,
}

async fn stub_handler(
    State(state): State<Arc<StubState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let raw = String::from_utf8_lossy(&body).into_owned();
    let call = Call {
        path: uri.path().to_owned(),
        idempotency_key: header(IDEMPOTENCY_KEY),
        traceparent: header(TRACEPARENT),
        body: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
        at: Instant::now(),
    };
    state.calls.lock().unwrap().push(call);
    if let Some(doc) = state.documents.lock().unwrap().get(uri.path()) {
        return (StatusCode::OK, axum::Json(doc.clone())).into_response();
    }
    let reply = {
        let mut script = state.script.lock().unwrap();
        (!script.is_empty()).then(|| script.remove(0))
    };
    match reply {
        None => (StatusCode::CREATED, axum::Json(json!({"reference": "x"}))).into_response(),
        Some(r) => {
            tokio::time::sleep(r.delay).await;
            let status = StatusCode::from_u16(r.status).unwrap();
            let mut resp = (status, axum::Json(json!({"reply": r.status}))).into_response();
            if let Some(secs) = r.retry_after {
                resp.headers_mut()
                    .insert("retry-after", secs.to_string().parse().unwrap());
            }
            resp
        }
    }
}

impl Stub {
    /// A stub that answers 201 to everything.
    pub async fn start() -> Self {
        Self::scripted(Vec::new()).await
    }

    /// A stub that answers `script` to its first requests, then 201.
    pub async fn scripted(script: Vec<Reply>) -> Self {
        let state = Arc::new(StubState {
            calls: Mutex::default(),
            script: Mutex::new(script),
            documents: Mutex::default(),
        });
        let app = Router::new().fallback(stub_handler).with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    /// Answers requests on `path` with 200 and `doc` from now on (not
    /// taking a scripted reply).
    pub fn serve(&self, path: &str, doc: &impl serde::Serialize) {
        let doc = serde_json::to_value(doc).unwrap();
        self.state.documents.lock().unwrap().insert(path.to_owned(), doc);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// The requests received on `path`.
    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.path == path).collect()
    }

    /// Waits until at least `n` requests arrived on `path` and returns them all.
    pub async fn wait_for(&self, path: &str, n: usize) -> Vec<Call> {
        eventually(&format!("{n} request(s) on {path}"), || async {
            self.calls_to(path).len() >= n
        })
        .await;
        self.calls_to(path)
    }
}

/// One stub per partner role.
#[derive(Debug, Clone)]
pub struct Parties {
    pub erp: Stub,
    pub wms: Stub,
    pub supplier: Stub,
}

impl Parties {
    pub async fn start() -> Self {
        Self {
            erp: Stub::start().await,
            wms: Stub::start().await,
            supplier: Stub::start().await,
        }
    }

    pub fn partners(&self) -> Partners {
        partners(&self.erp.url, &self.wms.url, &self.supplier.url)
    }
}

// ---------------------------------------------------------------- core

/// The store engine a test core runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    /// The engine of the cores a test body starts (see [`both_backends!`]).
    static BACKEND: Backend;
}

/// Runs a test body with its cores on `backend`.
pub async fn on_backend<F: Future<Output = ()>>(backend: Backend, body: F) {
    BACKEND.scope(backend, body).await
}

/// The engine of the running test body; SQLite outside [`on_backend`].
pub fn backend() -> Backend {
    BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite)
}

/// The PostgreSQL server the tests use (127.0.0.1:5432, trust auth).
pub const PG_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A PostgreSQL database of the test's own, dropped with the guard; it
/// starts with the core's schema, copied from a template database.
pub fn pg_database() -> integration_core::pgstore::ScratchDb {
    integration_core::pgstore::ScratchDb::create_migrated(
        PG_SERVER,
        "crossdock_t",
        integration_core::flows::TABLES,
    )
    .unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {PG_SERVER} ({e}): these tests need it \
             (start it: pg_ctlcluster <version> main start)"
        )
    })
}

/// Turns one test body into two tests, `<name>::sqlite` and
/// `<name>::postgres`, each with its cores on that engine (PostgreSQL: on a
/// database of the test's own). Cargo runs the two side by side.
#[macro_export]
macro_rules! both_backends {
    ($(#[$meta:meta])* async fn $name:ident() $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::support::{Backend, on_backend};

            $(#[$meta])*
            async fn sqlite() {
                on_backend(Backend::Sqlite, async $body).await
            }

            $(#[$meta])*
            async fn postgres() {
                on_backend(Backend::Postgres, async $body).await
            }
        }
    };
}

/// A test core's database: a SQLite file in a temporary directory, or a
/// PostgreSQL database; it lives as long as this value.
pub struct TestDb {
    pub location: integration_core::StoreLocation,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<integration_core::pgstore::ScratchDb>,
}

impl TestDb {
    /// A new, empty database on the running test's [`backend`].
    pub fn create() -> Self {
        match backend() {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                Self {
                    location: integration_core::StoreLocation::Sqlite(dir.path().join("core.sqlite")),
                    _dir: Some(dir),
                    _pg: None,
                }
            }
            Backend::Postgres => {
                let db = pg_database();
                Self {
                    location: integration_core::StoreLocation::Postgres(db.url()),
                    _dir: None,
                    _pg: Some(db),
                }
            }
        }
    }
}

/// A core on its own temporary database.
pub struct TestCore {
    pub core: CoreHandle,
    pub db: TestDb,
}

pub fn partners(erp: &str, wms: &str, supplier: &str) -> Partners {
    Partners {
        erp: erp.to_owned(),
        wms: wms.to_owned(),
        supplier: supplier.to_owned(),
    }
}

/// Starts a core on `db` with a short backoff cap, so retries stay quick.
pub async fn start_core_at(db: &TestDb, partners: Partners) -> CoreHandle {
    start_core_with(db, partners, |_| {}).await
}

/// Like [`start_core_at`], with `tweak` applied to the configuration.
pub async fn start_core_with(
    db: &TestDb,
    partners: Partners,
    tweak: impl FnOnce(&mut CoreConfig),
) -> CoreHandle {
    let mut config = match &db.location {
        integration_core::StoreLocation::Sqlite(path) => CoreConfig::new(path.clone(), partners),
        integration_core::StoreLocation::Postgres(url) => {
            let mut config = CoreConfig::new(PathBuf::new(), partners);
            config.postgres = Some(url.clone());
            config
        }
    };
    config.credentials = credentials();
    config.retry.backoff.cap = Duration::from_millis(200);
    tweak(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    integration_core::start(config, listener).expect("the core starts")
}

impl TestCore {
    pub async fn start(partners: Partners) -> Self {
        Self::start_with(partners, |_| {}).await
    }

    pub async fn start_with(partners: Partners, tweak: impl FnOnce(&mut CoreConfig)) -> Self {
        let db = TestDb::create();
        let core = start_core_with(&db, partners, tweak).await;
        Self { core, db }
    }

    /// A core whose partners all sit on a closed port.
    pub async fn unreachable() -> Self {
        Self::start(partners(CLOSED, CLOSED, CLOSED)).await
    }

    pub fn url(&self) -> String {
        self.core.url()
    }

    /// Stops the core; the database is handed back so it outlives it.
    pub async fn stop(self) -> TestDb {
        stop(self.core).await;
        self.db
    }
}

// ---------------------------------------------------------------- client

/// A response from the core, body parsed as JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn replayed(&self) -> bool {
        self.headers
            .get(IDEMPOTENT_REPLAYED)
            .and_then(|v| v.to_str().ok())
            == Some("true")
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts an accepted or duplicate intake and returns its message id.
    pub fn message_id(&self) -> String {
        self.body["message_id"]
            .as_str()
            .expect("an intake ack has a message_id")
            .to_owned()
    }

    pub fn outcome(&self) -> &str {
        self.body["outcome"].as_str().unwrap_or("")
    }

    /// Asserts an RFC 9457 problem with `status` and type slug `slug`, and returns it.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, slug: &str) -> Problem {
        assert_eq!(self.status, status, "HTTP status; body: {}", self.body);
        assert_eq!(
            self.content_type(),
            PROBLEM_JSON,
            "content type; body: {}",
            self.body
        );
        let problem: Problem = serde_json::from_value(self.body.clone())
            .unwrap_or_else(|e| panic!("not a problem ({e}): {}", self.body));
        assert_eq!(problem.status, status, "status in the problem body");
        assert_eq!(
            problem.type_uri,
            format!("https://crossdock.dev/problems/{slug}"),
            "problem type; body: {}",
            self.body
        );
        assert!(!problem.title.is_empty(), "a problem has a title");
        problem
    }
}

// ---------------------------------------------------------------- tokens

pub const ERP_TOKEN: &str = "erp-token";
pub const WMS_TOKEN: &str = "wms-token";
pub const OPS_TOKEN: &str = "ops-token";
/// `supplier()`'s token.
pub const SUPPLIER_TOKEN: &str = "supplier-1-token";
/// `other_supplier()`'s token.
pub const OTHER_SUPPLIER_TOKEN: &str = "supplier-2-token";

/// The tokens every test core accepts.
pub fn credentials() -> Credentials {
    Credentials::default()
        .with(ERP_TOKEN, Caller::Erp)
        .with(WMS_TOKEN, Caller::Wms)
        .with(OPS_TOKEN, Caller::Ops)
        .with(
            SUPPLIER_TOKEN,
            Caller::Supplier {
                gln: supplier().as_str().to_owned(),
            },
        )
        .with(
            OTHER_SUPPLIER_TOKEN,
            Caller::Supplier {
                gln: other_supplier().as_str().to_owned(),
            },
        )
}

/// The token of the partner that sends `body` to `url`: the ERP, the WMS,
/// or the supplier the body names; an operator's for anything else.
pub fn token_for(url: &str, body: &[u8]) -> &'static str {
    use contracts::routes::core;
    let path = url
        .splitn(4, '/')
        .nth(3)
        .map_or(String::new(), |p| format!("/{p}"));
    match path.as_str() {
        core::PURCHASE_ORDERS | core::ORDER_RELEASES => ERP_TOKEN,
        core::GOODS_RECEIPTS | core::SHIPMENT_CONFIRMATIONS | core::INVENTORY_ADJUSTMENTS => WMS_TOKEN,
        core::PO_ACKNOWLEDGEMENTS | core::ASNS | core::INVOICES => {
            let named = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v["supplier_gln"].as_str().map(str::to_owned));
            if named.as_deref() == Some(other_supplier().as_str()) {
                OTHER_SUPPLIER_TOKEN
            } else {
                SUPPLIER_TOKEN
            }
        }
        _ => OPS_TOKEN,
    }
}

/// A client that talks to 127.0.0.1 directly, whatever the proxy settings,
/// with an operator's bearer token unless a request sets its own.
pub fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {OPS_TOKEN}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .no_proxy()
        .timeout(DEADLINE)
        .build()
        .unwrap()
}

/// What to send.
#[derive(Debug, Clone, Default)]
pub struct Send<'a> {
    pub key: Option<&'a str>,
    pub traceparent: Option<&'a str>,
}

/// POSTs with the token of the partner that sends such documents ([`token_for`]).
pub async fn send_raw(http: &reqwest::Client, url: &str, opts: Send<'_>, body: Vec<u8>) -> Answer {
    let token = token_for(url, &body);
    send_as(http, url, Some(token), opts, body).await
}

/// POSTs with bearer token `token` (`None`: no Authorization header at all).
pub async fn send_as(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    opts: Send<'_>,
    body: Vec<u8>,
) -> Answer {
    let anonymous;
    let http = match token {
        Some(_) => http,
        None => {
            anonymous = reqwest::Client::builder()
                .no_proxy()
                .timeout(DEADLINE)
                .build()
                .unwrap();
            &anonymous
        }
    };
    let mut req = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(t) = token {
        // Replaces the client's default operator token.
        req = req.bearer_auth(t);
    }
    if let Some(k) = opts.key {
        req = req.header(IDEMPOTENCY_KEY, k);
    }
    if let Some(tp) = opts.traceparent {
        req = req.header(TRACEPARENT, tp);
    }
    answer(req.send().await.expect("the core answers")).await
}

pub async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("a readable body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// POSTs `body` as JSON to the core's `path` with Idempotency-Key `key`.
pub async fn post(core: &str, path: &str, key: &str, body: &impl serde::Serialize) -> Answer {
    post_with(
        core,
        path,
        Send {
            key: Some(key),
            ..Send::default()
        },
        body,
    )
    .await
}

pub async fn post_with(core: &str, path: &str, opts: Send<'_>, body: &impl serde::Serialize) -> Answer {
    let bytes = serde_json::to_vec(body).unwrap();
    send_raw(&client(), &format!("{core}{path}"), opts, bytes).await
}

/// POSTs and asserts a first-time acceptance.
#[track_caller]
pub fn assert_accepted(a: &Answer) {
    assert_eq!(a.status, 201, "expected 201 accepted, got body {}", a.body);
    assert_eq!(a.outcome(), "accepted");
    assert!(!a.replayed());
}

// ---------------------------------------------------------------- documents

pub fn gln(n: u64) -> Gln {
    Gln::parse(&with_check_digit(&format!("{n:012}"))).unwrap()
}

pub fn gtin(n: u64) -> Gtin {
    Gtin::parse(&with_check_digit(&format!("{n:012}"))).unwrap()
}

pub fn sscc(n: u64) -> Sscc {
    Sscc::parse(&with_check_digit(&format!("{n:017}"))).unwrap()
}

pub fn supplier() -> Gln {
    gln(506_000_000_001)
}

pub fn other_supplier() -> Gln {
    gln(506_000_000_002)
}

pub fn sku(line_no: u32) -> String {
    format!("SKU-{line_no:03}")
}

/// A PO of `supplier()` with lines `(line_no, quantity)`, each with 10 %
/// over- and 5 % under-tolerance.
pub fn purchase_order(po_number: &str, lines: &[(u32, u32)]) -> PurchaseOrder {
    PurchaseOrder {
        po_number: po_number.to_owned(),
        version: 1,
        supplier_gln: supplier(),
        ship_to_gln: gln(506_000_000_100),
        currency: "EUR".into(),
        order_date: "2025-03-01".into(),
        lines: lines
            .iter()
            .map(|&(line_no, quantity)| PoLine {
                line_no,
                sku: sku(line_no),
                gtin: gtin(400_000_000_000 + u64::from(line_no)),
                quantity,
                uom: Uom::Ea,
                unit_price: "1.50".into(),
                requested_date: "2025-03-10".into(),
                over_tolerance_pct: 10,
                under_tolerance_pct: 5,
                status: PoLineStatus::Open,
            })
            .collect(),
    }
}

/// Accepts every line of `po` at its ordered quantity.
pub fn acknowledgement(ack_id: &str, po: &PurchaseOrder) -> PoAcknowledgement {
    PoAcknowledgement {
        ack_id: ack_id.to_owned(),
        po_number: po.po_number.clone(),
        po_version: po.version,
        supplier_gln: po.supplier_gln.clone(),
        lines: po
            .lines
            .iter()
            .map(|l| AckLine {
                line_no: l.line_no,
                status: AckLineStatus::Accepted,
                confirmed_qty: l.quantity,
                promised_date: "2025-03-09".into(),
            })
            .collect(),
    }
}

/// An ASN of `supplier()` with lines `(po_number, po_line_no, quantity)`,
/// each in its own carton on one pallet.
pub fn asn(asn_id: &str, lines: &[(&str, u32, u32)]) -> AdvanceShipNotice {
    // SSCCs of their own per asn_id: an SSCC sits in one open ASN only.
    let base = asn_id
        .bytes()
        .fold(0u64, |h, b| (h * 131 + u64::from(b)) % 1_000_000_007)
        * 1_000;
    let pallet = sscc(base);
    let mut handling_units = vec![HandlingUnit {
        sscc: pallet.clone(),
        level: HandlingUnitLevel::Pallet,
        parent_sscc: None,
    }];
    let mut asn_lines = Vec::new();
    for (i, &(po_number, po_line_no, quantity)) in lines.iter().enumerate() {
        let carton = sscc(base + 1 + i as u64);
        handling_units.push(HandlingUnit {
            sscc: carton.clone(),
            level: HandlingUnitLevel::Carton,
            parent_sscc: Some(pallet.clone()),
        });
        asn_lines.push(AsnLine {
            po_number: po_number.to_owned(),
            po_line_no,
            gtin: gtin(400_000_000_000 + u64::from(po_line_no)),
            quantity,
            uom: Uom::Ea,
            lot: None,
            expiry: None,
            sscc: carton,
        });
    }
    AdvanceShipNotice {
        asn_id: asn_id.to_owned(),
        purpose: AsnPurpose::Original,
        supplier_gln: supplier(),
        ship_date: "2025-03-08".into(),
        estimated_arrival: "2025-03-09".into(),
        carrier_scac: "ABCD".into(),
        bill_of_lading: format!("BOL-{asn_id}"),
        handling_units,
        lines: asn_lines,
    }
}

/// A receipt event for `expectation_id` with lines `(po_number, po_line_no, qty_received)`.
pub fn receipt(
    receipt_id: &str,
    event_id: &str,
    seq: u64,
    expectation_id: &str,
    asn_id: &str,
    lines: &[(&str, u32, u32)],
) -> GoodsReceipt {
    GoodsReceipt {
        receipt_id: receipt_id.to_owned(),
        event_id: event_id.to_owned(),
        seq,
        expectation_id: expectation_id.to_owned(),
        asn_id: asn_id.to_owned(),
        received_at: "2025-03-09T10:00:00Z".into(),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, &(po_number, po_line_no, qty))| ReceiptLine {
                line_no: i as u32 + 1,
                po_number: po_number.to_owned(),
                po_line_no,
                sku: sku(po_line_no),
                qty_received: qty,
                qty_damaged: 0,
                stock_status: StockStatus::Unrestricted,
                lot: None,
            })
            .collect(),
    }
}

/// An invoice of `po`'s supplier with lines `(po_line_no, quantity,
/// unit_price)`, numbered from 1.
pub fn invoice(invoice_number: &str, po: &PurchaseOrder, lines: &[(u32, u32, &str)]) -> Invoice {
    Invoice {
        invoice_number: invoice_number.to_owned(),
        supplier_gln: po.supplier_gln.clone(),
        bill_to_gln: gln(506_000_000_200),
        po_number: po.po_number.clone(),
        currency: po.currency.clone(),
        invoice_date: "2025-03-12".into(),
        due_date: "2025-04-11".into(),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, &(po_line_no, quantity, unit_price))| InvoiceLine {
                line_no: i as u32 + 1,
                po_line_no,
                gtin: gtin(400_000_000_000 + u64::from(po_line_no)),
                quantity,
                uom: Uom::Ea,
                unit_price: unit_price.to_owned(),
            })
            .collect(),
    }
}

/// A fresh W3C trace id for `n` (32 lowercase hex digits, not all zero).
pub fn trace_id(n: u64) -> String {
    format!("{:016x}{:016x}", 0x4bf9_2f35_77b3_4da6u64, n.max(1))
}
