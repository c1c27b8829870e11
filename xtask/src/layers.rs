//! The import graph between the files (modules) of one crate, and its
//! cycles.
//!
//! A file refers to a module by a path: `crate::a::b`, `super::x`,
//! `self::x`, or a relative `child::x` naming one of its own child
//! modules; a `use` group (`crate::{a, b::c}`) names each member. A path
//! resolves to the longest module prefix it names, so `crate::run::Plan`
//! (an item of `run`) is an arrow to `run`, and `crate::run::plan::Plan`
//! one to `run::plan`. A `mod x;` declaration alone is no arrow: a parent
//! may declare its children, and even use them, as long as no child then
//! reaches back for one of the parent's own items.

use std::collections::{BTreeMap, BTreeSet};

use crate::source::SourceFile;

/// Module → the modules it refers to.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The import graph of a crate's files.
pub fn graph(files: &[SourceFile]) -> Graph {
    let modules: BTreeSet<&str> = files.iter().map(|f| f.module.as_str()).collect();
    let mut graph = Graph::new();
    for f in files {
        let targets = graph.entry(f.module.clone()).or_default();
        for path in references(&f.code, &f.module, &modules) {
            if let Some(target) = resolve(&path, &modules)
                && target != f.module
            {
                if std::env::var_os("XTASK_DEBUG").is_some() {
                    eprintln!("{}: {path} -> {target}", f.module);
                }
                targets.insert(target.to_owned());
            }
        }
    }
    graph
}

/// The longest module prefix of `path` (`a::b::C` → `a::b` if a module).
fn resolve<'m>(path: &str, modules: &BTreeSet<&'m str>) -> Option<&'m str> {
    let mut candidate = path;
    loop {
        if let Some(m) = modules.get(candidate) {
            return Some(m);
        }
        candidate = &candidate[..candidate.rfind("::")?];
    }
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Every module path (absolute, without `crate::`) the code of `module`
/// names.
fn references(code: &str, module: &str, modules: &BTreeSet<&str>) -> Vec<String> {
    let b = code.as_bytes();
    let inline = inline_modules(b);
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts_path =
            is_ident(b[i]) && (i == 0 || !(is_ident(b[i - 1]) || b[i - 1] == b':' || b[i - 1] == b'$'));
        if !starts_path {
            i += 1;
            continue;
        }
        let (mut segments, end) = path_at(b, i);
        // `pub(in crate::a)` restricts visibility; it names no dependency.
        let before = String::from_utf8_lossy(&b[i.saturating_sub(8)..i]).replace(char::is_whitespace, "");
        if before.ends_with("(in") {
            i = end.max(i + 1);
            continue;
        }
        // A lone `crate`/`super`/`self` (as in `pub(crate)`) names no path.
        let lone = segments.len() == 1 && !(end >= 2 && &b[end - 2..end] == b"::");
        if lone {
            i = end.max(i + 1);
            continue;
        }
        // Inside an inline `mod x { … }`, `super` first climbs out of it.
        let depth = inline
            .iter()
            .filter(|(from, to)| (*from..*to).contains(&i))
            .count();
        let ups = segments.iter().take_while(|s| *s == "super").count();
        if ups > 0 && depth > 0 {
            if ups <= depth {
                i = end.max(i + 1);
                continue;
            }
            segments.drain(..depth);
        }
        if let Some(base) = base_of(&segments, module, modules) {
            let members = group_members(b, end);
            if members.is_empty() {
                out.push(base);
            } else {
                out.extend(members.iter().map(|tail| join(&base, tail)));
            }
        }
        i = end.max(i + 1);
    }
    out
}

/// The byte spans of inline `mod name { … }` blocks.
fn inline_modules(b: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i + 4 < b.len() {
        let keyword =
            &b[i..i + 3] == b"mod" && (i == 0 || !is_ident(b[i - 1])) && b[i + 3].is_ascii_whitespace();
        if keyword {
            let (segments, end) = path_at(b, skip_ws(b, i + 3));
            let open = skip_ws(b, end);
            if segments.len() == 1 && b.get(open) == Some(&b'{') {
                spans.push((open, close_of(b, open)));
            }
        }
        i += 1;
    }
    spans
}

