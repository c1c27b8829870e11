//! Invariants 1, 2 and 4 judged from the recorded exchanges, and what the
//! supplier's own changes excuse from "nothing lost".
//!
//! The POs the ERP released give each line's ordered quantity and
//! over-tolerance; the acknowledgements the core accepted give its
//! confirmed quantity (a rejected line: none may ship). The ASNs the core
//! accepted (outcome `accepted`: a duplicate changes nothing) are replayed
//! in the order the supplier sent them: an original or a replace sets the
//! ASN's open lines and SSCCs, a cancel withdraws them. After each one:
//! - invariant 1: every line it advises refers to a PO line that exists and
//!   was not rejected;
//! - invariant 2: per PO line, what the open ASNs advise in all ≤ the
//!   confirmed (else ordered) quantity × (1 + over-tolerance);
//! - invariant 4: each of its SSCCs sits in no other open ASN;
//! - a replace or cancel names an ASN that is open.
//!
//! Each ASN is judged against the acknowledgement in force when it reached
//! the core: the latest one the core had taken in before the ASN's send
//! started (an ack taken in later does not change the verdict on an earlier
//! ASN); an ack in flight together with the ASN may or may not have been,
//! so the ASN is judged against the most lenient of them.

use std::collections::{BTreeMap, HashMap};

use contracts::inbound::{AckLineStatus, AdvanceShipNotice, AsnPurpose, PoAcknowledgement, PurchaseOrder};
use contracts::routes::{core, wms};
use contracts::{Direction, Exchange, IntakeAck, IntakeOutcome, Role};
use reports::{Check, Violation, Witness};

use crate::history::{parse, witness};

/// (supplier GLN, asn_id).
type AsnKey = (String, String);
/// (po_number, po_line_no).
type PoLineKey = (String, u32);

/// An ASN message the core accepted, as the supplier sent it.
struct AsnEvent {
    key: AsnKey,
    purpose: AsnPurpose,
    /// (po line, quantity), one per ASN line.
    lines: Vec<(PoLineKey, u32)>,
    ssccs: Vec<String>,
    witness: Witness,
    /// When its send started and finished.
    started_us: u64,
    finished_us: u64,
}

/// What the supplier confirmed for a PO line.
#[derive(Clone, Copy)]
struct Confirmed {
    qty: u32,
    rejected: bool,
}

/// Gathered while the history streams by.
#[derive(Default)]
pub(super) struct Asns {
    /// PO line → (version, ordered quantity, over-tolerance %).
    po_lines: HashMap<PoLineKey, (u32, u32, u8)>,
    /// PO line → what each acknowledgement the core took in confirmed, in
    /// the order they were sent: (started, finished, confirmed).
    confirmed: HashMap<PoLineKey, Vec<(u64, u64, Confirmed)>>,
    events: Vec<AsnEvent>,
    /// ASN → the expectation updates and cancellations the WMS took:
    /// (revision, witness).
    wms_changes: HashMap<AsnKey, Vec<(u64, Witness)>>,
}

/// The ASN's state after the replay: the PO lines its open ASNs carry and
/// those only cancelled ASNs carried.
#[derive(Default)]
pub(super) struct Replayed {
    pub(super) commitment: Vec<Violation>,
    pub(super) commitment_checked: u64,
    pub(super) ssccs: Vec<Violation>,
    pub(super) ssccs_checked: u64,
    /// PO lines some accepted ASN advised, and whether an open one still does.
    pub(super) advised: HashMap<PoLineKey, bool>,
}

