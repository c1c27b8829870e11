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
    if !expect.required.is_empty() {
        let judged = required_judged(&expect.required, &findings.checks);
        findings.checks.push(judged);
    }
    Ok(Verdict {
        checks: findings.checks,
        latencies: findings.latencies,
        counts: findings.counts,
        throughput: findings.throughput,
    })
}

/// `required-checks-judged`: every check the run exists for ran and
/// judged at least one item. A check that judged nothing passes on its own
/// (nothing broke); here that is the failure: the core refused, or never
/// carried, the business the scenario drives.
pub fn required_judged(required: &[String], checks: &[Check]) -> Check {
    let violations = required
        .iter()
        .filter_map(|name| {
            let message = match checks.iter().find(|c| &c.name == name) {
                None => format!("the run requires check {name}, which the checker did not run (unknown name, or its flow was not judged)"),
                Some(c) if c.checked == 0 => format!(
                    "{name} judged nothing: the scenario exists for it, so the core refused or never carried its flow"
                ),
                Some(_) => return None,
            };
            Some(reports::Violation {
                key: format!("check={name}"),
                message,
                witness: vec![],
            })
        })
        .collect();
    Check::new(
        "required-checks-judged",
        "every check the scenario exists for (derived from its sections, or listed in `checks`) judged at least one item",
        required.len() as u64,
        violations,
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_required_check_that_judged_nothing_or_never_ran_fails_the_run() {
        let checks = vec![
            Check::new("three-way-match", "d", 0, vec![]),
            Check::new("nothing-lost", "d", 12, vec![]),
        ];
        let ok = required_judged(&["nothing-lost".into()], &checks);
        assert!(ok.passed && ok.checked == 1, "{ok:#?}");

        let c = required_judged(
            &[
                "nothing-lost".into(),
                "three-way-match".into(),
                "no-such-check".into(),
            ],
            &checks,
        );
        assert!(!c.passed);
        assert_eq!(c.violations_total, 2, "{c:#?}");
        assert_eq!(c.violations[0].key, "check=three-way-match");
        assert!(c.violations[0].message.contains("judged nothing"), "{c:#?}");
        assert!(c.violations[1].message.contains("did not run"), "{c:#?}");
    }

    #[test]
    fn judge_adds_the_required_check_only_when_the_run_names_some() {
        let dir = std::env::temp_dir().join(format!("checker-required-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let history = dir.join("empty.jsonl");
        std::fs::write(&history, "").unwrap();
        let mut expect = Expectations::default();
        let v = judge(std::slice::from_ref(&history), &expect).unwrap();
        assert!(v.checks.iter().all(|c| c.name != "required-checks-judged"));
        assert!(v.passed(), "an empty history with nothing required passes");

        expect.required = vec!["three-way-match".into()];
        let v = judge(std::slice::from_ref(&history), &expect).unwrap();
        let c = v
            .checks
            .iter()
            .find(|c| c.name == "required-checks-judged")
            .unwrap();
        assert!(!c.passed && !v.passed(), "{c:#?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
