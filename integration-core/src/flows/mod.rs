//! The business rules, each run inside a store transaction: this file the
//! inbound flow (PO → ASN → receipt), [`outbound`] the order release and
//! ship confirmation, [`invoicing`] the 3-way match, [`inventory`] the
//! adjustments and reconciliation.
//!
//! **Layer**: above the store, beside the outbox, below http. Files here
//! import `db`, `store`, `error` and `clock`; never the outbox or http
//! (a flow queues a delivery through the store's `Tx`, and the outbox
//! delivers it). The children import none of each other nor this file.

pub mod inventory;
pub mod invoicing;
pub mod outbound;

/// The flows' tables, in order: the DDL the store's constructors take
/// after their own.
pub const TABLES: &[&str] = &[SCHEMA, outbound::SCHEMA, invoicing::SCHEMA, inventory::SCHEMA];

use crate::db::args;

use contracts::Role;
use contracts::inbound::{
    AdvanceShipNotice, AsnPurpose, DiscrepancyKind, ErpGoodsReceiptPosting, ExpectationLine, GoodsReceipt,
    InboundExpectation, InboundExpectationCancellation, PoAcknowledgement, PurchaseOrder, ReceiptDiscrepancy,
    StockStatus,
};
use contracts::routes::{erp, supplier, wms};

use crate::error::ApiError;
use crate::store::Tx;

/// A PO from the ERP: record its lines as open and send it to the supplier.
/// Versions may arrive out of order: one not newer than the version held
/// changes nothing. A newer version replaces the lines; lines it drops are
/// cancelled.
pub fn purchase_order(tx: &Tx<'_>, po: &PurchaseOrder) -> Result<(), ApiError> {
    let c = tx.conn();
    let held: Option<u32> = c.one_opt(
        "SELECT version FROM purchase_orders WHERE po_number = ?1",
        args![po.po_number],
    )?;
    if held.is_some_and(|v| v >= po.version) {
        tracing::info!(po_number = %po.po_number, version = po.version, ?held, "stale PO version ignored");
        return Ok(());
    }
    c.execute(
        "INSERT INTO purchase_orders (po_number, version, supplier_gln) VALUES (?1, ?2, ?3)
         ON CONFLICT(po_number) DO UPDATE SET version = excluded.version, supplier_gln = excluded.supplier_gln",
        args![po.po_number, po.version, po.supplier_gln.as_str()],
    )?;
    c.execute(
        "UPDATE po_lines SET status = 'cancelled' WHERE po_number = ?1",
        args![po.po_number],
    )?;
    for line in &po.lines {
        c.execute(
            "INSERT INTO po_lines (po_number, line_no, sku, gtin, ordered_qty, confirmed_qty, over_tolerance_pct,
                                   under_tolerance_pct, status)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7, 'open')
             ON CONFLICT(po_number, line_no) DO UPDATE SET sku = excluded.sku, gtin = excluded.gtin,
                ordered_qty = excluded.ordered_qty, confirmed_qty = NULL,
                over_tolerance_pct = excluded.over_tolerance_pct,
                under_tolerance_pct = excluded.under_tolerance_pct, status = 'open'",
            args![
                po.po_number,
                line.line_no,
                line.sku,
                line.gtin.as_str(),
                line.quantity,
                line.over_tolerance_pct,
                line.under_tolerance_pct
            ],
        )?;
    }
    tx.enqueue(
        Role::Supplier,
        supplier::PURCHASE_ORDERS,
        &format!("po:{}:v{}", po.po_number, po.version),
        po,
    )
}

/// The supplier a PO belongs to, refusing unknown POs and other suppliers.
fn owned_po(tx: &Tx<'_>, po_number: &str, supplier_gln: &str, pointer: String) -> Result<u32, ApiError> {
    let row: Option<(u32, String)> = tx
        .conn()
        .query_opt(
            "SELECT version, supplier_gln FROM purchase_orders WHERE po_number = ?1",
            args![po_number],
        )?
        .map(|r| Ok::<_, crate::db::DbError>((r.get(0)?, r.get(1)?)))
        .transpose()?;
    match row {
        // Another supplier's PO is reported exactly as an unknown one, 404:
        // a supplier cannot even learn that it exists (invariant 20).
        Some((version, owner)) if owner == supplier_gln => Ok(version),
        _ => Err(ApiError::refused(
            404,
            "unknown-purchase-order",
            "unknown purchase order",
            pointer,
            format!("purchase order {po_number} is not known to the core"),
        )),
    }
}

