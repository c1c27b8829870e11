//! Unit tests of the inbound pass, on hand-made exchanges.

use super::*;
use crate::history::test_exchange;
use contracts::routes::{core, erp, wms};
use contracts::{Direction, Exchange, Role};
use serde_json::json;

/// A quiet run that released nothing, with no fault windows.
fn quiet_run() -> InboundExpectations {
    InboundExpectations {
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
    let down = |party| InboundExpectations {
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

#[test]
fn throughput_without_a_known_start_counts_from_the_first_exchange() {
    // Finished 2026 (µs since the epoch): from 0 that would be billions of
    // buckets; from the first exchange, two.
    let at = 1_796_621_007_000_000;
    let buckets: std::collections::BTreeMap<u64, u64> = [
        (at / 1000 / THROUGHPUT_BUCKET_MS, 3),
        (at / 1000 / THROUGHPUT_BUCKET_MS + 1, 1),
    ]
    .into();
    let points = throughput(&buckets, true);
    assert_eq!(points.len(), 2);
    assert_eq!((points[0].at_ms, points[0].exchanges), (0, 3));
    assert_eq!((points[1].at_ms, points[1].exchanges), (THROUGHPUT_BUCKET_MS, 1));
    // A known start: buckets count from it.
    let from_start: std::collections::BTreeMap<u64, u64> = [(2, 5)].into();
    assert_eq!(throughput(&from_start, false).len(), 3);
}