impl Asns {
    pub(super) fn observe(&mut self, ex: &Exchange) {
        if (ex.party, ex.direction) == (Role::Wms, Direction::Inbound)
            && matches!(
                ex.endpoint.as_str(),
                wms::INBOUND_EXPECTATION_UPDATES | wms::INBOUND_EXPECTATION_CANCELLATIONS
            )
            && ex.is_effect()
        {
            let field = |k: &str| ex.request.as_ref().and_then(|b| b.get(k).cloned());
            if let (Some(gln), Some(asn_id), Some(revision)) = (
                field("supplier_gln").and_then(|v| v.as_str().map(str::to_owned)),
                field("asn_id").and_then(|v| v.as_str().map(str::to_owned)),
                field("revision").and_then(|v| v.as_u64()),
            ) {
                self.wms_changes
                    .entry((gln, asn_id))
                    .or_default()
                    .push((revision, witness(ex)));
            }
            return;
        }
        if ex.direction != Direction::Outbound || !ex.is_success() {
            return;
        }
        match (ex.party, ex.endpoint.as_str()) {
            (Role::Erp, core::PURCHASE_ORDERS) => {
                if let Some(po) = parse::<PurchaseOrder>(&ex.request) {
                    for l in po.lines {
                        let slot = self.po_lines.entry((po.po_number.clone(), l.line_no)).or_insert((
                            po.version,
                            l.quantity,
                            l.over_tolerance_pct,
                        ));
                        if po.version >= slot.0 {
                            *slot = (po.version, l.quantity, l.over_tolerance_pct);
                        }
                    }
                }
            }
            (Role::Supplier, core::PO_ACKNOWLEDGEMENTS) => {
                if let Some(ack) = parse::<PoAcknowledgement>(&ex.request) {
                    for l in ack.lines {
                        self.confirmed
                            .entry((ack.po_number.clone(), l.line_no))
                            .or_default()
                            .push((
                                ex.started_at_us,
                                ex.finished_at_us,
                                Confirmed {
                                    qty: l.confirmed_qty,
                                    rejected: l.status == AckLineStatus::Rejected,
                                },
                            ));
                    }
                }
            }
            (Role::Supplier, core::ASNS) => {
                let accepted =
                    parse::<IntakeAck>(&ex.response).is_some_and(|a| a.outcome == IntakeOutcome::Accepted);
                if let (true, Some(asn)) = (accepted, parse::<AdvanceShipNotice>(&ex.request)) {
                    self.events.push(AsnEvent {
                        key: (asn.supplier_gln.to_string(), asn.asn_id),
                        purpose: asn.purpose,
                        lines: asn
                            .lines
                            .into_iter()
                            .map(|l| ((l.po_number, l.po_line_no), l.quantity))
                            .collect(),
                        ssccs: asn
                            .handling_units
                            .into_iter()
                            .map(|h| h.sscc.to_string())
                            .collect(),
                        witness: witness(ex),
                        started_us: ex.started_at_us,
                        finished_us: ex.finished_at_us,
                    });
                }
            }
            _ => {}
        }
    }

