//! ASN intake: business-rule refusals (RFC 9457 problems with a pointer to
//! the offending line) and business-key dedupe of resent ASNs.

use contracts::routes::{core, wms};
use serde_json::Value;

use crate::support::*;

crate::both_backends! {
/// An ASN that refers to an unknown PO, a line not on the PO, or ships more
/// than the tolerance allows is refused with a problem naming the line (404
/// for the PO, 422 for the rest),
/// stores nothing, and sends nothing to the WMS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asn_breaking_a_business_rule_is_refused_with_a_pointer_to_the_line() {
    let parties = Parties::start().await;
    let wms_stub = &parties.wms;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();

    let po = purchase_order("PO-1000", &[(1, 100)]);
    assert_accepted(&post(&url, core::PURCHASE_ORDERS, "po-1", &po).await);

    // Unknown PO.
    let a = post(
        &url,
        core::ASNS,
        "asn-unknown-po",
        &asn("ASN-1", &[("PO-9999", 1, 10)]),
    )
    .await;
    let p = a.assert_problem(404, "unknown-purchase-order");
    assert_eq!(p.errors[0].pointer, "/lines/0/po_number");

    // A known PO, but another supplier's: reported as unknown too.
    let mut foreign = asn("ASN-2", &[("PO-1000", 1, 10)]);
    foreign.supplier_gln = other_supplier();
    let a = post(&url, core::ASNS, "asn-foreign", &foreign).await;
    let p = a.assert_problem(404, "unknown-purchase-order");
    assert_eq!(p.errors[0].pointer, "/lines/0/po_number");

    // A line the PO does not have; the pointer names the second ASN line.
    let a = post(
        &url,
        core::ASNS,
        "asn-no-line",
        &asn("ASN-3", &[("PO-1000", 1, 10), ("PO-1000", 2, 10)]),
    )
    .await;
    let p = a.assert_problem(422, "po-line-not-open");
    assert_eq!(p.errors[0].pointer, "/lines/1/po_line_no");
    assert!(p.detail.as_deref().unwrap_or("").contains("PO-1000"), "{p:?}");

    // Over tolerance: 100 ordered + 10 % allows 110; 111 is refused...
    let a = post(&url, core::ASNS, "asn-111", &asn("ASN-4", &[("PO-1000", 1, 111)])).await;
    let p = a.assert_problem(422, "over-tolerance");
    assert_eq!(p.errors[0].pointer, "/lines/0/quantity");

    // ... also when split over two cartons of the same PO line (56 + 55).
    let a = post(
        &url,
        core::ASNS,
        "asn-split",
        &asn("ASN-5", &[("PO-1000", 1, 56), ("PO-1000", 1, 55)]),
    )
    .await;
    let p = a.assert_problem(422, "over-tolerance");
    assert_eq!(p.errors[0].pointer, "/lines/1/quantity");

    // Nothing refused was stored: only the PO is in the inbox.
    assert_eq!(status(&t.core).await.inbox_messages, 1);

    // ... and 110 is accepted (the refusals above left no advised quantity behind).
    let accepted = post(&url, core::ASNS, "asn-110", &asn("ASN-6", &[("PO-1000", 1, 110)])).await;
    assert_accepted(&accepted);

    // Once 110 are advised, another ASN for even one more unit is over tolerance.
    let a = post(&url, core::ASNS, "asn-more", &asn("ASN-7", &[("PO-1000", 1, 1)])).await;
    let p = a.assert_problem(422, "over-tolerance");
    assert_eq!(p.errors[0].pointer, "/lines/0/quantity");

    // The WMS got the accepted ASN's expectation and nothing for the refused ones.
    quiescent(&t.core).await;
    let calls = wms_stub.calls();
    assert_eq!(calls.len(), 1, "WMS calls: {calls:?}");
    assert_eq!(calls[0].path, wms::INBOUND_EXPECTATIONS);
    assert_eq!(calls[0].body["asn_id"], "ASN-6");
    assert_eq!(calls[0].body["lines"][0]["quantity"], 110);
    assert_eq!(calls[0].body["lines"][0]["sku"], "SKU-001");
    assert_eq!(status(&t.core).await.inbox_messages, 2);
    t.stop().await;
}
}

