//! The inbound pass: every history streamed once, state kept per business
//! key ([`gather`]), then one verdict per invariant of the inbound flow
//! ([`verdicts`]), the ASN replay ([`asns`]), receipt corrections
//! ([`receipts`]), invoicing and inventory.
//!
//! Files are read a line at a time; what is kept is per business key, not
//! per exchange, so memory does not grow with retries or duplicates.

mod answers;
mod asns;
mod content;
mod gather;
mod inventory;
mod invoicing;
mod receipts;
mod retries;
#[cfg(test)]
mod tests;
mod verdicts;

use std::collections::BTreeMap;
use std::path::PathBuf;

use contracts::{Role, Validator};
use reports::{Check, Latency, Violation};

use crate::history::{HistoryError, for_each_exchange};
use crate::sla::{Delivery, FaultSpan, FlowMeasure};
pub use gather::THROUGHPUT_BUCKET_MS;

/// What the inbound pass needs besides the history.
#[derive(Debug, Clone)]
pub struct InboundExpectations {
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
    pub fault_windows: Vec<FaultSpan>,
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
    pub flows: Vec<FlowMeasure>,
    /// Messages accepted before the last fault window ended, and when they
    /// were delivered: for the recovery check.
    pub deliveries: Vec<Delivery>,
}

/// Everything the stream gathered, for the verdicts.
struct Streamed {
    g: gather::Gathered,
    stock: inventory::Inventory,
    bills: invoicing::Invoicing,
    asns: asns::Asns,
    contents: content::Contents,
    answers: answers::Answers,
    retries: retries::Retries,
}

/// Streams every history once into the gatherers.
fn stream(
    histories: &[PathBuf],
    schemas: &Validator,
    expect: &InboundExpectations,
) -> Result<Streamed, HistoryError> {
    let mut s = Streamed {
        g: gather::Gathered::default(),
        stock: inventory::Inventory::default(),
        bills: invoicing::Invoicing::default(),
        asns: asns::Asns::default(),
        contents: content::Contents::default(),
        answers: answers::Answers::default(),
        retries: retries::Retries::default(),
    };
    for path in histories {
        for_each_exchange(path, |ex| {
            s.g.check_schema(schemas, &ex);
            if ex.party != Role::Harness {
                s.g.check_key(&ex);
            }
            s.g.observe(&ex, expect.run_started_us);
            s.stock.observe(&ex);
            s.bills.observe(&ex);
            s.asns.observe(&ex);
            s.contents.observe(&ex);
            s.answers.observe(&ex);
            s.retries.observe(&ex);
        })?;
    }
    Ok(s)
}

fn quiescence_check(expect: &InboundExpectations) -> Check {
    Check::new(
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
    )
}

/// Judges a run from its history files: the inbound flow, invoicing,
/// inventory and the checks every exchange is subject to.
pub fn check(
    histories: &[PathBuf],
    schemas: &Validator,
    expect: &InboundExpectations,
) -> Result<Findings, HistoryError> {
    let Streamed {
        mut g,
        stock,
        bills,
        mut asns,
        contents,
        answers,
        retries,
    } = stream(histories, schemas, expect)?;
    let mut checks = vec![
        quiescence_check(expect),
        Check::new(
            "contracts-valid",
            "every recorded request and response body is valid against its JSON Schema and the domain rules (problem+json for 4xx/5xx)",
            g.schema_checked,
            std::mem::take(&mut g.schema_violations),
        ),
        Check::new(
            "idempotency-keys",
            "every POST to a party carries an Idempotency-Key, reused only with an identical body (invariant 5)",
            g.keys_checked,
            std::mem::take(&mut g.key_violations),
        ),
    ];
    let mut deliveries = crate::sla::Deliveries::new(&expect.fault_windows);
    let asn = verdicts::one_expectation_per_asn(&g, &expect.fault_windows, &mut deliveries);
    checks.push(asn.check);
    checks.push(contents.check());
    checks.push(answers.copies_check());
    checks.push(answers.acks_check());
    checks.push(retries.check());
    let mut replayed = asns.replay();
    checks.extend(replayed.checks());
    checks.push(asns.changes_check());
    let receipt = verdicts::one_posting_per_receipt_line(&mut g, &expect.fault_windows, &mut deliveries);
    checks.push(receipt.check);
    checks.push(verdicts::one_discrepancy_per_variance(&mut g));
    checks.push(g.corrections.stale_check());
    checks.push(g.corrections.conservation_check());
    checks.push(verdicts::trace_continuity(&mut g));
    checks.push(verdicts::nothing_lost(&g, &asns, &replayed, &expect.released));
    checks.push(bills.finish(expect.price_tolerance_pct));
    checks.extend(stock.finish());

    let latencies = vec![
        crate::history::latency(
            "asn-accepted-to-expectation",
            &asn.latency,
            Some(expect.asn_to_expectation_p99_ms),
        ),
        crate::history::latency("receipt-accepted-to-posting", &receipt.latency, None),
    ];
    Ok(Findings {
        throughput: throughput(&g.throughput),
        counts: counts(&mut g),
        checks,
        latencies,
        flows: vec![asn.flow, receipt.flow],
        deliveries: deliveries.kept,
    })
}

fn counts(g: &mut gather::Gathered) -> BTreeMap<String, u64> {
    let mut counts = std::mem::take(&mut g.counts);
    counts.insert("asns_accepted".into(), g.asn_accepted.len() as u64);
    counts.insert("receipts_accepted".into(), g.receipts.len() as u64);
    counts.insert("pos_released".into(), g.po_released.len() as u64);
    counts
}

/// The longest throughput series kept: 24 h of buckets (a history whose
/// clock jumps must not make the series, and the report, unbounded).
const MAX_THROUGHPUT_BUCKETS: u64 = 24 * 3600 * 1000 / THROUGHPUT_BUCKET_MS;

/// Exchanges per bucket, every bucket from the first to the last (at most
/// [`MAX_THROUGHPUT_BUCKETS`]).
fn throughput(buckets: &BTreeMap<u64, u64>) -> Vec<reports::ThroughputPoint> {
    let last = buckets
        .keys()
        .next_back()
        .copied()
        .unwrap_or(0)
        .min(MAX_THROUGHPUT_BUCKETS);
    (0..=last)
        .map(|b| reports::ThroughputPoint {
            at_ms: b * THROUGHPUT_BUCKET_MS,
            exchanges: buckets.get(&b).copied().unwrap_or(0),
        })
        .collect()
}