    /// Why a released PO line need not reach a posting, if it need not:
    /// the supplier confirmed none of it, or cancelled every ASN that
    /// carried it.
    pub(super) fn excuse(&self, replayed: &Replayed, po_line: &PoLineKey) -> Option<&'static str> {
        if self
            .confirmed
            .get(po_line)
            .and_then(|acks| acks.last())
            .is_some_and(|(_, _, c)| c.qty == 0 || c.rejected)
        {
            return Some("confirmed none");
        }
        match replayed.advised.get(po_line) {
            Some(false) => Some("cancelled"),
            _ => None,
        }
    }

    /// What may have been confirmed for `line` when the core took in
    /// `event`: the latest ack taken in before its send started (`None`:
    /// none, the ordered quantity stands), and any ack in flight with it.
    fn in_force(&self, line: &PoLineKey, event: &AsnEvent) -> Vec<Option<Confirmed>> {
        let acks = self.confirmed.get(line).map(Vec::as_slice).unwrap_or_default();
        let before = acks
            .iter()
            .filter(|(_, finished, _)| *finished <= event.started_us)
            .max_by_key(|(_, finished, _)| *finished)
            .map(|(_, _, c)| *c);
        let mut possible = vec![before];
        possible.extend(
            acks.iter()
                .filter(|(started, finished, _)| *finished > event.started_us && *started < event.finished_us)
                .map(|(_, _, c)| Some(*c)),
        );
        possible
    }

    /// Replays the accepted ASNs in order (see the module doc).
    pub(super) fn replay(&self) -> Replayed {
        let mut r = Replayed::default();
        // ASN → its open lines and SSCCs.
        let mut open: HashMap<&AsnKey, &AsnEvent> = HashMap::new();
        let mut advised: HashMap<&PoLineKey, u64> = HashMap::new();
        let mut sscc_owner: HashMap<&str, &AsnKey> = HashMap::new();
        for event in &self.events {
            let name = format!("supplier={} asn_id={}", event.key.0, event.key.1);
            let before = open.get(&event.key).copied();
            if event.purpose != AsnPurpose::Original {
                r.commitment_checked += 1;
                if before.is_none() {
                    r.commitment.push(Violation {
                        key: name.clone(),
                        message: format!(
                            "a {} accepted for an ASN that is not open",
                            format!("{:?}", event.purpose).to_lowercase()
                        ),
                        witness: vec![event.witness.clone()],
                    });
                }
            }
            if let Some(old) = before {
                for (line, qty) in &old.lines {
                    *advised.entry(line).or_default() -= u64::from(*qty);
                }
                for sscc in &old.ssccs {
                    if sscc_owner.get(sscc.as_str()) == Some(&&event.key) {
                        sscc_owner.remove(sscc.as_str());
                    }
                }
                open.remove(&event.key);
            }
            if event.purpose == AsnPurpose::Cancel {
                continue;
            }
            open.insert(&event.key, event);
            for sscc in &event.ssccs {
                r.ssccs_checked += 1;
                if let Some(owner) = sscc_owner.insert(sscc, &event.key) {
                    if owner != &event.key {
                        r.ssccs.push(Violation {
                            key: format!("sscc={sscc}"),
                            message: format!(
                                "in {name} while still in the open ASN supplier={} asn_id={}",
                                owner.0, owner.1
                            ),
                            witness: vec![open[owner].witness.clone(), event.witness.clone()],
                        });
                    }
                }
            }
            let mut here: BTreeMap<&PoLineKey, u64> = BTreeMap::new();
            for (line, qty) in &event.lines {
                *advised.entry(line).or_default() += u64::from(*qty);
                *here.entry(line).or_default() += u64::from(*qty);
            }
            for line in here.keys() {
                r.commitment_checked += 1;
                let key = format!("{name} po_number={} line={}", line.0, line.1);
                let Some(&(_, ordered, over)) = self.po_lines.get(*line) else {
                    r.commitment.push(Violation {
                        key,
                        message: "accepted, but refers to a PO line the ERP never released (invariant 1)"
                            .into(),
                        witness: vec![event.witness.clone()],
                    });
                    continue;
                };
                let possible = self.in_force(line, event);
                if !possible.is_empty() && possible.iter().all(|c| c.is_some_and(|c| c.rejected)) {
                    r.commitment.push(Violation {
                        key,
                        message: "accepted, but refers to a PO line the supplier rejected (invariant 1)"
                            .into(),
                        witness: vec![event.witness.clone()],
                    });
                    continue;
                }
                // The most lenient of the acks that may have been in force.
                let (open_qty, confirmed) = possible
                    .iter()
                    .filter(|c| !c.is_some_and(|c| c.rejected))
                    .map(|c| (c.map_or(ordered, |c| c.qty), c.is_some()))
                    .max()
                    .unwrap_or((ordered, false));
                let limit = u64::from(open_qty) * (100 + u64::from(over)) / 100;
                let total = advised[*line];
                if total > limit {
                    r.commitment.push(Violation {
                        key,
                        message: format!(
                            "accepted, and the open ASNs now advise {total} in all, beyond {limit} ({} {open_qty} + {over}%) (invariant 2)",
                            if confirmed { "confirmed" } else { "ordered" }
                        ),
                        witness: vec![event.witness.clone()],
                    });
                }
            }
        }
        for event in &self.events {
            for (line, _) in &event.lines {
                r.advised.entry(line.clone()).or_insert(false);
            }
        }
        for event in open.values() {
            for (line, _) in &event.lines {
                r.advised.insert(line.clone(), true);
            }
        }
        r
    }
}

