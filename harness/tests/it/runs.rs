use harness::cli::run::verdict_code;
use harness::exit;
use harness::run::{CoreOverrides, Progress, ProgressSink, RunOptions, run_scenario};

use crate::{scenario_turn, small_scenario, write_scenario};

fn options(out: &std::path::Path, dedup: bool) -> RunOptions {
    RunOptions {
        out_dir: out.to_owned(),
        seed: None,
        core: CoreOverrides {
            asn_dedup: dedup,
            ..CoreOverrides::default()
        },
        progress: None,
        events: None,
        parties: Default::default(),
        store: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_asns_pass_against_the_reference_core() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "dup.toml", &small_scenario("dup", (2, 3), true));
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut opts = options(dir.path(), true);
    let sink = events.clone();
    opts.progress = Some(ProgressSink(std::sync::Arc::new(move |p: &Progress| {
        sink.lock().unwrap().push(p.clone());
    })));
    let outcome = run_scenario(&file, &opts).await.unwrap();
    // Progress: every release reported, then settling, then checking, last.
    let events = events.lock().unwrap().clone();
    let releases: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Progress::Releasing { released, total } => Some((*released, *total)),
            _ => None,
        })
        .collect();
    assert_eq!(releases.len(), 25);
    assert_eq!(releases.last(), Some(&(25, 25)));
    assert!(events.iter().any(|e| matches!(e, Progress::Settling { .. })));
    assert_eq!(events.last(), Some(&Progress::Checking));
    let report = &outcome.report;
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(verdict_code(report), exit::OK);
    // The copies really were sent and recognised as duplicates.
    assert!(report.counts["asn_sends"] >= 50, "{:?}", report.counts);
    assert!(
        report.counts["asn_duplicates_recognised"] >= 25,
        "{:?}",
        report.counts
    );
    assert_eq!(report.counts["expectations"], 25);
    // The load driver's own figures: every release sent and answered, its
    // latency row measured from the intended send times.
    let load = &report.load[0];
    assert_eq!(
        (load.name.as_str(), load.sent, load.ok, load.timed_out),
        ("po-release", 25, 25, 0)
    );
    let row = report.latencies.iter().find(|l| l.name == "po-release").unwrap();
    assert_eq!(row.count, 25);
    assert!(row.p50_ms > 0.0 && row.p50_ms <= row.p99_ms, "{row:?}");
    for f in [
        "report.json",
        "junit.xml",
        "erp.jsonl",
        "wms.jsonl",
        "supplier.jsonl",
    ] {
        assert!(outcome.out_dir.join(f).is_file(), "{f} missing");
    }
}

/// The checks are worth nothing if they cannot fail: with the core's ASN
/// deduplication off, the same scenario must fail, naming the invariant and
/// the business key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_without_asn_dedup_fails_naming_invariant_and_key() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "dup.toml", &small_scenario("dup", (2, 3), true));
    let outcome = run_scenario(&file, &options(dir.path(), false)).await.unwrap();
    let report = &outcome.report;
    assert!(!report.passed);
    assert_eq!(verdict_code(report), exit::CHECKS_FAILED);

    let check = report
        .checks
        .iter()
        .find(|c| c.name == "one-expectation-per-asn")
        .unwrap();
    assert!(!check.passed);
    // Every ASN was sent at least twice, so every one was duplicated.
    assert_eq!(check.violations_total, 25, "{check:#?}");
    let v = &check.violations[0];
    assert!(v.key.contains("asn_id=ASN-PO-"), "{v:?}");
    assert!(v.message.contains("duplicated"), "{v:?}");
    // The witness names the supplier's accepted send and both WMS effects.
    assert!(
        v.witness.iter().filter(|w| w.party == "wms").count() >= 2,
        "{v:?}"
    );
    assert!(v.witness.iter().any(|w| w.party == "supplier"), "{v:?}");

    // The JUnit file carries the failure and the key too.
    let junit = std::fs::read_to_string(outcome.out_dir.join("junit.xml")).unwrap();
    assert!(junit.contains("one-expectation-per-asn"));
    assert!(junit.contains(&v.key));

    // Other invariants still hold: the duplicates are the only fault.
    for name in ["contracts-valid", "idempotency-keys", "quiescent-within-bound"] {
        let c = report.checks.iter().find(|c| c.name == name).unwrap();
        assert!(c.passed, "{c:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_generates_the_same_orders() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "s.toml", &small_scenario("s", (1, 1), false));
    let scenario = scenario::Scenario::load(&file).unwrap();
    let a = harness::run::generate_orders(&scenario, 5);
    let b = harness::run::generate_orders(&scenario, 5);
    let c = harness::run::generate_orders(&scenario, 6);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.len(), 25);
    assert!(a.iter().all(|po| (1..=3).contains(&po.lines.len())));
}