/// A supplier's acknowledgement: record confirmed quantities, tell the ERP.
pub fn acknowledgement(tx: &Tx<'_>, ack: &PoAcknowledgement) -> Result<(), ApiError> {
    let version = owned_po(tx, &ack.po_number, ack.supplier_gln.as_str(), "/po_number".into())?;
    if ack.po_version != version {
        return Err(ApiError::refused(
            422,
            "po-version-mismatch",
            "acknowledgement of a PO version the core does not hold",
            "/po_version".into(),
            format!(
                "purchase order {} is at version {version}, the acknowledgement is for version {}",
                ack.po_number, ack.po_version
            ),
        ));
    }
    for (i, line) in ack.lines.iter().enumerate() {
        let status = match line.status {
            contracts::inbound::AckLineStatus::Rejected => "closed",
            _ => "open",
        };
        let updated = tx.conn().execute(
            "UPDATE po_lines SET confirmed_qty = ?3, status = ?4 WHERE po_number = ?1 AND line_no = ?2",
            args![ack.po_number, line.line_no, line.confirmed_qty, status],
        )?;
        if updated == 0 {
            return Err(ApiError::refused(
                422,
                "unknown-po-line",
                "unknown purchase-order line",
                format!("/lines/{i}/line_no"),
                format!("purchase order {} has no line {}", ack.po_number, line.line_no),
            ));
        }
    }
    tx.enqueue(
        Role::Erp,
        erp::PO_ACKNOWLEDGEMENTS,
        &format!("commitment:{}", ack.ack_id),
        ack,
    )
}

struct OpenLine {
    sku: String,
    open_qty: u32,
    over_pct: u8,
    under_pct: u8,
    status: String,
}