impl Asns {
    /// Each replace or cancel the core accepted reaches the WMS exactly
    /// once (an expectation update or cancellation, one revision each), and
    /// the WMS gets none the supplier did not cause.
    pub(super) fn changes_check(&mut self) -> Check {
        let mut accepted: BTreeMap<&AsnKey, Vec<&Witness>> = BTreeMap::new();
        for e in self.events.iter().filter(|e| e.purpose != AsnPurpose::Original) {
            accepted.entry(&e.key).or_default().push(&e.witness);
        }
        let mut keys: Vec<&AsnKey> = accepted.keys().copied().chain(self.wms_changes.keys()).collect();
        keys.sort();
        keys.dedup();
        let mut v = Vec::new();
        for key in &keys {
            let changes = accepted.get(key).map(Vec::as_slice).unwrap_or_default();
            let effects = self.wms_changes.get(*key).map(Vec::as_slice).unwrap_or_default();
            let mut revisions: Vec<u64> = effects.iter().map(|e| e.0).collect();
            revisions.sort_unstable();
            let n = revisions.len();
            revisions.dedup();
            let message = if revisions.len() < n {
                Some(format!(
                    "{} update(s)/cancellation(s) at the WMS repeat a revision (duplicated)",
                    n - revisions.len()
                ))
            } else if n < changes.len() {
                Some(format!(
                    "{} replace/cancel accepted by the core, {n} reached the WMS (lost)",
                    changes.len()
                ))
            } else if n > changes.len() {
                Some(format!(
                    "{n} updates/cancellations at the WMS for {} replace/cancel accepted (unexpected)",
                    changes.len()
                ))
            } else {
                None
            };
            if let Some(message) = message {
                v.push(Violation {
                    key: format!("supplier={} asn_id={}", key.0, key.1),
                    message,
                    witness: changes
                        .iter()
                        .map(|w| (*w).clone())
                        .chain(effects.iter().map(|e| e.1.clone()))
                        .collect(),
                });
            }
        }
        Check::new(
            "asn-changes-reach-wms",
            "every replace or cancel ASN the core accepted reaches the WMS exactly once as an expectation update or cancellation (one revision each)",
            keys.len() as u64,
            v,
        )
    }
}

