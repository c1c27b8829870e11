//! 850 purchase order ⇄ [`PurchaseOrder`], 855 acknowledgement ⇄
//! [`PoAcknowledgement`].

use crate::inbound::{AckLine, AckLineStatus, PoAcknowledgement, PoLine, PoLineStatus, PurchaseOrder};

use super::super::error::{ElementCode, SegmentCode, SegmentError};
use super::super::fields::{
    At, MapError, gtin_in_pairs, gtin_qualifier, in_pairs, missing, positioned, seg, uom_code, uom_from,
    x12_date,
};
use super::super::model::{Segment, TransactionSet};

/// REF03 naming the mutually defined (REF01 `ZZ`) references of a PO1 loop.
pub(crate) const OVER_TOLERANCE: &str = "OVER TOLERANCE PCT";
pub(crate) const UNDER_TOLERANCE: &str = "UNDER TOLERANCE PCT";
pub(crate) const LINE_STATUS: &str = "LINE STATUS";

fn line_status_code(s: PoLineStatus) -> &'static str {
    match s {
        PoLineStatus::Open => "OPEN",
        PoLineStatus::Closed => "CLOSED",
        PoLineStatus::Cancelled => "CANCELLED",
    }
}

fn line_status(code: &str) -> Option<PoLineStatus> {
    match code {
        "OPEN" => Some(PoLineStatus::Open),
        "CLOSED" => Some(PoLineStatus::Closed),
        "CANCELLED" => Some(PoLineStatus::Cancelled),
        _ => None,
    }
}

pub(crate) fn write_850(po: &PurchaseOrder) -> Result<Vec<Segment>, MapError> {
    let purpose = if po.version == 1 { "00" } else { "05" };
    let mut out = vec![
        seg(
            "BEG",
            &[purpose, "SA", &po.po_number, "", &x12_date(&po.order_date)],
        ),
        seg("CUR", &["BY", &po.currency]),
        seg("REF", &["PP", &po.version.to_string()]),
        seg("N1", &["SU", "", "UL", po.supplier_gln.as_str()]),
        seg("N1", &["ST", "", "UL", po.ship_to_gln.as_str()]),
    ];
    for l in &po.lines {
        out.push(seg(
            "PO1",
            &[
                &l.line_no.to_string(),
                &l.quantity.to_string(),
                uom_code(l.uom),
                &l.unit_price,
                "",
                gtin_qualifier(&l.gtin),
                l.gtin.as_str(),
                "BP",
                &l.sku,
            ],
        ));
        out.push(seg("DTM", &["002", &x12_date(&l.requested_date)]));
        out.push(seg(
            "REF",
            &["ZZ", &l.over_tolerance_pct.to_string(), OVER_TOLERANCE],
        ));
        out.push(seg(
            "REF",
            &["ZZ", &l.under_tolerance_pct.to_string(), UNDER_TOLERANCE],
        ));
        out.push(seg("REF", &["ZZ", line_status_code(l.status), LINE_STATUS]));
    }
    out.push(seg("CTT", &[&po.lines.len().to_string()]));
    Ok(out)
}

/// A PO1 loop being read: the line and whether each of its parts was seen.
struct OpenLine {
    at_pos: usize,
    line: PoLine,
    date: bool,
}

fn percent(at: &At<'_>) -> Result<u8, SegmentError> {
    let v = at.number(2, 0)?;
    u8::try_from(v)
        .ok()
        .filter(|v| *v <= 100)
        .ok_or_else(|| at.fault(2, ElementCode::InvalidCode, "expected a percentage 0–100"))
}

