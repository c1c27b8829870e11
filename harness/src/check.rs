//! The history checker: reads every party's recorded exchanges and judges
//! the run, Jepsen-style: per business key, what was lost, duplicated or
//! unexpected, each with a minimal witness (the exchanges involved).
//!
//! Files are read a line at a time; what is kept is per business key, not
//! per exchange, so memory does not grow with retries or duplicates.

mod asns;
mod receipts;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use sha2::{Digest, Sha256};

mod inventory;
mod invoicing;

use contracts::inbound::{
    AdvanceShipNotice, AsnPurpose, DiscrepancyKind, ErpGoodsReceiptPosting, GoodsReceipt, InboundExpectation,
    PurchaseOrder, ReceiptDiscrepancy, StockStatus,
};
use contracts::routes::{self, core, erp, wms};
use contracts::{Direction, Exchange, IntakeAck, IntakeOutcome, Role, Validator};
use reports::{Check, Latency, Violation, Witness};

pub mod events;
pub mod outbound;

/// What the checker needs besides the history.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// Every PO the ERP was asked to release: (po_number, line numbers).
    pub released: Vec<(String, Vec<u32>)>,
    /// The p99 bound from ASN accepted to expectation delivered, shown on
    /// its latency row (judged by `crate::sla`).
    pub asn_to_expectation_p99_ms: f64,
    /// The run reached quiescence within its time bound; else what was left.
    pub quiescence: Result<(), String>,
    /// Fault windows: a latency sample overlapping one on a party its flow
    /// waits on ([`crate::sla::Flow::waits_on`]) is left out of SLA
    /// percentiles.
    pub fault_windows: Vec<crate::sla::FaultSpan>,
    /// When the run started (Unix microseconds), the origin of the
    /// throughput series.
    pub run_started_us: u64,
    /// The 3-way match's price tolerance the scenario configured.
    pub price_tolerance_pct: Option<u8>,
}

/// The checker's verdicts and measurements.
#[derive(Debug, Clone)]
pub struct Findings {
    pub checks: Vec<Check>,
    pub latencies: Vec<Latency>,
    pub counts: BTreeMap<String, u64>,
    /// Exchanges finished per [`THROUGHPUT_BUCKET_MS`], from the run's start.
    pub throughput: Vec<reports::ThroughputPoint>,
    /// Per flow, what the SLAs judge (outside fault windows).
    pub flows: Vec<crate::sla::FlowMeasure>,
    /// Messages accepted before the last fault window ended, and when they
    /// were delivered: for the recovery check.
    pub deliveries: Vec<crate::sla::Delivery>,
}

/// Width of a throughput bucket.
pub const THROUGHPUT_BUCKET_MS: u64 = 250;

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
#[error("failed to read history {path}:{line}: {message}")]
pub struct HistoryError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

fn witness(ex: &Exchange) -> Witness {
    Witness {
        party: Cow::Borrowed(ex.party.as_str()),
        seq: ex.seq,
        endpoint: method_endpoint(&ex.method, &ex.endpoint),
        status: ex.status,
        idempotency_key: ex.idempotency_key.as_deref().map(Box::from),
    }
}

/// "METHOD /path" of an exchange: borrowed from a table of every contracted
/// operation (built once), so the witnesses a long history keeps do not each
/// carry a copy; owned only for an operation outside the contract.
fn method_endpoint(method: &str, endpoint: &str) -> Cow<'static, str> {
    static TABLE: std::sync::OnceLock<HashMap<(&'static str, &'static str), &'static str>> =
        std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        routes::OPERATIONS
            .iter()
            .map(|op| {
                let text: &'static str = Box::leak(format!("{} {}", op.method, op.path).into_boxed_str());
                ((op.method, op.path), text)
            })
            .collect()
    });
    match table.get(&(method, endpoint)) {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(format!("{method} {endpoint}")),
    }
}

/// An empty per-key list with room for one item: most business keys see
/// exactly one effect, and a `Vec`'s first push would reserve four.
pub(crate) fn one_slot<T>() -> Vec<T> {
    Vec::with_capacity(1)
}

/// A 128-bit fingerprint of a business key's parts, to key the checker's
/// per-key maps without holding the key's text (collisions are negligible:
/// about n²/2¹²⁹ for n keys).
fn fingerprint(parts: &[&str]) -> u128 {
    let mut digest = Sha256::new();
    for p in parts {
        digest.update((p.len() as u64).to_le_bytes());
        digest.update(p.as_bytes());
    }
    let out = digest.finalize();
    u128::from_le_bytes(out[..16].try_into().expect("a SHA-256 digest has 32 bytes"))
}

fn hash_json(v: &Option<serde_json::Value>) -> u64 {
    let mut h = DefaultHasher::new();
    v.as_ref().map(|v| v.to_string()).hash(&mut h);
    h.finish()
}

fn parse<T: serde::de::DeserializeOwned>(v: &Option<serde_json::Value>) -> Option<T> {
    v.as_ref().and_then(|v| T::deserialize(v).ok())
}

/// Streams one history file into `visit`.
pub fn for_each_exchange(path: &Path, mut visit: impl FnMut(Exchange)) -> Result<u64, HistoryError> {
    let file = std::fs::File::open(path).map_err(|e| HistoryError {
        path: path.to_owned(),
        line: 0,
        message: e.to_string(),
    })?;
    let mut n = 0;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| HistoryError {
            path: path.to_owned(),
            line: i + 1,
            message: e.to_string(),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let ex: Exchange = serde_json::from_str(&line).map_err(|e| HistoryError {
            path: path.to_owned(),
            line: i + 1,
            message: e.to_string(),
        })?;
        visit(ex);
        n += 1;
    }
    Ok(n)
}

/// (po_number, po_line_no, quantity, over-tolerance %, under-tolerance %, sku).
type AdvisedLine = (String, u32, u32, u8, u8, String);
/// A receipt the core took in, as the WMS sent it.
struct ReceiptSeen {
    /// When the send the core accepted started.
    started_at_us: u64,
    accepted_at_us: u64,
    witness: Witness,
    expectation_id: String,
    /// (receipt line_no, po_number, po_line_no, qty_received, qty_damaged).
    lines: Vec<(u32, String, u32, u32, u32)>,
    /// Receipt line_nos counted as blocked stock (never posted).
    blocked: Vec<u32>,
    /// (po_number, po_line_no, sku) of every line, for wrong items.
    skus: Vec<(String, u32, String)>,
}

/// A W3C trace id as recorded: 32 hex digits held as a number (the checker
/// keeps one per message), anything else as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TraceId {
    Hex(u128),
    Other(Box<str>),
}

impl TraceId {
    fn new(text: &str) -> Self {
        match u128::from_str_radix(text, 16) {
            Ok(n) if text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
                Self::Hex(n)
            }
            _ => Self::Other(text.into()),
        }
    }
}

impl std::fmt::Display for TraceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hex(n) => write!(f, "{n:032x}"),
            Self::Other(text) => f.write_str(text),
        }
    }
}

