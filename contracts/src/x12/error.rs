//! The faults a receiver reports, each with the X12 code an acknowledgement
//! carries for it: TA1 interchange note codes (TA105), functional group
//! codes (AK905), transaction set codes (AK502/IK502), segment syntax codes
//! (AK304/IK304) and data element codes (AK403/IK403).

use std::fmt;

macro_rules! x12_codes {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every code of the list, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The code as an acknowledgement writes it.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The variant a received code names, if it is one of the list.
            pub fn from_code(code: &str) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

x12_codes!(
    /// TA105, interchange note code: why an interchange envelope is refused.
    InterchangeNote {
        /// No error.
        NoError = "000",
        /// ISA13 and IEA02 differ.
        ControlNumberMismatch = "001",
        /// The standard (ISA11 `U` before 00402) is not supported.
        StandardNotSupported = "002",
        /// The version of the controls is not supported.
        VersionNotSupported = "003",
        /// The segment terminator is invalid.
        InvalidSegmentTerminator = "004",
        /// ISA05 is not a known qualifier.
        InvalidSenderQualifier = "005",
        /// ISA06 is invalid.
        InvalidSenderId = "006",
        /// ISA07 is not a known qualifier.
        InvalidReceiverQualifier = "007",
        /// ISA08 is invalid.
        InvalidReceiverId = "008",
        /// ISA08 names no receiver known here.
        UnknownReceiverId = "009",
        /// ISA01 is invalid.
        InvalidAuthorizationQualifier = "010",
        /// ISA02 is invalid.
        InvalidAuthorization = "011",
        /// ISA03 is invalid.
        InvalidSecurityQualifier = "012",
        /// ISA04 is invalid.
        InvalidSecurity = "013",
        /// ISA09 is not a date.
        InvalidDate = "014",
        /// ISA10 is not a time.
        InvalidTime = "015",
        /// ISA11 (standards identifier) is invalid.
        InvalidStandardsIdentifier = "016",
        /// ISA12 is not a five-digit version.
        InvalidVersion = "017",
        /// ISA13 is not nine digits.
        InvalidControlNumber = "018",
        /// ISA14 is not 0 or 1.
        InvalidAckRequested = "019",
        /// ISA15 is not P or T.
        InvalidTestIndicator = "020",
        /// IEA01 differs from the number of groups.
        InvalidGroupCount = "021",
        /// Segments out of envelope order (e.g. ST outside GS, GE without GS).
        InvalidControlStructure = "022",
        /// The data ends before IEA.
        PrematureEndOfFile = "023",
        /// The content is not an interchange (no ISA) or holds an unreadable segment.
        InvalidContent = "024",
        /// ISA13 was received before from the same sender.
        DuplicateControlNumber = "025",
        /// The element separator is a letter, digit, space or repeats another delimiter.
        InvalidElementSeparator = "026",
        /// The component separator is a letter, digit or repeats another delimiter.
        InvalidComponentSeparator = "027",
        /// Deferred delivery: invalid delivery date.
        InvalidDeliveryDate = "028",
        /// Deferred delivery: invalid delivery time.
        InvalidDeliveryTime = "029",
        /// Deferred delivery: invalid delivery time code.
        InvalidDeliveryTimeCode = "030",
        /// Invalid grade of service code.
        InvalidGradeOfService = "031",
    }
);

x12_codes!(
    /// AK905, functional group syntax error code.
    GroupCode {
        /// GS01 names a functional group this codec does not read.
        NotSupported = "1",
        /// GS08 names a version other than 004010/005010.
        VersionNotSupported = "2",
        /// The group has no GE.
        TrailerMissing = "3",
        /// GE02 differs from GS06.
        ControlNumberMismatch = "4",
        /// GE01 differs from the number of sets.
        SetCountMismatch = "5",
        /// GS06 is not a number of 1–9 digits.
        ControlNumberSyntax = "6",
    }
);

x12_codes!(
    /// AK502 / IK502, transaction set syntax error code.
    SetCode {
        /// ST01 names a set this codec does not read.
        NotSupported = "1",
        /// The set has no SE.
        TrailerMissing = "2",
        /// SE02 differs from ST02.
        ControlNumberMismatch = "3",
        /// SE01 differs from the number of segments ST..SE.
        SegmentCountMismatch = "4",
        /// One or more segments in error (AK3/IK3 name them).
        SegmentsInError = "5",
        /// ST01 is missing or does not belong in the group (GS01).
        InvalidSetId = "6",
        /// ST02 is missing or not 4–9 characters.
        InvalidControlNumber = "7",
        /// ST02 repeats another set's in the group.
        ControlNumberNotUnique = "23",
    }
);

x12_codes!(
    /// AK304 / IK304, segment syntax error code.
    SegmentCode {
        /// The segment id is not 2–3 upper-case letters or digits.
        UnrecognizedSegmentId = "1",
        /// The segment is not expected where it is.
        UnexpectedSegment = "2",
        /// A mandatory segment is missing.
        MandatorySegmentMissing = "3",
        /// A loop occurs more often than allowed.
        LoopOverMaximum = "4",
        /// A segment occurs more often than allowed.
        SegmentOverMaximum = "5",
        /// The segment is not in the transaction set.
        NotInSet = "6",
        /// The segment is out of sequence.
        NotInSequence = "7",
        /// The segment has data element errors (AK4/IK4 name them).
        ElementErrors = "8",
    }
);

x12_codes!(
    /// AK403 / IK403, data element syntax error code.
    ElementCode {
        /// A mandatory element is missing.
        MandatoryMissing = "1",
        /// A conditionally required element is missing.
        ConditionalMissing = "2",
        /// Too many elements.
        TooMany = "3",
        /// The element is too short.
        TooShort = "4",
        /// The element is too long.
        TooLong = "5",
        /// The element holds a character not allowed (or not a number where one is due).
        InvalidCharacter = "6",
        /// The element holds a code not in its list.
        InvalidCode = "7",
        /// The element is not a valid date.
        InvalidDate = "8",
        /// The element is not a valid time.
        InvalidTime = "9",
        /// The element contradicts another (e.g. a count that does not add up).
        ExclusionViolated = "10",
    }
);

/// A fault in one data element (AK4 / IK4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementError {
    /// 1-based position of the element in its segment (AK401 / IK401).
    pub position: usize,
    /// 1-based position of the component within a composite, if any.
    pub component: Option<usize>,
    pub code: ElementCode,
    /// The offending value (AK404 / IK404), when there is one.
    pub value: Option<String>,
}

