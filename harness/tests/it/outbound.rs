//! The outbound flow through whole runs: it passes against the reference
//! core, with and without faults on the WMS, and its checks catch a core
//! that reports undecided releases as rejected.

use harness::cli::run::verdict_code;
use harness::exit;
use harness::run::{CoreOverrides, RunOptions, run_scenario};

use crate::{scenario_turn, write_scenario};

/// 30 sales orders, a fifth of lines with unknown items; half the WMS's
/// release answers lost after it took the order (504).
const LOSSY_WMS: &str = r#"name = "outbound-lossy"
seed = 17
[outbound]
orders = 30
lines_per_order = { min = 1, max = 3 }
arrival_rate_per_s = 100
unknown_item_probability = 0.2
short_ship_probability = 0.3
time_bound_s = 20
[[faults]]
at_s = 0.0
for_s = 10.0
role = "wms"
endpoint = "/v1/order-releases"
probability = 0.5
kind = "commit_then_fail"
then = "gateway_timeout"
"#;

fn options(out: &std::path::Path, release_failure_rejects: bool) -> RunOptions {
    RunOptions {
        out_dir: out.to_owned(),
        seed: None,
        core: CoreOverrides {
            release_failure_rejects,
            ..CoreOverrides::default()
        },
        progress: None,
        events: None,
        parties: Default::default(),
        store: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_release_answers_are_survived_and_a_core_that_rejects_on_failure_is_caught() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "o.toml", LOSSY_WMS);

    let report = run_scenario(&file, &options(dir.path(), false))
        .await
        .unwrap()
        .report;
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let counts = &report.counts;
    assert_eq!(counts["releases_sent"], 30, "{counts:?}");
    // Unknown items were rejected, the rest accepted and shipped.
    assert!(counts["releases_rejected"] >= 3, "{counts:?}");
    assert_eq!(
        counts["releases_accepted"] + counts["releases_rejected"],
        30,
        "{counts:?}"
    );
    assert_eq!(
        counts["shipments_accepted"], counts["releases_accepted"],
        "{counts:?}"
    );
    // The fault really fired: the ERP had to retry releases.
    assert!(counts["release_attempts"] > 35, "{counts:?}");
    // The releases went out on the open-model driver: its own load summary
    // and latency row (from each release's intended time to the final
    // answer, retries included).
    let load = report.load.iter().find(|l| l.name == "order-release").unwrap();
    assert_eq!((load.sent, load.ok, load.timed_out), (30, 30, 0), "{load:?}");
    let row = report
        .latencies
        .iter()
        .find(|l| l.name == "order-release")
        .unwrap();
    assert_eq!(row.count, 30);
    assert!(row.p50_ms <= row.p95_ms && row.p95_ms <= row.max_ms, "{row:?}");
    assert_eq!(counts["sales_orders"], 30);
    for name in [
        "release-decision-matches-wms",
        "shipped-within-released",
        "one-shipment-posting-per-line",
        "outbound-nothing-lost",
        "trace-continuity",
    ] {
        let c = report.checks.iter().find(|c| c.name == name).unwrap();
        assert!(c.checked > 0, "{c:#?}");
    }

    // A core that turns "the WMS did not answer" into "rejected": the WMS
    // holds, and ships, orders the ERP was told are rejected.
    let report = run_scenario(&file, &options(dir.path(), true))
        .await
        .unwrap()
        .report;
    assert_eq!(verdict_code(&report), exit::CHECKS_FAILED);
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "release-decision-matches-wms")
        .unwrap();
    assert!(!check.passed);
    let v = &check.violations[0];
    assert!(v.key.starts_with("order_number=SO-"), "{v:?}");
    assert!(v.message.contains("unexpected WMS order"), "{v:?}");
    assert!(v.witness.iter().any(|w| w.party == "erp"), "{v:?}");
    assert!(v.witness.iter().any(|w| w.party == "wms"), "{v:?}");
}
