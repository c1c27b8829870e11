//! The inventory and invoicing scenarios of the library, against the
//! reference core (they pass) and against cores weakened on purpose (the
//! checks must fail, naming the invariant and the business key).

use harness::cli::run::verdict_code;
use harness::exit;
use harness::run::{CoreOverrides, RunOptions, RunOutcome, run_scenario};

use crate::{scenario, scenario_turn};

async fn run(file: &str, core: CoreOverrides) -> (RunOutcome, tempfile::TempDir) {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out_dir: dir.path().to_owned(),
        seed: None,
        core,
        progress: None,
        events: None,
        parties: Default::default(),
        store: None,
    };
    (run_scenario(&scenario(file), &opts).await.unwrap(), dir)
}

fn check<'a>(outcome: &'a RunOutcome, name: &str) -> &'a reports::Check {
    outcome
        .report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

fn erp_history(outcome: &RunOutcome) -> Vec<contracts::Exchange> {
    std::fs::read_to_string(outcome.out_dir.join("erp.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoice_mismatch_passes_with_exceptions_and_held_invoices() {
    let (outcome, _dir) = run("invoice-mismatch.toml", CoreOverrides::default()).await;
    let report = &outcome.report;
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(verdict_code(report), exit::OK);
    let matching = check(&outcome, "three-way-match");
    assert_eq!(matching.checked, 60, "one invoice per PO: {matching:?}");
    // The scenario really exercises the match: both outcomes occur.
    let results: Vec<_> = erp_history(&outcome)
        .into_iter()
        .filter(|e| e.endpoint == contracts::routes::erp::MATCH_RESULTS && e.is_effect())
        .filter_map(|e| e.request)
        .collect();
    assert_eq!(results.len(), 60);
    let exceptions = results.iter().filter(|r| r["status"] == "exception").count();
    assert!(
        (5..55).contains(&exceptions),
        "{exceptions} of 60 with exceptions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_matching_with_a_loose_tolerance_fails_invariant_16() {
    let core = CoreOverrides {
        price_tolerance_pct: Some(50),
        ..CoreOverrides::default()
    };
    let (outcome, _dir) = run("invoice-mismatch.toml", core).await;
    assert_eq!(verdict_code(&outcome.report), exit::CHECKS_FAILED);
    let c = check(&outcome, "three-way-match");
    assert!(!c.passed);
    let v = &c.violations[0];
    assert!(
        v.key.starts_with("supplier=") && v.key.contains("invoice_number=INV-PO-"),
        "{v:?}"
    );
    assert!(v.message.contains("expected PriceVariance"), "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_drift_passes_and_corrects_each_gap_once() {
    let (outcome, _dir) = run("reconciliation-drift.toml", CoreOverrides::default()).await;
    let report = &outcome.report;
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let erp = erp_history(&outcome);
    let corrections = erp
        .iter()
        .filter(|e| e.is_effect())
        .filter_map(|e| e.request.as_ref())
        .filter(|r| r["reason"] == "correction")
        .count();
    let snapshots = erp
        .iter()
        .filter(|e| e.endpoint == contracts::routes::erp::INVENTORY_SNAPSHOT)
        .count();
    // Drift happened and was corrected; two runs read the books.
    assert!(corrections > 0, "the forgotten adjustments left no gap");
    assert_eq!(snapshots, 2);
    assert!(check(&outcome, "adjustments-exactly-once").checked > 0);
}

/// Without the outbox guard, the second reconciliation reads the ERP
/// before the first one's (slow) corrections land, and corrects again;
/// without source_event_id dedupe, every redelivered WMS adjustment is
/// posted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_without_guard_or_dedupe_fails_the_inventory_checks() {
    let core = CoreOverrides {
        reconciliation_guard: false,
        adjustment_dedup: false,
        ..CoreOverrides::default()
    };
    let (outcome, _dir) = run("reconciliation-drift.toml", core).await;
    assert_eq!(verdict_code(&outcome.report), exit::CHECKS_FAILED);

    let twice = check(&outcome, "reconciliation-closes-gaps");
    assert!(!twice.passed);
    assert!(
        twice
            .violations
            .iter()
            .all(|v| v.message.contains("corrected twice")),
        "{twice:?}"
    );
    assert!(twice.violations[0].key.contains(" sku=SKU-"), "{twice:?}");

    let doubled = check(&outcome, "adjustments-exactly-once");
    assert!(!doubled.passed);
    let v = &doubled.violations[0];
    assert!(v.key.starts_with("source_event_id=INV-EVT-"), "{v:?}");
    assert!(v.message.contains("duplicated"), "{v:?}");
}
