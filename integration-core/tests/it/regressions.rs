//! Regressions: behaviour a review found wrong in the core, each test
//! asserting the correct behaviour (schema checked at intake, discrepancies
//! per PO line, no posting key reused across receipt events, Retry-After
//! saturated, PO versions ordered, acks checked against the PO version).

use std::time::Duration;

use crate::support::*;
use contracts::routes::{core, erp, supplier, wms};

crate::both_backends! {
/// A document that parses but breaks its contract's JSON Schema (an empty
/// line list, a zero quantity) is refused, not forwarded to a partner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_breaking_their_schema_are_refused() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();

    let mut empty = purchase_order("PO-EMPTY", &[(1, 10)]);
    empty.lines.clear();
    let a = post(&url, core::PURCHASE_ORDERS, "po-empty", &empty).await;
    assert_eq!(a.status, 422, "a PO without lines: {}", a.body);

    assert_accepted(
        &post(
            &url,
            core::PURCHASE_ORDERS,
            "po",
            &purchase_order("PO-Z", &[(1, 10)]),
        )
        .await,
    );
    let a = post(&url, core::ASNS, "asn-zero", &asn("ASN-Z", &[("PO-Z", 1, 0)])).await;
    assert_eq!(a.status, 422, "an ASN line of quantity 0: {}", a.body);

    quiescent(&t.core).await;
    assert!(
        parties.wms.calls_to(wms::INBOUND_EXPECTATIONS).is_empty(),
        "an expectation of quantity 0 reached the WMS"
    );
    let pos = parties.supplier.calls_to(supplier::PURCHASE_ORDERS);
    assert_eq!(pos.len(), 1, "a PO without lines reached the supplier: {pos:?}");
    t.stop().await;
}
}

crate::both_backends! {
/// An ASN may ship one PO line in several cartons (the core's own
/// tolerance check allows it). When the WMS receives each expectation line
/// exactly as advised, there is no discrepancy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_carton_po_line_received_in_full_has_no_discrepancy() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();

    assert_accepted(
        &post(
            &url,
            core::PURCHASE_ORDERS,
            "po",
            &purchase_order("PO-MC", &[(1, 100)]),
        )
        .await,
    );
    // 60 + 40 of PO line 1, in two cartons.
    let asn_doc = asn("ASN-MC", &[("PO-MC", 1, 60), ("PO-MC", 1, 40)]);
    assert_accepted(&post(&url, core::ASNS, "asn", &asn_doc).await);
    let calls = parties.wms.wait_for(wms::INBOUND_EXPECTATIONS, 1).await;
    let exp_id = calls[0].body["expectation_id"].as_str().unwrap().to_owned();

    // Each expectation line received in full, as the WMS simulator reports.
    let gr = receipt(
        "RCV-MC",
        "EVT-MC",
        1,
        &exp_id,
        "ASN-MC",
        &[("PO-MC", 1, 60), ("PO-MC", 1, 40)],
    );
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "gr", &gr).await);
    quiescent(&t.core).await;
    assert_eq!(parties.erp.calls_to(erp::GOODS_RECEIPT_POSTINGS).len(), 2);
    let d = parties.erp.calls_to(erp::RECEIPT_DISCREPANCIES);
    assert!(
        d.is_empty(),
        "nothing was short, yet: {:?}",
        d.iter().map(|c| &c.body).collect::<Vec<_>>()
    );
    t.stop().await;
}
}

crate::both_backends! {
/// A later event of the same receipt (higher seq, new event id) with other
/// counts must not reuse a posting's Idempotency-Key with a different body:
/// an IETF-conforming ERP refuses that with 422 and the core dead-letters it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_receipt_event_does_not_reuse_a_posting_key_with_another_body() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();

    assert_accepted(
        &post(
            &url,
            core::PURCHASE_ORDERS,
            "po",
            &purchase_order("PO-SQ", &[(1, 100)]),
        )
        .await,
    );
    assert_accepted(&post(&url, core::ASNS, "asn", &asn("ASN-SQ", &[("PO-SQ", 1, 100)])).await);
    let calls = parties.wms.wait_for(wms::INBOUND_EXPECTATIONS, 1).await;
    let exp_id = calls[0].body["expectation_id"].as_str().unwrap().to_owned();

    let first = receipt("RCV-SQ", "EVT-SQ-1", 1, &exp_id, "ASN-SQ", &[("PO-SQ", 1, 90)]);
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "gr-1", &first).await);
    let second = receipt("RCV-SQ", "EVT-SQ-2", 2, &exp_id, "ASN-SQ", &[("PO-SQ", 1, 100)]);
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "gr-2", &second).await);
    quiescent(&t.core).await;

    let mut seen = std::collections::HashMap::new();
    for c in parties.erp.calls() {
        let key = c.idempotency_key.clone().unwrap();
        if let Some(prev) = seen.insert(key.clone(), c.raw.clone()) {
            assert_eq!(
                prev, c.raw,
                "Idempotency-Key {key} sent with two different bodies"
            );
        }
    }
    t.stop().await;
}
}

