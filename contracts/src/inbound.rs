//! Inbound flow (procure to receipt), version 1.
//!
//! ERP → core: [`PurchaseOrder`]; core → supplier: [`PurchaseOrder`];
//! supplier → core: [`PoAcknowledgement`], [`AdvanceShipNotice`];
//! core → ERP: [`PoAcknowledgement`] (commitment update);
//! core → WMS: [`InboundExpectation`] (and its updates and
//! [`InboundExpectationCancellation`]); WMS → core: [`GoodsReceipt`];
//! core → ERP: [`ErpGoodsReceiptPosting`], [`ReceiptDiscrepancy`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{Gln, Gtin, Sscc};

/// Unit of measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Uom {
    /// Each (a single consumer unit).
    Ea,
    /// Case.
    Cs,
    /// Pallet.
    Pl,
}

impl Uom {
    /// The unit its wire code (`EA`, `CS`, `PL`) names.
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "EA" => Some(Uom::Ea),
            "CS" => Some(Uom::Cs),
            "PL" => Some(Uom::Pl),
            _ => None,
        }
    }
}

/// Status of a purchase-order line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PoLineStatus {
    Open,
    Closed,
    Cancelled,
}

/// A purchase order released by the ERP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseOrder {
    #[schemars(length(min = 1, max = 35))]
    pub po_number: String,
    /// Incremented on every change; the pair (po_number, version) is unique.
    #[schemars(range(min = 1))]
    pub version: u32,
    pub supplier_gln: Gln,
    pub ship_to_gln: Gln,
    /// ISO 4217 currency code.
    #[schemars(pattern(r"^[A-Z]{3}$"))]
    pub currency: String,
    #[schemars(extend("format" = "date"))]
    pub order_date: String,
    #[schemars(length(min = 1, max = 999))]
    pub lines: Vec<PoLine>,
}

/// One line of a purchase order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoLine {
    #[schemars(range(min = 1))]
    pub line_no: u32,
    #[schemars(length(min = 1, max = 64))]
    pub sku: String,
    pub gtin: Gtin,
    #[schemars(range(min = 1))]
    pub quantity: u32,
    pub uom: Uom,
    /// Decimal price per unit, in the order's currency.
    #[schemars(pattern(r"^[0-9]{1,12}(\.[0-9]{1,4})?$"))]
    pub unit_price: String,
    #[schemars(extend("format" = "date"))]
    pub requested_date: String,
    /// Over-delivery tolerated, in percent of the open quantity.
    #[schemars(range(max = 100))]
    pub over_tolerance_pct: u8,
    /// Under-delivery tolerated, in percent of the open quantity.
    #[schemars(range(max = 100))]
    pub under_tolerance_pct: u8,
    pub status: PoLineStatus,
}

/// A supplier's answer for one purchase-order line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AckLineStatus {
    Accepted,
    QuantityChanged,
    Rejected,
    Backordered,
    DateRescheduled,
}

/// A supplier's acknowledgement of a purchase order (EDI 855).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoAcknowledgement {
    #[schemars(length(min = 1, max = 64))]
    pub ack_id: String,
    #[schemars(length(min = 1, max = 35))]
    pub po_number: String,
    #[schemars(range(min = 1))]
    pub po_version: u32,
    pub supplier_gln: Gln,
    #[schemars(length(min = 1))]
    pub lines: Vec<AckLine>,
}

/// The acknowledgement of one purchase-order line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AckLine {
    #[schemars(range(min = 1))]
    pub line_no: u32,
    pub status: AckLineStatus,
    /// Quantity the supplier commits to ship (0 when rejected).
    pub confirmed_qty: u32,
    #[schemars(extend("format" = "date"))]
    pub promised_date: String,
}

/// Why an ASN was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AsnPurpose {
    Original,
    Replace,
    Cancel,
}

/// Level of a handling unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandlingUnitLevel {
    Pallet,
    Carton,
}

/// A pallet or carton, identified by its SSCC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandlingUnit {
    pub sscc: Sscc,
    pub level: HandlingUnitLevel,
    /// The pallet a carton sits on; absent for top-level units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_sscc: Option<Sscc>,
}

/// An advance ship notice (EDI 856): what a supplier has shipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceShipNotice {
    #[schemars(length(min = 1, max = 64))]
    pub asn_id: String,
    pub purpose: AsnPurpose,
    pub supplier_gln: Gln,
    #[schemars(extend("format" = "date"))]
    pub ship_date: String,
    #[schemars(extend("format" = "date"))]
    pub estimated_arrival: String,
    /// Standard Carrier Alpha Code.
    #[schemars(pattern(r"^[A-Z]{2,4}$"))]
    pub carrier_scac: String,
    #[schemars(length(min = 1, max = 64))]
    pub bill_of_lading: String,
    #[schemars(length(min = 1))]
    pub handling_units: Vec<HandlingUnit>,
    #[schemars(length(min = 1, max = 200_000))]
    pub lines: Vec<AsnLine>,
}

/// One shipped item line of an ASN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AsnLine {
    #[schemars(length(min = 1, max = 35))]
    pub po_number: String,
    #[schemars(range(min = 1))]
    pub po_line_no: u32,
    pub gtin: Gtin,
    #[schemars(range(min = 1))]
    pub quantity: u32,
    pub uom: Uom,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date"))]
    pub expiry: Option<String>,
    /// The handling unit the goods are packed in.
    pub sscc: Sscc,
}

