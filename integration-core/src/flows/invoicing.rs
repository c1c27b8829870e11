//! Invoices: the 3-way match of each invoice line against its PO line
//! (price) and what was received (quantity), one [`MatchResult`] per invoice
//! to the ERP through the outbox.
//!
//! **An invoice that arrives before its goods is held**, not matched: it is
//! stored as `held` and matched in the transaction that takes in the first
//! goods receipt of its PO, on the invoice's own trace. So a match is never
//! made against nothing, and an early invoice is never lost. The match uses
//! what has been received per PO line at that moment; a later receipt for
//! the same PO does not re-match it.
//!
//! **Received, for the match, is what was posted to the ERP as the buyer's
//! stock**: per receipt line, received − damaged, in unrestricted or quality
//! stock (goods under inspection are the buyer's and posted). Blocked stock
//! (the wrong item, goods nobody advised, held at the dock for return) is
//! never posted and counts 0; a receipt of only blocked stock still
//! releases the PO's held invoices, which then find nothing received. The
//! harness's invariant 16 check uses the same rule.
//!
//! Rules, per line, in this order: not on the PO → `not_on_po`; invoiced
//! more than received → `quantity_exceeds_received` (no tolerance upwards:
//! invariant 16, invoiced ≤ received); unit price beyond the configured
//! tolerance of the PO's → `price_variance`; else `matched`. Exactly one
//! exception per line that did not match.

use crate::db::{DbError, args};

use contracts::Role;
use contracts::inbound::{GoodsReceipt, PurchaseOrder};
use contracts::invoicing::{
    Invoice, LineMatchOutcome, MatchException, MatchLine, MatchResult, MatchStatus, price_within,
};
use contracts::routes::erp;
use contracts::time::rfc3339_utc;

use crate::error::ApiError;
use crate::store::Tx;

/// Tables of the invoice flow.
pub const SCHEMA: &str = r#"
-- Posted quantity (received − damaged; blocked stock 0) per receipt and PO
-- line; a later event of the same receipt replaces its rows.
CREATE TABLE IF NOT EXISTS received_lines (
    receipt_id TEXT NOT NULL,
    po_number TEXT NOT NULL,
    po_line_no INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (receipt_id, po_number, po_line_no)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS received_by_po ON received_lines(po_number, po_line_no);

CREATE TABLE IF NOT EXISTS invoices (
    supplier_gln TEXT NOT NULL,
    invoice_number TEXT NOT NULL,
    po_number TEXT NOT NULL,
    body TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    -- The tolerance in force when the invoice was taken in.
    price_tolerance_pct INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (supplier_gln, invoice_number)
);
CREATE INDEX IF NOT EXISTS invoices_by_po ON invoices(po_number, state);
"#;

/// The 3-way match's tolerance, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchConfig {
    /// A price matches when |invoiced − PO| ≤ PO × this / 100.
    pub price_tolerance_pct: u8,
}

impl Default for MatchConfig {
    fn default() -> Self {
        Self {
            price_tolerance_pct: 2,
        }
    }
}

/// A supplier's invoice: refused (404) unless the PO is the supplier's own,
/// then held until the PO's goods are received, or matched at once.
pub fn invoice(tx: &Tx<'_>, inv: &Invoice, config: MatchConfig) -> Result<(), ApiError> {
    let owner: Option<String> = tx.conn().one_opt(
        "SELECT supplier_gln FROM purchase_orders WHERE po_number = ?1",
        args![inv.po_number],
    )?;
    if owner.as_deref() != Some(inv.supplier_gln.as_str()) {
        // Another supplier's PO is reported as unknown: existence is not leaked.
        return Err(ApiError::refused(
            404,
            "unknown-purchase-order",
            "unknown purchase order",
            "/po_number".into(),
            format!("purchase order {} is not known to the core", inv.po_number),
        ));
    }
    tx.conn().execute(
        "INSERT INTO invoices (supplier_gln, invoice_number, po_number, body, trace_id, price_tolerance_pct, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'held')",
        args![
            inv.supplier_gln.as_str(),
            inv.invoice_number,
            inv.po_number,
            serde_json::to_string(inv).map_err(|e| ApiError::Storage(e.to_string()))?,
            tx.trace_id,
            config.price_tolerance_pct
        ],
    )?;
    if any_received(tx, &inv.po_number)? {
        match_and_send(tx, inv, tx.trace_id, config)?;
    } else {
        tracing::info!(invoice = %inv.invoice_number, po = %inv.po_number, "invoice held until its goods are received");
    }
    Ok(())
}

fn any_received(tx: &Tx<'_>, po_number: &str) -> Result<bool, ApiError> {
    Ok(tx
        .conn()
        .query_opt(
            "SELECT 1 FROM received_lines WHERE po_number = ?1 LIMIT 1",
            args![po_number],
        )?
        .is_some())
}

