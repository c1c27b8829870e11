//! The example documents under `contracts/examples/<Type>/`: every `valid-*.json`
//! has no finding; every `invalid-*.json` has a finding with the rule and
//! pointer its `.expect` sidecar names (`<rule> <pointer>`, one line).

use std::path::{Path, PathBuf};

use contracts::Validator;
use contracts::schema::catalog;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

#[test]
fn every_example_is_judged_as_its_name_says() {
    let validator = Validator::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (type_name, _) in catalog() {
        let dir = examples_dir().join(type_name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{type_name} has no examples in {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let (mut valid, mut invalid) = (0, 0);
        for file in &files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".expect") {
                assert!(
                    dir.join(format!("{stem}.json")).exists(),
                    "{}: sidecar without its example",
                    file.display()
                );
                continue;
            }
            let doc = read_json(file);
            let findings = validator.validate(type_name, &doc).unwrap();
            checked += 1;
            if name.starts_with("valid-") {
                valid += 1;
                if !findings.is_empty() {
                    failures.push(format!(
                        "{type_name}/{name}: expected no finding, found {findings:?}"
                    ));
                }
            } else if let Some(stem) = name
                .strip_prefix("invalid-")
                .and_then(|n| n.strip_suffix(".json"))
            {
                invalid += 1;
                let sidecar = dir.join(format!("invalid-{stem}.expect"));
                let expect = std::fs::read_to_string(&sidecar)
                    .unwrap_or_else(|e| panic!("{}: {e}", sidecar.display()));
                let (rule, pointer) = expect
                    .trim_end_matches('\n')
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("{}: expected `<rule> <pointer>`", sidecar.display()));
                if !findings
                    .iter()
                    .any(|f| f.rule.as_str() == rule && f.pointer == pointer)
                {
                    failures.push(format!(
                        "{type_name}/{name}: expected a {rule} finding at {pointer:?}, found {findings:?}"
                    ));
                }
            } else {
                panic!("{}: examples are valid-*.json or invalid-*.json", file.display());
            }
        }
        assert!(
            valid >= 1 && invalid >= 1,
            "{type_name}: needs valid and invalid examples"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 50, "only {checked} examples");
}

#[test]
fn valid_examples_deserialize_into_their_types() {
    use contracts::inbound::*;
    fn typed<T: serde::de::DeserializeOwned>(type_name: &str) {
        let dir = examples_dir().join(type_name);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with("valid-") {
                if let Err(e) = serde_json::from_value::<T>(read_json(&path)) {
                    panic!("{}: {e}", path.display());
                }
            }
        }
    }
    typed::<PurchaseOrder>("PurchaseOrder");
    typed::<PoAcknowledgement>("PoAcknowledgement");
    typed::<AdvanceShipNotice>("AdvanceShipNotice");
    typed::<InboundExpectation>("InboundExpectation");
    typed::<GoodsReceipt>("GoodsReceipt");
    typed::<ErpGoodsReceiptPosting>("ErpGoodsReceiptPosting");
    typed::<ReceiptDiscrepancy>("ReceiptDiscrepancy");
    typed::<contracts::outbound::OrderRelease>("OrderRelease");
    typed::<contracts::outbound::OrderReleaseDecision>("OrderReleaseDecision");
    typed::<contracts::outbound::ShipmentConfirmation>("ShipmentConfirmation");
    typed::<contracts::outbound::ErpShipmentPosting>("ErpShipmentPosting");
    typed::<contracts::inventory::InventoryAdjustment>("InventoryAdjustment");
    typed::<contracts::inventory::InventorySnapshot>("InventorySnapshot");
    typed::<contracts::inventory::ReconciliationResult>("ReconciliationResult");
    typed::<contracts::invoicing::Invoice>("Invoice");
    typed::<contracts::invoicing::MatchResult>("MatchResult");
    typed::<contracts::events::ShipmentConfirmedEvent>("ShipmentConfirmedEvent");
    typed::<contracts::events::InventoryAdjustedEvent>("InventoryAdjustedEvent");
    typed::<contracts::IntakeAck>("IntakeAck");
    typed::<contracts::PartnerAck>("PartnerAck");
    typed::<contracts::Problem>("Problem");
    typed::<contracts::Exchange>("Exchange");
}
