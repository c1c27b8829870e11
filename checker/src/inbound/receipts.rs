//! Receipt corrections and reordering: invariants 10 (stale events never
//! change ERP state) and 8 (conservation per PO line), from the recorded
//! exchanges.
//!
//! The WMS may emit several events for one receipt (`seq` 1, then
//! corrections), and they may reach the core out of order. An event is
//! *stale* when a higher seq of the same receipt had already been accepted
//! by the core before the event was first sent (the WMS's records say when
//! each send started and finished). A stale event must leave no trace at the
//! ERP: no posting, reversal or discrepancy carrying its seq.
//!
//! Conservation: per PO line, what the ERP was posted (postings − reversals)
//! equals what the latest event of each receipt counted into stock
//! (received − damaged, blocked stock left out: never posted); and each (receipt, line, seq) is posted at most
//! once and reversed at most once.

use std::collections::{BTreeMap, HashMap};

use contracts::inbound::{ErpGoodsReceiptPosting, GoodsReceipt, ReceiptDiscrepancy, StockStatus};
use contracts::routes::{core, erp};
use contracts::{Direction, Exchange, Role};
use reports::{Check, Violation, Witness};

use crate::history::{one_slot, parse, witness};

/// One receipt event (receipt, seq) as the core accepted it.
struct EventSeen {
    /// When its earliest accepted send started and finished.
    first_started_us: u64,
    first_finished_us: u64,
    witness: Witness,
    /// (po_number, po_line_no) → quantity counted into stock.
    stock: Vec<((String, u32), u64)>,
}

/// A posting or reversal at the ERP.
struct Effect {
    po_line: (String, u32),
    quantity: u64,
    /// The seq of the event that caused it.
    seq: u64,
    witness: Witness,
}

/// What the checker gathers about receipt events and their ERP effects.
#[derive(Default)]
pub(super) struct ReceiptEvents {
    /// Ordered, so one receipt's events are one range (no full scans).
    events: BTreeMap<(String, u64), EventSeen>,
    /// (receipt, line, seq posted) → postings.
    postings: BTreeMap<(String, u32, u64), Vec<Effect>>,
    /// (receipt, line, seq reversed) → reversals.
    reversals: BTreeMap<(String, u32, u64), Vec<Effect>>,
    /// (receipt, seq) → discrepancies raised for that event.
    discrepancies: HashMap<(String, u64), Vec<Witness>>,
}