/// A call the core made, held until its cause is read: ((cause kind,
/// business key), its trace, its witness).
type PendingEffect = ((&'static str, Box<str>), TraceId, Witness);

/// Invariant 15 for one effect: its trace must be its cause's.
fn trace_violation(
    kind: &str,
    key: &str,
    trace: &TraceId,
    cause: Option<&(TraceId, Witness)>,
    effect: Witness,
) -> Option<Violation> {
    match cause {
        Some((cause_trace, _)) if cause_trace == trace => None,
        Some((cause_trace, cause)) => Some(Violation {
            key: format!("{kind}={key}"),
            message: format!(
                "the core's call carries trace {trace}, the message that caused it trace {cause_trace}"
            ),
            witness: vec![cause.clone(), effect],
        }),
        None => Some(Violation {
            key: format!("{kind}={key}"),
            message: "the core made a call that no message sent to it explains".into(),
            witness: vec![effect],
        }),
    }
}

/// The first use of an Idempotency-Key at a receiver.
struct FirstUse {
    body_hash: u64,
    seq: u64,
    status: Option<u16>,
}

/// State gathered while streaming, per business key.
#[derive(Default)]
struct Gathered {
    schema_checked: u64,
    schema_violations: Vec<Violation>,
    /// Fingerprint of (receiver, endpoint, key) → its first use.
    keys: HashMap<u128, FirstUse>,
    keys_checked: u64,
    key_violations: Vec<Violation>,
    /// (supplier, asn_id) → when the core first accepted it, and the witness.
    asn_accepted: HashMap<(String, String), (u64, Witness)>,
    /// (supplier, asn_id) → expectation effects at the WMS.
    expectations: HashMap<(String, String), Vec<(u64, Witness)>>,
    /// expectation_id → its ASN (supplier, asn_id).
    expectation_asns: HashMap<String, (String, String)>,
    /// (supplier, asn_id) → (started, finished) of the first cancel of it
    /// the core took in (accepted or a duplicate of an accepted one).
    cancels: HashMap<(String, String), (u64, u64)>,
    /// receipt_id → seq of its first accepted event (the receipt the core
    /// took in is `receipt_events[(receipt_id, seq)]`).
    receipts: HashMap<String, u64>,
    /// (receipt_id, seq) → each event of a receipt the core took in.
    receipt_events: HashMap<(String, u64), ReceiptSeen>,
    /// Corrections, reordering and their ERP effects (invariants 8, 10).
    corrections: receipts::ReceiptEvents,
    /// (receipt_id, line) → posting effects at the ERP.
    postings: HashMap<(String, u32), Vec<(u64, Witness)>>,
    /// (po_number, line) → posted quantity effects count.
    posted_po_lines: HashMap<(String, u32), u64>,
    /// expectation_id → advised (po_number, po_line_no, quantity, over %, under %, sku)
    /// at its highest revision the WMS got.
    expectation_lines: HashMap<String, Vec<AdvisedLine>>,
    expectation_revisions: HashMap<String, u32>,
    /// (receipt_id, po_number, po_line_no, seq) → discrepancy effects at the
    /// ERP, with their kind.
    discrepancies: HashMap<DiscrepancyKey, Vec<(DiscrepancyKind, Witness)>>,
    /// PO lines some accepted receipt counted as blocked stock (the wrong
    /// item): never posted.
    blocked_po_lines: std::collections::HashSet<(String, u32)>,
    /// po_number → the ERP's release witness, when the core accepted it.
    po_released: HashMap<String, Witness>,
    /// Cause (kind, business key) → the trace id the partner sent it with.
    /// (Keyed by the fingerprint of (kind, business key).)
    causes: HashMap<u128, (TraceId, Witness)>,
    /// Effects judged by invariant 15 while streaming, and what they broke.
    trace_checked: u64,
    trace_violations: Vec<Violation>,
    /// Calls the core made whose cause was not seen yet, by that cause,
    /// with their trace id.
    effects: Vec<PendingEffect>,
    counts: BTreeMap<String, u64>,
    /// Throughput bucket → exchanges finished in it.
    throughput: BTreeMap<u64, u64>,
}

/// (receipt_id, po_number, po_line_no, seq) of a discrepancy.
type DiscrepancyKey = (String, String, u32, u64);

/// Whether a receipt event reached the core after a cancel of its ASN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CancelledBefore {
    No,
    Yes,
    /// The cancel and the receipt were in flight together: either order.
    Either,
}

impl Gathered {
    /// Whether the core had taken in a cancel of the receipt event's ASN
    /// before it took in the event: the cancel's send finished before the
    /// event's started (yes), or started after the event's finished (no).
    fn cancelled_before(&self, seen: &ReceiptSeen) -> CancelledBefore {
        let cancel = self
            .expectation_asns
            .get(&seen.expectation_id)
            .and_then(|asn| self.cancels.get(asn));
        match cancel {
            None => CancelledBefore::No,
            Some(&(_, finished)) if finished <= seen.started_at_us => CancelledBefore::Yes,
            Some(&(started, _)) if started >= seen.accepted_at_us => CancelledBefore::No,
            Some(_) => CancelledBefore::Either,
        }
    }

    fn count(&mut self, name: &str) {
        *self.counts.entry(name.to_owned()).or_default() += 1;
    }

    fn check_schema(&mut self, schemas: &Validator, ex: &Exchange) {
        // The operation is served by the inbound side of the exchange.
        let server = match ex.direction {
            Direction::Inbound => ex.party,
            Direction::Outbound => ex.peer,
        };
        let key = format!("{}#{} {} {}", ex.party, ex.seq, ex.method, ex.endpoint);
        let Some(op) = routes::operation(server, &ex.method, &ex.endpoint) else {
            self.schema_violations.push(Violation {
                key,
                message: format!(
                    "{server} has no contracted operation {} {}",
                    ex.method, ex.endpoint
                ),
                witness: vec![witness(ex)],
            });
            return;
        };
        self.schema_checked += 1;
        let mut problems = Vec::new();
        match &ex.request {
            // A read (GET) carries no body.
            None if op.request.is_empty() => {}
            None => problems.push(format!("request: no JSON body, expected {}", op.request)),
            Some(body) => {
                for v in schemas
                    .validate(op.request, body)
                    .expect("operations name catalog schemas")
                {
                    problems.push(format!("request ({}) {v}", op.request));
                }
            }
        }
        // A response the simulator corrupted on purpose is the fault, not a finding.
        let corrupted = ex.fault.as_deref() == Some("malformed");
        let response_schema = match ex.status {
            _ if corrupted => None,
            Some(200..=299) => Some(op.response),
            Some(400..=599) => Some("Problem"),
            _ => None,
        };
        if let Some(schema) = response_schema {
            match &ex.response {
                None => problems.push(format!("response: no JSON body, expected {schema}")),
                Some(body) => {
                    for v in schemas.validate(schema, body).expect("catalog schema") {
                        problems.push(format!("response ({schema}) {v}"));
                    }
                }
            }
        }
        if !problems.is_empty() {
            self.schema_violations.push(Violation {
                key,
                message: problems.join("; "),
                witness: vec![witness(ex)],
            });
        }
    }

    /// Invariant 5: a mutating call to a partner carries an Idempotency-Key,
    /// and a key is only ever reused with an identical body.
    fn check_key(&mut self, ex: &Exchange) {
        if ex.direction != Direction::Inbound || ex.method != "POST" {
            return;
        }
        self.keys_checked += 1;
        let Some(key) = &ex.idempotency_key else {
            self.key_violations.push(Violation {
                key: format!("{}#{}", ex.party, ex.seq),
                message: format!("POST {} to {} without an Idempotency-Key", ex.endpoint, ex.party),
                witness: vec![witness(ex)],
            });
            return;
        };
        let hash = hash_json(&ex.request);
        let slot = fingerprint(&[ex.party.as_str(), &ex.endpoint, key]);
        match self.keys.get(&slot) {
            None => {
                self.keys.insert(
                    slot,
                    FirstUse {
                        body_hash: hash,
                        seq: ex.seq,
                        status: ex.status,
                    },
                );
            }
            Some(first) if first.body_hash == hash => {}
            Some(first) => {
                // Same party, endpoint and key as this exchange: only its
                // seq and status differ.
                let first_witness = Witness {
                    seq: first.seq,
                    status: first.status,
                    ..witness(ex)
                };
                self.key_violations.push(Violation {
                    key: format!("idempotency_key={key}"),
                    message: format!("key reused at {} {} with a different body", ex.party, ex.endpoint),
                    witness: vec![first_witness, witness(ex)],
                })
            }
        }
    }

    /// Invariant 15's evidence: what a partner sent the core (a cause) and
    /// what the core then sent a partner (its effects), each with its trace.
    fn observe_trace(&mut self, ex: &Exchange) {
        let (Some(trace), Some(body)) = (&ex.trace_id, &ex.request) else {
            return;
        };
        let field = |name: &str| body.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let cause = match (ex.party, ex.direction, ex.endpoint.as_str()) {
            (Role::Erp, Direction::Outbound, core::PURCHASE_ORDERS) => field("po_number").map(|k| ("po", k)),
            (Role::Supplier, Direction::Outbound, core::PO_ACKNOWLEDGEMENTS) => {
                field("ack_id").map(|k| ("ack", k))
            }
            (Role::Supplier, Direction::Outbound, core::ASNS) => field("asn_id").map(|k| ("asn", k)),
            (Role::Wms, Direction::Outbound, core::GOODS_RECEIPTS) => {
                field("receipt_id").map(|k| ("receipt", k))
            }
            (Role::Erp, Direction::Outbound, core::ORDER_RELEASES) => {
                field("order_number").map(|k| ("order", k))
            }
            (Role::Wms, Direction::Outbound, core::SHIPMENT_CONFIRMATIONS) => {
                field("shipment_id").map(|k| ("shipment", k))
            }
            _ => None,
        };
        if let Some(key) = cause {
            // Any attempt counts: a retry reuses the trace, and an answer
            // lost on the way back does not make the message unsent.
            self.causes
                .entry(fingerprint(&[key.0, &key.1]))
                .or_insert_with(|| (TraceId::new(trace), witness(ex)));
            return;
        }
        let effect = match (ex.party, ex.direction, ex.endpoint.as_str()) {
            (Role::Supplier, Direction::Inbound, routes::supplier::PURCHASE_ORDERS) => {
                field("po_number").map(|k| ("po", k))
            }
            (Role::Erp, Direction::Inbound, erp::PO_ACKNOWLEDGEMENTS) => field("ack_id").map(|k| ("ack", k)),
            (
                Role::Wms,
                Direction::Inbound,
                wms::INBOUND_EXPECTATIONS
                | wms::INBOUND_EXPECTATION_UPDATES
                | wms::INBOUND_EXPECTATION_CANCELLATIONS,
            ) => field("asn_id").map(|k| ("asn", k)),
            (Role::Erp, Direction::Inbound, erp::GOODS_RECEIPT_POSTINGS | erp::RECEIPT_DISCREPANCIES) => {
                field("receipt_id").map(|k| ("receipt", k))
            }
            (Role::Wms, Direction::Inbound, wms::ORDER_RELEASES) => {
                field("order_number").map(|k| ("order", k))
            }
            (Role::Erp, Direction::Inbound, erp::SHIPMENT_POSTINGS) => {
                field("shipment_id").map(|k| ("shipment", k))
            }
            _ => None,
        };
        if let Some((kind, key)) = effect {
            // Judged now when the cause is already known (the first attempt's
            // trace is final); held until the end otherwise.
            let trace = TraceId::new(trace);
            match self.causes.get(&fingerprint(&[kind, &key])) {
                Some(cause) => {
                    self.trace_checked += 1;
                    self.trace_violations.extend(trace_violation(
                        kind,
                        &key,
                        &trace,
                        Some(cause),
                        witness(ex),
                    ));
                }
                None => self
                    .effects
                    .push(((kind, key.into_boxed_str()), trace, witness(ex))),
            }
        }
    }

    /// Keeps what `exp` advises, unless a higher revision is held.
    fn advise(&mut self, exp: &InboundExpectation) {
        let slot = self
            .expectation_revisions
            .entry(exp.expectation_id.clone())
            .or_insert(0);
        if exp.revision > *slot {
            *slot = exp.revision;
            self.expectation_lines
                .insert(exp.expectation_id.clone(), advised_lines(exp));
        }
    }

    fn observe(&mut self, ex: &Exchange, run_started_us: u64) {
        self.observe_trace(ex);
        self.corrections.observe(ex);
        self.count(&format!("exchanges_{}", ex.party));
        // Only simulated parties record, so each exchange is seen once.
        let bucket = ex.finished_at_us.saturating_sub(run_started_us) / 1000 / THROUGHPUT_BUCKET_MS;
        *self.throughput.entry(bucket).or_default() += 1;
        match (ex.party, ex.direction, ex.endpoint.as_str()) {
            (Role::Erp, Direction::Outbound, core::PURCHASE_ORDERS) => {
                if let (true, Some(po)) = (ex.is_success(), parse::<PurchaseOrder>(&ex.request)) {
                    self.po_released
                        .entry(po.po_number)
                        .or_insert_with(|| witness(ex));
                }
            }
            (Role::Supplier, Direction::Outbound, core::ASNS) => {
                self.count("asn_sends");
                let ack = parse::<IntakeAck>(&ex.response);
                if let (true, Some(asn), Some(ack)) =
                    (ex.is_success(), parse::<AdvanceShipNotice>(&ex.request), ack)
                {
                    if ack.outcome == IntakeOutcome::Duplicate {
                        self.count("asn_duplicates_recognised");
                    }
                    let key = (asn.supplier_gln.to_string(), asn.asn_id);
                    if asn.purpose == AsnPurpose::Cancel {
                        let slot = self
                            .cancels
                            .entry(key.clone())
                            .or_insert((ex.started_at_us, ex.finished_at_us));
                        if ex.finished_at_us < slot.1 {
                            *slot = (ex.started_at_us, ex.finished_at_us);
                        }
                    }
                    let entry = self
                        .asn_accepted
                        .entry(key)
                        .or_insert((ex.finished_at_us, witness(ex)));
                    if ex.finished_at_us < entry.0 {
                        *entry = (ex.finished_at_us, witness(ex));
                    }
                }
            }
            (Role::Wms, Direction::Inbound, wms::INBOUND_EXPECTATION_UPDATES) if ex.is_effect() => {
                // A replaced ASN: receipts are judged against its latest advice.
                if let Some(exp) = parse::<InboundExpectation>(&ex.request) {
                    self.count("expectation_updates");
                    self.advise(&exp);
                }
            }
            (Role::Wms, Direction::Inbound, wms::INBOUND_EXPECTATIONS) if ex.is_effect() => {
                if let Some(exp) = parse::<InboundExpectation>(&ex.request) {
                    self.count("expectations");
                    self.advise(&exp);
                    self.expectation_asns.insert(
                        exp.expectation_id.clone(),
                        (exp.supplier_gln.to_string(), exp.asn_id.clone()),
                    );
                    self.expectations
                        .entry((exp.supplier_gln.to_string(), exp.asn_id))
                        .or_insert_with(one_slot)
                        .push((ex.finished_at_us, witness(ex)));
                }
            }
            (Role::Wms, Direction::Outbound, core::GOODS_RECEIPTS) if ex.is_success() => {
                if let Some(r) = parse::<GoodsReceipt>(&ex.request) {
                    let seen = || ReceiptSeen {
                        started_at_us: ex.started_at_us,
                        accepted_at_us: ex.finished_at_us,
                        witness: witness(ex),
                        expectation_id: r.expectation_id.clone(),
                        lines: r
                            .lines
                            .iter()
                            .map(|l| {
                                (
                                    l.line_no,
                                    l.po_number.clone(),
                                    l.po_line_no,
                                    l.qty_received,
                                    l.qty_damaged,
                                )
                            })
                            .collect(),
                        blocked: r
                            .lines
                            .iter()
                            .filter(|l| l.stock_status == StockStatus::Blocked)
                            .map(|l| l.line_no)
                            .collect(),
                        skus: r
                            .lines
                            .iter()
                            .map(|l| (l.po_number.clone(), l.po_line_no, l.sku.clone()))
                            .collect(),
                    };
                    self.blocked_po_lines.extend(
                        r.lines
                            .iter()
                            .filter(|l| l.stock_status == StockStatus::Blocked)
                            .map(|l| (l.po_number.clone(), l.po_line_no)),
                    );
                    self.receipt_events
                        .entry((r.receipt_id.clone(), r.seq))
                        .or_insert_with(seen);
                    // The receipt's first event: its entry above holds it.
                    self.receipts.entry(r.receipt_id).or_insert(r.seq);
                }
            }
            (Role::Erp, Direction::Inbound, erp::RECEIPT_DISCREPANCIES) if ex.is_effect() => {
                if let Some(d) = parse::<ReceiptDiscrepancy>(&ex.request) {
                    self.count("discrepancies");
                    self.discrepancies
                        .entry((d.receipt_id, d.po_number, d.po_line_no, d.seq))
                        .or_insert_with(one_slot)
                        .push((d.kind, witness(ex)));
                }
            }
            (Role::Erp, Direction::Inbound, erp::GOODS_RECEIPT_POSTINGS) if ex.is_effect() => {
                if let Some(p) = parse::<ErpGoodsReceiptPosting>(&ex.request) {
                    if p.reverses_seq.is_some() {
                        // Counted by `corrections`, against the posting it cancels.
                        self.count("reversals");
                        return;
                    }
                    self.count("postings");
                    *self
                        .posted_po_lines
                        .entry((p.po_number, p.po_line_no))
                        .or_default() += 1;
                    self.postings
                        .entry((p.receipt_id, p.receipt_line_no))
                        .or_insert_with(one_slot)
                        .push((ex.finished_at_us, witness(ex)));
                }
            }
            _ => {}
        }
    }
}

/// The variance of an advised PO line as counted, beyond tolerance (over
/// `over` %, under `under` %): over or short on the quantity received, else
/// damaged when what is fit for stock (received − damaged) is short.
fn variance_kind(expected: u64, received: u64, damaged: u64, over: u8, under: u8) -> Option<DiscrepancyKind> {
    let above = |q: u64| q * 100 > expected * (100 + u64::from(over));
    let below = |q: u64| q * 100 < expected * (100 - u64::from(under.min(100)));
    if above(received) {
        Some(DiscrepancyKind::Over)
    } else if below(received) {
        Some(DiscrepancyKind::Short)
    } else if below(received.saturating_sub(damaged)) {
        Some(DiscrepancyKind::Damaged)
    } else {
        None
    }
}

fn advised_lines(exp: &InboundExpectation) -> Vec<AdvisedLine> {
    exp.lines
        .iter()
        .map(|l| {
            (
                l.po_number.clone(),
                l.po_line_no,
                l.quantity,
                l.over_tolerance_pct,
                l.under_tolerance_pct,
                l.sku.clone(),
            )
        })
        .collect()
}

fn latency(name: &str, hist: &Histogram<u64>, sla_p99_ms: Option<f64>) -> Latency {
    let ms = |us: u64| us as f64 / 1000.0;
    Latency {
        name: name.to_owned(),
        count: hist.len(),
        p50_ms: ms(hist.value_at_quantile(0.50)),
        p90_ms: ms(hist.value_at_quantile(0.90)),
        p95_ms: ms(hist.value_at_quantile(0.95)),
        p99_ms: ms(hist.value_at_quantile(0.99)),
        max_ms: ms(hist.max()),
        sla_p99_ms,
    }
}

fn histogram() -> Histogram<u64> {
    // Microseconds, up to one hour, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Judges a run from its history files.
pub fn check(
    histories: &[PathBuf],
    schemas: &Validator,
    expect: &Expectations,
) -> Result<Findings, HistoryError> {
    let mut g = Gathered::default();
    let (mut stock, mut bills) = (inventory::Inventory::default(), invoicing::Invoicing::default());
    let mut asns = asns::Asns::default();
    for path in histories {
        for_each_exchange(path, |ex| {
            g.check_schema(schemas, &ex);
            if ex.party != Role::Harness {
                g.check_key(&ex);
            }
            g.observe(&ex, expect.run_started_us);
            stock.observe(&ex);
            bills.observe(&ex);
            asns.observe(&ex);
        })?;
    }
    let mut checks = Vec::new();

    checks.push(Check::new(
        "quiescent-within-bound",
        "every party and the core's outbox went quiet within the scenario's time bound",
        1,
        match &expect.quiescence {
            Ok(()) => vec![],
            Err(left) => vec![Violation {
                key: "run".into(),
                message: left.clone(),
                witness: vec![],
            }],
        },
    ));

    checks.push(Check::new(
        "contracts-valid",
        "every recorded request and response body is valid against its JSON Schema and the domain rules (problem+json for 4xx/5xx)",
        g.schema_checked,
        std::mem::take(&mut g.schema_violations),
    ));

    checks.push(Check::new(
        "idempotency-keys",
        "every POST to a party carries an Idempotency-Key, reused only with an identical body (invariant 5)",
        g.keys_checked,
        std::mem::take(&mut g.key_violations),
    ));

    // Invariant 3: exactly one inbound expectation per distinct accepted ASN.
    let mut v = Vec::new();
    let mut asn_latency = histogram();
    let mut asn_flow = crate::sla::FlowMeasure::new(crate::sla::ASN_TO_EXPECTATION);
    let mut deliveries = crate::sla::Deliveries::new(&expect.fault_windows);
    let mut asn_keys: Vec<_> = g
        .asn_accepted
        .keys()
        .chain(g.expectations.keys())
        .cloned()
        .collect();
    asn_keys.sort();
    asn_keys.dedup();
    for key in &asn_keys {
        let accepted = g.asn_accepted.get(key);
        let effects = g.expectations.get(key).map(Vec::as_slice).unwrap_or_default();
        let name = format!("supplier={} asn_id={}", key.0, key.1);
        let mut wit: Vec<Witness> = accepted.map(|a| a.1.clone()).into_iter().collect();
        wit.extend(effects.iter().map(|e| e.1.clone()));
        if let Some((accepted_at, accepted_by)) = accepted {
            deliveries.observe(
                &mut asn_flow,
                || format!("asn_id={}", key.1),
                *accepted_at,
                effects.iter().map(|e| e.0).min(),
                accepted_by,
            );
        }
        match (accepted, effects.len()) {
            (Some((accepted_at, _)), 1) => {
                if asn_flow
                    .flow
                    .outside(&expect.fault_windows, *accepted_at, effects[0].0)
                {
                    let _ = asn_latency.record(effects[0].0.saturating_sub(*accepted_at).max(1));
                }
            }
            (Some(_), 0) => v.push(Violation {
                key: name,
                message: "ASN accepted by the core, but the WMS never got its inbound expectation (lost)"
                    .into(),
                witness: wit,
            }),
            (Some(_), n) => v.push(Violation {
                key: name,
                message: format!("{n} inbound expectations at the WMS for one ASN (duplicated)"),
                witness: wit,
            }),
            (None, n) => v.push(Violation {
                key: name,
                message: format!(
                    "{n} inbound expectation(s) for an ASN the core never accepted (unexpected)"
                ),
                witness: wit,
            }),
        }
    }
    checks.push(Check::new(
        "one-expectation-per-asn",
        "exactly one WMS inbound expectation per distinct ASN the core accepted (invariant 3)",
        asn_keys.len() as u64,
        v,
    ));

    let mut replayed = asns.replay();
    checks.extend(replayed.checks());
    checks.push(asns.changes_check());

    // Invariant 6: exactly one ERP posting per (receipt, line) stands: a
    // correction's reversal cancels the posting it names.
    let mut v = Vec::new();
    let mut receipt_latency = histogram();
    let mut receipt_flow = crate::sla::FlowMeasure::new(crate::sla::RECEIPT_TO_POSTING);
    let mut checked = 0;
    let mut receipt_ids: Vec<_> = g.receipts.keys().cloned().collect();
    receipt_ids.sort();
    for receipt_id in &receipt_ids {
        let seen = &g.receipt_events[&(receipt_id.clone(), g.receipts[receipt_id])];
        let (accepted_at, receipt_witness) = (&seen.accepted_at_us, &seen.witness);
        for (line, ..) in &seen.lines {
            if seen.blocked.contains(line) {
                // Blocked stock is never posted (see `unexpected` below).
                continue;
            }
            checked += 1;
            let effects = g
                .postings
                .remove(&(receipt_id.clone(), *line))
                .unwrap_or_default();
            let mut wit = vec![receipt_witness.clone()];
            wit.extend(effects.iter().map(|e| e.1.clone()));
            deliveries.observe(
                &mut receipt_flow,
                || format!("receipt_id={receipt_id} line={line}"),
                *accepted_at,
                effects.iter().map(|e| e.0).min(),
                receipt_witness,
            );
            let reversed = g.corrections.reversals_of(receipt_id, *line);
            match effects.len().saturating_sub(reversed) {
                1 => {
                    if receipt_flow
                        .flow
                        .outside(&expect.fault_windows, *accepted_at, effects[0].0)
                    {
                        let _ = receipt_latency.record(effects[0].0.saturating_sub(*accepted_at).max(1));
                    }
                }
                0 => v.push(Violation {
                    key: format!("receipt_id={receipt_id} line={line}"),
                    message: "receipt accepted by the core, but never posted to the ERP (lost)".into(),
                    witness: wit,
                }),
                n => v.push(Violation {
                    key: format!("receipt_id={receipt_id} line={line}"),
                    message: format!("{n} ERP postings stand for one receipt line (duplicated)"),
                    witness: wit,
                }),
            }
        }
    }
    let mut unexpected: Vec<_> = std::mem::take(&mut g.postings).into_iter().collect();
    unexpected.sort_by(|a, b| a.0.cmp(&b.0));
    for ((receipt_id, line), effects) in unexpected {
        checked += 1;
        v.push(Violation {
            key: format!("receipt_id={receipt_id} line={line}"),
            message: format!(
                "{} ERP posting(s) for a receipt the core never accepted (unexpected)",
                effects.len()
            ),
            witness: effects.into_iter().map(|e| e.1).collect(),
        });
    }
    checks.push(Check::new(
        "one-posting-per-receipt-line",
        "exactly one ERP goods-receipt posting per (receipt, line) (invariant 6)",
        checked,
        v,
    ));

    // Invariant 9: a variance beyond tolerance yields exactly one
    // discrepancy, of its kind (see `variance_kind`, not advised, wrong
    // item); within tolerance, none. Judged per PO line of each
    // receipt event the core applied (stale ones apply nothing), from what
    // the WMS was told to expect and what it counted; against nothing when
    // the core had taken in a cancel of the ASN before the event.
    let mut v = Vec::new();
    let mut checked = 0;
    let mut events: Vec<_> = g.receipt_events.keys().cloned().collect();
    events.sort();
    for (receipt_id, seq) in &events {
        if g.corrections.is_stale(receipt_id, *seq) {
            continue;
        }
        let seen = &g.receipt_events[&(receipt_id.clone(), *seq)];
        // A receipt the core took in after a cancel of its ASN is of goods
        // nobody advised any more: every PO line is a variance (not advised).
        let cancelled = g.cancelled_before(seen);
        let Some(advised) = g.expectation_lines.get(&seen.expectation_id) else {
            continue;
        };
        // (po line) → (received, damaged)
        let mut per_line: Vec<((String, u32), (u64, u64))> = Vec::new();
        for (_, po, line, qty, damaged) in &seen.lines {
            let (qty, damaged) = (u64::from(*qty), u64::from(*damaged));
            match per_line.iter_mut().find(|(k, _)| k.0 == *po && k.1 == *line) {
                Some((_, sum)) => *sum = (sum.0 + qty, sum.1 + damaged),
                None => per_line.push(((po.clone(), *line), (qty, damaged))),
            }
        }
        for ((po, line), (received, damaged)) in per_line {
            checked += 1;
            let lines: Vec<_> = advised.iter().filter(|a| a.0 == po && a.1 == line).collect();
            let expected: u64 = lines.iter().map(|a| u64::from(a.2)).sum();
            let wrong_item = lines.first().is_some_and(|a| {
                seen.skus
                    .iter()
                    .any(|(p, l, sku)| *p == po && *l == line && *sku != a.5)
            });
            let against_advice = match lines.first() {
                None => Some(DiscrepancyKind::NotAdvised),
                Some(_) if wrong_item => Some(DiscrepancyKind::WrongItem),
                Some(&&(_, _, _, over, under, _)) => variance_kind(expected, received, damaged, over, under),
            };
            // The verdicts the order of cancel and receipt allows.
            let allowed: &[Option<DiscrepancyKind>] = &match cancelled {
                CancelledBefore::No => [against_advice, against_advice],
                CancelledBefore::Yes => [Some(DiscrepancyKind::NotAdvised); 2],
                CancelledBefore::Either => [against_advice, Some(DiscrepancyKind::NotAdvised)],
            };
            let found = g
                .discrepancies
                .remove(&(receipt_id.clone(), po.clone(), line, *seq))
                .unwrap_or_default();
            let key = match seq {
                1 => format!("receipt_id={receipt_id} po_number={po} line={line}"),
                _ => format!("receipt_id={receipt_id} seq={seq} po_number={po} line={line}"),
            };
            let counted = format!("received {received} ({damaged} damaged) against {expected} advised");
            let due = allowed.iter().flatten().next();
            let name = |k: &DiscrepancyKind| {
                serde_json::to_value(k)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            let a_name = |k: &DiscrepancyKind| match k {
                DiscrepancyKind::Over => "an over".to_owned(),
                k => format!("a {}", name(k)),
            };
            let message = match (found.as_slice(), due) {
                ([], _) if allowed.contains(&None) => None,
                ([(kind, _)], _) if allowed.contains(&Some(*kind)) => None,
                ([], Some(due)) => Some(format!(
                    "{counted}: {} variance beyond tolerance, but no discrepancy reached the ERP (lost)",
                    a_name(due)
                )),
                ([(kind, _)], Some(due)) => Some(format!(
                    "{counted}: {} variance, but the discrepancy raised is of kind {} (wrong kind)",
                    a_name(due),
                    name(kind)
                )),
                (found, Some(_)) if !allowed.contains(&None) => Some(format!(
                    "{} discrepancies for one variance (duplicated)",
                    found.len()
                )),
                (found, _) => Some(format!(
                    "{counted} is within tolerance, yet {} discrepancy(ies) were raised (unexpected)",
                    found.len()
                )),
            };
            if let Some(message) = message {
                v.push(Violation {
                    key,
                    message,
                    witness: std::iter::once(seen.witness.clone())
                        .chain(found.into_iter().map(|f| f.1))
                        .collect(),
                });
            }
        }
    }
    let mut unexpected: Vec<_> = g.discrepancies.drain().collect();
    unexpected.sort_by(|a, b| a.0.cmp(&b.0));
    for ((receipt_id, po, line, seq), found) in unexpected {
        checked += 1;
        v.push(Violation {
            key: format!("receipt_id={receipt_id} seq={seq} po_number={po} line={line}"),
            message: format!(
                "{} discrepancy(ies) for a receipt event the core never accepted or that was stale (unexpected)",
                found.len()
            ),
            witness: found.into_iter().map(|f| f.1).collect(),
        });
    }
    checks.push(Check::new(
        "one-discrepancy-per-variance",
        "a receiving variance beyond tolerance yields exactly one ERP discrepancy of its kind (short, over, damaged, not advised, wrong item); within tolerance, none (invariant 9)",
        checked,
        v,
    ));

    checks.push(g.corrections.stale_check());
    checks.push(g.corrections.conservation_check());

    // Invariant 15: every call the core makes because of an inbound message
    // carries that message's trace id.
    let mut v = std::mem::take(&mut g.trace_violations);
    let checked = g.trace_checked + g.effects.len() as u64;
    for ((kind, key), trace, effect) in std::mem::take(&mut g.effects) {
        let cause = g.causes.get(&fingerprint(&[kind, &key]));
        v.extend(trace_violation(kind, &key, &trace, cause, effect));
    }
    checks.push(Check::new(
        "trace-continuity",
        "every call the core makes carries the W3C trace id of the inbound message that caused it (invariant 15)",
        checked,
        v,
    ));

    // Invariant 7 (no outage yet): every PO released reaches posted, line by line.
    let mut v = Vec::new();
    let mut checked = 0;
    for (po_number, lines) in &expect.released {
        let release = g.po_released.get(po_number);
        for line in lines {
            checked += 1;
            // The supplier confirmed none of it, or cancelled its ASNs.
            let po_line = (po_number.clone(), *line);
            if asns.excuse(&replayed, &po_line).is_some() || g.blocked_po_lines.contains(&po_line) {
                continue;
            }
            if g.posted_po_lines
                .get(&(po_number.clone(), *line))
                .copied()
                .unwrap_or(0)
                == 0
            {
                v.push(Violation {
                    key: format!("po_number={po_number} line={line}"),
                    message: match release {
                        None => "the core never accepted the PO's release from the ERP".into(),
                        Some(_) => {
                            "released to the core, but never posted as received at the ERP (lost)".into()
                        }
                    },
                    witness: release.cloned().into_iter().collect(),
                });
            }
        }
    }
    checks.push(Check::new(
        "nothing-lost",
        "every line of every PO the ERP released reaches an ERP goods-receipt posting, unless the supplier confirmed none of it or cancelled every ASN that carried it, or the WMS received the wrong item (blocked stock)",
        checked,
        v,
    ));

    checks.push(bills.finish(expect.price_tolerance_pct));
    checks.extend(stock.finish());

    let asn = latency(
        "asn-accepted-to-expectation",
        &asn_latency,
        Some(expect.asn_to_expectation_p99_ms),
    );

    let mut counts = g.counts;
    counts.insert("asns_accepted".into(), g.asn_accepted.len() as u64);
    counts.insert("receipts_accepted".into(), g.receipts.len() as u64);
    counts.insert("pos_released".into(), g.po_released.len() as u64);
    let last = g.throughput.keys().next_back().copied().unwrap_or(0);
    let throughput = (0..=last)
        .map(|b| reports::ThroughputPoint {
            at_ms: b * THROUGHPUT_BUCKET_MS,
            exchanges: g.throughput.get(&b).copied().unwrap_or(0),
        })
        .collect();
    Ok(Findings {
        throughput,
        checks,
        latencies: vec![
            asn,
            latency("receipt-accepted-to-posting", &receipt_latency, None),
        ],
        counts,
        flows: vec![asn_flow, receipt_flow],
        deliveries: deliveries.kept,
    })
}

/// A 201 POST exchange for the checks' unit tests.
#[cfg(test)]
pub(crate) fn test_exchange(
    party: Role,
    direction: Direction,
    endpoint: &str,
    seq: u64,
    request: serde_json::Value,
) -> Exchange {
    Exchange {
        seq,
        party,
        peer: Role::Core,
        direction,
        method: "POST".into(),
        endpoint: endpoint.into(),
        status: Some(201),
        error: None,
        started_at_us: seq,
        finished_at_us: seq + 1,
        idempotency_key: Some(format!("k{seq}")),
        trace_id: None,
        replayed: false,
        fault: None,
        handler_status: None,
        request: Some(request),
        response: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A quiet run that released nothing, with no fault windows.
    fn quiet_run() -> Expectations {
        Expectations {
            released: vec![],
            asn_to_expectation_p99_ms: 1000.0,
            quiescence: Ok(()),
            fault_windows: vec![],
            run_started_us: 0,
            price_tolerance_pct: None,
        }
    }

    fn exchange(
        party: Role,
        direction: Direction,
        endpoint: &str,
        status: u16,
        request: serde_json::Value,
    ) -> Exchange {
        Exchange {
            seq: 0,
            peer: if party == Role::Core {
                Role::Erp
            } else {
                Role::Core
            },
            status: Some(status),
            started_at_us: 1,
            finished_at_us: 2,
            idempotency_key: Some(format!("k-{request}")),
            ..test_exchange(party, direction, endpoint, 0, request)
        }
    }

    /// The expectation IBE-1 of ASN A: PO-1 line 1, 100 advised
    /// (tolerance +10/-5), delivered at 1–2.
    fn advised_100() -> Exchange {
        exchange(
            Role::Wms,
            Direction::Inbound,
            wms::INBOUND_EXPECTATIONS,
            201,
            json!({"expectation_id": "IBE-1", "asn_id": "A", "supplier_gln": "5060000000016",
                   "estimated_arrival": "2026-11-27", "handling_units": [],
                   "lines": [{"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "sku": "S",
                              "gtin": "4006381333931", "quantity": 100, "uom": "EA",
                              "sscc": "006141411234567890", "over_tolerance_pct": 10, "under_tolerance_pct": 5}]}),
        )
    }

    /// The WMS's receipt RCV-1 against IBE-1 counting `received` (with
    /// `damaged` of it damaged) in `status`, sent at `at`–`at`+1.
    fn receipt_of(received: u32, damaged: u32, status: &str, at: u64) -> Exchange {
        Exchange {
            started_at_us: at,
            finished_at_us: at + 1,
            ..exchange(
                Role::Wms,
                Direction::Outbound,
                core::GOODS_RECEIPTS,
                201,
                json!({"receipt_id": "RCV-1", "event_id": "E-1", "seq": 1, "expectation_id": "IBE-1",
                       "asn_id": "A", "received_at": "2026-11-27T10:00:00Z",
                       "lines": [{"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "sku": "S",
                                  "qty_received": received, "qty_damaged": damaged, "stock_status": status}]}),
            )
        }
    }

    /// A discrepancy of `kind` for RCV-1's PO-1 line 1 at the ERP.
    fn raised(kind: &str, actual: u32, n: usize) -> Exchange {
        exchange(
            Role::Erp,
            Direction::Inbound,
            erp::RECEIPT_DISCREPANCIES,
            201,
            json!({"receipt_id": "RCV-1", "receipt_line_no": 1, "po_number": "PO-1", "po_line_no": 1,
                   "kind": kind, "expected": 100, "actual": actual, "variance": n, "tolerance_pct": 5,
                   "reason_code": kind.to_uppercase()}),
        )
    }

    /// The supplier's cancel of ASN A, taken in by the core at
    /// `start`–`end`.
    fn cancel_asn(start: u64, end: u64) -> Exchange {
        Exchange {
            started_at_us: start,
            finished_at_us: end,
            response: Some(json!({"message_id": "MSG-9", "outcome": "accepted",
                                  "trace_id": "0af7651916cd43dd8448eb211c80319c"})),
            ..exchange(
                Role::Supplier,
                Direction::Outbound,
                core::ASNS,
                202,
                json!({"asn_id": "A", "purpose": "cancel", "supplier_gln": "5060000000016",
                       "ship_date": "2026-11-20", "estimated_arrival": "2026-11-27", "carrier_scac": "SIMC",
                       "bill_of_lading": "B", "handling_units": [], "lines": []}),
            )
        }
    }

    /// The verdict of invariant 9 on `history`.
    fn judge_9(history: &[Exchange]) -> Check {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let text: String = history
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        std::fs::write(&path, text).unwrap();
        let findings = check(&[path], &Validator::new(), &quiet_run()).unwrap();
        findings
            .checks
            .into_iter()
            .find(|c| c.name == "one-discrepancy-per-variance")
            .unwrap()
    }

    /// A receipt of `received` against 100 advised (tolerance +10/-5), and
    /// `n` discrepancies of `kind` at the ERP: the verdict of invariant 9.
    fn verdict(received: u32, kind: &str, n: usize) -> Check {
        let mut history = vec![advised_100(), receipt_of(received, 0, "unrestricted", 1)];
        history.extend((0..n).map(|i| raised(kind, received, i)));
        judge_9(&history)
    }

    #[test]
    fn invariant_15_wants_the_cause_s_trace_on_every_call_it_caused() {
        // The cause read before its effect is judged while streaming; read
        // after it, at the end: both must give the same verdict.
        let judge = |effect_trace: &str, with_cause: bool, cause_first: bool| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("h.jsonl");
            let mut lines = Vec::new();
            if with_cause {
                let mut send = exchange(
                    Role::Wms,
                    Direction::Outbound,
                    core::GOODS_RECEIPTS,
                    201,
                    json!({"receipt_id": "RCV-9"}),
                );
                send.trace_id = Some("a".repeat(32));
                lines.push(send);
            }
            let mut posting = exchange(
                Role::Erp,
                Direction::Inbound,
                erp::GOODS_RECEIPT_POSTINGS,
                201,
                json!({"receipt_id": "RCV-9", "receipt_line_no": 1}),
            );
            posting.trace_id = Some(effect_trace.to_owned());
            lines.push(posting);
            if !cause_first {
                lines.reverse();
            }
            let text: String = lines
                .iter()
                .map(|e| serde_json::to_string(e).unwrap() + "\n")
                .collect();
            std::fs::write(&path, text).unwrap();
            let expect = quiet_run();
            let findings = check(&[path], &Validator::new(), &expect).unwrap();
            findings
                .checks
                .into_iter()
                .find(|c| c.name == "trace-continuity")
                .unwrap()
        };
        for cause_first in [true, false] {
            let same = judge(&"a".repeat(32), true, cause_first);
            assert!(same.passed && same.checked == 1, "{same:?}");
            let other = judge(&"b".repeat(32), true, cause_first);
            assert!(!other.passed);
            assert_eq!(other.violations[0].key, "receipt=RCV-9");
            assert_eq!(other.violations[0].witness.len(), 2);
            assert!(
                other.violations[0].message.contains(&"b".repeat(32))
                    && other.violations[0].message.contains(&"a".repeat(32)),
                "both traces named: {other:?}"
            );
            let orphan = judge(&"a".repeat(32), false, cause_first);
            assert!(
                orphan.violations[0].message.contains("no message sent to it"),
                "{orphan:?}"
            );
        }
    }

    #[test]
    fn a_key_reused_with_another_body_names_both_uses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let mut lines = Vec::new();
        for (seq, qty) in [(1, 5), (2, 5), (3, 6)] {
            let mut ex = exchange(
                Role::Erp,
                Direction::Inbound,
                erp::GOODS_RECEIPT_POSTINGS,
                201,
                json!({"receipt_id": "RCV-9", "quantity": qty}),
            );
            ex.seq = seq;
            ex.idempotency_key = Some("posting:RCV-9:1".into());
            lines.push(serde_json::to_string(&ex).unwrap() + "\n");
        }
        std::fs::write(&path, lines.concat()).unwrap();
        let expect = quiet_run();
        let findings = check(&[path], &Validator::new(), &expect).unwrap();
        let keys = findings
            .checks
            .iter()
            .find(|c| c.name == "idempotency-keys")
            .unwrap();
        assert_eq!(
            keys.violations.len(),
            1,
            "the repeat with the same body is fine: {keys:?}"
        );
        let v = &keys.violations[0];
        assert_eq!(v.key, "idempotency_key=posting:RCV-9:1");
        let seqs: Vec<u64> = v.witness.iter().map(|w| w.seq).collect();
        assert_eq!(seqs, [1, 3], "the first use and the reuse");
        assert!(v.witness.iter().all(|w| w.party == "erp"
            && w.endpoint == format!("POST {}", erp::GOODS_RECEIPT_POSTINGS)
            && w.idempotency_key.as_deref() == Some("posting:RCV-9:1")));
    }

    /// Recovery (invariants 7, 19) on a synthetic history: receipts taken
    /// in before a fault window ends are posted at chosen times; the checker
    /// keeps them (with when they were accepted and delivered) and the
    /// recovery check judges them from the window's end.
    #[test]
    fn recovery_is_judged_from_the_end_of_each_fault_window() {
        let s = 1_000_000;
        let receipt = |id: &str, at: u64| {
            let mut ex = exchange(
                Role::Wms,
                Direction::Outbound,
                core::GOODS_RECEIPTS,
                201,
                json!({"receipt_id": id, "event_id": format!("E-{id}"), "seq": 1, "expectation_id": "IBE-1",
                       "asn_id": "A", "received_at": "2026-11-27T10:00:00Z",
                       "lines": [{"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "sku": "S",
                                  "qty_received": 5, "qty_damaged": 0, "stock_status": "unrestricted"}]}),
            );
            ex.finished_at_us = at;
            ex
        };
        let posting = |id: &str, at: u64| {
            let mut ex = exchange(
                Role::Erp,
                Direction::Inbound,
                erp::GOODS_RECEIPT_POSTINGS,
                201,
                json!({"receipt_id": id, "receipt_line_no": 1, "po_number": "PO-1", "po_line_no": 1,
                       "sku": "S", "quantity": 5, "stock_status": "unrestricted"}),
            );
            ex.finished_at_us = at;
            ex
        };
        // The ERP is down from 2 s to 4 s.
        let history = [
            receipt("BEFORE", s),
            posting("BEFORE", s + 50_000),
            receipt("QUEUED", 2 * s + 500_000),
            posting("QUEUED", 4 * s + 300_000),
            receipt("STUCK", 3 * s),
            posting("STUCK", 9 * s),
            receipt("LOST", 3 * s + 100_000),
            receipt("AFTER", 5 * s),
            posting("AFTER", 12 * s),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let text: String = history
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        std::fs::write(&path, text).unwrap();
        let down = |party| Expectations {
            fault_windows: vec![crate::sla::FaultSpan {
                party,
                from_us: 2 * s,
                to_us: 4 * s,
            }],
            ..quiet_run()
        };
        // A window on the WMS leaves the ERP postings' samples in: all five
        // receipts are judged, and LOST is the one error.
        let findings = check(std::slice::from_ref(&path), &Validator::new(), &down(Role::Wms)).unwrap();
        let flow = &findings.flows[1];
        assert_eq!(flow.flow, crate::sla::RECEIPT_TO_POSTING);
        assert_eq!((flow.requests, flow.errors), (5, 1));
        let findings = check(&[path], &Validator::new(), &down(Role::Erp)).unwrap();
        // AFTER was accepted after the last window ended: not kept.
        let mut kept: Vec<(&str, Option<u64>)> = findings
            .deliveries
            .iter()
            .map(|d| (d.key.as_str(), d.delivered_us))
            .collect();
        kept.sort();
        assert_eq!(
            kept,
            [
                ("receipt_id=BEFORE line=1", Some(s + 50_000)),
                ("receipt_id=LOST line=1", None),
                ("receipt_id=QUEUED line=1", Some(4 * s + 300_000)),
                ("receipt_id=STUCK line=1", Some(9 * s)),
            ]
        );
        // Outside the window: BEFORE and AFTER are judged for the SLA,
        // LOST overlaps the window (it was accepted inside it).
        let flow = &findings.flows[1];
        assert_eq!(flow.flow, crate::sla::RECEIPT_TO_POSTING);
        assert_eq!((flow.requests, flow.errors), (2, 0));

        let window = crate::sla::Window {
            label: "erp outage 2000-4000ms".into(),
            from_us: 2 * s,
            to_us: 4 * s,
        };
        let (recovery, slowest_ms) =
            crate::sla::recovery_check(std::slice::from_ref(&window), 2.0, &findings.deliveries);
        assert_eq!(recovery.checked, 4);
        let mut late: Vec<(&str, &str)> = recovery
            .violations
            .iter()
            .map(|v| (v.key.as_str(), v.message.as_str()))
            .collect();
        late.sort();
        assert_eq!(late.len(), 2, "{late:?}");
        assert_eq!(
            late[0].0,
            "window=erp outage 2000-4000ms receipt-to-posting receipt_id=LOST line=1"
        );
        assert!(late[0].1.contains("never delivered"), "{late:?}");
        assert_eq!(
            late[1].0,
            "window=erp outage 2000-4000ms receipt-to-posting receipt_id=STUCK line=1"
        );
        assert!(late[1].1.contains("5.0 s after the window ended"), "{late:?}");
        assert_eq!(slowest_ms, 5000);
        // A recovery bound of 6 s forgives STUCK, never LOST.
        let (lenient, _) = crate::sla::recovery_check(&[window], 6.0, &findings.deliveries);
        assert_eq!(lenient.violations_total, 1);
    }

    #[test]
    fn invariant_9_wants_one_discrepancy_beyond_tolerance_and_none_within() {
        assert!(
            verdict(94, "short", 1).passed,
            "short beyond 5%: one discrepancy is right"
        );
        assert!(
            verdict(111, "over", 1).passed,
            "over beyond 10%: one discrepancy is right"
        );
        assert!(
            verdict(95, "short", 0).passed,
            "at the under-tolerance bound: none is right"
        );
        assert!(
            verdict(110, "over", 0).passed,
            "at the over-tolerance bound: none is right"
        );

        let lost = verdict(80, "short", 0);
        assert!(!lost.passed);
        assert!(lost.violations[0].message.contains("lost"), "{lost:?}");
        assert_eq!(lost.violations[0].key, "receipt_id=RCV-1 po_number=PO-1 line=1");

        let doubled = verdict(80, "short", 2);
        assert!(
            doubled.violations[0].message.contains("duplicated"),
            "{doubled:?}"
        );
        assert_eq!(doubled.violations[0].witness.len(), 3);

        let spurious = verdict(100, "short", 1);
        assert!(
            spurious.violations[0].message.contains("unexpected"),
            "{spurious:?}"
        );
    }

    #[test]
    fn invariant_9_wants_the_discrepancy_of_the_variance_s_kind() {
        // One discrepancy, but of another kind than the variance: the ERP
        // is told the goods are missing when there are too many.
        let wrong = verdict(120, "short", 1);
        assert!(!wrong.passed);
        let m = &wrong.violations[0].message;
        assert!(
            m.contains("an over variance") || m.contains("a over variance"),
            "{m}"
        );
        assert!(m.contains("of kind short (wrong kind)"), "{m}");
        assert!(!verdict(80, "over", 1).passed);
        assert!(!verdict(80, "not_advised", 1).passed);

        // Damage: all 100 arrived, 20 damaged: 80 fit for stock is short
        // of 95, a damaged variance; 5 damaged is within tolerance.
        let damaged = |damaged: u32, kind: &str, n: usize| {
            let mut h = vec![advised_100(), receipt_of(100, damaged, "quality", 1)];
            h.extend((0..n).map(|i| raised(kind, 100 - damaged, i)));
            judge_9(&h)
        };
        assert!(
            damaged(20, "damaged", 1).passed,
            "{:?}",
            damaged(20, "damaged", 1)
        );
        let lost = damaged(20, "damaged", 0);
        assert!(
            lost.violations[0].message.contains("damaged variance")
                && lost.violations[0].message.contains("lost"),
            "{lost:?}"
        );
        assert!(!damaged(20, "short", 1).passed);
        assert!(damaged(5, "damaged", 0).passed);
        assert!(!damaged(5, "damaged", 1).passed);
    }

    #[test]
    fn invariant_9_judges_a_receipt_after_its_asn_s_cancel_as_goods_not_advised() {
        // The history `head`, then `n` not-advised discrepancies raised.
        let judged = |mut h: Vec<Exchange>, n: usize| {
            h.extend((0..n).map(|i| raised("not_advised", 100, i)));
            judge_9(&h)
        };
        // Counted as advised, but the cancel reached the core first: the
        // goods are not advised any more, and one discrepancy is due.
        let after = |n: usize| {
            let h = vec![
                advised_100(),
                cancel_asn(10, 11),
                receipt_of(100, 0, "unrestricted", 20),
            ];
            judged(h, n)
        };
        assert!(after(1).passed, "{:?}", after(1));
        let lost = after(0);
        assert!(
            !lost.passed && lost.violations[0].message.contains("lost"),
            "{lost:?}"
        );
        assert!(after(2).violations[0].message.contains("duplicated"));

        // The receipt reached the core first (a later cancel is the core's
        // to refuse): judged against the advice, within tolerance.
        let before = |n: usize| {
            let h = vec![
                advised_100(),
                receipt_of(100, 0, "unrestricted", 20),
                cancel_asn(30, 31),
            ];
            judged(h, n)
        };
        assert!(before(0).passed, "{:?}", before(0));
        assert!(before(1).violations[0].message.contains("unexpected"));

        // In flight together: either order is the core's to choose.
        let overlap = |n: usize| {
            let h = vec![
                advised_100(),
                cancel_asn(19, 25),
                receipt_of(100, 0, "unrestricted", 20),
            ];
            judged(h, n)
        };
        assert!(overlap(0).passed && overlap(1).passed);
    }
}
