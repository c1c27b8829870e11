//! 810 invoice ⇄ [`Invoice`].

use crate::invoicing::{Invoice, InvoiceLine, price_e4};

use super::super::error::{ElementCode, SegmentError};
use super::super::fields::{
    At, MapError, gtin_in_pairs, gtin_qualifier, in_pairs, missing, positioned, seg, uom_code, uom_from,
    x12_date,
};
use super::super::model::{Segment, TransactionSet};

/// The invoice total in cents (TDS01): Σ quantity × unit price, rounded half up.
fn total_cents(lines: &[InvoiceLine]) -> Option<u128> {
    let e4 = lines.iter().try_fold(0u128, |sum, l| {
        Some(sum + u128::from(l.quantity) * price_e4(&l.unit_price)?)
    })?;
    Some((e4 + 50) / 100)
}

pub(crate) fn write_810(inv: &Invoice) -> Result<Vec<Segment>, MapError> {
    let total = total_cents(&inv.lines).ok_or_else(|| MapError {
        set_id: "810",
        field: "/lines".into(),
        detail: "a unit price is not a decimal of up to 12 digits and 4 decimals".into(),
    })?;
    let mut out = vec![
        seg(
            "BIG",
            &[
                &x12_date(&inv.invoice_date),
                &inv.invoice_number,
                "",
                &inv.po_number,
            ],
        ),
        seg("CUR", &["SE", &inv.currency]),
        seg("N1", &["SU", "", "UL", inv.supplier_gln.as_str()]),
        seg("N1", &["BT", "", "UL", inv.bill_to_gln.as_str()]),
        seg("ITD", &["01", "3", "", "", "", &x12_date(&inv.due_date)]),
    ];
    for l in &inv.lines {
        out.push(seg(
            "IT1",
            &[
                &l.line_no.to_string(),
                &l.quantity.to_string(),
                uom_code(l.uom),
                &l.unit_price,
                "",
                gtin_qualifier(&l.gtin),
                l.gtin.as_str(),
                "PL",
                &l.po_line_no.to_string(),
            ],
        ));
    }
    out.push(seg("TDS", &[&total.to_string()]));
    out.push(seg("CTT", &[&inv.lines.len().to_string()]));
    Ok(out)
}

fn read_it1(at: &At<'_>) -> Result<InvoiceLine, SegmentError> {
    let (n, po_line) = in_pairs(at, 6, "PL")
        .ok_or_else(|| at.fault(6, ElementCode::ConditionalMissing, "expected the PO line (PL)"))?;
    Ok(InvoiceLine {
        line_no: at.number(1, 1)?,
        po_line_no: po_line
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| at.fault(n, ElementCode::InvalidCharacter, "expected a PO line number ≥ 1"))?,
        gtin: gtin_in_pairs(at, 6)?,
        quantity: at.number(2, 1)?,
        uom: at.code(3, uom_from, "a unit EA, CA or PL")?,
        unit_price: at.price(4)?,
    })
}

pub(crate) fn read_810(set: &TransactionSet) -> Result<Invoice, SegmentError> {
    let (mut big, mut currency, mut supplier, mut bill_to, mut due, mut tds, mut ctt) =
        (None, None, None, None, None, None, None);
    let mut lines = Vec::new();
    for at in positioned(set) {
        match (at.id(), at.opt(1)) {
            ("BIG", _) => big = Some((at.date(1)?, at.req(2)?.to_owned(), at.req(4)?.to_owned())),
            ("CUR", Some("SE")) => currency = Some(at.req(2)?.to_owned()),
            ("N1", Some("SU")) => supplier = Some(super::order::party(&at)?),
            ("N1", Some("BT")) => bill_to = Some(super::order::party(&at)?),
            ("ITD", _) => due = Some(at.date(6)?),
            ("IT1", _) => lines.push(read_it1(&at)?),
            ("TDS", _) => tds = Some(at),
            ("CTT", _) => ctt = Some(at),
            _ => {}
        }
    }
    let (invoice_date, invoice_number, po_number) = big.ok_or_else(|| missing(set, "BIG"))?;
    let tds = tds.ok_or_else(|| missing(set, "TDS"))?;
    let expected = total_cents(&lines).unwrap_or_default();
    if tds.req(1)?.parse::<u128>().ok() != Some(expected) {
        return Err(tds.fault(
            1,
            ElementCode::ExclusionViolated,
            format!("TDS01 must be the lines' total in cents, {expected}"),
        ));
    }
    if let Some(ctt) = ctt {
        if ctt.number(1, 0)? as usize != lines.len() {
            return Err(ctt.fault(
                1,
                ElementCode::ExclusionViolated,
                format!("CTT01 must count the {} IT1 lines", lines.len()),
            ));
        }
    }
    Ok(Invoice {
        invoice_number,
        supplier_gln: supplier.ok_or_else(|| missing(set, "N1"))?,
        bill_to_gln: bill_to.ok_or_else(|| missing(set, "N1"))?,
        po_number,
        currency: currency.ok_or_else(|| missing(set, "CUR"))?,
        invoice_date,
        due_date: due.ok_or_else(|| missing(set, "ITD"))?,
        lines,
    })
}
