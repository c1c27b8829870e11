//! The receipt end of the inbound flow: PO → ack → ASN → expectation at the
//! WMS → goods receipt → postings and discrepancies at the ERP.

use contracts::inbound::{DiscrepancyKind, ErpGoodsReceiptPosting, InboundExpectation, ReceiptDiscrepancy};
use contracts::routes::{core, erp, wms};

use crate::support::*;

/// Runs PO → ack → ASN and returns the expectation the WMS received.
pub(crate) async fn expect_goods(
    url: &str,
    parties: &Parties,
    po: &contracts::inbound::PurchaseOrder,
    asn_doc: &contracts::inbound::AdvanceShipNotice,
) -> InboundExpectation {
    let tag = &asn_doc.asn_id;
    let before = parties.wms.calls_to(wms::INBOUND_EXPECTATIONS).len();
    assert_accepted(&post(url, core::PURCHASE_ORDERS, &format!("po-{tag}"), po).await);
    let ack = acknowledgement(&format!("ACK-{tag}"), po);
    assert_accepted(&post(url, core::PO_ACKNOWLEDGEMENTS, &format!("ack-{tag}"), &ack).await);
    let accepted = post(url, core::ASNS, &format!("asn-{tag}"), asn_doc).await;
    assert_accepted(&accepted);

    let calls = parties.wms.wait_for(wms::INBOUND_EXPECTATIONS, before + 1).await;
    let call = calls
        .iter()
        .find(|c| c.body["asn_id"] == asn_doc.asn_id.as_str())
        .expect("the WMS got the ASN's expectation");
    let expectation: InboundExpectation = serde_json::from_value(call.body.clone()).unwrap();

    // The expectation is named after the ASN's inbox message.
    let msg = accepted.message_id();
    let digits = msg.strip_prefix("MSG-").unwrap();
    assert_eq!(expectation.expectation_id, format!("IBE-{digits}"));
    assert_eq!(digits.len(), 10);
    assert_eq!(
        call.idempotency_key.as_deref(),
        Some(format!("expectation:{}", expectation.expectation_id).as_str())
    );
    assert_eq!(expectation.lines.len(), asn_doc.lines.len());
    expectation
}

crate::both_backends! {
/// A receipt of two lines posts each line once to the ERP; the same event
/// resent under a new key is a duplicate and posts nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goods_receipt_posts_each_line_once() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-GR", &[(1, 100), (2, 50)]);
    let asn_doc = asn("ASN-GR", &[("PO-GR", 1, 100), ("PO-GR", 2, 50)]);
    let exp = expect_goods(&url, &parties, &po, &asn_doc).await;
    assert_eq!(exp.lines[0].sku, "SKU-001");
    assert_eq!(exp.lines[1].quantity, 50);

    // The ERP heard of the acknowledgement.
    let acks = parties.erp.wait_for(erp::PO_ACKNOWLEDGEMENTS, 1).await;
    assert_eq!(acks[0].idempotency_key.as_deref(), Some("commitment:ACK-ASN-GR"));

    // Line 2 within tolerance (48 of 50 with 5 % under-tolerance); 3 damaged on line 1.
    let mut gr = receipt(
        "RCV-1",
        "EVT-1",
        1,
        &exp.expectation_id,
        "ASN-GR",
        &[("PO-GR", 1, 100), ("PO-GR", 2, 48)],
    );
    gr.lines[0].qty_damaged = 3;
    let first = post(&url, core::GOODS_RECEIPTS, "gr-1", &gr).await;
    assert_accepted(&first);

    let postings = parties.erp.wait_for(erp::GOODS_RECEIPT_POSTINGS, 2).await;
    quiescent(&t.core).await;
    let postings_now = parties.erp.calls_to(erp::GOODS_RECEIPT_POSTINGS);
    assert_eq!(postings_now.len(), 2, "{postings_now:?}");
    let mut keys: Vec<&str> = postings
        .iter()
        .map(|c| c.idempotency_key.as_deref().unwrap())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["grp:RCV-1:1", "grp:RCV-1:2"]);
    for c in &postings {
        let p: ErpGoodsReceiptPosting = serde_json::from_value(c.body.clone()).unwrap();
        assert_eq!(p.receipt_id, "RCV-1");
        let expected_qty = if p.receipt_line_no == 1 { 97 } else { 48 };
        assert_eq!(p.quantity, expected_qty, "received minus damaged: {p:?}");
        assert_eq!(p.po_line_no, p.receipt_line_no);
    }
    assert!(
        parties.erp.calls_to(erp::RECEIPT_DISCREPANCIES).is_empty(),
        "all lines are within tolerance"
    );

    // The same event again under a new key: a duplicate, nothing new posted.
    let dup = post(&url, core::GOODS_RECEIPTS, "gr-1-resent", &gr).await;
    assert_eq!((dup.status, dup.outcome()), (200, "duplicate"), "{}", dup.body);
    assert_eq!(dup.message_id(), first.message_id());
    let s = quiescent(&t.core).await;
    // PO, ack, expectation, two postings.
    assert_eq!((s.outbox_delivered, s.outbox_dead), (5, 0), "{s:?}");
    assert_eq!(parties.erp.calls_to(erp::GOODS_RECEIPT_POSTINGS).len(), 2);

    // A stale event (seq not above the last seen) is taken in but changes nothing.
    let mut stale = receipt(
        "RCV-1",
        "EVT-0",
        1,
        &exp.expectation_id,
        "ASN-GR",
        &[("PO-GR", 1, 1)],
    );
    stale.received_at = "2025-03-09T09:00:00Z".into();
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "gr-stale", &stale).await);
    let s = quiescent(&t.core).await;
    assert_eq!(s.outbox_delivered, 5, "{s:?}");

    // A receipt for an expectation the core never made is refused.
    let unknown = receipt(
        "RCV-2",
        "EVT-2",
        1,
        "IBE-9999999999",
        "ASN-GR",
        &[("PO-GR", 1, 1)],
    );
    let p = post(&url, core::GOODS_RECEIPTS, "gr-unknown", &unknown)
        .await
        .assert_problem(422, "unknown-expectation");
    assert_eq!(p.errors[0].pointer, "/expectation_id");
    t.stop().await;
}
}

