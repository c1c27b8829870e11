//! Crash safety (issue 5): `crossdock core` as a real child process is
//! killed with SIGKILL while its outbox holds deliveries, restarted on the
//! same SQLite file and port, and drains. The partners' recorded exchanges
//! are then judged by `harness::check`: nothing lost, nothing doubled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::routes::{core, wms};
use harness::check::{Expectations, check};
use harness::run::generate_orders;
use harness::scenario::Scenario;
use simulators::erp::ErpSim;
use simulators::faults::{Fault, FaultRule, FaultSet};
use simulators::recorder::{Recorder, now_us};
use simulators::supplier::{SupplierConfig, SupplierSim};
use simulators::wms::{WmsConfig, WmsSim};
use tokio::net::TcpListener;

use crate::{small_scenario, spawn_server, write_scenario};

const ERP_TOKEN: &str = "crash-test-erp-token";
const WMS_TOKEN: &str = "crash-test-wms-token";
const OPS_TOKEN: &str = "crash-test-ops-token";
const SUPPLIER_TOKEN: &str = "crash-test-supplier-token";
/// The whole test's bound.
const BOUND: Duration = Duration::from_secs(60);

fn start_core(config: &std::path::Path, listen: &str) -> (std::process::Child, String) {
    spawn_server(&[
        "core".as_ref(),
        "--listen".as_ref(),
        listen.as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ])
}

