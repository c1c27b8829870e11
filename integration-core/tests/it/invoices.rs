//! Invoices through the core's API: the 3-way match (PO price × received
//! quantity) sent to the ERP as one match result per invoice, an invoice
//! held until its goods are received, and one exception per line that does
//! not match.

use contracts::invoicing::{LineMatchOutcome, MatchResult, MatchStatus};
use contracts::routes::{core, erp};

use crate::receipts::expect_goods;
use crate::support::*;

/// The match results the ERP received, parsed.
fn match_results(parties: &Parties) -> Vec<(Call, MatchResult)> {
    parties
        .erp
        .calls_to(erp::MATCH_RESULTS)
        .into_iter()
        .map(|c| {
            let r = serde_json::from_value(c.body.clone()).unwrap();
            (c, r)
        })
        .collect()
}

crate::both_backends! {
/// An invoice that arrives before its goods is taken in (201) but held: no
/// match result. The receipt matches it, once, on the invoice's own trace;
/// a later event of the receipt does not match it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_is_held_until_its_goods_are_received_then_matched_once() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-HOLD", &[(1, 100), (2, 50)]);
    let asn_doc = asn("ASN-HOLD", &[("PO-HOLD", 1, 100), ("PO-HOLD", 2, 50)]);
    let exp = expect_goods(&url, &parties, &po, &asn_doc).await;

    let inv = invoice("INV-HOLD", &po, &[(1, 100, "1.50"), (2, 50, "1.51")]);
    let trace = trace_id(0x1a0);
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    let opts = Send {
        key: Some("inv-hold"),
        traceparent: Some(&traceparent),
    };
    assert_accepted(&post_with(&url, core::INVOICES, opts, &inv).await);
    quiescent(&t.core).await;
    assert!(
        match_results(&parties).is_empty(),
        "nothing received yet: the invoice is held"
    );

    let gr = receipt(
        "RCV-HOLD",
        "EVT-HOLD-1",
        1,
        &exp.expectation_id,
        "ASN-HOLD",
        &[("PO-HOLD", 1, 100), ("PO-HOLD", 2, 50)],
    );
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "gr-hold-1", &gr).await);
    parties.erp.wait_for(erp::MATCH_RESULTS, 1).await;
    let mut later = gr.clone();
    later.event_id = "EVT-HOLD-2".into();
    later.seq = 2;
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "gr-hold-2", &later).await);
    quiescent(&t.core).await;

    let results = match_results(&parties);
    assert_eq!(results.len(), 1, "matched once: {results:?}");
    let (call, result) = &results[0];
    assert_eq!(
        call.trace_id().as_deref(),
        Some(trace.as_str()),
        "on the invoice's trace"
    );
    assert_eq!(
        call.idempotency_key.as_deref(),
        Some(format!("match:{}:INV-HOLD", supplier().as_str()).as_str())
    );
    assert_eq!(result.status, MatchStatus::Matched);
    assert!(result.exceptions.is_empty(), "{:?}", result.exceptions);
    let got: Vec<_> = result
        .lines
        .iter()
        .map(|l| (l.po_line_no, l.outcome, l.invoiced_qty, l.received_qty))
        .collect();
    assert_eq!(
        got,
        [
            (1, LineMatchOutcome::Matched, 100, 100),
            (2, LineMatchOutcome::Matched, 50, 50)
        ]
    );
    t.stop().await;
}
}

