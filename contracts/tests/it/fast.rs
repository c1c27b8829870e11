//! The one-walk check `Validator::validate` tries first (the fast schema
//! check with the domain rules' fields laid over it) passes a document only
//! when the full validation finds nothing: on every example of every type
//! and every fixed mutation of each. It must also pass the valid examples
//! of the types it covers, or it would only cost time.

use contracts::Validator;
use contracts::schema::catalog;

use crate::findings::{example_docs, mutations};

#[test]
fn the_one_walk_check_passes_only_documents_without_findings() {
    let v = Validator::new();
    let mut passed = 0;
    let mut doubted = 0;
    for (name, file, doc) in example_docs() {
        for (k, d) in std::iter::once(doc.clone()).chain(mutations(&doc)).enumerate() {
            let Some(clean) = v.fast_verdict(name, &d) else {
                continue;
            };
            let full = v.validate(name, &d).unwrap();
            if clean {
                assert!(full.is_empty(), "{name}/{file}: passed, but {full:?}\n{d}");
                passed += 1;
            } else {
                doubted += 1;
            }
            if k == 0 && full.is_empty() {
                assert!(
                    clean,
                    "{name}/{file}: a valid example is left to the full validation"
                );
            }
        }
    }
    assert!(
        passed > 1_000 && doubted > 5_000,
        "{passed} passed, {doubted} doubted"
    );
}

#[test]
fn the_one_walk_check_covers_the_inbound_documents() {
    let v = Validator::new();
    let names: Vec<&str> = catalog().into_iter().map(|(n, _)| n).collect();
    for name in [
        "AdvanceShipNotice",
        "PurchaseOrder",
        "InboundExpectation",
        "GoodsReceipt",
    ] {
        assert!(names.contains(&name), "{name}");
        assert!(
            v.fast_verdict(name, &serde_json::json!({})).is_some(),
            "{name} has no one-walk check"
        );
    }
}
