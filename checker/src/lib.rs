//! crossdock's history checker: histories + expectations → verdicts.
//!
//! A history is a JSON Lines file of recorded HTTP exchanges, one
//! [`contracts::Exchange`] a line (schema: `contracts/schemas/Exchange.json`),
//! as any party — a crossdock simulator, a recording proxy, another tool —
//! wrote it. The checker judges them Jepsen-style: per business key, what
//! was lost, duplicated or unexpected, each violation with a minimal witness
//! (the exchanges involved); per flow, latency and error-rate SLAs outside
//! fault windows, and recovery after each window.
//!
//! [`judge`] is the one entry: `crossdock run` calls it once its parties are
//! quiet, and `crossdock check DIR` calls it on a directory written by a run
//! (or by anything else), so both reach the same verdict. What a run knows
//! besides its histories — what it released, its SLA, its fault windows,
//! what its load drivers measured, what it read from the events stream — is
//! an [`Expectations`], written beside the histories as `expectations.json`.
//!
//! The crate depends on `contracts` and `reports` only: no async runtime, no
//! HTTP, no scenario format.
//!
//! Modules, bottom up: [`history`] (reading histories, witnesses; imports
//! nothing of the crate) → [`sla`] → the passes [`inbound`], [`outbound`],
//! [`events`], [`ops`] (each imports only the two above) → [`expect`]
//! (what a run expected, and reading it) → this file ([`judge`]).

pub mod events;
pub mod expect;
pub mod history;
pub mod inbound;
pub mod ops;
pub mod outbound;
pub mod sla;

use std::collections::BTreeMap;
use std::path::PathBuf;

use contracts::Validator;
use reports::{Check, Latency, ThroughputPoint};

pub use expect::{
    CheckError, EXPECTATIONS_FILE, EXPECTATIONS_FORMAT, Expectations, expectations_in, histories_in,
};
pub use history::{HistoryError, for_each_exchange};
pub use sla::{FaultSpan, FaultWindow, FlowMeasure};

/// The checker's verdict on a run, and what it measured.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub checks: Vec<Check>,
    pub latencies: Vec<Latency>,
    pub counts: BTreeMap<String, u64>,
    /// Exchanges finished per [`inbound::THROUGHPUT_BUCKET_MS`].
    pub throughput: Vec<ThroughputPoint>,
}

impl Verdict {
    /// Every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// Judges a run: every history, with what the run expected.
pub fn judge(histories: &[PathBuf], expect: &Expectations) -> Result<Verdict, HistoryError> {
    // Histories without a run's start (another tool's): their first
    // exchange is the origin of the throughput series.
    let mut origin;
    let expect = if expect.run_started_us == 0 {
        origin = expect.clone();
        origin.run_started_us = history::first_started_us(histories)?.unwrap_or(0);
        &origin
    } else {
        expect
    };
    let schemas = Validator::new();
    let spans = expect.fault_spans();
    let released = match &expect.released {
        Some(r) => r.clone(),
        None => history::released_by_erp(histories)?,
    };
    let mut findings = inbound::check(
        histories,
        &schemas,
        &inbound::InboundExpectations {
            released,
            asn_to_expectation_p99_ms: expect
                .sla
                .bounds(sla::ASN_TO_EXPECTATION)
                .p99_ms
                .unwrap_or(f64::INFINITY),
            quiescence: expect.not_quiet.clone().map_or(Ok(()), Err),
            fault_windows: spans.clone(),
            run_started_us: expect.run_started_us,
            price_tolerance_pct: expect.price_tolerance_pct,
        },
    )?;
    if expect.outbound {
        let o = outbound::check(
            histories,
            &outbound::OutboundExpectations { fault_windows: spans },
        )?;
        findings.checks.extend(o.checks);
        findings.latencies.extend(o.latencies);
        findings.counts.extend(o.counts);
        findings.flows.extend(o.flows);
        findings.deliveries.extend(o.deliveries);
    }
    judge_slas(expect, &mut findings);
    if let Some(o) = &expect.ops {
        findings
            .counts
            .insert("dead_letters_replayed".into(), o.replayed());
        findings.checks.push(ops::replay_check(o));
    }
    if let Some(seen) = &expect.events {
        findings.counts.insert("events".into(), seen.first.len() as u64);
        findings.checks.extend(events::check(histories, &schemas, seen)?);
    }
    sla::annotate(&expect.sla, &mut findings.latencies);
    Ok(Verdict {
        checks: findings.checks,
        latencies: findings.latencies,
        counts: findings.counts,
        throughput: findings.throughput,
    })
}

/// SLAs per flow that ran, and recovery after each fault window.
fn judge_slas(expect: &Expectations, findings: &mut inbound::Findings) {
    let inbound = [sla::ASN_TO_EXPECTATION, sla::RECEIPT_TO_POSTING];
    let ran = |flow: &sla::Flow| {
        if inbound.contains(flow) {
            expect.inbound
        } else {
            expect.outbound
        }
    };
    let mut flows: Vec<FlowMeasure> = expect.driven.clone();
    flows.extend(findings.flows.drain(..).filter(|m| ran(&m.flow)));
    let (checks, slowest_recovery_ms) = sla::judge(
        &expect.sla,
        &flows,
        &expect.fault_windows,
        expect.run_started_us,
        &findings.deliveries,
    );
    findings.checks.extend(checks);
    if let Some(ms) = slowest_recovery_ms {
        findings.counts.insert("recovery_slowest_ms".into(), ms);
    }
}
