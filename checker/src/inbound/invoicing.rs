//! Invariant 16, the 3-way match, judged from the recorded exchanges: the
//! POs the ERP released, the receipts the core accepted from the WMS, the
//! invoices it accepted from the supplier, and the match results the ERP
//! took. The checker recomputes each line's outcome itself (PO price ×
//! received quantity, the scenario's price tolerance) rather than trusting
//! what the core says it applied.
//!
//! Received, for the match, is what was posted as the buyer's stock: per
//! receipt line received − damaged (unrestricted or quality stock); blocked
//! stock (the wrong item, goods not advised) is never posted and counts 0.
//!
//! The core holds an invoice until a receipt of its PO is taken in (any
//! line, blocked or not), so an invoice whose PO has no accepted receipt
//! must have no match result yet.

use std::collections::HashMap;

use contracts::inbound::{GoodsReceipt, PurchaseOrder, StockStatus};
use contracts::invoicing::{Invoice, LineMatchOutcome, MatchResult, price_within};
use contracts::routes::{core, erp};
use contracts::{Direction, Exchange, Role};
use reports::{Check, Violation, Witness};

use crate::history::{one_slot, parse, witness};

/// (supplier GLN, invoice number).
type InvoiceKey = (String, String);
/// (seq, [(po_number, po_line_no, posted qty)]) of a receipt's latest event.
type ReceiptLines = (u64, Vec<(String, u32, u64)>);

/// What invariant 16 needs, gathered while the history streams by.
#[derive(Default)]
pub(super) struct Invoicing {
    /// po_number → (line_no → unit price).
    po_prices: HashMap<String, HashMap<u32, String>>,
    /// receipt_id → (seq, [(po_number, po_line_no, posted qty)]) of the
    /// latest event the core accepted.
    receipts: HashMap<String, ReceiptLines>,
    invoices: HashMap<InvoiceKey, (Invoice, Witness)>,
    results: HashMap<InvoiceKey, Vec<(MatchResult, Witness)>>,
}

/// The outcome a line must have: not on the PO, more invoiced than
/// received, price beyond tolerance, else matched.
pub(super) fn expected_outcome(
    invoiced_qty: u32,
    invoiced_price: &str,
    po_price: Option<&str>,
    received: u64,
    price_tolerance_pct: u8,
) -> LineMatchOutcome {
    match po_price {
        None => LineMatchOutcome::NotOnPo,
        Some(_) if u64::from(invoiced_qty) > received => LineMatchOutcome::QuantityExceedsReceived,
        Some(p) if price_within(invoiced_price, p, price_tolerance_pct) != Some(true) => {
            LineMatchOutcome::PriceVariance
        }
        Some(_) => LineMatchOutcome::Matched,
    }
}

impl Invoicing {
    pub(super) fn observe(&mut self, ex: &Exchange) {
        match (ex.party, ex.direction, ex.endpoint.as_str()) {
            (Role::Erp, Direction::Outbound, core::PURCHASE_ORDERS) if ex.is_success() => {
                if let Some(po) = parse::<PurchaseOrder>(&ex.request) {
                    self.po_prices.insert(
                        po.po_number,
                        po.lines.into_iter().map(|l| (l.line_no, l.unit_price)).collect(),
                    );
                }
            }
            (Role::Wms, Direction::Outbound, core::GOODS_RECEIPTS) if ex.is_success() => {
                if let Some(r) = parse::<GoodsReceipt>(&ex.request) {
                    let lines = r
                        .lines
                        .iter()
                        .map(|l| {
                            (
                                l.po_number.clone(),
                                l.po_line_no,
                                // Blocked stock is never posted: not received.
                                match l.stock_status {
                                    StockStatus::Blocked => 0,
                                    _ => u64::from(l.qty_received.saturating_sub(l.qty_damaged)),
                                },
                            )
                        })
                        .collect();
                    let slot = self.receipts.entry(r.receipt_id).or_insert((0, Vec::new()));
                    if r.seq > slot.0 {
                        *slot = (r.seq, lines);
                    }
                }
            }
            (Role::Supplier, Direction::Outbound, core::INVOICES) if ex.is_success() => {
                if let Some(inv) = parse::<Invoice>(&ex.request) {
                    let key = (inv.supplier_gln.to_string(), inv.invoice_number.clone());
                    self.invoices.entry(key).or_insert_with(|| (inv, witness(ex)));
                }
            }
            (Role::Erp, Direction::Inbound, erp::MATCH_RESULTS) if ex.is_effect() => {
                if let Some(m) = parse::<MatchResult>(&ex.request) {
                    let key = (m.supplier_gln.to_string(), m.invoice_number.clone());
                    self.results
                        .entry(key)
                        .or_insert_with(one_slot)
                        .push((m, witness(ex)));
                }
            }
            _ => {}
        }
    }

