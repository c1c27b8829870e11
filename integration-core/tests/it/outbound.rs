//! The outbound flow at the core's API: the synchronous order release
//! (decision relayed, stored, idempotent; WMS timeout and outage answered
//! 504/503 with Retry-After, nothing stored) and ship confirmations (one ERP
//! posting per (shipment, line), shipped ≤ released, duplicates by event id).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use contracts::http::{IDEMPOTENCY_KEY, RETRY_AFTER, TRACEPARENT};
use contracts::routes::{core, erp, wms};

use crate::support::{CLOSED, Send, Stub, TestCore, client, eventually, partners, post, send_raw};

/// How the WMS stub behaves.
#[derive(Debug, Default)]
pub(crate) struct WmsScript {
    /// Answer this long after the request.
    delay: Duration,
    /// Answer 503 to this many requests first.
    fail_first: usize,
    /// (Idempotency-Key, traceparent) of every request.
    calls: Vec<(Option<String>, Option<String>)>,
}

/// A WMS that decides releases: lines with a `NOSUCH-` SKU are unknown.
async fn wms_decide(State(s): State<Arc<Mutex<WmsScript>>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (delay, fail) = {
        let mut s = s.lock().unwrap();
        s.calls.push((header(IDEMPOTENCY_KEY), header(TRACEPARENT)));
        let fail = s.fail_first > 0;
        s.fail_first = s.fail_first.saturating_sub(1);
        (s.delay, fail)
    };
    tokio::time::sleep(delay).await;
    if fail {
        return (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "7")], "{}").into_response();
    }
    let order: Value = serde_json::from_slice(&body).unwrap();
    let unknown = |l: &Value| l["sku"].as_str().unwrap().starts_with("NOSUCH-");
    let lines = order["lines"].as_array().unwrap();
    let accepted = !lines.iter().any(unknown);
    let decision = if accepted {
        json!({"order_number": order["order_number"], "order_version": order["version"], "decision": "accepted",
               "warehouse_order_id": "WO-1", "decided_at": "2026-11-20T10:00:00Z",
               "lines": lines.iter().map(|l| json!({"line_no": l["line_no"], "decision": "accepted"})).collect::<Vec<_>>()})
    } else {
        json!({"order_number": order["order_number"], "order_version": order["version"], "decision": "rejected",
               "decided_at": "2026-11-20T10:00:00Z",
               "lines": lines.iter().map(|l| json!({"line_no": l["line_no"], "decision": "rejected",
                   "reasons": [{"code": if unknown(l) {"unknown_item"} else {"other_line_rejected"}, "detail": "x"}]}))
                   .collect::<Vec<_>>()})
    };
    axum::Json(decision).into_response()
}

pub(crate) struct Wms {
    pub(crate) url: String,
    script: Arc<Mutex<WmsScript>>,
}

impl Wms {
    pub(crate) async fn start(script: WmsScript) -> Self {
        let script = Arc::new(Mutex::new(script));
        let app = Router::new()
            .route(wms::ORDER_RELEASES, axum::routing::post(wms_decide))
            .with_state(script.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, script }
    }

    fn calls(&self) -> Vec<(Option<String>, Option<String>)> {
        self.script.lock().unwrap().calls.clone()
    }
}

pub(crate) fn release(order: &str, lines: &[(&str, u32)]) -> Value {
    json!({"order_number": order, "version": 1, "warehouse_gln": "5060000000092",
           "ship_to": {"name": "Customer", "address_line": "1 Market St", "city": "Hamburg",
                       "postal_code": "20095", "country_code": "DE"},
           "release_date": "2026-11-20", "requested_ship_date": "2026-11-23",
           "lines": lines.iter().enumerate().map(|(i, (sku, qty))| json!({
               "line_no": i + 1, "sku": sku, "gtin": "4006381333931", "quantity": qty, "uom": "EA"}))
               .collect::<Vec<_>>()})
}

pub(crate) fn confirmation(order: &str, shipment: &str, event: &str, shipped: &[u32]) -> Value {
    json!({"shipment_id": shipment, "event_id": event, "order_number": order, "order_version": 1,
           "warehouse_order_id": "WO-1", "warehouse_gln": "5060000000092",
           "shipped_at": "2026-11-21T10:00:00Z", "carrier_scac": "DHLX",
           "lines": shipped.iter().enumerate().map(|(i, q)| json!({
               "line_no": i + 1, "sku": "SKU-1", "gtin": "4006381333931", "qty_ordered": 10,
               "qty_shipped": q, "uom": "EA"})).collect::<Vec<_>>()})
}

