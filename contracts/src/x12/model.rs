//! The parsed shape of an interchange: envelopes, sets and segments.

use super::error::SegmentError;

/// Inside a [`Segment`], elements are separated by this byte, whatever the
/// interchange used (the parser translates, the writer translates back).
pub const ELEMENT: char = '\u{1d}';
/// Inside an element, components are separated by this byte.
pub const COMPONENT: char = '\u{1f}';
/// Inside an element, repetitions are separated by this byte.
pub const REPETITION: char = '\u{1e}';

/// The four delimiters of an interchange, as its ISA declares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    /// ISA's 4th byte.
    pub element: u8,
    /// ISA16.
    pub component: u8,
    /// ISA11 from version 00402 on; `None` before (ISA11 is then `U`).
    pub repetition: Option<u8>,
    /// The byte after ISA16.
    pub segment: u8,
    /// Whether the writer puts a line feed after each segment terminator.
    pub newline: bool,
}

impl Default for Delimiters {
    /// `*`, `:`, `^`, `~` and a line feed after each segment.
    fn default() -> Self {
        Delimiters {
            element: b'*',
            component: b':',
            repetition: Some(b'^'),
            segment: b'~',
            newline: true,
        }
    }
}

impl Delimiters {
    /// The delimiters in use, without the newline choice.
    pub fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        [
            Some(self.element),
            Some(self.component),
            self.repetition,
            Some(self.segment),
        ]
        .into_iter()
        .flatten()
    }
}

/// A segment id of up to three ASCII bytes as a number (its bytes, big
/// endian, then the length), so ids can be matched as constants.
pub const fn tag(id: &str) -> u32 {
    let b = id.as_bytes();
    if b.is_empty() || b.len() > 3 {
        return 0;
    }
    let mut t = 0u32;
    let mut i = 0;
    while i < b.len() {
        t = (t << 8) | b[i] as u32;
        i += 1;
    }
    (t << 2) | b.len() as u32
}

/// One segment: its id and its elements, stored as one string.
///
/// Elements are separated by [`ELEMENT`], components by [`COMPONENT`],
/// repetitions by [`REPETITION`], whatever delimiters the interchange used;
/// so a segment compares equal however it was delimited on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Segment {
    raw: Box<str>,
}

impl Segment {
    /// A segment of `id` and `elements` (element 01 first). Trailing empty
    /// elements are dropped, as X12 requires; a component is separated by
    /// [`COMPONENT`] within its element string.
    pub fn new(id: &str, elements: &[&str]) -> Self {
        let keep = elements.iter().rposition(|e| !e.is_empty()).map_or(0, |i| i + 1);
        let mut raw = String::with_capacity(id.len() + elements.iter().map(|e| e.len() + 1).sum::<usize>());
        raw.push_str(id);
        for e in &elements[..keep] {
            raw.push(ELEMENT);
            raw.push_str(e);
        }
        Segment { raw: raw.into() }
    }

    /// A segment from its internal string (id, then [`ELEMENT`]-separated elements).
    pub(crate) fn from_raw(raw: String) -> Self {
        Segment { raw: raw.into() }
    }

    /// The internal string: id and elements separated by [`ELEMENT`].
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The segment id (`BEG`, `HL`, …).
    pub fn id(&self) -> &str {
        self.element(0)
    }

    /// The id as a number ([`tag`]), for matching without string compares.
    pub fn tag(&self) -> u32 {
        tag(self.id())
    }

    /// Element `n` (1-based, as `BEG03` is element 3); empty when absent.
    pub fn element(&self, n: usize) -> &str {
        // A byte loop: segments are short, and this is the hot path of
        // every mapping (a `str::split` costs a searcher per call).
        let (mut start, mut field) = (0, 0);
        for (i, &b) in self.raw.as_bytes().iter().enumerate() {
            if b == ELEMENT as u8 {
                if field == n {
                    return &self.raw[start..i];
                }
                field += 1;
                start = i + 1;
            }
        }
        if field == n { &self.raw[start..] } else { "" }
    }

