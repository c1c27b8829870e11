//! Outbound delivery: Idempotency-Key and traceparent on every attempt,
//! retry of transient failures, dead-letter of permanent ones.

use std::time::Duration;

use contracts::routes::{core, erp, supplier};

use crate::support::*;

crate::both_backends! {
/// A delivery carries an Idempotency-Key and a traceparent continuing the
/// inbound message's trace (same trace id, a new span id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_carry_an_idempotency_key_and_continue_the_inbound_trace() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();

    let trace = trace_id(0xabc);
    let inbound_parent = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace}-{inbound_parent}-01");
    let po = purchase_order("PO-T1", &[(1, 10)]);
    let a = post_with(
        &url,
        core::PURCHASE_ORDERS,
        Send {
            key: Some("po-t1"),
            traceparent: Some(&traceparent),
        },
        &po,
    )
    .await;
    assert_accepted(&a);
    assert_eq!(a.body["trace_id"], trace, "the ack names the inbound trace");

    let calls = parties.supplier.wait_for(supplier::PURCHASE_ORDERS, 1).await;
    let call = &calls[0];
    assert_eq!(call.idempotency_key.as_deref(), Some("po:PO-T1:v1"));
    assert_eq!(call.trace_id().as_deref(), Some(trace.as_str()), "{call:?}");
    let tp = call.traceparent.as_deref().unwrap();
    let parent = tp.split('-').nth(2).unwrap();
    assert_eq!(parent.len(), 16);
    assert!(parent.bytes().all(|b| b.is_ascii_hexdigit()) && parent != "0000000000000000");
    assert_ne!(parent, inbound_parent, "the core starts its own span");
    let sent: contracts::inbound::PurchaseOrder = serde_json::from_value(call.body.clone()).unwrap();
    assert_eq!(sent, po, "the supplier gets the PO as sent");

    // The acknowledgement's own trace reaches the ERP.
    let ack_trace = trace_id(0xdef);
    let a = post_with(
        &url,
        core::PO_ACKNOWLEDGEMENTS,
        Send {
            key: Some("ack-t1"),
            traceparent: Some(&format!("00-{ack_trace}-1111111111111111-01")),
        },
        &acknowledgement("ACK-T1", &po),
    )
    .await;
    assert_accepted(&a);
    let calls = parties.erp.wait_for(erp::PO_ACKNOWLEDGEMENTS, 1).await;
    assert_eq!(calls[0].idempotency_key.as_deref(), Some("commitment:ACK-T1"));
    assert_eq!(calls[0].trace_id().as_deref(), Some(ack_trace.as_str()));

    // Without a (valid) traceparent the core starts a trace of its own and
    // still propagates it.
    let a = post_with(
        &url,
        core::PURCHASE_ORDERS,
        Send {
            key: Some("po-t2"),
            traceparent: Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        },
        &purchase_order("PO-T2", &[(1, 10)]),
    )
    .await;
    assert_accepted(&a);
    let own = a.body["trace_id"].as_str().unwrap().to_owned();
    assert_eq!(own.len(), 32);
    assert_ne!(own, "0".repeat(32));
    let calls = parties.supplier.wait_for(supplier::PURCHASE_ORDERS, 2).await;
    let call = calls.iter().find(|c| c.body["po_number"] == "PO-T2").unwrap();
    assert_eq!(call.trace_id().as_deref(), Some(own.as_str()));

    let s = quiescent(&t.core).await;
    assert_eq!((s.outbox_delivered, s.outbox_dead), (3, 0), "{s:?}");
    t.stop().await;
}
}

crate::both_backends! {
/// A partner answering 503 twice, then 201, gets the delivery on the third
/// attempt, with the same Idempotency-Key and byte-identical body each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_with_the_same_key_and_body() {
    let supplier_stub = Stub::scripted(vec![Reply::status(503), Reply::status(503)]).await;
    let t = TestCore::start(partners(CLOSED, CLOSED, &supplier_stub.url)).await;
    let url = t.url();

    assert_accepted(
        &post(
            &url,
            core::PURCHASE_ORDERS,
            "po",
            &purchase_order("PO-R1", &[(1, 10)]),
        )
        .await,
    );
    let s = quiescent(&t.core).await;
    assert_eq!(
        (s.outbox_delivered, s.outbox_pending, s.outbox_dead),
        (1, 0, 0),
        "{s:?}"
    );

    let calls = supplier_stub.calls();
    assert_eq!(calls.len(), 3, "two failures and one success: {calls:?}");
    for c in &calls {
        assert_eq!(c.path, supplier::PURCHASE_ORDERS);
        assert_eq!(c.idempotency_key, calls[0].idempotency_key);
        assert_eq!(c.raw, calls[0].raw, "the body is identical on every attempt");
        assert_eq!(c.trace_id(), calls[0].trace_id());
    }
    assert_eq!(calls[0].idempotency_key.as_deref(), Some("po:PO-R1:v1"));
    // Retries back off: the attempts are not back to back.
    assert!(calls[1].at > calls[0].at && calls[2].at > calls[1].at);
    t.stop().await;
}
}

crate::both_backends! {
/// A 429 with `Retry-After: 1` is retried, not before a second has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_delivery_waits_for_retry_after() {
    let supplier_stub = Stub::scripted(vec![Reply::rate_limited(1)]).await;
    let t = TestCore::start(partners(CLOSED, CLOSED, &supplier_stub.url)).await;

    assert_accepted(
        &post(
            &t.url(),
            core::PURCHASE_ORDERS,
            "po",
            &purchase_order("PO-429", &[(1, 10)]),
        )
        .await,
    );
    let calls = supplier_stub.wait_for(supplier::PURCHASE_ORDERS, 2).await;
    let gap = calls[1].at - calls[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after only {gap:?}");
    assert!(gap < Duration::from_secs(3), "retried late: {gap:?}");
    assert_eq!(calls[0].idempotency_key, calls[1].idempotency_key);
    let s = quiescent(&t.core).await;
    assert_eq!((s.outbox_delivered, s.outbox_dead), (1, 0), "{s:?}");
    assert_eq!(supplier_stub.calls().len(), 2);
    t.stop().await;
}
}