crate::both_backends! {
/// A line short beyond its under-tolerance yields exactly one discrepancy
/// (kind short) at the ERP; a line within tolerance yields none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_receipt_beyond_tolerance_reports_one_discrepancy() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-SH", &[(1, 100), (2, 100)]);
    let asn_doc = asn("ASN-SH", &[("PO-SH", 1, 100), ("PO-SH", 2, 100)]);
    let exp = expect_goods(&url, &parties, &po, &asn_doc).await;

    // Line 1: 90 of 100 (beyond 5 %); line 2: 95 of 100 (exactly at the bound).
    let gr = receipt(
        "RCV-SH",
        "EVT-SH-1",
        1,
        &exp.expectation_id,
        "ASN-SH",
        &[("PO-SH", 1, 90), ("PO-SH", 2, 95)],
    );
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "gr-sh", &gr).await);
    let s = quiescent(&t.core).await;
    // PO, ack, expectation, two postings, one discrepancy.
    assert_eq!((s.outbox_delivered, s.outbox_dead), (6, 0), "{s:?}");

    let discrepancies = parties.erp.calls_to(erp::RECEIPT_DISCREPANCIES);
    assert_eq!(discrepancies.len(), 1, "{discrepancies:?}");
    assert_eq!(discrepancies[0].idempotency_key.as_deref(), Some("dsc:RCV-SH:1"));
    let d: ReceiptDiscrepancy = serde_json::from_value(discrepancies[0].body.clone()).unwrap();
    assert_eq!(discrepancies[0].body["kind"], "short");
    assert_eq!(d.kind, DiscrepancyKind::Short);
    assert_eq!((d.receipt_line_no, d.po_line_no), (1, 1));
    assert_eq!(
        (d.expected, d.actual, d.variance, d.tolerance_pct),
        (100, 90, -10, 5)
    );
    assert_eq!(parties.erp.calls_to(erp::GOODS_RECEIPT_POSTINGS).len(), 2);

    // A resend of the event under a new key adds no discrepancy.
    let dup = post(&url, core::GOODS_RECEIPTS, "gr-sh-again", &gr).await;
    assert_eq!(dup.outcome(), "duplicate");
    quiescent(&t.core).await;
    assert_eq!(parties.erp.calls_to(erp::RECEIPT_DISCREPANCIES).len(), 1);
    t.stop().await;
}
}

