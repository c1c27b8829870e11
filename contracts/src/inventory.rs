//! Inventory, version 1.
//!
//! WMS → core → ERP: [`InventoryAdjustment`]. A reconciliation run compares an
//! ERP and a WMS [`InventorySnapshot`] of on-hand per (sku, location) and
//! records every gap once in a [`ReconciliationResult`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::Gln;
use crate::inbound::Uom;

/// Why on-hand stock changed outside receiving and shipping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentReason {
    CycleCount,
    Damaged,
    Expired,
    Found,
    Lost,
    QualityRelease,
    QualityBlock,
    Correction,
}

/// A WMS inventory adjustment: on-hand of one SKU at one location changed by
/// `delta` from `previous_on_hand`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryAdjustment {
    #[schemars(length(min = 1, max = 64))]
    pub adjustment_id: String,
    /// The WMS event this adjustment comes from; the natural dedupe key.
    #[schemars(length(min = 1, max = 64))]
    pub source_event_id: String,
    pub warehouse_gln: Gln,
    #[schemars(length(min = 1, max = 64))]
    pub sku: String,
    #[schemars(length(min = 1, max = 64))]
    pub location: String,
    /// Signed change of on-hand; never 0.
    pub delta: i64,
    /// On-hand before the change; `previous_on_hand + delta` is never negative.
    pub previous_on_hand: u64,
    pub uom: Uom,
    pub reason: AdjustmentReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub lot: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub occurred_at: String,
}

/// The system a snapshot was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotSource {
    Erp,
    Wms,
}

/// On-hand per (sku, location) in one system at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventorySnapshot {
    #[schemars(length(min = 1, max = 64))]
    pub snapshot_id: String,
    pub source: SnapshotSource,
    pub warehouse_gln: Gln,
    #[schemars(extend("format" = "date-time"))]
    pub taken_at: String,
    /// One position per (sku, location).
    pub positions: Vec<OnHandPosition>,
}

/// On-hand of one SKU at one location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnHandPosition {
    #[schemars(length(min = 1, max = 64))]
    pub sku: String,
    #[schemars(length(min = 1, max = 64))]
    pub location: String,
    pub uom: Uom,
    pub on_hand: u64,
}

/// How a reconciliation gap was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GapResolution {
    /// An adjustment was posted to the ERP to match the WMS.
    AdjustmentPosted,
    /// An exception was raised for a person to decide.
    ExceptionRaised,
}

/// The outcome of comparing an ERP and a WMS snapshot of one warehouse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationResult {
    #[schemars(length(min = 1, max = 64))]
    pub reconciliation_id: String,
    pub warehouse_gln: Gln,
    #[schemars(length(min = 1, max = 64))]
    pub erp_snapshot_id: String,
    #[schemars(length(min = 1, max = 64))]
    pub wms_snapshot_id: String,
    #[schemars(extend("format" = "date-time"))]
    pub run_at: String,
    /// Distinct (sku, location) pairs compared.
    pub positions_compared: u64,
    /// Every (sku, location) whose on-hand differs, once.
    pub gaps: Vec<InventoryGap>,
}

/// One (sku, location) whose on-hand differs between ERP and WMS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryGap {
    #[schemars(length(min = 1, max = 64))]
    pub sku: String,
    #[schemars(length(min = 1, max = 64))]
    pub location: String,
    pub uom: Uom,
    pub erp_on_hand: u64,
    pub wms_on_hand: u64,
    /// wms_on_hand − erp_on_hand; never 0.
    pub difference: i64,
    pub resolution: GapResolution,
    /// The adjustment or exception that records the gap.
    #[schemars(length(min = 1, max = 64))]
    pub reference: String,
}
