//! The outbound side of the simulated WMS and ERP, on real sockets: the
//! WMS decides releases against its item master and ships accepted orders
//! at least once; the ERP books releases and posts each shipment line once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use contracts::http::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
use contracts::routes::{core, erp as erp_paths, wms as wms_paths};
use simulators::erp::{self, ErpSim};
use simulators::faults::{Fault, FaultRule, FaultSet};
use simulators::recorder::Recorder;
use simulators::serve;
use simulators::wms::outbound::{ItemMaster, OutboundConfig};
use simulators::wms::{self, Receiving, WmsConfig, WmsSim};

type Calls = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

/// A core stand-in: records every request; answers order releases with
/// `decision`, everything else 201.
async fn core_stub(decision: Value) -> (String, Calls) {
    let calls: Calls = Arc::default();
    let app =
        Router::new()
            .fallback(
                |State((calls, decision)): State<(Calls, Value)>,
                 uri: Uri,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let key = headers
                        .get(IDEMPOTENCY_KEY)
                        .map(|v| v.to_str().unwrap().to_owned());
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    calls.lock().unwrap().push((uri.path().to_owned(), key, body));
                    if uri.path() == core::ORDER_RELEASES {
                        axum::Json(decision).into_response()
                    } else {
                        (
                            axum::http::StatusCode::CREATED,
                            axum::Json(json!({"message_id": "MSG-1"})),
                        )
                            .into_response()
                    }
                },
            )
            .with_state((calls.clone(), decision));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, calls)
}

