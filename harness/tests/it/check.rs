//! `crossdock check DIR`: the checker alone on a run's directory gives the
//! run's own verdict; a history tampered with after the run is refused;
//! histories without `expectations.json` are judged with the defaults.

use std::process::Command;

use harness::exit;
use harness::run::{CoreOverrides, RunOptions, run_scenario};
use reports::Report;

use crate::{scenario_turn, write_scenario};

/// A small run with a fault window and an SLA, so every kind of expectation
/// (released POs, windows, the driver's flow, SLA bounds) is exercised.
const SCENARIO: &str = r#"name = "check-dir"
seed = 5
[load]
purchase_orders = 20
lines_per_po = { min = 1, max = 2 }
arrival_rate_per_s = 100
time_bound_s = 20
[sla]
recovery_s = 10
[sla.po_release]
p99_ms = 5000
[[faults]]
at_s = 0.05
for_s = 0.2
role = "wms"
kind = "status"
status = 503
retry_after_s = 0
"#;

fn verdicts(r: &Report) -> Vec<(String, bool, u64, u64)> {
    r.checks
        .iter()
        .map(|c| (c.name.clone(), c.passed, c.checked, c.violations_total))
        .collect()
}

fn crossdock_check(dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crossdock"))
        .arg("check")
        .arg(dir)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_dir_gives_the_runs_verdict_and_refuses_a_tampered_history() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "s.toml", SCENARIO);
    let opts = RunOptions {
        out_dir: dir.path().join("out"),
        seed: None,
        core: CoreOverrides::default(),
        progress: None,
        events: None,
        parties: Default::default(),
        store: None,
    };
    let outcome = run_scenario(&file, &opts).await.unwrap();
    assert!(outcome.report.passed, "{:#?}", outcome.report.checks);
    assert!(outcome.out_dir.join("expectations.json").is_file());

    let again = harness::check::check_dir(&outcome.out_dir).unwrap();
    assert_eq!(verdicts(&again), verdicts(&outcome.report));
    assert!(again.checks.iter().any(|c| c.name == "sla-po-release-p99"));
    assert!(again.checks.iter().any(|c| c.name == "sla-recovery"));
    let out = crossdock_check(&outcome.out_dir);
    assert_eq!(out.status.code(), Some(i32::from(exit::OK)), "{out:?}");

    // Drop the ERP's postings of one receipt: lost, and `check` says so.
    let erp = outcome.out_dir.join("erp.jsonl");
    let text = std::fs::read_to_string(&erp).unwrap();
    let victim = text
        .lines()
        .find(|l| l.contains("\"/v1/goods-receipt-postings\"") && l.contains("\"inbound\""))
        .expect("a posting reached the ERP")
        .to_owned();
    let tampered: String = text
        .lines()
        .filter(|l| *l != victim)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&erp, tampered).unwrap();
    let judged = harness::check::check_dir(&outcome.out_dir).unwrap();
    let lost = judged
        .checks
        .iter()
        .find(|c| c.name == "one-posting-per-receipt-line")
        .unwrap();
    assert!(!lost.passed, "{lost:#?}");
    assert!(lost.violations[0].message.contains("lost"), "{lost:#?}");
    let out = crossdock_check(&outcome.out_dir);
    assert_eq!(out.status.code(), Some(i32::from(exit::CHECKS_FAILED)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histories_without_expectations_are_judged_with_the_defaults() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    // No fault window: the defaults know of none.
    let quiet = &SCENARIO[..SCENARIO.find("[[faults]]").unwrap()];
    let file = write_scenario(dir.path(), "s.toml", quiet);
    let opts = RunOptions {
        out_dir: dir.path().join("out"),
        seed: Some(9),
        core: CoreOverrides::default(),
        progress: None,
        events: None,
        parties: Default::default(),
        store: None,
    };
    let outcome = run_scenario(&file, &opts).await.unwrap();
    // Only the histories, as another tool would have recorded them.
    let bare = dir.path().join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    for party in ["erp", "supplier", "wms"] {
        let name = format!("{party}.jsonl");
        std::fs::copy(outcome.out_dir.join(&name), bare.join(&name)).unwrap();
    }
    let report = harness::check::check_dir(&bare).unwrap();
    assert!(report.passed, "{:#?}", report.checks);
    let lost = report.checks.iter().find(|c| c.name == "nothing-lost").unwrap();
    let released: u64 = outcome.report.counts["purchase_orders"];
    assert!(lost.checked >= released, "every released line judged: {lost:#?}");
    assert!(report.notes.iter().any(|n| n.contains("no expectations.json")));

    // Nothing to judge, or a broken line: exit 2 naming the file.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_eq!(
        crossdock_check(&empty).status.code(),
        Some(i32::from(exit::BAD_INPUT))
    );
    std::fs::write(bare.join("wms.jsonl"), "{not json\n").unwrap();
    let out = crossdock_check(&bare);
    assert_eq!(out.status.code(), Some(i32::from(exit::BAD_INPUT)));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wms.jsonl:1"), "{stderr}");
}
