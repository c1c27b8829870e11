//! Schema + domain validation through `contracts::validate`.

use contracts::validate::{Rule, Validator, validate};
use serde_json::{Value, json};

use crate::schemas::sample_asn;

fn asn() -> Value {
    serde_json::to_value(sample_asn()).unwrap()
}

fn rules_at(findings: &[contracts::Finding], pointer: &str) -> Vec<Rule> {
    findings
        .iter()
        .filter(|f| f.pointer == pointer)
        .map(|f| f.rule)
        .collect()
}

#[test]
fn a_valid_asn_has_no_finding_through_the_global_function_too() {
    assert_eq!(validate("AdvanceShipNotice", &asn()).unwrap(), vec![]);
    assert!(validate("NoSuchType", &json!({})).is_err());
}

#[test]
fn a_schema_fault_is_reported_once_not_again_by_the_domain_rule() {
    let v = Validator::new();
    let mut doc = asn();
    doc["lines"][0]["quantity"] = json!(0);
    doc["lines"][0]["uom"] = json!("KG");
    let all = v.validate("AdvanceShipNotice", &doc).unwrap();
    assert_eq!(rules_at(&all, "/lines/0/quantity"), vec![Rule::Schema], "{all:?}");
    assert_eq!(rules_at(&all, "/lines/0/uom"), vec![Rule::Schema], "{all:?}");
    // Without the schema, the domain rules still see both.
    let domain = v.domain("AdvanceShipNotice", &doc).unwrap();
    assert_eq!(
        rules_at(&domain, "/lines/0/quantity"),
        vec![Rule::QuantityPositive]
    );
    assert_eq!(rules_at(&domain, "/lines/0/uom"), vec![Rule::UomKnown]);
    let uom = domain.iter().find(|f| f.rule == Rule::UomKnown).unwrap();
    assert_eq!(
        uom.message,
        "expected a known unit of measure (EA, CS, PL), found \"KG\""
    );
}

#[test]
fn a_wrong_check_digit_passes_the_schema_and_is_caught_by_the_domain() {
    let mut doc = asn();
    let sscc = doc["handling_units"][0]["sscc"].as_str().unwrap().to_owned();
    let last = sscc.as_bytes()[17] - b'0';
    let wrong = format!("{}{}", &sscc[..17], (last + 1) % 10);
    doc["handling_units"][0]["sscc"] = json!(wrong);
    let findings = validate("AdvanceShipNotice", &doc).unwrap();
    let f = findings
        .iter()
        .find(|f| f.pointer == "/handling_units/0/sscc")
        .unwrap_or_else(|| panic!("{findings:?}"));
    assert_eq!(f.rule, Rule::Gs1CheckDigit);
    assert_eq!(
        f.message,
        format!(
            "expected SSCC check digit {last}, found {} in {wrong}",
            (last + 1) % 10
        )
    );
    // The carton's parent now names a unit that is not listed.
    assert_eq!(
        rules_at(&findings, "/handling_units/1/parent_sscc"),
        vec![Rule::HuParent]
    );
}

#[test]
fn every_finding_is_collected_not_only_the_first() {
    let mut doc = asn();
    doc["estimated_arrival"] = json!("2026-11-01");
    doc["supplier_gln"] = json!("5060000000010");
    doc["lines"][0]["expiry"] = json!("2026-11-19");
    let findings = validate("AdvanceShipNotice", &doc).unwrap();
    let mut got: Vec<(String, Rule)> = findings.iter().map(|f| (f.pointer.clone(), f.rule)).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("/estimated_arrival".into(), Rule::DateOrder),
            ("/lines/0/expiry".into(), Rule::DateOrder),
            ("/supplier_gln".into(), Rule::Gs1CheckDigit),
        ],
        "{findings:?}"
    );
    let eta = findings
        .iter()
        .find(|f| f.pointer == "/estimated_arrival")
        .unwrap();
    assert_eq!(
        eta.message,
        "expected an estimated arrival on or after ship_date 2026-11-20, found 2026-11-01"
    );
}

#[test]
fn a_cycle_is_reported_once_at_its_first_unit_whatever_the_order() {
    let mut doc = asn();
    let pallet = doc["handling_units"][0]["sscc"].clone();
    let carton = doc["handling_units"][1]["sscc"].clone();
    // The pallet sits on the carton that sits on it.
    doc["handling_units"][0]["parent_sscc"] = carton;
    for _ in 0..5 {
        let findings = validate("AdvanceShipNotice", &doc).unwrap();
        let cycles: Vec<_> = findings.iter().filter(|f| f.rule == Rule::HuCycle).collect();
        assert_eq!(cycles.len(), 1, "{findings:?}");
        assert_eq!(cycles[0].pointer, "/handling_units/0/parent_sscc");
        assert!(
            cycles[0]
                .message
                .contains(&format!("cycle through {}", pallet.as_str().unwrap())),
            "{}",
            cycles[0].message
        );
        // And the pallet's parent is a carton.
        assert!(rules_at(&findings, "/handling_units/0/parent_sscc").contains(&Rule::HuParent));
    }
}

#[test]
fn domain_rules_survive_documents_of_the_wrong_shape() {
    let v = Validator::new();
    for doc in [
        json!(null),
        json!([]),
        json!("x"),
        json!({"lines": 3, "handling_units": {}}),
    ] {
        for name in v.type_names() {
            let findings = v.validate(name, &doc).unwrap();
            assert!(!findings.is_empty(), "{name} {doc}");
            assert!(
                findings.iter().all(|f| f.rule == Rule::Schema),
                "{name} {doc} {findings:?}"
            );
        }
    }
}

#[test]
fn a_cycle_entered_from_a_tail_is_reported_once_at_its_first_unit() {
    // Units 1 → 2 → 3 → 1 form a cycle; unit 0 hangs off unit 2 (a tail
    // into the cycle), and unit 4 repeats unit 3's SSCC.
    let sscc = |n: u32| contracts::ids::with_check_digit(&format!("00614141{n:09}"));
    let mut doc = asn();
    doc["handling_units"] = json!([
        {"sscc": sscc(10), "level": "carton", "parent_sscc": sscc(12)},
        {"sscc": sscc(11), "level": "pallet", "parent_sscc": sscc(13)},
        {"sscc": sscc(12), "level": "pallet", "parent_sscc": sscc(11)},
        {"sscc": sscc(13), "level": "pallet", "parent_sscc": sscc(12)},
        {"sscc": sscc(13), "level": "pallet"},
    ]);
    doc["lines"][0]["sscc"] = json!(sscc(10));
    let findings = validate("AdvanceShipNotice", &doc).unwrap();
    let cycles: Vec<_> = findings.iter().filter(|f| f.rule == Rule::HuCycle).collect();
    assert_eq!(cycles.len(), 1, "{findings:?}");
    assert_eq!(cycles[0].pointer, "/handling_units/1/parent_sscc");
    assert!(
        cycles[0].message.ends_with(&format!(
            "cycle through {} → {} → {}",
            sscc(11),
            sscc(13),
            sscc(12)
        )),
        "{}",
        cycles[0].message
    );
    assert_eq!(
        rules_at(&findings, "/handling_units/4/sscc"),
        vec![Rule::HuUnique]
    );
    assert_eq!(findings.len(), 2, "{findings:?}");
}
