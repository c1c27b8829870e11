//! Writing an [`Interchange`] with chosen delimiters. Trailers (SE, GE, IEA)
//! are computed, never copied: what is written is always well enveloped.

use super::model::{COMPONENT, Delimiters, ELEMENT, Interchange, IsaHeader, REPETITION, Segment};

/// Why an interchange cannot be written with the delimiters given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// Two delimiters are the same byte, or one is a letter, digit or space.
    #[error("failed to write: the delimiters {0:?} are not distinct non-alphanumeric bytes")]
    Delimiters(Delimiters),
    /// A value holds a byte that is one of the delimiters.
    #[error("failed to write segment {segment_id}: its data holds {byte:?}, one of the delimiters")]
    DelimiterInData { segment_id: String, byte: char },
    /// A repetition in an interchange whose version has no repetition separator.
    #[error(
        "failed to write segment {segment_id}: it holds a repetition but the interchange has no repetition separator"
    )]
    NoRepetitionSeparator { segment_id: String },
}

/// Writes `interchange` with `delimiters` (ISA11 is the repetition separator
/// for versions 00402 and later, `U` before).
pub fn write(interchange: &Interchange, delimiters: &Delimiters) -> Result<Vec<u8>, WriteError> {
    check_delimiters(delimiters)?;
    let mut w = Writer {
        out: Vec::with_capacity(4096),
        d: *delimiters,
        repetition: if interchange.header.has_repetition() {
            delimiters.repetition
        } else {
            None
        },
    };
    w.isa(&interchange.header)?;
    for ta1 in &interchange.ta1 {
        let seg = Segment::new(
            "TA1",
            &[
                &ta1.control_number,
                &ta1.date,
                &ta1.time,
                ta1.status.code(),
                ta1.note.code(),
            ],
        );
        w.segment(&seg)?;
    }
    for group in &interchange.groups {
        let g = group;
        w.segment(&Segment::new(
            "GS",
            &[
                &g.functional_id,
                &g.sender,
                &g.receiver,
                &g.date,
                &g.time,
                &g.control_number,
                &g.agency,
                &g.version,
            ],
        ))?;
        for set in &group.sets {
            let st03 = set.implementation.as_deref().unwrap_or("");
            w.segment(&Segment::new("ST", &[&set.id, &set.control_number, st03]))?;
            for segment in &set.segments {
                w.segment(segment)?;
            }
            w.segment(&Segment::new(
                "SE",
                &[&set.segment_count().to_string(), &set.control_number],
            ))?;
        }
        w.segment(&Segment::new(
            "GE",
            &[&group.sets.len().to_string(), &group.control_number],
        ))?;
    }
    let iea = Segment::new(
        "IEA",
        &[
            &interchange.groups.len().to_string(),
            &interchange.header.control_number,
        ],
    );
    w.segment(&iea)?;
    Ok(w.out)
}

fn check_delimiters(d: &Delimiters) -> Result<(), WriteError> {
    let all: Vec<u8> = d.bytes().collect();
    let ok = |b: u8| b.is_ascii() && !b.is_ascii_alphanumeric() && b != b' ' && !matches!(b, 0x1d..=0x1f);
    let distinct = all.iter().enumerate().all(|(i, b)| !all[i + 1..].contains(b));
    let segment_ok = ok(d.segment) || d.segment == b'\n' || d.segment == b'\r';
    let newline_clash = d.newline
        && [d.element, d.component]
            .iter()
            .chain(d.repetition.iter())
            .any(|&b| b == b'\n' || b == b'\r');
    if !distinct
        || !ok(d.element)
        || !ok(d.component)
        || !d.repetition.is_none_or(ok)
        || !segment_ok
        || newline_clash
    {
        return Err(WriteError::Delimiters(*d));
    }
    Ok(())
}

struct Writer {
    out: Vec<u8>,
    d: Delimiters,
    repetition: Option<u8>,
}

impl Writer {
    fn end(&mut self) {
        self.out.push(self.d.segment);
        if self.d.newline && self.d.segment != b'\n' {
            self.out.push(b'\n');
        }
    }

    fn isa(&mut self, h: &IsaHeader) -> Result<(), WriteError> {
        let isa11 = match self.repetition {
            Some(r) => (r as char).to_string(),
            None => "U".to_owned(),
        };
        let fields = [
            &h.authorization_qualifier,
            &h.authorization,
            &h.security_qualifier,
            &h.security,
            &h.sender_qualifier,
            &h.sender_id,
            &h.receiver_qualifier,
            &h.receiver_id,
            &h.date,
            &h.time,
            &isa11,
            &h.version,
            &h.control_number,
            &h.ack_requested,
            &h.usage,
        ];
        self.out.extend_from_slice(b"ISA");
        for (i, f) in fields.into_iter().enumerate() {
            self.out.push(self.d.element);
            if i != 10 {
                self.data("ISA", f)?;
            } else {
                self.out.extend_from_slice(f.as_bytes());
            }
        }
        self.out.push(self.d.element);
        self.out.push(self.d.component);
        self.end();
        Ok(())
    }

    /// Writes `text` translating the internal separators; refuses a delimiter in data.
    fn data(&mut self, segment_id: &str, text: &str) -> Result<(), WriteError> {
        for &b in text.as_bytes() {
            let out = match b {
                b if b == ELEMENT as u8 => self.d.element,
                b if b == COMPONENT as u8 => self.d.component,
                b if b == REPETITION as u8 => {
                    self.repetition.ok_or_else(|| WriteError::NoRepetitionSeparator {
                        segment_id: segment_id.to_owned(),
                    })?
                }
                b if self.d.bytes().any(|d| d == b) || (self.d.newline && (b == b'\n' || b == b'\r')) => {
                    return Err(WriteError::DelimiterInData {
                        segment_id: segment_id.to_owned(),
                        byte: b as char,
                    });
                }
                b => b,
            };
            self.out.push(out);
        }
        Ok(())
    }

    fn segment(&mut self, segment: &Segment) -> Result<(), WriteError> {
        self.data(segment.id(), segment.raw())?;
        self.end();
        Ok(())
    }
}
