//! Invoicing, version 1.
//!
//! supplier → core: [`Invoice`]; core → ERP: [`MatchResult`], the 3-way match
//! of each invoice line against its PO line (price) and what was received
//! (quantity).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{Gln, Gtin};
use crate::inbound::Uom;

/// A supplier invoice against one purchase order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Invoice {
    #[schemars(length(min = 1, max = 35))]
    pub invoice_number: String,
    pub supplier_gln: Gln,
    pub bill_to_gln: Gln,
    #[schemars(length(min = 1, max = 35))]
    pub po_number: String,
    /// ISO 4217 currency code.
    #[schemars(pattern(r"^[A-Z]{3}$"))]
    pub currency: String,
    #[schemars(extend("format" = "date"))]
    pub invoice_date: String,
    #[schemars(extend("format" = "date"))]
    pub due_date: String,
    #[schemars(length(min = 1, max = 999))]
    pub lines: Vec<InvoiceLine>,
}

/// One invoiced line, against a PO line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLine {
    #[schemars(range(min = 1))]
    pub line_no: u32,
    #[schemars(range(min = 1))]
    pub po_line_no: u32,
    pub gtin: Gtin,
    #[schemars(range(min = 1))]
    pub quantity: u32,
    pub uom: Uom,
    /// Decimal price per unit, in the invoice's currency.
    #[schemars(pattern(r"^[0-9]{1,12}(\.[0-9]{1,4})?$"))]
    pub unit_price: String,
}

/// The outcome of matching one invoice line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineMatchOutcome {
    /// Within quantity and price tolerance, and invoiced ≤ received.
    Matched,
    /// More invoiced than received.
    QuantityExceedsReceived,
    /// The unit price differs from the PO's beyond tolerance.
    PriceVariance,
    /// The PO has no such line.
    NotOnPo,
}

/// The overall outcome of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    /// Every line matched: the invoice may be paid.
    Matched,
    /// At least one exception: the invoice is held.
    Exception,
}

/// The 3-way match of one invoice (PO price × received quantity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchResult {
    #[schemars(length(min = 1, max = 64))]
    pub match_id: String,
    #[schemars(length(min = 1, max = 35))]
    pub invoice_number: String,
    pub supplier_gln: Gln,
    #[schemars(length(min = 1, max = 35))]
    pub po_number: String,
    #[schemars(extend("format" = "date-time"))]
    pub matched_at: String,
    pub status: MatchStatus,
    /// One per invoice line.
    #[schemars(length(min = 1, max = 999))]
    pub lines: Vec<MatchLine>,
    /// Exactly one per line that did not match.
    #[serde(default)]
    pub exceptions: Vec<MatchException>,
}

/// How one invoice line matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchLine {
    #[schemars(range(min = 1))]
    pub invoice_line_no: u32,
    #[schemars(range(min = 1))]
    pub po_line_no: u32,
    pub outcome: LineMatchOutcome,
    pub invoiced_qty: u32,
    pub received_qty: u32,
    #[schemars(pattern(r"^[0-9]{1,12}(\.[0-9]{1,4})?$"))]
    pub invoiced_unit_price: String,
    /// The PO line's price; absent when the PO has no such line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[0-9]{1,12}(\.[0-9]{1,4})?$"))]
    pub po_unit_price: Option<String>,
    /// Price tolerance applied, in percent: a price matches when
    /// |invoiced − PO| ≤ PO × tolerance / 100.
    #[schemars(range(max = 100))]
    pub price_tolerance_pct: u8,
}

/// A line that did not match: what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchException {
    #[schemars(range(min = 1))]
    pub invoice_line_no: u32,
    /// The line's outcome (never `matched`).
    pub kind: LineMatchOutcome,
    #[schemars(length(min = 1, max = 100))]
    pub expected: String,
    #[schemars(length(min = 1, max = 100))]
    pub actual: String,
    #[schemars(length(min = 1, max = 35))]
    pub reason_code: String,
}

/// A price of the contracts' pattern (`^[0-9]{1,12}(\.[0-9]{1,4})?$`) in
/// ten-thousandths; `None` when it is not one.
pub fn price_e4(s: &str) -> Option<u128> {
    let (int, frac) = match s.split_once('.') {
        Some((_, "")) => return None,
        Some((int, frac)) => (int, frac),
        None => (s, ""),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 12 || frac.len() > 4 || !digits(int) || !digits(frac) {
        return None;
    }
    let mut scaled: u128 = int.parse().ok()?;
    for b in frac.bytes().chain(std::iter::repeat_n(b'0', 4 - frac.len())) {
        scaled = scaled * 10 + u128::from(b - b'0');
    }
    Some(scaled)
}

/// Ten-thousandths as a price string with four decimals.
pub fn format_price_e4(e4: u128) -> String {
    format!("{}.{:04}", e4 / 10_000, e4 % 10_000)
}

/// Whether `invoiced` is within `tolerance_pct` of `po`:
/// |invoiced − po| × 100 ≤ po × tolerance_pct. `None` when a price is malformed.
pub fn price_within(invoiced: &str, po: &str, tolerance_pct: u8) -> Option<bool> {
    let (inv, p) = (price_e4(invoiced)?, price_e4(po)?);
    Some(inv.abs_diff(p) * 100 <= p * u128::from(tolerance_pct))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_format_and_compare_exactly() {
        assert_eq!(price_e4("41.25"), Some(412_500));
        assert_eq!(price_e4("7"), Some(70_000));
        assert_eq!(price_e4("1.23456"), None);
        assert_eq!(format_price_e4(412_500), "41.2500");
        assert_eq!(price_within("102", "100", 2), Some(true));
        assert_eq!(price_within("102.0001", "100", 2), Some(false));
        assert_eq!(price_within("98", "100", 2), Some(true));
        assert_eq!(price_within("x", "100", 2), None);
    }

    #[test]
    fn price_e4_reads_the_price_pattern_only() {
        assert_eq!(price_e4("41"), Some(410_000));
        assert_eq!(price_e4("41.25"), Some(412_500));
        assert_eq!(price_e4("0.0001"), Some(1));
        assert_eq!(price_e4("999999999999.9999"), Some(9_999_999_999_999_999));
        for bad in ["", ".5", "5.", "41,25", "1.23456", "1234567890123", "-1", "1e3"] {
            assert_eq!(price_e4(bad), None, "{bad}");
        }
    }
}
