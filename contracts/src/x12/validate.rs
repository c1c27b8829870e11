//! Envelope validation of a functional group and its sets, and the verdicts
//! a 997/999 is built from.

use std::collections::HashSet;

use super::error::{GroupCode, SegmentError, SetCode, SetError, X12Error};
use super::map::{self, Document};
use super::model::{AckStatus, FunctionalGroup, Interchange, TransactionSet};

/// The transaction sets this codec reads, and the GS01 each belongs in.
pub const SETS: &[(&str, &str)] = &[
    ("850", "PO"),
    ("855", "PR"),
    ("856", "SH"),
    ("810", "IN"),
    ("997", "FA"),
    ("999", "FA"),
];

/// The verdict on one transaction set (AK2..AK5 / AK2, IK3..IK5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetVerdict {
    /// ST01, ST02 (AK201, AK202).
    pub set_id: String,
    pub control_number: String,
    /// AK501 / IK501.
    pub status: AckStatus,
    /// AK502.. / IK502..: why it is rejected (empty when accepted).
    pub codes: Vec<SetCode>,
    /// The segments in error (AK3/AK4 / IK3/IK4).
    pub segments: Vec<SegmentError>,
}

impl SetVerdict {
    /// The set as an error, when it is rejected.
    pub fn error(&self) -> Option<SetError> {
        (self.status == AckStatus::Rejected).then(|| SetError {
            set_id: self.set_id.clone(),
            control: self.control_number.clone(),
            code: self.codes.first().copied().unwrap_or(SetCode::SegmentsInError),
            segments: self.segments.clone(),
        })
    }
}

/// The verdict on one functional group (AK1, the sets' verdicts, AK9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupVerdict {
    /// GS01, GS06, GS08 (AK101, AK102, AK103).
    pub functional_id: String,
    pub control_number: String,
    pub version: String,
    pub sets: Vec<SetVerdict>,
    /// AK901.
    pub status: AckStatus,
    /// AK902: sets the GE says it holds (the count read when GE is missing).
    pub included: usize,
    /// AK903, AK904: sets received and accepted.
    pub received: usize,
    pub accepted: usize,
    /// AK905..: why the group is rejected.
    pub codes: Vec<GroupCode>,
}

impl GroupVerdict {
    /// Whether every set is accepted and the group too: the only verdict on
    /// which a receiver acts (no partial effect).
    pub fn is_accepted(&self) -> bool {
        self.status == AckStatus::Accepted
    }
}

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