    /// The elements, 01 first.
    pub fn elements(&self) -> impl Iterator<Item = &str> {
        self.raw.split(ELEMENT).skip(1)
    }

    /// How many elements the segment carries (up to its last non-empty one
    /// as received).
    pub fn len(&self) -> usize {
        self.raw.matches(ELEMENT).count()
    }

    /// Whether the segment carries no element.
    pub fn is_empty(&self) -> bool {
        !self.raw.contains(ELEMENT)
    }

    /// Component `k` (1-based) of element `n`; empty when absent.
    pub fn component(&self, n: usize, k: usize) -> &str {
        self.element(n).split(COMPONENT).nth(k - 1).unwrap_or("")
    }
}

/// The ISA header's sixteen elements, as received (fixed-width values keep
/// their padding). ISA11 and ISA16 are read into [`Delimiters`] and written
/// from the delimiters the writer is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsaHeader {
    /// ISA01, ISA02.
    pub authorization_qualifier: String,
    pub authorization: String,
    /// ISA03, ISA04.
    pub security_qualifier: String,
    pub security: String,
    /// ISA05, ISA06: the sender's qualifier (e.g. `ZZ`, `01`, `14`) and id.
    pub sender_qualifier: String,
    pub sender_id: String,
    /// ISA07, ISA08.
    pub receiver_qualifier: String,
    pub receiver_id: String,
    /// ISA09 (YYMMDD), ISA10 (HHMM).
    pub date: String,
    pub time: String,
    /// ISA12: `00401` or `00501`.
    pub version: String,
    /// ISA13: nine digits, repeated in IEA02.
    pub control_number: String,
    /// ISA14: `1` when a TA1 is requested.
    pub ack_requested: String,
    /// ISA15: `P` production, `T` test.
    pub usage: String,
}

impl IsaHeader {
    /// A header with the fixed widths padded: `sender`/`receiver` are
    /// (qualifier, id), `control` becomes nine digits, `date` YYMMDD and
    /// `time` HHMM as given; `version` `00401` or `00501`.
    pub fn new(
        sender: (&str, &str),
        receiver: (&str, &str),
        control: u32,
        date: &str,
        time: &str,
        version: &str,
    ) -> Self {
        IsaHeader {
            authorization_qualifier: "00".into(),
            authorization: " ".repeat(10),
            security_qualifier: "00".into(),
            security: " ".repeat(10),
            sender_qualifier: sender.0.into(),
            sender_id: format!("{:<15}", sender.1),
            receiver_qualifier: receiver.0.into(),
            receiver_id: format!("{:<15}", receiver.1),
            date: date.into(),
            time: time.into(),
            version: version.into(),
            control_number: format!("{control:09}"),
            ack_requested: "0".into(),
            usage: "P".into(),
        }
    }

    /// Whether ISA11 is a repetition separator (version 00402 and later).
    pub fn has_repetition(&self) -> bool {
        self.version.as_str() >= "00402"
    }
}

/// A TA1 interchange acknowledgement (a segment between ISA and IEA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ta1 {
    /// TA101: the acknowledged ISA13.
    pub control_number: String,
    /// TA102, TA103: the acknowledged ISA09 and ISA10.
    pub date: String,
    pub time: String,
    /// TA104: `A` accepted, `E` accepted with errors, `R` rejected.
    pub status: AckStatus,
    /// TA105.
    pub note: super::error::InterchangeNote,
}

/// The verdict letter of a TA104, AK501/IK501 or AK901.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStatus {
    /// `A`.
    Accepted,
    /// `E`.
    AcceptedWithErrors,
    /// `P` (AK901 only: some sets accepted).
    PartiallyAccepted,
    /// `R`.
    Rejected,
}