crate::both_backends! {
/// A partner answering 400 refuses for good: the delivery is dead-lettered
/// after exactly one attempt, and other deliveries are not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_refusal_is_dead_lettered_after_one_attempt() {
    let supplier_stub = Stub::scripted(vec![Reply::status(400)]).await;
    let t = TestCore::start(partners(CLOSED, CLOSED, &supplier_stub.url)).await;
    let url = t.url();

    assert_accepted(
        &post(
            &url,
            core::PURCHASE_ORDERS,
            "po-1",
            &purchase_order("PO-D1", &[(1, 10)]),
        )
        .await,
    );
    eventually("a dead letter", || async {
        status(&t.core).await.outbox_dead == 1
    })
    .await;
    let s = status(&t.core).await;
    assert_eq!(
        (s.outbox_dead, s.outbox_pending, s.outbox_delivered),
        (1, 0, 0),
        "{s:?}"
    );

    // A later PO goes through; the dead one is not tried again.
    assert_accepted(
        &post(
            &url,
            core::PURCHASE_ORDERS,
            "po-2",
            &purchase_order("PO-D2", &[(1, 10)]),
        )
        .await,
    );
    let s = quiescent(&t.core).await;
    assert_eq!((s.outbox_dead, s.outbox_delivered), (1, 1), "{s:?}");
    // Let a few worker cycles pass: still one attempt for the dead delivery.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = supplier_stub.calls();
    let keys: Vec<_> = calls
        .iter()
        .map(|c| c.idempotency_key.clone().unwrap_or_default())
        .collect();
    assert_eq!(keys, ["po:PO-D1:v1", "po:PO-D2:v1"], "{calls:?}");
    assert_eq!(status(&t.core).await.outbox_dead, 1);
    t.stop().await;
}
}

crate::both_backends! {
/// Transient failures are retried only up to the configured number of
/// attempts; then the delivery is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stop_after_max_attempts() {
    let supplier_stub = Stub::scripted(vec![Reply::status(503); 10]).await;
    let t = TestCore::start_with(partners(CLOSED, CLOSED, &supplier_stub.url), |c| {
        c.retry.policy.max_attempts = 3;
        c.retry.backoff.cap = Duration::from_millis(50);
    })
    .await;
    assert_accepted(
        &post(
            &t.url(),
            core::PURCHASE_ORDERS,
            "po",
            &purchase_order("PO-MAX", &[(1, 1)]),
        )
        .await,
    );
    eventually("a dead letter", || async {
        status(&t.core).await.outbox_dead == 1
    })
    .await;
    let s = status(&t.core).await;
    assert_eq!((s.outbox_pending, s.outbox_delivered), (0, 0), "{s:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(supplier_stub.calls().len(), 3, "exactly max_attempts attempts");
    t.stop().await;
}
}

crate::both_backends! {
/// Dead letters are listed and replayed by the ops API: the replay reuses the
/// delivery's Idempotency-Key and body, goes out once, and a second replay
/// finds nothing left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_replayed_once_with_the_same_key() {
    // The supplier refuses the first delivery for good, then accepts.
    let supplier_stub = Stub::scripted(vec![Reply::status(400)]).await;
    let t = TestCore::start(partners(CLOSED, CLOSED, &supplier_stub.url)).await;
    let url = t.url();
    assert_accepted(
        &post(
            &url,
            core::PURCHASE_ORDERS,
            "po-r",
            &purchase_order("PO-R", &[(1, 10)]),
        )
        .await,
    );
    eventually("a dead letter", || async {
        status(&t.core).await.outbox_dead == 1
    })
    .await;

    let http = client();
    let listed: serde_json::Value = http
        .get(format!("{url}{}", core::OPS_DEAD_LETTERS))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let letters = listed.as_array().unwrap();
    assert_eq!(letters.len(), 1, "{listed}");
    assert_eq!(letters[0]["idempotency_key"], "po:PO-R:v1");
    assert_eq!(letters[0]["last_status"], 400);
    let id = letters[0]["id"].as_i64().unwrap();

    let replay = |body: serde_json::Value| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let r = http
                .post(format!("{url}{}", core::OPS_DEAD_LETTER_REPLAY))
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    assert_eq!(
        replay(serde_json::json!({"ids": [id + 1000]})).await,
        (200, serde_json::json!({"replayed": 0}))
    );
    assert_eq!(status(&t.core).await.outbox_dead, 1);
    assert_eq!(
        replay(serde_json::json!({"all": true})).await,
        (200, serde_json::json!({"replayed": 1}))
    );
    let s = quiescent(&t.core).await;
    assert_eq!((s.outbox_dead, s.outbox_delivered), (0, 1), "{s:?}");
    assert_eq!(
        replay(serde_json::json!({"all": true})).await.1,
        serde_json::json!({"replayed": 0})
    );

    let calls = supplier_stub.calls_to(supplier::PURCHASE_ORDERS);
    assert_eq!(calls.len(), 2, "the refused attempt and the replay, nothing more");
    assert_eq!(calls[0].idempotency_key, calls[1].idempotency_key);
    assert_eq!(calls[0].raw, calls[1].raw);

    let (code, problem) = replay(serde_json::json!({"everything": "please"})).await;
    assert_eq!(code, 422, "{problem}");
    assert_eq!(problem["status"], 422);
    t.stop().await;
}
}
