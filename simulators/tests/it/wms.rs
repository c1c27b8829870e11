//! The WMS emitting receipt events to a stand-in core on a real socket:
//! corrections (seq 2), the reordered-events fault and duplicates, as the
//! receiver sees them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use contracts::http::IDEMPOTENCY_KEY;
use contracts::ids::with_check_digit;
use contracts::inbound::{
    ExpectationLine, GoodsReceipt, HandlingUnit, HandlingUnitLevel, InboundExpectation, StockStatus, Uom,
};
use contracts::routes::{core, wms as paths};
use contracts::{Gln, Gtin, Sscc};
use simulators::faults::{Fault, FaultRule, FaultSet};
use simulators::recorder::Recorder;
use simulators::wms::{self, Receiving, WmsConfig, WmsSim};
use simulators::{serve, serve_plain};

/// (arrival, Idempotency-Key, event) as the stand-in core took them.
type Seen = Arc<Mutex<Vec<(Instant, String, GoodsReceipt)>>>;

async fn take(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(receipt): Json<GoodsReceipt>,
) -> (StatusCode, Json<serde_json::Value>) {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.lock().unwrap().push((Instant::now(), key, receipt));
    let ack = serde_json::json!({"message_id": "MSG-1", "outcome": "accepted", "trace_id": "0af7651916cd43dd8448eb211c80319c"});
    (StatusCode::CREATED, Json(ack))
}

fn expectation(id: &str) -> InboundExpectation {
    let sscc = Sscc::parse(&with_check_digit("00350600000000001")).unwrap();
    InboundExpectation {
        expectation_id: id.into(),
        revision: 1,
        asn_id: format!("ASN-{id}"),
        supplier_gln: Gln::parse(&with_check_digit("506000000001")).unwrap(),
        estimated_arrival: "2026-11-27".into(),
        handling_units: vec![HandlingUnit {
            sscc: sscc.clone(),
            level: HandlingUnitLevel::Pallet,
            parent_sscc: None,
        }],
        lines: (1..=2)
            .map(|n| ExpectationLine {
                line_no: n,
                po_number: "PO-1".into(),
                po_line_no: n,
                sku: format!("SKU-{n}"),
                gtin: Gtin::parse(&with_check_digit(&format!("40063800000{n}"))).unwrap(),
                quantity: 10 * n,
                uom: Uom::Ea,
                lot: None,
                sscc: sscc.clone(),
                over_tolerance_pct: 10,
                under_tolerance_pct: 5,
            })
            .collect(),
    }
}

/// Runs a WMS with `receiving` and `rules` against a stand-in core, hands
/// it one expectation and returns what the core received.
async fn receipts_for(receiving: Receiving, rules: Vec<FaultRule>) -> Vec<(Instant, String, GoodsReceipt)> {
    let one = vec![(
        paths::INBOUND_EXPECTATIONS,
        "expectation:IBE-1".to_owned(),
        serde_json::to_value(expectation("IBE-1")).unwrap(),
    )];
    receipts_after(receiving, rules, Duration::from_millis(5), one).await
}