impl Replayed {
    /// The two checks: commitments (invariants 1, 2) and SSCCs (invariant 4).
    pub(super) fn checks(&mut self) -> [Check; 2] {
        [
            Check::new(
                "asn-within-commitment",
                "every ASN the core accepted refers to released, unrejected PO lines, and its open ASNs advise at most the confirmed (else ordered) quantity plus tolerance per PO line; a replace or cancel names an open ASN (invariants 1, 2)",
                self.commitment_checked,
                std::mem::take(&mut self.commitment),
            ),
            Check::new(
                "sscc-in-one-open-asn",
                "every SSCC of an accepted ASN sits in no other open ASN; a replace or cancel frees the SSCCs it drops (invariant 4)",
                self.ssccs_checked,
                std::mem::take(&mut self.ssccs),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const SUPPLIER: &str = "5060000000016";

    fn ex(party: Role, endpoint: &str, seq: u64, request: Value, outcome: &str) -> Exchange {
        Exchange {
            response: Some(json!({"message_id": format!("MSG-{seq}"), "outcome": outcome,
                                  "trace_id": "0af7651916cd43dd8448eb211c80319c"})),
            ..crate::history::test_exchange(party, Direction::Outbound, endpoint, seq, request)
        }
    }

    /// PO-1: line 1 of 100, line 2 of 10, 10% over-tolerance.
    fn po() -> Exchange {
        let line = |n: u32, qty: u32| {
            json!({"line_no": n, "sku": format!("S{n}"), "gtin": "4006381333931", "quantity": qty, "uom": "EA",
                   "unit_price": "1.00", "requested_date": "2026-11-27", "over_tolerance_pct": 10,
                   "under_tolerance_pct": 5, "status": "open"})
        };
        ex(
            Role::Erp,
            core::PURCHASE_ORDERS,
            1,
            json!({"po_number": "PO-1", "version": 1, "supplier_gln": SUPPLIER, "ship_to_gln": "5060000000092",
                   "currency": "EUR", "order_date": "2026-11-20", "lines": [line(1, 100), line(2, 10)]}),
            "accepted",
        )
    }

    /// Line 1 confirmed 50, line 2 rejected.
    fn ack() -> Exchange {
        ex(
            Role::Supplier,
            core::PO_ACKNOWLEDGEMENTS,
            2,
            json!({"ack_id": "ACK-1", "po_number": "PO-1", "po_version": 1, "supplier_gln": SUPPLIER, "lines": [
                {"line_no": 1, "status": "quantity_changed", "confirmed_qty": 50, "promised_date": "2026-11-27"},
                {"line_no": 2, "status": "rejected", "confirmed_qty": 0, "promised_date": "2026-11-27"}]}),
            "accepted",
        )
    }

    fn sscc(n: u32) -> String {
        contracts::ids::with_check_digit(&format!("00614141{n:09}"))
    }

    /// An ASN shipping `lines` (po line, qty, carton number) on pallet 1.
    fn asn(seq: u64, id: &str, purpose: &str, lines: &[(u32, u32, u32)], outcome: &str) -> Exchange {
        let pallet = sscc(1000 + u32::from(id.as_bytes()[0]));
        let mut units = vec![json!({"sscc": pallet, "level": "pallet"})];
        units.extend(
            lines
                .iter()
                .map(|l| json!({"sscc": sscc(l.2), "level": "carton", "parent_sscc": pallet})),
        );
        ex(
            Role::Supplier,
            core::ASNS,
            seq,
            json!({"asn_id": id, "purpose": purpose, "supplier_gln": SUPPLIER, "ship_date": "2026-11-20",
                   "estimated_arrival": "2026-11-27", "carrier_scac": "SIMC", "bill_of_lading": "B",
                   "handling_units": units,
                   "lines": lines.iter().map(|l| json!({"po_number": "PO-1", "po_line_no": l.0,
                        "gtin": "4006381333931", "quantity": l.1, "uom": "EA", "sscc": sscc(l.2)})).collect::<Vec<_>>()}),
            outcome,
        )
    }

    fn judge(history: &[Exchange]) -> (Asns, Replayed) {
        let mut a = Asns::default();
        for e in history {
            a.observe(e);
        }
        let r = a.replay();
        (a, r)
    }

    fn failed(r: &mut Replayed) -> Vec<(String, Vec<String>)> {
        r.checks()
            .into_iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.violations.iter().map(|v| v.message.clone()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn asns_within_what_was_confirmed_pass_and_a_replace_frees_its_ssccs() {
        let (a, mut r) = judge(&[
            po(),
            ack(),
            asn(3, "A", "original", &[(1, 30, 2)], "accepted"),
            asn(4, "A", "original", &[(1, 30, 2)], "duplicate"),
            // 25 more in another ASN: 55 = 50 + 10 %.
            asn(5, "B", "original", &[(1, 25, 3)], "accepted"),
            // A replaced: pallet 1 kept, the carton changes.
            asn(6, "A", "replace", &[(1, 20, 4)], "accepted"),
            asn(7, "B", "cancel", &[(1, 25, 3)], "accepted"),
            // Carton 3 is free again.
            asn(8, "C", "original", &[(1, 30, 3)], "accepted"),
        ]);
        let checks = failed(&mut r);
        assert!(checks.iter().all(|(_, v)| v.is_empty()), "{checks:?}");
        let line = |n: u32| ("PO-1".to_owned(), n);
        assert_eq!(a.excuse(&r, &line(1)), None);
        assert_eq!(a.excuse(&r, &line(2)), Some("confirmed none"));
    }

    #[test]
    fn over_commitment_rejected_lines_shared_ssccs_and_stray_changes_fail() {
        let (a, mut r) = judge(&[
            po(),
            ack(),
            asn(3, "A", "original", &[(1, 40, 2)], "accepted"),
            // 40 + 16 = 56 > 55.
            asn(4, "B", "original", &[(1, 16, 3)], "accepted"),
            asn(5, "C", "original", &[(2, 1, 5)], "accepted"),
            // Carton 2 is still in A.
            asn(6, "D", "original", &[(1, 1, 2)], "accepted"),
            asn(7, "E", "cancel", &[(1, 1, 6)], "accepted"),
            asn(8, "A", "cancel", &[(1, 40, 2)], "accepted"),
        ]);
        let checks = failed(&mut r);
        let commitment = &checks[0].1;
        assert_eq!(commitment.len(), 4, "{commitment:?}");
        assert!(commitment[0].contains("56 in all, beyond 55 (confirmed 50 + 10%)"));
        assert!(commitment[1].contains("rejected"));
        assert!(commitment[2].contains("57 in all"), "D's carton adds to line 1");
        assert!(commitment[3].contains("cancel accepted for an ASN that is not open"));
        let ssccs = &checks[1].1;
        assert_eq!(ssccs.len(), 1, "{ssccs:?}");
        assert!(ssccs[0].contains("asn_id=D while still in the open ASN supplier=5060000000016 asn_id=A"));
        // A was cancelled: line 1 is still carried by B and D.
        assert_eq!(a.excuse(&r, &("PO-1".to_owned(), 1)), None);
    }

    fn wms_change(seq: u64, endpoint: &str, id: &str, revision: u32) -> Exchange {
        Exchange {
            party: Role::Wms,
            direction: Direction::Inbound,
            ..ex(
                Role::Wms,
                endpoint,
                seq,
                json!({"expectation_id": "IBE-1", "revision": revision, "asn_id": id, "supplier_gln": SUPPLIER}),
                "accepted",
            )
        }
    }

    #[test]
    fn each_accepted_change_must_reach_the_wms_once() {
        let history = [
            po(),
            asn(2, "A", "original", &[(1, 100, 2)], "accepted"),
            asn(3, "A", "replace", &[(1, 90, 3)], "accepted"),
            asn(4, "A", "cancel", &[(1, 90, 3)], "accepted"),
            asn(5, "B", "original", &[(1, 5, 4)], "accepted"),
            asn(6, "B", "cancel", &[(1, 5, 4)], "accepted"),
        ];
        let mut a = Asns::default();
        for e in &history {
            a.observe(e);
        }
        a.observe(&wms_change(7, wms::INBOUND_EXPECTATION_UPDATES, "A", 2));
        a.observe(&wms_change(8, wms::INBOUND_EXPECTATION_CANCELLATIONS, "A", 3));
        // B's cancellation never reached the WMS.
        let c = a.changes_check();
        assert_eq!(c.violations.len(), 1, "{:?}", c.violations);
        assert!(c.violations[0].key.ends_with("asn_id=B"));
        // Then C's came from nowhere and A's update was delivered twice as
        // two effects.
        a.observe(&wms_change(9, wms::INBOUND_EXPECTATION_CANCELLATIONS, "C", 2));
        a.observe(&wms_change(10, wms::INBOUND_EXPECTATION_UPDATES, "A", 2));
        let c = a.changes_check();
        let messages: Vec<_> = c
            .violations
            .iter()
            .map(|v| (v.key.as_str(), v.message.as_str()))
            .collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].0.ends_with("asn_id=A") && messages[0].1.contains("duplicated"));
        assert!(messages[1].0.ends_with("asn_id=B") && messages[1].1.contains("(lost)"));
        assert!(messages[2].0.ends_with("asn_id=C") && messages[2].1.contains("(unexpected)"));
    }

    #[test]
    fn a_line_only_cancelled_asns_carried_is_excused() {
        let (a, r) = judge(&[
            po(),
            asn(2, "A", "original", &[(1, 100, 2), (2, 10, 3)], "accepted"),
            asn(3, "A", "replace", &[(1, 100, 2)], "accepted"),
            asn(4, "A", "cancel", &[(1, 100, 2)], "accepted"),
        ]);
        assert_eq!(a.excuse(&r, &("PO-1".to_owned(), 1)), Some("cancelled"));
        assert_eq!(a.excuse(&r, &("PO-1".to_owned(), 2)), Some("cancelled"));
        assert_eq!(a.excuse(&r, &("PO-1".to_owned(), 3)), None);
    }

    #[test]
    fn an_asn_is_judged_against_the_ack_in_force_when_it_arrived() {
        // 80 of line 1 advised while the ordered 100 stood; the ack that
        // confirms 50 came later. The ASN was within commitment when it
        // arrived; the later ack does not change that.
        let late_ack = Exchange {
            started_at_us: 5,
            finished_at_us: 6,
            ..ack()
        };
        let (_, mut r) = judge(&[
            po(),
            asn(3, "A", "original", &[(1, 80, 2)], "accepted"),
            late_ack.clone(),
        ]);
        assert!(
            failed(&mut r).iter().all(|(_, v)| v.is_empty()),
            "{:?}",
            failed(&mut r)
        );

        // An ASN after that ack is judged by it: 80 > 55.
        let (_, mut r) = judge(&[
            po(),
            late_ack.clone(),
            asn(7, "B", "original", &[(1, 80, 3)], "accepted"),
        ]);
        let commitment = &failed(&mut r)[0].1;
        assert_eq!(commitment.len(), 1, "{commitment:?}");
        assert!(
            commitment[0].contains("beyond 55 (confirmed 50 + 10%)"),
            "{commitment:?}"
        );

        // An ack in flight with the ASN may have been taken in first or
        // not: the ASN passes if either allows it; line 2 was still open
        // under the order, so shipping it is no violation either.
        let overlapping = Exchange {
            started_at_us: 2,
            finished_at_us: 10,
            ..ack()
        };
        let (_, mut r) = judge(&[
            po(),
            overlapping,
            asn(3, "A", "original", &[(1, 80, 2), (2, 5, 4)], "accepted"),
        ]);
        assert!(
            failed(&mut r).iter().all(|(_, v)| v.is_empty()),
            "{:?}",
            failed(&mut r)
        );
    }
}
