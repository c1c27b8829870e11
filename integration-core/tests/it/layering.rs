//! The crate's shape, checked from its source text: no import cycle between
//! its files, every import pointing down the layers, no function over 120
//! lines.
//!
//! Self-contained (std and `tempfile` only), so another crate's tests can
//! copy it: [`file_graph`] and [`find_cycle`] take any crate's `src`
//! directory; only the `LAYERS` table and the tests at the bottom are
//! integration-core's.
//!
//! A rough reader, not a parser: it drops comments, string and char
//! literals, then follows every `crate::…`, `super::…`, `self::…` path (with
//! `{…}` groups expanded), a child module named by its parent (`layers::X`
//! in the file that declares `mod layers;`) and a name bound to a module by
//! `use` (`use crate::flows; … flows::invoicing::X`). A path names the
//! deepest *file* it reaches: `crate::store::Tx` is `store` (`store.rs` or
//! `store/mod.rs`); a path to an item of the crate root
//! (`crate::CoreState`) names `lib`. Code inside an inline `mod x { … }`
//! (unit tests) belongs to its file. Macros that build paths from
//! fragments are not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path, `""` for the crate root (`lib.rs`).
type Module = String;

/// Imports between the files of a crate: file module → the file modules
/// it names (itself left out). The root is `"lib"`.
pub fn file_graph(src: &Path) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let files = rust_files(src)?;
    let modules: BTreeSet<Module> = files.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (module, path) in &files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let code = strip_comments_and_literals(&text);
        let targets: BTreeSet<String> = references(&code, module, &modules)
            .into_iter()
            .filter(|t| t != module)
            .map(|t| display(&t))
            .collect();
        graph.insert(display(module), targets);
    }
    Ok(graph)
}

fn display(module: &str) -> String {
    if module.is_empty() {
        "lib".to_owned()
    } else {
        module.to_owned()
    }
}

/// A cycle of `graph` (`[a, b, …, a]`), if it has one.
pub fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // 0 unvisited, 1 on the current path, 2 done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    let mut path: Vec<&str> = Vec::new();
    fn visit<'g>(
        node: &'g str,
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'g str, u8>,
        path: &mut Vec<&'g str>,
    ) -> Option<Vec<String>> {
        state.insert(node, 1);
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = path.iter().position(|n| *n == next.as_str()).unwrap_or(0);
                    let mut cycle: Vec<String> = path[from..].iter().map(|s| s.to_string()).collect();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(next, graph, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(node, 2);
        None
    }
    for node in graph.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(node, graph, &mut state, &mut path)
        {
            return Some(c);
        }
    }
    None
}

/// Every `.rs` file under `src`, by module path.
fn rust_files(src: &Path) -> Result<BTreeMap<Module, PathBuf>, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.insert(module_of(src, &path), path);
            }
        }
    }
    Ok(out)
}

/// `src/lib.rs` → `""`, `src/a.rs` and `src/a/mod.rs` → `a`, `src/a/b.rs` → `a::b`.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts.join("::")
}