const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

crate::both_backends! {
#[tokio::test]
async fn a_release_is_decided_by_the_wms_stored_and_answered_idempotently() {
    let w = Wms::start(WmsScript::default()).await;
    let erp_stub = Stub::start().await;
    let core = TestCore::start(partners(&erp_stub.url, &w.url, CLOSED)).await;
    let url = format!("{}{}", core.url(), core::ORDER_RELEASES);
    let body = release("SO-1", &[("SKU-1", 10), ("SKU-2", 5)]);
    let send = |key: &'static str, body: Value| {
        let (http, url) = (client(), url.clone());
        async move {
            send_raw(
                &http,
                &url,
                Send {
                    key: Some(key),
                    traceparent: Some(TRACE),
                },
                serde_json::to_vec(&body).unwrap(),
            )
            .await
        }
    };

    let a = send("k1", body.clone()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["decision"], "accepted");
    assert_eq!(a.body["warehouse_order_id"], "WO-1");
    let calls = w.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0.as_deref(), Some("release:SO-1:v1"));
    // The WMS call continues the ERP's trace.
    assert!(
        calls[0]
            .1
            .as_deref()
            .unwrap()
            .contains("4bf92f3577b34da6a3ce929d0e0e4736")
    );

    // Same key, same body: the stored decision, replayed; the WMS is not asked again.
    let again = send("k1", body.clone()).await;
    assert_eq!((again.status, again.replayed()), (200, true));
    assert_eq!(again.body, a.body);
    // Same (order, version) and body under a new key: the stored decision.
    let other_key = send("k2", body.clone()).await;
    assert_eq!(other_key.status, 200);
    assert_eq!(other_key.body, a.body);
    assert_eq!(w.calls().len(), 1);
    // Same key, another body: 422. Same (order, version), another body: 409.
    let changed = release("SO-1", &[("SKU-1", 11)]);
    send("k1", changed.clone())
        .await
        .assert_problem(422, "idempotency-key-reused");
    send("k3", changed)
        .await
        .assert_problem(409, "business-key-conflict");
    assert_eq!(w.calls().len(), 1);

    // An invalid release (quantity 0) never reaches the WMS.
    send("k4", release("SO-2", &[("SKU-1", 0)]))
        .await
        .assert_problem(422, "contract-violation");
    assert_eq!(w.calls().len(), 1);
    core.stop().await;
}
}

crate::both_backends! {
#[tokio::test]
async fn a_rejected_release_is_relayed_and_nothing_ships_against_it() {
    let w = Wms::start(WmsScript::default()).await;
    let erp_stub = Stub::start().await;
    let core = TestCore::start(partners(&erp_stub.url, &w.url, CLOSED)).await;
    let r = post(
        &core.url(),
        core::ORDER_RELEASES,
        "k1",
        &release("SO-9", &[("SKU-1", 3), ("NOSUCH-2", 1)]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["decision"], "rejected");
    assert!(r.body.get("warehouse_order_id").is_none());
    assert_eq!(r.body["lines"][1]["reasons"][0]["code"], "unknown_item");

    let sc = confirmation("SO-9", "SHP-9", "E-9", &[3, 1]);
    post(&core.url(), core::SHIPMENT_CONFIRMATIONS, "s1", &sc)
        .await
        .assert_problem(422, "order-not-released");
    // A confirmation for an order with no decision yet: retry later.
    let sc = confirmation("SO-404", "SHP-8", "E-8", &[1]);
    post(&core.url(), core::SHIPMENT_CONFIRMATIONS, "s2", &sc)
        .await
        .assert_problem(409, "order-release-pending");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(erp_stub.calls().is_empty());
    core.stop().await;
}
}

crate::both_backends! {
#[tokio::test]
async fn a_wms_timeout_or_outage_stores_nothing_and_the_retry_gets_the_decision() {
    let w = Wms::start(WmsScript {
        delay: Duration::from_millis(400),
        ..WmsScript::default()
    })
    .await;
    let core = TestCore::start_with(partners(CLOSED, &w.url, CLOSED), |c| {
        c.release_timeout = Duration::from_millis(100);
    })
    .await;
    let body = release("SO-1", &[("SKU-1", 10)]);
    let slow = post(&core.url(), core::ORDER_RELEASES, "k1", &body).await;
    slow.assert_problem(504, "warehouse-timeout");
    assert_eq!(slow.headers.get(RETRY_AFTER).unwrap(), "1");

    // The WMS is quick again: the same key gets the WMS's decision, asked
    // again under the same key (the WMS's own store answers a repeat).
    w.script.lock().unwrap().delay = Duration::ZERO;
    let ok = post(&core.url(), core::ORDER_RELEASES, "k1", &body).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["decision"], "accepted");
    assert!(!ok.replayed());
    let calls = w.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].0, calls[1].0);
    core.stop().await;

    // The WMS answers 503: so does the core, passing on its Retry-After.
    let w = Wms::start(WmsScript {
        fail_first: 1,
        ..WmsScript::default()
    })
    .await;
    let core = TestCore::start(partners(CLOSED, &w.url, CLOSED)).await;
    let down = post(&core.url(), core::ORDER_RELEASES, "k1", &body).await;
    down.assert_problem(503, "warehouse-unavailable");
    assert_eq!(down.headers.get(RETRY_AFTER).unwrap(), "7");
    assert_eq!(
        post(&core.url(), core::ORDER_RELEASES, "k1", &body).await.status,
        200
    );
    core.stop().await;

    // No WMS at all.
    let core = TestCore::unreachable().await;
    let none = post(&core.url(), core::ORDER_RELEASES, "k1", &body).await;
    none.assert_problem(503, "warehouse-unavailable");
    assert!(none.headers.get(RETRY_AFTER).is_some());
    core.stop().await;
}
}

