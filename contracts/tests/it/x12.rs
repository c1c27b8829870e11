//! X12: fixed documents, every envelope fault → its TA1/997 code, mapping
//! faults named by segment and element, acknowledgements read back, and
//! property tests (canonical → X12 → canonical identity under random
//! delimiters; arbitrary bytes and mutated interchanges never panic).

use contracts::ids::with_check_digit;
use contracts::inbound::{AckLine, AckLineStatus, PoAcknowledgement, Uom};
use contracts::invoicing::{Invoice, InvoiceLine};
use contracts::x12::{
    self, AckStatus, Delimiters, Document, ElementCode, GroupCode, InterchangeNote, SegmentCode, SetCode,
    X12Error,
};
use contracts::{Gln, Gtin};
use proptest::prelude::*;
use proptest::sample::select;

use crate::props::{advance_ship_notice, date, gln, gtin, price, purchase_order, uom, ymd};

fn supplier() -> String {
    with_check_digit("506000000001")
}

/// A hand-written 004010 850 with `|` `>` and `!` terminators and CRLF.
fn po_850() -> String {
    let gln = supplier();
    let ship_to = with_check_digit("506000000002");
    [
        "ISA|00|          |00|          |ZZ|BUYER          |ZZ|SUPPLIER       |261122|1200|U|00401|000000042|0|P|>!",
        "GS|PO|BUYER|SUPPLIER|20261122|1200|42|X|004010!",
        "ST|850|0001!",
        "BEG|00|SA|PO-1001||20261122!",
        "CUR|BY|EUR!",
        "REF|PP|1!",
        "PER|BD|JANE DOE!",
        &format!("N1|SU|ACME|UL|{gln}!"),
        &format!("N1|ST||UL|{ship_to}!"),
        "PO1|1|24|EA|41.25||UK|04006381333931|BP|SKU-1!",
        "DTM|002|20261201!",
        "REF|ZZ|5|OVER TOLERANCE PCT!",
        "REF|ZZ|2|UNDER TOLERANCE PCT!",
        "REF|ZZ|OPEN|LINE STATUS!",
        "PO1|2|3|CA|7||UP|036000291452|BP|SKU-2!",
        "DTM|002|20261203!",
        "CTT|2!",
        "SE|16|0001!",
        "GE|1|42!",
        "IEA|1|000000042!",
    ]
    .join("\r\n")
}

fn read_one(bytes: &[u8]) -> (x12::Interchange, x12::GroupReport) {
    let ic = x12::parse(bytes).unwrap_or_else(|e| panic!("{e}"));
    let report = x12::check_group(&ic.groups[0]);
    (ic, report)
}

#[test]
fn a_fixed_850_reads_into_the_purchase_order() {
    let (ic, report) = read_one(po_850().as_bytes());
    assert_eq!(ic.delimiters.element, b'|');
    assert_eq!(ic.delimiters.component, b'>');
    assert_eq!(ic.delimiters.segment, b'!');
    assert_eq!(
        ic.delimiters.repetition, None,
        "00401 has no repetition separator"
    );
    assert_eq!(ic.control_number(), "000000042");
    assert_eq!(
        (ic.header.sender_qualifier.as_str(), ic.header.sender_id.trim()),
        ("ZZ", "BUYER")
    );
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let Some(Document::PurchaseOrder(po)) = &report.documents[0] else {
        panic!("{:?}", report.documents)
    };
    assert_eq!(po.po_number, "PO-1001");
    assert_eq!(po.supplier_gln.as_str(), supplier());
    assert_eq!(po.currency, "EUR");
    assert_eq!(po.order_date, "2026-11-22");
    assert_eq!(po.lines.len(), 2);
    let l = &po.lines[0];
    assert_eq!(
        (l.line_no, l.quantity, l.uom, l.unit_price.as_str()),
        (1, 24, Uom::Ea, "41.25")
    );
    assert_eq!(
        (l.gtin.as_str(), l.sku.as_str(), l.requested_date.as_str()),
        ("04006381333931", "SKU-1", "2026-12-01")
    );
    assert_eq!((l.over_tolerance_pct, l.under_tolerance_pct), (5, 2));
    assert_eq!((po.lines[1].uom, po.lines[1].over_tolerance_pct), (Uom::Cs, 0));
}