/// The text with comments, string literals and char literals blanked (line
/// breaks kept).
fn strip_comments_and_literals(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, s: &[char]| {
        for c in s {
            out.push(if *c == '\n' { '\n' } else { ' ' });
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        // `r"…"`/`b"…"` open a literal only where an identifier does not
        // go on (`for"` is no raw string).
        let word_start = i == 0 || !is_ident(b[i - 1]);
        let end = if rest.starts_with(&['/', '/']) {
            rest.iter().position(|c| *c == '\n').unwrap_or(rest.len())
        } else if rest.starts_with(&['/', '*']) {
            block_comment_len(rest)
        } else if rest[0] == '"' || (word_start && rest[0] == 'r' && raw_string_hashes(rest).is_some()) {
            string_len(rest)
        } else if word_start && rest[0] == 'b' && rest.get(1) == Some(&'"') {
            1 + string_len(&rest[1..])
        } else if rest[0] == '\'' {
            char_literal_len(rest).unwrap_or(0)
        } else {
            0
        };
        if end == 0 {
            out.push(b[i]);
            i += 1;
        } else {
            blank(&mut out, &rest[..end]);
            i += end;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn block_comment_len(s: &[char]) -> usize {
    let (mut depth, mut i) = (0usize, 0usize);
    while i < s.len() {
        if s[i..].starts_with(&['/', '*']) {
            depth += 1;
            i += 2;
        } else if s[i..].starts_with(&['*', '/']) {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    s.len()
}

/// `r"`, `r#"`, `r##"`…: the number of `#`.
fn raw_string_hashes(s: &[char]) -> Option<usize> {
    let hashes = s[1..].iter().take_while(|c| **c == '#').count();
    (s.get(1 + hashes) == Some(&'"')).then_some(hashes)
}

/// Length of the string literal at the start of `s` (`"…"` or `r#"…"#`).
fn string_len(s: &[char]) -> usize {
    if s[0] == 'r' {
        let hashes = raw_string_hashes(s).unwrap_or(0);
        let body = 2 + hashes;
        let mut close = vec!['"'];
        close.extend(std::iter::repeat_n('#', hashes));
        return (body..s.len())
            .find(|&j| s[j..].starts_with(&close))
            .map_or(s.len(), |j| j + close.len());
    }
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

/// `'x'`, `'\n'`, `'\u{1F600}'`; `None` for a lifetime (`'a`).
fn char_literal_len(s: &[char]) -> Option<usize> {
    if s.get(1) == Some(&'\\') {
        return s.get(3..)?.iter().position(|c| *c == '\'').map(|p| p + 4);
    }
    (s.get(2) == Some(&'\'')).then_some(3)
}

/// The file modules `code` (of file module `module`) names.
fn references(code: &str, module: &str, modules: &BTreeSet<Module>) -> BTreeSet<Module> {
    let here: Vec<String> = split(module);
    let children: BTreeSet<String> = modules
        .iter()
        .filter_map(|m| {
            let parts = split(m);
            (parts.len() == here.len() + 1 && parts.starts_with(&here)).then(|| parts[here.len()].clone())
        })
        .collect();
    let chars: Vec<char> = code.chars().collect();
    let mut inline: Vec<(String, i64)> = Vec::new();
    let mut depth: i64 = 0;
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut found = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            depth += 1;
        } else if c == '}' {
            depth -= 1;
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
        }
        if !is_ident(c) || (i > 0 && (is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let word_end = (i..chars.len())
            .find(|&j| !is_ident(chars[j]))
            .unwrap_or(chars.len());
        let word: String = chars[i..word_end].iter().collect();
        if word == "mod" {
            let rest: String = chars[word_end..chars.len().min(word_end + 80)].iter().collect();
            let name: String = rest.trim_start().chars().take_while(|c| is_ident(*c)).collect();
            let after = rest.trim_start()[name.len()..].trim_start();
            if after.starts_with('{') {
                inline.push((name, depth));
            }
            i = word_end;
            continue;
        }
        if !chars[word_end..].starts_with(&[':', ':']) {
            i = word_end;
            continue;
        }
        let mut scope = here.clone();
        scope.extend(inline.iter().map(|(n, _)| n.clone()));
        let base: Option<Vec<String>> = match word.as_str() {
            "crate" => Some(Vec::new()),
            "super" => Some(scope[..scope.len().saturating_sub(1)].to_vec()),
            "self" => Some(scope.clone()),
            w if inline.is_empty() && children.contains(w) => {
                Some([here.clone(), vec![w.to_owned()]].concat())
            }
            w => aliases.get(w).cloned(),
        };
        let Some(base) = base else {
            i = word_end;
            continue;
        };
        let (paths, end) = expand(&chars, word_end + 2);
        let is_use = preceded_by_use(&chars, i);
        for path in paths {
            let path: Vec<String> = path.into_iter().filter(|s| s != "self").collect();
            let (target, whole) = resolve(&base, &path, modules);
            if is_use
                && whole
                && let Some(last) = path.last()
            {
                let mut full = base.clone();
                full.extend(path.iter().cloned());
                aliases.insert(last.clone(), full);
            }
            found.insert(target);
        }
        i = end;
    }
    found
}

fn split(module: &str) -> Vec<String> {
    if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(str::to_owned).collect()
    }
}

/// Whether the path starting at `at` is the head of a `use` item.
fn preceded_by_use(chars: &[char], at: usize) -> bool {
    let before: String = chars[at.saturating_sub(12)..at].iter().collect();
    before.trim_end().ends_with("use")
}

/// The paths after a `::` at `start`: `a::b::C` or a group `{a::b, c::{D, E}}`
/// expanded; and where they end.
fn expand(chars: &[char], start: usize) -> (Vec<Vec<String>>, usize) {
    let mut i = start;
    let mut prefix = Vec::new();
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if chars.get(i) == Some(&'{') {
            let close = matching_brace(chars, i);
            let mut out = Vec::new();
            for item in split_top_level(&chars[i + 1..close]) {
                let (inner, _) = expand(&item, 0);
                for p in inner {
                    out.push([prefix.clone(), p].concat());
                }
            }
            return (out, close + 1);
        }
        let end = (i..chars.len())
            .find(|&j| !is_ident(chars[j]))
            .unwrap_or(chars.len());
        if end == i {
            return (vec![prefix], i);
        }
        prefix.push(chars[i..end].iter().collect());
        if chars[end..].starts_with(&[':', ':']) {
            i = end + 2;
        } else {
            return (vec![prefix], end);
        }
    }
}

fn matching_brace(chars: &[char], open: usize) -> usize {
    let mut depth = 0;
    for (j, c) in chars.iter().enumerate().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    chars.len()
}

fn split_top_level(chars: &[char]) -> Vec<Vec<char>> {
    let (mut out, mut cur, mut depth) = (Vec::new(), Vec::new(), 0);
    for c in chars {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(*c);
    }
    out.push(cur);
    out.into_iter()
        .map(|item| {
            let s: String = item.iter().collect();
            s.trim()
                .split(" as ")
                .next()
                .unwrap_or("")
                .trim()
                .chars()
                .collect()
        })
        .filter(|item: &Vec<char>| !item.is_empty())
        .collect()
}

/// The deepest file module `base::path` reaches, and whether the whole
/// path is modules (so a `use` of it binds a module name).
fn resolve(base: &[String], path: &[String], modules: &BTreeSet<Module>) -> (Module, bool) {
    let mut at: Vec<String> = base.to_vec();
    while !at.is_empty() && !modules.contains(&at.join("::")) {
        at.pop();
    }
    let mut full = base.to_vec();
    let mut whole = true;
    for seg in path {
        if seg == "self" || seg == "*" {
            continue;
        }
        full.push(seg.clone());
        if modules.contains(&full.join("::")) {
            at = full.clone();
        } else {
            whole = false;
            break;
        }
    }
    (at.join("::"), whole)
}

/// A function longer than the limit: (file, line, name, lines).
pub type LongFunction = (PathBuf, usize, String, usize);

/// Every `fn` under `src` longer than `max` lines, from its `fn` line to
/// its closing brace (braces counted on the text without comments and
/// literals).
pub fn long_functions(src: &Path, max: usize) -> Result<Vec<LongFunction>, String> {
    let mut out = Vec::new();
    for path in rust_files(src)?.into_values() {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let lines: Vec<String> = strip_comments_and_literals(&text)
            .lines()
            .map(str::to_owned)
            .collect();
        for (start, line) in lines.iter().enumerate() {
            let Some(name) = fn_name(line) else { continue };
            if let Some(len) = body_lines(&lines[start..])
                && len > max
            {
                out.push((path.clone(), start + 1, name, len));
            }
        }
    }
    Ok(out)
}

/// The name of the function a line declares (`fn name`), if it does.
fn fn_name(line: &str) -> Option<String> {
    let words: Vec<&str> = line
        .split(|c: char| !is_ident(c))
        .filter(|w| !w.is_empty())
        .collect();
    let at = words.iter().position(|w| *w == "fn")?;
    let before_ok = words[..at].iter().all(|w| {
        matches!(
            *w,
            "pub" | "crate" | "super" | "async" | "const" | "unsafe" | "extern" | "in" | "self"
        )
    });
    let name = words.get(at + 1)?;
    (before_ok && line.trim_start().chars().next().is_some_and(is_ident)).then(|| name.to_string())
}

/// Lines from the declaration to the brace closing its body; `None` for a
/// declaration without a body.
fn body_lines(lines: &[String]) -> Option<usize> {
    let mut depth = 0i64;
    let mut opened = false;
    for (n, line) in lines.iter().enumerate() {
        for c in line.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
                ';' if !opened && depth == 0 => return None,
                _ => {}
            }
        }
        if opened && depth <= 0 {
            return Some(n + 1);
        }
    }
    None
}

// ---- integration-core's rules ----

/// integration-core's layers, bottom first: a file may import its own
/// layer's files (without a cycle) and the layers below, never one above.
/// `flows` and `outbox` share a layer but never import each other.
const LAYERS: &[(&str, &[&str])] = &[
    ("error", &["error", "clock"]),
    ("db", &["db"]),
    ("store", &["store"]),
    ("flows", &["flows"]),
    ("outbox", &["outbox"]),
    ("http", &["http"]),
    ("lib", &["lib"]),
];

/// The rank of a file module: its layer's position (flows and outbox both 3).
fn rank(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or(module);
    let at = LAYERS.iter().position(|(_, tops)| tops.contains(&top))?;
    Some(if LAYERS[at].0 == "outbox" { at - 1 } else { at })
}

fn layer(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// Edges that go up a layer or across between flows and outbox, and files
/// outside every layer.
pub fn layer_violations(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for (from, tos) in graph {
        let Some(rf) = rank(from) else {
            out.push(format!("{from} is in no layer"));
            continue;
        };
        for to in tos {
            let Some(rt) = rank(to) else { continue };
            let across = rf == rt && layer(from) != layer(to);
            if rt > rf || across {
                out.push(format!("{from} imports {to}"));
            }
        }
    }
    out
}

fn core_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn integration_core_files_import_no_cycle() {
    let graph = file_graph(&core_src()).unwrap();
    assert!(graph.len() > 10, "the reader found the crate's files: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle between files of integration-core: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn integration_core_imports_point_down_the_layers() {
    let graph = file_graph(&core_src()).unwrap();
    let bad = layer_violations(&graph);
    assert!(bad.is_empty(), "imports against the layers:\n{}", bad.join("\n"));
}

#[test]
fn an_upward_or_sideways_import_is_a_layer_violation() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        (
            "store".to_owned(),
            BTreeSet::from(["flows".to_owned(), "db".to_owned()]),
        ),
        ("flows".to_owned(), BTreeSet::from(["outbox::attempt".to_owned()])),
        ("outbox".to_owned(), BTreeSet::from(["store".to_owned()])),
        ("misc".to_owned(), BTreeSet::new()),
    ]
    .into();
    assert_eq!(
        layer_violations(&graph),
        [
            "flows imports outbox::attempt",
            "misc is in no layer",
            "store imports flows"
        ]
    );
}

fn write_crate(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn a_planted_cycle_of_two_files_is_found() {
    let dir = write_crate(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::Thing;\npub struct Other;\n"),
        ("b/mod.rs", "pub struct Thing(pub super::a::Other);\n"),
    ]);
    let graph = file_graph(dir.path()).unwrap();
    assert_eq!(graph["a"], BTreeSet::from(["b".to_owned()]));
    assert_eq!(graph["b"], BTreeSet::from(["a".to_owned()]));
    let cycle = find_cycle(&graph).expect("the cycle is found");
    assert_eq!(cycle, ["a", "b", "a"]);
}

#[test]
fn groups_aliases_and_children_are_followed_and_comments_strings_and_unit_tests_are_not() {
    let dir = write_crate(&[
        (
            "lib.rs",
            "mod low;\nmod mid;\nmod top;\npub use top::Api;\npub(crate) fn now() -> u64 { 0 }\n",
        ),
        ("low/mod.rs", "mod deep;\npub use deep::Deep;\n"),
        ("low/deep.rs", "pub struct Deep;\n"),
        (
            "mid.rs",
            "use crate::{low::{self, Deep}};\n// crate::top::Api\nconst S: &str = \"crate::top\";\n\
             const R: &str = r#\"super::top\"#;\nfn f(_: low::deep::Deep) -> char { '{' }\nconst N: u8 = 1// crate::top::Api\n;\n\
             #[cfg(test)]\nmod tests { use super::*; }\n",
        ),
        (
            "top.rs",
            "pub struct Api;\nfn g() -> u64 { crate::now() + { super::mid::f(); 0 } }\n",
        ),
    ]);
    let graph = file_graph(dir.path()).unwrap();
    assert_eq!(graph["lib"], BTreeSet::from(["top".to_owned()]));
    assert_eq!(graph["low"], BTreeSet::from(["low::deep".to_owned()]));
    assert_eq!(
        graph["mid"],
        BTreeSet::from(["low".to_owned(), "low::deep".to_owned()])
    );
    assert_eq!(graph["top"], BTreeSet::from(["lib".to_owned(), "mid".to_owned()]));
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["lib".into(), "top".into(), "lib".into()])
    );
    let acyclic = write_crate(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::X;\n"),
        ("b.rs", ""),
    ]);
    assert_eq!(find_cycle(&file_graph(acyclic.path()).unwrap()), None);
}

