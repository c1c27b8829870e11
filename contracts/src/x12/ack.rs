//! Acknowledgements: the 997 (004010) or 999 (005010) for a received
//! functional group, the TA1 for an interchange, and reading both back so a
//! sender learns its verdict.

use super::error::{
    ElementCode, ElementError, GroupCode, InterchangeNote, SegmentCode, SegmentError, SetCode, X12Error,
};
use super::fields::{At, positioned};
use super::model::{AckStatus, COMPONENT, FunctionalGroup, IsaHeader, Segment, Ta1, TransactionSet};
use super::verdict::{GroupVerdict, SetVerdict};

/// The 997 (`is_999 == false`) or 999 for `verdict`, with control number
/// `control` (ST02). A 999 names the group's version (AK103) and uses
/// IK3/IK4/IK5 for the sets.
pub fn functional_ack(verdict: &GroupVerdict, control: &str, is_999: bool) -> TransactionSet {
    let (ak3, ak4, ak5) = if is_999 {
        ("IK3", "IK4", "IK5")
    } else {
        ("AK3", "AK4", "AK5")
    };
    let mut out = Vec::new();
    let version = if is_999 { verdict.version.as_str() } else { "" };
    out.push(Segment::new(
        "AK1",
        &[&verdict.functional_id, &verdict.control_number, version],
    ));
    for set in &verdict.sets {
        out.push(Segment::new("AK2", &[&set.set_id, &set.control_number]));
        for e in &set.segments {
            out.push(Segment::new(
                ak3,
                &[&e.segment_id, &e.position.to_string(), "", e.code.code()],
            ));
            if let Some(el) = &e.element {
                let pos = match el.component {
                    Some(c) => format!("{}{COMPONENT}{c}", el.position),
                    None => el.position.to_string(),
                };
                out.push(Segment::new(
                    ak4,
                    &[&pos, "", el.code.code(), &copy_of(el.value.as_deref())],
                ));
            }
        }
        let mut ak5_elements = vec![set.status.code()];
        ak5_elements.extend(set.codes.iter().take(5).map(|c| c.code()));
        out.push(Segment::new(ak5, &ak5_elements));
    }
    let counts = [
        verdict.included.to_string(),
        verdict.received.to_string(),
        verdict.accepted.to_string(),
    ];
    let mut ak9 = vec![verdict.status.code(), &counts[0], &counts[1], &counts[2]];
    ak9.extend(verdict.codes.iter().take(5).map(|c| c.code()));
    out.push(Segment::new("AK9", &ak9));
    TransactionSet::new(if is_999 { "999" } else { "997" }, control, out)
}

/// AK404 copies the bad data, up to 99 characters, without control bytes.
fn copy_of(value: Option<&str>) -> String {
    value
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(99)
        .collect()
}

/// The acknowledgement `group` calls for: a 999 for version 005010, else a 997.
pub fn acknowledge(group: &FunctionalGroup, verdict: &GroupVerdict, control: &str) -> TransactionSet {
    functional_ack(verdict, control, group.is_5010())
}

/// The TA1 answering the interchange `isa`: accepted when `note` is
/// [`InterchangeNote::NoError`], rejected otherwise.
pub fn ta1(isa: &IsaHeader, note: InterchangeNote) -> Ta1 {
    Ta1 {
        control_number: isa.control_number.clone(),
        date: isa.date.clone(),
        time: isa.time.clone(),
        status: if note == InterchangeNote::NoError {
            AckStatus::Accepted
        } else {
            AckStatus::Rejected
        },
        note,
    }
}

/// The TA1 rejecting an interchange that failed to read, when its ISA was
/// read far enough to be answered (`None` for bytes with no readable ISA).
pub fn ta1_for(error: &X12Error) -> Option<Ta1> {
    match error {
        X12Error::Interchange {
            isa: Some(isa), code, ..
        } => Some(ta1(isa, *code)),
        _ => None,
    }
}

