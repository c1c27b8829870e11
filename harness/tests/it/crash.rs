//! Crash safety (issues 5 and 8): `crossdock core` as real child processes
//! killed with SIGKILL while the outbox holds deliveries. One core on
//! SQLite is restarted on the same file and port and drains; three
//! replicas on one PostgreSQL database lose one and the two left drain
//! (the dead one's outbox claims run out and are taken over). The
//! partners' recorded exchanges are then judged by the `checker`:
//! nothing lost, nothing doubled.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use checker::inbound::{Findings, InboundExpectations, check};
use contracts::routes::{core, wms};
use harness::run::generate_orders;
use scenario::Scenario;
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
const SEED: u64 = 11;

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

/// The simulated partners' listeners, bound first so the core's
/// configuration can name them.
struct Partners {
    dir: tempfile::TempDir,
    listeners: [TcpListener; 3],
}

impl Partners {
    async fn bind() -> Self {
        let bind = || async { TcpListener::bind("127.0.0.1:0").await.unwrap() };
        Self {
            dir: tempfile::tempdir().unwrap(),
            listeners: [bind().await, bind().await, bind().await],
        }
    }

    fn scenario(&self) -> Scenario {
        Scenario::parse(
            &self.dir.path().join("crash.toml"),
            &small_scenario("crash", (1, 1), false),
        )
        .unwrap()
    }

    /// A core configuration naming the partners, with `store` (TOML lines)
    /// and every party's token.
    fn core_toml(&self, store: &str) -> std::path::PathBuf {
        let url = |l: &TcpListener| format!("http://{}", l.local_addr().unwrap());
        let [erp, wms, sup] = &self.listeners;
        let supplier_gln = generate_orders(&self.scenario(), SEED)[0]
            .supplier_gln
            .as_str()
            .to_owned();
        write_scenario(
            self.dir.path(),
            "core.toml",
            &format!(
                "{store}\n[partners]\nerp = {:?}\nwms = {:?}\nsupplier = {:?}\n\
                 [retry]\nbase_ms = 20\ncap_ms = 200\n\
                 [auth]\nerp_token = {ERP_TOKEN:?}\nwms_token = {WMS_TOKEN:?}\nops_token = {OPS_TOKEN:?}\n\
                 [[auth.suppliers]]\ngln = {supplier_gln:?}\ntoken = {SUPPLIER_TOKEN:?}\n",
                url(erp),
                url(wms),
                url(sup),
            ),
        )
    }

