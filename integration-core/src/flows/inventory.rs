//! Inventory: WMS adjustments forwarded to the ERP exactly once per
//! `source_event_id`, and reconciliation runs that compare ERP and WMS
//! on-hand per (sku, location) and post one corrective adjustment per gap.
//!
//! A reconciliation is an ops action (`POST /v1/ops/reconciliations`, with
//! an Idempotency-Key): the core reads an [`InventorySnapshot`] from the ERP
//! and from the WMS on one new trace, compares them, and in one transaction
//! stores the [`ReconciliationResult`] (its gaps, each once) and queues one
//! corrective adjustment per gap to the ERP (reason `correction`, delta =
//! WMS − ERP, on the same trace). A repeat of the key answers the stored
//! result. Runs are serialized, and a run is refused (409) while any
//! adjustment to the ERP is still pending in the outbox: the ERP snapshot
//! would not show it yet and the gap would be corrected twice. Once the
//! corrections are delivered the books agree, so a second run finds no gap.

use std::collections::BTreeMap;

use crate::db::{Conn, DbError, args};

use contracts::Role;
use contracts::inventory::{
    AdjustmentReason, GapResolution, InventoryAdjustment, InventoryGap, InventorySnapshot,
    ReconciliationResult,
};
use contracts::routes::erp;
use contracts::time::rfc3339_utc;

use crate::error::ApiError;
use crate::store::Tx;

/// Tables of the inventory flow.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS reconciliations (
    reconciliation_id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at_us INTEGER NOT NULL
);
-- Each gap of a run, once.
CREATE TABLE IF NOT EXISTS reconciliation_gaps (
    reconciliation_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    location TEXT NOT NULL,
    difference INTEGER NOT NULL,
    adjustment_id TEXT NOT NULL,
    PRIMARY KEY (reconciliation_id, sku, location)
);
"#;

/// A WMS adjustment: forwarded to the ERP as it is. `key` is the outbox's
/// Idempotency-Key for it (by `source_event_id` in the real core).
pub fn adjustment(tx: &Tx<'_>, a: &InventoryAdjustment, key: &str) -> Result<(), ApiError> {
    tx.enqueue(Role::Erp, erp::INVENTORY_ADJUSTMENTS, key, a)
}

/// Deliveries of adjustments to the ERP not yet made.
pub fn pending_adjustments(conn: &dyn Conn) -> Result<i64, DbError> {
    conn.one(
        "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND partner = 'erp' AND path = ?1",
        args![erp::INVENTORY_ADJUSTMENTS],
    )
}

/// The stored result answered to `idempotency_key`, if any.
pub fn by_key(conn: &dyn Conn, idempotency_key: &str) -> Result<Option<String>, DbError> {
    conn.one_opt(
        "SELECT body FROM reconciliations WHERE idempotency_key = ?1",
        args![idempotency_key],
    )
}

/// A stored result by id.
pub fn by_id(conn: &dyn Conn, reconciliation_id: &str) -> Result<Option<String>, DbError> {
    conn.one_opt(
        "SELECT body FROM reconciliations WHERE reconciliation_id = ?1",
        args![reconciliation_id],
    )
}

/// The gaps between two snapshots, per (sku, location) in either, in
/// (sku, location) order: (sku, location, uom, erp, wms). Also how many
/// positions were compared.
pub fn compare(erp_snap: &InventorySnapshot, wms_snap: &InventorySnapshot) -> (u64, Vec<InventoryGap>) {
    let mut both: BTreeMap<(&str, &str), (contracts::inbound::Uom, u64, u64)> = BTreeMap::new();
    for p in &erp_snap.positions {
        both.entry((&p.sku, &p.location)).or_insert((p.uom, 0, 0)).1 += p.on_hand;
    }
    for p in &wms_snap.positions {
        both.entry((&p.sku, &p.location)).or_insert((p.uom, 0, 0)).2 += p.on_hand;
    }
    let gaps = both
        .iter()
        .filter(|(_, (_, e, w))| e != w)
        .map(|((sku, location), (uom, e, w))| InventoryGap {
            sku: (*sku).to_owned(),
            location: (*location).to_owned(),
            uom: *uom,
            erp_on_hand: *e,
            wms_on_hand: *w,
            difference: *w as i64 - *e as i64,
            resolution: GapResolution::AdjustmentPosted,
            reference: String::new(),
        })
        .collect();
    (both.len() as u64, gaps)
}