async fn ops_status(http: &reqwest::Client, url: &str) -> Option<contracts::ops::OpsStatus> {
    let resp = http
        .get(format!("{url}{}", core::OPS_STATUS))
        .bearer_auth(OPS_TOKEN)
        .send()
        .await
        .ok()?;
    resp.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_killed_with_a_full_outbox_loses_and_doubles_nothing_after_restart() {
    let _turn = crate::scenario_turn().await;
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::parse(
        &dir.path().join("crash.toml"),
        &small_scenario("crash", (1, 1), false),
    )
    .unwrap();
    let seed = 11;
    let orders = generate_orders(&scenario, seed);
    let released: Vec<(String, Vec<u32>)> = orders
        .iter()
        .map(|po| (po.po_number.clone(), po.lines.iter().map(|l| l.line_no).collect()))
        .collect();
    let supplier_gln = orders[0].supplier_gln.as_str().to_owned();

    // The partners listen first, so the core's configuration can name them.
    let bind = || async { TcpListener::bind("127.0.0.1:0").await.unwrap() };
    let (erp_l, wms_l, sup_l) = (bind().await, bind().await, bind().await);
    let url = |l: &TcpListener| format!("http://{}", l.local_addr().unwrap());
    let config = write_scenario(
        dir.path(),
        "core.toml",
        &format!(
            "database = {:?}\n[partners]\nerp = {:?}\nwms = {:?}\nsupplier = {:?}\n\
             [retry]\nbase_ms = 20\ncap_ms = 200\n\
             [auth]\nerp_token = {ERP_TOKEN:?}\nwms_token = {WMS_TOKEN:?}\nops_token = {OPS_TOKEN:?}\n\
             [[auth.suppliers]]\ngln = {supplier_gln:?}\ntoken = {SUPPLIER_TOKEN:?}\n",
            dir.path().join("core.sqlite").display().to_string(),
            url(&erp_l),
            url(&wms_l),
            url(&sup_l),
        ),
    );
    let (child, core_url) = start_core(&config, "127.0.0.1:0");
    let core_addr = core_url.trim_start_matches("http://").to_owned();

    let recorder = |name: &str| Recorder::create(&dir.path().join(format!("{name}.jsonl"))).unwrap();
    let erp = ErpSim::new(&core_url, recorder("erp"), FaultSet::new(1));
    let wms = WmsSim::new(
        WmsConfig {
            core_url: core_url.clone(),
            receipt_delay: Duration::from_millis(5),
            receiving: simulators::wms::Receiving::default(),
            seed,
        },
        recorder("wms"),
        FaultSet::new(2),
    );
    let supplier = SupplierSim::new(
        SupplierConfig {
            core_url: core_url.clone(),
            seed,
            ack_delay: Duration::from_millis(5),
            asn_delay: Duration::from_millis(5),
            asn_copies: (1, 1),
            concurrent_copies: false,
        },
        recorder("supplier"),
        FaultSet::new(3),
    );
    erp.core_client().set_bearer(ERP_TOKEN).unwrap();
    wms.core_client().set_bearer(WMS_TOKEN).unwrap();
    supplier.core_client().set_bearer(SUPPLIER_TOKEN).unwrap();
    // The WMS is down for inbound expectations until after the crash, so
    // they pile up in the core's outbox.
    let outage = wms
        .faults()
        .add(FaultRule::always(
            Some(wms::INBOUND_EXPECTATIONS),
            Fault::Status {
                status: 503,
                retry_after_s: None,
            },
        ))
        .unwrap();
    let _servers = [
        simulators::serve(erp_l, simulators::erp::app(erp.clone()), erp.faults().clone()).unwrap(),
        simulators::serve(wms_l, simulators::wms::app(wms.clone()), wms.faults().clone()).unwrap(),
        simulators::serve(
            sup_l,
            simulators::supplier::app(supplier.clone()),
            supplier.faults().clone(),
        )
        .unwrap(),
    ];

    let run_started_us = now_us();
    erp.load(orders);
    let mut releases = tokio::task::JoinSet::new();
    for (po_number, _) in &released {
        let (erp, po_number) = (erp.clone(), po_number.clone());
        releases.spawn(async move { erp.release(&po_number).await });
    }

    // Kill once every ASN is in and their expectations wait in the outbox.
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let asns = released.len() as i64;
    let before_kill = loop {
        let s = ops_status(&http, &core_url).await;
        if let Some(s) = s.as_ref().filter(|s| s.outbox_pending >= asns) {
            break s.clone();
        }
        assert!(started.elapsed() < BOUND / 2, "the outbox never filled: {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut child = child;
    child.kill().unwrap(); // SIGKILL: no shutdown code runs.
    child.wait().unwrap();
    wms.faults().remove(outage);

    // Same database, same port (the partners keep the core's URL).
    let (mut child, again) = start_core(&config, &core_addr);
    assert_eq!(again, core_url);

    // Drain: everything sent and the outbox empty, twice in a row.
    let mut quiet = 0;
    let quiescence = loop {
        while releases.try_join_next().is_some() {}
        let pending = ops_status(&http, &core_url)
            .await
            .map_or(i64::MAX, |s| s.outbox_pending);
        if releases.is_empty() && supplier.pending() == 0 && wms.pending() == 0 && pending == 0 {
            quiet += 1;
            if quiet == 2 {
                break Ok(());
            }
        } else {
            quiet = 0;
        }
        if started.elapsed() > BOUND {
            break Err(format!("not quiet within {BOUND:?}: outbox pending {pending}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let after = ops_status(&http, &core_url).await.unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    for r in [erp.recorder(), wms.recorder(), supplier.recorder()] {
        r.flush().await.unwrap();
    }

    assert!(before_kill.outbox_pending > 0);
    assert_eq!(after.outbox_dead, 0, "{after:?}");
    let histories: Vec<_> = ["erp", "supplier", "wms"]
        .iter()
        .map(|p| dir.path().join(format!("{p}.jsonl")))
        .collect();
    let findings = check(
        &histories,
        &contracts::Validator::new(),
        &Expectations {
            released,
            // Latency is not the point here: the outage and the crash are.
            asn_to_expectation_p99_ms: 60_000.0,
            quiescence,
            fault_windows_us: vec![(run_started_us, now_us())],
            run_started_us,
            price_tolerance_pct: None,
        },
    )
    .unwrap();
    let failed: Vec<_> = findings.checks.iter().filter(|c| !c.passed).collect();
    assert!(failed.is_empty(), "checks failed after the crash: {failed:#?}");
    let names: Vec<&str> = findings.checks.iter().map(|c| c.name.as_str()).collect();
    assert!(names.len() >= 5, "{names:?}");
    // The history shows the crash: expectations were refused before it and
    // delivered after it, each once.
    let expectations = findings.counts.get("expectations").copied().unwrap_or_default();
    assert_eq!(expectations, asns as u64, "{:?}", findings.counts);
    let _ = Arc::clone(&erp);
}
