//! Request documents for a certification suite, generated from the
//! contract's own examples (`contracts/examples/<Type>/valid-*.json`) and
//! the seed: every identifier gets a suffix derived from (seed, case), and
//! every SSCC a serial derived from them, so one case's documents refer to
//! each other (a PO, its acknowledgement, its ASN) and two cases never
//! collide. The same seed gives byte-identical documents.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::Value;

/// The valid example each contract type is generated from.
pub fn example(type_name: &str) -> Option<&'static str> {
    Some(match type_name {
        "PurchaseOrder" => include_str!("../../../contracts/examples/PurchaseOrder/valid-typical.json"),
        "PoAcknowledgement" => {
            include_str!("../../../contracts/examples/PoAcknowledgement/valid-typical.json")
        }
        "AdvanceShipNotice" => {
            include_str!("../../../contracts/examples/AdvanceShipNotice/valid-typical.json")
        }
        "GoodsReceipt" => include_str!("../../../contracts/examples/GoodsReceipt/valid-typical.json"),
        "InboundExpectation" => {
            include_str!("../../../contracts/examples/InboundExpectation/valid-typical.json")
        }
        "InboundExpectationCancellation" => {
            include_str!("../../../contracts/examples/InboundExpectationCancellation/valid-typical.json")
        }
        "ErpGoodsReceiptPosting" => {
            include_str!("../../../contracts/examples/ErpGoodsReceiptPosting/valid-typical.json")
        }
        "ReceiptDiscrepancy" => {
            include_str!("../../../contracts/examples/ReceiptDiscrepancy/valid-typical.json")
        }
        "OrderRelease" => include_str!("../../../contracts/examples/OrderRelease/valid-typical.json"),
        "OrderReleaseDecision" => {
            include_str!("../../../contracts/examples/OrderReleaseDecision/valid-accepted.json")
        }
        "ShipmentConfirmation" => {
            include_str!("../../../contracts/examples/ShipmentConfirmation/valid-typical.json")
        }
        "ErpShipmentPosting" => {
            include_str!("../../../contracts/examples/ErpShipmentPosting/valid-typical.json")
        }
        "InventoryAdjustment" => {
            include_str!("../../../contracts/examples/InventoryAdjustment/valid-typical.json")
        }
        "Invoice" => include_str!("../../../contracts/examples/Invoice/valid-typical.json"),
        "MatchResult" => include_str!("../../../contracts/examples/MatchResult/valid-matched.json"),
        "IntakeAck" => include_str!("../../../contracts/examples/IntakeAck/valid-typical.json"),
        "PartnerAck" => include_str!("../../../contracts/examples/PartnerAck/valid-typical.json"),
        _ => return None,
    })
}

/// Fields whose string values are business identifiers (suffixed per case).
fn is_identifier(key: &str) -> bool {
    (key.ends_with("_id") && key != "trace_id")
        || matches!(
            key,
            "po_number" | "order_number" | "invoice_number" | "bill_of_lading" | "reference"
        )
}

/// Generates a suite's documents from a seed.
#[derive(Debug, Clone, Copy)]
pub struct DocGen {
    seed: u64,
}

impl DocGen {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    fn hash(&self, parts: impl Hash) -> u64 {
        let mut h = DefaultHasher::new();
        (self.seed, parts).hash(&mut h);
        h.finish()
    }

    /// The suffix of case `case`'s identifiers: short enough for every
    /// identifier's maxLength (35 for a PO number).
    pub fn tag(&self, case: u32) -> String {
        format!("{:08x}-{case}", self.hash("tag") as u32)
    }

    /// An Idempotency-Key for `purpose` in case `case`.
    pub fn key(&self, purpose: &str, case: u32) -> String {
        format!("certify-{}-{purpose}", self.tag(case))
    }

    /// An identifier no target can know.
    pub fn unknown_id(&self, case: u32) -> String {
        format!("UNKNOWN-{}", self.tag(case))
    }

    /// The example of `type_name` with case `case`'s identifiers, or `None`
    /// for a type without an example.
    pub fn document(&self, type_name: &str, case: u32) -> Option<Value> {
        let mut doc: Value = serde_json::from_str(example(type_name)?).expect("examples are JSON");
        self.rewrite(&mut doc, case);
        Some(doc)
    }