impl AckStatus {
    /// The letter.
    pub fn code(self) -> &'static str {
        match self {
            AckStatus::Accepted => "A",
            AckStatus::AcceptedWithErrors => "E",
            AckStatus::PartiallyAccepted => "P",
            AckStatus::Rejected => "R",
        }
    }

    /// The status a letter names.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "A" => Some(AckStatus::Accepted),
            "E" => Some(AckStatus::AcceptedWithErrors),
            "P" => Some(AckStatus::PartiallyAccepted),
            "R" => Some(AckStatus::Rejected),
            _ => None,
        }
    }
}

/// An interchange: `ISA … IEA`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interchange {
    pub header: IsaHeader,
    /// The delimiters it was read with (or is to be written with by default).
    pub delimiters: Delimiters,
    /// TA1 segments it carries (an interchange acknowledging others).
    pub ta1: Vec<Ta1>,
    pub groups: Vec<FunctionalGroup>,
}

impl Interchange {
    /// ISA13.
    pub fn control_number(&self) -> &str {
        &self.header.control_number
    }
}

/// GE01 and GE02 as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTrailer {
    pub set_count: String,
    pub control_number: String,
}

/// A functional group: `GS … GE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionalGroup {
    /// GS01: `PO`, `PR`, `SH`, `IN`, `FA`.
    pub functional_id: String,
    /// GS02, GS03: application sender's and receiver's codes.
    pub sender: String,
    pub receiver: String,
    /// GS04 (CCYYMMDD), GS05 (HHMM).
    pub date: String,
    pub time: String,
    /// GS06: group control number, repeated in GE02.
    pub control_number: String,
    /// GS07: responsible agency, `X`.
    pub agency: String,
    /// GS08: `004010` or `005010` (possibly with a suffix such as `005010X231A1`).
    pub version: String,
    pub sets: Vec<TransactionSet>,
    /// GE as received; `None` when missing (the writer always writes its own).
    pub trailer: Option<GroupTrailer>,
}

impl FunctionalGroup {
    /// A group of `functional_id` with control number `control`, no sets yet.
    pub fn new(
        functional_id: &str,
        sender: &str,
        receiver: &str,
        date: &str,
        time: &str,
        control: u32,
        version: &str,
    ) -> Self {
        FunctionalGroup {
            functional_id: functional_id.into(),
            sender: sender.into(),
            receiver: receiver.into(),
            date: date.into(),
            time: time.into(),
            control_number: control.to_string(),
            agency: "X".into(),
            version: version.into(),
            sets: Vec::new(),
            trailer: None,
        }
    }

    /// Whether the group is of version 005010 or later (a 999, not a 997,
    /// acknowledges it).
    pub fn is_5010(&self) -> bool {
        self.version.get(..6).is_some_and(|v| v >= "005010")
    }
}

/// SE01 and SE02 as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetTrailer {
    pub segment_count: String,
    pub control_number: String,
}

/// A transaction set: `ST … SE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSet {
    /// ST01: `850`, `855`, `856`, `810`, `997`, `999`.
    pub id: String,
    /// ST02.
    pub control_number: String,
    /// ST03 (005010 implementation convention reference), if any.
    pub implementation: Option<String>,
    /// The segments between ST and SE; segment `i` (0-based) is at position
    /// `i + 2` as AK3 counts (ST is 1).
    pub segments: Vec<Segment>,
    /// SE as received; `None` when missing (the writer always writes its own).
    pub trailer: Option<SetTrailer>,
    /// Faults found while reading its segments (bad segment id, a byte not
    /// allowed in an element); reported by validation.
    pub faults: Vec<SegmentError>,
}

impl TransactionSet {
    /// A set of `id` with control number `control` and `segments`.
    pub fn new(id: &str, control: &str, segments: Vec<Segment>) -> Self {
        TransactionSet {
            id: id.into(),
            control_number: control.into(),
            implementation: None,
            segments,
            trailer: None,
            faults: Vec::new(),
        }
    }

    /// The number SE01 must carry: the segments from ST to SE inclusive.
    pub fn segment_count(&self) -> usize {
        self.segments.len() + 2
    }
}