#[test]
fn a_fixed_856_reads_its_hierarchy() {
    let gln = supplier();
    let text = format!(
        "ISA*00*          *00*          *ZZ*SUPPLIER       *ZZ*BUYER          *261122*1200*^*00501*000000007*0*T*:~\n\
         GS*SH*SUPPLIER*BUYER*20261122*1200*7*X*005010~\nST*856*0007~\nBSN*00*ASN-1*20261122*1200*0001~\n\
         HL*1**S~\nTD5*B*2*UPSN~\nREF*BM*BOL-1~\nDTM*011*20261122~\nDTM*017*20261124~\nN1*SF**UL*{gln}~\n\
         HL*2*1*O~\nPRF*PO-1001~\nHL*3*2*T~\nMAN*GM*006141411234567890~\nHL*4*3*P~\nMAN*GM*106141411234567897~\n\
         HL*5*4*I~\nLIN**UK*04006381333931*PL*1~\nSN1**12*EA~\nREF*LT*LOT-7~\nDTM*036*20270630~\nCTT*5~\nSE*21*0007~\nGE*1*7~\nIEA*1*000000007~\n"
    );
    let (ic, report) = read_one(text.as_bytes());
    assert_eq!(ic.delimiters.repetition, Some(b'^'));
    assert!(ic.delimiters.newline);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    let Some(Document::AdvanceShipNotice(asn)) = &report.documents[0] else {
        panic!()
    };
    assert_eq!(
        (asn.carrier_scac.as_str(), asn.bill_of_lading.as_str()),
        ("UPSN", "BOL-1")
    );
    assert_eq!(
        (asn.ship_date.as_str(), asn.estimated_arrival.as_str()),
        ("2026-11-22", "2026-11-24")
    );
    assert_eq!(asn.handling_units.len(), 2);
    assert_eq!(
        asn.handling_units[1].parent_sscc.as_ref().map(|s| s.as_str()),
        Some("006141411234567890")
    );
    let line = &asn.lines[0];
    assert_eq!(
        (line.po_number.as_str(), line.po_line_no, line.quantity),
        ("PO-1001", 1, 12)
    );
    assert_eq!(
        (line.lot.as_deref(), line.expiry.as_deref()),
        (Some("LOT-7"), Some("2027-06-30"))
    );
    assert_eq!(line.sscc.as_str(), "106141411234567897");
}

/// The interchange error's TA105 code for `bytes`.
fn ta1_code(bytes: &[u8]) -> InterchangeNote {
    match x12::parse(bytes) {
        Err(X12Error::Interchange { code, .. }) => code,
        other => panic!("expected an interchange error, got {other:?}"),
    }
}

