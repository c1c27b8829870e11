//! The documents of `inputs.utf8-and-boundaries`: variants of a valid
//! document, each still valid against the contract, that a correct partner
//! takes like any other: multi-byte UTF-8 at the longest length in every
//! free-text member, numbers at their bounds, every documented enum value.

use std::collections::BTreeSet;

use serde_json::Value;

/// One variant of a document: what it tries, and the members it sets
/// (JSON pointer, value).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Variant {
    pub kind: Kind,
    pub what: String,
    pub changes: Vec<(String, Value)>,
}

/// What a variant tries, for the message that tells what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Utf8,
    Bounds,
    EnumValue,
}

impl Kind {
    pub(crate) fn fix(self) -> &'static str {
        match self {
            Kind::Utf8 => "read and store text as UTF-8, and count characters, not bytes, against maxLength",
            Kind::Bounds => "accept every number within the schema's minimum and maximum",
            Kind::EnumValue => "accept every value the contract documents for this member",
        }
    }
}

/// `doc` with `changes` applied; `None` when a member is missing.
pub(crate) fn apply(doc: &Value, changes: &[(String, Value)]) -> Option<Value> {
    let mut out = doc.clone();
    for (pointer, value) in changes {
        *out.pointer_mut(pointer)? = value.clone();
    }
    Some(out)
}

fn valid(validator: &contracts::Validator, type_name: &str, doc: &Value) -> bool {
    validator.validate(type_name, doc).is_ok_and(|f| f.is_empty())
}