crate::both_backends! {
/// After receipt an invoice is matched at once. A line invoiced beyond what
/// was received, one priced beyond the tolerance and one not on the PO give
/// one exception each (invoiced ≤ received has no tolerance), in one result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_line_that_does_not_match_is_exactly_one_exception() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-EXC", &[(1, 100), (2, 50), (3, 10)]);
    let asn_doc = asn(
        "ASN-EXC",
        &[("PO-EXC", 1, 100), ("PO-EXC", 2, 50), ("PO-EXC", 3, 10)],
    );
    let exp = expect_goods(&url, &parties, &po, &asn_doc).await;
    let gr = receipt(
        "RCV-EXC",
        "EVT-EXC",
        1,
        &exp.expectation_id,
        "ASN-EXC",
        &[("PO-EXC", 1, 97), ("PO-EXC", 2, 50), ("PO-EXC", 3, 10)],
    );
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "gr-exc", &gr).await);
    quiescent(&t.core).await;

    // PO price 1.50, tolerance 2 %: 1.60 is beyond it, 1.52 within.
    let inv = invoice(
        "INV-EXC",
        &po,
        &[(1, 100, "1.50"), (2, 50, "1.60"), (9, 1, "1.50"), (3, 10, "1.52")],
    );
    assert_accepted(&post(&url, core::INVOICES, "inv-exc", &inv).await);
    parties.erp.wait_for(erp::MATCH_RESULTS, 1).await;
    quiescent(&t.core).await;

    let results = match_results(&parties);
    assert_eq!(results.len(), 1, "one result per invoice: {results:?}");
    let result = &results[0].1;
    assert_eq!(result.status, MatchStatus::Exception);
    let exceptions: Vec<_> = result
        .exceptions
        .iter()
        .map(|e| (e.invoice_line_no, e.kind, e.reason_code.as_str()))
        .collect();
    assert_eq!(
        exceptions,
        [
            (1, LineMatchOutcome::QuantityExceedsReceived, "QTY_OVER_RECEIVED"),
            (2, LineMatchOutcome::PriceVariance, "PRICE_VARIANCE"),
            (3, LineMatchOutcome::NotOnPo, "NOT_ON_PO"),
        ]
    );
    assert_eq!(result.lines[0].received_qty, 97);
    assert_eq!(result.lines[3].outcome, LineMatchOutcome::Matched);

    // The same invoice under a new key is a duplicate: nothing more sent.
    let again = post(&url, core::INVOICES, "inv-exc-again", &inv).await;
    assert_eq!(again.outcome(), "duplicate", "{}", again.body);
    quiescent(&t.core).await;
    assert_eq!(match_results(&parties).len(), 1);
    t.stop().await;
}
}

crate::both_backends! {
/// Received, for the 3-way match, is what was posted as the buyer's stock:
/// quality stock counts (received − damaged), blocked stock (the wrong
/// item, held for return) counts nothing, though its receipt still
/// releases the held invoice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_stock_is_not_received_for_the_match() {
    use contracts::inbound::StockStatus;
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-BLK", &[(1, 10), (2, 10)]);
    let asn_doc = asn("ASN-BLK", &[("PO-BLK", 1, 10), ("PO-BLK", 2, 10)]);
    let exp = expect_goods(&url, &parties, &po, &asn_doc).await;
    let price = po.lines[0].unit_price.clone();
    let inv = invoice("INV-BLK", &po, &[(1, 8, &price), (2, 10, &price)]);
    assert_accepted(&post(&url, core::INVOICES, "inv-blk", &inv).await);

    let mut gr = receipt(
        "RCV-BLK",
        "EVT-BLK-1",
        1,
        &exp.expectation_id,
        "ASN-BLK",
        &[("PO-BLK", 1, 10), ("PO-BLK", 2, 10)],
    );
    // Line 1: 2 damaged, 8 fit in quality stock; line 2: the wrong item.
    gr.lines[0].qty_damaged = 2;
    gr.lines[0].stock_status = StockStatus::Quality;
    gr.lines[1].sku = format!("{}-ALT", gr.lines[1].sku);
    gr.lines[1].stock_status = StockStatus::Blocked;
    assert_accepted(&post(&url, core::GOODS_RECEIPTS, "gr-blk", &gr).await);
    parties.erp.wait_for(erp::MATCH_RESULTS, 1).await;

    let results = match_results(&parties);
    let (_, result) = &results[0];
    let got: Vec<(u32, LineMatchOutcome, u32)> = result
        .lines
        .iter()
        .map(|l| (l.po_line_no, l.outcome, l.received_qty))
        .collect();
    assert_eq!(
        got,
        [
            (1, LineMatchOutcome::Matched, 8),
            (2, LineMatchOutcome::QuantityExceedsReceived, 0)
        ]
    );
    assert_eq!(result.exceptions.len(), 1);
    t.stop().await;
}
}