crate::both_backends! {
/// The cancel/receipt race: the supplier's cancel reaches the core after the
/// WMS counted the goods but before their receipt does. The goods are
/// physically in: the receipt is accepted, posted to the ERP as the WMS
/// stocked them, and raises exactly one discrepancy per PO line, of kind
/// not advised (the cancel withdrew the advice). A correction of the count
/// is judged the same way; the ASN stays cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_after_its_asn_was_cancelled_is_taken_in_as_not_advised() {
    use contracts::inbound::AsnPurpose;
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-CX", &[(1, 40), (2, 10)]);
    let asn_doc = asn("ASN-CX", &[("PO-CX", 1, 30), ("PO-CX", 1, 10), ("PO-CX", 2, 10)]);
    let exp = expect_goods(&url, &parties, &po, &asn_doc).await;

    let cancel = contracts::inbound::AdvanceShipNotice {
        purpose: AsnPurpose::Cancel,
        ..asn_doc.clone()
    };
    assert_accepted(&post(&url, core::ASNS, "cx-cancel", &cancel).await);
    parties.wms.wait_for(wms::INBOUND_EXPECTATION_CANCELLATIONS, 1).await;

    // Counted before the WMS heard of the cancel: PO line 1 in two cartons.
    let gr = receipt(
        "RCV-CX",
        "EVT-CX-1",
        1,
        &exp.expectation_id,
        "ASN-CX",
        &[("PO-CX", 1, 30), ("PO-CX", 1, 10), ("PO-CX", 2, 10)],
    );
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "gr-cx", &gr).await);
    quiescent(&t.core).await;

    let mut postings: Vec<(u32, u32, u32)> = parties
        .erp
        .calls_to(erp::GOODS_RECEIPT_POSTINGS)
        .into_iter()
        .map(|c| serde_json::from_value::<ErpGoodsReceiptPosting>(c.body).unwrap())
        .map(|p| (p.receipt_line_no, p.po_line_no, p.quantity))
        .collect();
    postings.sort_unstable();
    assert_eq!(postings, [(1, 1, 30), (2, 1, 10), (3, 2, 10)]);
    let mut found: Vec<ReceiptDiscrepancy> = parties
        .erp
        .calls_to(erp::RECEIPT_DISCREPANCIES)
        .into_iter()
        .map(|c| serde_json::from_value(c.body).unwrap())
        .collect();
    found.sort_by_key(|d| d.po_line_no);
    assert_eq!(found.len(), 2, "one per PO line: {found:?}");
    for (d, (po_line_no, actual)) in found.iter().zip([(1, 40), (2, 10)]) {
        assert_eq!(d.kind, DiscrepancyKind::NotAdvised, "{d:?}");
        assert_eq!(
            (d.po_line_no, d.expected, d.actual, d.variance),
            (po_line_no, 0, actual, i64::from(actual))
        );
    }

    // The ASN stays cancelled: a replace of it is still refused...
    let mut late = asn_doc.clone();
    late.purpose = AsnPurpose::Replace;
    late.lines.truncate(1);
    post(&url, core::ASNS, "cx-late", &late)
        .await
        .assert_problem(422, "asn-not-open");
    // ... and a recount is judged against no advice either.
    let mut recount = gr.clone();
    recount.event_id = "EVT-CX-2".into();
    recount.seq = 2;
    recount.lines[2].qty_received = 9;
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "gr-cx-2", &recount).await);
    quiescent(&t.core).await;
    let later: Vec<ReceiptDiscrepancy> = parties
        .erp
        .calls_to(erp::RECEIPT_DISCREPANCIES)
        .into_iter()
        .map(|c| serde_json::from_value::<ReceiptDiscrepancy>(c.body).unwrap())
        .filter(|d| d.seq == 2)
        .collect();
    assert_eq!(later.len(), 2, "{later:?}");
    assert!(later.iter().all(|d| d.kind == DiscrepancyKind::NotAdvised));
    t.stop().await;
}
}

crate::both_backends! {
/// Damage is a variance of its own: a line that arrived in full but with
/// more damaged than its under-tolerance allows yields exactly one
/// discrepancy of kind damaged (actual: what is fit for stock); a little
/// damage within tolerance yields none. Both are posted, received − damaged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_beyond_tolerance_reports_one_damaged_discrepancy() {
    use contracts::inbound::StockStatus;
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-DM", &[(1, 100), (2, 100)]);
    let asn_doc = asn("ASN-DM", &[("PO-DM", 1, 100), ("PO-DM", 2, 100)]);
    let exp = expect_goods(&url, &parties, &po, &asn_doc).await;

    let mut gr = receipt(
        "RCV-DM",
        "EVT-DM-1",
        1,
        &exp.expectation_id,
        "ASN-DM",
        &[("PO-DM", 1, 100), ("PO-DM", 2, 100)],
    );
    // Line 1: 20 damaged (80 fit, beyond 5 %); line 2: 5 damaged (at the bound).
    for (line, damaged) in gr.lines.iter_mut().zip([20, 5]) {
        line.qty_damaged = damaged;
        line.stock_status = StockStatus::Quality;
    }
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "gr-dm", &gr).await);
    quiescent(&t.core).await;

    let found: Vec<ReceiptDiscrepancy> = parties
        .erp
        .calls_to(erp::RECEIPT_DISCREPANCIES)
        .into_iter()
        .map(|c| serde_json::from_value(c.body).unwrap())
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let d = &found[0];
    assert_eq!((d.kind, d.po_line_no), (DiscrepancyKind::Damaged, 1));
    assert_eq!(
        (d.expected, d.actual, d.variance, d.tolerance_pct),
        (100, 80, -20, 5)
    );
    let mut posted: Vec<(u32, u32)> = parties
        .erp
        .calls_to(erp::GOODS_RECEIPT_POSTINGS)
        .into_iter()
        .map(|c| serde_json::from_value::<ErpGoodsReceiptPosting>(c.body).unwrap())
        .map(|p| (p.po_line_no, p.quantity))
        .collect();
    posted.sort_unstable();
    assert_eq!(posted, [(1, 80), (2, 95)]);
    t.stop().await;
}
}
