//! Every rule against its fixtures (the rules the differ had when it lived in
//! the harness, plus those added here).
//!
//! Fixtures: `tests/fixtures/<case>/{old.json,new.json,expect.json}`;
//! `expect.json` holds the direction to judge a standalone schema in (null:
//! inferred, or an OpenAPI document) and the exact changes expected.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use governance::{Direction, Level, Options, RULES, diff};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

type Key = (String, String, String, bool);

#[test]
fn every_fixture_yields_exactly_its_expected_changes() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "{} fixtures", cases.len());
    let mut failures = Vec::new();
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
        let options = Options {
            direction,
            today: Some("2026-12-07".into()),
        };
        let report = diff(
            read(&case.join("old.json")),
            read(&case.join("new.json")),
            &options,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
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
        assert!(
            report
                .changes
                .iter()
                .all(|c| c.breaking == (c.level == Level::Breaking)),
            "{name}"
        );
        assert!(report.changes.iter().all(|c| !c.message.is_empty()), "{name}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(RULES.len() >= 15);
}

#[test]
fn a_contract_compared_with_itself_has_no_change() {
    for role in contracts::openapi::ROLES {
        let doc = contracts::openapi::document(role);
        let report = diff(doc.clone(), doc, &Options::default()).unwrap();
        assert!(report.changes.is_empty(), "{role}: {:?}", report.changes);
    }
    for (name, schema) in contracts::schema::catalog() {
        let options = Options {
            direction: Some(Direction::Both),
            today: None,
        };
        let report = diff(schema.clone(), schema, &options).unwrap();
        assert!(report.changes.is_empty(), "{name}: {:?}", report.changes);
    }
}

#[test]
fn directions_of_catalog_schemas_are_inferred_from_the_operations() {
    use governance::infer_direction;
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
