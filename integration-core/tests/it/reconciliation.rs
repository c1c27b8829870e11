//! Reconciliation runs through the ops API: each gap between the ERP's and
//! the WMS's on-hand recorded and corrected once, the stored result by key
//! and by id, and 409 while adjustments to the ERP are still pending.

use std::time::Duration;

use contracts::inbound::Uom;
use contracts::inventory::{
    AdjustmentReason, InventoryAdjustment, InventorySnapshot, OnHandPosition, ReconciliationResult,
    SnapshotSource,
};
use contracts::routes::{core, erp, wms};

use crate::support::*;

fn snapshot(source: SnapshotSource, positions: &[(&str, &str, u64)]) -> InventorySnapshot {
    InventorySnapshot {
        snapshot_id: format!("SNAP-{source:?}"),
        source,
        warehouse_gln: gln(506_000_000_100),
        taken_at: "2025-03-20T06:00:00Z".into(),
        positions: positions
            .iter()
            .map(|&(sku, location, on_hand)| OnHandPosition {
                sku: sku.into(),
                location: location.into(),
                uom: Uom::Ea,
                on_hand,
            })
            .collect(),
    }
}

/// Starts a reconciliation with Idempotency-Key `key`, as an operator.
async fn reconcile(url: &str, key: &str) -> Answer {
    send_as(
        &client(),
        &format!("{url}{}", core::OPS_RECONCILIATIONS),
        Some(OPS_TOKEN),
        Send {
            key: Some(key),
            ..Send::default()
        },
        Vec::new(),
    )
    .await
}