crate::both_backends! {
/// A line the supplier rejected in its acknowledgement is closed; an ASN
/// for it is refused. A confirmed quantity below the ordered one lowers the
/// tolerance limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgement_closes_rejected_lines_and_sets_the_open_quantity() {
    let t = TestCore::unreachable().await;
    let url = t.url();
    let po = purchase_order("PO-2000", &[(1, 100), (2, 100)]);
    assert_accepted(&post(&url, core::PURCHASE_ORDERS, "po", &po).await);

    let mut ack = acknowledgement("ACK-1", &po);
    ack.lines[0].status = contracts::inbound::AckLineStatus::QuantityChanged;
    ack.lines[0].confirmed_qty = 50;
    ack.lines[1].status = contracts::inbound::AckLineStatus::Rejected;
    ack.lines[1].confirmed_qty = 0;
    assert_accepted(&post(&url, core::PO_ACKNOWLEDGEMENTS, "ack", &ack).await);

    let a = post(
        &url,
        core::ASNS,
        "asn-rejected",
        &asn("ASN-1", &[("PO-2000", 2, 1)]),
    )
    .await;
    assert_eq!(
        a.assert_problem(422, "po-line-not-open").errors[0].pointer,
        "/lines/0/po_line_no"
    );
    // 50 confirmed + 10 % = 55.
    let a = post(&url, core::ASNS, "asn-56", &asn("ASN-2", &[("PO-2000", 1, 56)])).await;
    assert_eq!(
        a.assert_problem(422, "over-tolerance").errors[0].pointer,
        "/lines/0/quantity"
    );
    assert_accepted(&post(&url, core::ASNS, "asn-55", &asn("ASN-3", &[("PO-2000", 1, 55)])).await);

    // An acknowledgement for a line the PO lacks is refused.
    let mut bad = acknowledgement("ACK-2", &po);
    bad.lines[1].line_no = 7;
    let a = post(&url, core::PO_ACKNOWLEDGEMENTS, "ack-bad", &bad).await;
    assert_eq!(
        a.assert_problem(422, "unknown-po-line").errors[0].pointer,
        "/lines/1/line_no"
    );
    t.stop().await;
}
}