#[test]
fn every_interchange_fault_has_its_ta1_code() {
    let good = po_850();
    assert!(x12::parse(good.as_bytes()).is_ok());
    let cases: &[(&str, String, InterchangeNote)] = &[
        (
            "IEA02 differs",
            good.replace("IEA|1|000000042", "IEA|1|000000043"),
            InterchangeNote::ControlNumberMismatch,
        ),
        (
            "IEA01 wrong",
            good.replace("IEA|1|", "IEA|2|"),
            InterchangeNote::InvalidGroupCount,
        ),
        (
            "no IEA",
            good.replace("\r\nIEA|1|000000042!", ""),
            InterchangeNote::PrematureEndOfFile,
        ),
        (
            "cut short",
            good[..good.len() - 30].to_owned(),
            InterchangeNote::PrematureEndOfFile,
        ),
        (
            "ISA13 not digits",
            good.replace("000000042|0|P", "00000004X|0|P"),
            InterchangeNote::InvalidControlNumber,
        ),
        (
            "ISA12 not a version",
            good.replace("|00401|", "|0040A|"),
            InterchangeNote::InvalidVersion,
        ),
        (
            "letter as separator",
            good.replace('|', "A"),
            InterchangeNote::InvalidElementSeparator,
        ),
        (
            "component = element",
            good.replace("|P|>!", "|P||!"),
            InterchangeNote::InvalidComponentSeparator,
        ),
        (
            "terminator = component",
            good.replace('!', ">"),
            InterchangeNote::InvalidSegmentTerminator,
        ),
        (
            "ST outside GS",
            good.replace("GS|PO|BUYER|SUPPLIER|20261122|1200|42|X|004010!\r\n", ""),
            InterchangeNote::InvalidControlStructure,
        ),
        (
            "segment outside a set",
            good.replace("GE|1|42!", "GE|1|42!\r\nREF|ZZ|X!"),
            InterchangeNote::InvalidControlStructure,
        ),
        (
            "data after IEA",
            format!("{good}\r\nJUNK"),
            InterchangeNote::InvalidControlStructure,
        ),
        (
            "not X12",
            "{\"po_number\": 1}".to_owned(),
            InterchangeNote::InvalidContent,
        ),
    ];
    for (what, bytes, code) in cases {
        assert_eq!(ta1_code(bytes.as_bytes()), *code, "{what}");
    }
}

#[test]
fn a_ta1_answers_the_isa_it_refuses_and_reads_back() {
    let bad = po_850().replace("IEA|1|000000042", "IEA|1|000000099");
    let err = x12::parse(bad.as_bytes()).unwrap_err();
    let ta1 = x12::ack::ta1_for(&err).expect("the ISA was read");
    assert_eq!(
        (ta1.control_number.as_str(), ta1.status, ta1.note),
        (
            "000000042",
            AckStatus::Rejected,
            InterchangeNote::ControlNumberMismatch
        )
    );
    let mut reply = x12::envelope(
        ("ZZ", "SUPPLIER"),
        ("ZZ", "BUYER"),
        9,
        "20261122",
        "1201",
        false,
        Vec::new(),
    );
    reply.groups.clear();
    reply.ta1.push(ta1.clone());
    let bytes = x12::write(&reply, &Delimiters::default()).unwrap();
    assert_eq!(x12::parse(&bytes).unwrap().ta1, vec![ta1]);
    assert!(
        x12::ack::ta1_for(&x12::parse(b"hello").unwrap_err()).is_none(),
        "no ISA, no TA1"
    );
}

/// The verdict on the first group of `text`.
fn verdict(text: &str) -> x12::GroupVerdict {
    read_one(text.as_bytes()).1.verdict
}