/// The index of the brace closing the one at `open`.
fn close_of(b: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    for (j, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    b.len()
}

/// The `::`-separated identifiers starting at `i`, and where they end (at
/// a `{` group, if one follows a trailing `::`).
fn path_at(b: &[u8], i: usize) -> (Vec<String>, usize) {
    let mut segments = Vec::new();
    let mut j = i;
    loop {
        let start = j;
        while j < b.len() && is_ident(b[j]) {
            j += 1;
        }
        if start == j {
            break;
        }
        segments.push(String::from_utf8_lossy(&b[start..j]).into_owned());
        if b.get(j) == Some(&b':') && b.get(j + 1) == Some(&b':') {
            j += 2;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
        } else {
            break;
        }
    }
    (segments, j)
}

/// The absolute module path a path starting with `segments` is in, if it
/// is a path into this crate: `crate::…`, `super::…`, `self::…`, or a
/// child module of `module` by its name.
fn base_of(segments: &[String], module: &str, modules: &BTreeSet<&str>) -> Option<String> {
    let first = segments.first()?;
    let (mut base, rest) = match first.as_str() {
        "crate" => (String::new(), &segments[1..]),
        "self" => (rel_root(module), &segments[1..]),
        "super" => {
            let ups = segments.iter().take_while(|s| *s == "super").count();
            let mut base = rel_root(module);
            for _ in 0..ups {
                base = parent(&base)?;
            }
            (base, &segments[ups..])
        }
        _ if segments.len() > 1 && modules.contains(join(&rel_root(module), first).as_str()) => {
            (rel_root(module), segments)
        }
        _ => return None,
    };
    for s in rest {
        base = join(&base, s);
    }
    Some(if base.is_empty() { "crate".into() } else { base })
}

/// `crate` is the empty root for joining.
fn rel_root(module: &str) -> String {
    if module == "crate" {
        String::new()
    } else {
        module.to_owned()
    }
}

fn parent(module: &str) -> Option<String> {
    if module.is_empty() {
        return None;
    }
    Some(
        module
            .rfind("::")
            .map_or_else(String::new, |i| module[..i].to_owned()),
    )
}

fn join(base: &str, tail: &str) -> String {
    match (base.is_empty() || base == "crate", tail.is_empty()) {
        (true, _) => tail.to_owned(),
        (false, true) => base.to_owned(),
        (false, false) => format!("{base}::{tail}"),
    }
}

/// The first-level members of a `{…}` group at `i` (`a`, `b::c` of
/// `{a, b::c as d, self}`), as relative paths.
fn group_members(b: &[u8], i: usize) -> Vec<String> {
    if b.get(i) != Some(&b'{') {
        return vec![];
    }
    let (mut depth, mut j, mut start) = (0usize, i, i + 1);
    let mut members = Vec::new();
    while j < b.len() {
        match b[j] {
            b'{' => depth += 1,
            b'}' | b',' if depth == 1 => {
                let (segments, _) = path_at(b, skip_ws(b, start));
                if !segments.is_empty() && segments[0] != "self" {
                    members.push(segments.join("::"));
                }
                start = j + 1;
                if b[j] == b'}' {
                    break;
                }
            }
            b'}' => depth -= 1,
            _ => {}
        }
        j += 1;
    }
    members
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The strongly connected components of more than one module (Tarjan),
/// each sorted; none means the graph has no cycle.
pub fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let nodes: Vec<&String> = graph.keys().collect();
    let index_of: BTreeMap<&String, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let edges: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            graph[*n]
                .iter()
                .filter_map(|t| index_of.get(t).copied())
                .collect()
        })
        .collect();
    let mut t = Tarjan::new(nodes.len());
    for v in 0..nodes.len() {
        if t.index[v].is_none() {
            t.visit(v, &edges);
        }
    }
    t.components
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            let mut names: Vec<String> = c.into_iter().map(|i| nodes[i].clone()).collect();
            names.sort();
            names
        })
        .collect()
}

struct Tarjan {
    next: usize,
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    stack: Vec<usize>,
    on_stack: Vec<bool>,
    components: Vec<Vec<usize>>,
}

impl Tarjan {
    fn new(n: usize) -> Self {
        Self {
            next: 0,
            index: vec![None; n],
            low: vec![0; n],
            stack: Vec::new(),
            on_stack: vec![false; n],
            components: Vec::new(),
        }
    }

    fn visit(&mut self, v: usize, edges: &[Vec<usize>]) {
        self.index[v] = Some(self.next);
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for &w in &edges[v] {
            match self.index[w] {
                None => {
                    self.visit(w, edges);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut component = Vec::new();
            loop {
                let w = self.stack.pop().expect("v is on the stack");
                self.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::blank;

    fn file(module: &str, code: &str) -> SourceFile {
        SourceFile {
            path: format!("{module}.rs").into(),
            module: module.into(),
            code: blank(code),
        }
    }

    #[test]
    fn every_form_of_path_is_an_arrow_to_its_module() {
        let files = [
            file("crate", "mod run; pub use run::Plan;"),
            file("run", "use crate::{load, check::judge};\nfn f() { plan::go(); }"),
            file("run::plan", "use super::super::load::Driver; use self::inner::X;"),
            file("run::plan::inner", "fn g() -> super::Plan {}"),
            file("load", "// crate::run in a comment\nlet s = \"crate::run\";"),
            file("check", ""),
        ];
        let g = graph(&files);
        let to = |m: &str| g[m].iter().cloned().collect::<Vec<_>>();
        assert_eq!(to("crate"), ["run"]);
        assert_eq!(to("run"), ["check", "load", "run::plan"]);
        assert_eq!(to("run::plan"), ["load", "run::plan::inner"]);
        assert_eq!(to("run::plan::inner"), ["run::plan"]);
        assert!(to("load").is_empty(), "comments and strings are not arrows");
        assert_eq!(
            cycles(&g),
            vec![vec!["run::plan".to_owned(), "run::plan::inner".to_owned()]]
        );
    }

    #[test]
    fn super_in_an_inline_test_module_is_the_file_itself() {
        let files = [
            file("crate", "mod a; pub use a::A;"),
            file(
                "a",
                "pub struct A;\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::b::B;\n}\n",
            ),
            file("b", "pub struct B;"),
        ];
        let g = graph(&files);
        assert_eq!(g["a"].iter().cloned().collect::<Vec<_>>(), ["b"]);
        assert!(cycles(&g).is_empty());
    }

    #[test]
    fn a_layered_crate_has_no_cycle() {
        let files = [
            file("crate", "pub use a::X; pub use b::Y;"),
            file("a", "use crate::b::Y;"),
            file("b", "use crate::c::Z;"),
            file("c", ""),
        ];
        assert!(cycles(&graph(&files)).is_empty());
    }
}
