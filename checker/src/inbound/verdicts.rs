//! One verdict per invariant of the inbound flow, from what [`gather`]
//! kept. Each function is one check.
//!
//! [`gather`]: super::gather

use contracts::inbound::DiscrepancyKind;
use hdrhistogram::Histogram;
use reports::{Check, Violation, Witness};

use super::asns::{Asns, Replayed};
use super::gather::{CancelledBefore, Gathered, trace_violation, variance_kind};
use crate::history::{fingerprint, histogram};
use crate::sla::{Deliveries, FaultSpan, FlowMeasure};

/// A check and the latency it measured along the way.
pub(super) struct Measured {
    pub check: Check,
    pub latency: Histogram<u64>,
    pub flow: FlowMeasure,
}

/// Invariant 3: exactly one inbound expectation per distinct accepted ASN.
pub(super) fn one_expectation_per_asn(
    g: &Gathered,
    windows: &[FaultSpan],
    deliveries: &mut Deliveries,
) -> Measured {
    // Invariant 3: exactly one inbound expectation per distinct accepted ASN.
    let mut v = Vec::new();
    let mut asn_latency = histogram();
    let mut asn_flow = crate::sla::FlowMeasure::new(crate::sla::ASN_TO_EXPECTATION);
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
                if asn_flow.flow.outside(windows, *accepted_at, effects[0].0) {
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
    let check = Check::new(
        "one-expectation-per-asn",
        "exactly one WMS inbound expectation per distinct ASN the core accepted (invariant 3)",
        asn_keys.len() as u64,
        v,
    );
    Measured {
        check,
        latency: asn_latency,
        flow: asn_flow,
    }
}

/// Invariant 6: exactly one ERP posting per (receipt, line) stands: a
/// correction's reversal cancels the posting it names.
pub(super) fn one_posting_per_receipt_line(
    g: &mut Gathered,
    windows: &[FaultSpan],
    deliveries: &mut Deliveries,
) -> Measured {
    // Invariant 6: exactly one ERP posting per (receipt, line) stands: a
    // correction's reversal cancels the posting it names.
    let mut v = Vec::new();
    let mut receipt_latency = histogram();
    let mut receipt_flow = FlowMeasure::new(crate::sla::RECEIPT_TO_POSTING);
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
                    if receipt_flow.flow.outside(windows, *accepted_at, effects[0].0) {
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
    let check = Check::new(
        "one-posting-per-receipt-line",
        "exactly one ERP goods-receipt posting per (receipt, line) (invariant 6)",
        checked,
        v,
    );
    Measured {
        check,
        latency: receipt_latency,
        flow: receipt_flow,
    }
}

/// Invariant 9 (see the comment inside).
pub(super) fn one_discrepancy_per_variance(g: &mut Gathered) -> Check {
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
            let kinds: Vec<DiscrepancyKind> = found.iter().map(|f| f.0).collect();
            let message = discrepancy_message(&counted, allowed, &kinds);
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
    Check::new(
        "one-discrepancy-per-variance",
        "a receiving variance beyond tolerance yields exactly one ERP discrepancy of its kind (short, over, damaged, not advised, wrong item); within tolerance, none (invariant 9)",
        checked,
        v,
    )
}

/// Invariant 15 (see the comment inside).
pub(super) fn trace_continuity(g: &mut Gathered) -> Check {
    // Invariant 15: every call the core makes because of an inbound message
    // carries that message's trace id.
    let mut v = std::mem::take(&mut g.trace_violations);
    let checked = g.trace_checked + g.effects.len() as u64;
    for ((kind, key), trace, effect) in std::mem::take(&mut g.effects) {
        let cause = g.causes.get(&fingerprint(&[kind, &key]));
        v.extend(trace_violation(kind, &key, &trace, cause, effect));
    }
    Check::new(
        "trace-continuity",
        "every call the core makes carries the W3C trace id of the inbound message that caused it (invariant 15)",
        checked,
        v,
    )
}

/// Invariant 7 (see the comment inside).
pub(super) fn nothing_lost(
    g: &Gathered,
    asns: &Asns,
    replayed: &Replayed,
    released: &[(String, Vec<u32>)],
) -> Check {
    // Invariant 7 (no outage yet): every PO released reaches posted, line by line.
    let mut v = Vec::new();
    let mut checked = 0;
    for (po_number, lines) in released {
        let release = g.po_released.get(po_number);
        for line in lines {
            checked += 1;
            // The supplier confirmed none of it, or cancelled its ASNs.
            let po_line = (po_number.clone(), *line);
            if asns.excuse(replayed, &po_line).is_some() || g.blocked_po_lines.contains(&po_line) {
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
    Check::new(
        "nothing-lost",
        "every line of every PO the ERP released reaches an ERP goods-receipt posting, unless the supplier confirmed none of it or cancelled every ASN that carried it, or the WMS received the wrong item (blocked stock)",
        checked,
        v,
    )
}

/// What is wrong with the discrepancies `kinds` raised for one variance,
/// given the verdicts the order of cancel and receipt `allowed`; `None`
/// when they fit.
fn discrepancy_message(
    counted: &str,
    allowed: &[Option<DiscrepancyKind>],
    kinds: &[DiscrepancyKind],
) -> Option<String> {
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
    match (kinds, due) {
        ([], _) if allowed.contains(&None) => None,
        ([kind], _) if allowed.contains(&Some(*kind)) => None,
        ([], Some(due)) => Some(format!(
            "{counted}: {} variance beyond tolerance, but no discrepancy reached the ERP (lost)",
            a_name(due)
        )),
        ([kind], Some(due)) => Some(format!(
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
    }
}