/// Records what a receipt event put in stock per PO line, then matches the
/// invoices held for its POs.
pub fn received(tx: &Tx<'_>, receipt: &GoodsReceipt) -> Result<(), ApiError> {
    // Called after the stale-sequence check: this event supersedes earlier ones.
    tx.conn().execute(
        "DELETE FROM received_lines WHERE receipt_id = ?1",
        args![receipt.receipt_id],
    )?;
    let mut pos: Vec<&str> = Vec::new();
    for line in &receipt.lines {
        tx.conn().execute(
            "INSERT INTO received_lines (receipt_id, po_number, po_line_no, quantity) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (receipt_id, po_number, po_line_no)
             DO UPDATE SET quantity = received_lines.quantity + excluded.quantity",
            args![
                receipt.receipt_id,
                line.po_number,
                line.po_line_no,
                posted_qty(line)
            ],
        )?;
        if !pos.contains(&line.po_number.as_str()) {
            pos.push(&line.po_number);
        }
    }
    for po in pos {
        // In (supplier, invoice number) order: the same on both engines.
        let held = tx
            .conn()
            .query_all(
                "SELECT body, trace_id, price_tolerance_pct FROM invoices
                 WHERE po_number = ?1 AND state = 'held' ORDER BY supplier_gln, invoice_number",
                args![po],
            )?
            .into_iter()
            .map(|r| Ok::<(String, String, u8), DbError>((r.get(0)?, r.get(1)?, r.get(2)?)))
            .collect::<Result<Vec<_>, _>>()?;
        for (body, trace_id, price_tolerance_pct) in held {
            let inv: Invoice = serde_json::from_str(&body).map_err(|e| ApiError::Storage(e.to_string()))?;
            let config = MatchConfig { price_tolerance_pct };
            match_and_send(tx, &inv, &trace_id, config)?;
        }
    }
    Ok(())
}

/// What a receipt line adds to the received quantity the match uses: what
/// is posted to the ERP (received − damaged), nothing for blocked stock.
pub fn posted_qty(line: &contracts::inbound::ReceiptLine) -> u32 {
    match line.stock_status {
        contracts::inbound::StockStatus::Blocked => 0,
        _ => line.qty_received.saturating_sub(line.qty_damaged),
    }
}

/// Matches `inv` against its PO and what is received, sends the result to
/// the ERP on `trace_id`, and marks the invoice matched.
fn match_and_send(tx: &Tx<'_>, inv: &Invoice, trace_id: &str, config: MatchConfig) -> Result<(), ApiError> {
    let po = current_po(tx, &inv.po_number)?;
    let mut received = Vec::with_capacity(inv.lines.len());
    for line in &inv.lines {
        let qty: u64 = tx.conn().one(
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM received_lines
             WHERE po_number = ?1 AND po_line_no = ?2",
            args![inv.po_number, line.po_line_no],
        )?;
        received.push(qty.min(u64::from(u32::MAX)) as u32);
    }
    let result = three_way_match(inv, &po, &received, config, rfc3339_utc(tx.now_us));
    tx.enqueue_traced(
        Role::Erp,
        erp::MATCH_RESULTS,
        &format!("match:{}:{}", inv.supplier_gln, inv.invoice_number),
        &result,
        trace_id,
    )?;
    tx.conn().execute(
        "UPDATE invoices SET state = 'matched' WHERE supplier_gln = ?1 AND invoice_number = ?2",
        args![inv.supplier_gln.as_str(), inv.invoice_number],
    )?;
    Ok(())
}

/// The PO version the core holds, as the ERP released it.
fn current_po(tx: &Tx<'_>, po_number: &str) -> Result<PurchaseOrder, ApiError> {
    let body: String = tx.conn().one(
        "SELECT i.payload FROM inbox i JOIN purchase_orders p
           ON i.kind = 'purchase_order' AND i.business_key = p.po_number || ':v' || CAST(p.version AS TEXT)
         WHERE p.po_number = ?1 ORDER BY i.id LIMIT 1",
        args![po_number],
    )?;
    serde_json::from_str(&body).map_err(|e| ApiError::Storage(e.to_string()))
}

/// The match itself: a pure function of the invoice, the PO, the received
/// quantity per invoice line, and the tolerance.
pub fn three_way_match(
    inv: &Invoice,
    po: &PurchaseOrder,
    received: &[u32],
    config: MatchConfig,
    matched_at: String,
) -> MatchResult {
    let mut lines = Vec::with_capacity(inv.lines.len());
    let mut exceptions = Vec::new();
    for (line, &received_qty) in inv.lines.iter().zip(received) {
        let po_line = po.lines.iter().find(|l| l.line_no == line.po_line_no);
        let (outcome, expected, actual, reason) = match po_line {
            None => (
                LineMatchOutcome::NotOnPo,
                format!("a line of PO {}", po.po_number),
                format!("PO line {}", line.po_line_no),
                "NOT_ON_PO",
            ),
            Some(_) if line.quantity > received_qty => (
                LineMatchOutcome::QuantityExceedsReceived,
                format!("at most {received_qty} (received)"),
                format!("{} invoiced", line.quantity),
                "QTY_OVER_RECEIVED",
            ),
            Some(p)
                if price_within(&line.unit_price, &p.unit_price, config.price_tolerance_pct)
                    != Some(true) =>
            {
                (
                    LineMatchOutcome::PriceVariance,
                    format!("{} ± {}%", p.unit_price, config.price_tolerance_pct),
                    line.unit_price.clone(),
                    "PRICE_VARIANCE",
                )
            }
            Some(_) => (LineMatchOutcome::Matched, String::new(), String::new(), ""),
        };
        if outcome != LineMatchOutcome::Matched {
            exceptions.push(MatchException {
                invoice_line_no: line.line_no,
                kind: outcome,
                expected,
                actual,
                reason_code: reason.into(),
            });
        }
        lines.push(MatchLine {
            invoice_line_no: line.line_no,
            po_line_no: line.po_line_no,
            outcome,
            invoiced_qty: line.quantity,
            received_qty,
            invoiced_unit_price: line.unit_price.clone(),
            po_unit_price: po_line.map(|p| p.unit_price.clone()),
            price_tolerance_pct: config.price_tolerance_pct,
        });
    }
    MatchResult {
        match_id: format!("MATCH-{}", inv.invoice_number),
        invoice_number: inv.invoice_number.clone(),
        supplier_gln: inv.supplier_gln.clone(),
        po_number: inv.po_number.clone(),
        matched_at,
        status: if exceptions.is_empty() {
            MatchStatus::Matched
        } else {
            MatchStatus::Exception
        },
        lines,
        exceptions,
    }
}
