//! The X12 intake (`POST /v1/x12/interchanges`): an accepted 856 has the
//! effect of the JSON ASN, through the same intake (so the same dedupe); a
//! resent interchange has one effect; a malformed set is rejected in its
//! 997 with the codes of the fault and has no effect; an envelope fault or
//! bytes that are no interchange are answered with a TA1; never a 5xx.

use contracts::inbound::AdvanceShipNotice;
use contracts::routes::{core, erp, wms};
use contracts::x12::{
    self, AckStatus, Delimiters, Document, ElementCode, GroupVerdict, InterchangeNote, SegmentCode, SetCode,
};

use crate::support::*;

/// `asn` as an interchange from `sender` with control number `control`.
fn interchange_856(asn: &AdvanceShipNotice, sender: &str, control: u32) -> String {
    let set = x12::from_canonical(&Document::AdvanceShipNotice(asn.clone()), "0001").unwrap();
    let interchange = x12::envelope(
        ("14", sender),
        ("ZZ", "CROSSDOCK"),
        control,
        "20250308",
        "1200",
        false,
        vec![set],
    );
    String::from_utf8(x12::write(&interchange, &Delimiters::default()).unwrap()).unwrap()
}

/// POSTs `body` as `application/edi-x12` with the supplier's token; the
/// status and the body.
async fn post_x12(url: &str, token: &str, body: String) -> (u16, String, String) {
    let resp = client()
        .post(format!("{url}{}", core::X12_INTERCHANGES))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/edi-x12")
        .body(body)
        .send()
        .await
        .expect("the core answers");
    let status = resp.status().as_u16();
    let media = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, media, resp.text().await.unwrap())
}

/// The verdict of the one 997 in `reply`.
#[track_caller]
fn verdict(reply: &str) -> GroupVerdict {
    let interchange = x12::parse(reply.as_bytes()).unwrap_or_else(|e| panic!("{e}: {reply}"));
    assert_eq!(interchange.groups.len(), 1, "{reply}");
    assert_eq!(interchange.groups[0].functional_id, "FA", "{reply}");
    match x12::to_canonical(&interchange.groups[0].sets[0]) {
        Ok(Document::FunctionalAck(v)) => v,
        other => panic!("not a 997: {other:?} in {reply}"),
    }
}

/// The TA1 of `reply`: its control number and note.
#[track_caller]
fn ta1(reply: &str) -> (String, AckStatus, InterchangeNote) {
    let interchange = x12::parse(reply.as_bytes()).unwrap_or_else(|e| panic!("{e}: {reply}"));
    assert!(interchange.groups.is_empty(), "{reply}");
    let t = &interchange.ta1[0];
    (t.control_number.clone(), t.status, t.note)
}

crate::both_backends! {
/// An 856 in an interchange is taken in like the JSON ASN: one inbound
/// expectation at the WMS; the same interchange resent answers the same
/// 997 and has no second effect; the same ASN sent as JSON afterwards is a
/// duplicate of it (one intake path, one business key); another ASN under
/// the same control numbers is rejected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_856_is_the_json_asn_and_a_resent_interchange_has_one_effect() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-X1", &[(1, 100), (2, 50)]);
    assert_accepted(&post(&url, core::PURCHASE_ORDERS, "po-x1", &po).await);

    let sent = asn("ASN-X1", &[("PO-X1", 1, 100), ("PO-X1", 2, 40)]);
    let body = interchange_856(&sent, supplier().as_str(), 7);
    let (status, media, reply) = post_x12(&url, SUPPLIER_TOKEN, body.clone()).await;
    assert_eq!((status, media.as_str()), (200, "application/edi-x12"), "{reply}");
    let v = verdict(&reply);
    assert_eq!(v.status, AckStatus::Accepted, "{reply}");
    assert_eq!((v.functional_id.as_str(), v.control_number.as_str()), ("SH", "7"));
    assert_eq!(v.sets[0].set_id, "856");

    let created = parties.wms.wait_for(wms::INBOUND_EXPECTATIONS, 1).await;
    assert_eq!(created[0].body["asn_id"], "ASN-X1");
    assert_eq!(created[0].body["lines"][1]["quantity"], 40);

    // Resent: the same verdict, no second message.
    let (status, _, again) = post_x12(&url, SUPPLIER_TOKEN, body).await;
    assert_eq!(status, 200);
    assert_eq!(verdict(&again).status, AckStatus::Accepted, "{again}");
    // The same ASN as JSON: a duplicate of the one the 856 carried.
    let json = post(&url, core::ASNS, "asn-x1-json", &sent).await;
    assert_eq!(json.status, 200, "{}", json.body);
    assert_eq!(json.outcome(), "duplicate");

    // Other content under the control numbers already used: rejected, no effect.
    let other = asn("ASN-X1B", &[("PO-X1", 2, 5)]);
    let (_, _, reply) = post_x12(&url, SUPPLIER_TOKEN, interchange_856(&other, supplier().as_str(), 7)).await;
    assert_eq!(verdict(&reply).status, AckStatus::Rejected, "{reply}");

    let s = quiescent(&t.core).await;
    assert_eq!(s.inbox_messages, 2, "the PO and one ASN: {s:?}");
    assert_eq!(parties.wms.calls_to(wms::INBOUND_EXPECTATIONS).len(), 1);
    t.stop().await;
}
}

