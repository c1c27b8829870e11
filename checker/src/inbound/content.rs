//! `expectation-matches-asn`: every inbound expectation (or update) the WMS
//! took carries the content of an ASN the core accepted under the same
//! (supplier, asn_id): its lines (PO line, GTIN, quantity, unit, lot, SSCC)
//! and its handling units. The WMS counts whatever it is told, so a core
//! that advises one unit more (or twice the quantity) would otherwise make
//! the WMS's correct count look like a discrepancy.
//!
//! Content is compared as a fingerprint of the sorted lines and units, so
//! the order the core lists them in and the line numbers it gives them do
//! not matter; what it enriches (SKU, tolerances) is not the ASN's.

use std::collections::HashMap;

use contracts::inbound::{AdvanceShipNotice, AsnPurpose, HandlingUnit, InboundExpectation};
use contracts::routes::{core, wms};
use contracts::{Direction, Exchange, IntakeAck, Role};
use reports::{Check, Violation, Witness};

use crate::history::{fingerprint, parse, witness};

/// (supplier GLN, asn_id).
type AsnKey = (String, String);

/// What a document advises: its fingerprint, line count and units in all.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Content {
    print: u128,
    lines: usize,
    units: u64,
}

impl Content {
    fn new(mut lines: Vec<String>, units: &[HandlingUnit], quantity: u64) -> Self {
        let n = lines.len();
        lines.sort();
        let mut hus: Vec<String> = units.iter().map(text).collect();
        hus.sort();
        let mut parts: Vec<&str> = lines.iter().map(String::as_str).collect();
        parts.push("|units|");
        parts.extend(hus.iter().map(String::as_str));
        Self {
            print: fingerprint(&parts),
            lines: n,
            units: quantity,
        }
    }

    fn of_asn(asn: &AdvanceShipNotice) -> Self {
        let lines = asn
            .lines
            .iter()
            .map(|l| {
                line_text(
                    &l.po_number,
                    l.po_line_no,
                    &l.gtin,
                    l.quantity,
                    &l.uom,
                    &l.lot,
                    &l.sscc,
                )
            })
            .collect();
        let quantity = asn.lines.iter().map(|l| u64::from(l.quantity)).sum();
        Self::new(lines, &asn.handling_units, quantity)
    }

    fn of_expectation(exp: &InboundExpectation) -> Self {
        let lines = exp
            .lines
            .iter()
            .map(|l| {
                line_text(
                    &l.po_number,
                    l.po_line_no,
                    &l.gtin,
                    l.quantity,
                    &l.uom,
                    &l.lot,
                    &l.sscc,
                )
            })
            .collect();
        let quantity = exp.lines.iter().map(|l| u64::from(l.quantity)).sum();
        Self::new(lines, &exp.handling_units, quantity)
    }
}

fn line_text(
    po: &str,
    po_line: u32,
    gtin: &impl serde::Serialize,
    quantity: u32,
    uom: &impl serde::Serialize,
    lot: &Option<String>,
    sscc: &impl serde::Serialize,
) -> String {
    format!(
        "{po}|{po_line}|{}|{quantity}|{}|{lot:?}|{}",
        text(gtin),
        text(uom),
        text(sscc)
    )
}

/// A value's JSON text (every contract type serializes).
fn text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Gathered while the history streams by.
#[derive(Default)]
pub(super) struct Contents {
    /// ASN → the content of every original or replace the core accepted.
    accepted: HashMap<AsnKey, Vec<(Content, Witness)>>,
    /// Every expectation or update the WMS took (an effect).
    advised: Vec<(AsnKey, Content, Witness)>,
}

impl Contents {
    pub(super) fn observe(&mut self, ex: &Exchange) {
        match (ex.party, ex.direction, ex.endpoint.as_str()) {
            (Role::Supplier, Direction::Outbound, core::ASNS) if ex.is_success() => {
                let (Some(asn), Some(_)) = (
                    parse::<AdvanceShipNotice>(&ex.request),
                    parse::<IntakeAck>(&ex.response),
                ) else {
                    return;
                };
                if asn.purpose == AsnPurpose::Cancel {
                    return;
                }
                let content = Content::of_asn(&asn);
                let seen = self
                    .accepted
                    .entry((asn.supplier_gln.to_string(), asn.asn_id))
                    .or_default();
                if !seen.iter().any(|(c, _)| *c == content) {
                    seen.push((content, witness(ex)));
                }
            }
            (Role::Wms, Direction::Inbound, wms::INBOUND_EXPECTATIONS | wms::INBOUND_EXPECTATION_UPDATES)
                if ex.is_effect() =>
            {
                if let Some(exp) = parse::<InboundExpectation>(&ex.request) {
                    let content = Content::of_expectation(&exp);
                    self.advised
                        .push(((exp.supplier_gln.to_string(), exp.asn_id), content, witness(ex)));
                }
            }
            _ => {}
        }
    }