fn release(order: &str, sku: &str) -> Value {
    json!({"order_number": order, "version": 1, "warehouse_gln": "5060000000092",
           "ship_to": {"name": "C", "address_line": "1 St", "city": "Hamburg", "postal_code": "20095",
                       "country_code": "DE"},
           "release_date": "2026-11-20", "requested_ship_date": "2026-11-23",
           "lines": [{"line_no": 1, "sku": sku, "gtin": "4006381333931", "quantity": 8, "uom": "EA"},
                     {"line_no": 2, "sku": "SKU-1", "gtin": "4006381333931", "quantity": 2, "uom": "EA"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wms_decides_at_once_and_ships_accepted_orders_at_least_once() {
    let dir = tempfile::tempdir().unwrap();
    let (core_url, calls) = core_stub(Value::Null).await;
    let faults = FaultSet::new(1);
    faults
        .add(FaultRule {
            endpoint: Some(core::SHIPMENT_CONFIRMATIONS.into()),
            probability: 1.0,
            fault: Fault::Duplicate { copies: 2 },
        })
        .unwrap();
    let sim = WmsSim::new(
        WmsConfig {
            core_url,
            receipt_delay: Duration::ZERO,
            receiving: Receiving::default(),
            seed: 1,
        },
        Recorder::create(&dir.path().join("wms.jsonl")).unwrap(),
        faults,
    );
    sim.outbound().configure(OutboundConfig {
        items: ItemMaster::Known(["SKU-1".to_owned()].into()),
        ship_delay: Duration::from_millis(10),
        short_ship_probability: 1.0,
        seed: 1,
    });
    let server = serve(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        wms::app(sim.clone()),
        sim.faults().clone(),
    )
    .unwrap();
    let url = format!("{}{}", server.url(), wms_paths::ORDER_RELEASES);
    let http = reqwest::Client::new();
    let send = |key: &'static str, body: Value| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let r = http
                .post(url)
                .header(IDEMPOTENCY_KEY, key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let replayed = r.headers().get(IDEMPOTENT_REPLAYED).is_some();
            (r.status().as_u16(), replayed, r.json::<Value>().await.unwrap())
        }
    };

    let (status, _, accepted) = send("a", release("SO-1", "SKU-1")).await;
    assert_eq!(status, 200);
    assert_eq!(accepted["decision"], "accepted");
    assert!(
        send("a", release("SO-1", "SKU-1")).await.1,
        "a repeat is replayed"
    );
    // The same order under another key: the same decision, no second order.
    assert_eq!(send("b", release("SO-1", "SKU-1")).await.2, accepted);

    let (status, _, rejected) = send("c", release("SO-2", "NOSUCH-1")).await;
    assert_eq!(status, 200);
    assert_eq!(rejected["decision"], "rejected");
    assert!(rejected.get("warehouse_order_id").is_none());
    assert_eq!(rejected["lines"][0]["reasons"][0]["code"], "unknown_item");
    assert_eq!(rejected["lines"][1]["reasons"][0]["code"], "other_line_rejected");
    let v = contracts::Validator::new();
    for d in [&accepted, &rejected] {
        assert!(v.validate("OrderReleaseDecision", d).unwrap().is_empty(), "{d}");
    }

    // One shipment, delivered twice (the duplicate fault), short-shipped.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sim.pending() > 0 {
        assert!(std::time::Instant::now() < deadline, "the WMS never shipped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent: Vec<_> = calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.0 == core::SHIPMENT_CONFIRMATIONS)
        .cloned()
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].2, sent[1].2);
    assert_ne!(sent[0].1, sent[1].1);
    let sc = &sent[0].2;
    assert_eq!(sc["order_number"], "SO-1");
    assert_eq!(sc["warehouse_order_id"], accepted["warehouse_order_id"]);
    assert_eq!(sc["lines"][0]["qty_shipped"], 4);
    assert!(v.validate("ShipmentConfirmation", sc).unwrap().is_empty(), "{sc}");
    let state = sim.summary().outbound;
    assert_eq!(
        (state.orders_accepted, state.orders_rejected, state.shipments_sent),
        (1, 1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_erp_books_releases_and_posts_each_shipment_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let decision = json!({"order_number": "SO-1", "order_version": 1, "decision": "accepted",
        "warehouse_order_id": "WO-1", "decided_at": "2026-11-20T10:00:00Z",
        "lines": [{"line_no": 1, "decision": "accepted"}, {"line_no": 2, "decision": "accepted"}]});
    let (core_url, calls) = core_stub(decision).await;
    let sim = ErpSim::new(
        &core_url,
        Recorder::create(&dir.path().join("erp.jsonl")).unwrap(),
        FaultSet::new(0),
    );
    sim.load_sales_orders([serde_json::from_value(release("SO-1", "SKU-1")).unwrap()]);
    let attempt = sim.release_sales_order("SO-1").await.unwrap();
    assert_eq!(attempt.status, Some(200));
    assert!(sim.release_sales_order("SO-404").await.is_none());
    assert_eq!(
        calls.lock().unwrap()[0].1.as_deref(),
        Some("order-release:SO-1:v1")
    );

    let server = serve(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        erp::app(sim.clone()),
        sim.faults().clone(),
    )
    .unwrap();
    let url = format!("{}{}", server.url(), erp_paths::SHIPMENT_POSTINGS);
    let posting = json!({"shipment_id": "SHP-1", "order_number": "SO-1", "order_line_no": 1, "sku": "SKU-1",
                         "quantity": 8, "uom": "EA", "shipped_at": "2026-11-21T10:00:00Z"});
    let http = reqwest::Client::new();
    let post = |key: &'static str| {
        let (http, url, posting) = (http.clone(), url.clone(), posting.clone());
        async move {
            http.post(url)
                .header(IDEMPOTENCY_KEY, key)
                .json(&posting)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(post("shp:SHP-1:1").await.status(), 201);
    let again = post("shp:SHP-1:1").await;
    assert_eq!(
        (
            again.status().as_u16(),
            again.headers().contains_key(IDEMPOTENT_REPLAYED)
        ),
        (201, true)
    );
    // The same (shipment, line) under another key cannot be posted twice.
    let other = post("another-key").await;
    assert_eq!(other.status(), 422);
    assert_eq!(
        other.headers()[reqwest::header::CONTENT_TYPE],
        contracts::problem::PROBLEM_JSON
    );
    let problem: Value = other.json().await.unwrap();
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("shipment-line-already-posted"),
        "{problem}"
    );

    let state: Value = http
        .get(format!("{}/_control/state", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let books = &state["outbound"];
    assert_eq!(books["releases_accepted"], 1, "{state}");
    assert_eq!(books["shipment_postings"], 1, "{state}");
    assert_eq!(books["shipment_postings_refused"], 1, "{state}");
    assert_eq!(books["lines_shipped"], 1, "{state}");
    assert_eq!(books["lines_over_shipped"], 0, "{state}");
}
