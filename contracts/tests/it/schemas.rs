use std::path::PathBuf;

use contracts::inbound::{AdvanceShipNotice, AsnLine, AsnPurpose, HandlingUnit, HandlingUnitLevel, Uom};
use contracts::schema::{SchemaSet, catalog};
use contracts::{Gln, Gtin, Sscc, ids::with_check_digit};
use serde_json::json;

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

/// Committed schemas equal the generated ones. A stale file is rewritten and
/// the test fails, so the fix is to commit the rewrite (rust-analyzer's
/// `ensure_file_contents`).
#[test]
fn schemas_are_fresh() {
    let dir = schema_dir();
    let mut stale = Vec::new();
    let mut expected_files = Vec::new();
    for (name, schema) in catalog() {
        let file = dir.join(format!("{name}.json"));
        expected_files.push(format!("{name}.json"));
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        if committed != text {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &text).unwrap();
            stale.push(name);
        }
    }
    let mut orphans = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !expected_files.contains(&name) {
            orphans.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale schemas in {}: {stale:?}; they were regenerated, commit them",
        dir.display()
    );
    assert!(
        orphans.is_empty(),
        "schemas with no type behind them: {orphans:?}"
    );
}

pub fn sample_asn() -> AdvanceShipNotice {
    let pallet = Sscc::parse(&with_check_digit("00614141000000001")).unwrap();
    let carton = Sscc::parse(&with_check_digit("00614141000000002")).unwrap();
    AdvanceShipNotice {
        asn_id: "ASN-1".into(),
        purpose: AsnPurpose::Original,
        supplier_gln: Gln::parse(&with_check_digit("506000000001")).unwrap(),
        ship_date: "2026-11-20".into(),
        estimated_arrival: "2026-11-22".into(),
        carrier_scac: "UPSN".into(),
        bill_of_lading: "BOL-1".into(),
        handling_units: vec![
            HandlingUnit {
                sscc: pallet.clone(),
                level: HandlingUnitLevel::Pallet,
                parent_sscc: None,
            },
            HandlingUnit {
                sscc: carton.clone(),
                level: HandlingUnitLevel::Carton,
                parent_sscc: Some(pallet),
            },
        ],
        lines: vec![AsnLine {
            po_number: "PO-1".into(),
            po_line_no: 1,
            gtin: Gtin::parse("4006381333931").unwrap(),
            quantity: 10,
            uom: Uom::Ea,
            lot: None,
            expiry: None,
            sscc: carton,
        }],
    }
}

#[test]
fn a_serialized_asn_is_valid_and_mutations_are_caught_with_their_pointer() {
    let set = SchemaSet::new();
    let doc = serde_json::to_value(sample_asn()).unwrap();
    assert_eq!(set.validate("AdvanceShipNotice", &doc).unwrap(), vec![]);

    let mut zero_qty = doc.clone();
    zero_qty["lines"][0]["quantity"] = json!(0);
    let errs = set.validate("AdvanceShipNotice", &zero_qty).unwrap();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].pointer, "/lines/0/quantity");

    let mut short_sscc = doc.clone();
    short_sscc["handling_units"][1]["sscc"] = json!("123");
    let errs = set.validate("AdvanceShipNotice", &short_sscc).unwrap();
    assert_eq!(errs[0].pointer, "/handling_units/1/sscc");

    let mut missing = doc.clone();
    missing.as_object_mut().unwrap().remove("asn_id");
    let errs = set.validate("AdvanceShipNotice", &missing).unwrap();
    assert!(errs[0].message.contains("asn_id"), "{errs:?}");

    let mut extra = doc;
    extra["surprise"] = json!(true);
    assert!(!set.validate("AdvanceShipNotice", &extra).unwrap().is_empty());

    assert!(set.validate("NoSuchType", &json!({})).is_err());
}

#[test]
fn every_operation_names_schemas_in_the_catalog() {
    let names: Vec<_> = catalog().into_iter().map(|(n, _)| n).collect();
    for op in contracts::routes::OPERATIONS {
        assert!(
            names.contains(&op.request) || (op.request.is_empty() && op.method == "GET"),
            "{op:?}"
        );
        assert!(names.contains(&op.response), "{op:?}");
    }
}
