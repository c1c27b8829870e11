//! Every fault kind, observed from a real HTTP client against the simulated
//! ERP on a real socket.

use std::time::{Duration, Instant};

use contracts::http::{IDEMPOTENCY_KEY, RETRY_AFTER};
use contracts::inbound::{ErpGoodsReceiptPosting, StockStatus};
use contracts::routes::erp as paths;
use contracts::{Exchange, Role};
use simulators::erp::{self, ErpSim};
use simulators::faults::{AfterCommit, Fault, FaultRule, FaultSet, Malformation, OutageMode};
use simulators::recorder::Recorder;
use simulators::{Server, serve};

struct Erp {
    sim: std::sync::Arc<ErpSim>,
    server: Server,
    recorder: Recorder,
    _dir: tempfile::TempDir,
}

async fn erp_with(rule: Option<FaultRule>) -> Erp {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::create(&dir.path().join("erp.jsonl")).unwrap();
    let sim = ErpSim::new("http://127.0.0.1:9", recorder.clone(), FaultSet::new(42));
    if let Some(rule) = rule {
        sim.faults().add(rule).unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = serve(listener, erp::app(sim.clone()), sim.faults().clone()).unwrap();
    Erp {
        sim,
        server,
        recorder,
        _dir: dir,
    }
}

impl Erp {
    fn url(&self) -> String {
        format!("{}{}", self.server.url(), paths::GOODS_RECEIPT_POSTINGS)
    }

    async fn post(&self, client: &reqwest::Client, key: &str) -> reqwest::Result<reqwest::Response> {
        client
            .post(self.url())
            .header(IDEMPOTENCY_KEY, key)
            .json(&posting())
            .send()
            .await
    }

    async fn history(self) -> Vec<Exchange> {
        self.server.stop().await.unwrap();
        self.recorder.flush().await.unwrap();
        let text = std::fs::read_to_string(self.recorder.path()).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

fn posting() -> ErpGoodsReceiptPosting {
    ErpGoodsReceiptPosting {
        receipt_id: "RCV-1".into(),
        receipt_line_no: 1,
        po_number: "PO-1".into(),
        po_line_no: 1,
        sku: "SKU-1".into(),
        quantity: 5,
        stock_status: StockStatus::Unrestricted,
        seq: 1,
        reverses_seq: None,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn is_reset(e: &reqwest::Error) -> bool {
    // hyper reports a reset mid-request as an incomplete message or a
    // connection error; either way no answer came and it was not a timeout.
    !e.is_timeout() && (e.is_request() || e.is_connect() || e.is_body())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_is_a_reset_and_nothing_is_applied() {
    let erp = erp_with(Some(FaultRule::always(None, Fault::Reset))).await;
    let err = erp.post(&client(), "k1").await.unwrap_err();
    assert!(is_reset(&err), "{err:?}");
    assert_eq!(erp.sim.summary().goods_receipt_postings, 0);
    let history = erp.history().await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, None);
    assert_eq!(history[0].fault.as_deref(), Some("reset"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_trips_the_client_timeout() {
    let erp = erp_with(Some(FaultRule::always(None, Fault::Hang { max_s: 30 }))).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = erp.post(&client, "k1").await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(erp.sim.summary().goods_receipt_postings, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_answers_429_with_retry_after_and_ratelimit_fields() {
    let erp = erp_with(Some(FaultRule::always(
        None,
        Fault::Quota {
            burst: 2,
            per_s: 60.0,
        },
    )))
    .await;
    let c = client();
    assert_eq!(erp.post(&c, "k1").await.unwrap().status(), 201);
    assert_eq!(erp.post(&c, "k2").await.unwrap().status(), 201);
    let limited = erp.post(&c, "k3").await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert!(
        limited.headers()["ratelimit-policy"]
            .to_str()
            .unwrap()
            .contains("q=2")
    );
    assert_eq!(limited.headers()["content-type"], "application/problem+json");
    assert_eq!(erp.sim.summary().goods_receipt_postings, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrency_cap_refuses_what_is_beyond_it() {
    let erp = erp_with(None).await;
    erp.sim
        .faults()
        .add(FaultRule::always(
            None,
            Fault::Concurrency {
                limit: 2,
                retry_after_s: 1,
            },
        ))
        .unwrap();
    // Slow every answer so requests overlap.
    erp.sim
        .faults()
        .add(FaultRule::always(None, Fault::Latency { ms: 300 }))
        .unwrap();
    let c = client();
    let sends = (0..5)
        .map(|i| {
            let (c, url) = (c.clone(), erp.url());
            tokio::spawn(async move {
                c.post(url)
                    .header(IDEMPOTENCY_KEY, format!("k{i}"))
                    .json(&posting())
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect::<Vec<_>>();
    let mut statuses = Vec::new();
    for s in sends {
        statuses.push(s.await.unwrap().as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, [201, 201, 429, 429, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_outage_faults_answer_problems_without_effect() {
    let erp = erp_with(Some(FaultRule::always(
        Some(paths::GOODS_RECEIPT_POSTINGS),
        Fault::Status {
            status: 500,
            retry_after_s: None,
        },
    )))
    .await;
    let c = client();
    let r = erp.post(&c, "k1").await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    erp.sim.faults().clear();
    let id = erp
        .sim
        .faults()
        .add(FaultRule::always(
            None,
            Fault::Outage {
                mode: OutageMode::Unavailable,
                retry_after_s: 7,
            },
        ))
        .unwrap();
    let r = erp.post(&c, "k1").await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()[RETRY_AFTER], "7");
    erp.sim.faults().remove(id);
    assert_eq!(erp.post(&c, "k1").await.unwrap().status(), 201);
    assert_eq!(erp.sim.summary().goods_receipt_postings, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_outage_resets_new_connections() {
    let erp = erp_with(Some(FaultRule::always(
        None,
        Fault::Outage {
            mode: OutageMode::Refuse,
            retry_after_s: 1,
        },
    )))
    .await;
    let err = erp.post(&client(), "k1").await.unwrap_err();
    assert!(is_reset(&err), "{err:?}");
    erp.sim.faults().clear();
    assert_eq!(erp.post(&client(), "k1").await.unwrap().status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_then_fail_applies_the_effect_exactly_once() {
    for then in [AfterCommit::GatewayTimeout, AfterCommit::Reset] {
        let erp = erp_with(None).await;
        let id = erp
            .sim
            .faults()
            .add(FaultRule::always(None, Fault::CommitThenFail { then }))
            .unwrap();
        let c = client();
        let first = erp.post(&c, "k1").await;
        match then {
            AfterCommit::GatewayTimeout => assert_eq!(first.unwrap().status(), 504),
            AfterCommit::Reset => assert!(is_reset(&first.unwrap_err())),
        }
        // The effect happened although the caller was told otherwise.
        assert_eq!(erp.sim.summary().goods_receipt_postings, 1);
        erp.sim.faults().remove(id);
        // The caller's retry, same key and body: the stored answer, no second effect.
        let retry = erp.post(&c, "k1").await.unwrap();
        assert_eq!(retry.status(), 201);
        assert_eq!(retry.headers()["idempotent-replayed"], "true");
        assert_eq!(erp.sim.summary().goods_receipt_postings, 1);

        let history = erp.history().await;
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].fault.as_deref(), Some("commit_then_fail"));
        assert_eq!(history[0].handler_status, Some(201));
        assert!(
            history[0].is_effect(),
            "the failed answer still recorded the effect"
        );
        assert!(!history[1].is_effect());
        assert!(history.iter().all(|e| e.party == Role::Erp));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_are_not_json_or_break_the_schema() {
    let erp = erp_with(Some(FaultRule::always(
        None,
        Fault::Malformed {
            mode: Malformation::NotJson,
        },
    )))
    .await;
    let r = erp.post(&client(), "k1").await.unwrap();
    assert_eq!(r.status(), 201);
    assert!(serde_json::from_str::<serde_json::Value>(&r.text().await.unwrap()).is_err());

    let erp = erp_with(Some(FaultRule::always(
        None,
        Fault::Malformed {
            mode: Malformation::SchemaInvalid,
        },
    )))
    .await;
    let body: serde_json::Value = erp.post(&client(), "k1").await.unwrap().json().await.unwrap();
    assert!(body.get("reference").is_none(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_dribbles_but_arrives_whole() {
    let erp = erp_with(Some(FaultRule::always(
        None,
        Fault::SlowBody { bytes_per_s: 100 },
    )))
    .await;
    let start = Instant::now();
    let r = erp.post(&client(), "k1").await.unwrap();
    assert_eq!(r.status(), 201);
    let body: serde_json::Value = r.json().await.unwrap();
    // ~27 bytes at 10 bytes per 100 ms: three chunks.
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
    assert!(body["reference"].as_str().unwrap().starts_with("GRP-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_the_answer() {
    let erp = erp_with(Some(FaultRule::always(None, Fault::Latency { ms: 200 }))).await;
    let start = Instant::now();
    assert_eq!(erp.post(&client(), "k1").await.unwrap().status(), 201);
    assert!(start.elapsed() >= Duration::from_millis(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_sets_lists_and_clears_faults() {
    let erp = erp_with(None).await;
    let c = client();
    let base = erp.server.url();
    assert_eq!(
        c.get(format!("{base}/_control/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let added: serde_json::Value = c
        .post(format!("{base}/_control/faults"))
        .json(
            &serde_json::json!({"kind": "status", "status": 503, "endpoint": paths::GOODS_RECEIPT_POSTINGS}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = added["id"].as_u64().unwrap();
    assert_eq!(erp.post(&c, "k1").await.unwrap().status(), 503);
    let list: serde_json::Value = c
        .get(format!("{base}/_control/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["rule"]["kind"], "status");
    let bad = c
        .post(format!("{base}/_control/faults"))
        .json(&serde_json::json!({"kind": "status", "status": 200}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert_eq!(
        c.delete(format!("{base}/_control/faults/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        c.delete(format!("{base}/_control/faults/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(erp.post(&c, "k1").await.unwrap().status(), 201);
    // Control calls are not part of the recorded history.
    let history = erp.history().await;
    assert!(history.iter().all(|e| !e.endpoint.starts_with("/_control")));
    assert_eq!(history.len(), 2);
}