crate::both_backends! {
/// The same ASN resent under new Idempotency-Keys is one message: the first
/// is accepted (201), the others are duplicates (200) of the same message,
/// and the WMS hears of it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_asn_is_a_duplicate_and_reaches_the_wms_once() {
    let parties = Parties::start().await;
    let wms_stub = &parties.wms;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    assert_accepted(
        &post(
            &url,
            core::PURCHASE_ORDERS,
            "po",
            &purchase_order("PO-3000", &[(1, 100)]),
        )
        .await,
    );

    // Sequentially.
    let doc = asn("ASN-SEQ", &[("PO-3000", 1, 40)]);
    let first = post(&url, core::ASNS, "seq-1", &doc).await;
    assert_accepted(&first);
    for key in ["seq-2", "seq-3"] {
        let again = post(&url, core::ASNS, key, &doc).await;
        assert_eq!(again.status, 200, "{}", again.body);
        assert_eq!(again.outcome(), "duplicate");
        assert_eq!(again.message_id(), first.message_id());
        assert_eq!(again.body["trace_id"], first.body["trace_id"]);
        assert!(!again.replayed(), "a new key is not an idempotent replay");
    }

    // The same document with its keys in another order is the same payload.
    let mut reordered = serde_json::to_value(&doc).unwrap();
    let reordered_text = {
        let obj = reordered.as_object_mut().unwrap();
        let mut pairs: Vec<(String, Value)> = std::mem::take(obj).into_iter().collect();
        pairs.reverse();
        let inner: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v))
            .collect();
        format!("{{{}}}", inner.join(","))
    };
    assert!(
        !reordered_text.starts_with("{\"asn_id\""),
        "keys really are reordered"
    );
    let a = send_raw(
        &client(),
        &format!("{url}{}", core::ASNS),
        Send {
            key: Some("seq-reordered"),
            ..Send::default()
        },
        reordered_text.into_bytes(),
    )
    .await;
    assert_eq!((a.status, a.outcome()), (200, "duplicate"), "{}", a.body);

    // Concurrently: exactly one of three wins.
    let doc = asn("ASN-CONC", &[("PO-3000", 1, 30)]);
    let answers = {
        let sends = ["conc-1", "conc-2", "conc-3"].map(|key| {
            let (url, doc) = (url.clone(), doc.clone());
            tokio::spawn(async move { post(&url, core::ASNS, key, &doc).await })
        });
        let mut out = Vec::new();
        for s in sends {
            out.push(s.await.unwrap());
        }
        out
    };
    let accepted: Vec<&Answer> = answers.iter().filter(|a| a.status == 201).collect();
    let duplicates: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
    assert_eq!(accepted.len(), 1, "{answers:?}");
    assert_eq!(duplicates.len(), 2, "{answers:?}");
    assert_eq!(accepted[0].outcome(), "accepted");
    for d in &duplicates {
        assert_eq!(d.outcome(), "duplicate");
        assert_eq!(d.message_id(), accepted[0].message_id());
    }

    // A resend does not count twice against the tolerance: 40 + 30 advised,
    // 40 more still fit under 110.
    assert_accepted(
        &post(
            &url,
            core::ASNS,
            "third",
            &asn("ASN-THIRD", &[("PO-3000", 1, 40)]),
        )
        .await,
    );

    let s = quiescent(&t.core).await;
    assert_eq!(s.outbox_delivered, 4, "{s:?}");
    assert_eq!(s.inbox_messages, 4, "PO and three distinct ASNs: {s:?}");
    let calls = wms_stub.calls_to(wms::INBOUND_EXPECTATIONS);
    let asn_ids: Vec<&str> = calls.iter().map(|c| c.body["asn_id"].as_str().unwrap()).collect();
    assert_eq!(
        asn_ids.iter().filter(|&&a| a == "ASN-SEQ").count(),
        1,
        "{asn_ids:?}"
    );
    assert_eq!(
        asn_ids.iter().filter(|&&a| a == "ASN-CONC").count(),
        1,
        "{asn_ids:?}"
    );
    assert_eq!(calls.len(), 3, "{asn_ids:?}");

    // The same asn_id with another payload is a conflict, and changes nothing.
    let changed = asn("ASN-SEQ", &[("PO-3000", 1, 41)]);
    let a = post(&url, core::ASNS, "seq-changed", &changed).await;
    let p = a.assert_problem(409, "business-key-conflict");
    assert!(p.detail.as_deref().unwrap_or("").contains("ASN-SEQ"), "{p:?}");
    assert_eq!(status(&t.core).await.inbox_messages, 4);

    // The same asn_id from another supplier is another ASN, not a duplicate
    // (refused here only because the PO is not that supplier's).
    let mut other = asn("ASN-SEQ", &[("PO-3000", 1, 40)]);
    other.supplier_gln = other_supplier();
    let a = post(&url, core::ASNS, "other-supplier", &other).await;
    a.assert_problem(404, "unknown-purchase-order");
    t.stop().await;
}
}

