//! The scenario format's JSON Schema: committed, fresh, and true to the library.

use std::path::PathBuf;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/scenario.schema.json")
}

/// A stale committed schema is rewritten and the test fails: commit it.
#[test]
fn scenario_schema_is_fresh() {
    let text = serde_json::to_string_pretty(&scenario::scenario_schema()).unwrap() + "\n";
    let committed = std::fs::read_to_string(schema_path()).unwrap_or_default();
    if committed != text {
        std::fs::write(schema_path(), &text).unwrap();
        panic!(
            "{} was stale; it was regenerated, commit it",
            schema_path().display()
        );
    }
}

fn as_json(text: &str) -> serde_json::Value {
    toml::from_str(text).unwrap()
}

/// Every scenario of the library is valid against the schema (and parses),
/// and the schema refuses what the parser refuses.
#[test]
fn the_library_validates_against_the_schema() {
    let validator = jsonschema::validator_for(&scenario::scenario_schema()).unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("#:schema ../harness/schema/scenario.schema.json"),
            "{} should point editors at the schema on its first line",
            path.display()
        );
        scenario::Scenario::parse(&path, &text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&as_json(&text))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        seen += 1;
    }
    assert!(seen >= 7, "{seen} scenarios");

    let good = std::fs::read_to_string(dir.join("wms-outage.toml")).unwrap();
    for bad in [
        good.replace("purchase_orders = 80", "purchase_orders = 0"),
        good.replace("time_bound_s = 40", "time_bound_s = 40\nspeed = 3"),
        good.replace("kind = \"outage\"", "kind = \"meteor\""),
        good.replace("role = \"wms\"", "role = \"bank\""),
        good.replace("kind = \"outage\"", "kind = \"outage\"\nretry_after = 1"),
        good.replace("kind = \"outage\"", "kind = \"outage\"\nms = 40"),
    ] {
        assert!(!validator.is_valid(&as_json(&bad)), "the schema accepted:\n{bad}");
    }
}
