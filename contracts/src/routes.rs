//! Every role's operations: method, path, and the schemas of their bodies.
//!
//! This table is the one home of endpoint paths. Servers route by it,
//! clients call by it, and the harness looks up which schema a recorded
//! body must satisfy.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A party in an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Erp,
    Wms,
    Supplier,
    /// The integration core.
    Core,
    /// The harness itself, when it drives a party.
    Harness,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Erp => "erp",
            Role::Wms => "wms",
            Role::Supplier => "supplier",
            Role::Core => "core",
            Role::Harness => "harness",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One HTTP operation a role serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The role that serves it.
    pub role: Role,
    pub method: &'static str,
    pub path: &'static str,
    /// Schema name (see [`crate::schema`]) of the request body; empty for
    /// an operation that takes none (a GET).
    pub request: &'static str,
    /// Schema name of a 2xx response body.
    pub response: &'static str,
    /// The request must carry an Idempotency-Key.
    pub idempotency_key: bool,
    /// Statuses of a success answer (a replay repeats the stored one).
    pub success: &'static [u16],
}

/// Paths the integration core serves.
pub mod core {
    pub const PURCHASE_ORDERS: &str = "/v1/purchase-orders";
    pub const PO_ACKNOWLEDGEMENTS: &str = "/v1/po-acknowledgements";
    pub const ASNS: &str = "/v1/asns";
    pub const GOODS_RECEIPTS: &str = "/v1/goods-receipts";
    /// ERP → core: a sales order for a warehouse, decided synchronously.
    pub const ORDER_RELEASES: &str = "/v1/order-releases";
    /// WMS → core: ship confirmations.
    pub const SHIPMENT_CONFIRMATIONS: &str = "/v1/shipment-confirmations";
    /// WMS → core: inventory adjustments.
    pub const INVENTORY_ADJUSTMENTS: &str = "/v1/inventory-adjustments";
    /// Supplier → core: invoices.
    pub const INVOICES: &str = "/v1/invoices";
    /// Supplier → core: one X12 interchange (855, 856, 810 sets) as
    /// `application/edi-x12`, answered with its TA1 or 997/999 (docs/EDI.md).
    /// Not in [`super::OPERATIONS`]: its bodies are X12, not JSON schemas.
    pub const X12_INTERCHANGES: &str = "/v1/x12/interchanges";
    /// Operational status (outbox depth), for quiescence.
    pub const OPS_STATUS: &str = "/v1/ops/status";
    /// Dead letters: deliveries given up on (GET lists them).
    pub const OPS_DEAD_LETTERS: &str = "/v1/ops/dead-letters";
    /// Replays dead letters: one, some, all, or a time range (POST).
    pub const OPS_DEAD_LETTER_REPLAY: &str = "/v1/ops/dead-letters/replay";
    /// Runs an inventory reconciliation (POST, Idempotency-Key required):
    /// ERP and WMS snapshots compared, one corrective adjustment per gap.
    pub const OPS_RECONCILIATIONS: &str = "/v1/ops/reconciliations";
    /// One stored reconciliation result (GET), by its id.
    pub const OPS_RECONCILIATION: &str = "/v1/ops/reconciliations/{reconciliation_id}";
    /// The hops of one business flow, by W3C trace id (GET).
    pub const OPS_TRACE: &str = "/v1/trace/{trace_id}";
    /// Prometheus text exposition (GET).
    pub const METRICS: &str = "/metrics";
}

/// Paths a supplier serves.
pub mod supplier {
    pub const PURCHASE_ORDERS: &str = "/v1/purchase-orders";
}

/// Paths an ERP serves.
pub mod erp {
    pub const PO_ACKNOWLEDGEMENTS: &str = "/v1/po-acknowledgements";
    pub const GOODS_RECEIPT_POSTINGS: &str = "/v1/goods-receipt-postings";
    pub const RECEIPT_DISCREPANCIES: &str = "/v1/receipt-discrepancies";
    pub const SHIPMENT_POSTINGS: &str = "/v1/shipment-postings";
    pub const INVENTORY_ADJUSTMENTS: &str = "/v1/inventory-adjustments";
    pub const MATCH_RESULTS: &str = "/v1/match-results";
    /// On-hand per (sku, location) as the ERP books it, now (GET).
    pub const INVENTORY_SNAPSHOT: &str = "/v1/inventory-snapshot";
}