crate::both_backends! {
/// A malformed 856 (a quantity that is no number; a wrong SE01) is rejected
/// in its 997 with the segment, element and codes of the fault, and has no
/// effect; an ASN the core refuses on a business rule (an unknown PO) is
/// rejected too, and one naming another supplier than the sender as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_or_refused_856_is_rejected_in_its_997_with_no_effect() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-X2", &[(1, 100)]);
    assert_accepted(&post(&url, core::PURCHASE_ORDERS, "po-x2", &po).await);
    let good = asn("ASN-X2", &[("PO-X2", 1, 10)]);
    let text = interchange_856(&good, supplier().as_str(), 21);

    // SN102 not a number.
    let bad_qty = text.replacen("SN1**10*EA~", "SN1**1O*EA~", 1);
    assert_ne!(bad_qty, text, "the fixture has an SN1 of 10 EA: {text}");
    let (code, _, reply) = post_x12(&url, SUPPLIER_TOKEN, bad_qty).await;
    assert_eq!(code, 200, "{reply}");
    let v = verdict(&reply);
    assert_eq!(v.status, AckStatus::Rejected, "{reply}");
    let set = &v.sets[0];
    assert_eq!((set.status, set.codes.as_slice()), (AckStatus::Rejected, &[SetCode::SegmentsInError][..]));
    assert_eq!(set.segments[0].segment_id, "SN1", "{reply}");
    assert_eq!(set.segments[0].code, SegmentCode::ElementErrors);
    let element = set.segments[0].element.as_ref().unwrap();
    assert_eq!((element.position, element.code), (2, ElementCode::InvalidCharacter));

    // SE01 one too many.
    let se = text.find("\nSE*").unwrap() + 4;
    let count: usize = text[se..].split('*').next().unwrap().parse().unwrap();
    let bad_count = format!("{}{}{}", &text[..se], count + 1, &text[se + count.to_string().len()..]);
    let bad_count = bad_count.replace("000000021", "000000022");
    let (_, _, reply) = post_x12(&url, SUPPLIER_TOKEN, bad_count).await;
    let v = verdict(&reply);
    assert_eq!(v.sets[0].codes, vec![SetCode::SegmentCountMismatch], "{reply}");

    // Well formed, but for a PO the core does not know.
    let unknown = asn("ASN-X3", &[("PO-NONE", 1, 10)]);
    let (_, _, reply) = post_x12(&url, SUPPLIER_TOKEN, interchange_856(&unknown, supplier().as_str(), 23)).await;
    let v = verdict(&reply);
    assert_eq!((v.status, v.accepted), (AckStatus::Rejected, 0), "{reply}");
    assert_eq!(v.sets[0].status, AckStatus::Rejected);

    // The other supplier's GLN in the document, sent under this supplier's id.
    let mut foreign = good.clone();
    foreign.supplier_gln = other_supplier();
    let (_, _, reply) = post_x12(&url, SUPPLIER_TOKEN, interchange_856(&foreign, supplier().as_str(), 24)).await;
    assert_eq!(verdict(&reply).status, AckStatus::Rejected, "{reply}");

    // Nothing of the above was stored; the good one is still taken.
    assert_eq!(status(&t.core).await.inbox_messages, 1);
    let (_, _, reply) = post_x12(&url, SUPPLIER_TOKEN, text).await;
    assert_eq!(verdict(&reply).status, AckStatus::Accepted, "{reply}");
    assert_eq!(quiescent(&t.core).await.inbox_messages, 2);
    t.stop().await;
}
}

