//! `crossdock edi translate` and the X12 side of `contracts validate`:
//! interchanges to canonical JSON documents (one per transaction set) and a
//! canonical JSON document to an interchange, with `contracts::x12`.
//!
//! A file is X12 when its first non-blank bytes are `ISA`. It may hold
//! several interchanges one after another (as VANs deliver them). A set is
//! translated only when its whole functional group is accepted, as a
//! receiver acts on it: a malformed group has no partial effect. Every
//! problem is one line naming the interchange, group and set control
//! numbers, the segment (position and id), the element and the X12 code a
//! TA1 or 997/999 would carry.

use std::path::{Path, PathBuf};

use contracts::x12::{self, Document, GroupReport, Interchange};
use serde_json::{Value, json};

/// Why a file could not be translated at all (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum EdiError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not JSON: {message}")]
    NotJson { path: PathBuf, message: String },
    #[error(
        "unknown document type {0:?}; X12 writes PurchaseOrder (850), PoAcknowledgement (855), AdvanceShipNotice (856), Invoice (810)"
    )]
    UnknownType(String),
}

/// What a file of interchanges held.
#[derive(Debug, Default)]
pub struct Translation {
    /// One per accepted transaction set: `{interchange, group, set,
    /// control_number, type, document}`.
    pub documents: Vec<Value>,
    /// Every fault, one line each; empty when the file is valid.
    pub problems: Vec<String>,
}

/// Whether `bytes` look like X12 (first non-blank bytes `ISA`).
pub fn is_x12(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes[start..].starts_with(b"ISA")
}

