//! docs/CONTRACT-RULES.md is generated from the rule table; like
//! rust-analyzer's `ensure_file_contents`, a stale file is rewritten and the
//! test fails so the change is committed.

use std::path::Path;

#[test]
fn contract_rules_doc_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/CONTRACT-RULES.md");
    let want = governance::rules::rules_markdown();
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        std::fs::write(&path, &want).unwrap();
        panic!("{} was stale and has been regenerated: commit it", path.display());
    }
}

#[test]
fn every_rule_id_is_unique_and_kebab_case() {
    let mut seen = std::collections::BTreeSet::new();
    for rule in governance::RULES {
        assert!(seen.insert(rule.id), "duplicate rule {}", rule.id);
        assert!(
            rule.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{} is not kebab-case",
            rule.id
        );
        assert!(!rule.example.is_empty() && !rule.what.is_empty(), "{}", rule.id);
    }
}
