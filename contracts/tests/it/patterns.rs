//! The validators evaluate `pattern` with `contracts::pattern::SimplePattern`
//! instead of jsonschema's regex engine. These tests hold the two to the same
//! verdicts (on every pattern of the catalog, with generated strings) and the
//! same messages, so the published schemas mean what they meant.

use std::sync::LazyLock;

use contracts::pattern::SimplePattern;
use contracts::schema::{SchemaSet, catalog};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::schemas::sample_asn;

/// Every `pattern` of the catalog, once each.
fn catalog_patterns() -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(p)) = map.get("pattern") {
                    if !out.contains(p) {
                        out.push(p.clone());
                    }
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (_, schema) in catalog() {
        walk(&schema, &mut out);
    }
    out
}

/// Patterns beyond the catalog's, to exercise the construction.
const MORE: &[&str] = &[
    r"^a*$",
    r"^(ab|a)*b?$",
    r"^(?:[a-c]{2,3}|x)+-[0-9]{0,2}$",
    r"^[-a.]{1,}\.?$",
    r"^(a|)(b?)c{0}$",
    r"^[0-9]{3,}$",
];

fn regex_engine(pattern: &str) -> jsonschema::Validator {
    jsonschema::options()
        .build(&json!({ "pattern": pattern }))
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
}

#[test]
fn every_catalog_pattern_is_in_the_fast_subset() {
    let patterns = catalog_patterns();
    assert!(patterns.len() >= 8, "{patterns:?}");
    for p in &patterns {
        assert!(
            SimplePattern::parse(p).is_some(),
            "{p} falls back to the regex engine"
        );
    }
}

/// Strings made of runs of characters the patterns care about (digits, hex,
/// letters, `.`, `-`, a newline, non-ASCII), so that near-misses of every
/// shape (one digit short, a trailing newline, a wrong case) are common.
fn candidate() -> impl Strategy<Value = String> {
    let run = (
        prop::sample::select(vec![
            "0123456789",
            "0123456789abcdef",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "abcdefghijklmnopqrstuvwxyz",
            ".",
            "-",
            "v",
            "\n",
            "é٣ ",
        ]),
        0usize..=34,
        any::<u64>(),
    )
        .prop_map(|(alphabet, len, seed)| {
            let chars: Vec<char> = alphabet.chars().collect();
            let mut x = seed | 1;
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    chars[(x % chars.len() as u64) as usize]
                })
                .collect::<String>()
        });
    prop::collection::vec(run, 0..6).prop_map(|runs| runs.concat())
}

/// Each pattern compiled both ways, once.
static BOTH: LazyLock<Vec<(String, SimplePattern, jsonschema::Validator)>> = LazyLock::new(|| {
    let mut patterns = catalog_patterns();
    patterns.extend(MORE.iter().map(|p| (*p).to_owned()));
    patterns
        .into_iter()
        .map(|p| {
            let fast = SimplePattern::parse(&p).unwrap_or_else(|| panic!("{p}"));
            let regex = regex_engine(&p);
            (p, fast, regex)
        })
        .collect()
});

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn pattern_keyword_agrees_with_the_regex_engine(s in candidate()) {
        let value = Value::String(s.clone());
        for (p, fast, regex) in BOTH.iter() {
            prop_assert_eq!(fast.is_match(&s), regex.is_valid(&value), "pattern {} on {:?}", p, s);
        }
    }
}

#[test]
fn schema_findings_are_those_of_the_plain_published_schema() {
    // The published schema compiled by jsonschema as any partner would, and
    // the crate's SchemaSet: the same pointers and messages.
    let schema = catalog()
        .into_iter()
        .find(|(n, _)| *n == "AdvanceShipNotice")
        .unwrap()
        .1;
    let plain = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let set = SchemaSet::new();
    let mut doc = serde_json::to_value(sample_asn()).unwrap();
    doc["lines"][0]["sscc"] = json!("12345");
    doc["handling_units"][0]["sscc"] = json!("0061414100000000١٢");
    doc["carrier_scac"] = json!("ups");
    doc["supplier_gln"] = json!("506000000001\n");
    doc["lines"][0]["gtin"] = json!("400638100001");
    doc["lines"][0]["uom"] = json!("KG");
    let mut want: Vec<(String, String)> = plain
        .iter_errors(&doc)
        .map(|e| (e.instance_path().as_str().to_owned(), e.to_string()))
        .collect();
    let mut got: Vec<(String, String)> = set
        .validate("AdvanceShipNotice", &doc)
        .unwrap()
        .into_iter()
        .map(|v| (v.pointer, v.message))
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert!(
        got.iter()
            .any(|(p, m)| p == "/lines/0/sscc" && m == r#""12345" does not match "^[0-9]{18}$""#),
        "{got:?}"
    );
    assert_eq!(got.len(), 5, "{got:?}");
}
