//! What the core acknowledged survives a restart on the same database.

use contracts::routes::{core, supplier};

use crate::support::*;

crate::both_backends! {
/// A PO accepted while the supplier is unreachable is delivered by the next
/// core on the same SQLite file; its inbox, idempotency answers and
/// business-key dedupe survive the restart too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_delivery_and_stored_answers_survive_a_restart() {
    let t = TestCore::unreachable().await;
    let trace = trace_id(0x5eed);
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    let po = purchase_order("PO-DUR", &[(1, 10), (2, 20)]);
    let send = Send {
        key: Some("po-dur"),
        traceparent: Some(&traceparent),
    };
    let first = post_with(&t.url(), core::PURCHASE_ORDERS, send.clone(), &po).await;
    assert_accepted(&first);

    // The first attempts fail (connection refused) and the delivery stays pending.
    let s = status(&t.core).await;
    assert_eq!(
        (s.inbox_messages, s.outbox_pending, s.outbox_delivered),
        (1, 1, 0),
        "{s:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let s = status(&t.core).await;
    assert_eq!(
        (s.outbox_pending, s.outbox_dead),
        (1, 0),
        "still pending, not dead: {s:?}"
    );

    let db = t.stop().await;

    // A new core on the same file, with a reachable supplier.
    let supplier_stub = Stub::start().await;
    let core2 = start_core_at(&db, partners(CLOSED, CLOSED, &supplier_stub.url)).await;
    let calls = supplier_stub.wait_for(supplier::PURCHASE_ORDERS, 1).await;
    assert_eq!(calls[0].idempotency_key.as_deref(), Some("po:PO-DUR:v1"));
    assert_eq!(
        calls[0].trace_id().as_deref(),
        Some(trace.as_str()),
        "the trace survives too"
    );
    let sent: contracts::inbound::PurchaseOrder = serde_json::from_value(calls[0].body.clone()).unwrap();
    assert_eq!(sent, po);
    let s = quiescent(&core2).await;
    assert_eq!(
        (
            s.inbox_messages,
            s.outbox_pending,
            s.outbox_delivered,
            s.outbox_dead
        ),
        (1, 0, 1, 0),
        "{s:?}"
    );

    // The original request, repeated with its key, gets the stored answer.
    let again = post_with(&core2.url(), core::PURCHASE_ORDERS, send, &po).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert!(again.replayed());
    // Under a new key it is recognised as a duplicate of the stored message.
    let dup = post(&core2.url(), core::PURCHASE_ORDERS, "po-dur-resend", &po).await;
    assert_eq!((dup.status, dup.outcome()), (200, "duplicate"), "{}", dup.body);
    assert_eq!(dup.message_id(), first.message_id());
    // The same key with another body is still refused.
    let mut changed = po.clone();
    changed.lines[1].quantity = 21;
    post(&core2.url(), core::PURCHASE_ORDERS, "po-dur", &changed)
        .await
        .assert_problem(422, "idempotency-key-reused");

    let s = quiescent(&core2).await;
    assert_eq!((s.inbox_messages, s.outbox_delivered), (1, 1), "{s:?}");
    assert_eq!(supplier_stub.calls().len(), 1, "delivered once, and only once");

    // The PO's lines survived too: an ASN against them is validated as before.
    let ok = post(
        &core2.url(),
        core::ASNS,
        "asn",
        &asn("ASN-DUR", &[("PO-DUR", 2, 22)]),
    )
    .await;
    assert_accepted(&ok);
    let over = post(
        &core2.url(),
        core::ASNS,
        "asn-over",
        &asn("ASN-DUR-2", &[("PO-DUR", 1, 12)]),
    )
    .await;
    over.assert_problem(422, "over-tolerance");
    stop(core2).await;
}
}

crate::both_backends! {
/// A delivery that finished before the stop is not sent again after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_messages_are_not_resent_after_a_restart() {
    let supplier_stub = Stub::start().await;
    let t = TestCore::start(partners(CLOSED, CLOSED, &supplier_stub.url)).await;
    assert_accepted(
        &post(
            &t.url(),
            core::PURCHASE_ORDERS,
            "po",
            &purchase_order("PO-ONCE", &[(1, 10)]),
        )
        .await,
    );
    quiescent(&t.core).await;
    let db = t.stop().await;

    let core2 = start_core_at(&db, partners(CLOSED, CLOSED, &supplier_stub.url)).await;
    let s = status(&core2).await;
    assert_eq!(
        (s.inbox_messages, s.outbox_pending, s.outbox_delivered),
        (1, 0, 1),
        "{s:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(supplier_stub.calls().len(), 1);
    stop(core2).await;
}
}

crate::both_backends! {
/// Stopping the core lets an in-flight delivery finish and records it: the
/// next core neither loses nor repeats it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_waits_for_an_in_flight_delivery() {
    let supplier_stub = Stub::scripted(vec![Reply::slow(201, std::time::Duration::from_millis(300))]).await;
    let t = TestCore::start(partners(CLOSED, CLOSED, &supplier_stub.url)).await;
    assert_accepted(
        &post(
            &t.url(),
            core::PURCHASE_ORDERS,
            "po",
            &purchase_order("PO-FLY", &[(1, 10)]),
        )
        .await,
    );
    supplier_stub.wait_for(supplier::PURCHASE_ORDERS, 1).await;
    assert_eq!(
        status(&t.core).await.outbox_pending,
        1,
        "the answer is still on its way"
    );
    let db = t.stop().await;

    let core2 = start_core_at(&db, partners(CLOSED, CLOSED, &supplier_stub.url)).await;
    let s = status(&core2).await;
    assert_eq!((s.outbox_pending, s.outbox_delivered), (0, 1), "{s:?}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(supplier_stub.calls().len(), 1);
    stop(core2).await;
}
}