crate::both_backends! {
/// A partner's Retry-After is honoured however large it is: an absurd
/// value must not make the core retry at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_retry_after_does_not_cause_an_immediate_retry() {
    let supplier_stub = Stub::scripted(vec![Reply::rate_limited(10_000_000_000_000)]).await;
    let t = TestCore::start(partners(CLOSED, CLOSED, &supplier_stub.url)).await;
    assert_accepted(
        &post(
            &t.url(),
            core::PURCHASE_ORDERS,
            "po",
            &purchase_order("PO-RA", &[(1, 1)]),
        )
        .await,
    );
    supplier_stub.wait_for(supplier::PURCHASE_ORDERS, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = supplier_stub.calls();
    assert_eq!(calls.len(), 1, "retried within 500 ms despite Retry-After");
    assert_eq!(status(&t.core).await.outbox_pending, 1);
    t.stop().await;
}
}

crate::both_backends! {
/// An acknowledgement must refer to the PO version the core knows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgement_of_an_unknown_po_version_is_refused() {
    let t = TestCore::unreachable().await;
    let url = t.url();
    let po = purchase_order("PO-V", &[(1, 10)]);
    assert_accepted(&post(&url, core::PURCHASE_ORDERS, "po", &po).await);
    let mut ack = acknowledgement("ACK-V", &po);
    ack.po_version = 7;
    let a = post(&url, core::PO_ACKNOWLEDGEMENTS, "ack", &ack).await;
    assert_eq!(a.status, 422, "{}", a.body);
    t.stop().await;
}
}

crate::both_backends! {
/// PO versions may arrive out of order; an older version arriving after a
/// newer one must not roll the open lines back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_po_version_does_not_overwrite_a_newer_one() {
    let t = TestCore::unreachable().await;
    let url = t.url();
    let v1 = purchase_order("PO-VER", &[(1, 100)]);
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.lines[0].quantity = 200;
    assert_accepted(&post(&url, core::PURCHASE_ORDERS, "po-v2", &v2).await);
    // Version 1 arrives late.
    let late = post(&url, core::PURCHASE_ORDERS, "po-v1", &v1).await;
    assert!(late.status < 500, "{}", late.body);
    // Version 2 allows 200 + 10 %.
    let a = post(&url, core::ASNS, "asn", &asn("ASN-VER", &[("PO-VER", 1, 200)])).await;
    assert_eq!(a.status, 201, "the late v1 rolled the PO back: {}", a.body);
    t.stop().await;
}
}

crate::both_backends! {
/// The domain rules a schema cannot say apply at intake too: an ASN line
/// packed in a unit the ASN does not list is refused, with its pointer, and
/// nothing reaches the WMS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asn_breaking_a_domain_rule_is_refused_with_its_pointer() {
    let t = TestCore::unreachable().await;
    let url = t.url();
    assert_accepted(
        &post(
            &url,
            core::PURCHASE_ORDERS,
            "po",
            &purchase_order("PO-DR", &[(1, 10)]),
        )
        .await,
    );
    let mut doc = asn("ASN-DR", &[("PO-DR", 1, 10)]);
    doc.lines[0].sscc = sscc(999_999);
    let a = post(&url, core::ASNS, "asn", &doc).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(a.headers["content-type"], "application/problem+json");
    assert_eq!(a.body["errors"][0]["pointer"], "/lines/0/sscc", "{}", a.body);
    assert_eq!(
        status(&t.core).await.outbox_pending,
        1,
        "only the PO's delivery is queued"
    );
    t.stop().await;
}
}