/// Paths a WMS serves.
pub mod wms {
    pub const INBOUND_EXPECTATIONS: &str = "/v1/inbound-expectations";
    /// A replaced ASN's expectation, whole, at a higher revision.
    pub const INBOUND_EXPECTATION_UPDATES: &str = "/v1/inbound-expectation-updates";
    /// A cancelled ASN's expectation withdrawn.
    pub const INBOUND_EXPECTATION_CANCELLATIONS: &str = "/v1/inbound-expectation-cancellations";
    /// Order releases, answered at once with an `OrderReleaseDecision`.
    pub const ORDER_RELEASES: &str = "/v1/order-releases";
    /// On-hand per (sku, location) as the warehouse counts it, now (GET).
    pub const INVENTORY_SNAPSHOT: &str = "/v1/inventory-snapshot";
}

const fn op(role: Role, path: &'static str, request: &'static str, response: &'static str) -> Operation {
    Operation {
        role,
        method: "POST",
        path,
        request,
        response,
        idempotency_key: true,
        success: match role {
            // 201 first intake, 200 duplicate by business key.
            Role::Core => &[201, 200],
            // The supplier acknowledges and ships later.
            Role::Supplier => &[202],
            _ => &[201],
        },
    }
}

/// An operation answered synchronously with a decision (accepted or
/// rejected, both 200); a replay repeats the stored decision.
const fn decision_op(
    role: Role,
    path: &'static str,
    request: &'static str,
    response: &'static str,
) -> Operation {
    Operation {
        success: &[200],
        ..op(role, path, request, response)
    }
}

/// A read: GET, no request body, no Idempotency-Key, 200 with `response`.
const fn read_op(role: Role, path: &'static str, response: &'static str) -> Operation {
    Operation {
        role,
        method: "GET",
        path,
        request: "",
        response,
        idempotency_key: false,
        success: &[200],
    }
}

/// Every business operation of every role, version 1.
pub const OPERATIONS: &[Operation] = &[
    op(Role::Core, core::PURCHASE_ORDERS, "PurchaseOrder", "IntakeAck"),
    op(
        Role::Core,
        core::PO_ACKNOWLEDGEMENTS,
        "PoAcknowledgement",
        "IntakeAck",
    ),
    op(Role::Core, core::ASNS, "AdvanceShipNotice", "IntakeAck"),
    op(Role::Core, core::GOODS_RECEIPTS, "GoodsReceipt", "IntakeAck"),
    decision_op(
        Role::Core,
        core::ORDER_RELEASES,
        "OrderRelease",
        "OrderReleaseDecision",
    ),
    op(
        Role::Core,
        core::SHIPMENT_CONFIRMATIONS,
        "ShipmentConfirmation",
        "IntakeAck",
    ),
    op(
        Role::Core,
        core::INVENTORY_ADJUSTMENTS,
        "InventoryAdjustment",
        "IntakeAck",
    ),
    op(Role::Core, core::INVOICES, "Invoice", "IntakeAck"),
    op(
        Role::Supplier,
        supplier::PURCHASE_ORDERS,
        "PurchaseOrder",
        "PartnerAck",
    ),
    op(
        Role::Erp,
        erp::PO_ACKNOWLEDGEMENTS,
        "PoAcknowledgement",
        "PartnerAck",
    ),
    op(
        Role::Erp,
        erp::GOODS_RECEIPT_POSTINGS,
        "ErpGoodsReceiptPosting",
        "PartnerAck",
    ),
    op(
        Role::Erp,
        erp::RECEIPT_DISCREPANCIES,
        "ReceiptDiscrepancy",
        "PartnerAck",
    ),
    op(
        Role::Erp,
        erp::SHIPMENT_POSTINGS,
        "ErpShipmentPosting",
        "PartnerAck",
    ),
    op(
        Role::Erp,
        erp::INVENTORY_ADJUSTMENTS,
        "InventoryAdjustment",
        "PartnerAck",
    ),
    op(Role::Erp, erp::MATCH_RESULTS, "MatchResult", "PartnerAck"),
    read_op(Role::Erp, erp::INVENTORY_SNAPSHOT, "InventorySnapshot"),
    read_op(Role::Wms, wms::INVENTORY_SNAPSHOT, "InventorySnapshot"),
    op(
        Role::Wms,
        wms::INBOUND_EXPECTATIONS,
        "InboundExpectation",
        "PartnerAck",
    ),
    op(
        Role::Wms,
        wms::INBOUND_EXPECTATION_UPDATES,
        "InboundExpectation",
        "PartnerAck",
    ),
    op(
        Role::Wms,
        wms::INBOUND_EXPECTATION_CANCELLATIONS,
        "InboundExpectationCancellation",
        "PartnerAck",
    ),
    decision_op(
        Role::Wms,
        wms::ORDER_RELEASES,
        "OrderRelease",
        "OrderReleaseDecision",
    ),
];

/// The operation `role` serves at `method path`, if any.
pub fn operation(role: Role, method: &str, path: &str) -> Option<&'static Operation> {
    OPERATIONS
        .iter()
        .find(|o| o.role == role && o.method.eq_ignore_ascii_case(method) && o.path == path)
}