crate::both_backends! {
#[tokio::test]
async fn a_ship_confirmation_posts_each_line_once_and_never_more_than_released() {
    let w = Wms::start(WmsScript::default()).await;
    let erp_stub = Stub::start().await;
    let core = TestCore::start(partners(&erp_stub.url, &w.url, CLOSED)).await;
    let r = post(
        &core.url(),
        core::ORDER_RELEASES,
        "k1",
        &release("SO-1", &[("SKU-1", 10), ("SKU-2", 4)]),
    )
    .await;
    assert_eq!(r.body["decision"], "accepted");

    // Line 1 ships short (6 of 10), line 2 in full.
    let sc = confirmation("SO-1", "SHP-1", "E-1", &[6, 4]);
    let a = post(&core.url(), core::SHIPMENT_CONFIRMATIONS, "s1", &sc).await;
    assert_eq!((a.status, a.outcome()), (201, "accepted"), "{}", a.body);
    let postings = erp_stub.wait_for(erp::SHIPMENT_POSTINGS, 2).await;
    let mut keys: Vec<_> = postings
        .iter()
        .map(|c| c.idempotency_key.clone().unwrap())
        .collect();
    keys.sort();
    assert_eq!(keys, ["shp:SHP-1:1", "shp:SHP-1:2"]);
    assert_eq!(postings[0].body["order_number"], "SO-1");

    // The same event redelivered under a new key: a duplicate, nothing posted.
    let dup = post(&core.url(), core::SHIPMENT_CONFIRMATIONS, "s1-redelivery", &sc).await;
    assert_eq!((dup.status, dup.outcome()), (200, "duplicate"));

    // A second shipment of 5 more on line 1 would make 11 of 10: refused,
    // nothing applied (line 2's 0 is not posted either).
    let over = confirmation("SO-1", "SHP-2", "E-2", &[5, 0]);
    let p = post(&core.url(), core::SHIPMENT_CONFIRMATIONS, "s2", &over)
        .await
        .assert_problem(422, "shipped-exceeds-released");
    assert!(format!("{p:?}").contains("/lines/0/qty_shipped"), "{p:?}");
    // 4 more is within what was released.
    let rest = confirmation("SO-1", "SHP-3", "E-3", &[4, 0]);
    assert_eq!(
        post(&core.url(), core::SHIPMENT_CONFIRMATIONS, "s3", &rest)
            .await
            .status,
        201
    );
    erp_stub.wait_for(erp::SHIPMENT_POSTINGS, 4).await;
    eventually("the outbox to drain", || async {
        crate::support::status(&core.core).await.outbox_pending == 0
    })
    .await;
    let postings = erp_stub.calls_to(erp::SHIPMENT_POSTINGS);
    assert_eq!(postings.len(), 4, "{postings:?}");
    assert!(
        postings
            .iter()
            .all(|c| !c.idempotency_key.as_deref().unwrap().contains("SHP-2"))
    );
    core.stop().await;
}
}
