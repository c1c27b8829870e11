//! X12 EDI: reading and writing interchanges, mapping transaction sets to
//! and from the canonical types, and acknowledging them.
//!
//! Pure, like the rest of the crate: bytes in, bytes out, no I/O.
//!
//! ```text
//! bytes ──parse──▶ Interchange ──check_group──▶ GroupReport { verdict, documents }
//!                    │ (ISA/IEA faults: X12Error::Interchange → ack::ta1_for)
//!                    ▼
//!        FunctionalGroup ─ TransactionSet ─ Segment        verdict ──ack::acknowledge──▶ 997 / 999
//! Document ──from_canonical──▶ TransactionSet ──(in an Interchange) write──▶ bytes
//! ```
//!
//! - [`parse`] takes the delimiters from the ISA (its 4th byte the element
//!   separator, ISA11 the repetition separator from version 00402 on, ISA16
//!   the component separator, the byte after ISA16 the segment terminator;
//!   CR/LF after a terminator is skipped). A fault of the interchange
//!   envelope is an [`X12Error::Interchange`] with its TA105 code; a group's
//!   or set's missing or wrong trailer is kept on the group or set for
//!   [`check_group`] to report. No input makes it panic.
//! - [`check_group`] judges a functional group (GS/GE, ST/SE, control
//!   numbers, counts, set ids against GS01) and maps each set with
//!   [`to_canonical`]: a [`GroupVerdict`] (what a 997/999 says) and the
//!   documents. A receiver acts only on [`GroupVerdict::is_accepted`], so a
//!   malformed group has no partial effect.
//! - [`ack::acknowledge`] builds the 997 (004010) or 999 (005010);
//!   [`ack::ta1`] / [`ack::ta1_for`] the TA1. [`to_canonical`] reads a
//!   997/999 back into a [`GroupVerdict`] ([`Document::FunctionalAck`]).
//! - [`from_canonical`] writes a canonical document as a set; [`envelope`]
//!   wraps sets into an interchange; [`write()`] writes it with any
//!   [`Delimiters`].
//!
//! Errors name what a 997 names: the segment's position in its set (ST is
//! 1), its id, the element's position and the X12 code ([`SegmentError`],
//! [`ElementError`]). docs/EDI.md has the mapping tables.

pub mod ack;
mod error;
mod fields;
mod map;
mod model;
mod parse;
mod validate;
mod verdict;
mod write;

pub use error::{
    ElementCode, ElementError, GroupCode, InterchangeNote, SegmentCode, SegmentError, SetCode, SetError,
    X12Error,
};
pub use map::{Document, MapError, from_canonical, to_canonical};
pub use model::{
    AckStatus, COMPONENT, Delimiters, ELEMENT, FunctionalGroup, GroupTrailer, Interchange, IsaHeader,
    REPETITION, Segment, SetTrailer, Ta1, TransactionSet, tag,
};
pub use parse::{parse, parse_all};
pub use validate::{GroupReport, GroupVerdict, SETS, SetVerdict, check_envelopes, check_group};
pub use write::{WriteError, write};

/// One interchange holding one functional group of `sets`: version
/// `00401`/`004010` or `00501`/`005010` by `is_5010`; the group's id is
/// the first set's GS01 (`PO`, `SH`, …), its control number `control`, as
/// is the interchange's. Dates are CCYYMMDD, times HHMM.
pub fn envelope(
    sender: (&str, &str),
    receiver: (&str, &str),
    control: u32,
    date: &str,
    time: &str,
    is_5010: bool,
    sets: Vec<TransactionSet>,
) -> Interchange {
    let (isa_version, gs_version) = if is_5010 {
        ("00501", "005010")
    } else {
        ("00401", "004010")
    };
    let functional_id = sets
        .first()
        .and_then(|s| SETS.iter().find(|(id, _)| *id == s.id))
        .map_or("", |(_, gs01)| gs01);
    let short_date = date.get(2..).unwrap_or(date);
    let mut group = FunctionalGroup::new(
        functional_id,
        sender.1,
        receiver.1,
        date,
        time,
        control,
        gs_version,
    );
    group.sets = sets;
    Interchange {
        header: IsaHeader::new(sender, receiver, control, short_date, time, isa_version),
        delimiters: Delimiters::default(),
        ta1: Vec::new(),
        groups: vec![group],
    }
}
