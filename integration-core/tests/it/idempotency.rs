//! The Idempotency-Key contract and the core's refusals of malformed
//! requests, each an RFC 9457 problem.

use contracts::routes::core;
use serde_json::json;

use crate::support::*;

crate::both_backends! {
/// A repeat with the same key and body replays the stored answer; the same
/// key with another body is refused; a missing key is refused; none of
/// these creates a message or a delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_the_stored_answer_and_refuses_misuse() {
    let t = TestCore::unreachable().await;
    let url = t.url();
    let po = purchase_order("PO-1", &[(1, 10)]);

    let first = post(&url, core::PURCHASE_ORDERS, "key-1", &po).await;
    assert_accepted(&first);
    assert!(first.message_id().starts_with("MSG-"), "{}", first.body);
    assert_eq!(first.body["trace_id"].as_str().unwrap().len(), 32);

    for _ in 0..2 {
        let again = post(&url, core::PURCHASE_ORDERS, "key-1", &po).await;
        assert_eq!(again.status, 201, "the stored status is replayed");
        assert_eq!(again.body, first.body, "the stored body is replayed");
        assert!(again.replayed(), "headers: {:?}", again.headers);
    }

    // Same key, another body.
    let mut changed = po.clone();
    changed.lines[0].quantity = 11;
    let a = post(&url, core::PURCHASE_ORDERS, "key-1", &changed).await;
    let p = a.assert_problem(422, "idempotency-key-reused");
    assert!(p.detail.as_deref().unwrap_or("").contains("key-1"), "{p:?}");
    assert!(!a.replayed());

    // No key, or an empty one.
    let http = client();
    let po_url = format!("{url}{}", core::PURCHASE_ORDERS);
    let body = serde_json::to_vec(&purchase_order("PO-2", &[(1, 10)])).unwrap();
    let a = send_raw(&http, &po_url, Send::default(), body.clone()).await;
    a.assert_problem(400, "idempotency-key-missing");
    let a = send_raw(
        &http,
        &po_url,
        Send {
            key: Some(""),
            ..Send::default()
        },
        body,
    )
    .await;
    a.assert_problem(400, "idempotency-key-missing");

    // Only the first request left anything behind.
    let s = status(&t.core).await;
    assert_eq!(s.inbox_messages, 1, "{s:?}");
    assert_eq!(s.outbox_pending + s.outbox_delivered + s.outbox_dead, 1, "{s:?}");
    t.stop().await;
}
}

crate::both_backends! {
/// Malformed JSON is a 400, a document of the wrong shape a 422, an unknown
/// path a 404: each an `application/problem+json` document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_problem_documents() {
    let t = TestCore::unreachable().await;
    let url = t.url();
    let http = client();
    let keyed = |key| Send {
        key: Some(key),
        ..Send::default()
    };

    for path in [
        core::PURCHASE_ORDERS,
        core::PO_ACKNOWLEDGEMENTS,
        core::ASNS,
        core::GOODS_RECEIPTS,
    ] {
        let target = format!("{url}{path}");
        let a = send_raw(&http, &target, keyed("bad-json"), b"{\"po_number\": ".to_vec()).await;
        a.assert_problem(400, "malformed-json");

        let a = send_raw(
            &http,
            &target,
            keyed("wrong-shape"),
            br#"{"hello": "world"}"#.to_vec(),
        )
        .await;
        let p = a.assert_problem(422, "invalid-document");
        assert!(p.detail.is_some(), "{p:?}");
    }

    // Valid JSON, right fields, but an identifier with a bad check digit.
    let mut po = serde_json::to_value(purchase_order("PO-1", &[(1, 10)])).unwrap();
    let good = po["supplier_gln"].as_str().unwrap().to_owned();
    let last = good.as_bytes()[12] - b'0';
    po["supplier_gln"] = json!(format!("{}{}", &good[..12], (last + 1) % 10));
    let a = post(&url, core::PURCHASE_ORDERS, "bad-gln", &po).await;
    let p = a.assert_problem(422, "invalid-document");
    assert!(p.detail.as_deref().unwrap_or("").contains("check digit"), "{p:?}");

    // An unknown field is refused (the contracts deny them).
    let mut po = serde_json::to_value(purchase_order("PO-1", &[(1, 10)])).unwrap();
    po["surprise"] = json!(true);
    post(&url, core::PURCHASE_ORDERS, "unknown-field", &po)
        .await
        .assert_problem(422, "invalid-document");

    // Unknown paths, with or without a key.
    let a = send_raw(&http, &format!("{url}/v1/nope"), keyed("k"), b"{}".to_vec()).await;
    a.assert_problem(404, "not-found");
    let resp = http
        .get(format!("{url}/v2/purchase-orders"))
        .send()
        .await
        .unwrap();
    answer(resp).await.assert_problem(404, "not-found");

    // The status endpoint answers, and nothing above was stored.
    let resp = http
        .get(format!("{url}{}", core::OPS_STATUS))
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"inbox_messages": 0, "outbox_pending": 0, "outbox_delivered": 0, "outbox_dead": 0})
    );

    // A key used only by refused requests is still free.
    assert_accepted(
        &post(
            &url,
            core::PURCHASE_ORDERS,
            "bad-json",
            &purchase_order("PO-1", &[(1, 10)]),
        )
        .await,
    );
    t.stop().await;
}
}

crate::both_backends! {
/// A wrong method on a known path and an over-long body are problems too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_and_oversized_body_get_problem_documents() {
    let t = TestCore::unreachable().await;
    let url = t.url();
    let http = client();

    // The supplier's own path (another caller would get 403 first).
    let resp = http
        .get(format!("{url}{}", core::ASNS))
        .bearer_auth(SUPPLIER_TOKEN)
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    a.assert_problem(405, "method-not-allowed");
    assert_eq!(a.headers.get("allow").and_then(|v| v.to_str().ok()), Some("POST"));

    let big = vec![b' '; integration_core::MAX_BODY_BYTES + 1];
    let a = send_raw(
        &http,
        &format!("{url}{}", core::PURCHASE_ORDERS),
        Send {
            key: Some("big"),
            ..Send::default()
        },
        big,
    )
    .await;
    a.assert_problem(413, "unreadable-body");
    assert_eq!(status(&t.core).await.inbox_messages, 0);
    // The ops endpoint that reads a body has the same limit and answer.
    let a = send_as(
        &http,
        &format!("{url}{}", core::OPS_DEAD_LETTER_REPLAY),
        Some(OPS_TOKEN),
        Send::default(),
        vec![b' '; integration_core::MAX_BODY_BYTES + 1],
    )
    .await;
    a.assert_problem(413, "unreadable-body");
    t.stop().await;
}
}
