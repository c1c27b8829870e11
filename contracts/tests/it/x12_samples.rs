//! Public X12 documents (tests/x12-samples/, sources and licences in its
//! NOTICE): each parses, its envelopes validate, and it round-trips at the
//! segment level, written with its own delimiters and with others. The
//! 997s and 999s among them also read back into a verdict.

use std::path::PathBuf;

use contracts::x12::{
    self, AckStatus, Delimiters, Document, GroupCode, Interchange, InterchangeNote, SetCode, X12Error,
};

/// Samples that are malformed as published, and the fault each must be
/// answered with.
const FAULTY: &[(&str, Fault)] = &[
    // SE01 differs from the count of segments ST..SE (e.g. SE*4 for ST, BSN, SE).
    (
        "x12-types-v004010-810-1.edi",
        Fault::Set(SetCode::SegmentCountMismatch),
    ),
    (
        "x12-types-v004010-856-1.edi",
        Fault::Set(SetCode::SegmentCountMismatch),
    ),
    (
        "x12-types-v004010-856-2.edi",
        Fault::Set(SetCode::SegmentCountMismatch),
    ),
    // GE*2 for a group of one set.
    (
        "x12-types-v004010-856-3.edi",
        Fault::Group(GroupCode::SetCountMismatch),
    ),
    (
        "x12-types-v004010-856-4.edi",
        Fault::Set(SetCode::SegmentCountMismatch),
    ),
    (
        "x12-types-v004010-856-5.edi",
        Fault::Set(SetCode::SegmentCountMismatch),
    ),
    (
        "x12-types-v004010-856-6.edi",
        Fault::Set(SetCode::SegmentCountMismatch),
    ),
    (
        "x12-types-v005010-855-1.edi",
        Fault::Set(SetCode::SegmentCountMismatch),
    ),
    (
        "x12-types-v005010-856-1.edi",
        Fault::Set(SetCode::SegmentCountMismatch),
    ),
    // The ISA stops after ISA15: its `~` is read as ISA16 and the line feed
    // as the terminator, so the last segment (no line feed) never ends.
    (
        "x12-types-v005010-850-4.edi",
        Fault::Interchange(InterchangeNote::PrematureEndOfFile),
    ),
];

#[derive(Debug, Clone, Copy)]
enum Fault {
    Interchange(InterchangeNote),
    Group(GroupCode),
    Set(SetCode),
}

