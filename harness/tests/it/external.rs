//! Any role as the system under test, by URL: an external core (a
//! `crossdock core` process, or a deliberately broken one), an external WMS
//! (a `crossdock simulate` process behind the recording proxies), and
//! parties that do not answer.

use std::path::Path;
use std::process::Command;

use contracts::ids::with_check_digit;
use harness::cli::run::verdict_code;
use harness::exit;
use harness::run::external::{LoopbackAddr, PartyOverrides, PartyRole, PartyUrl};
use harness::run::{RunOptions, run_scenario};
use scenario::SimRole;

use crate::{interrupt, scenario, scenario_turn, small_scenario, spawn_server, write_scenario};

const ERP: &str = "external-core-erp-token";
const WMS: &str = "external-core-wms-token";
const SUPPLIER: &str = "external-core-supplier-token";
const OPS: &str = "external-core-ops-token";

/// A free port on 127.0.0.1 (free when asked; the test binds it soon after).
fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Fixed addresses for the simulated ERP, WMS and supplier.
fn partner_addrs() -> [std::net::SocketAddr; 3] {
    [free_addr(), free_addr(), free_addr()]
}

fn supplier_gln() -> String {
    with_check_digit("506000000001")
}

fn options(out: &Path, parties: PartyOverrides) -> RunOptions {
    RunOptions {
        out_dir: out.to_owned(),
        seed: None,
        core: Default::default(),
        progress: None,
        events: None,
        parties,
        store: None,
    }
}

/// `--external core=URL`, the four caller tokens, the partners' addresses.
fn external_core(url: &str, addrs: [std::net::SocketAddr; 3]) -> PartyOverrides {
    PartyOverrides {
        external: vec![(PartyRole::Core, PartyUrl(url.to_owned()))],
        tokens_for: vec![
            (contracts::Role::Erp, ERP.into()),
            (contracts::Role::Wms, WMS.into()),
            (contracts::Role::Supplier, SUPPLIER.into()),
            (contracts::Role::Core, OPS.into()),
        ],
        listen: [SimRole::Erp, SimRole::Wms, SimRole::Supplier]
            .into_iter()
            .zip(addrs)
            .map(|(r, a)| (PartyRole::Partner(r), LoopbackAddr(a)))
            .collect(),
    }
}

