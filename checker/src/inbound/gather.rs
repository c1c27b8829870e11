//! What the inbound checks gather while the histories stream by: state per
//! business key (ASNs, expectations, receipts, postings, discrepancies,
//! Idempotency-Keys, trace causes), kept small so a long history fits.

use std::collections::{BTreeMap, HashMap};

use contracts::inbound::{
    AdvanceShipNotice, AsnPurpose, DiscrepancyKind, ErpGoodsReceiptPosting, GoodsReceipt, InboundExpectation,
    PurchaseOrder, ReceiptDiscrepancy, StockStatus,
};
use contracts::routes::{self, core, erp, wms};
use contracts::{Direction, Exchange, IntakeAck, IntakeOutcome, Role, Validator};
use reports::{Violation, Witness};

use super::receipts;
use crate::history::{fingerprint, hash_json, one_slot, parse, witness};

/// Width of a throughput bucket.
pub const THROUGHPUT_BUCKET_MS: u64 = 250;

/// (po_number, po_line_no, quantity, over-tolerance %, under-tolerance %, sku).
pub(super) type AdvisedLine = (String, u32, u32, u8, u8, String);
/// A receipt the core took in, as the WMS sent it.
pub(super) struct ReceiptSeen {
    /// When the send the core accepted started.
    pub(super) started_at_us: u64,
    pub(super) accepted_at_us: u64,
    pub(super) witness: Witness,
    pub(super) expectation_id: String,
    /// (receipt line_no, po_number, po_line_no, qty_received, qty_damaged).
    pub(super) lines: Vec<(u32, String, u32, u32, u32)>,
    /// Receipt line_nos counted as blocked stock (never posted).
    pub(super) blocked: Vec<u32>,
    /// (po_number, po_line_no, sku) of every line, for wrong items.
    pub(super) skus: Vec<(String, u32, String)>,
}

/// A W3C trace id as recorded: 32 hex digits held as a number (the checker
/// keeps one per message), anything else as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TraceId {
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
pub(super) fn trace_violation(
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
pub(super) struct FirstUse {
    pub(super) body_hash: u64,
    pub(super) seq: u64,
    pub(super) status: Option<u16>,
}

/// State gathered while streaming, per business key.
#[derive(Default)]
pub(super) struct Gathered {
    pub(super) schema_checked: u64,
    pub(super) schema_violations: Vec<Violation>,
    /// Fingerprint of (receiver, endpoint, key) → its first use.
    pub(super) keys: HashMap<u128, FirstUse>,
    pub(super) keys_checked: u64,
    pub(super) key_violations: Vec<Violation>,
    /// (supplier, asn_id) → when the core first accepted it, and the witness.
    pub(super) asn_accepted: HashMap<(String, String), (u64, Witness)>,
    /// (supplier, asn_id) → expectation effects at the WMS.
    pub(super) expectations: HashMap<(String, String), Vec<(u64, Witness)>>,
    /// expectation_id → its ASN (supplier, asn_id).
    pub(super) expectation_asns: HashMap<String, (String, String)>,
    /// (supplier, asn_id) → (started, finished) of the first cancel of it
    /// the core took in (accepted or a duplicate of an accepted one).
    pub(super) cancels: HashMap<(String, String), (u64, u64)>,
    /// receipt_id → seq of its first accepted event (the receipt the core
    /// took in is `receipt_events[(receipt_id, seq)]`).
    pub(super) receipts: HashMap<String, u64>,
    /// (receipt_id, seq) → each event of a receipt the core took in.
    pub(super) receipt_events: HashMap<(String, u64), ReceiptSeen>,
    /// Corrections, reordering and their ERP effects (invariants 8, 10).
    pub(super) corrections: receipts::ReceiptEvents,
    /// (receipt_id, line) → posting effects at the ERP.
    pub(super) postings: HashMap<(String, u32), Vec<(u64, Witness)>>,
    /// (po_number, line) → posted quantity effects count.
    pub(super) posted_po_lines: HashMap<(String, u32), u64>,
    /// expectation_id → advised (po_number, po_line_no, quantity, over %, under %, sku)
    /// at its highest revision the WMS got.
    pub(super) expectation_lines: HashMap<String, Vec<AdvisedLine>>,
    pub(super) expectation_revisions: HashMap<String, u32>,
    /// (receipt_id, po_number, po_line_no, seq) → discrepancy effects at the
    /// ERP, with their kind.
    pub(super) discrepancies: HashMap<DiscrepancyKey, Vec<(DiscrepancyKind, Witness)>>,
    /// PO lines some accepted receipt counted as blocked stock (the wrong
    /// item): never posted.
    pub(super) blocked_po_lines: std::collections::HashSet<(String, u32)>,
    /// po_number → the ERP's release witness, when the core accepted it.
    pub(super) po_released: HashMap<String, Witness>,
    /// Cause (kind, business key) → the trace id the partner sent it with.
    /// (Keyed by the fingerprint of (kind, business key).)
    pub(super) causes: HashMap<u128, (TraceId, Witness)>,
    /// Effects judged by invariant 15 while streaming, and what they broke.
    pub(super) trace_checked: u64,
    pub(super) trace_violations: Vec<Violation>,
    /// Calls the core made whose cause was not seen yet, by that cause,
    /// with their trace id.
    pub(super) effects: Vec<PendingEffect>,
    pub(super) counts: BTreeMap<String, u64>,
    /// Throughput bucket → exchanges finished in it.
    pub(super) throughput: BTreeMap<u64, u64>,
}

/// (receipt_id, po_number, po_line_no, seq) of a discrepancy.
pub(super) type DiscrepancyKey = (String, String, u32, u64);

/// Whether a receipt event reached the core after a cancel of its ASN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CancelledBefore {
    No,
    Yes,
    /// The cancel and the receipt were in flight together: either order.
    Either,
}

impl Gathered {
    /// Whether the core had taken in a cancel of the receipt event's ASN
    /// before it took in the event: the cancel's send finished before the
    /// event's started (yes), or started after the event's finished (no).
    pub(super) fn cancelled_before(&self, seen: &ReceiptSeen) -> CancelledBefore {
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

    pub(super) fn check_schema(&mut self, schemas: &Validator, ex: &Exchange) {
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
    pub(super) fn check_key(&mut self, ex: &Exchange) {
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

    pub(super) fn observe(&mut self, ex: &Exchange, run_started_us: u64) {
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
            (Role::Supplier, Direction::Outbound, core::ASNS) => self.observe_asn(ex),
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
                self.observe_receipt(ex)
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
                self.observe_posting(ex)
            }
            _ => {}
        }
    }

    /// An ASN the supplier sent to the core.
    fn observe_asn(&mut self, ex: &Exchange) {
        self.count("asn_sends");
        let ack = parse::<IntakeAck>(&ex.response);
        if let (true, Some(asn), Some(ack)) = (ex.is_success(), parse::<AdvanceShipNotice>(&ex.request), ack)
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

    /// A receipt event the core took in.
    fn observe_receipt(&mut self, ex: &Exchange) {
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

    /// A posting (or reversal) the ERP got.
    fn observe_posting(&mut self, ex: &Exchange) {
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
}

/// The variance of an advised PO line as counted, beyond tolerance (over
/// `over` %, under `under` %): over or short on the quantity received, else
/// damaged when what is fit for stock (received − damaged) is short.
pub(super) fn variance_kind(
    expected: u64,
    received: u64,
    damaged: u64,
    over: u8,
    under: u8,
) -> Option<DiscrepancyKind> {
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