    /// The verdict: an expectation for an ASN the core never accepted is
    /// `one-expectation-per-asn`'s to judge; here, its content.
    pub(super) fn check(&self) -> Check {
        let mut v = Vec::new();
        let mut checked = 0;
        for (key, content, advised) in &self.advised {
            let Some(accepted) = self.accepted.get(key) else {
                continue;
            };
            checked += 1;
            if accepted.iter().any(|(c, _)| c == content) {
                continue;
            }
            let (asn, asn_witness) = &accepted[accepted.len() - 1];
            let mut witness = vec![asn_witness.clone()];
            witness.push(advised.clone());
            v.push(Violation {
                key: format!("supplier={} asn_id={}", key.0, key.1),
                message: format!(
                    "the core advised the WMS {} line(s), {} unit(s) in all, that no ASN it accepted carries (the ASN: {} line(s), {} unit(s); lines, items, quantities or SSCCs differ; core at fault)",
                    content.lines, content.units, asn.lines, asn.units
                ),
                witness,
            });
        }
        Check::new(
            "expectation-matches-asn",
            "every inbound expectation (or update) the WMS took carries the lines, items, quantities, lots and SSCCs of an ASN the core accepted",
            checked,
            v,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::test_exchange;
    use serde_json::{Value, json};

    const SUPPLIER: &str = "5060000000016";
    const SSCC: &str = "006141411234567890";

    fn asn(seq: u64, purpose: &str, qty: u32) -> Exchange {
        let mut ex = test_exchange(
            Role::Supplier,
            Direction::Outbound,
            core::ASNS,
            seq,
            json!({"asn_id": "A", "purpose": purpose, "supplier_gln": SUPPLIER, "ship_date": "2026-11-20",
                   "estimated_arrival": "2026-11-27", "carrier_scac": "SIMC", "bill_of_lading": "B",
                   "handling_units": [{"sscc": SSCC, "level": "pallet"}],
                   "lines": [{"po_number": "PO-1", "po_line_no": 1, "gtin": "4006381333931",
                              "quantity": qty, "uom": "EA", "sscc": SSCC}]}),
        );
        ex.response = Some(json!({"message_id": "M", "outcome": "accepted", "trace_id": "t"}));
        ex
    }

    fn expectation(endpoint: &str, seq: u64, qty: u32, sscc: &str, units: Value) -> Exchange {
        test_exchange(
            Role::Wms,
            Direction::Inbound,
            endpoint,
            seq,
            json!({"expectation_id": "IBE-1", "asn_id": "A", "supplier_gln": SUPPLIER,
                   "estimated_arrival": "2026-11-27", "handling_units": units,
                   "lines": [{"line_no": 7, "po_number": "PO-1", "po_line_no": 1, "sku": "S",
                              "gtin": "4006381333931", "quantity": qty, "uom": "EA",
                              "sscc": sscc, "over_tolerance_pct": 10, "under_tolerance_pct": 5}]}),
        )
    }

    fn pallet() -> Value {
        json!([{"sscc": SSCC, "level": "pallet"}])
    }

    fn judged(history: &[Exchange]) -> Check {
        let mut c = Contents::default();
        for e in history {
            c.observe(e);
        }
        c.check()
    }

    #[test]
    fn an_expectation_carrying_the_asn_passes_and_one_unit_more_fails() {
        let good = [
            asn(0, "original", 10),
            expectation(wms::INBOUND_EXPECTATIONS, 1, 10, SSCC, pallet()),
        ];
        let c = judged(&good);
        assert!(c.passed && c.checked == 1, "{c:#?}");

        for (qty, sscc, units) in [
            (11, SSCC, pallet()),
            (20, SSCC, pallet()),
            (10, "006141411234567883", pallet()),
            (10, SSCC, json!([])),
        ] {
            let c = judged(&[
                asn(0, "original", 10),
                expectation(wms::INBOUND_EXPECTATIONS, 1, qty, sscc, units),
            ]);
            assert!(!c.passed, "{qty} {sscc}: {c:#?}");
            let v = &c.violations[0];
            assert_eq!(v.key, format!("supplier={SUPPLIER} asn_id=A"));
            assert!(v.message.contains("core at fault"), "{v:#?}");
            assert!(v.message.contains(&format!("{qty} unit(s) in all")), "{v:#?}");
            assert_eq!(v.witness.len(), 2);
        }
    }

    #[test]
    fn an_update_carries_the_replace_and_a_refused_asn_justifies_nothing() {
        let h = [
            asn(0, "original", 10),
            expectation(wms::INBOUND_EXPECTATIONS, 1, 10, SSCC, pallet()),
            asn(2, "replace", 8),
            expectation(wms::INBOUND_EXPECTATION_UPDATES, 3, 8, SSCC, pallet()),
        ];
        let c = judged(&h);
        assert!(c.passed && c.checked == 2, "{c:#?}");

        // The replace was refused: the WMS must not be advised 8.
        let mut refused = h.clone();
        refused[2].status = Some(422);
        let c = judged(&refused);
        assert_eq!(c.violations_total, 1, "{c:#?}");
        assert!(c.violations[0].message.contains("8 unit(s)"), "{c:#?}");
    }
}