/// An outage the real core rides out (its outbox retries) becomes lost
/// expectations when the core gives up after one attempt: the checks see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wms_outage_is_survived_and_a_core_that_gives_up_is_caught() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n[[faults]]\nat_s = 0.0\nfor_s = 1.0\nrole = \"wms\"\nendpoint = \"/v1/inbound-expectations\"\nkind = \"outage\"\n",
        small_scenario("outage", (1, 1), false)
    );
    let file = write_scenario(dir.path(), "outage.toml", &text);

    let survived = run_scenario(&file, &options(dir.path(), true))
        .await
        .unwrap()
        .report;
    let failed: Vec<_> = survived.checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(survived.fault_windows.len(), 1);
    assert_eq!(survived.fault_windows[0].kind, "outage");
    // The outage really refused deliveries: the WMS saw more attempts than expectations.
    assert!(survived.counts["exchanges_wms"] > 2 * 25, "{:?}", survived.counts);
    // What queued behind the outage was delivered after it, within the
    // recovery SLA, and the ASNs held up by it are not judged by the p99.
    let recovery = survived.checks.iter().find(|c| c.name == "sla-recovery").unwrap();
    assert!(recovery.checked >= 25, "{recovery:?}");
    assert!(
        survived.counts["recovery_slowest_ms"] > 0,
        "{:?}",
        survived.counts
    );
    let p99 = survived
        .checks
        .iter()
        .find(|c| c.name == "sla-asn-to-expectation-p99")
        .unwrap();
    assert!(p99.checked < 25, "{p99:?}");

    let mut fragile = options(dir.path(), true);
    fragile.core.max_attempts = Some(1);
    let report = run_scenario(&file, &fragile).await.unwrap().report;
    assert_eq!(verdict_code(&report), exit::CHECKS_FAILED);
    let lost = report
        .checks
        .iter()
        .find(|c| c.name == "one-expectation-per-asn")
        .unwrap();
    assert!(!lost.passed);
    assert!(
        lost.violations.iter().all(|v| v.message.contains("lost")),
        "{lost:#?}"
    );
    let nothing_lost = report.checks.iter().find(|c| c.name == "nothing-lost").unwrap();
    assert!(!nothing_lost.passed);
    // The recovery check names the window and the keys it left undelivered.
    let recovery = report.checks.iter().find(|c| c.name == "sla-recovery").unwrap();
    assert!(!recovery.passed);
    assert!(
        recovery.violations.iter().all(
            |v| v.key.starts_with("window=wms outage /v1/inbound-expectations ")
                && v.key.contains("asn-to-expectation asn_id=")
                && v.message.contains("never delivered")
        ),
        "{recovery:#?}"
    );
    assert!(report.counts["core_outbox_dead"] > 0, "{:?}", report.counts);
}

/// A ramp shapes the releases: 50/s falling to 0 over 1 s is 25 releases,
/// though the scenario has 60 POs; the checker expects exactly those 25.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramp_down_to_zero_ends_the_releases() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let text = small_scenario("ramp", (1, 1), false)
        .replace("purchase_orders = 25", "purchase_orders = 60")
        .replace(
            "arrival_rate_per_s = 200\n",
            "arrival_rate_per_s = 50\nramp = [{ to_per_s = 0, over_s = 1 }]\n",
        );
    let file = write_scenario(dir.path(), "ramp.toml", &text);
    let outcome = run_scenario(&file, &options(dir.path(), true)).await.unwrap();
    let report = &outcome.report;
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(report.counts["purchase_orders"], 25);
    assert_eq!(report.load[0].sent, 25);
    assert_eq!(report.counts["expectations"], 25);
    // The last release is due where 50 t - 25 t² = 24: at 0.8 s.
    assert!(
        outcome.report.duration_ms >= 800,
        "{}",
        outcome.report.duration_ms
    );
}

/// WMS outage with replay: the core dead-letters what fails during the
/// outage, the scenario's operator step replays it after, and the replay
/// converges (every ASN's expectation once, every line posted, no dead
/// letter left, within the recovery SLA). Without the step, the same run
/// loses them, and the checks say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_replayed_after_an_outage_converge() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let library = crate::scenario("wms-outage-replay.toml");
    let report = run_scenario(&library, &options(dir.path(), true))
        .await
        .unwrap()
        .report;
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let replay = report
        .checks
        .iter()
        .find(|c| c.name == "dead-letters-replayed")
        .unwrap();
    assert_eq!(replay.checked, 1);
    assert!(report.counts["dead_letters_replayed"] > 0, "{:?}", report.counts);
    assert_eq!(report.counts["core_outbox_dead"], 0);
    assert_eq!(report.counts["expectations"], report.counts["asns_accepted"]);

    let text = std::fs::read_to_string(&library).unwrap();
    let without = text[..text.find("[[ops]]").unwrap()].to_owned();
    let file = write_scenario(dir.path(), "no-replay.toml", &without);
    let report = run_scenario(&file, &options(dir.path(), true))
        .await
        .unwrap()
        .report;
    assert_eq!(verdict_code(&report), exit::CHECKS_FAILED);
    assert!(report.counts["core_outbox_dead"] > 0, "{:?}", report.counts);
    for name in ["one-expectation-per-asn", "sla-recovery"] {
        let c = report.checks.iter().find(|c| c.name == name).unwrap();
        assert!(!c.passed, "{c:#?}");
    }
    assert!(!report.checks.iter().any(|c| c.name == "dead-letters-replayed"));
}

/// `--store postgres://… --replicas 2`: the run's core is two replicas on a
/// database of the run's own, created for it and dropped after it; the
/// verdict is the same, and a rerun with the same seed does not collide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_asns_pass_against_two_replicas_on_postgres_twice_with_one_seed() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "dup.toml", &small_scenario("dup-pg", (2, 3), true));
    let mut opts = options(dir.path(), true);
    opts.seed = Some(7);
    opts.store = Some(harness::run::RunStore::new("postgres://postgres@127.0.0.1:5432", 2).unwrap());
    for _ in 0..2 {
        let report = run_scenario(&file, &opts).await.unwrap().report;
        // Latency SLAs aside (two replicas on two busy cores): every
        // correctness check passes.
        let failed: Vec<_> = report
            .checks
            .iter()
            .filter(|c| !c.passed && !c.name.starts_with("sla-"))
            .collect();
        assert!(failed.is_empty(), "{failed:#?}");
        assert_eq!(report.counts["expectations"], 25, "{:?}", report.counts);
        assert!(
            report.counts["asn_duplicates_recognised"] >= 25,
            "{:?}",
            report.counts
        );
    }
}
