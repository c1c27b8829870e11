//! Out-of-order receipt events: the library scenario passes against the
//! reference core, and fails against a core that applies stale events.

use harness::cli::run::verdict_code;
use harness::exit;
use harness::run::{CoreOverrides, RunOptions, run_scenario};

use crate::{scenario, scenario_turn};

fn options(out: &std::path::Path, ignore_stale_receipts: bool) -> RunOptions {
    RunOptions {
        out_dir: out.to_owned(),
        seed: None,
        core: CoreOverrides {
            ignore_stale_receipts,
            ..CoreOverrides::default()
        },
        progress: None,
        events: None,
        parties: Default::default(),
        store: None,
    }
}

fn check<'a>(report: &'a reports::Report, name: &str) -> &'a reports::Check {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_receipts_pass_against_the_reference_core() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_scenario(
        &scenario("out-of-order-receipts.toml"),
        &options(dir.path(), true),
    )
    .await
    .unwrap();
    let report = &outcome.report;
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(verdict_code(report), exit::OK);
    // The scenario really exercised what it is about: stale events arrived,
    // corrections were reversed and reposted.
    assert!(check(report, "stale-events-ignored").checked >= 5, "{report:#?}");
    assert!(report.counts["reversals"] >= 5, "{:?}", report.counts);
    assert!(check(report, "conservation").checked >= 60);
}

/// The checks are worth nothing if they cannot fail: a core that applies
/// stale receipt events must fail invariants 10 and 8, naming the receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_applying_stale_receipts_fails_invariants_10_and_8() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_scenario(
        &scenario("out-of-order-receipts.toml"),
        &options(dir.path(), false),
    )
    .await
    .unwrap();
    let report = &outcome.report;
    assert_eq!(verdict_code(report), exit::CHECKS_FAILED);
    let stale = check(report, "stale-events-ignored");
    assert!(!stale.passed, "{stale:#?}");
    let v = &stale.violations[0];
    assert!(
        v.key.starts_with("receipt_id=RCV-") && v.key.ends_with("seq=1"),
        "{v:?}"
    );
    assert!(v.message.contains("seq 2 was already accepted"), "{v:?}");
    assert!(!check(report, "conservation").passed);
}
