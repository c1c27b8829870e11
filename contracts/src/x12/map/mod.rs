//! Mapping between transaction sets and the canonical types: 850 ⇄
//! [`PurchaseOrder`], 855 ⇄ [`PoAcknowledgement`], 856 ⇄
//! [`AdvanceShipNotice`], 810 ⇄ [`Invoice`], 997/999 ⇄
//! [`GroupVerdict`]. Reading names the segment (position as AK3 counts,
//! id) and element of the first fault; writing is lossless for what the
//! canonical types hold (docs/EDI.md has the tables).

mod asn;
mod invoice;
mod order;

use crate::inbound::{AdvanceShipNotice, PoAcknowledgement, PurchaseOrder};
use crate::invoicing::Invoice;

use super::error::{SetCode, SetError};
pub use super::fields::MapError;
use super::model::TransactionSet;
use super::verdict::GroupVerdict;

/// A transaction set read into its canonical type.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    /// 850.
    PurchaseOrder(PurchaseOrder),
    /// 855.
    PoAcknowledgement(PoAcknowledgement),
    /// 856.
    AdvanceShipNotice(AdvanceShipNotice),
    /// 810.
    Invoice(Invoice),
    /// 997 or 999: the verdict on a group the reader sent.
    FunctionalAck(GroupVerdict),
}

impl Document {
    /// ST01 of the set this document is written as (`997` for an ack; use
    /// [`super::ack::functional_ack`] for a 999).
    pub fn set_id(&self) -> &'static str {
        match self {
            Document::PurchaseOrder(_) => "850",
            Document::PoAcknowledgement(_) => "855",
            Document::AdvanceShipNotice(_) => "856",
            Document::Invoice(_) => "810",
            Document::FunctionalAck(_) => "997",
        }
    }

    /// GS01 of the group it belongs in.
    pub fn functional_id(&self) -> &'static str {
        match self {
            Document::PurchaseOrder(_) => "PO",
            Document::PoAcknowledgement(_) => "PR",
            Document::AdvanceShipNotice(_) => "SH",
            Document::Invoice(_) => "IN",
            Document::FunctionalAck(_) => "FA",
        }
    }
}

/// Reads `set` into its canonical type. Segments the mapping does not use
/// are skipped; a missing, malformed or contradictory one is an error
/// naming its position, id, element and X12 code.
pub fn to_canonical(set: &TransactionSet) -> Result<Document, SetError> {
    let result = match set.id.as_str() {
        "850" => order::read_850(set).map(Document::PurchaseOrder),
        "855" => order::read_855(set).map(Document::PoAcknowledgement),
        "856" => asn::read_856(set).map(Document::AdvanceShipNotice),
        "810" => invoice::read_810(set).map(Document::Invoice),
        "997" | "999" => super::ack::read_functional_ack(set).map(Document::FunctionalAck),
        _ => {
            return Err(SetError {
                set_id: set.id.clone(),
                control: set.control_number.clone(),
                code: SetCode::NotSupported,
                segments: Vec::new(),
            });
        }
    };
    result.map_err(|e| SetError {
        set_id: set.id.clone(),
        control: set.control_number.clone(),
        code: SetCode::SegmentsInError,
        segments: vec![e],
    })
}

/// Writes `doc` as a transaction set with control number `control` (ST02).
pub fn from_canonical(doc: &Document, control: &str) -> Result<TransactionSet, MapError> {
    let segments = match doc {
        Document::PurchaseOrder(po) => order::write_850(po)?,
        Document::PoAcknowledgement(ack) => order::write_855(ack)?,
        Document::AdvanceShipNotice(asn) => asn::write_856(asn)?,
        Document::Invoice(inv) => invoice::write_810(inv)?,
        Document::FunctionalAck(v) => return Ok(super::ack::functional_ack(v, control, false)),
    };
    let set = TransactionSet::new(doc.set_id(), control, segments);
    check_text(&set, doc.set_id())?;
    Ok(set)
}

/// Refuses a value holding a byte reserved for the internal separators.
fn check_text(set: &TransactionSet, set_id: &'static str) -> Result<(), MapError> {
    for s in &set.segments {
        if s.elements().any(|e| e.contains(['\u{1d}', '\u{1e}', '\u{1f}'])) {
            return Err(MapError {
                set_id,
                field: format!("segment {}", s.id()),
                detail: "a value holds a control byte (0x1D–0x1F)".into(),
            });
        }
    }
    Ok(())
}