/// The inbound flow's own tables besides the store's: each ASN's one
/// expectation and its state, and the SSCCs each open ASN holds.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS asns (
    supplier_gln TEXT NOT NULL,
    asn_id TEXT NOT NULL,
    expectation_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    -- open | cancelled | received
    state TEXT NOT NULL,
    PRIMARY KEY (supplier_gln, asn_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS asns_expectation ON asns(expectation_id);

-- Every SSCC sits in at most one open ASN (invariant 4).
CREATE TABLE IF NOT EXISTS asn_ssccs (
    sscc TEXT PRIMARY KEY,
    supplier_gln TEXT NOT NULL,
    asn_id TEXT NOT NULL
) WITHOUT ROWID;
-- An ASN's SSCCs (released on every replace, cancel and resend): without
-- it each release scanned the whole table.
CREATE INDEX IF NOT EXISTS asn_ssccs_by_asn ON asn_ssccs(supplier_gln, asn_id);
"#;

/// An ASN by purpose. An **original** (a resent copy is a duplicate
/// before it gets here): every line must refer to an open line of one of
/// the supplier's POs, within the confirmed (else ordered) quantity and
/// tolerance counting what the supplier's other ASNs advise, and no SSCC
/// may sit in another open ASN; then one inbound expectation goes to the
/// WMS. A **replace** of an open ASN (not cancelled, nothing received yet)
/// is validated the same way, counting its new lines instead of its old
/// ones; the WMS gets the expectation again, whole, under the same
/// expectation id at the next revision. A **cancel** of an open ASN
/// withdraws its lines and frees its SSCCs; the WMS gets a cancellation. A
/// replace or cancel of an ASN that is not open is refused (422).
pub fn asn(tx: &Tx<'_>, asn: &AdvanceShipNotice) -> Result<(), ApiError> {
    let supplier = asn.supplier_gln.as_str();
    let held: Option<(String, u32, String)> = tx
        .conn()
        .query_opt(
            "SELECT expectation_id, revision, state FROM asns WHERE supplier_gln = ?1 AND asn_id = ?2",
            args![supplier, asn.asn_id],
        )?
        .map(|r| Ok::<_, crate::db::DbError>((r.get(0)?, r.get(1)?, r.get(2)?)))
        .transpose()?;
    let open = match (asn.purpose, held) {
        (AsnPurpose::Original, _) => None,
        (_, Some((expectation_id, revision, state))) if state == "open" => Some((expectation_id, revision)),
        (purpose, held) => {
            let why = match held {
                None => "the core holds no such ASN".to_owned(),
                Some((_, _, state)) => format!("it is {state}"),
            };
            return Err(ApiError::refused(
                422,
                "asn-not-open",
                "replace or cancel of an ASN that is not open",
                "/purpose".into(),
                format!(
                    "ASN {} cannot be {}: {why}",
                    asn.asn_id,
                    match purpose {
                        AsnPurpose::Cancel => "cancelled",
                        _ => "replaced",
                    }
                ),
            ));
        }
    };
    if let (AsnPurpose::Cancel, Some((expectation_id, revision))) = (asn.purpose, &open) {
        release_asn(tx, supplier, &asn.asn_id)?;
        let revision = revision + 1;
        tx.conn().execute(
            "UPDATE asns SET state = 'cancelled', revision = ?3 WHERE supplier_gln = ?1 AND asn_id = ?2",
            args![supplier, asn.asn_id, revision],
        )?;
        let cancellation = InboundExpectationCancellation {
            expectation_id: expectation_id.clone(),
            revision,
            asn_id: asn.asn_id.clone(),
            supplier_gln: asn.supplier_gln.clone(),
        };
        return tx.enqueue(
            Role::Wms,
            wms::INBOUND_EXPECTATION_CANCELLATIONS,
            &format!("expectation:{expectation_id}:r{revision}"),
            &cancellation,
        );
    }
    let lines = advised_lines(tx, asn)?;
    release_asn(tx, supplier, &asn.asn_id)?;
    hold_ssccs(tx, asn)?;
    for line in &asn.lines {
        tx.conn().execute(
            "INSERT INTO asn_lines (supplier_gln, asn_id, po_number, po_line_no, quantity) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (supplier_gln, asn_id, po_number, po_line_no)
             DO UPDATE SET quantity = asn_lines.quantity + excluded.quantity",
            args![supplier, asn.asn_id, line.po_number, line.po_line_no, line.quantity],
        )?;
    }
    let (expectation_id, revision, path) = match open {
        Some((id, revision)) => (id, revision + 1, wms::INBOUND_EXPECTATION_UPDATES),
        None => (format!("IBE-{:010}", tx.message_id), 1, wms::INBOUND_EXPECTATIONS),
    };
    let expectation = InboundExpectation {
        expectation_id,
        revision,
        asn_id: asn.asn_id.clone(),
        supplier_gln: asn.supplier_gln.clone(),
        estimated_arrival: asn.estimated_arrival.clone(),
        handling_units: asn.handling_units.clone(),
        lines,
    };
    let body = serde_json::to_string(&expectation).map_err(|e| ApiError::Storage(e.to_string()))?;
    tx.conn().execute(
        "INSERT INTO expectations (expectation_id, asn_id, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (expectation_id) DO UPDATE SET body = excluded.body",
        args![expectation.expectation_id, expectation.asn_id, body],
    )?;
    tx.conn().execute(
        "INSERT INTO asns (supplier_gln, asn_id, expectation_id, revision, state) VALUES (?1, ?2, ?3, ?4, 'open')
         ON CONFLICT (supplier_gln, asn_id) DO UPDATE SET expectation_id = excluded.expectation_id,
            revision = excluded.revision, state = 'open'",
        args![supplier, asn.asn_id, expectation.expectation_id, revision],
    )?;
    let key = match revision {
        1 => format!("expectation:{}", expectation.expectation_id),
        r => format!("expectation:{}:r{r}", expectation.expectation_id),
    };
    tx.enqueue(Role::Wms, path, &key, &expectation)
}

/// Drops what an ASN advised and the SSCCs it held.
fn release_asn(tx: &Tx<'_>, supplier: &str, asn_id: &str) -> Result<(), ApiError> {
    for table in ["asn_lines", "asn_ssccs"] {
        tx.conn().execute(
            &format!("DELETE FROM {table} WHERE supplier_gln = ?1 AND asn_id = ?2"),
            args![supplier, asn_id],
        )?;
    }
    Ok(())
}

/// Holds the ASN's SSCCs, refusing one another open ASN holds (invariant 4).
fn hold_ssccs(tx: &Tx<'_>, asn: &AdvanceShipNotice) -> Result<(), ApiError> {
    let supplier = asn.supplier_gln.as_str();
    for (i, unit) in asn.handling_units.iter().enumerate() {
        let owner: Option<(String, String)> = tx
            .conn()
            .query_opt(
                "SELECT supplier_gln, asn_id FROM asn_ssccs WHERE sscc = ?1",
                args![unit.sscc.as_str()],
            )?
            .map(|r| Ok::<_, crate::db::DbError>((r.get(0)?, r.get(1)?)))
            .transpose()?;
        match owner {
            None => {}
            // Listed twice in this ASN: the contract rules report that.
            Some((gln, id)) if gln == supplier && id == asn.asn_id => continue,
            Some((_, id)) => {
                return Err(ApiError::refused(
                    422,
                    "sscc-in-open-asn",
                    "SSCC already in another open ASN",
                    format!("/handling_units/{i}/sscc"),
                    format!("SSCC {} is in the open ASN {id}", unit.sscc.as_str()),
                ));
            }
        }
        tx.conn().execute(
            "INSERT INTO asn_ssccs (sscc, supplier_gln, asn_id) VALUES (?1, ?2, ?3)",
            args![unit.sscc.as_str(), supplier, asn.asn_id],
        )?;
    }
    Ok(())
}

/// The ASN's lines as expectation lines, once each is checked against its
/// PO line: open, and within the confirmed (else ordered) quantity and
/// tolerance counting what the supplier's other ASNs advise.
fn advised_lines(tx: &Tx<'_>, asn: &AdvanceShipNotice) -> Result<Vec<ExpectationLine>, ApiError> {
    let supplier = asn.supplier_gln.as_str();
    let mut lines = Vec::with_capacity(asn.lines.len());
    // Several ASN lines (cartons) may ship the same PO line.
    let mut in_this_asn: std::collections::HashMap<(&str, u32), u64> = std::collections::HashMap::new();
    for (i, line) in asn.lines.iter().enumerate() {
        owned_po(tx, &line.po_number, supplier, format!("/lines/{i}/po_number"))?;
        let open: Option<OpenLine> = tx
            .conn()
            .query_opt(
                "SELECT sku, COALESCE(confirmed_qty, ordered_qty), over_tolerance_pct, under_tolerance_pct, status
                 FROM po_lines WHERE po_number = ?1 AND line_no = ?2",
                args![line.po_number, line.po_line_no],
            )?
            .map(|r| {
                Ok::<_, crate::db::DbError>(OpenLine {
                    sku: r.get(0)?,
                    open_qty: r.get(1)?,
                    over_pct: r.get(2)?,
                    under_pct: r.get(3)?,
                    status: r.get(4)?,
                })
            })
            .transpose()?;
        let pointer = format!("/lines/{i}");
        let Some(open) = open.filter(|o| o.status == "open") else {
            return Err(ApiError::refused(
                422,
                "po-line-not-open",
                "ASN line refers to no open purchase-order line",
                format!("{pointer}/po_line_no"),
                format!(
                    "purchase order {} has no open line {}",
                    line.po_number, line.po_line_no
                ),
            ));
        };
        let advised_elsewhere: u64 = tx.conn().one(
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM asn_lines
             WHERE po_number = ?1 AND po_line_no = ?2 AND NOT (supplier_gln = ?3 AND asn_id = ?4)",
            args![line.po_number, line.po_line_no, supplier, asn.asn_id],
        )?;
        let limit = u64::from(open.open_qty) * (100 + u64::from(open.over_pct)) / 100;
        let here = in_this_asn.entry((&line.po_number, line.po_line_no)).or_default();
        *here += u64::from(line.quantity);
        let advised = advised_elsewhere + *here;
        if advised > limit {
            return Err(ApiError::refused(
                422,
                "over-tolerance",
                "ASN quantity exceeds the open quantity and its tolerance",
                format!("{pointer}/quantity"),
                format!(
                    "PO {} line {}: advised {advised} in all, at most {limit} allowed (open {} + {}%)",
                    line.po_number, line.po_line_no, open.open_qty, open.over_pct
                ),
            ));
        }
        lines.push(ExpectationLine {
            line_no: (i + 1) as u32,
            po_number: line.po_number.clone(),
            po_line_no: line.po_line_no,
            sku: open.sku,
            gtin: line.gtin.clone(),
            quantity: line.quantity,
            uom: line.uom,
            lot: line.lot.clone(),
            sscc: line.sscc.clone(),
            over_tolerance_pct: open.over_pct,
            under_tolerance_pct: open.under_pct,
        });
    }
    Ok(lines)
}

/// The variance of one received line beyond its tolerance, if any.
pub fn discrepancy_kind(
    expected: u32,
    actual: u32,
    over_pct: u8,
    under_pct: u8,
) -> Option<(DiscrepancyKind, u8)> {
    let (e, a) = (u64::from(expected), u64::from(actual));
    if a * 100 > e * (100 + u64::from(over_pct)) {
        Some((DiscrepancyKind::Over, over_pct))
    } else if a * 100 < e * (100 - u64::from(under_pct.min(100))) {
        Some((DiscrepancyKind::Short, under_pct))
    } else {
        None
    }
}

/// The variance of one advised PO line as received, if beyond tolerance:
/// short or over on the quantity received, else damaged when what is fit
/// for stock (received − damaged) is short beyond the under-tolerance.
/// Returns (kind, the actual quantity judged, the tolerance applied).
pub fn line_variance(
    expected: u32,
    received: u32,
    damaged: u32,
    over_pct: u8,
    under_pct: u8,
) -> Option<(DiscrepancyKind, u32, u8)> {
    match discrepancy_kind(expected, received, over_pct, under_pct) {
        Some((kind, tol)) => Some((kind, received, tol)),
        None => {
            let fit = received.saturating_sub(damaged);
            discrepancy_kind(expected, fit, over_pct, under_pct)
                .map(|(_, tol)| (DiscrepancyKind::Damaged, fit, tol))
        }
    }
}

/// A WMS receipt: one ERP posting per line, one discrepancy per variance
/// beyond tolerance. A receipt against an expectation whose ASN was
/// cancelled (the cancel overtook the count) is goods not advised. A stale event (seq not above the last seen for the
/// receipt) changes nothing. A later event (a correction, e.g. a recount)
/// supersedes the earlier count: see [`post_receipt`].
pub fn goods_receipt(tx: &Tx<'_>, receipt: &GoodsReceipt) -> Result<(), ApiError> {
    receipt_event(tx, receipt, true)
}

/// [`goods_receipt`] weakened on purpose: a stale event is applied as if it
/// were a correction. Only the harness's own tests use it, to prove that
/// the invariant 10 check catches such a core.
pub fn goods_receipt_applying_stale(tx: &Tx<'_>, receipt: &GoodsReceipt) -> Result<(), ApiError> {
    receipt_event(tx, receipt, false)
}

fn receipt_event(tx: &Tx<'_>, receipt: &GoodsReceipt, ignore_stale: bool) -> Result<(), ApiError> {
    let last_seq: Option<u64> = tx.conn().one_opt(
        "SELECT seq FROM receipts WHERE receipt_id = ?1",
        args![receipt.receipt_id],
    )?;
    if ignore_stale && last_seq.is_some_and(|s| receipt.seq <= s) {
        tracing::info!(receipt_id = %receipt.receipt_id, seq = receipt.seq, "stale receipt event ignored");
        return Ok(());
    }
    tx.conn().execute(
        "INSERT INTO receipts (receipt_id, seq) VALUES (?1, ?2)
         ON CONFLICT(receipt_id) DO UPDATE SET seq = excluded.seq",
        args![receipt.receipt_id, receipt.seq],
    )?;
    let (expectation, cancelled) = expectation_received(tx, receipt)?;
    let advice: &[ExpectationLine] = if cancelled { &[] } else { &expectation.lines };

    post_receipt(tx, receipt)?;
    // A later event's discrepancies carry its seq in their key: a key is
    // never reused with another body.
    let key_suffix = if receipt.seq > 1 {
        format!(":s{}", receipt.seq)
    } else {
        String::new()
    };
    for c in count_by_po_line(receipt, advice) {
        if let Some(d) = discrepancy(receipt, advice, &c) {
            tx.enqueue(
                Role::Erp,
                erp::RECEIPT_DISCREPANCIES,
                &format!("dsc:{}:{}{key_suffix}", receipt.receipt_id, d.receipt_line_no),
                &d,
            )?;
        }
    }
    // What is received is what held invoices wait for.
    invoicing::received(tx, receipt)
}

/// The expectation `receipt` counts goods against, and whether its ASN was
/// cancelled; an ASN not cancelled is marked received (422 when the
/// expectation is not known).
fn expectation_received(tx: &Tx<'_>, receipt: &GoodsReceipt) -> Result<(InboundExpectation, bool), ApiError> {
    let expectation: Option<String> = tx.conn().one_opt(
        "SELECT body FROM expectations WHERE expectation_id = ?1",
        args![receipt.expectation_id],
    )?;
    let Some(expectation) = expectation else {
        return Err(ApiError::refused(
            422,
            "unknown-expectation",
            "receipt refers to no inbound expectation",
            "/expectation_id".into(),
            format!("expectation {} is not known to the core", receipt.expectation_id),
        ));
    };
    let expectation: InboundExpectation =
        serde_json::from_str(&expectation).map_err(|e| ApiError::Storage(e.to_string()))?;
    let state: Option<String> = tx.conn().one_opt(
        "SELECT state FROM asns WHERE expectation_id = ?1",
        args![receipt.expectation_id],
    )?;
    // A cancel that reached the core after the WMS counted the goods but
    // before their receipt: the goods are here all the same. They are taken
    // in as goods nobody advised (the cancel withdrew the advice): posted
    // as the WMS stocked them, one not-advised discrepancy per PO line. The
    // ASN stays cancelled.
    let cancelled = state.as_deref() == Some("cancelled");
    if cancelled {
        tracing::info!(
            receipt_id = %receipt.receipt_id,
            expectation_id = %receipt.expectation_id,
            "receipt against a cancelled expectation: taken in as goods not advised"
        );
    } else {
        // Goods counted: the ASN can no longer be replaced or cancelled.
        tx.conn().execute(
            "UPDATE asns SET state = 'received' WHERE expectation_id = ?1",
            args![receipt.expectation_id],
        )?;
    }
    Ok((expectation, cancelled))
}

/// What a receipt counted against one PO line. Variances are judged per PO
/// line: a PO line may be advised, and received, in several cartons.
struct Counted<'a> {
    po_line: (&'a str, u32),
    /// The first receipt line counting it (names its discrepancy).
    first_line: u32,
    received: u32,
    damaged: u32,
    /// A wrong item among its lines.
    wrong_item: bool,
}

/// The receipt's lines summed per PO line, in the order first counted.
fn count_by_po_line<'a>(receipt: &'a GoodsReceipt, advice: &[ExpectationLine]) -> Vec<Counted<'a>> {
    let mut counted: Vec<Counted<'_>> = Vec::new();
    for line in &receipt.lines {
        let key = (line.po_number.as_str(), line.po_line_no);
        let wrong_item = advice
            .iter()
            .find(|l| l.po_number == key.0 && l.po_line_no == key.1)
            .is_some_and(|l| l.sku != line.sku);
        match counted.iter_mut().find(|c| c.po_line == key) {
            Some(c) => {
                c.received += line.qty_received;
                c.damaged += line.qty_damaged;
                c.wrong_item |= wrong_item;
            }
            None => counted.push(Counted {
                po_line: key,
                first_line: line.line_no,
                received: line.qty_received,
                damaged: line.qty_damaged,
                wrong_item,
            }),
        }
    }
    counted
}