#[test]
fn every_group_and_set_fault_has_its_997_code() {
    let good = po_850();
    let set_codes: &[(&str, String, SetCode)] = &[
        (
            "SE02 differs",
            good.replace("SE|16|0001", "SE|16|0002"),
            SetCode::ControlNumberMismatch,
        ),
        (
            "SE01 wrong",
            good.replace("SE|16|", "SE|15|"),
            SetCode::SegmentCountMismatch,
        ),
        (
            "no SE",
            good.replace("SE|16|0001!\r\n", ""),
            SetCode::TrailerMissing,
        ),
        (
            "set not in the group",
            good.replace("ST|850|", "ST|856|"),
            SetCode::InvalidSetId,
        ),
        (
            "set not supported",
            good.replace("ST|850|", "ST|812|"),
            SetCode::NotSupported,
        ),
        (
            "ST02 too short",
            good.replace("0001!", "01!"),
            SetCode::InvalidControlNumber,
        ),
        (
            "a segment in error",
            good.replace("|041.25|", "|x|").replace("|41.25|", "|4x|"),
            SetCode::SegmentsInError,
        ),
    ];
    for (what, text, code) in set_codes {
        let v = verdict(text);
        assert_eq!(v.sets[0].status, AckStatus::Rejected, "{what}");
        assert_eq!(v.sets[0].codes.first(), Some(code), "{what}: {:?}", v.sets[0]);
        assert_eq!(v.status, AckStatus::Rejected, "{what}");
    }
    let group_codes: &[(&str, String, GroupCode)] = &[
        (
            "GE02 differs",
            good.replace("GE|1|42", "GE|1|43"),
            GroupCode::ControlNumberMismatch,
        ),
        (
            "GE01 wrong",
            good.replace("GE|1|42", "GE|3|42"),
            GroupCode::SetCountMismatch,
        ),
        (
            "no GE",
            good.replace("GE|1|42!\r\n", ""),
            GroupCode::TrailerMissing,
        ),
        (
            "version",
            good.replace("|X|004010", "|X|003040"),
            GroupCode::VersionNotSupported,
        ),
        (
            "GS06 not a number",
            good.replace("|42|X|", "|4A|X|").replace("GE|1|42", "GE|1|4A"),
            GroupCode::ControlNumberSyntax,
        ),
        (
            "GS01 unknown",
            good.replace("GS|PO", "GS|ZZ"),
            GroupCode::NotSupported,
        ),
    ];
    for (what, text, code) in group_codes {
        let v = verdict(text);
        assert!(v.codes.contains(code), "{what}: {v:?}");
        assert_eq!((v.status, v.accepted), (AckStatus::Rejected, 0), "{what}");
    }
    let two = good
        .replace(
            "SE|16|0001!",
            "SE|16|0001!\r\nST|850|0001!\r\nBEG|00|SA|PO-2||20261122!\r\nSE|3|0001!",
        )
        .replace("GE|1|", "GE|2|");
    assert_eq!(verdict(&two).sets[1].codes, vec![SetCode::ControlNumberNotUnique]);
}

/// A mutated document and the fault it must report: segment id, position,
/// element (position, code) if any, segment code.
type MappingCase = (
    String,
    &'static str,
    usize,
    Option<(usize, ElementCode)>,
    SegmentCode,
);

#[test]
fn mapping_faults_name_segment_element_and_code() {
    let good = po_850();
    // (mutation, segment id, position, element, element code or segment code)
    let cases: &[MappingCase] = &[
        (
            good.replace("|41.25|", "|4x|"),
            "PO1",
            8,
            Some((4, ElementCode::InvalidCharacter)),
            SegmentCode::ElementErrors,
        ),
        (
            good.replace("|EA|41.25", "|BX|41.25"),
            "PO1",
            8,
            Some((3, ElementCode::InvalidCode)),
            SegmentCode::ElementErrors,
        ),
        (
            good.replace("04006381333931", "04006381333932"),
            "PO1",
            8,
            Some((7, ElementCode::InvalidCode)),
            SegmentCode::ElementErrors,
        ),
        (
            good.replace("DTM|002|20261201", "DTM|002|20261301"),
            "DTM",
            9,
            Some((2, ElementCode::InvalidDate)),
            SegmentCode::ElementErrors,
        ),
        (
            // A multi-byte character where the date is cut into year, month, day.
            good.replace("DTM|002|20261201", "DTM|002|202é201"),
            "DTM",
            9,
            Some((2, ElementCode::InvalidDate)),
            SegmentCode::ElementErrors,
        ),
        (
            good.replace("CUR|BY|EUR!\r\n", ""),
            "CUR",
            15,
            None,
            SegmentCode::MandatorySegmentMissing,
        ),
        (
            good.replace("BEG|00|SA|PO-1001", "BEG|00|SA|"),
            "BEG",
            2,
            Some((3, ElementCode::MandatoryMissing)),
            SegmentCode::ElementErrors,
        ),
        (
            good.replace("CTT|2", "CTT|3"),
            "CTT",
            15,
            Some((1, ElementCode::ExclusionViolated)),
            SegmentCode::ElementErrors,
        ),
        (
            good.replace("REF|ZZ|5|OVER", "REF|ZZ|500|OVER"),
            "REF",
            10,
            Some((2, ElementCode::InvalidCode)),
            SegmentCode::ElementErrors,
        ),
    ];
    for (text, id, position, element, code) in cases {
        let text = fix_count(text);
        let v = verdict(&text);
        let set = &v.sets[0];
        assert_eq!(set.codes, vec![SetCode::SegmentsInError], "{id}: {set:?}");
        let seg = &set.segments[0];
        assert_eq!(
            (seg.segment_id.as_str(), seg.position, seg.code),
            (*id, *position, *code),
            "{seg:?}"
        );
        assert_eq!(
            seg.element.as_ref().map(|e| (e.position, e.code)),
            *element,
            "{seg:?}"
        );
    }
}