fn faulty(name: &str) -> Option<Fault> {
    FAULTY.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

fn samples() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/x12-samples");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "edi"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Every interchange of the well-formed samples (a file may batch several).
fn clean_interchanges() -> Vec<(String, Interchange)> {
    let mut out = Vec::new();
    for (name, bytes) in samples().into_iter().filter(|(name, _)| faulty(name).is_none()) {
        let all = x12::parse_all(&bytes);
        assert!(!all.is_empty(), "{name}: no interchange");
        for ic in all {
            out.push((name.clone(), ic.unwrap_or_else(|e| panic!("{name}: {e}"))));
        }
    }
    out
}

/// Only what a writer owns may differ: trailers are written, not copied.
fn without_trailers(ic: &Interchange) -> Interchange {
    let mut ic = ic.clone();
    for g in &mut ic.groups {
        g.trailer = None;
        g.sets.iter_mut().for_each(|s| s.trailer = None);
    }
    ic.delimiters = Delimiters::default();
    ic
}

#[test]
fn at_least_twenty_samples_of_the_five_sets_are_present() {
    let all = samples();
    let clean = all.iter().filter(|(name, _)| faulty(name).is_none()).count();
    assert!(clean >= 20, "{clean} well-formed samples");
    for set in ["850", "855", "856", "810", "997"] {
        assert!(all.iter().any(|(name, _)| name.contains(set)), "no {set} sample");
    }
    let notice =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/x12-samples/NOTICE"))
            .unwrap();
    for (name, _) in &all {
        assert!(notice.contains(name.as_str()), "{name} is not in the NOTICE");
    }
}

#[test]
fn every_sample_parses_validates_and_round_trips() {
    let others = [
        Delimiters {
            element: b'|',
            component: b'\\',
            repetition: Some(b'`'),
            segment: b'\x07',
            newline: false,
        },
        Delimiters::default(),
    ];
    for (name, ic) in clean_interchanges() {
        x12::check_envelopes(&ic).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !ic.groups.is_empty() && ic.groups.iter().all(|g| !g.sets.is_empty()),
            "{name}"
        );
        for d in std::iter::once(ic.delimiters).chain(others) {
            let written = x12::write(&ic, &d).unwrap_or_else(|e| panic!("{name}: {e}"));
            let back = x12::parse(&written).unwrap_or_else(|e| panic!("{name} written with {d:?}: {e}"));
            assert_eq!(
                without_trailers(&back),
                without_trailers(&ic),
                "{name} with {d:?}"
            );
            x12::check_envelopes(&back).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn the_malformed_samples_are_answered_with_their_fault() {
    let all = samples();
    for (name, fault) in FAULTY {
        let bytes = &all
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .1;
        match (fault, x12::parse(bytes)) {
            (Fault::Interchange(note), Err(e)) => {
                let ta1 = x12::ack::ta1_for(&e).unwrap_or_else(|| panic!("{name}: no TA1 for {e}"));
                assert_eq!((ta1.note, ta1.status), (*note, AckStatus::Rejected), "{name}");
            }
            (Fault::Set(code), Ok(ic)) => {
                assert!(
                    matches!(x12::check_envelopes(&ic), Err(X12Error::Set(e)) if e.code == *code),
                    "{name}"
                );
                let report = x12::check_group(&ic.groups[0]);
                assert_eq!(report.verdict.sets[0].codes, vec![*code], "{name}");
                assert!(
                    report.documents.iter().all(Option::is_none),
                    "{name}: no partial effect"
                );
                let ack = x12::ack::acknowledge(&ic.groups[0], &report.verdict, "0001");
                let ak5 = ack
                    .segments
                    .iter()
                    .find(|s| matches!(s.id(), "AK5" | "IK5"))
                    .unwrap();
                assert_eq!((ak5.element(1), ak5.element(2)), ("R", code.code()), "{name}");
            }
            (Fault::Group(code), Ok(ic)) => {
                assert!(
                    matches!(x12::check_envelopes(&ic), Err(X12Error::Group { code: c, .. }) if c == *code),
                    "{name}"
                );
                let report = x12::check_group(&ic.groups[0]);
                assert!(
                    report.verdict.codes.contains(code),
                    "{name}: {:?}",
                    report.verdict
                );
                assert!(
                    report.documents.iter().all(Option::is_none),
                    "{name}: no partial effect"
                );
                let ack = x12::ack::acknowledge(&ic.groups[0], &report.verdict, "0001");
                let ak9 = ack.segments.iter().find(|s| s.id() == "AK9").unwrap();
                assert_eq!(ak9.element(1), "R", "{name}");
                assert!(
                    ak9.elements().skip(4).any(|c| c == code.code()),
                    "{name}: {ak9:?}"
                );
            }
            (f, other) => panic!("{name}: expected {f:?}, got {other:?}"),
        }
    }
}

#[test]
fn the_sample_acknowledgements_read_back_into_their_verdicts() {
    let mut read = 0;
    for (name, ic) in clean_interchanges() {
        for group in ic.groups.iter().filter(|g| g.functional_id == "FA") {
            let report = x12::check_group(group);
            assert!(report.verdict.is_accepted(), "{name}: {:?}", report.verdict);
            for (set, doc) in group.sets.iter().zip(&report.documents) {
                let Some(Document::FunctionalAck(v)) = doc else {
                    panic!("{name}: {doc:?}")
                };
                let ak9 = set.segments.iter().find(|s| s.id() == "AK9").unwrap();
                assert_eq!(Some(v.status), AckStatus::from_code(ak9.element(1)), "{name}");
                assert_eq!(
                    v.sets.len(),
                    set.segments.iter().filter(|s| s.id() == "AK2").count(),
                    "{name}"
                );
                read += 1;
            }
        }
    }
    assert!(read >= 5, "{read} acknowledgements read");
}
