//! crossdock's repository checks, run by `cargo xtask layers` and by this
//! crate's tests (so `cargo test --workspace` enforces them):
//!
//! - **no import cycle between the files of a crate** ([`layers`]): the
//!   arrows between a crate's modules form no circle;
//! - **functions a reader can hold in mind** ([`fnlen`]): no function body
//!   over [`MAX_FN_LINES`] lines, but for the few in [`LONG_FNS_ALLOWED`],
//!   each with its reason.
//!
//! Both read the sources as text (comments and literals blanked), so they
//! need no compiler and run in milliseconds.

pub mod fnlen;
pub mod layers;
pub mod source;

use std::path::{Path, PathBuf};

/// The longest function body allowed, in lines (a screen).
pub const MAX_FN_LINES: usize = 120;

/// Functions allowed to be longer, and why: (file path suffix, name, reason).
pub const LONG_FNS_ALLOWED: &[(&str, &str, &str)] = &[];

/// Crates reported but not yet held to the checks, and what is left in each.
/// Every other crate must pass.
pub const NOT_YET_ENFORCED: &[(&str, &str)] = &[
    (
        "contracts",
        "three functions of 132–149 lines (openapi::document, quick::fill, \
         validate::match_result)",
    ),
    (
        "simulators",
        "erp ↔ erp::outbound and wms ↔ wms::outbound (each outbound file adds methods to \
         its simulator's type, which uses the file's state); middleware::record_inbound is \
         140 lines",
    ),
];

/// What one crate's check found.
#[derive(Debug, Clone)]
pub struct CrateReport {
    pub name: String,
    pub files: usize,
    pub arrows: usize,
    /// Each cycle's modules.
    pub cycles: Vec<Vec<String>>,
    /// Functions over [`MAX_FN_LINES`] not allowed by [`LONG_FNS_ALLOWED`].
    pub long_fns: Vec<fnlen::FnLen>,
}

impl CrateReport {
    pub fn ok(&self) -> bool {
        self.cycles.is_empty() && self.long_fns.is_empty()
    }

    /// Passes, or is one of [`NOT_YET_ENFORCED`].
    pub fn acceptable(&self) -> bool {
        self.ok() || NOT_YET_ENFORCED.iter().any(|(name, _)| *name == self.name)
    }
}

/// Checks the crate whose `src` directory is `src`.
pub fn check_crate(name: &str, src: &Path) -> std::io::Result<CrateReport> {
    let files = source::read_crate(src)?;
    let graph = layers::graph(&files);
    let long_fns = files
        .iter()
        .flat_map(fnlen::functions)
        .filter(|f| f.lines > MAX_FN_LINES)
        .filter(|f| {
            !LONG_FNS_ALLOWED
                .iter()
                .any(|(file, name, _)| f.file.ends_with(file) && f.name == *name)
        })
        .collect();
    Ok(CrateReport {
        name: name.to_owned(),
        files: files.len(),
        arrows: graph.values().map(|t| t.len()).sum(),
        cycles: layers::cycles(&graph),
        long_fns,
    })
}

/// The workspace's crates: every folder beside `xtask` with a Cargo.toml
/// and a `src`, by name.
pub fn crates(root: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let dir = entry?.path();
        if dir.join("Cargo.toml").is_file() && dir.join("src").is_dir() {
            let name = dir.file_name().expect("a folder").to_string_lossy().into_owned();
            out.push((name, dir.join("src")));
        }
    }
    out.sort();
    Ok(out)
}

/// Checks every crate of the workspace at `root`.
pub fn check_workspace(root: &Path) -> std::io::Result<Vec<CrateReport>> {
    crates(root)?
        .iter()
        .map(|(name, src)| check_crate(name, src))
        .collect()
}

/// The report as lines of text.
pub fn render(reports: &[CrateReport]) -> String {
    let mut out = String::new();
    for r in reports {
        out += &format!(
            "{:<18} {:>3} files {:>4} arrows  {}\n",
            r.name,
            r.files,
            r.arrows,
            match (r.ok(), r.acceptable()) {
                (true, _) => "ok",
                (false, true) => "not yet enforced (xtask::NOT_YET_ENFORCED)",
                (false, false) => "FAILED",
            }
        );
        for c in &r.cycles {
            out += &format!("  cycle: {}\n", c.join(" ↔ "));
        }
        for f in &r.long_fns {
            out += &format!(
                "  {}:{}: fn {} is {} lines (at most {MAX_FN_LINES})\n",
                f.file, f.line, f.name, f.lines
            );
        }
    }
    out
}