/// Rewrites SE01 to the set's segment count (for tests that drop a segment).
fn fix_count(text: &str) -> String {
    let count = text
        .split('!')
        .skip_while(|s| !s.trim_start().starts_with("ST|"))
        .take_while(|s| !s.trim_start().starts_with("SE|"))
        .count()
        + 1;
    let start = text.find("SE|").unwrap();
    let end = start + text[start..].find('|').unwrap() + 1;
    let end2 = end + text[end..].find('|').unwrap();
    format!("{}{}{}", &text[..end], count, &text[end2..])
}

#[test]
fn bytes_that_cannot_be_data_are_named_by_segment_and_element() {
    // A reserved control byte (not a delimiter here) in PO103, bytes that are not UTF-8 in PO104.
    for (text, element) in [
        (po_850().replace("|EA|41.25", "|E\u{1d}|41.25"), 3),
        (po_850().replace("|41.25|", "|41.2\u{ff}|"), 4),
    ] {
        let bytes = text.replace('\u{ff}', "\u{1}").into_bytes();
        let bytes: Vec<u8> = bytes.into_iter().map(|b| if b == 1 { 0xff } else { b }).collect();
        let v = read_one(&bytes).1.verdict;
        let seg = &v.sets[0].segments[0];
        assert_eq!(
            (seg.segment_id.as_str(), seg.position, seg.code),
            ("PO1", 8, SegmentCode::ElementErrors),
            "{seg:?}"
        );
        let e = seg.element.as_ref().unwrap();
        assert_eq!(e.code, ElementCode::InvalidCharacter);
        assert_eq!(e.position, element);
        assert!(!v.is_accepted());
    }
    let bad_id = po_850().replace("CUR|BY|EUR", "cur|BY|EUR");
    let seg = read_one(bad_id.as_bytes()).1.verdict.sets[0].segments[0].clone();
    assert_eq!(
        (seg.segment_id.as_str(), seg.position, seg.code),
        ("cur", 3, SegmentCode::UnrecognizedSegmentId)
    );
}

#[test]
fn a_997_names_the_faults_and_reads_back() {
    let text = fix_count(&po_850().replace("|41.25|", "|4x|"));
    let (ic, report) = read_one(text.as_bytes());
    let ack = x12::ack::acknowledge(&ic.groups[0], &report.verdict, "0001");
    assert_eq!(ack.id, "997");
    let ids: Vec<&str> = ack.segments.iter().map(|s| s.id()).collect();
    assert_eq!(ids, ["AK1", "AK2", "AK3", "AK4", "AK5", "AK9"]);
    assert_eq!(
        ack.segments[2].raw(),
        x12::Segment::new("AK3", &["PO1", "8", "", "8"]).raw()
    );
    assert_eq!(
        ack.segments[3].raw(),
        x12::Segment::new("AK4", &["4", "", "6", "4x"]).raw()
    );
    assert_eq!(ack.segments[4].raw(), x12::Segment::new("AK5", &["R", "5"]).raw());
    assert_eq!(
        ack.segments[5].raw(),
        x12::Segment::new("AK9", &["R", "1", "1", "0"]).raw()
    );
    let reply = x12::envelope(
        ("ZZ", "SUPPLIER"),
        ("ZZ", "BUYER"),
        5,
        "20261122",
        "1201",
        false,
        vec![ack],
    );
    let back = x12::parse(&x12::write(&reply, &Delimiters::default()).unwrap()).unwrap();
    let report_back = x12::check_group(&back.groups[0]);
    assert!(report_back.verdict.is_accepted(), "{:?}", report_back.verdict);
    let Some(Document::FunctionalAck(read)) = &report_back.documents[0] else {
        panic!()
    };
    assert_eq!(read.status, AckStatus::Rejected);
    let mut expected = report.verdict.clone();
    expected.sets[0].segments[0].detail.clear();
    expected.version.clear();
    assert_eq!(
        read, &expected,
        "the verdict survives, but for the words and the version (a 997 has no AK103)"
    );
}