crate::both_backends! {
/// A replace supersedes the open ASN: validated counting its new lines
/// instead of the old ones, the WMS gets the one expectation again (same
/// id, revision 2) and the old cartons are freed; a resent replace is a
/// duplicate. A cancel withdraws it (revision 3 to the WMS, SSCCs freed);
/// a replace or cancel of an ASN that is not open (cancelled, received or
/// unknown) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_and_cancel_update_and_withdraw_the_one_expectation() {
    use contracts::inbound::AsnPurpose;
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-4000", &[(1, 200)]);
    assert_accepted(&post(&url, core::PURCHASE_ORDERS, "po", &po).await);

    let original = asn("ASN-R", &[("PO-4000", 1, 200)]);
    assert_accepted(&post(&url, core::ASNS, "r-original", &original).await);
    // 200 advised + 10 % = 220: another 50 does not fit yet.
    let other = asn("ASN-O", &[("PO-4000", 1, 50)]);
    let a = post(&url, core::ASNS, "o-early", &other).await;
    a.assert_problem(422, "over-tolerance");

    // The replace: 120, in a new carton (the helper's cartons for another id).
    let mut replace = asn("ASN-R-v2", &[("PO-4000", 1, 120)]);
    replace.asn_id = "ASN-R".into();
    replace.purpose = AsnPurpose::Replace;
    assert_accepted(&post(&url, core::ASNS, "r-replace", &replace).await);
    let again = post(&url, core::ASNS, "r-replace-again", &replace).await;
    assert_eq!(
        (again.status, again.outcome()),
        (200, "duplicate"),
        "{}",
        again.body
    );
    // 120 + 50 fits now.
    assert_accepted(&post(&url, core::ASNS, "o", &other).await);

    // The replacing carton is held; the original's carton is free again.
    let mut clash = asn("ASN-X", &[("PO-4000", 1, 1)]);
    clash.handling_units[1].sscc = replace.handling_units[1].sscc.clone();
    clash.lines[0].sscc = replace.lines[0].sscc.clone();
    let a = post(&url, core::ASNS, "x", &clash).await;
    assert_eq!(
        a.assert_problem(422, "sscc-in-open-asn").errors[0].pointer,
        "/handling_units/1/sscc"
    );
    let mut reuse = asn("ASN-Y", &[("PO-4000", 1, 1)]);
    reuse.handling_units[1].sscc = original.handling_units[1].sscc.clone();
    reuse.lines[0].sscc = original.lines[0].sscc.clone();
    assert_accepted(&post(&url, core::ASNS, "y", &reuse).await);

    let created = parties.wms.wait_for(wms::INBOUND_EXPECTATIONS, 3).await;
    let first = created.iter().find(|c| c.body["asn_id"] == "ASN-R").unwrap();
    let id = first.body["expectation_id"].as_str().unwrap().to_owned();
    assert_eq!(first.body["revision"], 1);
    let updates = parties.wms.wait_for(wms::INBOUND_EXPECTATION_UPDATES, 1).await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].body["expectation_id"], id.as_str());
    assert_eq!(updates[0].body["revision"], 2);
    assert_eq!(updates[0].body["lines"][0]["quantity"], 120);
    assert_eq!(
        updates[0].idempotency_key.as_deref(),
        Some(format!("expectation:{id}:r2").as_str())
    );

    // Cancel: the WMS is told, the carton freed, a receipt then refused.
    let cancel = contracts::inbound::AdvanceShipNotice {
        purpose: AsnPurpose::Cancel,
        ..replace.clone()
    };
    assert_accepted(&post(&url, core::ASNS, "r-cancel", &cancel).await);
    let cancelled = parties
        .wms
        .wait_for(wms::INBOUND_EXPECTATION_CANCELLATIONS, 1)
        .await;
    assert_eq!(cancelled[0].body["expectation_id"], id.as_str());
    assert_eq!(cancelled[0].body["revision"], 3);
    assert_accepted(
        &post(&url, core::ASNS, "x-again", &{
            let mut x = clash.clone();
            x.asn_id = "ASN-X2".into();
            x
        })
        .await,
    );
    // Goods counted before the WMS heard of the cancel are still taken in
    // (as not advised: see the receipts tests); the ASN stays cancelled.
    let r = receipt("RCV-R", "EVT-R", 1, &id, "ASN-R", &[("PO-4000", 1, 120)]);
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "rcv-r", &r).await);
    let mut late = replace.clone();
    late.lines[0].quantity = 100;
    post(&url, core::ASNS, "r-late", &late)
        .await
        .assert_problem(422, "asn-not-open");

    // Goods received against ASN-O: it can no longer be replaced or cancelled.
    let o_id = created.iter().find(|c| c.body["asn_id"] == "ASN-O").unwrap().body["expectation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = receipt("RCV-O", "EVT-O", 1, &o_id, "ASN-O", &[("PO-4000", 1, 50)]);
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "rcv-o", &r).await);
    let o_cancel = contracts::inbound::AdvanceShipNotice {
        purpose: AsnPurpose::Cancel,
        ..other.clone()
    };
    let a = post(&url, core::ASNS, "o-cancel", &o_cancel).await;
    let problem = a.assert_problem(422, "asn-not-open");
    assert!(problem.detail.unwrap_or_default().contains("received"));
    let mut unknown = o_cancel.clone();
    unknown.asn_id = "ASN-NEVER".into();
    post(&url, core::ASNS, "never", &unknown)
        .await
        .assert_problem(422, "asn-not-open");
    // No further update or cancellation reached the WMS.
    assert_eq!(parties.wms.calls_to(wms::INBOUND_EXPECTATION_UPDATES).len(), 1);
    assert_eq!(
        parties.wms.calls_to(wms::INBOUND_EXPECTATION_CANCELLATIONS).len(),
        1
    );
    t.stop().await;
}
}