/// A library scenario against the reference core run as its own process
/// (`crossdock core`, configured to deliver to the harness's simulators):
/// every check passes, through the `crossdock run` binary.
#[test]
fn a_library_scenario_passes_against_an_external_reference_core_process() {
    let _turn = crate::scenario_turn_blocking();
    let dir = tempfile::tempdir().unwrap();
    let [erp, wms, supplier] = partner_addrs();
    let config = write_scenario(
        dir.path(),
        "core.toml",
        &format!(
            "database = {:?}\n[partners]\nerp = \"http://{erp}\"\nwms = \"http://{wms}\"\nsupplier = \"http://{supplier}\"\n\
             [auth]\nerp_token = \"{ERP}\"\nwms_token = \"{WMS}\"\nops_token = \"{OPS}\"\n\
             [[auth.suppliers]]\ngln = \"{}\"\ntoken = \"{SUPPLIER}\"\n",
            dir.path().join("core.sqlite").display().to_string(),
            supplier_gln()
        ),
    );
    let (core, url) = spawn_server(&[
        "core".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
    let out = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_crossdock"))
        .arg("run")
        .arg(scenario("inbound-happy-path.toml"))
        .arg("--out")
        .arg(&out)
        .args(["--external", &format!("core={url}")])
        .args(["--token-for", &format!("erp={ERP}")])
        .args(["--token-for", &format!("wms={WMS}")])
        .args(["--token-for", &format!("supplier={SUPPLIER}")])
        .args(["--token-for", &format!("ops={OPS}")])
        .args(["--listen", &format!("erp={erp}")])
        .args(["--listen", &format!("wms={wms}")])
        .args(["--listen", &format!("supplier={supplier}")])
        .output()
        .unwrap();
    assert_eq!(interrupt(core), Some(0));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        run.status.code(),
        Some(i32::from(exit::OK)),
        "{stderr}\n{}",
        String::from_utf8_lossy(&run.stdout)
    );
    // It says who played what, and what the external core's own
    // configuration decides.
    assert!(
        stderr.contains(&format!("erp: simulated at http://{erp}")),
        "{stderr}"
    );
    assert!(stderr.contains("not applied: external core"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("inbound-happy-path/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["passed"], true);
    // ... and the report keeps that note, shown in the summary too.
    assert!(
        report["notes"][0]
            .as_str()
            .is_some_and(|n| n.starts_with("not applied: external core")),
        "{}",
        report["notes"]
    );
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("note: not applied: external core"),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    // The work really went through the external core: 200 POs, each with
    // one expectation at the WMS, delivered by its outbox (read over HTTP).
    assert_eq!(report["counts"]["expectations"], 200, "{}", report["counts"]);
    assert!(
        report["counts"]["core_outbox_delivered"].as_u64().unwrap() >= 600,
        "{}",
        report["counts"]
    );
}

/// The same kind of run against an external core with ASN deduplication off
/// fails, naming the invariant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_external_core_fails_naming_the_check() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let addrs = partner_addrs();
    let url = |a: std::net::SocketAddr| format!("http://{a}");
    let mut config = integration_core::CoreConfig::new(
        dir.path().join("broken.sqlite"),
        integration_core::Partners {
            erp: url(addrs[0]),
            wms: url(addrs[1]),
            supplier: url(addrs[2]),
        },
    );
    config.asn_dedup = false;
    config.credentials = integration_core::Credentials::default()
        .with(ERP, integration_core::Caller::Erp)
        .with(WMS, integration_core::Caller::Wms)
        .with(OPS, integration_core::Caller::Ops)
        .with(
            SUPPLIER,
            integration_core::Caller::Supplier { gln: supplier_gln() },
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let core = integration_core::start(config, listener).unwrap();
    let file = write_scenario(dir.path(), "dup.toml", &small_scenario("dup", (2, 3), true));
    let outcome = run_scenario(&file, &options(dir.path(), external_core(&core.url(), addrs)))
        .await
        .unwrap();
    core.stop().await;
    let report = &outcome.report;
    assert_eq!(verdict_code(report), exit::CHECKS_FAILED);
    let failed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    // Without dedup every copy is a new message: a second expectation, and
    // the copy is not given the first copy's stored answer.
    assert_eq!(
        failed,
        ["one-expectation-per-asn", "copies-answered"],
        "{report:#?}"
    );
}

/// A WMS at a URL (a `crossdock simulate --role wms` process that wants its
/// own token): the in-process core reaches it through the recording proxy,
/// its receipts come back through the other; every exchange is in wms.jsonl
/// and the checks pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_wms_is_judged_through_the_recording_proxies() {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let peer = free_addr();
    let own_history = dir.path().join("wms-own.jsonl");
    let (wms, wms_url) = spawn_server(&[
        "simulate".as_ref(),
        "--role".as_ref(),
        "wms".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--peer-url".as_ref(),
        format!("http://{peer}").as_ref(),
        "--token".as_ref(),
        "the-wms-wants-this".as_ref(),
        "--history".as_ref(),
        own_history.as_os_str(),
    ]);
    let text = format!(
        "{}[parties.wms]\nurl = \"{wms_url}\"\ntoken = \"the-wms-wants-this\"\npeer_listen = \"{peer}\"\n",
        small_scenario("ext-wms", (1, 2), false)
    );
    let file = write_scenario(dir.path(), "ext-wms.toml", &text);
    let outcome = run_scenario(&file, &options(dir.path(), PartyOverrides::default()))
        .await
        .unwrap();
    let stopped = tokio::task::spawn_blocking(move || interrupt(wms)).await.unwrap();
    assert_eq!(stopped, Some(0));
    let report = &outcome.report;
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(report.counts["expectations"], 25, "{:?}", report.counts);
    // What the run could not script is in the report, not only on stderr.
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(
        report.notes[0].starts_with("not applied: external wms: [wms] receiving behaviour"),
        "{:?}",
        report.notes
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(outcome.out_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(written["notes"][0].as_str(), Some(report.notes[0].as_str()));

    // The harness's record of the WMS: the core's deliveries (inbound, as
    // the WMS saw them) and the WMS's receipts to the core (outbound), all
    // answered 2xx through the proxies.
    let recorded: Vec<contracts::Exchange> = std::fs::read_to_string(outcome.out_dir.join("wms.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |d: contracts::Direction, endpoint: &str| {
        recorded
            .iter()
            .filter(|e| e.direction == d && e.endpoint == endpoint && e.party == contracts::Role::Wms)
            .count()
    };
    assert_eq!(
        of(
            contracts::Direction::Inbound,
            contracts::routes::wms::INBOUND_EXPECTATIONS
        ),
        25
    );
    assert!(
        of(
            contracts::Direction::Outbound,
            contracts::routes::core::GOODS_RECEIPTS
        ) >= 25
    );
    assert!(recorded.iter().all(|e| e.is_success()), "{recorded:#?}");
    // The same exchanges the WMS itself recorded, one for one (besides the
    // harness's readiness GET).
    let own = std::fs::read_to_string(&own_history)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"method\":\"POST\""))
        .count();
    assert_eq!(own, recorded.len());
}

/// A party that does not answer at start: exit 2, naming the role and URL.
#[test]
fn an_unreachable_system_under_test_exits_2_naming_role_and_url() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "s.toml", &small_scenario("s", (1, 1), false));
    let closed = format!("http://{}", free_addr());
    for (role, extra) in [("wms", vec![]), ("core", vec!["--token-for", "ops=ops-token"])] {
        let run = Command::new(env!("CARGO_BIN_EXE_crossdock"))
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(dir.path().join("out"))
            .args(["--external", &format!("{role}={closed}")])
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(i32::from(exit::BAD_INPUT)), "{stderr}");
        assert!(
            stderr.contains(&format!("{role} at {closed} did not answer")),
            "{stderr}"
        );
    }
    // Bad parties are bad input too, named.
    let run = Command::new(env!("CARGO_BIN_EXE_crossdock"))
        .arg("run")
        .arg(&file)
        .args(["--external", &format!("core={closed}")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(i32::from(exit::BAD_INPUT)), "{stderr}");
    assert!(stderr.contains("ops token is required"), "{stderr}");
}