    /// Rewrites the identifiers and SSCCs of `doc` for case `case`; the
    /// same input value always maps to the same output within a case.
    pub fn rewrite(&self, doc: &mut Value, case: u32) {
        let tag = self.tag(case);
        self.walk(doc, None, &tag, case);
    }

    fn walk(&self, v: &mut Value, key: Option<&str>, tag: &str, case: u32) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    self.walk(child, Some(k), tag, case);
                }
            }
            Value::Array(items) => {
                for child in items {
                    self.walk(child, key, tag, case);
                }
            }
            Value::String(s) => match key {
                Some("sscc" | "parent_sscc") if s.len() == 18 && s.bytes().all(|b| b.is_ascii_digit()) => {
                    let serial = self.hash((case, s.as_str())) % 1_000_000_000;
                    *s = contracts::ids::with_check_digit(&format!("{}{serial:09}", &s[..8]));
                }
                Some(k) if is_identifier(k) && !s.bytes().all(|b| b.is_ascii_digit()) => {
                    *s = format!("{s}-{tag}");
                }
                _ => {}
            },
            _ => {}
        }
    }
}

/// Documents that break `type_name`'s contract in ways every
/// implementation must refuse: not JSON, an empty object, and `valid`
/// without its first member whose absence the contract refuses. Each comes
/// with a name for the report.
pub fn invalid_variants(
    validator: &contracts::Validator,
    type_name: &str,
    valid: &Value,
) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = vec![
        ("not JSON", b"{\"unterminated\": ".to_vec()),
        ("empty object", b"{}".to_vec()),
    ];
    if let Value::Object(map) = valid {
        let without = map.keys().find_map(|k| {
            let mut without = map.clone();
            without.remove(k);
            let without = Value::Object(without);
            let refused = validator
                .validate(type_name, &without)
                .is_ok_and(|findings| !findings.is_empty());
            refused.then_some(without)
        });
        if let Some(without) = without {
            out.push((
                "a required member removed",
                serde_json::to_vec(&without).expect("JSON serializes"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_valid_deterministic_and_distinct_per_case() {
        let validator = contracts::Validator::new();
        let g = DocGen::new(42);
        for op in contracts::routes::OPERATIONS
            .iter()
            .filter(|o| o.method == "POST")
        {
            for name in [op.request, op.response] {
                let a = g
                    .document(name, 1)
                    .unwrap_or_else(|| panic!("no example for {name}"));
                let findings = validator.validate(name, &a).unwrap();
                assert!(findings.is_empty(), "{name}: {findings:?}");
                assert_eq!(Some(&a), g.document(name, 1).as_ref());
            }
            let (one, two) = (g.document(op.request, 1), g.document(op.request, 2));
            assert_ne!(one, two, "{}", op.request);
        }
        assert_ne!(
            DocGen::new(43).document("PurchaseOrder", 1),
            g.document("PurchaseOrder", 1)
        );
    }

    #[test]
    fn one_case_keeps_its_references_consistent() {
        let g = DocGen::new(7);
        let po = g.document("PurchaseOrder", 3).unwrap();
        let asn = g.document("AdvanceShipNotice", 3).unwrap();
        assert_eq!(po["po_number"], asn["lines"][0]["po_number"]);
        assert_eq!(
            asn["handling_units"][1]["parent_sscc"],
            asn["handling_units"][0]["sscc"]
        );
        assert_eq!(asn["lines"][0]["sscc"], asn["handling_units"][1]["sscc"]);
        assert_ne!(asn["handling_units"][0]["sscc"], "006141410000000012");
    }

    #[test]
    fn invalid_variants_break_the_schema() {
        let validator = contracts::Validator::new();
        let g = DocGen::new(1);
        for op in contracts::routes::OPERATIONS
            .iter()
            .filter(|o| o.method == "POST")
        {
            let doc = g.document(op.request, 1).unwrap();
            let variants = invalid_variants(&validator, op.request, &doc);
            assert_eq!(variants.len(), 3, "{}", op.request);
            for (name, bytes) in variants {
                if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                    assert!(!validator.validate(op.request, &v).unwrap().is_empty(), "{name}");
                }
            }
        }
    }
}