/// An envelope fault (IEA02 ≠ ISA13), an interchange under another
/// sender's id, and bytes that are no interchange are answered 200 with a
/// TA1 naming the fault (TA105 001, 006, 024), and have no effect; a JSON
/// body is refused 415; other parties may not post interchanges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_faults_get_a_ta1_and_no_effect() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-X4", &[(1, 100)]);
    assert_accepted(&post(&url, core::PURCHASE_ORDERS, "po-x4", &po).await);
    let good = interchange_856(&asn("ASN-X4", &[("PO-X4", 1, 10)]), supplier().as_str(), 31);

    let wrong_iea = good.replace("IEA*1*000000031", "IEA*1*000000032");
    assert_ne!(wrong_iea, good);
    let (status, media, reply) = post_x12(&url, SUPPLIER_TOKEN, wrong_iea).await;
    assert_eq!((status, media.as_str()), (200, "application/edi-x12"), "{reply}");
    assert_eq!(
        ta1(&reply),
        (
            "000000031".into(),
            AckStatus::Rejected,
            InterchangeNote::ControlNumberMismatch
        )
    );

    // Sent with the supplier's token under the other supplier's id.
    let foreign = interchange_856(&asn("ASN-X5", &[("PO-X4", 1, 10)]), other_supplier().as_str(), 32);
    let (_, _, reply) = post_x12(&url, SUPPLIER_TOKEN, foreign).await;
    assert_eq!(ta1(&reply).2, InterchangeNote::InvalidSenderId, "{reply}");

    for garbage in ["", "hello", "ISA*00*", "\u{0}\u{1}\u{2}ÿ", "GS*SH*1*2~ST*856*1~"] {
        let (status, _, reply) = post_x12(&url, SUPPLIER_TOKEN, garbage.to_owned()).await;
        assert_eq!(status, 200, "{garbage:?}: {reply}");
        let (_, verdict, _) = ta1(&reply);
        assert_eq!(verdict, AckStatus::Rejected, "{garbage:?}: {reply}");
    }
    let (_, _, reply) = post_x12(&url, SUPPLIER_TOKEN, "hello".into()).await;
    assert_eq!(ta1(&reply).2, InterchangeNote::InvalidContent, "{reply}");

    let json = client()
        .post(format!("{url}{}", core::X12_INTERCHANGES))
        .bearer_auth(SUPPLIER_TOKEN)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(json.status().as_u16(), 415);
    let (status, _, _) = post_x12(&url, WMS_TOKEN, good).await;
    assert_eq!(status, 403);

    assert_eq!(quiescent(&t.core).await.inbox_messages, 1, "only the PO");
    assert!(parties.wms.calls_to(wms::INBOUND_EXPECTATIONS).is_empty());
    t.stop().await;
}

/// One interchange of two groups, an 855 (PR) and an 810 (IN): one 997 per
/// group, in order; the acknowledgement reaches the ERP like the JSON one,
/// and the invoice is the JSON invoice (the same one as JSON afterwards is
/// a duplicate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_855_and_an_810_in_two_groups_get_a_997_each_and_their_effects() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let po = purchase_order("PO-X6", &[(1, 100)]);
    assert_accepted(&post(&url, core::PURCHASE_ORDERS, "po-x6", &po).await);

    let ack = acknowledgement("ACK-X6", &po);
    let inv = invoice("INV-X6", &po, &[(1, 100, "2.50")]);
    let set = |doc: Document| x12::from_canonical(&doc, "0001").unwrap();
    let sender = supplier();
    let envelope = |control, doc| {
        x12::envelope(
            ("14", sender.as_str()),
            ("ZZ", "CROSSDOCK"),
            control,
            "20250312",
            "0900",
            false,
            vec![set(doc)],
        )
    };
    let mut both = envelope(41, Document::PoAcknowledgement(ack));
    both.groups
        .extend(envelope(42, Document::Invoice(inv.clone())).groups);
    let body = String::from_utf8(x12::write(&both, &Delimiters::default()).unwrap()).unwrap();
    let (status, _, reply) = post_x12(&url, SUPPLIER_TOKEN, body).await;
    assert_eq!(status, 200, "{reply}");

    let answer = x12::parse(reply.as_bytes()).unwrap();
    let verdicts: Vec<(String, String, AckStatus)> = answer.groups[0]
        .sets
        .iter()
        .map(|s| match x12::to_canonical(s) {
            Ok(Document::FunctionalAck(v)) => (v.functional_id, v.control_number, v.status),
            other => panic!("not a 997: {other:?}"),
        })
        .collect();
    assert_eq!(
        verdicts,
        vec![
            ("PR".into(), "41".into(), AckStatus::Accepted),
            ("IN".into(), "42".into(), AckStatus::Accepted)
        ],
        "{reply}"
    );
    let acks = parties.erp.wait_for(erp::PO_ACKNOWLEDGEMENTS, 1).await;
    assert_eq!(acks[0].body["ack_id"], "ACK-X6");
    let json = post(&url, core::INVOICES, "inv-x6-json", &inv).await;
    assert_eq!(json.outcome(), "duplicate", "{}", json.body);
    assert_eq!(quiescent(&t.core).await.inbox_messages, 3, "PO, ack, invoice");
    t.stop().await;
}