crate::both_backends! {
/// Three gaps (one on each side only, one differing) are recorded once
/// each and corrected by one ERP adjustment each; the key's repeat and
/// `GET …/{id}` answer the stored result; once the books agree a new run
/// finds no gap and sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_gap_is_recorded_and_corrected_once_and_the_result_is_stored() {
    let parties = Parties::start().await;
    parties.erp.serve(
        erp::INVENTORY_SNAPSHOT,
        &snapshot(
            SnapshotSource::Erp,
            &[("A", "STOCK", 10), ("B", "STOCK", 5), ("C", "QA", 1)],
        ),
    );
    parties.wms.serve(
        wms::INVENTORY_SNAPSHOT,
        &snapshot(
            SnapshotSource::Wms,
            &[("A", "STOCK", 8), ("B", "STOCK", 5), ("D", "STOCK", 2)],
        ),
    );
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();

    let first = reconcile(&url, "rec-1").await;
    assert_eq!(first.status, 201, "{}", first.body);
    let result: ReconciliationResult = serde_json::from_value(first.body.clone()).unwrap();
    assert_eq!(result.positions_compared, 4);
    let gaps: Vec<_> = result
        .gaps
        .iter()
        .map(|g| (g.sku.as_str(), g.location.as_str(), g.difference))
        .collect();
    assert_eq!(gaps, [("A", "STOCK", -2), ("C", "QA", -1), ("D", "STOCK", 2)]);

    parties.erp.wait_for(erp::INVENTORY_ADJUSTMENTS, 3).await;
    quiescent(&t.core).await;
    let corrections = parties.erp.calls_to(erp::INVENTORY_ADJUSTMENTS);
    assert_eq!(corrections.len(), 3, "one correction per gap");
    for gap in &result.gaps {
        // Deliveries run concurrently: found by key, not by order.
        let key = format!("correction:{}", gap.reference);
        let call = corrections
            .iter()
            .find(|c| c.idempotency_key.as_deref() == Some(key.as_str()))
            .unwrap_or_else(|| panic!("no correction {key}"));
        let adj: InventoryAdjustment = serde_json::from_value(call.body.clone()).unwrap();
        assert_eq!((adj.sku.as_str(), adj.delta), (gap.sku.as_str(), gap.difference));
        assert_eq!(adj.reason, AdjustmentReason::Correction);
    }

    // The same key: the stored result, nothing run again.
    let again = reconcile(&url, "rec-1").await;
    assert_eq!(again.status, 201);
    assert!(again.replayed());
    assert_eq!(again.body, first.body);
    let by_id = answer(
        client()
            .get(format!(
                "{url}/v1/ops/reconciliations/{}",
                result.reconciliation_id
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(by_id.status, 200);
    assert_eq!(by_id.body, first.body);
    let unknown = answer(
        client()
            .get(format!("{url}/v1/ops/reconciliations/REC-99999999"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    unknown.assert_problem(404, "unknown-reconciliation");

    // The corrections landed: the books agree, a new run finds nothing.
    parties.erp.serve(
        erp::INVENTORY_SNAPSHOT,
        &snapshot(
            SnapshotSource::Erp,
            &[("A", "STOCK", 8), ("B", "STOCK", 5), ("D", "STOCK", 2)],
        ),
    );
    let second = reconcile(&url, "rec-2").await;
    assert_eq!(second.status, 201, "{}", second.body);
    let second: ReconciliationResult = serde_json::from_value(second.body).unwrap();
    assert_ne!(second.reconciliation_id, result.reconciliation_id);
    assert!(second.gaps.is_empty(), "{:?}", second.gaps);
    quiescent(&t.core).await;
    assert_eq!(parties.erp.calls_to(erp::INVENTORY_ADJUSTMENTS).len(), 3);
    t.stop().await;
}
}

crate::both_backends! {
/// While an adjustment to the ERP is still pending (its delivery is in
/// flight), a run is refused with 409 and nothing is stored under its key;
/// once it is delivered the same key runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_refused_with_409_while_adjustments_are_pending() {
    let erp_stub = Stub::scripted(vec![Reply::slow(201, Duration::from_millis(1500))]).await;
    let wms_stub = Stub::start().await;
    let books = snapshot(SnapshotSource::Erp, &[("A", "STOCK", 7)]);
    erp_stub.serve(erp::INVENTORY_SNAPSHOT, &books);
    wms_stub.serve(
        wms::INVENTORY_SNAPSHOT,
        &snapshot(SnapshotSource::Wms, &[("A", "STOCK", 7)]),
    );
    let t = TestCore::start(partners(&erp_stub.url, &wms_stub.url, CLOSED)).await;
    let url = t.url();
    let adjustment = InventoryAdjustment {
        adjustment_id: "ADJ-1".into(),
        source_event_id: "WMS-EVT-1".into(),
        warehouse_gln: gln(506_000_000_100),
        sku: "A".into(),
        location: "STOCK".into(),
        delta: -1,
        previous_on_hand: 8,
        uom: Uom::Ea,
        reason: AdjustmentReason::Damaged,
        lot: None,
        occurred_at: "2025-03-20T05:00:00Z".into(),
    };
    assert_accepted(&post(&url, core::INVENTORY_ADJUSTMENTS, "adj-1", &adjustment).await);
    // The delivery has reached the ERP, which takes its time to answer.
    erp_stub.wait_for(erp::INVENTORY_ADJUSTMENTS, 1).await;

    let refused = reconcile(&url, "rec-p").await;
    let p = refused.assert_problem(409, "adjustments-in-flight");
    assert!(p.detail.unwrap().contains("1 adjustment"));
    assert!(
        erp_stub.calls_to(erp::INVENTORY_SNAPSHOT).is_empty(),
        "no snapshot read while refusing"
    );

    quiescent(&t.core).await;
    let ran = reconcile(&url, "rec-p").await;
    assert_eq!(ran.status, 201, "{}", ran.body);
    assert!(!ran.replayed(), "the refusal stored nothing under the key");
    let result: ReconciliationResult = serde_json::from_value(ran.body).unwrap();
    assert!(result.gaps.is_empty());
    t.stop().await;
}
}
