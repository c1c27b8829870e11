//! Reading and writing the elements of a set: segments with their
//! positions ([`At`]), the qualifiers and code lists the mapping shares
//! (dates, units, GTIN qualifiers), and [`MapError`]. The bottom of the
//! mapping: the sets' readers and writers and the acknowledgements use it.

use crate::ids::{Gln, Gtin, IdError, Sscc};
use crate::inbound::Uom;

use super::error::{ElementCode, SegmentCode, SegmentError};
use super::model::{Segment, TransactionSet};

/// Why a canonical document cannot be written as a transaction set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to write {set_id} field {field}: {detail}")]
pub struct MapError {
    pub set_id: &'static str,
    /// The canonical field, as a JSON pointer.
    pub field: String,
    pub detail: String,
}

/// One segment of a set with its position (ST = 1).
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub pos: usize,
    pub seg: &'a Segment,
}

pub fn positioned(set: &TransactionSet) -> impl Iterator<Item = At<'_>> {
    set.segments
        .iter()
        .enumerate()
        .map(|(i, seg)| At { pos: i + 2, seg })
}

/// A mandatory segment `id` is missing: reported at SE's position.
pub fn missing(set: &TransactionSet, id: &str) -> SegmentError {
    SegmentError::segment(
        set.segment_count(),
        id,
        SegmentCode::MandatorySegmentMissing,
        format!("no {id} segment"),
    )
}

impl<'a> At<'a> {
    pub fn id(&self) -> &'a str {
        self.seg.id()
    }

    pub fn opt(&self, n: usize) -> Option<&'a str> {
        Some(self.seg.element(n)).filter(|v| !v.is_empty())
    }

    pub fn fault(&self, n: usize, code: ElementCode, detail: impl Into<String>) -> SegmentError {
        SegmentError::element(self.pos, self.id(), n, code, self.opt(n), detail)
    }

    pub fn unexpected(&self, detail: impl Into<String>) -> SegmentError {
        SegmentError::segment(self.pos, self.id(), SegmentCode::UnexpectedSegment, detail)
    }

    pub fn req(&self, n: usize) -> Result<&'a str, SegmentError> {
        self.opt(n).ok_or_else(|| {
            self.fault(
                n,
                ElementCode::MandatoryMissing,
                format!("{}{n:02} is required", self.id()),
            )
        })
    }

    /// A whole number of at least `min`.
    pub fn number(&self, n: usize, min: u32) -> Result<u32, SegmentError> {
        let v = self.req(n)?;
        match v.parse::<u32>() {
            Ok(q) if q >= min && v.bytes().all(|b| b.is_ascii_digit()) => Ok(q),
            _ => Err(self.fault(
                n,
                ElementCode::InvalidCharacter,
                format!("expected a whole number ≥ {min}"),
            )),
        }
    }

    /// A CCYYMMDD date as `YYYY-MM-DD`.
    pub fn date(&self, n: usize) -> Result<String, SegmentError> {
        let v = self.req(n)?;
        let iso = (v.len() == 8 && v.is_ascii()).then(|| format!("{}-{}-{}", &v[..4], &v[4..6], &v[6..]));
        match iso {
            Some(iso) if v.is_ascii() && crate::validate::parse_date(&iso).is_some() => Ok(iso),
            _ => Err(self.fault(n, ElementCode::InvalidDate, "expected a CCYYMMDD date")),
        }
    }

    /// A value of a code list.
    pub fn code<T>(&self, n: usize, list: fn(&str) -> Option<T>, what: &str) -> Result<T, SegmentError> {
        list(self.req(n)?).ok_or_else(|| self.fault(n, ElementCode::InvalidCode, format!("expected {what}")))
    }

    /// A decimal price of the contracts' pattern.
    pub fn price(&self, n: usize) -> Result<String, SegmentError> {
        let v = self.req(n)?;
        match crate::invoicing::price_e4(v) {
            Some(_) => Ok(v.to_owned()),
            None => Err(self.fault(
                n,
                ElementCode::InvalidCharacter,
                "expected a price: up to 12 digits, up to 4 decimals",
            )),
        }
    }

    fn id_fault(&self, n: usize, e: IdError) -> SegmentError {
        let code = match e {
            IdError::Length { .. } => ElementCode::TooShort,
            IdError::NotDigits { .. } => ElementCode::InvalidCharacter,
            IdError::CheckDigit { .. } => ElementCode::InvalidCode,
        };
        let code = match (code, self.opt(n).map(str::len)) {
            (ElementCode::TooShort, Some(l)) if l > 14 => ElementCode::TooLong,
            (c, _) => c,
        };
        self.fault(n, code, e.to_string())
    }

    pub fn gln(&self, n: usize) -> Result<Gln, SegmentError> {
        Gln::parse(self.req(n)?).map_err(|e| self.id_fault(n, e))
    }

    pub fn gtin(&self, n: usize) -> Result<Gtin, SegmentError> {
        Gtin::parse(self.req(n)?).map_err(|e| self.id_fault(n, e))
    }

    pub fn sscc(&self, n: usize) -> Result<Sscc, SegmentError> {
        Sscc::parse(self.req(n)?).map_err(|e| self.id_fault(n, e))
    }

    /// Element `n` must be `expected` (a qualifier).
    pub fn expect(&self, n: usize, expected: &str) -> Result<(), SegmentError> {
        match self.req(n)? {
            v if v == expected => Ok(()),
            _ => Err(self.fault(n, ElementCode::InvalidCode, format!("expected {expected}"))),
        }
    }
}

