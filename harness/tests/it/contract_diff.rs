//! `crossdock contracts diff`: every rule against its fixtures, and the
//! binary's formats and exit codes.
//!
//! Fixtures: `tests/fixtures/diff/<case>/{old.json,new.json,expect.json}`;
//! `expect.json` holds the direction to judge a standalone schema in (null:
//! inferred, or an OpenAPI document) and the exact changes expected.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use harness::contract_diff::{Direction, RULES, diff};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diff")
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

type Key = (String, String, String, bool);

#[test]
fn every_fixture_yields_exactly_its_expected_changes_and_every_rule_has_one() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "{} fixtures", cases.len());
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let expect = read(&case.join("expect.json"));
        let direction = match expect["direction"].as_str() {
            None => None,
            Some("request") => Some(Direction::Request),
            Some("response") => Some(Direction::Response),
            Some("both") => Some(Direction::Both),
            Some(other) => panic!("{name}: direction {other}"),
        };
        let report = diff(
            &read(&case.join("old.json")),
            &read(&case.join("new.json")),
            direction,
        )
        .unwrap();
        let got: BTreeSet<Key> = report
            .changes
            .iter()
            .map(|c| {
                (
                    c.rule.to_owned(),
                    c.pointer.clone(),
                    c.direction.as_str().to_owned(),
                    c.breaking,
                )
            })
            .collect();
        let want: BTreeSet<Key> = expect["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["rule"].as_str().unwrap().to_owned(),
                    c["pointer"].as_str().unwrap().to_owned(),
                    c["direction"].as_str().unwrap().to_owned(),
                    c["breaking"].as_bool().unwrap(),
                )
            })
            .collect();
        if got != want {
            failures.push(format!("{name}:\n  expected {want:?}\n  found    {got:?}"));
        }
        assert_eq!(report.breaking, got.iter().filter(|k| k.3).count(), "{name}");
        assert!(report.changes.iter().all(|c| !c.message.is_empty()), "{name}");
        covered.extend(want.into_iter().map(|k| k.0));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let uncovered: Vec<_> = RULES
        .iter()
        .map(|(r, _)| *r)
        .filter(|r| !covered.contains(*r))
        .collect();
    assert!(uncovered.is_empty(), "rules without a fixture: {uncovered:?}");
    assert!(RULES.len() >= 15);
}

#[test]
fn a_contract_compared_with_itself_has_no_change() {
    for role in contracts::openapi::ROLES {
        let doc = contracts::openapi::document(role);
        let report = diff(&doc, &doc, None).unwrap();
        assert!(report.changes.is_empty(), "{role}: {:?}", report.changes);
    }
    for (name, schema) in contracts::schema::catalog() {
        let report = diff(&schema, &schema, Some(Direction::Both)).unwrap();
        assert!(report.changes.is_empty(), "{name}: {:?}", report.changes);
    }
}

#[test]
fn directions_of_catalog_schemas_are_inferred_from_the_operations() {
    use harness::contract_diff::infer_direction;
    let dir = |name: &str| {
        let (_, s) = contracts::schema::catalog()
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap();
        infer_direction(&s)
    };
    assert_eq!(dir("AdvanceShipNotice"), Direction::Request);
    assert_eq!(dir("IntakeAck"), Direction::Response);
    assert_eq!(dir("Problem"), Direction::Response);
    assert_eq!(dir("Exchange"), Direction::Both);
}

fn crossdock_diff(old: &Path, new: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crossdock"))
        .args(["contracts", "diff"])
        .arg(old)
        .arg(new)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn the_binary_exits_1_on_breaking_0_on_compatible_2_on_bad_input() {
    let case = fixtures().join("operation-removed");
    let out = crossdock_diff(&case.join("old.json"), &case.join("new.json"), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("BREAKING"), "{stdout}");
    assert!(stdout.contains("operation-removed"), "{stdout}");
    assert!(stdout.contains("POST /v1/things removed"), "{stdout}");
    assert!(
        stdout.contains("1 change(s): 1 breaking, 0 compatible"),
        "{stdout}"
    );

    let case = fixtures().join("operation-added");
    let out = crossdock_diff(&case.join("old.json"), &case.join("new.json"), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("compatible  operation-added"), "{stdout}");

    // The direction flag decides a standalone schema's verdict.
    let case = fixtures().join("enum-value-added-request");
    let (old, new) = (case.join("old.json"), case.join("new.json"));
    assert_eq!(
        crossdock_diff(&old, &new, &["--direction", "request"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        crossdock_diff(&old, &new, &["--direction", "response"])
            .status
            .code(),
        Some(1)
    );

    let dir = tempfile::tempdir().unwrap();
    let out = crossdock_diff(&old, &dir.path().join("none.json"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none.json"));
    let api = fixtures().join("operation-added/old.json");
    let out = crossdock_diff(&old, &api, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot compare a JSON Schema with a OpenAPI document"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn json_and_junit_outputs_carry_every_change() {
    let case = fixtures().join("shared-schema-judged-per-direction");
    let (old, new) = (case.join("old.json"), case.join("new.json"));
    let out = crossdock_diff(&old, &new, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["kind"], "openapi");
    assert_eq!(report["breaking"], 1);
    assert_eq!(report["compatible"], 1);
    assert_eq!(report["changes"].as_array().unwrap().len(), 2);

    let out = crossdock_diff(&old, &new, &["--format", "junit"]);
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.contains("tests=\"2\""), "{xml}");
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(xml.contains("breaking: enum value &quot;PL&quot; added"), "{xml}");
    assert!(
        xml.contains("at /components/schemas/Uom/enum (response)"),
        "{xml}"
    );
}