    /// Received (posted) quantity per (po_number, po_line_no).
    fn received(&self) -> HashMap<(String, u32), u64> {
        let mut out: HashMap<(String, u32), u64> = HashMap::new();
        for (_, lines) in self.receipts.values() {
            for (po, line, qty) in lines {
                *out.entry((po.clone(), *line)).or_default() += qty;
            }
        }
        out
    }

    /// The verdict of invariant 16. `price_tolerance_pct` is the scenario's;
    /// without one, each line is judged by the tolerance its result states.
    pub(super) fn finish(mut self, price_tolerance_pct: Option<u8>) -> Check {
        let received = self.received();
        let mut v = Vec::new();
        let mut keys: Vec<_> = self.invoices.keys().cloned().collect();
        keys.sort();
        for key in &keys {
            let (inv, inv_witness) = &self.invoices[key];
            let name = format!("supplier={} invoice_number={}", key.0, key.1);
            let results = self.results.remove(key).unwrap_or_default();
            let any_received = received.keys().any(|(po, _)| *po == inv.po_number);
            let mut wit = vec![inv_witness.clone()];
            wit.extend(results.iter().map(|r| r.1.clone()));
            let result = match (any_received, results.len()) {
                (false, 0) => continue, // held until its goods arrive
                (false, _) => {
                    v.push(Violation {
                        key: name,
                        message:
                            "matched before any goods of its PO were received (nothing to match against)"
                                .into(),
                        witness: wit,
                    });
                    continue;
                }
                (true, 0) => {
                    v.push(Violation {
                        key: name,
                        message: "invoice accepted and its goods received, but no match result reached the ERP (lost)"
                            .into(),
                        witness: wit,
                    });
                    continue;
                }
                (true, 1) => &results[0].0,
                (true, n) => {
                    v.push(Violation {
                        key: name,
                        message: format!("{n} match results for one invoice (duplicated)"),
                        witness: wit,
                    });
                    continue;
                }
            };
            let prices = self.po_prices.get(&inv.po_number);
            let mut problems = Vec::new();
            for line in &inv.lines {
                let got = result.lines.iter().find(|l| l.invoice_line_no == line.line_no);
                let Some(got) = got else {
                    problems.push(format!("line {}: missing from the match result", line.line_no));
                    continue;
                };
                let tolerance = price_tolerance_pct.unwrap_or(got.price_tolerance_pct);
                let rcv = received
                    .get(&(inv.po_number.clone(), line.po_line_no))
                    .copied()
                    .unwrap_or(0);
                let po_price = prices.and_then(|p| p.get(&line.po_line_no)).map(String::as_str);
                let want = expected_outcome(line.quantity, &line.unit_price, po_price, rcv, tolerance);
                if got.outcome != want {
                    problems.push(format!(
                        "line {}: expected {want:?} (invoiced {} at {}, received {rcv}, PO price {} ± {tolerance}%), the core said {:?}",
                        line.line_no,
                        line.quantity,
                        line.unit_price,
                        po_price.unwrap_or("none"),
                        got.outcome
                    ));
                }
                let exceptions = result
                    .exceptions
                    .iter()
                    .filter(|e| e.invoice_line_no == line.line_no)
                    .count();
                let wanted = usize::from(want != LineMatchOutcome::Matched);
                if exceptions != wanted {
                    problems.push(format!(
                        "line {}: {exceptions} exception(s), expected {wanted}",
                        line.line_no
                    ));
                }
            }
            if !problems.is_empty() {
                v.push(Violation {
                    key: name,
                    message: problems.join("; "),
                    witness: wit,
                });
            }
        }
        let mut unexpected: Vec<_> = self.results.into_iter().collect();
        unexpected.sort_by(|a, b| a.0.cmp(&b.0));
        let checked = keys.len() + unexpected.len();
        for ((supplier, number), results) in unexpected {
            v.push(Violation {
                key: format!("supplier={supplier} invoice_number={number}"),
                message: format!(
                    "{} match result(s) for an invoice the core never accepted (unexpected)",
                    results.len()
                ),
                witness: results.into_iter().map(|r| r.1).collect(),
            });
        }
        Check::new(
            "three-way-match",
            "one match result per invoice once its goods are received; a line matches only within price tolerance and invoiced ≤ received, otherwise exactly one exception (invariant 16)",
            checked as u64,
            v,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const SUPPLIER: &str = "5060000000016";

    fn ex(party: Role, direction: Direction, endpoint: &str, seq: u64, request: Value) -> Exchange {
        crate::history::test_exchange(party, direction, endpoint, seq, request)
    }

    fn po() -> Exchange {
        let line = |n: u32, price: &str| {
            json!({"line_no": n, "sku": format!("S{n}"), "gtin": "4006381333931", "quantity": 10, "uom": "EA",
                   "unit_price": price, "requested_date": "2026-11-27", "over_tolerance_pct": 10,
                   "under_tolerance_pct": 5, "status": "open"})
        };
        ex(
            Role::Erp,
            Direction::Outbound,
            core::PURCHASE_ORDERS,
            1,
            json!({"po_number": "PO-1", "version": 1, "supplier_gln": SUPPLIER, "ship_to_gln": "5060000000092",
                   "currency": "EUR", "order_date": "2026-11-20", "lines": [line(1, "10.00"), line(2, "5.00")]}),
        )
    }

    fn receipt() -> Exchange {
        let line = |n: u32, qty: u32| {
            json!({"line_no": n, "po_number": "PO-1", "po_line_no": n, "sku": format!("S{n}"),
                   "qty_received": qty, "qty_damaged": 0, "stock_status": "unrestricted"})
        };
        ex(
            Role::Wms,
            Direction::Outbound,
            core::GOODS_RECEIPTS,
            2,
            json!({"receipt_id": "RCV-1", "event_id": "E-1", "seq": 1, "expectation_id": "IBE-1", "asn_id": "A",
                   "received_at": "2026-11-27T10:00:00Z", "lines": [line(1, 10), line(2, 4)]}),
        )
    }

    /// Line 1: 10 at 10.10 against 10.00 ± 2% and 10 received; line 2: 5 at
    /// 5.00 with 4 received.
    fn invoice() -> Exchange {
        let line = |n: u32, qty: u32, price: &str| json!({"line_no": n, "po_line_no": n, "gtin": "4006381333931", "quantity": qty, "uom": "EA", "unit_price": price});
        ex(
            Role::Supplier,
            Direction::Outbound,
            core::INVOICES,
            3,
            json!({"invoice_number": "INV-1", "supplier_gln": SUPPLIER, "bill_to_gln": "5060000000092",
                   "po_number": "PO-1", "currency": "EUR", "invoice_date": "2026-11-20", "due_date": "2026-11-27",
                   "lines": [line(1, 10, "10.10"), line(2, 5, "5.00")]}),
        )
    }

    fn result(seq: u64, outcomes: [&str; 2], exceptions: &[u32]) -> Exchange {
        let line = |n: u32, qty: u32, rcv: u32, price: &str, po: &str, outcome: &str| {
            json!({"invoice_line_no": n, "po_line_no": n, "outcome": outcome, "invoiced_qty": qty, "received_qty": rcv,
                   "invoiced_unit_price": price, "po_unit_price": po, "price_tolerance_pct": 2})
        };
        let status = if exceptions.is_empty() {
            "matched"
        } else {
            "exception"
        };
        ex(
            Role::Erp,
            Direction::Inbound,
            erp::MATCH_RESULTS,
            seq,
            json!({"match_id": "M-1", "invoice_number": "INV-1", "supplier_gln": SUPPLIER, "po_number": "PO-1",
                   "matched_at": "2026-11-27T10:00:00Z", "status": status,
                   "lines": [line(1, 10, 10, "10.10", "10.00", outcomes[0]), line(2, 5, 4, "5.00", "5.00", outcomes[1])],
                   "exceptions": exceptions.iter().map(|n| json!({"invoice_line_no": n, "kind": outcomes[*n as usize - 1],
                        "expected": "x", "actual": "y", "reason_code": "R"})).collect::<Vec<_>>()}),
        )
    }

    fn judge(history: Vec<Exchange>, tolerance: Option<u8>) -> Check {
        let mut g = Invoicing::default();
        for e in &history {
            g.observe(e);
        }
        g.finish(tolerance)
    }

    #[test]
    fn a_right_match_passes() {
        let c = judge(
            vec![
                po(),
                receipt(),
                invoice(),
                result(4, ["matched", "quantity_exceeds_received"], &[2]),
            ],
            Some(2),
        );
        assert!(c.passed && c.checked == 1, "{c:?}");
    }

    #[test]
    fn a_wrong_outcome_or_exception_count_fails() {
        let c = judge(
            vec![po(), receipt(), invoice(), result(4, ["matched", "matched"], &[])],
            Some(2),
        );
        assert!(!c.passed);
        assert!(
            c.violations[0]
                .message
                .contains("expected QuantityExceedsReceived"),
            "{c:?}"
        );
        assert_eq!(
            c.violations[0].key,
            format!("supplier={SUPPLIER} invoice_number=INV-1")
        );

        let c = judge(
            vec![
                po(),
                receipt(),
                invoice(),
                result(4, ["matched", "quantity_exceeds_received"], &[]),
            ],
            Some(2),
        );
        assert!(
            c.violations[0].message.contains("0 exception(s), expected 1"),
            "{c:?}"
        );
    }

    #[test]
    fn a_price_beyond_the_scenario_s_tolerance_must_not_match() {
        // Line 1 is 1% over its PO price: within 2%, beyond 0%. A core that
        // matched it anyway applied a looser tolerance than the scenario's.
        let c = judge(
            vec![
                po(),
                receipt(),
                invoice(),
                result(4, ["matched", "quantity_exceeds_received"], &[2]),
            ],
            Some(0),
        );
        assert!(!c.passed);
        assert!(
            c.violations[0].message.contains("expected PriceVariance"),
            "{c:?}"
        );
    }

    #[test]
    fn lost_duplicated_early_and_unexpected_results_are_named() {
        let lost = judge(vec![po(), receipt(), invoice()], Some(2));
        assert!(lost.violations[0].message.contains("(lost)"), "{lost:?}");

        let right = ["matched", "quantity_exceeds_received"];
        let doubled = judge(
            vec![
                po(),
                receipt(),
                invoice(),
                result(4, right, &[2]),
                result(5, right, &[2]),
            ],
            Some(2),
        );
        assert!(
            doubled.violations[0].message.contains("duplicated"),
            "{doubled:?}"
        );
        assert_eq!(doubled.violations[0].witness.len(), 3);

        let held = judge(vec![po(), invoice()], Some(2));
        assert!(held.passed, "an invoice without goods is held: {held:?}");
        let early = judge(vec![po(), invoice(), result(4, right, &[2])], Some(2));
        assert!(
            early.violations[0].message.contains("before any goods"),
            "{early:?}"
        );

        let stray = judge(vec![po(), receipt(), result(4, right, &[2])], Some(2));
        assert!(
            stray.violations[0].message.contains("never accepted"),
            "{stray:?}"
        );
    }

    #[test]
    fn blocked_stock_is_not_received_for_the_match() {
        // Line 2's 6 arrived as the wrong item (blocked, never posted): the
        // 5 invoiced exceed the 0 received.
        let mut r = receipt();
        let body = r.request.as_mut().unwrap();
        body["lines"][1]["qty_received"] = json!(6);
        body["lines"][1]["stock_status"] = json!("blocked");
        let right = judge(
            vec![
                po(),
                r.clone(),
                invoice(),
                result(4, ["matched", "quantity_exceeds_received"], &[2]),
            ],
            Some(2),
        );
        assert!(right.passed, "{right:?}");
        // A core that counts the blocked stock as received matches line 2.
        let lenient = judge(
            vec![po(), r, invoice(), result(4, ["matched", "matched"], &[])],
            Some(2),
        );
        assert!(!lenient.passed);
        assert!(
            lenient.violations[0]
                .message
                .contains("line 2: expected QuantityExceedsReceived (invoiced 5 at 5.00, received 0"),
            "{lenient:?}"
        );
    }
}