/// [`receipts_for`] with a receipt delay, after `posts` (path, key, body)
/// to the WMS in turn.
async fn receipts_after(
    receiving: Receiving,
    rules: Vec<FaultRule>,
    receipt_delay: Duration,
    posts: Vec<(&str, String, serde_json::Value)>,
) -> Vec<(Instant, String, GoodsReceipt)> {
    let seen: Seen = Arc::default();
    let core_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let core_stub = axum::Router::new()
        .route(core::GOODS_RECEIPTS, post(take))
        .with_state(seen.clone());
    let core_server = serve_plain(core_listener, core_stub).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::create(&dir.path().join("wms.jsonl")).unwrap();
    let faults = FaultSet::new(3);
    for rule in rules {
        faults.add(rule).unwrap();
    }
    let sim = WmsSim::new(
        WmsConfig {
            core_url: core_server.url(),
            receipt_delay,
            receiving,
            seed: 9,
        },
        recorder,
        faults,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = serve(listener, wms::app(sim.clone()), sim.faults().clone()).unwrap();
    for (path, key, body) in posts {
        let answer = reqwest::Client::new()
            .post(format!("{}{path}", server.url()))
            .header(IDEMPOTENCY_KEY, key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.pending() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(sim.pending(), 0, "WMS still busy after 5 s");
    server.stop().await.unwrap();
    core_server.stop().await.unwrap();
    seen.lock().unwrap().clone()
}

fn corrected() -> Receiving {
    Receiving {
        short_probability: 1.0,
        variance_pct: 20,
        correction_probability: 1.0,
        ..Receiving::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_follows_the_first_count_and_supersedes_it() {
    let seen = receipts_for(corrected(), vec![]).await;
    assert_eq!(seen.len(), 2, "{seen:#?}");
    let (first, second) = (&seen[0].2, &seen[1].2);
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_eq!(first.receipt_id, second.receipt_id);
    assert_ne!(first.event_id, second.event_id);
    assert_eq!(seen[0].1, format!("receipt-event:{}", first.event_id));
    // Counted short by 20 %, recounted as advised.
    let counts = |r: &GoodsReceipt| r.lines.iter().map(|l| l.qty_received).collect::<Vec<_>>();
    assert_eq!(counts(first), [8, 16]);
    assert_eq!(counts(second), [10, 20]);

    // Without the correction chance, one event only.
    let seen = receipts_for(Receiving::default(), vec![]).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].2.seq, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorder_fault_delivers_the_correction_first_and_holds_the_first_count() {
    let reorder = FaultRule::always(Some(core::GOODS_RECEIPTS), Fault::Reorder { hold_ms: 150 });
    let seen = receipts_for(corrected(), vec![reorder.clone()]).await;
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(
        (seen[0].2.seq, seen[1].2.seq),
        (2, 1),
        "the later event arrives first"
    );
    let held = seen[1].0 - seen[0].0;
    assert!(held >= Duration::from_millis(150), "held only {held:?}");

    // With duplicates too: every event arrives twice, each copy with its own key.
    let dup = FaultRule::always(Some(core::GOODS_RECEIPTS), Fault::Duplicate { copies: 2 });
    let seen = receipts_for(corrected(), vec![reorder, dup]).await;
    let seqs: Vec<u64> = seen.iter().map(|s| s.2.seq).collect();
    assert_eq!(seqs, [2, 2, 1, 1]);
    let mut keys: Vec<&str> = seen.iter().map(|s| s.1.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 4);
}

/// An update counts against the new revision (a late lower one changes
/// nothing); a cancelled expectation gets no receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_win_by_revision_and_a_cancelled_expectation_is_not_received() {
    let mut updated = expectation("IBE-1");
    updated.revision = 2;
    updated.lines[0].quantity = 7;
    let json = |v: &InboundExpectation| serde_json::to_value(v).unwrap();
    let cancellation = serde_json::json!({"expectation_id": "IBE-2", "revision": 2, "asn_id": "ASN-IBE-2",
                                          "supplier_gln": with_check_digit("506000000001")});
    let posts = vec![
        (
            paths::INBOUND_EXPECTATIONS,
            "e1".to_owned(),
            json(&expectation("IBE-1")),
        ),
        (
            paths::INBOUND_EXPECTATION_UPDATES,
            "e1r2".to_owned(),
            json(&updated),
        ),
        (
            paths::INBOUND_EXPECTATION_UPDATES,
            "e1r1-late".to_owned(),
            json(&expectation("IBE-1")),
        ),
        (
            paths::INBOUND_EXPECTATIONS,
            "e2".to_owned(),
            json(&expectation("IBE-2")),
        ),
        (
            paths::INBOUND_EXPECTATION_CANCELLATIONS,
            "e2r2".to_owned(),
            cancellation,
        ),
    ];
    let seen = receipts_after(Receiving::default(), vec![], Duration::from_millis(1000), posts).await;
    let receipts: Vec<_> = seen.iter().map(|(_, _, r)| r).collect();
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert_eq!(receipts[0].expectation_id, "IBE-1");
    assert_eq!(receipts[0].lines[0].qty_received, 7);
    assert_eq!(receipts[0].lines[1].qty_received, 20);
}

/// The wrong item keeps its line but carries another SKU, and goods nobody
/// advised come as one more line; both in blocked stock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_items_and_goods_not_advised_are_blocked_stock() {
    let receiving = Receiving {
        wrong_item_probability: 1.0,
        not_advised_probability: 1.0,
        ..Receiving::default()
    };
    let seen = receipts_for(receiving, vec![]).await;
    assert_eq!(seen.len(), 1);
    let lines = &seen[0].2.lines;
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l.stock_status == StockStatus::Blocked));
    assert_eq!((lines[0].sku.as_str(), lines[0].qty_received), ("SKU-1-ALT", 10));
    assert_eq!(
        (lines[2].po_line_no, lines[2].sku.as_str()),
        (903, "UNADVISED-SKU-1")
    );
}