crate::both_backends! {
/// Goods nobody advised and the wrong item each raise exactly one
/// discrepancy of their kind, and neither is posted (blocked stock); the
/// advised, right lines are posted as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_advised_and_wrong_item_raise_one_discrepancy_each_and_post_nothing() {
    use contracts::inbound::StockStatus;
    use contracts::routes::erp;
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-5000", &[(1, 10), (2, 10)]);
    assert_accepted(&post(&url, core::PURCHASE_ORDERS, "po", &po).await);
    assert_accepted(
        &post(
            &url,
            core::ASNS,
            "a",
            &asn("ASN-D", &[("PO-5000", 1, 10), ("PO-5000", 2, 10)]),
        )
        .await,
    );
    let created = parties.wms.wait_for(wms::INBOUND_EXPECTATIONS, 1).await;
    let id = created[0].body["expectation_id"].as_str().unwrap().to_owned();

    let mut r = receipt(
        "RCV-D",
        "EVT-D",
        1,
        &id,
        "ASN-D",
        &[("PO-5000", 1, 10), ("PO-5000", 2, 10), ("PO-5000", 903, 2)],
    );
    r.lines[1].sku = format!("{}-ALT", r.lines[1].sku);
    r.lines[1].stock_status = StockStatus::Blocked;
    r.lines[2].sku = "UNADVISED".into();
    r.lines[2].stock_status = StockStatus::Blocked;
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "rcv", &r).await);

    let found = parties.erp.wait_for(erp::RECEIPT_DISCREPANCIES, 2).await;
    let mut kinds: Vec<(u64, String)> = found
        .iter()
        .map(|c| {
            (
                c.body["po_line_no"].as_u64().unwrap(),
                c.body["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [(2, "wrong_item".to_owned()), (903, "not_advised".to_owned())]
    );
    parties.erp.wait_for(erp::GOODS_RECEIPT_POSTINGS, 1).await;
    // Postings are queued before discrepancies: give a wrong one time to show.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let postings: Vec<_> = parties
        .erp
        .calls_to(erp::GOODS_RECEIPT_POSTINGS)
        .into_iter()
        .map(|c| {
            (
                c.body["po_line_no"].as_u64().unwrap(),
                c.body["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(postings, [(1, 10)]);
    assert_eq!(parties.erp.calls_to(erp::RECEIPT_DISCREPANCIES).len(), 2);
    t.stop().await;
}
}
