//! Outbound flow (order to ship), version 1.
//!
//! ERP → core → WMS: [`OrderRelease`], answered at once with an
//! [`OrderReleaseDecision`] (accepted or rejected as a whole, with reasons per
//! line); WMS → core: [`ShipmentConfirmation`] (asynchronous);
//! core → ERP: [`ErpShipmentPosting`], one per (shipment, line).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{Gln, Gtin, Sscc};
use crate::inbound::{HandlingUnit, Uom};

/// Where an order is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipTo {
    /// The delivery location, when it has a GLN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_gln: Option<Gln>,
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    #[schemars(length(min = 1, max = 100))]
    pub address_line: String,
    #[schemars(length(min = 1, max = 64))]
    pub city: String,
    #[schemars(length(min = 1, max = 16))]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    #[schemars(pattern(r"^[A-Z]{2}$"))]
    pub country_code: String,
}

/// A sales order the ERP releases to a warehouse, through the core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRelease {
    #[schemars(length(min = 1, max = 35))]
    pub order_number: String,
    /// Incremented on every change; the pair (order_number, version) is unique.
    #[schemars(range(min = 1))]
    pub version: u32,
    /// The warehouse that is to ship the order.
    pub warehouse_gln: Gln,
    pub ship_to: ShipTo,
    #[schemars(extend("format" = "date"))]
    pub release_date: String,
    #[schemars(extend("format" = "date"))]
    pub requested_ship_date: String,
    /// Standard Carrier Alpha Code, when the ERP chose the carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Z]{2,4}$"))]
    pub carrier_scac: Option<String>,
    #[schemars(length(min = 1, max = 999))]
    pub lines: Vec<OrderReleaseLine>,
}

/// One line of an order release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderReleaseLine {
    #[schemars(range(min = 1))]
    pub line_no: u32,
    #[schemars(length(min = 1, max = 64))]
    pub sku: String,
    pub gtin: Gtin,
    #[schemars(range(min = 1))]
    pub quantity: u32,
    pub uom: Uom,
}

/// Accepted or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Accepted,
    Rejected,
}

/// Why a warehouse refuses an order or one of its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseRejectionCode {
    /// The item is not in the warehouse's item master.
    UnknownItem,
    /// The unit of measure is not set up for the item.
    UomNotSupported,
    /// Not enough stock to allocate.
    InsufficientStock,
    /// The ship-to address cannot be served.
    InvalidShipTo,
    /// The order (number, version) is already known with other content.
    DuplicateOrder,
    /// Another line of the order was rejected; releases are all or nothing.
    OtherLineRejected,
}

/// One reason for a rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRejectionReason {
    pub code: ReleaseRejectionCode,
    #[schemars(length(min = 1, max = 500))]
    pub detail: String,
}

/// The warehouse's synchronous answer to an [`OrderRelease`]. A release is
/// all or nothing: a rejected one leaves no warehouse order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderReleaseDecision {
    #[schemars(length(min = 1, max = 35))]
    pub order_number: String,
    #[schemars(range(min = 1))]
    pub order_version: u32,
    pub decision: Decision,
    /// The warehouse's order id: present exactly when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub warehouse_order_id: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub decided_at: String,
    /// Reasons that concern the whole order (such as the ship-to).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<ReleaseRejectionReason>,
    /// One decision per released line.
    #[schemars(length(min = 1, max = 999))]
    pub lines: Vec<LineDecision>,
}

/// The decision on one line of a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineDecision {
    #[schemars(range(min = 1))]
    pub line_no: u32,
    pub decision: Decision,
    /// Why the line was rejected; empty when accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<ReleaseRejectionReason>,
}

/// A WMS ship confirmation: what left the dock for one warehouse order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentConfirmation {
    #[schemars(length(min = 1, max = 64))]
    pub shipment_id: String,
    /// Unique per event; the natural dedupe key of a redelivered event.
    #[schemars(length(min = 1, max = 64))]
    pub event_id: String,
    #[schemars(length(min = 1, max = 35))]
    pub order_number: String,
    #[schemars(range(min = 1))]
    pub order_version: u32,
    #[schemars(length(min = 1, max = 64))]
    pub warehouse_order_id: String,
    pub warehouse_gln: Gln,
    #[schemars(extend("format" = "date-time"))]
    pub shipped_at: String,
    #[schemars(pattern(r"^[A-Z]{2,4}$"))]
    pub carrier_scac: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub tracking_number: Option<String>,
    /// Pallets and cartons shipped; empty for loose parcels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handling_units: Vec<HandlingUnit>,
    #[schemars(length(min = 1, max = 999))]
    pub lines: Vec<ShipmentLine>,
}

/// One line of a ship confirmation, against the released order line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentLine {
    /// The order line shipped against (unique in the confirmation).
    #[schemars(range(min = 1))]
    pub line_no: u32,
    #[schemars(length(min = 1, max = 64))]
    pub sku: String,
    pub gtin: Gtin,
    /// Quantity released on the order line.
    #[schemars(range(min = 1))]
    pub qty_ordered: u32,
    /// Quantity shipped: at most `qty_ordered`; 0 for a line shipped short.
    pub qty_shipped: u32,
    pub uom: Uom,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub lot: Option<String>,
    /// The handling unit the goods left in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sscc: Option<Sscc>,
}

/// A shipment posting to the ERP: one per (shipment, line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErpShipmentPosting {
    #[schemars(length(min = 1, max = 64))]
    pub shipment_id: String,
    #[schemars(length(min = 1, max = 35))]
    pub order_number: String,
    #[schemars(range(min = 1))]
    pub order_line_no: u32,
    #[schemars(length(min = 1, max = 64))]
    pub sku: String,
    /// Quantity shipped (0 closes a line shipped short).
    pub quantity: u32,
    pub uom: Uom,
    #[schemars(extend("format" = "date-time"))]
    pub shipped_at: String,
}
