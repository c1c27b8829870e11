//! Reading bytes into an [`Interchange`]: delimiters from the ISA, segments
//! split at the terminator (CR/LF after it skipped), envelopes nested by
//! their ids. Envelope faults a TA1 reports end the read with an
//! [`X12Error::Interchange`]; faults of a group or set trailer are kept on
//! the group or set (`trailer: None`, `faults`) for validation to report in
//! a 997/999. No input panics.

use super::error::{ElementCode, InterchangeNote, SegmentCode, SegmentError, X12Error};
use super::model::{
    AckStatus, COMPONENT, Delimiters, ELEMENT, FunctionalGroup, GroupTrailer, Interchange, IsaHeader,
    REPETITION, Segment, SetTrailer, Ta1, TransactionSet, tag,
};

/// Reads one interchange. Leading whitespace (and a UTF-8 byte-order mark)
/// and trailing whitespace are allowed; anything else before ISA or after
/// IEA is refused.
pub fn parse(input: &[u8]) -> Result<Interchange, X12Error> {
    let (interchange, end) = parse_from(input, skip_blank(input, 0))?;
    let rest = skip_blank(input, end);
    if rest < input.len() {
        let header = Some(&interchange.header);
        return Err(interchange_error(
            header,
            InterchangeNote::InvalidControlStructure,
            rest,
            "data after IEA",
        ));
    }
    Ok(interchange)
}

/// Reads every interchange of a batch (a VAN's file may hold several, one
/// after the other). Reading stops at the first that fails: where the next
/// one starts is then unknown.
pub fn parse_all(input: &[u8]) -> Vec<Result<Interchange, X12Error>> {
    let mut out = Vec::new();
    let mut pos = skip_blank(input, 0);
    while pos < input.len() {
        match parse_from(input, pos) {
            Ok((interchange, end)) => {
                out.push(Ok(interchange));
                pos = skip_blank(input, end);
            }
            Err(e) => {
                out.push(Err(e));
                break;
            }
        }
    }
    out
}

/// Reads the interchange starting at `start`; returns it and the offset
/// just past its IEA.
fn parse_from(input: &[u8], start: usize) -> Result<(Interchange, usize), X12Error> {
    let (header, delimiters, mut pos) = read_isa(input, start)?;
    let lexer = Lexer::new(&delimiters);
    let mut reader = Envelopes {
        header,
        groups: Vec::new(),
        ta1: Vec::new(),
        group: None,
        set: None,
    };
    loop {
        pos = skip_line_breaks(input, pos, delimiters.segment);
        if pos >= input.len() {
            return Err(reader.fail(
                InterchangeNote::PrematureEndOfFile,
                pos,
                "the data ends before IEA",
            ));
        }
        let Some(len) = input[pos..].iter().position(|&b| b == delimiters.segment) else {
            return Err(reader.fail(
                InterchangeNote::PrematureEndOfFile,
                pos,
                "the last segment has no terminator",
            ));
        };
        let mut bytes = &input[pos..pos + len];
        if delimiters.segment == b'\n' && bytes.last() == Some(&b'\r') {
            bytes = &bytes[..bytes.len() - 1];
        }
        let (segment, fault) = lex_segment(bytes, &lexer);
        let at = pos;
        pos += len + 1;
        if reader.take(segment, fault, at)? {
            break;
        }
    }
    let interchange = Interchange {
        header: reader.header,
        delimiters,
        ta1: reader.ta1,
        groups: reader.groups,
    };
    Ok((interchange, pos))
}