/// Reads a file's bytes.
pub fn read(path: &Path) -> Result<Vec<u8>, EdiError> {
    std::fs::read(path).map_err(|source| EdiError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Every interchange of `bytes`, translated.
pub fn x12_to_json(bytes: &[u8]) -> Translation {
    let mut t = Translation::default();
    for (i, parsed) in x12::parse_all(bytes).into_iter().enumerate() {
        match parsed {
            Ok(interchange) => translate_interchange(&interchange, &mut t),
            Err(e) => t.problems.push(format!("interchange #{}: {e}", i + 1)),
        }
    }
    t
}

fn translate_interchange(interchange: &Interchange, t: &mut Translation) {
    let isa13 = interchange.control_number().to_owned();
    for group in &interchange.groups {
        let GroupReport { verdict, documents } = x12::check_group(group);
        let where_ = format!("interchange {isa13} group {}", verdict.control_number);
        for set in &verdict.sets {
            if let Some(e) = set.error() {
                t.problems.push(format!("{where_}: {e}"));
            }
        }
        if !verdict.is_accepted() {
            t.problems.push(format!(
                "{where_}: functional group {} {} (AK901 {}): no document of it is taken",
                verdict.functional_id,
                verdict.status.code(),
                verdict.status.code()
            ));
            continue;
        }
        for (set, doc) in group.sets.iter().zip(documents) {
            let Some(doc) = doc else { continue };
            let (type_name, document) = document_json(&doc);
            t.documents.push(json!({
                "interchange": isa13,
                "group": verdict.control_number,
                "set": set.id,
                "control_number": set.control_number,
                "type": type_name,
                "document": document,
            }));
        }
    }
}

/// A document's canonical type name and JSON.
fn document_json(doc: &Document) -> (&'static str, Value) {
    let to = |v: Result<Value, serde_json::Error>| v.expect("canonical types serialize");
    match doc {
        Document::PurchaseOrder(d) => ("PurchaseOrder", to(serde_json::to_value(d))),
        Document::PoAcknowledgement(d) => ("PoAcknowledgement", to(serde_json::to_value(d))),
        Document::AdvanceShipNotice(d) => ("AdvanceShipNotice", to(serde_json::to_value(d))),
        Document::Invoice(d) => ("Invoice", to(serde_json::to_value(d))),
        Document::FunctionalAck(v) => (
            "FunctionalAck",
            json!({
                "functional_id": v.functional_id,
                "control_number": v.control_number,
                "status": v.status.code(),
                "sets": v.sets.iter().map(|s| json!({
                    "set_id": s.set_id,
                    "control_number": s.control_number,
                    "status": s.status.code(),
                    "error": s.error().map(|e| e.to_string()),
                })).collect::<Vec<_>>(),
            }),
        ),
    }
}

/// How a canonical document is put in an interchange.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// ISA05/ISA06 and ISA07/ISA08: (qualifier, id).
    pub sender: (String, String),
    pub receiver: (String, String),
    /// ISA13, GS06 and ST02.
    pub control: u32,
    /// 005010 instead of 004010.
    pub v5010: bool,
}

/// A canonical JSON document of `type_name`, validated against its
/// contract, as an interchange. `Err` lists what is wrong with the document
/// (exit 1); an unknown type is an [`EdiError`] (exit 2).
pub fn json_to_x12(
    doc: &Value,
    type_name: &str,
    env: &Envelope,
) -> Result<Result<Vec<u8>, Vec<String>>, EdiError> {
    fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, Vec<String>> {
        serde_json::from_value(v.clone()).map_err(|e| vec![e.to_string()])
    }
    let document = match type_name {
        "PurchaseOrder" => parse(doc).map(Document::PurchaseOrder),
        "PoAcknowledgement" => parse(doc).map(Document::PoAcknowledgement),
        "AdvanceShipNotice" => parse(doc).map(Document::AdvanceShipNotice),
        "Invoice" => parse(doc).map(Document::Invoice),
        other => return Err(EdiError::UnknownType(other.to_owned())),
    };
    let findings = contracts::Validator::new()
        .validate(type_name, doc)
        .expect("every X12 type is a contract type");
    if !findings.is_empty() {
        return Ok(Err(findings.iter().map(|f| f.to_string()).collect()));
    }
    let document = match document {
        Ok(d) => d,
        Err(problems) => return Ok(Err(problems)),
    };
    let control = format!("{:04}", env.control);
    let set = match x12::from_canonical(&document, &control) {
        Ok(set) => set,
        Err(e) => return Ok(Err(vec![e.to_string()])),
    };
    let now = simulators::rfc3339_utc(simulators::recorder::now_us());
    let (date, time) = (now[..10].replace('-', ""), now[11..16].replace(':', ""));
    let interchange = x12::envelope(
        (&env.sender.0, &env.sender.1),
        (&env.receiver.0, &env.receiver.1),
        env.control,
        &date,
        &time,
        env.v5010,
        vec![set],
    );
    Ok(x12::write(&interchange, &interchange.delimiters).map_err(|e| vec![e.to_string()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asn() -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../contracts/examples/AdvanceShipNotice/valid-typical.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn envelope() -> Envelope {
        Envelope {
            sender: ("ZZ".into(), "SUPPLIER".into()),
            receiver: ("ZZ".into(), "RETAILER".into()),
            control: 7,
            v5010: false,
        }
    }

    #[test]
    fn an_asn_goes_to_x12_and_back_unchanged() {
        let bytes = json_to_x12(&asn(), "AdvanceShipNotice", &envelope())
            .unwrap()
            .unwrap();
        assert!(is_x12(&bytes));
        let t = x12_to_json(&bytes);
        assert!(t.problems.is_empty(), "{:?}", t.problems);
        assert_eq!(t.documents.len(), 1);
        assert_eq!(t.documents[0]["type"], "AdvanceShipNotice");
        assert_eq!(t.documents[0]["set"], "856");
        assert_eq!(t.documents[0]["interchange"], "000000007");
        assert_eq!(t.documents[0]["document"], asn());
    }

    #[test]
    fn a_broken_set_is_named_and_yields_no_document() {
        let bytes = json_to_x12(&asn(), "AdvanceShipNotice", &envelope())
            .unwrap()
            .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        // SE01 one more than the segments counted.
        let se = text.find("SE*").unwrap();
        let count_end = se + 3 + text[se + 3..].find('*').unwrap();
        let count: u32 = text[se + 3..count_end].parse().unwrap();
        let broken = format!("{}SE*{}{}", &text[..se], count + 1, &text[count_end..]);
        let t = x12_to_json(broken.as_bytes());
        assert!(t.documents.is_empty(), "no partial effect");
        assert!(
            t.problems
                .iter()
                .any(|p| p.contains("856") && p.contains("AK502 4")),
            "{:?}",
            t.problems
        );
    }

    #[test]
    fn garbage_and_invalid_documents_are_refused_not_panicked_on() {
        let t = x12_to_json(b"ISA*garbage~");
        assert!(t.documents.is_empty() && !t.problems.is_empty());
        assert!(t.problems[0].contains("TA105"), "{:?}", t.problems);
        let mut bad = asn();
        bad["asn_id"] = json!("");
        let refused = json_to_x12(&bad, "AdvanceShipNotice", &envelope()).unwrap();
        assert!(refused.is_err());
        assert!(matches!(
            json_to_x12(&asn(), "Shipment", &envelope()),
            Err(EdiError::UnknownType(_))
        ));
    }
}