impl ReceiptEvents {
    pub(super) fn observe(&mut self, ex: &Exchange) {
        match (ex.party, ex.direction, ex.endpoint.as_str()) {
            (Role::Wms, Direction::Outbound, core::GOODS_RECEIPTS) if ex.is_success() => {
                let Some(r) = parse::<GoodsReceipt>(&ex.request) else {
                    return;
                };
                let mut stock: Vec<((String, u32), u64)> = Vec::new();
                // Blocked stock (not advised, wrong item) is never posted.
                for l in r.lines.iter().filter(|l| l.stock_status != StockStatus::Blocked) {
                    let q = u64::from(l.qty_received.saturating_sub(l.qty_damaged));
                    let key = (l.po_number.clone(), l.po_line_no);
                    match stock.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, sum)) => *sum += q,
                        None => stock.push((key, q)),
                    }
                }
                let seen = self
                    .events
                    .entry((r.receipt_id, r.seq))
                    .or_insert_with(|| EventSeen {
                        first_started_us: ex.started_at_us,
                        first_finished_us: ex.finished_at_us,
                        witness: witness(ex),
                        stock,
                    });
                if ex.started_at_us < seen.first_started_us {
                    seen.first_started_us = ex.started_at_us;
                    seen.witness = witness(ex);
                }
                seen.first_finished_us = seen.first_finished_us.min(ex.finished_at_us);
            }
            (Role::Erp, Direction::Inbound, erp::GOODS_RECEIPT_POSTINGS) if ex.is_effect() => {
                let Some(p) = parse::<ErpGoodsReceiptPosting>(&ex.request) else {
                    return;
                };
                let effect = Effect {
                    po_line: (p.po_number, p.po_line_no),
                    quantity: u64::from(p.quantity),
                    seq: p.seq,
                    witness: witness(ex),
                };
                let (map, seq) = match p.reverses_seq {
                    Some(reversed) => (&mut self.reversals, reversed),
                    None => (&mut self.postings, p.seq),
                };
                map.entry((p.receipt_id, p.receipt_line_no, seq))
                    .or_insert_with(one_slot)
                    .push(effect);
            }
            (Role::Erp, Direction::Inbound, erp::RECEIPT_DISCREPANCIES) if ex.is_effect() => {
                if let Some(d) = parse::<ReceiptDiscrepancy>(&ex.request) {
                    self.discrepancies
                        .entry((d.receipt_id, d.seq))
                        .or_insert_with(one_slot)
                        .push(witness(ex));
                }
            }
            _ => {}
        }
    }

    /// Reversals of (receipt, line), whatever seq they cancel.
    pub(super) fn reversals_of(&self, receipt_id: &str, line: u32) -> usize {
        self.reversals
            .range((receipt_id.to_owned(), line, 0)..=(receipt_id.to_owned(), line, u64::MAX))
            .map(|(_, v)| v.len())
            .sum()
    }

    /// The higher-seq event of the same receipt the core had accepted before
    /// (receipt, seq) was first sent, if any.
    fn superseded_by(&self, receipt_id: &str, seq: u64) -> Option<(u64, &EventSeen)> {
        let this = self.events.get(&(receipt_id.to_owned(), seq))?;
        self.events
            .range((receipt_id.to_owned(), seq.saturating_add(1))..=(receipt_id.to_owned(), u64::MAX))
            .filter(|(_, e)| e.first_finished_us <= this.first_started_us)
            .map(|((_, s), e)| (*s, e))
            .min_by_key(|(s, _)| *s)
    }

    /// Whether the event (receipt, seq) was stale when it reached the core.
    pub(super) fn is_stale(&self, receipt_id: &str, seq: u64) -> bool {
        self.superseded_by(receipt_id, seq).is_some()
    }

    /// Invariant 10: stale events never change ERP state.
    pub(super) fn stale_check(&self) -> Check {
        let mut keys: Vec<_> = self.events.keys().collect();
        keys.sort();
        let mut checked = 0;
        let mut v = Vec::new();
        for (receipt_id, seq) in keys {
            let Some((newer, newer_seen)) = self.superseded_by(receipt_id, *seq) else {
                continue;
            };
            checked += 1;
            let this = &self.events[&(receipt_id.clone(), *seq)];
            let mut traces: Vec<Witness> = Vec::new();
            let mut what = Vec::new();
            let receipt = (receipt_id.clone(), 0, 0)..=(receipt_id.clone(), u32::MAX, u64::MAX);
            let postings: Vec<&Effect> = self
                .postings
                .range(receipt.clone())
                .filter(|((_, _, s), _)| s == seq)
                .flat_map(|(_, e)| e)
                .collect();
            if !postings.is_empty() {
                what.push(format!("{} posting(s)", postings.len()));
                traces.extend(postings.iter().map(|e| e.witness.clone()));
            }
            let reversals: Vec<&Effect> = self
                .reversals
                .range(receipt)
                .flat_map(|(_, e)| e)
                .filter(|e| e.seq == *seq)
                .collect();
            if !reversals.is_empty() {
                what.push(format!("{} reversal(s)", reversals.len()));
                traces.extend(reversals.iter().map(|e| e.witness.clone()));
            }
            if let Some(d) = self.discrepancies.get(&(receipt_id.clone(), *seq)) {
                what.push(format!("{} discrepancy(ies)", d.len()));
                traces.extend(d.iter().cloned());
            }
            if !what.is_empty() {
                let mut witness = vec![newer_seen.witness.clone(), this.witness.clone()];
                witness.extend(traces);
                v.push(Violation {
                    key: format!("receipt_id={receipt_id} seq={seq}"),
                    message: format!(
                        "stale event (seq {newer} was already accepted) changed ERP state: {}",
                        what.join(", ")
                    ),
                    witness,
                });
            }
        }
        Check::new(
            "stale-events-ignored",
            "a receipt event older than one the core already accepted (lower seq, same receipt) never changes ERP state (invariant 10)",
            checked,
            v,
        )
    }

    /// Invariant 8: per PO line, postings − reversals = what the latest
    /// event of each receipt counted into stock; each (receipt, line, seq)
    /// posted and reversed at most once.
    pub(super) fn conservation_check(&self) -> Check {
        let mut v = Vec::new();
        // Latest event per receipt.
        let mut latest: HashMap<&str, (u64, &EventSeen)> = HashMap::new();
        for ((receipt_id, seq), seen) in &self.events {
            let slot = latest.entry(receipt_id).or_insert((*seq, seen));
            if *seq > slot.0 {
                *slot = (*seq, seen);
            }
        }
        // (po line) → (received, posted, reversed, witnesses).
        // Borrowed from the gathered state: only a violation copies them.
        #[derive(Default)]
        struct Line<'a> {
            received: u64,
            posted: u64,
            reversed: u64,
            witness: Vec<&'a Witness>,
        }
        let mut lines: BTreeMap<(&str, u32), Line> = BTreeMap::new();
        for (_, seen) in latest.values() {
            for ((po, po_line), q) in &seen.stock {
                let line = lines.entry((po.as_str(), *po_line)).or_default();
                line.received += q;
                line.witness.push(&seen.witness);
            }
        }
        for (kind, map) in [("posted", &self.postings), ("reversed", &self.reversals)] {
            let mut keys: Vec<_> = map.keys().collect();
            keys.sort();
            for key in keys {
                let effects = &map[key];
                if effects.len() > 1 {
                    let (receipt_id, line, seq) = key;
                    v.push(Violation {
                        key: format!("receipt_id={receipt_id} line={line} seq={seq}"),
                        message: format!(
                            "{kind} {} times, at most once expected (duplicated)",
                            effects.len()
                        ),
                        witness: effects.iter().map(|e| e.witness.clone()).collect(),
                    });
                }
                for e in effects {
                    let line = lines.entry((e.po_line.0.as_str(), e.po_line.1)).or_default();
                    match kind {
                        "posted" => line.posted += e.quantity,
                        _ => line.reversed += e.quantity,
                    }
                    line.witness.push(&e.witness);
                }
            }
        }
        let checked = lines.len() as u64;
        for ((po, po_line), line) in lines {
            let net = line.posted as i128 - line.reversed as i128;
            if net != line.received as i128 {
                v.push(Violation {
                    key: format!("po_number={po} line={po_line}"),
                    message: format!(
                        "ERP posted {} − reversed {} = {net}, but the latest receipt events counted {} into stock",
                        line.posted, line.reversed, line.received
                    ),
                    witness: line.witness.into_iter().cloned().collect(),
                });
            }
        }
        Check::new(
            "conservation",
            "per PO line, ERP postings − reversals = what the latest event of each receipt counted (received − damaged); each (receipt, line, seq) posted and reversed at most once (invariant 8)",
            checked,
            v,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The WMS sending receipt event `seq` of RCV-1 counting `qty` of PO-1
    /// line 1, in `[start, end]`.
    fn event(seq: u64, qty: u32, start: u64, end: u64) -> Exchange {
        exchange(
            Role::Wms,
            Direction::Outbound,
            core::GOODS_RECEIPTS,
            (start, end),
            json!({"receipt_id": "RCV-1", "event_id": format!("E-{seq}"), "seq": seq, "expectation_id": "IBE-1",
                   "asn_id": "A", "received_at": "2026-11-27T10:00:00Z",
                   "lines": [{"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "sku": "S",
                              "qty_received": qty, "qty_damaged": 0, "stock_status": "unrestricted"}]}),
        )
    }

    /// The ERP taking a posting of RCV-1 line 1 from event `seq`
    /// (a reversal of `reverses` when given).
    fn posting(seq: u64, qty: u32, reverses: Option<u64>, at: u64) -> Exchange {
        let mut body = json!({"receipt_id": "RCV-1", "receipt_line_no": 1, "po_number": "PO-1", "po_line_no": 1,
                              "sku": "S", "quantity": qty, "stock_status": "unrestricted", "seq": seq});
        if let Some(r) = reverses {
            body["reverses_seq"] = json!(r);
        }
        exchange(
            Role::Erp,
            Direction::Inbound,
            erp::GOODS_RECEIPT_POSTINGS,
            (at, at + 1),
            body,
        )
    }

    fn exchange(
        party: Role,
        direction: Direction,
        endpoint: &str,
        (start, end): (u64, u64),
        body: serde_json::Value,
    ) -> Exchange {
        Exchange {
            finished_at_us: end,
            idempotency_key: Some(format!("k-{body}")),
            ..crate::history::test_exchange(party, direction, endpoint, start, body)
        }
    }

    fn judge(history: &[Exchange]) -> (Check, Check) {
        let mut g = ReceiptEvents::default();
        for ex in history {
            g.observe(ex);
        }
        (g.stale_check(), g.conservation_check())
    }

    #[test]
    fn an_in_order_correction_reversed_and_reposted_conserves() {
        let (stale, conservation) = judge(&[
            event(1, 8, 10, 20),
            posting(1, 8, None, 25),
            event(2, 10, 30, 40),
            posting(2, 8, Some(1), 45),
            posting(2, 10, None, 46),
        ]);
        assert!(stale.passed && stale.checked == 0, "nothing was stale: {stale:?}");
        assert!(
            conservation.passed && conservation.checked == 1,
            "{conservation:?}"
        );
    }

    #[test]
    fn a_correction_whose_reversal_is_missing_breaks_conservation() {
        let (_, conservation) = judge(&[
            event(1, 8, 10, 20),
            posting(1, 8, None, 25),
            event(2, 10, 30, 40),
            posting(2, 10, None, 46),
        ]);
        assert!(!conservation.passed);
        let v = &conservation.violations[0];
        assert_eq!(v.key, "po_number=PO-1 line=1");
        assert!(
            v.message.contains("posted 18 − reversed 0 = 18") && v.message.contains("counted 10"),
            "{v:?}"
        );
    }

    #[test]
    fn a_posting_repeated_for_one_seq_is_a_duplicate() {
        let (_, conservation) = judge(&[
            event(1, 8, 10, 20),
            posting(1, 8, None, 25),
            posting(1, 8, None, 26),
        ]);
        assert!(!conservation.passed);
        assert!(
            conservation
                .violations
                .iter()
                .any(|v| v.key == "receipt_id=RCV-1 line=1 seq=1" && v.message.contains("posted 2 times")),
            "{conservation:?}"
        );
    }

    #[test]
    fn a_stale_event_ignored_passes_and_applied_fails() {
        // The correction reaches the core first; the first count, held back,
        // arrives after it and is stale.
        let reordered = [
            event(2, 10, 10, 20),
            posting(2, 10, None, 25),
            event(1, 8, 30, 40),
        ];
        let (stale, conservation) = judge(&reordered);
        assert!(stale.passed && stale.checked == 1, "{stale:?}");
        assert!(conservation.passed, "{conservation:?}");

        // A core that applies the stale event: it reverses the correction
        // and posts the old count.
        let mut weak = reordered.to_vec();
        weak.push(posting(1, 10, Some(2), 45));
        weak.push(posting(1, 8, None, 46));
        let (stale, conservation) = judge(&weak);
        assert!(!stale.passed);
        let v = &stale.violations[0];
        assert_eq!(v.key, "receipt_id=RCV-1 seq=1");
        assert!(
            v.message.contains("seq 2 was already accepted")
                && v.message.contains("1 posting(s), 1 reversal(s)"),
            "{v:?}"
        );
        // Witnesses: the newer event, the stale one, then its effects.
        assert_eq!(v.witness.len(), 4);
        assert_eq!(v.witness[0].seq, 10);
        assert_eq!(v.witness[1].seq, 30);
        assert!(!conservation.passed, "ERP holds 8, the latest count is 10");

        // Overlapping sends are not judged stale: the core may have taken
        // either first.
        let (stale, _) = judge(&[event(2, 10, 10, 35), event(1, 8, 30, 40)]);
        assert_eq!(stale.checked, 0);
    }
}