fn skip_blank(input: &[u8], mut pos: usize) -> usize {
    if input.get(pos..).unwrap_or_default().starts_with(b"\xEF\xBB\xBF") {
        pos += 3;
    }
    while input.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

fn skip_line_breaks(input: &[u8], mut pos: usize, terminator: u8) -> usize {
    while input
        .get(pos)
        .is_some_and(|&b| (b == b'\r' || b == b'\n') && b != terminator)
    {
        pos += 1;
    }
    pos
}

fn interchange_error(
    isa: Option<&IsaHeader>,
    code: InterchangeNote,
    offset: usize,
    detail: impl Into<String>,
) -> X12Error {
    X12Error::Interchange {
        control: isa.map(|h| h.control_number.clone()),
        isa: isa.map(|h| Box::new(h.clone())),
        code,
        offset,
        detail: detail.into(),
    }
}

/// A byte that can delimit: not a letter, digit or space, and ASCII.
fn delimiter_ok(b: u8) -> bool {
    b.is_ascii() && !b.is_ascii_alphanumeric() && b != b' '
}

/// Reads the ISA at `start`: its elements, the delimiters it declares, and
/// the offset just past its terminator.
fn read_isa(input: &[u8], start: usize) -> Result<(IsaHeader, Delimiters, usize), X12Error> {
    let fail = |code, offset, detail: &str| interchange_error(None, code, offset, detail);
    if !input[start..].starts_with(b"ISA") {
        return Err(fail(
            InterchangeNote::InvalidContent,
            start,
            "expected ISA, the start of an interchange",
        ));
    }
    let Some(&element) = input.get(start + 3) else {
        return Err(fail(
            InterchangeNote::PrematureEndOfFile,
            start + 3,
            "the data ends inside ISA",
        ));
    };
    if !delimiter_ok(element) {
        return Err(fail(
            InterchangeNote::InvalidElementSeparator,
            start + 3,
            "ISA's 4th byte is not a separator",
        ));
    }
    // ISA01..ISA15 end at an element separator; ISA16 is one byte, then the terminator.
    let mut fields: Vec<&[u8]> = Vec::with_capacity(16);
    let mut pos = start + 4;
    while fields.len() < 15 {
        let window = &input[pos..input.len().min(pos + 40)];
        let Some(len) = window.iter().position(|&b| b == element) else {
            let code = if window.len() < 40 {
                InterchangeNote::PrematureEndOfFile
            } else {
                InterchangeNote::InvalidContent
            };
            return Err(fail(
                code,
                pos,
                &format!("ISA{:02} has no element separator after it", fields.len() + 1),
            ));
        };
        fields.push(&input[pos..pos + len]);
        pos += len + 1;
    }
    let (Some(&component), Some(&segment)) = (input.get(pos), input.get(pos + 1)) else {
        return Err(fail(
            InterchangeNote::PrematureEndOfFile,
            pos,
            "the data ends inside ISA",
        ));
    };
    let text = |i: usize| String::from_utf8_lossy(fields[i]).into_owned();
    let header = IsaHeader {
        authorization_qualifier: text(0),
        authorization: text(1),
        security_qualifier: text(2),
        security: text(3),
        sender_qualifier: text(4),
        sender_id: text(5),
        receiver_qualifier: text(6),
        receiver_id: text(7),
        date: text(8),
        time: text(9),
        version: text(11),
        control_number: text(12),
        ack_requested: text(13),
        usage: text(14),
    };
    let isa_fail = |code, offset, detail: &str| interchange_error(Some(&header), code, offset, detail);
    if !delimiter_ok(component) || component == element {
        return Err(isa_fail(
            InterchangeNote::InvalidComponentSeparator,
            pos,
            "ISA16 is not a separator distinct from the element separator",
        ));
    }
    if !(delimiter_ok(segment) || segment == b'\n' || segment == b'\r')
        || segment == element
        || segment == component
    {
        return Err(isa_fail(
            InterchangeNote::InvalidSegmentTerminator,
            pos + 1,
            "the byte after ISA16 is not a distinct terminator",
        ));
    }
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(&header.version, 5) {
        return Err(isa_fail(
            InterchangeNote::InvalidVersion,
            start,
            "ISA12 is not a five-digit version",
        ));
    }
    if !digits(&header.control_number, 9) {
        return Err(isa_fail(
            InterchangeNote::InvalidControlNumber,
            start,
            "ISA13 is not nine digits",
        ));
    }
    let repetition = match fields[10] {
        [r] if header.has_repetition() && delimiter_ok(*r) && ![element, component, segment].contains(r) => {
            Some(*r)
        }
        _ => None,
    };
    let delimiters = Delimiters {
        element,
        component,
        repetition,
        segment,
        newline: input.get(pos + 2).is_some_and(|&b| b == b'\r' || b == b'\n'),
    };
    Ok((header, delimiters, pos + 2))
}

/// The byte translation of one interchange: each delimiter to its internal
/// separator, every other byte to itself; the reserved bytes (0x1D–0x1F)
/// that are not delimiters are marked, since they cannot be data.
struct Lexer {
    map: [u8; 256],
    reserved: [bool; 256],
}

impl Lexer {
    fn new(d: &Delimiters) -> Self {
        let mut map = [0u8; 256];
        for (i, m) in map.iter_mut().enumerate() {
            *m = i as u8;
        }
        let mut reserved = [false; 256];
        for b in [ELEMENT as u8, COMPONENT as u8, REPETITION as u8] {
            reserved[usize::from(b)] = true;
        }
        for (from, to) in [
            (Some(d.element), ELEMENT),
            (Some(d.component), COMPONENT),
            (d.repetition, REPETITION),
        ] {
            if let Some(from) = from {
                map[usize::from(from)] = to as u8;
                reserved[usize::from(from)] = false;
            }
        }
        Lexer { map, reserved }
    }
}

/// One segment's bytes into a [`Segment`] with the internal separators, and
/// the fault found in it (a bad id, a byte not allowed).
fn lex_segment(bytes: &[u8], lexer: &Lexer) -> (Segment, Option<(SegmentCode, Option<usize>, String)>) {
    let out: Vec<u8> = bytes.iter().map(|&b| lexer.map[usize::from(b)]).collect();
    let mut fault = None;
    if let Some(at) = bytes.iter().position(|&b| lexer.reserved[usize::from(b)]) {
        let element = out[..at].iter().filter(|&&b| b == ELEMENT as u8).count();
        fault = Some((
            SegmentCode::ElementErrors,
            Some(element),
            "a reserved control byte in an element".to_owned(),
        ));
    }
    let raw = match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let element = e.as_bytes()[..at].iter().filter(|&&b| b == ELEMENT as u8).count();
            fault.get_or_insert((
                SegmentCode::ElementErrors,
                Some(element),
                "bytes that are not UTF-8".to_owned(),
            ));
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    };
    let segment = Segment::from_raw(raw);
    let id = segment.id();
    let id_ok =
        (2..=3).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !id_ok {
        fault = Some((
            SegmentCode::UnrecognizedSegmentId,
            None,
            format!("segment id {id:?} is not 2–3 upper-case letters or digits"),
        ));
    }
    (segment, fault)
}

