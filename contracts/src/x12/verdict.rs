//! The verdicts a 997/999 carries: per transaction set and per functional
//! group. The bottom of the acknowledgement side: validation builds them,
//! the acknowledgements write and read them, the mapping returns them.

use super::error::{GroupCode, SegmentError, SetCode, SetError};
use super::model::AckStatus;

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