pub(crate) fn read_850(set: &TransactionSet) -> Result<PurchaseOrder, SegmentError> {
    let mut beg = None;
    let (mut currency, mut version, mut supplier, mut ship_to, mut ctt) = (None, None, None, None, None);
    let mut lines: Vec<OpenLine> = Vec::new();
    for at in positioned(set) {
        match (at.id(), lines.last_mut()) {
            ("BEG", _) => {
                at.code(
                    1,
                    |c| matches!(c, "00" | "05").then_some(()),
                    "BEG01 00 (original) or 05 (replace)",
                )?;
                beg = Some((at.req(3)?.to_owned(), at.date(5)?, at));
            }
            ("CUR", None) if at.opt(1) == Some("BY") => currency = Some(at.req(2)?.to_owned()),
            ("REF", None) if at.opt(1) == Some("PP") => version = Some(at.number(2, 1)?),
            ("N1", None) if at.opt(1) == Some("SU") => supplier = Some(party(&at)?),
            ("N1", None) if at.opt(1) == Some("ST") => ship_to = Some(party(&at)?),
            ("PO1", _) => lines.push(OpenLine {
                at_pos: at.pos,
                line: read_po1(&at)?,
                date: false,
            }),
            ("DTM", Some(open)) if at.opt(1) == Some("002") => {
                open.line.requested_date = at.date(2)?;
                open.date = true;
            }
            ("REF", Some(open)) if at.opt(1) == Some("ZZ") => match at.opt(3) {
                Some(OVER_TOLERANCE) => open.line.over_tolerance_pct = percent(&at)?,
                Some(UNDER_TOLERANCE) => open.line.under_tolerance_pct = percent(&at)?,
                Some(LINE_STATUS) => {
                    open.line.status = at.code(2, line_status, "OPEN, CLOSED or CANCELLED")?
                }
                _ => {}
            },
            ("CTT", _) => ctt = Some(at),
            _ => {}
        }
    }
    let (po_number, order_date, beg_at) = beg.ok_or_else(|| missing(set, "BEG"))?;
    check_ctt(set, ctt, lines.len())?;
    let lines = lines
        .into_iter()
        .map(|open| match open.date {
            true => Ok(open.line),
            false => Err(SegmentError::segment(
                open.at_pos + 1,
                "DTM",
                SegmentCode::MandatorySegmentMissing,
                "the PO1 loop has no DTM*002 (requested date)",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let version = match version {
        Some(v) => v,
        None if beg_at.opt(1) == Some("00") => 1,
        None => return Err(missing(set, "REF")),
    };
    Ok(PurchaseOrder {
        po_number,
        version,
        supplier_gln: supplier.ok_or_else(|| missing(set, "N1"))?,
        ship_to_gln: ship_to.ok_or_else(|| missing(set, "N1"))?,
        currency: currency.ok_or_else(|| missing(set, "CUR"))?,
        order_date,
        lines,
    })
}

/// CTT01 must count the line loops.
pub(crate) fn check_ctt(set: &TransactionSet, ctt: Option<At<'_>>, lines: usize) -> Result<(), SegmentError> {
    let ctt = ctt.ok_or_else(|| missing(set, "CTT"))?;
    if ctt.number(1, 0)? as usize != lines {
        return Err(ctt.fault(
            1,
            ElementCode::ExclusionViolated,
            format!("CTT01 must count the {lines} line items"),
        ));
    }
    Ok(())
}

/// A party's GLN from N103 `UL` / N104.
pub(crate) fn party(at: &At<'_>) -> Result<crate::ids::Gln, SegmentError> {
    at.expect(3, "UL")?;
    at.gln(4)
}

fn read_po1(at: &At<'_>) -> Result<PoLine, SegmentError> {
    let sku = in_pairs(at, 6, "BP")
        .or_else(|| in_pairs(at, 6, "VN"))
        .map(|(_, v)| v.to_owned())
        .ok_or_else(|| {
            at.fault(
                6,
                ElementCode::ConditionalMissing,
                "expected a buyer's item (BP) or vendor's item (VN)",
            )
        })?;
    Ok(PoLine {
        line_no: at.number(1, 1)?,
        sku,
        gtin: gtin_in_pairs(at, 6)?,
        quantity: at.number(2, 1)?,
        uom: at.code(3, uom_from, "a unit EA, CA or PL")?,
        unit_price: at.price(4)?,
        requested_date: String::new(),
        over_tolerance_pct: 0,
        under_tolerance_pct: 0,
        status: PoLineStatus::Open,
    })
}

fn ack_code(s: AckLineStatus) -> &'static str {
    match s {
        AckLineStatus::Accepted => "IA",
        AckLineStatus::QuantityChanged => "IQ",
        AckLineStatus::Rejected => "IR",
        AckLineStatus::Backordered => "IB",
        AckLineStatus::DateRescheduled => "DR",
    }
}

fn ack_status(code: &str) -> Option<AckLineStatus> {
    match code {
        "IA" => Some(AckLineStatus::Accepted),
        "IQ" => Some(AckLineStatus::QuantityChanged),
        "IR" => Some(AckLineStatus::Rejected),
        "IB" => Some(AckLineStatus::Backordered),
        "DR" => Some(AckLineStatus::DateRescheduled),
        _ => None,
    }
}

pub(crate) fn write_855(ack: &PoAcknowledgement) -> Result<Vec<Segment>, MapError> {
    let all = |s| ack.lines.iter().all(|l| l.status == s);
    let kind = if all(AckLineStatus::Accepted) {
        "AD"
    } else if all(AckLineStatus::Rejected) {
        "RJ"
    } else {
        "AC"
    };
    // BAK04 (the PO date) is mandatory but not held by the canonical ack:
    // the earliest promised date stands in and is not read back.
    let earliest = ack
        .lines
        .iter()
        .map(|l| l.promised_date.as_str())
        .min()
        .unwrap_or("");
    let mut out = vec![
        seg(
            "BAK",
            &[
                "00",
                kind,
                &ack.po_number,
                &x12_date(earliest),
                "",
                "",
                "",
                &ack.ack_id,
            ],
        ),
        seg("REF", &["PP", &ack.po_version.to_string()]),
        seg("N1", &["SU", "", "UL", ack.supplier_gln.as_str()]),
    ];
    for l in &ack.lines {
        out.push(seg("PO1", &[&l.line_no.to_string()]));
        out.push(seg(
            "ACK",
            &[
                ack_code(l.status),
                &l.confirmed_qty.to_string(),
                "EA",
                "067",
                &x12_date(&l.promised_date),
            ],
        ));
    }
    out.push(seg("CTT", &[&ack.lines.len().to_string()]));
    Ok(out)
}

pub(crate) fn read_855(set: &TransactionSet) -> Result<PoAcknowledgement, SegmentError> {
    let (mut bak, mut version, mut supplier, mut ctt) = (None, None, None, None);
    let mut lines: Vec<(At<'_>, Option<AckLine>)> = Vec::new();
    for at in positioned(set) {
        match (at.id(), lines.last_mut()) {
            ("BAK", _) => bak = Some((at.req(3)?.to_owned(), at.req(8)?.to_owned())),
            ("REF", None) if at.opt(1) == Some("PP") => version = Some(at.number(2, 1)?),
            ("N1", None) if at.opt(1) == Some("SU") => supplier = Some(party(&at)?),
            ("PO1", _) => lines.push((at, None)),
            ("ACK", Some((po1, line @ None))) => {
                at.expect(4, "067")?;
                *line = Some(AckLine {
                    line_no: po1.number(1, 1)?,
                    status: at.code(1, ack_status, "an ACK01 code IA, IQ, IR, IB or DR")?,
                    confirmed_qty: at.number(2, 0)?,
                    promised_date: at.date(5)?,
                });
            }
            ("ACK", _) => return Err(at.unexpected("one ACK per PO1 loop")),
            ("CTT", _) => ctt = Some(at),
            _ => {}
        }
    }
    let (po_number, ack_id) = bak.ok_or_else(|| missing(set, "BAK"))?;
    check_ctt(set, ctt, lines.len())?;
    let lines = lines
        .into_iter()
        .map(|(po1, line)| {
            line.ok_or_else(|| {
                SegmentError::segment(
                    po1.pos + 1,
                    "ACK",
                    SegmentCode::MandatorySegmentMissing,
                    "the PO1 loop has no ACK",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PoAcknowledgement {
        ack_id,
        po_number,
        po_version: version.ok_or_else(|| missing(set, "REF"))?,
        supplier_gln: supplier.ok_or_else(|| missing(set, "N1"))?,
        lines,
    })
}
