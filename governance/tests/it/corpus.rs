//! The corpus: base/revision pairs built from real public OpenAPI documents
//! (`tests/corpus/NOTICE` says where each comes from and under which
//! licence), each revision one realistic change stated as a JSON Patch in
//! `tests/corpus/pairs.yaml`, with the rule ids and levels it must yield.
//! Recall on breaking pairs must be ≥ 97 %, compatible pairs called breaking
//! ≤ 3 %; every pair must yield exactly its expected findings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use governance::{Document, Level, Options, RULES, compare};
use serde::Deserialize;
use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pair {
    id: String,
    /// The root document, relative to tests/corpus.
    base: String,
    /// Patch applied to both sides first (to set up the case).
    #[serde(default)]
    both: Vec<Value>,
    /// The same, for other files of a multi-file document.
    #[serde(default)]
    both_in: BTreeMap<String, Vec<Value>>,
    /// The change: a JSON Patch on the root document of the revision.
    #[serde(default)]
    change: Vec<Value>,
    /// The change in other files (path relative to the root's folder).
    #[serde(default)]
    change_in: BTreeMap<String, Vec<Value>>,
    /// `rule:level` of every finding expected (levels: breaking,
    /// potentially-breaking, compatible).
    expect: Vec<String>,
}

/// Every file of the document's folder, read into memory.
fn files_under(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, root, out);
        } else {
            let rel = path.strip_prefix(root).unwrap().to_owned();
            out.insert(rel, std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn patched(
    files: &BTreeMap<PathBuf, String>,
    root: &Path,
    root_ops: &[Value],
    other: &BTreeMap<String, Vec<Value>>,
) -> BTreeMap<PathBuf, String> {
    let mut out = files.clone();
    let folder = root.parent().unwrap();
    let mut targets: Vec<(PathBuf, &[Value])> = vec![(root.to_owned(), root_ops)];
    targets.extend(other.iter().map(|(f, ops)| (folder.join(f), ops.as_slice())));
    for (file, ops) in targets {
        if ops.is_empty() {
            continue;
        }
        let text = out
            .get(&file)
            .unwrap_or_else(|| panic!("{} not in the corpus", file.display()));
        let mut doc = governance::load::parse(text, &file).unwrap();
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops.to_vec()))
            .unwrap_or_else(|e| panic!("{}: bad patch: {e}", file.display()));
        json_patch::patch(&mut doc, &patch).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        out.insert(file, serde_json::to_string_pretty(&doc).unwrap());
    }
    out
}

fn level_name(level: Level) -> &'static str {
    level.as_str()
}

/// The pairs' worst expected level: breaking, else potentially breaking,
/// else compatible.
fn worst(expect: &BTreeSet<String>) -> &'static str {
    for level in ["breaking", "potentially-breaking"] {
        if expect.iter().any(|e| e.ends_with(&format!(":{level}"))) {
            return level;
        }
    }
    "compatible"
}

fn load_pairs() -> Vec<Pair> {
    let text = std::fs::read_to_string(corpus().join("pairs.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("pairs.yaml: {e}"))
}

#[test]
fn the_corpus_meets_the_recall_and_false_breaking_targets() {
    let pairs = load_pairs();
    assert!(pairs.len() >= 100, "{} pairs", pairs.len());
    let mut files = BTreeMap::new();
    files_under(&corpus(), &corpus(), &mut files);
    let options = Options {
        direction: None,
        today: Some("2026-12-07".into()),
    };
    let (mut breaking, mut caught, mut harmless, mut blocked) = (0, 0, 0, 0);
    let mut mismatches = Vec::new();
    let mut ids = BTreeSet::new();
    for pair in &pairs {
        assert!(ids.insert(&pair.id), "duplicate pair id {}", pair.id);
        let root = PathBuf::from(&pair.base);
        let base = patched(&files, &root, &pair.both, &pair.both_in);
        let revision = patched(&base, &root, &pair.change, &pair.change_in);
        let old = Document::load(&base, &root).unwrap_or_else(|e| panic!("{}: {e}", pair.id));
        let new = Document::load(&revision, &root).unwrap_or_else(|e| panic!("{}: {e}", pair.id));
        let report = compare(&old, &new, &options).unwrap();
        let got: BTreeSet<String> = report
            .changes
            .iter()
            .map(|c| format!("{}:{}", c.rule, level_name(c.level)))
            .collect();
        let want: BTreeSet<String> = pair.expect.iter().cloned().collect();
        if worst(&want) == "breaking" {
            breaking += 1;
            caught += usize::from(report.is_breaking());
        } else {
            harmless += 1;
            blocked += usize::from(report.is_breaking());
        }
        if got != want {
            mismatches.push(format!("{}: expected {want:?}, found {got:?}", pair.id));
        }
    }
    let recall = 100.0 * caught as f64 / breaking.max(1) as f64;
    let false_breaking = 100.0 * blocked as f64 / harmless.max(1) as f64;
    println!(
        "corpus: {} pairs; recall on breaking changes {caught}/{breaking} = {recall:.1} %; \
         compatible changes called breaking {blocked}/{harmless} = {false_breaking:.1} %; \
         {} pair(s) not exactly as expected",
        pairs.len(),
        mismatches.len()
    );
    assert!(
        recall >= 97.0,
        "recall {recall:.1} % < 97 %\n{}",
        mismatches.join("\n")
    );
    assert!(
        false_breaking <= 3.0,
        "false breaking {false_breaking:.1} % > 3 %\n{}",
        mismatches.join("\n")
    );
    assert!(
        breaking >= 30 && harmless >= 30,
        "{breaking} breaking, {harmless} harmless pairs"
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_rule_is_exercised_by_a_fixture_or_a_corpus_pair() {
    let mut covered: BTreeSet<String> = load_pairs()
        .iter()
        .flat_map(|p| p.expect.iter().map(|e| e.split(':').next().unwrap().to_owned()))
        .collect();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for case in std::fs::read_dir(fixtures).unwrap() {
        let expect: Value =
            serde_json::from_str(&std::fs::read_to_string(case.unwrap().path().join("expect.json")).unwrap())
                .unwrap();
        for c in expect["changes"].as_array().unwrap() {
            covered.insert(c["rule"].as_str().unwrap().to_owned());
        }
    }
    let uncovered: Vec<&str> = RULES
        .iter()
        .map(|r| r.id)
        .filter(|r| !covered.contains(*r))
        .collect();
    assert!(
        uncovered.is_empty(),
        "rules without a fixture or corpus pair: {uncovered:?}"
    );
}
