//! The fast schema check (contracts' `quick` module, used by
//! `SchemaSet::validate` to pass valid documents without jsonschema) gives
//! jsonschema's verdict: on every fixed mutation of every example of every
//! type, and on random single mutations (a value replaced, a member or item
//! removed, a member or item added).

use contracts::SchemaSet;
use contracts::schema::catalog;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::findings::{example_docs, mutations, pointers};

#[test]
fn the_quick_check_covers_every_type_of_the_catalog() {
    let set = SchemaSet::new();
    let uncovered: Vec<&str> = catalog()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| set.quick_and_full_verdicts(n, &json!({})).is_none())
        .collect();
    assert!(uncovered.is_empty(), "not covered: {uncovered:?}");
}

#[test]
fn the_quick_check_agrees_with_jsonschema_on_every_fixed_mutation() {
    let set = SchemaSet::new();
    let mut checked = 0;
    let mut invalid = 0;
    for (name, _, doc) in example_docs() {
        for d in std::iter::once(doc.clone()).chain(mutations(&doc)) {
            let (quick, full) = set.quick_and_full_verdicts(name, &d).unwrap();
            assert_eq!(quick, full, "{name}: {d}");
            checked += 1;
            invalid += usize::from(!full);
        }
    }
    assert!(
        checked > 10_000 && invalid > 5_000,
        "{checked} checked, {invalid} invalid"
    );
}

/// (type, file name, document).
type Example = (&'static str, String, Value);

fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-3i64..3).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        Just(json!(1.0)),
        Just(json!(0.5)),
        Just(json!(4294967296u64)),
        "[A-Z0-9a-z:. é-]{0,20}".prop_map(Value::from),
        "[0-9]{8,18}".prop_map(Value::from),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}".prop_map(Value::from),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,3})?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
            .prop_map(Value::from),
        Just(json!("2026-02-30")),
        Just(json!("2024-02-29")),
        Just(json!("2026-11-23T10:00:00Z")),
        Just(json!("2026-12-31T23:59:60Z")),
        Just(json!("2026-11-23T10:00:00+01:00")),
        Just(json!("EA")),
        Just(json!("pallet")),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"unexpected": 1})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A random single mutation of a random example: a value replaced, a
    /// member or item removed, or a member or item added.
    #[test]
    fn the_quick_check_agrees_with_jsonschema_on_random_mutations(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        how in 0u8..3,
        new in replacement(),
    ) {
        static SET: std::sync::OnceLock<(SchemaSet, Vec<Example>)> = std::sync::OnceLock::new();
        let (set, docs) = SET.get_or_init(|| (SchemaSet::new(), example_docs()));
        let (name, _, doc) = &docs[pick.index(docs.len())];
        let mut doc = doc.clone();
        let mut ptrs = vec![String::new()];
        pointers(&doc, "", &mut ptrs);
        let p = ptrs[at.index(ptrs.len())].clone();
        match how {
            0 => *doc.pointer_mut(&p).unwrap() = new,
            1 => {
                if let Some((parent, key)) = p.rsplit_once('/') {
                    match doc.pointer_mut(parent).unwrap() {
                        Value::Object(m) => {
                            m.remove(&key.replace("~1", "/").replace("~0", "~"));
                        }
                        Value::Array(a) => {
                            a.remove(key.parse::<usize>().unwrap());
                        }
                        _ => {}
                    }
                }
            }
            _ => match doc.pointer_mut(&p).unwrap() {
                Value::Object(m) => {
                    m.insert("x_added".into(), new);
                }
                Value::Array(a) => a.push(new),
                _ => {}
            },
        }
        let (quick, full) = set.quick_and_full_verdicts(name, &doc).unwrap();
        prop_assert_eq!(quick, full, "{} {}", name, doc);
    }
}