/// Reads a 997 or 999 back into the verdict it carries.
pub fn read_functional_ack(set: &TransactionSet) -> Result<GroupVerdict, SegmentError> {
    let mut verdict: Option<GroupVerdict> = None;
    let mut ak9_seen = false;
    for at in positioned(set) {
        match at.id() {
            "AK1" => {
                verdict = Some(GroupVerdict {
                    functional_id: at.req(1)?.to_owned(),
                    control_number: at.req(2)?.to_owned(),
                    version: at.opt(3).unwrap_or("").to_owned(),
                    sets: Vec::new(),
                    status: AckStatus::Rejected,
                    included: 0,
                    received: 0,
                    accepted: 0,
                    codes: Vec::new(),
                });
            }
            "AK2" => need(&mut verdict, &at)?.sets.push(SetVerdict {
                set_id: at.req(1)?.to_owned(),
                control_number: at.req(2)?.to_owned(),
                status: AckStatus::Rejected,
                codes: Vec::new(),
                segments: Vec::new(),
            }),
            "AK3" | "IK3" => current_set(&mut verdict, &at)?.segments.push(SegmentError {
                position: at.number(2, 1)? as usize,
                segment_id: at.req(1)?.to_owned(),
                code: at.code(4, SegmentCode::from_code, "an AK304 segment syntax code")?,
                element: None,
                detail: String::new(),
            }),
            "AK4" | "IK4" => {
                let element = read_ak4(&at)?;
                let set = current_set(&mut verdict, &at)?;
                // A second AK4 under one AK3 reads as a second fault of that segment.
                match set.segments.last_mut() {
                    Some(seg) if seg.element.is_none() => seg.element = Some(element),
                    Some(seg) => {
                        let again = SegmentError {
                            element: Some(element),
                            ..seg.clone()
                        };
                        set.segments.push(again);
                    }
                    None => return Err(at.unexpected("AK4 before any AK3")),
                }
            }
            "AK5" | "IK5" => {
                let status = at.code(1, AckStatus::from_code, "A, E or R")?;
                let codes = (2..=6)
                    .filter_map(|n| at.opt(n).map(|_| at.code(n, SetCode::from_code, "an AK502 code")))
                    .collect::<Result<_, _>>()?;
                let set = current_set(&mut verdict, &at)?;
                set.status = status;
                set.codes = codes;
            }
            "AK9" => {
                let v = need(&mut verdict, &at)?;
                v.status = at.code(1, AckStatus::from_code, "A, E, P or R")?;
                v.included = at.number(2, 0)? as usize;
                v.received = at.number(3, 0)? as usize;
                v.accepted = at.number(4, 0)? as usize;
                v.codes = (5..=9)
                    .filter_map(|n| {
                        at.opt(n)
                            .map(|_| at.code(n, GroupCode::from_code, "an AK905 code"))
                    })
                    .collect::<Result<_, _>>()?;
                ak9_seen = true;
            }
            _ => {}
        }
    }
    match verdict {
        Some(v) if ak9_seen => Ok(v),
        Some(_) => Err(super::fields::missing(set, "AK9")),
        None => Err(super::fields::missing(set, "AK1")),
    }
}

fn need<'v>(
    verdict: &'v mut Option<GroupVerdict>,
    at: &At<'_>,
) -> Result<&'v mut GroupVerdict, SegmentError> {
    verdict.as_mut().ok_or_else(|| at.unexpected("before AK1"))
}

fn current_set<'v>(
    verdict: &'v mut Option<GroupVerdict>,
    at: &At<'_>,
) -> Result<&'v mut SetVerdict, SegmentError> {
    need(verdict, at)?
        .sets
        .last_mut()
        .ok_or_else(|| at.unexpected("before AK2"))
}

fn read_ak4(at: &At<'_>) -> Result<ElementError, SegmentError> {
    let bad = || at.fault(1, ElementCode::InvalidCharacter, "expected an element position");
    let position = at.seg.component(1, 1).parse().map_err(|_| bad())?;
    let component = match at.seg.component(1, 2) {
        "" => None,
        c => Some(c.parse().map_err(|_| bad())?),
    };
    Ok(ElementError {
        position,
        component,
        code: at.code(3, ElementCode::from_code, "an AK403 element code")?,
        value: at.opt(4).map(str::to_owned),
    })
}
