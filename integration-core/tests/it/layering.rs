//! integration-core's layers, checked from its source text: every import
//! between its files points down the layers (`LAYERS`). The import graph
//! is `xtask`'s (the one reader of the workspace's sources, which also
//! refuses cycles and long functions in every crate: `cargo xtask layers`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

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

/// integration-core's import graph, its root named `lib`.
fn core_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = xtask::source::read_crate(&src).unwrap();
    let lib = |m: &str| {
        if m == "crate" {
            "lib".to_owned()
        } else {
            m.to_owned()
        }
    };
    xtask::layers::graph(&files)
        .into_iter()
        .map(|(from, to)| (lib(&from), to.iter().map(|t| lib(t)).collect()))
        .collect()
}

#[test]
fn integration_core_imports_point_down_the_layers() {
    let graph = core_graph();
    assert!(graph.len() > 10, "the reader found the crate's files: {graph:?}");
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