#[test]
fn a_5010_group_gets_a_999() {
    let text = po_850()
        .replace("|00401|", "|00501|")
        .replace("|X|004010", "|X|005010");
    let (ic, report) = read_one(text.as_bytes());
    let ack = x12::ack::acknowledge(&ic.groups[0], &report.verdict, "0002");
    assert_eq!(ack.id, "999");
    assert_eq!(ack.segments[0].element(3), "005010");
    assert_eq!(
        ack.segments.iter().map(|s| s.id()).collect::<Vec<_>>(),
        ["AK1", "AK2", "IK5", "AK9"]
    );
    assert_eq!(ack.segments[2].element(1), "A");
}

#[test]
fn the_writer_refuses_delimiters_it_cannot_use() {
    let ic = x12::parse(po_850().as_bytes()).unwrap();
    let same = Delimiters {
        element: b'*',
        component: b'*',
        ..Delimiters::default()
    };
    assert!(matches!(
        x12::write(&ic, &same),
        Err(x12::WriteError::Delimiters(_))
    ));
    let in_data = Delimiters {
        element: b'-',
        ..Delimiters::default()
    };
    assert!(
        matches!(
            x12::write(&ic, &in_data),
            Err(x12::WriteError::DelimiterInData { .. })
        ),
        "PO-1001 holds '-'"
    );
}

fn ack() -> impl Strategy<Value = PoAcknowledgement> {
    let status = select(vec![
        AckLineStatus::Accepted,
        AckLineStatus::QuantityChanged,
        AckLineStatus::Rejected,
        AckLineStatus::Backordered,
        AckLineStatus::DateRescheduled,
    ]);
    let line = (status, 0u32..10_000, ymd());
    (
        1u32..1_000_000,
        1u32..20,
        gln(),
        proptest::collection::vec(line, 1..20),
    )
        .prop_map(|(n, v, gln, lines)| PoAcknowledgement {
            ack_id: format!("ACK-{n}"),
            po_number: format!("PO-{n}"),
            po_version: v,
            supplier_gln: gln,
            lines: lines
                .into_iter()
                .enumerate()
                .map(|(i, (status, confirmed_qty, d))| AckLine {
                    line_no: i as u32 + 1,
                    status,
                    confirmed_qty,
                    promised_date: date(d),
                })
                .collect(),
        })
}

fn invoice() -> impl Strategy<Value = Invoice> {
    let line = (1u32..100, gtin(), 1u32..10_000, uom(), price());
    (
        1u32..1_000_000,
        gln(),
        gln(),
        ymd(),
        proptest::collection::vec(line, 1..20),
    )
        .prop_map(|(n, s, b, d, lines)| Invoice {
            invoice_number: format!("INV-{n}"),
            supplier_gln: s,
            bill_to_gln: b,
            po_number: format!("PO-{n}"),
            currency: "USD".into(),
            invoice_date: date(d),
            due_date: date((d.0 + 1, d.1, d.2)),
            lines: lines
                .into_iter()
                .enumerate()
                .map(|(i, (po_line_no, gtin, quantity, uom, unit_price))| InvoiceLine {
                    line_no: i as u32 + 1,
                    po_line_no,
                    gtin,
                    quantity,
                    uom,
                    unit_price,
                })
                .collect(),
        })
}