/// The one variance of a PO line, the first that applies: not advised (no
/// expectation line for it), wrong item (a SKU other than the advised one
/// counted against it), else short or over beyond tolerance, else damaged
/// (what is fit for stock, received − damaged, short beyond the
/// under-tolerance); `None` when the line is as advised.
fn discrepancy(
    receipt: &GoodsReceipt,
    advice: &[ExpectationLine],
    c: &Counted<'_>,
) -> Option<ReceiptDiscrepancy> {
    let ((po_number, po_line_no), receipt_line_no) = (c.po_line, c.first_line);
    let (qty, damaged, wrong_item) = (c.received, c.damaged, c.wrong_item);
    let advised: Vec<_> = advice
        .iter()
        .filter(|l| l.po_number == po_number && l.po_line_no == po_line_no)
        .collect();
    // (kind, expected, actual, tolerance applied)
    let (kind, expected, actual, tolerance_pct) = match advised.first() {
        None => Some((DiscrepancyKind::NotAdvised, 0, qty, 0)),
        Some(_) if wrong_item => Some((
            DiscrepancyKind::WrongItem,
            advised.iter().map(|l| l.quantity).sum(),
            qty,
            0,
        )),
        Some(first) => {
            let expected = advised.iter().map(|l| l.quantity).sum();
            line_variance(
                expected,
                qty,
                damaged,
                first.over_tolerance_pct,
                first.under_tolerance_pct,
            )
            .map(|(kind, actual, tol)| (kind, expected, actual, tol))
        }
    }?;
    Some(ReceiptDiscrepancy {
        receipt_id: receipt.receipt_id.clone(),
        receipt_line_no,
        po_number: po_number.to_owned(),
        po_line_no,
        kind,
        expected,
        actual,
        variance: i64::from(actual) - i64::from(expected),
        tolerance_pct,
        reason_code: format!("{kind:?}").to_uppercase(),
        seq: receipt.seq,
    })
}