/// Stores a reconciliation of the two snapshots and queues one corrective
/// adjustment per gap, all in `tx`.
pub fn reconcile(
    tx: &Tx<'_>,
    idempotency_key: &str,
    erp_snap: &InventorySnapshot,
    wms_snap: &InventorySnapshot,
) -> Result<ReconciliationResult, ApiError> {
    let n: i64 = tx.conn().one("SELECT COUNT(*) FROM reconciliations", &[])?;
    let reconciliation_id = format!("REC-{:08}", n + 1);
    let (positions_compared, mut gaps) = compare(erp_snap, wms_snap);
    let occurred_at = rfc3339_utc(tx.now_us);
    for (i, gap) in gaps.iter_mut().enumerate() {
        let adjustment_id = format!("{reconciliation_id}-ADJ-{:05}", i + 1);
        gap.reference = adjustment_id.clone();
        tx.conn().execute(
            "INSERT INTO reconciliation_gaps (reconciliation_id, sku, location, difference, adjustment_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            args![
                reconciliation_id,
                gap.sku,
                gap.location,
                gap.difference,
                adjustment_id
            ],
        )?;
        let correction = InventoryAdjustment {
            adjustment_id: adjustment_id.clone(),
            source_event_id: adjustment_id.clone(),
            warehouse_gln: wms_snap.warehouse_gln.clone(),
            sku: gap.sku.clone(),
            location: gap.location.clone(),
            delta: gap.difference,
            previous_on_hand: gap.erp_on_hand,
            uom: gap.uom,
            reason: AdjustmentReason::Correction,
            lot: None,
            occurred_at: occurred_at.clone(),
        };
        tx.enqueue(
            Role::Erp,
            erp::INVENTORY_ADJUSTMENTS,
            &format!("correction:{adjustment_id}"),
            &correction,
        )?;
    }
    let result = ReconciliationResult {
        reconciliation_id: reconciliation_id.clone(),
        warehouse_gln: wms_snap.warehouse_gln.clone(),
        erp_snapshot_id: erp_snap.snapshot_id.clone(),
        wms_snapshot_id: wms_snap.snapshot_id.clone(),
        run_at: occurred_at,
        positions_compared,
        gaps,
    };
    tx.conn().execute(
        "INSERT INTO reconciliations (reconciliation_id, idempotency_key, body, created_at_us) VALUES (?1, ?2, ?3, ?4)",
        args![
            reconciliation_id,
            idempotency_key,
            serde_json::to_string(&result).map_err(|e| ApiError::Storage(e.to_string()))?,
            tx.now_us as i64
        ],
    )?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::inbound::Uom;
    use contracts::inventory::{OnHandPosition, SnapshotSource};

    fn snap(source: SnapshotSource, positions: &[(&str, &str, u64)]) -> InventorySnapshot {
        InventorySnapshot {
            snapshot_id: "S".into(),
            source,
            warehouse_gln: contracts::Gln::parse("5060000000092").unwrap(),
            taken_at: "2026-11-23T00:00:00Z".into(),
            positions: positions
                .iter()
                .map(|(sku, location, on_hand)| OnHandPosition {
                    sku: (*sku).into(),
                    location: (*location).into(),
                    uom: Uom::Ea,
                    on_hand: *on_hand,
                })
                .collect(),
        }
    }

    #[test]
    fn compare_finds_each_differing_position_once_on_either_side() {
        let erp = snap(
            SnapshotSource::Erp,
            &[("A", "STOCK", 10), ("B", "STOCK", 5), ("C", "QA", 1)],
        );
        let wms = snap(
            SnapshotSource::Wms,
            &[("A", "STOCK", 8), ("B", "STOCK", 5), ("D", "STOCK", 2)],
        );
        let (compared, gaps) = compare(&erp, &wms);
        assert_eq!(compared, 4);
        let got: Vec<_> = gaps
            .iter()
            .map(|g| (g.sku.as_str(), g.erp_on_hand, g.wms_on_hand, g.difference))
            .collect();
        assert_eq!(got, [("A", 10, 8, -2), ("C", 1, 0, -1), ("D", 0, 2, 2)]);
    }
}