/// Delimiter sets: four distinct bytes from the punctuation and control
/// bytes X12 senders use, none of which the generated data holds.
fn delimiters() -> impl Strategy<Value = Delimiters> {
    let pool: Vec<u8> = b"*|~!^>\\`{}@;\x07\x1c".to_vec();
    (
        proptest::sample::subsequence(pool, 4).prop_shuffle(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(d, newline, rep)| Delimiters {
            element: d[0],
            component: d[1],
            repetition: rep.then_some(d[2]),
            segment: d[3],
            newline,
        })
}

/// canonical → set → interchange bytes (`delimiters`) → parse → check → canonical.
fn round_trip(doc: &Document, d: &Delimiters, is_5010: bool) -> Document {
    let set = x12::from_canonical(doc, "0001").unwrap();
    let ic = x12::envelope(
        ("ZZ", "SENDER"),
        ("ZZ", "RECEIVER"),
        77,
        "20261122",
        "1200",
        is_5010,
        vec![set],
    );
    let bytes = x12::write(&ic, d).unwrap();
    let back = x12::parse(&bytes).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&bytes)));
    assert_eq!(
        back.groups,
        ic.groups
            .iter()
            .cloned()
            .map(|mut g| {
                g.trailer = back.groups[0].trailer.clone();
                g.sets
                    .iter_mut()
                    .for_each(|s| s.trailer = back.groups[0].sets[0].trailer.clone());
                g
            })
            .collect::<Vec<_>>(),
        "segments survive the delimiters"
    );
    let report = x12::check_group(&back.groups[0]);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
    report.documents.into_iter().next().flatten().unwrap()
}

/// Replacements a mutation writes over a valid document ("" = one arbitrary byte).
const MUTATIONS: &[&str] = &["", "é", "€", "0", "9", "*", "~", "HL", "X", "\u{1d}"];

/// A generated 856 (two pallets, cartons from two POs) as interchange bytes.
fn fixed_856() -> Vec<u8> {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let asn = advance_ship_notice().new_tree(&mut runner).unwrap().current();
    let set = x12::from_canonical(&Document::AdvanceShipNotice(asn), "0001").unwrap();
    let ic = x12::envelope(("ZZ", "S"), ("ZZ", "R"), 3, "20261122", "1200", true, vec![set]);
    x12::write(&ic, &Delimiters::default()).unwrap()
}