    /// Starts the parties calling `core_url`, with `outage` on the WMS's
    /// inbound expectations (so they pile up in the core's outbox), and
    /// releases every PO.
    fn start(self, core_url: &str, outage: Fault) -> Run {
        let scenario = self.scenario();
        let dir = self.dir;
        let recorder = |name: &str| Recorder::create(&dir.path().join(format!("{name}.jsonl"))).unwrap();
        let erp = ErpSim::new(core_url, recorder("erp"), FaultSet::new(1));
        let wms = WmsSim::new(
            WmsConfig {
                core_url: core_url.to_owned(),
                receipt_delay: Duration::from_millis(5),
                receiving: simulators::wms::Receiving::default(),
                seed: SEED,
            },
            recorder("wms"),
            FaultSet::new(2),
        );
        let supplier = SupplierSim::new(
            SupplierConfig {
                core_url: core_url.to_owned(),
                seed: SEED,
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
        let outage = wms
            .faults()
            .add(FaultRule::always(Some(wms::INBOUND_EXPECTATIONS), outage))
            .unwrap();
        let [erp_l, wms_l, sup_l] = self.listeners;
        let servers = vec![
            simulators::serve(erp_l, simulators::erp::app(erp.clone()), erp.faults().clone()).unwrap(),
            simulators::serve(wms_l, simulators::wms::app(wms.clone()), wms.faults().clone()).unwrap(),
            simulators::serve(
                sup_l,
                simulators::supplier::app(supplier.clone()),
                supplier.faults().clone(),
            )
            .unwrap(),
        ];
        let orders = generate_orders(&scenario, SEED);
        let released: Vec<(String, Vec<u32>)> = orders
            .iter()
            .map(|po| (po.po_number.clone(), po.lines.iter().map(|l| l.line_no).collect()))
            .collect();
        let run_started_us = now_us();
        erp.load(orders);
        let mut releases = tokio::task::JoinSet::new();
        for (po_number, _) in &released {
            let (erp, po_number) = (erp.clone(), po_number.clone());
            releases.spawn(async move {
                erp.release(&po_number).await;
            });
        }
        Run {
            dir,
            erp,
            wms,
            supplier,
            released,
            _servers: servers,
            outage,
            releases,
            run_started_us,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            started: Instant::now(),
        }
    }
}

/// One crash run's parties, the POs they released and the WMS outage.
struct Run {
    dir: tempfile::TempDir,
    erp: Arc<ErpSim>,
    wms: Arc<WmsSim>,
    supplier: Arc<SupplierSim>,
    released: Vec<(String, Vec<u32>)>,
    _servers: Vec<simulators::Server>,
    outage: u64,
    releases: tokio::task::JoinSet<()>,
    run_started_us: u64,
    http: reqwest::Client,
    started: Instant,
}

impl Run {
    /// Waits until every ASN is in and its expectation waits in the outbox.
    async fn outbox_full(&self, core_url: &str) -> contracts::ops::OpsStatus {
        let asns = self.released.len() as i64;
        loop {
            let s = ops_status(&self.http, core_url).await;
            if let Some(s) = s.as_ref().filter(|s| s.outbox_pending >= asns) {
                return s.clone();
            }
            assert!(
                self.started.elapsed() < BOUND / 2,
                "the outbox never filled: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn end_outage(&self) {
        self.wms.faults().remove(self.outage);
    }

    /// Drains (everything sent, the outbox empty twice in a row), then
    /// judges the histories; returns the core's last status and the checks.
    async fn drain_and_check(
        &mut self,
        core_url: &str,
        cores: Vec<std::process::Child>,
    ) -> (contracts::ops::OpsStatus, Findings) {
        let mut quiet = 0;
        let quiescence = loop {
            while self.releases.try_join_next().is_some() {}
            let pending = ops_status(&self.http, core_url)
                .await
                .map_or(i64::MAX, |s| s.outbox_pending);
            if self.releases.is_empty()
                && self.supplier.pending() == 0
                && self.wms.pending() == 0
                && pending == 0
            {
                quiet += 1;
                if quiet == 2 {
                    break Ok(());
                }
            } else {
                quiet = 0;
            }
            if self.started.elapsed() > BOUND {
                break Err(format!("not quiet within {BOUND:?}: outbox pending {pending}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let after = ops_status(&self.http, core_url).await.unwrap();
        for mut child in cores {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        for r in [self.erp.recorder(), self.wms.recorder(), self.supplier.recorder()] {
            r.flush().await.unwrap();
        }
        let histories: Vec<_> = ["erp", "supplier", "wms"]
            .iter()
            .map(|p| self.dir.path().join(format!("{p}.jsonl")))
            .collect();
        let findings = check(
            &histories,
            &contracts::Validator::new(),
            &InboundExpectations {
                released: self.released.clone(),
                // Latency is not the point here: the outage and the crash are.
                asn_to_expectation_p99_ms: 60_000.0,
                quiescence,
                fault_windows: [
                    contracts::Role::Erp,
                    contracts::Role::Wms,
                    contracts::Role::Supplier,
                ]
                .map(|party| checker::FaultSpan {
                    party,
                    from_us: self.run_started_us,
                    to_us: now_us(),
                })
                .to_vec(),
                run_started_us: self.run_started_us,
                price_tolerance_pct: None,
            },
        )
        .unwrap();
        (after, findings)
    }

    /// Every check passed, and every expectation was delivered once.
    fn assert_nothing_lost_or_doubled(&self, findings: &Findings) {
        let failed: Vec<_> = findings.checks.iter().filter(|c| !c.passed).collect();
        assert!(failed.is_empty(), "checks failed after the crash: {failed:#?}");
        let names: Vec<&str> = findings.checks.iter().map(|c| c.name.as_str()).collect();
        assert!(names.len() >= 5, "{names:?}");
        let expectations = findings.counts.get("expectations").copied().unwrap_or_default();
        assert_eq!(expectations, self.released.len() as u64, "{:?}", findings.counts);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_killed_with_a_full_outbox_loses_and_doubles_nothing_after_restart() {
    let _turn = crate::scenario_turn().await;
    let partners = Partners::bind().await;
    let database = partners.dir.path().join("core.sqlite").display().to_string();
    let config = partners.core_toml(&format!("database = {database:?}"));
    let (child, core_url) = start_core(&config, "127.0.0.1:0");
    let core_addr = core_url.trim_start_matches("http://").to_owned();
    let mut parties = partners.start(
        &core_url,
        Fault::Status {
            status: 503,
            retry_after_s: None,
        },
    );

    let before_kill = parties.outbox_full(&core_url).await;
    let mut child = child;
    child.kill().unwrap(); // SIGKILL: no shutdown code runs.
    child.wait().unwrap();
    parties.end_outage();

    // Same database, same port (the partners keep the core's URL).
    let (child, again) = start_core(&config, &core_addr);
    assert_eq!(again, core_url);
    let (after, findings) = parties.drain_and_check(&core_url, vec![child]).await;

    assert!(before_kill.outbox_pending > 0);
    assert_eq!(after.outbox_dead, 0, "{after:?}");
    // The history shows the crash: expectations were refused before it and
    // delivered after it, each once.
    parties.assert_nothing_lost_or_doubled(&findings);
}

/// Three `crossdock core` replicas on one PostgreSQL database, the
/// parties' connections spread over them; one is killed with SIGKILL
/// while the outbox is full and it holds claims (leased for 1.5 s), and
/// the two left deliver everything once, the dead one's rows after its
/// leases run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_on_postgres_lose_one_and_lose_and_double_nothing() {
    let _turn = crate::scenario_turn().await;
    let db =
        integration_core::pgstore::ScratchDb::create("postgres://postgres@127.0.0.1:5432", "crossdock_t")
            .expect("PostgreSQL on 127.0.0.1:5432 (trust auth) runs for this test");
    let partners = Partners::bind().await;
    let config = partners.core_toml(&format!("store = {:?}\noutbox_lease_ms = 1500", db.url()));
    let mut replicas: Vec<(std::process::Child, String)> =
        (0..3).map(|_| start_core(&config, "127.0.0.1:0")).collect();
    let backends = replicas
        .iter()
        .map(|(_, url)| url.trim_start_matches("http://").parse().unwrap())
        .collect();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let core_url = format!("http://{}", listener.local_addr().unwrap());
    let connections: Arc<[AtomicU64]> = (0..3).map(|_| AtomicU64::new(0)).collect();
    let spreader = harness::run::store::spread(listener, backends, Some(connections.clone()));
    // The WMS hangs for 1 s, then resets: every delivery attempt holds its
    // claim that long, so each replica always has rows leased to it.
    let mut parties = partners.start(&core_url, Fault::Hang { max_s: 1 });

    let before_kill = parties.outbox_full(&core_url).await;
    let served: Vec<u64> = connections.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let (mut victim, victim_url) = replicas.remove(1);
    victim.kill().unwrap(); // SIGKILL, mid-run: its claimed rows stay leased to it.
    victim.wait().unwrap();
    parties.end_outage();
    let (after, findings) = parties
        .drain_and_check(&core_url, replicas.into_iter().map(|(c, _)| c).collect())
        .await;
    spreader.abort();
    drop(db);

    assert!(
        served.iter().all(|n| *n > 0),
        "the parties' connections reached every replica before the kill: {served:?}"
    );
    assert!(
        before_kill.outbox_pending > 0,
        "{victim_url} died with an outbox to deliver"
    );
    assert_eq!(after.outbox_dead, 0, "{after:?}");
    parties.assert_nothing_lost_or_doubled(&findings);
}