/// Functions of integration-core's src allowed over 120 lines, with why.
const LONG_FUNCTIONS_ALLOWED: &[(&str, &str)] = &[];

#[test]
fn no_function_in_integration_core_src_is_over_120_lines() {
    let long: Vec<String> = long_functions(&core_src(), 120)
        .unwrap()
        .into_iter()
        .filter(|(_, _, name, _)| !LONG_FUNCTIONS_ALLOWED.iter().any(|(n, _)| n == name))
        .map(|(path, line, name, len)| format!("{}:{line} fn {name}: {len} lines", path.display()))
        .collect();
    assert!(long.is_empty(), "functions over 120 lines:\n{}", long.join("\n"));
}

#[test]
fn a_planted_long_function_is_found_and_one_at_the_limit_is_not() {
    let body = |n: usize| "    let _x = 1;\n".repeat(n);
    let text = format!(
        "pub fn at_limit() {{\n{}}}\n\n// fn not_code() {{\nasync fn too_long() -> u8 {{\n    let s = \"}}\";\n{}    0\n}}\nfn decl();\n",
        body(118),
        body(118),
    );
    let dir = write_crate(&[("lib.rs", &text)]);
    let long = long_functions(dir.path(), 120).unwrap();
    let found: Vec<(usize, &str, usize)> = long.iter().map(|(_, l, n, len)| (*l, n.as_str(), *len)).collect();
    assert_eq!(found, [(123, "too_long", 122)]);
}
