//! `crossdock contracts validate` through the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn crossdock() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crossdock"))
}

fn example(type_name: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../contracts/examples")
        .join(type_name)
        .join(file)
}

fn validate(file: &Path, type_name: &str, extra: &[&str]) -> Output {
    crossdock()
        .args(["contracts", "validate"])
        .arg(file)
        .args(["--type", type_name])
        .args(extra)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_valid_document_exits_0() {
    let file = example("AdvanceShipNotice", "valid-typical.json");
    let out = validate(&file, "AdvanceShipNotice", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("valid AdvanceShipNotice"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn an_invalid_document_exits_1_naming_pointer_expected_and_found() {
    let file = example("AdvanceShipNotice", "invalid-arrives-before-shipping.json");
    let out = validate(&file, "AdvanceShipNotice", &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "at /estimated_arrival: expected an estimated arrival on or after ship_date 2026-11-22, \
             found 2026-11-21 [date-order]"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("invalid AdvanceShipNotice: 1 finding"),
        "{stdout}"
    );

    // A schema fault names its pointer too.
    let file = example("PurchaseOrder", "invalid-zero-quantity.json");
    let out = validate(&file, "PurchaseOrder", &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.contains("at /lines/0/quantity: 0 is less than the minimum of 1 [schema]"),
        "{stdout}"
    );
}

#[test]
fn json_output_lists_every_finding() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(example("AdvanceShipNotice", "valid-typical.json")).unwrap(),
    )
    .unwrap();
    doc["lines"][0]["quantity"] = 0.into();
    doc["lines"][1]["sscc"] = "006141410000000778".into();
    let file = dir.path().join("asn.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = validate(&file, "AdvanceShipNotice", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["type"], "AdvanceShipNotice");
    let mut got: Vec<(String, String)> = verdict["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["pointer"].as_str().unwrap().to_owned(),
                f["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("/lines/0/quantity".to_owned(), "schema".to_owned()),
            ("/lines/1/sscc".to_owned(), "gs1-check-digit".to_owned()),
            ("/lines/1/sscc".to_owned(), "hu-known".to_owned()),
        ]
    );
}

#[test]
fn unreadable_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();

    let out = validate(&dir.path().join("missing.json"), "PurchaseOrder", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("failed to read"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("missing.json"),
        "{}",
        text(&out.stderr)
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\n  \"po_number\": ,\n}").unwrap();
    let out = validate(&broken, "PurchaseOrder", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("broken.json:2:16: not JSON: expected value\n"),
        "{}",
        text(&out.stderr)
    );

    let file = example("PurchaseOrder", "valid-typical.json");
    let out = validate(&file, "PurchaseOrdr", &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unknown contract type \"PurchaseOrdr\""),
        "{stderr}"
    );
    assert!(stderr.contains("AdvanceShipNotice"), "{stderr}");

    let out = crossdock()
        .args(["contracts", "validate"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--type is required");
}
