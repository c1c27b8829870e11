use contracts::http::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
use contracts::inbound::{ErpGoodsReceiptPosting, StockStatus};
use contracts::routes::erp as paths;
use contracts::{Direction, Exchange, Role};
use simulators::erp::{self, ErpSim};
use simulators::faults::FaultSet;
use simulators::recorder::Recorder;
use simulators::serve;

fn posting(quantity: u32) -> ErpGoodsReceiptPosting {
    ErpGoodsReceiptPosting {
        receipt_id: "RCV-1".into(),
        receipt_line_no: 1,
        po_number: "PO-1".into(),
        po_line_no: 1,
        sku: "SKU-1".into(),
        quantity,
        stock_status: StockStatus::Unrestricted,
        seq: 1,
        reverses_seq: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erp_posts_once_per_key_and_records_every_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::create(&dir.path().join("erp.jsonl")).unwrap();
    // The ERP never releases here, so its core URL is never used.
    let sim = ErpSim::new("http://127.0.0.1:9", recorder.clone(), FaultSet::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = serve(listener, erp::app(sim.clone()), sim.faults().clone()).unwrap();
    let url = format!("{}{}", server.url(), paths::GOODS_RECEIPT_POSTINGS);
    let http = reqwest::Client::new();

    let first = http
        .post(&url)
        .header(IDEMPOTENCY_KEY, "grp:RCV-1:1")
        .json(&posting(5))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get(IDEMPOTENT_REPLAYED).is_none());
    let first_body: serde_json::Value = first.json().await.unwrap();

    let again = http
        .post(&url)
        .header(IDEMPOTENCY_KEY, "grp:RCV-1:1")
        .json(&posting(5))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()[IDEMPOTENT_REPLAYED], "true");
    assert_eq!(again.json::<serde_json::Value>().await.unwrap(), first_body);

    let changed = http
        .post(&url)
        .header(IDEMPOTENCY_KEY, "grp:RCV-1:1")
        .json(&posting(6))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 422);
    assert_eq!(changed.headers()["content-type"], "application/problem+json");

    let keyless = http.post(&url).json(&posting(5)).send().await.unwrap();
    assert_eq!(keyless.status(), 400);

    let malformed = http
        .post(&url)
        .header(IDEMPOTENCY_KEY, "k2")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let problem: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(problem["status"], 400);

    assert_eq!(sim.summary().goods_receipt_postings, 1);

    server.stop().await.unwrap();
    assert_eq!(recorder.flush().await.unwrap(), 5);
    let text = std::fs::read_to_string(recorder.path()).unwrap();
    let history: Vec<Exchange> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let statuses: Vec<_> = history.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [Some(201), Some(201), Some(422), Some(400), Some(400)]);
    assert!(
        history
            .iter()
            .all(|e| e.party == Role::Erp && e.direction == Direction::Inbound)
    );
    assert_eq!(history.iter().filter(|e| e.is_effect()).count(), 1);
    assert!(history[1].replayed);
    assert_eq!(history[0].idempotency_key.as_deref(), Some("grp:RCV-1:1"));
    assert_eq!(history[0].request.as_ref().unwrap()["quantity"], 5);
    assert!(history[0].finished_at_us >= history[0].started_at_us);
}