/// A fault in one segment of a transaction set (AK3 / IK3, with its AK4 / IK4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("segment {segment_id} at position {position}{}: {detail} (AK304 {code}{})",
    element_suffix(.element), element_code(.element))]
pub struct SegmentError {
    /// 1-based position in the set, ST being 1 (AK302 / IK302).
    pub position: usize,
    /// The segment id (AK301 / IK301).
    pub segment_id: String,
    pub code: SegmentCode,
    pub element: Option<ElementError>,
    /// What was expected, in words.
    pub detail: String,
}

fn element_suffix(e: &Option<ElementError>) -> String {
    match e {
        Some(ElementError {
            position,
            component: Some(c),
            ..
        }) => format!(", element {position:02}-{c}"),
        Some(e) => format!(", element {:02}", e.position),
        None => String::new(),
    }
}

fn element_code(e: &Option<ElementError>) -> String {
    e.as_ref()
        .map(|e| format!(", AK403 {}", e.code))
        .unwrap_or_default()
}

impl SegmentError {
    /// A fault of the segment itself (no element).
    pub fn segment(position: usize, segment_id: &str, code: SegmentCode, detail: impl Into<String>) -> Self {
        SegmentError {
            position,
            segment_id: segment_id.to_owned(),
            code,
            element: None,
            detail: detail.into(),
        }
    }

    /// A fault of element `element` (1-based) of the segment: AK304 8 with an AK4.
    pub fn element(
        position: usize,
        segment_id: &str,
        element: usize,
        code: ElementCode,
        value: Option<&str>,
        detail: impl Into<String>,
    ) -> Self {
        SegmentError {
            position,
            segment_id: segment_id.to_owned(),
            code: SegmentCode::ElementErrors,
            element: Some(ElementError {
                position: element,
                component: None,
                code,
                value: value.filter(|v| !v.is_empty()).map(str::to_owned),
            }),
            detail: detail.into(),
        }
    }
}

/// Why a transaction set is rejected (AK5 / IK5 with its AK3 / IK3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transaction set {set_id} {control:?} rejected (AK502 {code}){}", segments_suffix(.segments))]
pub struct SetError {
    pub set_id: String,
    pub control: String,
    pub code: SetCode,
    pub segments: Vec<SegmentError>,
}

fn segments_suffix(s: &[SegmentError]) -> String {
    s.iter().map(|e| format!("; {e}")).collect()
}

/// Any fault of a received interchange, at the level that reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X12Error {
    /// The envelope (ISA/IEA) or its structure: answered by a TA1.
    #[error("failed to read interchange {}at byte {offset}: {detail} (TA105 {code})",
        control.as_deref().map(|c| format!("{c} ")).unwrap_or_default())]
    Interchange {
        /// ISA13, when the ISA could be read.
        control: Option<String>,
        /// The ISA, when it could be read (a TA1 answers it).
        isa: Option<Box<super::IsaHeader>>,
        code: InterchangeNote,
        /// Byte offset of the fault in the input.
        offset: usize,
        detail: String,
    },
    /// A functional group's envelope (GS/GE): AK9 code.
    #[error("functional group {functional_id} {control:?} rejected: {detail} (AK905 {code})")]
    Group {
        functional_id: String,
        control: String,
        code: GroupCode,
        detail: String,
    },
    /// A transaction set's envelope or content: AK5 / IK5, AK3 / IK3, AK4 / IK4.
    #[error(transparent)]
    Set(#[from] SetError),
}