/// A generated 810 as interchange bytes.
fn fixed_810() -> Vec<u8> {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let inv = invoice().new_tree(&mut runner).unwrap().current();
    let set = x12::from_canonical(&Document::Invoice(inv), "0001").unwrap();
    let ic = x12::envelope(("ZZ", "S"), ("ZZ", "R"), 4, "20261122", "1200", false, vec![set]);
    x12::write(&ic, &Delimiters::default()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn purchase_orders_round_trip(po in purchase_order(), d in delimiters(), v5 in any::<bool>()) {
        let doc = Document::PurchaseOrder(po);
        prop_assert_eq!(round_trip(&doc, &d, v5), doc);
    }

    #[test]
    fn acknowledgements_round_trip(ack in ack(), d in delimiters(), v5 in any::<bool>()) {
        let doc = Document::PoAcknowledgement(ack);
        prop_assert_eq!(round_trip(&doc, &d, v5), doc);
    }

    #[test]
    fn ship_notices_round_trip(mut asn in advance_ship_notice(), d in delimiters(), v5 in any::<bool>(), rot in 0usize..50) {
        // Any list order survives, not only pallets before their cartons.
        let n = asn.handling_units.len();
        asn.handling_units.rotate_left(rot % n);
        let doc = Document::AdvanceShipNotice(asn);
        prop_assert_eq!(round_trip(&doc, &d, v5), doc);
    }

    #[test]
    fn invoices_round_trip(inv in invoice(), d in delimiters(), v5 in any::<bool>()) {
        let doc = Document::Invoice(inv);
        prop_assert_eq!(round_trip(&doc, &d, v5), doc);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(ic) = x12::parse(&bytes) {
            for g in &ic.groups {
                let _ = x12::check_group(g);
            }
        }
    }

    #[test]
    fn mutated_interchanges_never_panic(
        doc in select(vec![0usize, 1, 2]),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), select(MUTATIONS.to_vec()), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = [po_850().into_bytes(), fixed_856(), fixed_810()][doc].clone();
        for (at, text, byte) in edits {
            let i = at.index(bytes.len());
            let with: Vec<u8> = if text.is_empty() { vec![byte] } else { text.as_bytes().to_vec() };
            let end = (i + with.len()).min(bytes.len());
            bytes.splice(i..end, with);
        }
        bytes.truncate(cut.index(bytes.len() + 1).max(1));
        match x12::parse(&bytes) {
            Ok(ic) => {
                for g in &ic.groups {
                    let report = x12::check_group(g);
                    let ack = x12::ack::acknowledge(g, &report.verdict, "0001");
                    prop_assert!(!ack.segments.is_empty());
                    if !report.verdict.is_accepted() {
                        prop_assert!(report.documents.iter().all(Option::is_none), "no partial effect");
                    }
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn a_batch_of_interchanges_reads_one_by_one_until_a_fault() {
    let one = po_850();
    let two = one.replace("000000042", "000000043");
    let all = x12::parse_all(format!("{one}\r\n{two}\n").as_bytes());
    let controls: Vec<String> = all
        .iter()
        .map(|r| r.as_ref().unwrap().control_number().to_owned())
        .collect();
    assert_eq!(controls, ["000000042", "000000043"]);
    assert!(
        x12::parse(format!("{one}{two}").as_bytes()).is_err(),
        "parse reads exactly one"
    );
    let broken =
        x12::parse_all(format!("{one}{}{one}", two.replace("IEA|1|000000043", "IEA|1|000000044")).as_bytes());
    assert_eq!(broken.len(), 2, "the batch stops at the faulty interchange");
    assert!(matches!(
        &broken[1],
        Err(X12Error::Interchange {
            code: InterchangeNote::ControlNumberMismatch,
            ..
        })
    ));
    assert!(x12::parse_all(b"  \n").is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// What X12 cannot carry is refused on writing, with the field named.
    #[test]
    fn unrepresentable_ship_notices_are_refused(asn in advance_ship_notice()) {
        let mut dangling = asn.clone();
        let carton = dangling.handling_units.iter().position(|u| u.parent_sscc.is_some()).unwrap();
        dangling.handling_units.remove(0);
        let err = x12::from_canonical(&Document::AdvanceShipNotice(dangling), "0001").unwrap_err();
        prop_assert!(err.field.starts_with("/handling_units/") || err.field.starts_with("/lines/"), "{err}");
        let mut unknown = asn.clone();
        unknown.handling_units.retain(|u| u.sscc != asn.lines[0].sscc);
        let err = x12::from_canonical(&Document::AdvanceShipNotice(unknown), "0001").unwrap_err();
        prop_assert_eq!(err.field, "/lines/0/sscc");
        let mut twice = asn.clone();
        twice.handling_units.push(twice.handling_units[carton].clone());
        let err = x12::from_canonical(&Document::AdvanceShipNotice(twice), "0001").unwrap_err();
        prop_assert_eq!(err.field, "/handling_units");
        prop_assert!(x12::from_canonical(&Document::AdvanceShipNotice(asn), "0001").is_ok());
    }
}

#[test]
fn gln_and_gtin_helpers_agree_with_contracts() {
    // The fixed documents above rely on these being valid identifiers.
    assert!(Gln::parse(&supplier()).is_ok());
    assert!(Gtin::parse("04006381333931").is_ok());
}