const GS: u32 = tag("GS");
const GE: u32 = tag("GE");
const ST: u32 = tag("ST");
const SE: u32 = tag("SE");
const ISA: u32 = tag("ISA");
const IEA: u32 = tag("IEA");
const TA1: u32 = tag("TA1");

/// The envelope state while segments are read.
struct Envelopes {
    header: IsaHeader,
    groups: Vec<FunctionalGroup>,
    ta1: Vec<Ta1>,
    group: Option<FunctionalGroup>,
    set: Option<TransactionSet>,
}

impl Envelopes {
    fn fail(&self, code: InterchangeNote, offset: usize, detail: impl Into<String>) -> X12Error {
        interchange_error(Some(&self.header), code, offset, detail)
    }

    fn close_set(&mut self, trailer: Option<SetTrailer>) {
        if let (Some(mut set), Some(group)) = (self.set.take(), self.group.as_mut()) {
            set.trailer = trailer;
            group.sets.push(set);
        }
    }

    fn close_group(&mut self, trailer: Option<GroupTrailer>) {
        self.close_set(None);
        if let Some(mut group) = self.group.take() {
            group.trailer = trailer;
            self.groups.push(group);
        }
    }

    /// Takes one segment; `Ok(true)` once IEA is read.
    fn take(
        &mut self,
        segment: Segment,
        fault: Option<(SegmentCode, Option<usize>, String)>,
        at: usize,
    ) -> Result<bool, X12Error> {
        let id = segment.id();
        let t = segment.tag();
        let envelope = matches!(t, GS | GE | ST | SE | IEA | ISA) || (t == TA1 && self.group.is_none());
        if envelope && fault.is_some() {
            return Err(self.fail(
                InterchangeNote::InvalidContent,
                at,
                format!("{id} holds a byte not allowed"),
            ));
        }
        match t {
            GS => {
                self.close_group(None);
                self.group = Some(read_gs(&segment));
            }
            ST => {
                if self.group.is_none() {
                    return Err(self.fail(
                        InterchangeNote::InvalidControlStructure,
                        at,
                        "ST outside a functional group",
                    ));
                }
                self.close_set(None);
                let mut set = TransactionSet::new(segment.element(1), segment.element(2), Vec::new());
                set.implementation = Some(segment.element(3))
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned);
                self.set = Some(set);
            }
            SE => {
                if self.set.is_none() {
                    return Err(self.fail(
                        InterchangeNote::InvalidControlStructure,
                        at,
                        "SE outside a transaction set",
                    ));
                }
                self.close_set(Some(SetTrailer {
                    segment_count: segment.element(1).into(),
                    control_number: segment.element(2).into(),
                }));
            }
            GE => {
                if self.group.is_none() {
                    return Err(self.fail(
                        InterchangeNote::InvalidControlStructure,
                        at,
                        "GE outside a functional group",
                    ));
                }
                self.close_group(Some(GroupTrailer {
                    set_count: segment.element(1).into(),
                    control_number: segment.element(2).into(),
                }));
            }
            IEA => {
                self.close_group(None);
                return self.check_iea(&segment, at).map(|()| true);
            }
            ISA => {
                return Err(self.fail(
                    InterchangeNote::InvalidControlStructure,
                    at,
                    "ISA inside an interchange",
                ));
            }
            TA1 if self.group.is_none() => {
                let ta1 = read_ta1(&segment)
                    .ok_or_else(|| self.fail(InterchangeNote::InvalidContent, at, "TA1 is not readable"))?;
                self.ta1.push(ta1);
            }
            _ => {
                let Some(set) = self.set.as_mut() else {
                    return Err(self.fail(
                        InterchangeNote::InvalidControlStructure,
                        at,
                        format!("segment {id} outside a transaction set"),
                    ));
                };
                let position = set.segments.len() + 2;
                if let Some((code, element, detail)) = fault {
                    set.faults.push(match element {
                        Some(e) => SegmentError::element(
                            position,
                            id,
                            e.max(1),
                            ElementCode::InvalidCharacter,
                            None,
                            detail,
                        ),
                        None => SegmentError::segment(position, id, code, detail),
                    });
                }
                set.segments.push(segment);
            }
        }
        Ok(false)
    }

    fn check_iea(&self, iea: &Segment, at: usize) -> Result<(), X12Error> {
        if iea.element(2) != self.header.control_number {
            return Err(self.fail(
                InterchangeNote::ControlNumberMismatch,
                at,
                format!(
                    "IEA02 {:?} differs from ISA13 {:?}",
                    iea.element(2),
                    self.header.control_number
                ),
            ));
        }
        if iea.element(1).parse::<usize>().ok() != Some(self.groups.len()) {
            return Err(self.fail(
                InterchangeNote::InvalidGroupCount,
                at,
                format!(
                    "IEA01 {:?} but {} functional groups",
                    iea.element(1),
                    self.groups.len()
                ),
            ));
        }
        Ok(())
    }
}

fn read_gs(gs: &Segment) -> FunctionalGroup {
    let e = |n| gs.element(n).to_owned();
    FunctionalGroup {
        functional_id: e(1),
        sender: e(2),
        receiver: e(3),
        date: e(4),
        time: e(5),
        control_number: e(6),
        agency: e(7),
        version: e(8),
        sets: Vec::new(),
        trailer: None,
    }
}

fn read_ta1(ta1: &Segment) -> Option<Ta1> {
    Some(Ta1 {
        control_number: ta1.element(1).into(),
        date: ta1.element(2).into(),
        time: ta1.element(3).into(),
        status: AckStatus::from_code(ta1.element(4))?,
        note: super::error::InterchangeNote::from_code(ta1.element(5))?,
    })
}