/// What the core tells a WMS to expect at its dock, derived from an ASN.
///
/// An ASN has one expectation for its life. A replacing ASN sends the WMS
/// the whole expectation again (same `expectation_id`, `revision` one
/// higher) to `/v1/inbound-expectation-updates`; a cancelling ASN sends an
/// [`InboundExpectationCancellation`]. The WMS keeps the highest revision it
/// has seen, so a late or redelivered lower one changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundExpectation {
    #[schemars(length(min = 1, max = 64))]
    pub expectation_id: String,
    /// 1 when first sent, one higher per replacement or cancellation.
    #[serde(default = "first_revision")]
    #[schemars(range(min = 1))]
    pub revision: u32,
    pub asn_id: String,
    pub supplier_gln: Gln,
    #[schemars(extend("format" = "date"))]
    pub estimated_arrival: String,
    pub handling_units: Vec<HandlingUnit>,
    #[schemars(length(min = 1))]
    pub lines: Vec<ExpectationLine>,
}

fn first_revision() -> u32 {
    1
}

/// The core withdrawing an inbound expectation: its ASN was cancelled. The
/// WMS expects nothing more for it and sends no receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundExpectationCancellation {
    #[schemars(length(min = 1, max = 64))]
    pub expectation_id: String,
    /// The expectation's revision this cancellation makes (above every
    /// earlier one).
    #[schemars(range(min = 2))]
    pub revision: u32,
    pub asn_id: String,
    pub supplier_gln: Gln,
}

/// One expected line, enriched with the SKU the WMS knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectationLine {
    #[schemars(range(min = 1))]
    pub line_no: u32,
    pub po_number: String,
    #[schemars(range(min = 1))]
    pub po_line_no: u32,
    pub sku: String,
    pub gtin: Gtin,
    #[schemars(range(min = 1))]
    pub quantity: u32,
    pub uom: Uom,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    pub sscc: Sscc,
    /// Tolerances copied from the PO line, for discrepancy decisions.
    pub over_tolerance_pct: u8,
    pub under_tolerance_pct: u8,
}

/// Where received stock is put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockStatus {
    Unrestricted,
    Quality,
    Blocked,
}

/// A WMS receipt event: goods counted at the dock for one expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoodsReceipt {
    #[schemars(length(min = 1, max = 64))]
    pub receipt_id: String,
    /// Unique per event; the natural dedupe key of a redelivered event.
    #[schemars(length(min = 1, max = 64))]
    pub event_id: String,
    /// Increases per receipt_id; a lower seq is stale.
    pub seq: u64,
    pub expectation_id: String,
    pub asn_id: String,
    #[schemars(extend("format" = "date-time"))]
    pub received_at: String,
    #[schemars(length(min = 1))]
    pub lines: Vec<ReceiptLine>,
}

/// One counted line of a receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLine {
    #[schemars(range(min = 1))]
    pub line_no: u32,
    pub po_number: String,
    #[schemars(range(min = 1))]
    pub po_line_no: u32,
    pub sku: String,
    pub qty_received: u32,
    pub qty_damaged: u32,
    pub stock_status: StockStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
}

/// A goods-receipt posting to the ERP: one per (receipt, line, seq).
///
/// A receipt corrected by a later event (a recount, higher `seq`) is posted
/// as a reversal of the quantity posted before (`reverses_seq` set to the
/// seq it cancels) plus a posting of the corrected count. The ERP's posted
/// quantity per PO line is the sum of postings minus the sum of reversals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErpGoodsReceiptPosting {
    pub receipt_id: String,
    #[schemars(range(min = 1))]
    pub receipt_line_no: u32,
    pub po_number: String,
    #[schemars(range(min = 1))]
    pub po_line_no: u32,
    pub sku: String,
    /// Quantity posted to stock (received minus damaged); for a reversal,
    /// the quantity taken back.
    pub quantity: u32,
    pub stock_status: StockStatus,
    /// The receipt event (its `seq`) this posting stems from.
    #[serde(default = "first_seq")]
    #[schemars(range(min = 1))]
    pub seq: u64,
    /// Set on a reversal: the seq whose posting this one cancels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub reverses_seq: Option<u64>,
}

fn first_seq() -> u64 {
    1
}

/// Kind of receiving variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyKind {
    Short,
    Over,
    Damaged,
    NotAdvised,
    WrongItem,
}

/// A variance beyond tolerance between what was advised and what arrived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptDiscrepancy {
    pub receipt_id: String,
    #[schemars(range(min = 1))]
    pub receipt_line_no: u32,
    pub po_number: String,
    pub po_line_no: u32,
    pub kind: DiscrepancyKind,
    pub expected: u32,
    pub actual: u32,
    /// actual − expected.
    pub variance: i64,
    /// The tolerance applied, in percent.
    pub tolerance_pct: u8,
    pub reason_code: String,
    /// The receipt event (its `seq`) whose count shows the variance.
    #[serde(default = "first_seq")]
    #[schemars(range(min = 1))]
    pub seq: u64,
}
