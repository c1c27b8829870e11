//! The supplier and the WMS talking to a stand-in core that accepts everything.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use contracts::http::{IDEMPOTENCY_KEY, TRACEPARENT, TraceParent};
use contracts::ids::with_check_digit;
use contracts::inbound::{AdvanceShipNotice, PoLine, PoLineStatus, PurchaseOrder, Uom};
use contracts::routes::{core, supplier as paths};
use contracts::{Gln, Gtin};
use simulators::faults::FaultSet;
use simulators::recorder::Recorder;
use simulators::supplier::{self, SupplierConfig, SupplierSim};
use simulators::{serve, serve_plain};

type Seen = Arc<Mutex<Vec<(String, Option<String>, Option<String>, serde_json::Value)>>>;

async fn accept(
    State(seen): State<Seen>,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> (StatusCode, Json<serde_json::Value>) {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    seen.lock().unwrap().push((
        uri.path().to_owned(),
        header(IDEMPOTENCY_KEY),
        header(TRACEPARENT),
        body,
    ));
    let ack = serde_json::json!({"message_id": "MSG-1", "outcome": "accepted", "trace_id": "0af7651916cd43dd8448eb211c80319c"});
    (StatusCode::CREATED, Json(ack))
}

fn order() -> PurchaseOrder {
    PurchaseOrder {
        po_number: "PO-9".into(),
        version: 1,
        supplier_gln: Gln::parse(&with_check_digit("506000000001")).unwrap(),
        ship_to_gln: Gln::parse(&with_check_digit("506000000009")).unwrap(),
        currency: "EUR".into(),
        order_date: "2026-11-20".into(),
        lines: (1..=3)
            .map(|n| PoLine {
                line_no: n,
                sku: format!("SKU-{n}"),
                gtin: Gtin::parse(&with_check_digit(&format!("40063800000{n}"))).unwrap(),
                quantity: 10 * n,
                uom: Uom::Ea,
                unit_price: "1.50".into(),
                requested_date: "2026-11-27".into(),
                over_tolerance_pct: 10,
                under_tolerance_pct: 5,
                status: PoLineStatus::Open,
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supplier_acknowledges_then_ships_copies_with_valid_ssccs_on_the_po_trace() {
    let seen: Seen = Arc::default();
    let core_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let core_stub = axum::Router::new()
        .route(core::PO_ACKNOWLEDGEMENTS, post(accept))
        .route(core::ASNS, post(accept))
        .with_state(seen.clone());
    let core_server = serve_plain(core_listener, core_stub).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::create(&dir.path().join("supplier.jsonl")).unwrap();
    let sim = SupplierSim::new(
        SupplierConfig {
            core_url: core_server.url(),
            seed: 1,
            ack_delay: Duration::ZERO,
            asn_delay: Duration::ZERO,
            asn_copies: (3, 3),
            concurrent_copies: true,
        },
        recorder.clone(),
        FaultSet::new(0),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = serve(listener, supplier::app(sim.clone()), sim.faults().clone()).unwrap();

    let trace = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{}{}", server.url(), paths::PURCHASE_ORDERS))
        .header(IDEMPOTENCY_KEY, "po:PO-9:v1")
        .header(TRACEPARENT, trace.header_value())
        .json(&order())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);

    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.pending() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.pending(), 0, "supplier still busy after 5 s");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:#?}");
    assert_eq!(seen[0].0, core::PO_ACKNOWLEDGEMENTS);
    let asns: Vec<_> = seen.iter().filter(|s| s.0 == core::ASNS).collect();
    assert_eq!(asns.len(), 3);
    // Each copy is a new request with its own key, and the same document.
    let mut keys: Vec<_> = asns.iter().map(|s| s.1.clone().unwrap()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3);
    assert!(asns.iter().all(|s| s.3 == asns[0].3));
    // Every send continues the PO's trace.
    for s in &seen {
        let tp = TraceParent::parse(s.2.as_deref().unwrap()).unwrap();
        assert_eq!(tp.trace_id, trace.trace_id);
    }
    // The ASN deserializes (SSCC check digits included) and ships what was ordered.
    let asn: AdvanceShipNotice = serde_json::from_value(asns[0].3.clone()).unwrap();
    assert_eq!(asn.lines.len(), 3);
    assert_eq!(asn.lines.iter().map(|l| l.quantity).sum::<u32>(), 60);
    assert_eq!(asn.handling_units.len(), 4);
    assert_eq!(sim.summary().asn_sends, 3);

    server.stop().await.unwrap();
    core_server.stop().await.unwrap();
    // 1 inbound PO + 4 outbound sends.
    assert_eq!(recorder.flush().await.unwrap(), 5);
}
