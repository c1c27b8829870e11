//! The findings of [`Validator::validate`] (pointers, rules, messages, in
//! order) are pinned: every example of the catalog, and a fixed set of single
//! mutations of each (every member or item replaced by `null`, `-1`, `0`,
//! `""`, a digit string, an early date, or removed; every string with its last
//! character changed), must give exactly the findings recorded in
//! `tests/findings.golden`. The file was written by the validator before the
//! fast schema check and the one-pass domain rules, so optimisations are held
//! to the same findings.
//!
//! The golden file keeps, per example, the findings of the document itself in
//! clear, and a 64-bit FNV-1a digest over the findings of all its mutations.
//! After a deliberate change of findings (or a new example), rewrite it with
//! `CONTRACTS_BLESS=1 cargo test -p contracts --test it findings::` and
//! review the diff.

use std::fmt::Write as _;
use std::path::PathBuf;

use contracts::Validator;
use contracts::schema::catalog;
use serde_json::{Value, json};

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/findings.golden")
}

/// Every pointer of `v` below the root, in document order.
pub fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, sub) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(sub, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, sub) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(sub, &p, out);
            }
        }
        _ => {}
    }
}

/// The fixed single mutations of `doc`.
pub fn mutations(doc: &Value) -> Vec<Value> {
    let mut ptrs = Vec::new();
    pointers(doc, "", &mut ptrs);
    let replacements = [
        Value::Null,
        json!(-1),
        json!(0),
        json!(""),
        json!("000000000000000000"),
        json!("2000-01-01"),
    ];
    let mut out = Vec::new();
    for p in &ptrs {
        for new in &replacements {
            let mut d = doc.clone();
            *d.pointer_mut(p).unwrap() = new.clone();
            out.push(d);
        }
        if let Some(Value::String(s)) = doc.pointer(p) {
            let mut changed: String = s.clone();
            match changed.pop() {
                Some(c) if c.is_ascii_digit() => {
                    changed.push(char::from(b'0' + (c as u8 - b'0' + 1) % 10));
                }
                Some(_) => changed.push('9'),
                None => changed.push('x'),
            }
            let mut d = doc.clone();
            *d.pointer_mut(p).unwrap() = Value::String(changed);
            out.push(d);
        }
        let (parent, key) = p.rsplit_once('/').unwrap();
        let mut d = doc.clone();
        match d.pointer_mut(parent).unwrap() {
            Value::Object(m) => {
                m.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
            Value::Array(a) => {
                a.remove(key.parse::<usize>().unwrap());
            }
            _ => unreachable!("a pointer's parent holds it"),
        }
        out.push(d);
    }
    out
}

fn render(findings: &[contracts::Finding], out: &mut String) {
    for f in findings {
        writeln!(
            out,
            "  {} {:?} {}",
            f.rule,
            f.pointer,
            f.message.replace('\n', "\\n")
        )
        .unwrap();
    }
}

fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Every example document of the catalog: (type, file name, document), by
/// type in catalog order, then by file name.
pub fn example_docs() -> Vec<(&'static str, String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut out = Vec::new();
    for (type_name, _) in catalog() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(type_name))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            out.push((type_name, name, doc));
        }
    }
    out
}

/// The golden text for the catalog's examples as the validator judges them now.
fn current() -> String {
    let validator = Validator::new();
    let mut text = String::new();
    for (type_name, name, doc) in example_docs() {
        let mut digest = 0xcbf2_9ce4_8422_2325;
        let mut mutated = 0;
        for d in mutations(&doc) {
            let mut one = String::new();
            render(&validator.validate(type_name, &d).unwrap(), &mut one);
            digest = fnv1a(one.as_bytes(), fnv1a(b"\x00", digest));
            mutated += 1;
        }
        writeln!(
            text,
            "{type_name}/{name} mutations={mutated} digest={digest:016x}"
        )
        .unwrap();
        render(&validator.validate(type_name, &doc).unwrap(), &mut text);
    }
    text
}

#[test]
fn findings_of_examples_and_their_mutations_are_unchanged() {
    let now = current();
    if std::env::var_os("CONTRACTS_BLESS").is_some() {
        std::fs::write(golden_path(), &now).unwrap();
        return;
    }
    let golden =
        std::fs::read_to_string(golden_path()).expect("tests/findings.golden (CONTRACTS_BLESS=1 writes it)");
    let (want, got): (Vec<&str>, Vec<&str>) = (golden.lines().collect(), now.lines().collect());
    let differ: Vec<String> = want
        .iter()
        .zip(&got)
        .filter(|(w, g)| w != g)
        .map(|(w, g)| format!("golden: {w}\n   now: {g}"))
        .take(20)
        .collect();
    assert!(
        differ.is_empty() && want.len() == got.len(),
        "findings changed ({} golden lines, {} now); first differences:\n{}",
        want.len(),
        got.len(),
        differ.join("\n")
    );
    assert!(want.len() > 100, "only {} golden lines", want.len());
}