/// Every variant of `doc` (type `type_name`, whose schema is `schema`).
pub(crate) fn variants(
    validator: &contracts::Validator,
    type_name: &str,
    schema: &Value,
    doc: &Value,
) -> Vec<Variant> {
    let mut out = Vec::new();
    let (_, changed) = with_utf8(validator, type_name, doc);
    if !changed.is_empty() {
        out.push(Variant {
            kind: Kind::Utf8,
            what: format!(
                "multi-byte UTF-8 in {}",
                changed
                    .iter()
                    .map(|(p, v)| format!(
                        "{p} ({} characters)",
                        v.as_str().unwrap_or_default().chars().count()
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            changes: changed,
        });
    }
    out.extend(bounds(validator, type_name, doc));
    out.extend(enum_variants(validator, type_name, schema, doc));
    out
}

/// Counts and references that must keep their value.
fn is_reference_number(key: &str) -> bool {
    key.ends_with("_no") || ["version", "revision", "seq", "po_version", "order_version"].contains(&key)
}

/// Every count at the smallest value it takes (0 or 1), every percentage
/// at 100: one variant if together valid, else one each.
fn bounds(validator: &contracts::Validator, type_name: &str, doc: &Value) -> Vec<Variant> {
    let mut leaves = Vec::new();
    leaf_paths(doc, String::new(), None, &mut leaves, &|v| v.is_u64());
    let mut changes = Vec::new();
    for (pointer, key) in leaves {
        if is_reference_number(&key) {
            continue;
        }
        let candidates: &[u64] = if key.ends_with("_pct") { &[100] } else { &[0, 1] };
        let current = doc.pointer(&pointer).and_then(Value::as_u64);
        for c in candidates {
            let change = (pointer.clone(), Value::from(*c));
            if apply(doc, std::slice::from_ref(&change)).is_some_and(|d| valid(validator, type_name, &d)) {
                if current != Some(*c) {
                    changes.push(change);
                }
                break;
            }
        }
    }
    let variant = |changes: Vec<(String, Value)>| Variant {
        kind: Kind::Bounds,
        what: format!(
            "numbers at their bounds: {}",
            changes
                .iter()
                .map(|(p, v)| format!("{p} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        changes,
    };
    if changes.is_empty() {
        return Vec::new();
    }
    if apply(doc, &changes).is_some_and(|d| valid(validator, type_name, &d)) {
        return vec![variant(changes)];
    }
    changes.into_iter().map(|c| variant(vec![c])).collect()
}

/// Every string value the schema documents as an enum or a constant.
fn documented_values(schema: &Value, out: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("enum", Value::Array(values)) => {
                        out.extend(values.iter().filter_map(Value::as_str).map(str::to_owned))
                    }
                    ("const", Value::String(c)) => {
                        out.insert(c.clone());
                    }
                    _ => documented_values(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| documented_values(i, out)),
        _ => {}
    }
}

/// For each member holding a documented enum value, every other value the
/// contract takes there (the first occurrence of each member name).
fn enum_variants(
    validator: &contracts::Validator,
    type_name: &str,
    schema: &Value,
    doc: &Value,
) -> Vec<Variant> {
    let mut values = BTreeSet::new();
    documented_values(schema, &mut values);
    let mut leaves = Vec::new();
    leaf_paths(doc, String::new(), None, &mut leaves, &Value::is_string);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (pointer, key) in leaves {
        let current = doc.pointer(&pointer).and_then(Value::as_str).unwrap_or_default();
        if !values.contains(current) || !seen.insert(key.clone()) {
            continue;
        }
        for v in values.iter().filter(|v| v.as_str() != current) {
            let change = (pointer.clone(), Value::String(v.clone()));
            if apply(doc, std::slice::from_ref(&change)).is_some_and(|d| valid(validator, type_name, &d)) {
                out.push(Variant {
                    kind: Kind::EnumValue,
                    what: format!("{key} = {v:?} (at {pointer})"),
                    changes: vec![change],
                });
            }
        }
    }
    out
}

/// Multi-byte text: accents, a combining mark, CJK, emoji (outside the
/// BMP), right-to-left Arabic and Hebrew.
pub(crate) const UTF8_SAMPLE: &str = "Zoë Ångström e\u{301} 東京倉庫 📦🚚 مستودع עברית ";

/// `text` repeated to exactly `chars` characters.
fn text_of(chars: usize) -> String {
    UTF8_SAMPLE.chars().cycle().take(chars).collect()
}

/// Members that are codes, dates or references to other documents (kept,
/// so that the document still refers to what it must), not free text.
/// Item codes, lots, locations, names and addresses are free text: the
/// contract takes any string there.
fn is_coded(key: &str) -> bool {
    contracts_key_is_reference(key)
        || key.ends_with("_date")
        || key.ends_with("_at")
        || key.ends_with("_gln")
        || [
            "gtin",
            "sscc",
            "parent_sscc",
            "currency",
            "uom",
            "carrier_scac",
            "estimated_arrival",
            "expiry",
            "unit_price",
            "status",
            "purpose",
            "decision",
            "stock_status",
            "level",
            "bill_of_lading",
        ]
        .contains(&key)
}

fn contracts_key_is_reference(key: &str) -> bool {
    key.ends_with("_id") || key.ends_with("_number") || key == "reference"
}

/// `doc` with every free-text member (a string the schema accepts any
/// text in) replaced by multi-byte UTF-8 at the longest length it takes;
/// the members changed, with their new values.
pub(crate) fn with_utf8(
    validator: &contracts::Validator,
    type_name: &str,
    doc: &Value,
) -> (Value, Vec<(String, Value)>) {
    let mut out = doc.clone();
    let mut changed = Vec::new();
    let mut paths = Vec::new();
    leaf_paths(doc, String::new(), None, &mut paths, &Value::is_string);
    for (pointer, key) in paths {
        if is_coded(&key) {
            continue;
        }
        for len in [1000, 255, 200, 128, 100, 64, 35, 20, 10] {
            let mut trial = out.clone();
            if let Some(v) = trial.pointer_mut(&pointer) {
                *v = Value::String(text_of(len));
            }
            if validator.validate(type_name, &trial).is_ok_and(|f| f.is_empty()) {
                out = trial;
                changed.push((pointer, Value::String(text_of(len))));
                break;
            }
        }
    }
    (out, changed)
}

/// The JSON pointer and member name of every leaf of `v` that `keep` takes.
fn leaf_paths(
    v: &Value,
    at: String,
    key: Option<&str>,
    out: &mut Vec<(String, String)>,
    keep: &dyn Fn(&Value) -> bool,
) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                leaf_paths(child, format!("{at}/{k}"), Some(k), out, keep);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                leaf_paths(child, format!("{at}/{i}"), key, out, keep);
            }
        }
        leaf if keep(leaf) => out.push((at, key.unwrap_or_default().to_owned())),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certify::docs::DocGen;

    fn schema(name: &str) -> Value {
        contracts::schema::catalog()
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
    }

    #[test]
    fn free_text_gets_multibyte_utf8_and_stays_valid() {
        let validator = contracts::Validator::new();
        let g = DocGen::new(1);
        let mut any = false;
        for op in contracts::routes::OPERATIONS
            .iter()
            .filter(|o| o.method == "POST")
        {
            let doc = g.document(op.request, 1).unwrap();
            let (out, changed) = with_utf8(&validator, op.request, &doc);
            assert!(
                validator.validate(op.request, &out).unwrap().is_empty(),
                "{}",
                op.request
            );
            any |= !changed.is_empty();
            // Identifiers keep their values: the callbacks still refer to them.
            for key in ["po_number", "expectation_id", "asn_id"] {
                assert_eq!(out.get(key), doc.get(key), "{}", op.request);
            }
        }
        assert!(any, "no document had a free-text member");
        assert!(text_of(10).chars().count() == 10 && text_of(10).len() > 10);
    }

    #[test]
    fn every_variant_is_valid_and_enums_and_bounds_are_covered() {
        let validator = contracts::Validator::new();
        let doc = DocGen::new(1).document("PurchaseOrder", 1).unwrap();
        let all = variants(&validator, "PurchaseOrder", &schema("PurchaseOrder"), &doc);
        for v in &all {
            let d = apply(&doc, &v.changes).unwrap();
            assert!(
                validator.validate("PurchaseOrder", &d).unwrap().is_empty(),
                "{v:?}"
            );
        }
        let kinds: BTreeSet<String> = all.iter().map(|v| format!("{:?}", v.kind)).collect();
        assert_eq!(kinds.len(), 3, "{all:#?}");
        // Every other documented PO line status is tried.
        let statuses = all.iter().filter(|v| v.what.starts_with("status = ")).count();
        assert!(statuses >= 2, "{all:#?}");
        assert!(
            all.iter().any(|v| v.what.contains("over_tolerance_pct = 100")),
            "{all:#?}"
        );
    }
}
