//! reports' integration tests (one binary).

use std::path::PathBuf;

/// The committed schema of report.json equals the generated one; a stale
/// file is rewritten and the test fails, so the fix is to commit it.
#[test]
fn report_schema_is_fresh() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json");
    let text = serde_json::to_string_pretty(&reports::report_schema()).unwrap() + "\n";
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != text {
        std::fs::write(&path, &text).unwrap();
        panic!("{} was stale; it was regenerated, commit it", path.display());
    }
}

/// A report as the harness writes it validates against the schema, and a
/// broken one does not.
#[test]
fn a_written_report_validates_against_the_schema() {
    let report = reports::Report {
        format: reports::REPORT_FORMAT,
        scenario: "s".into(),
        scenario_file: "s.toml".into(),
        seed: 1,
        started_at: "2026-11-22T00:00:00Z".into(),
        duration_ms: 10,
        passed: false,
        counts: [("purchase_orders".to_string(), 2)].into_iter().collect(),
        checks: vec![reports::Check::new(
            "c",
            "d",
            1,
            vec![reports::Violation {
                key: "k".into(),
                message: "m".into(),
                witness: vec![reports::Witness {
                    party: "wms".into(),
                    seq: 3,
                    endpoint: "POST /x".into(),
                    status: None,
                    idempotency_key: None,
                }],
            }],
        )],
        latencies: vec![],
        load: vec![reports::LoadSummary {
            name: "po-release".into(),
            sent: 2,
            ok: 2,
            failed: 0,
            missed_schedule: 0,
            late_after_ms: 10,
            timed_out: 0,
            max_in_flight: 1,
        }],
        fault_windows: vec![],
        throughput: vec![reports::ThroughputPoint {
            at_ms: 0,
            exchanges: 4,
        }],
        notes: vec!["not applied: external wms: [wms] receiving behaviour".into()],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    reports::write_json(&report, &path).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&reports::report_schema()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");

    let mut broken = doc;
    broken["checks"][0]["passed"] = serde_json::json!("no");
    assert!(!validator.is_valid(&broken));
}