/// Posts an applied receipt event to the ERP, superseding what an earlier
/// event of the same receipt posted. Per receipt line:
/// - first event for the line: post its count, key `grp:{receipt}:{line}`
///   (`…:s{seq}` when the event's seq is above 1);
/// - a correction with another count: reverse the standing posting (same
///   body, `reverses_seq` = its seq, key `grp-rev:{receipt}:{line}:s{seq
///   reversed}`), then post the new count;
/// - a correction with the same count: nothing;
/// - a line the correction no longer lists: reversed only.
///
/// So each (receipt, line, seq) is posted at most once and reversed at most
/// once, and per PO line the ERP's posted quantity (postings − reversals)
/// is what the latest event counted.
fn post_receipt(tx: &Tx<'_>, receipt: &GoodsReceipt) -> Result<(), ApiError> {
    let storage = |e: serde_json::Error| ApiError::Storage(e.to_string());
    let mut standing: Vec<(u32, ErpGoodsReceiptPosting)> = Vec::new();
    for row in tx.conn().query_all(
        "SELECT line_no, body FROM receipt_postings WHERE receipt_id = ?1 ORDER BY line_no",
        args![receipt.receipt_id],
    )? {
        let body: String = row.get(1)?;
        standing.push((row.get(0)?, serde_json::from_str(&body).map_err(storage)?));
    }
    let reverse = |old: &ErpGoodsReceiptPosting| -> Result<(), ApiError> {
        let reversal = ErpGoodsReceiptPosting {
            seq: receipt.seq,
            reverses_seq: Some(old.seq),
            ..old.clone()
        };
        tx.enqueue(
            Role::Erp,
            erp::GOODS_RECEIPT_POSTINGS,
            &format!("grp-rev:{}:{}:s{}", old.receipt_id, old.receipt_line_no, old.seq),
            &reversal,
        )
    };
    // Blocked stock (goods not advised, or the wrong item, held at the
    // dock for return) is not the buyer's: never posted.
    let postable = |l: &&contracts::inbound::ReceiptLine| l.stock_status != StockStatus::Blocked;
    for line in receipt.lines.iter().filter(postable) {
        let posting = ErpGoodsReceiptPosting {
            receipt_id: receipt.receipt_id.clone(),
            receipt_line_no: line.line_no,
            po_number: line.po_number.clone(),
            po_line_no: line.po_line_no,
            sku: line.sku.clone(),
            quantity: line.qty_received.saturating_sub(line.qty_damaged),
            stock_status: line.stock_status,
            seq: receipt.seq,
            reverses_seq: None,
        };
        if let Some((_, old)) = standing.iter().find(|(n, _)| *n == line.line_no) {
            let unchanged = ErpGoodsReceiptPosting {
                seq: receipt.seq,
                ..old.clone()
            } == posting;
            if unchanged {
                continue;
            }
            reverse(old)?;
        }
        let key = match receipt.seq {
            1 => format!("grp:{}:{}", receipt.receipt_id, line.line_no),
            seq => format!("grp:{}:{}:s{seq}", receipt.receipt_id, line.line_no),
        };
        tx.enqueue(Role::Erp, erp::GOODS_RECEIPT_POSTINGS, &key, &posting)?;
        tx.conn().execute(
            "INSERT INTO receipt_postings (receipt_id, line_no, seq, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(receipt_id, line_no) DO UPDATE SET seq = excluded.seq, body = excluded.body",
            args![
                receipt.receipt_id,
                line.line_no,
                receipt.seq,
                serde_json::to_string(&posting).map_err(storage)?
            ],
        )?;
    }
    for (line_no, old) in &standing {
        if !receipt
            .lines
            .iter()
            .filter(postable)
            .any(|l| l.line_no == *line_no)
        {
            reverse(old)?;
            tx.conn().execute(
                "DELETE FROM receipt_postings WHERE receipt_id = ?1 AND line_no = ?2",
                args![receipt.receipt_id, line_no],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_bounds_are_inclusive() {
        assert_eq!(discrepancy_kind(100, 100, 10, 5), None);
        assert_eq!(discrepancy_kind(100, 110, 10, 5), None);
        assert_eq!(
            discrepancy_kind(100, 111, 10, 5),
            Some((DiscrepancyKind::Over, 10))
        );
        assert_eq!(discrepancy_kind(100, 95, 10, 5), None);
        assert_eq!(
            discrepancy_kind(100, 94, 10, 5),
            Some((DiscrepancyKind::Short, 5))
        );
        assert_eq!(discrepancy_kind(10, 0, 0, 100), None);
    }

    #[test]
    fn damage_is_a_variance_when_what_is_fit_for_stock_is_short_beyond_tolerance() {
        // 5 of 100 damaged: 95 fit, at the 5 % bound.
        assert_eq!(line_variance(100, 100, 5, 10, 5), None);
        assert_eq!(
            line_variance(100, 100, 20, 10, 5),
            Some((DiscrepancyKind::Damaged, 80, 5))
        );
        // Short or over on the count comes first.
        assert_eq!(
            line_variance(100, 80, 20, 10, 5),
            Some((DiscrepancyKind::Short, 80, 5))
        );
        assert_eq!(
            line_variance(100, 120, 20, 10, 5),
            Some((DiscrepancyKind::Over, 120, 10))
        );
        // Over by 10 %, 10 damaged: 100 fit.
        assert_eq!(line_variance(100, 110, 10, 10, 5), None);
    }
}