/// `YYYY-MM-DD` as CCYYMMDD.
pub(crate) fn x12_date(iso: &str) -> String {
    iso.replace('-', "")
}

/// X12 unit of measure (element 355) of a canonical unit.
pub(crate) fn uom_code(u: Uom) -> &'static str {
    match u {
        Uom::Ea => "EA",
        Uom::Cs => "CA",
        Uom::Pl => "PL",
    }
}

pub(crate) fn uom_from(code: &str) -> Option<Uom> {
    match code {
        "EA" => Some(Uom::Ea),
        "CA" => Some(Uom::Cs),
        "PL" => Some(Uom::Pl),
        _ => None,
    }
}

/// Product id qualifier (element 235) for a GTIN by its length.
pub(crate) fn gtin_qualifier(g: &Gtin) -> &'static str {
    match g.as_str().len() {
        14 => "UK",
        12 => "UP",
        _ => "EN",
    }
}

/// Whether a product id qualifier names a GTIN.
pub(crate) fn is_gtin_qualifier(q: &str) -> bool {
    matches!(q, "UK" | "UP" | "EN" | "UA" | "EO")
}

/// A GTIN from the first (qualifier, id) pair naming one, starting at
/// element `first` of `at` (pairs at first, first+2, …).
pub(crate) fn gtin_in_pairs(at: &At<'_>, first: usize) -> Result<Gtin, SegmentError> {
    let mut n = first;
    while let Some(q) = at.opt(n) {
        if is_gtin_qualifier(q) {
            return at.gtin(n + 1);
        }
        n += 2;
    }
    Err(at.fault(
        first,
        ElementCode::ConditionalMissing,
        "expected a product id qualified UK, UP or EN (a GTIN)",
    ))
}

/// The value of the pair qualified `qualifier` (pairs from `first` on).
pub(crate) fn in_pairs<'a>(at: &At<'a>, first: usize, qualifier: &str) -> Option<(usize, &'a str)> {
    let mut n = first;
    while let Some(q) = at.opt(n) {
        if q == qualifier {
            return at.opt(n + 1).map(|v| (n + 1, v));
        }
        n += 2;
    }
    None
}

pub(crate) fn seg(id: &str, elements: &[&str]) -> Segment {
    Segment::new(id, elements)
}
