//! Envelope validation of a functional group and its sets, and the verdicts
//! a 997/999 is built from.

use std::collections::HashSet;

use super::error::{GroupCode, SetCode, SetError, X12Error};
use super::map::{self, Document};
use super::model::{AckStatus, FunctionalGroup, Interchange, TransactionSet};
pub use super::verdict::{GroupVerdict, SetVerdict};

/// The transaction sets this codec reads, and the GS01 each belongs in.
pub const SETS: &[(&str, &str)] = &[
    ("850", "PO"),
    ("855", "PR"),
    ("856", "SH"),
    ("810", "IN"),
    ("997", "FA"),
    ("999", "FA"),
];

/// A group read and judged: the verdict, and each set's document when the
/// set is accepted (`None` where rejected).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupReport {
    pub verdict: GroupVerdict,
    pub documents: Vec<Option<Document>>,
}

/// Judges `group`: its envelope (GS/GE), each set's envelope (ST/SE) and
/// content (mapped to the canonical types; a mapping fault names its
/// segment and element).
pub fn check_group(group: &FunctionalGroup) -> GroupReport {
    let codes = group_codes(group);
    let mut seen = HashSet::new();
    let mut sets = Vec::with_capacity(group.sets.len());
    let mut documents = Vec::with_capacity(group.sets.len());
    for set in &group.sets {
        let (verdict, doc) = check_set(group, set, &mut seen);
        sets.push(verdict);
        documents.push(doc);
    }
    let received = sets.len();
    let accepted = sets.iter().filter(|s| s.status != AckStatus::Rejected).count();
    let included = group
        .trailer
        .as_ref()
        .and_then(|t| t.set_count.parse().ok())
        .unwrap_or(received);
    let group_ok = codes.is_empty();
    let status = match (group_ok, accepted) {
        (true, a) if a == received && sets.iter().all(|s| s.status == AckStatus::Accepted) => {
            AckStatus::Accepted
        }
        (true, a) if a == received => AckStatus::AcceptedWithErrors,
        (true, a) if a > 0 => AckStatus::PartiallyAccepted,
        _ => AckStatus::Rejected,
    };
    let status = if codes.is_empty() {
        status
    } else {
        AckStatus::Rejected
    };
    if status == AckStatus::Rejected {
        documents.iter_mut().for_each(|d| *d = None);
    }
    GroupReport {
        verdict: GroupVerdict {
            functional_id: group.functional_id.clone(),
            control_number: group.control_number.clone(),
            version: group.version.clone(),
            sets,
            status,
            included,
            received,
            accepted: if status == AckStatus::Rejected {
                0
            } else {
                accepted
            },
            codes,
        },
        documents,
    }
}

fn group_codes(group: &FunctionalGroup) -> Vec<GroupCode> {
    let mut codes = Vec::new();
    if !SETS.iter().any(|(_, gs01)| *gs01 == group.functional_id) {
        codes.push(GroupCode::NotSupported);
    }
    if !matches!(group.version.get(..6), Some("004010" | "005010")) {
        codes.push(GroupCode::VersionNotSupported);
    }
    let control = &group.control_number;
    if control.is_empty() || control.len() > 9 || !control.bytes().all(|b| b.is_ascii_digit()) {
        codes.push(GroupCode::ControlNumberSyntax);
    }
    match &group.trailer {
        None => codes.push(GroupCode::TrailerMissing),
        Some(t) => {
            if t.control_number != *control {
                codes.push(GroupCode::ControlNumberMismatch);
            }
            if t.set_count.parse::<usize>().ok() != Some(group.sets.len()) {
                codes.push(GroupCode::SetCountMismatch);
            }
        }
    }
    codes
}

fn check_set(
    group: &FunctionalGroup,
    set: &TransactionSet,
    seen: &mut HashSet<String>,
) -> (SetVerdict, Option<Document>) {
    let mut codes = Vec::new();
    match SETS.iter().find(|(id, _)| *id == set.id) {
        None if set.id.len() == 3 && set.id.bytes().all(|b| b.is_ascii_digit()) => {
            codes.push(SetCode::NotSupported)
        }
        None => codes.push(SetCode::InvalidSetId),
        Some((_, gs01)) if *gs01 != group.functional_id => codes.push(SetCode::InvalidSetId),
        Some(_) => {}
    }
    let control = &set.control_number;
    if !(4..=9).contains(&control.len()) || !control.bytes().all(|b| b.is_ascii_alphanumeric()) {
        codes.push(SetCode::InvalidControlNumber);
    } else if !seen.insert(control.clone()) {
        codes.push(SetCode::ControlNumberNotUnique);
    }
    match &set.trailer {
        None => codes.push(SetCode::TrailerMissing),
        Some(t) => {
            if t.control_number != *control {
                codes.push(SetCode::ControlNumberMismatch);
            }
            if t.segment_count.parse::<usize>().ok() != Some(set.segment_count()) {
                codes.push(SetCode::SegmentCountMismatch);
            }
        }
    }
    let mut segments = set.faults.clone();
    let mut document = None;
    if codes.is_empty() && segments.is_empty() {
        match map::to_canonical(set) {
            Ok(doc) => document = Some(doc),
            Err(e) => segments = e.segments,
        }
    }
    if !segments.is_empty() && codes.is_empty() {
        codes.push(SetCode::SegmentsInError);
    }
    let status = if codes.is_empty() {
        AckStatus::Accepted
    } else {
        AckStatus::Rejected
    };
    let verdict = SetVerdict {
        set_id: set.id.clone(),
        control_number: control.clone(),
        status,
        codes,
        segments,
    };
    (verdict, document)
}

/// The envelope faults of every group and set, as errors (mapping not
/// attempted): for a caller that needs to know whether an interchange is
/// well enveloped, e.g. before a segment-level round trip.
pub fn check_envelopes(interchange: &Interchange) -> Result<(), X12Error> {
    for group in &interchange.groups {
        if let Some(&code) = group_codes(group)
            .iter()
            .find(|c| **c != GroupCode::NotSupported && **c != GroupCode::VersionNotSupported)
        {
            return Err(X12Error::Group {
                functional_id: group.functional_id.clone(),
                control: group.control_number.clone(),
                code,
                detail: "the group's envelope (GS/GE) is not consistent".into(),
            });
        }
        let mut seen = HashSet::new();
        for set in &group.sets {
            let trailer_ok = set.trailer.as_ref().map(|t| {
                (
                    t.control_number == set.control_number,
                    t.segment_count.parse::<usize>().ok() == Some(set.segment_count()),
                )
            });
            let code = match trailer_ok {
                None => Some(SetCode::TrailerMissing),
                Some((false, _)) => Some(SetCode::ControlNumberMismatch),
                Some((_, false)) => Some(SetCode::SegmentCountMismatch),
                _ if !seen.insert(&set.control_number) => Some(SetCode::ControlNumberNotUnique),
                _ if !set.faults.is_empty() => Some(SetCode::SegmentsInError),
                _ => None,
            };
            if let Some(code) = code {
                return Err(X12Error::Set(SetError {
                    set_id: set.id.clone(),
                    control: set.control_number.clone(),
                    code,
                    segments: set.faults.clone(),
                }));
            }
        }
    }
    Ok(())
}
