//! Reading contracts: JSON or YAML text from a [`Loader`], external `$ref`s
//! bundled into the root document, the version recognised.
//!
//! External references (`other.yaml#/Foo`, `../schemas/Bar.json`) are
//! bundled, not inlined: each referenced file's content is placed under
//! `/x-crossdock-external/<path>` of the root and every reference to it is
//! rewritten to a local one. The differ then follows them like any local
//! `$ref` and compares their content; cycles between files stay cycles of
//! references and cost nothing.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::LoadError;

/// Where bundled external files live in the root document.
pub const EXTERNAL: &str = "x-crossdock-external";

/// Reads the text of a contract file. The core never touches the file
/// system: [`FsLoader`] reads the working tree, [`GitLoader`] a revision.
pub trait Loader {
    /// The text at `path` (a path as the user or a `$ref` named it,
    /// joined to the referring file's folder and normalised).
    fn read(&self, path: &Path) -> Result<String, LoadError>;
}

/// Reads files from the file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsLoader;

impl Loader for FsLoader {
    fn read(&self, path: &Path) -> Result<String, LoadError> {
        std::fs::read_to_string(path).map_err(|e| LoadError::Read {
            file: path.to_owned(),
            message: e.to_string(),
        })
    }
}

/// Reads files as they were at a git revision (`git show REF:./PATH`, run in
/// the current directory).
#[derive(Debug, Clone)]
pub struct GitLoader {
    pub revision: String,
}

impl Loader for GitLoader {
    fn read(&self, path: &Path) -> Result<String, LoadError> {
        let spec = format!("{}:./{}", self.revision, path.display());
        let out = std::process::Command::new("git")
            .args(["show", &spec])
            .output()
            .map_err(|e| LoadError::Read {
                file: path.to_owned(),
                message: format!("failed to run git show {spec}: {e}"),
            })?;
        if !out.status.success() {
            return Err(LoadError::Read {
                file: path.to_owned(),
                message: format!("git show {spec}: {}", String::from_utf8_lossy(&out.stderr).trim()),
            });
        }
        String::from_utf8(out.stdout).map_err(|_| LoadError::Read {
            file: path.to_owned(),
            message: format!("{spec} is not UTF-8"),
        })
    }
}

/// Reads from an in-memory map of path → text (tests, generated corpora).
impl Loader for BTreeMap<PathBuf, String> {
    fn read(&self, path: &Path) -> Result<String, LoadError> {
        self.get(path).cloned().ok_or_else(|| LoadError::Read {
            file: path.to_owned(),
            message: "no such file".into(),
        })
    }
}

/// Parses JSON or YAML text. JSON is tried first when the text starts like
/// JSON, so its errors name JSON's line and column.
pub fn parse(text: &str, file: &Path) -> Result<Value, LoadError> {
    let trimmed = text.trim_start();
    let is_json = trimmed.starts_with('{') || trimmed.starts_with('[');
    let yaml_file = matches!(file.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
    if is_json && !yaml_file {
        return serde_json::from_str(text).map_err(|e| {
            let (line, column) = (e.line(), e.column());
            let message = e.to_string();
            let suffix = format!(" at line {line} column {column}");
            LoadError::Syntax {
                file: file.to_owned(),
                line,
                column,
                format: "JSON",
                message: message.strip_suffix(&suffix).unwrap_or(&message).to_owned(),
            }
        });
    }
    serde_norway::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        LoadError::Syntax {
            file: file.to_owned(),
            line,
            column,
            format: "YAML",
            message: e.to_string(),
        }
    })
}

/// `a/b/../c` → `a/c`, without touching the file system.
pub fn normalize_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Escapes a JSON pointer token.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Loads `root` and every file it references, bundled into one document.
pub fn load_bundled(loader: &dyn Loader, root: &Path) -> Result<Value, LoadError> {
    let root = normalize_path(root);
    let text = loader.read(&root)?;
    let value = parse(&text, &root)?;
    let bundler = Bundler {
        loader,
        root_dir: root.parent().map(Path::to_owned).unwrap_or_default(),
        files: BTreeMap::from([(root.clone(), Some(value))]),
    };
    bundler.finish(&root)
}

struct Bundler<'a> {
    loader: &'a dyn Loader,
    root_dir: PathBuf,
    /// Every file read (None once moved into the bundle).
    files: BTreeMap<PathBuf, Option<Value>>,
}

impl Bundler<'_> {
    /// The key under [`EXTERNAL`] of a file: its path from the root's folder.
    fn key(&self, file: &Path) -> String {
        file.strip_prefix(&self.root_dir)
            .unwrap_or(file)
            .display()
            .to_string()
    }

    /// Rewrites the refs of every file (loading the files they name) and
    /// assembles the bundle.
    fn finish(mut self, root: &Path) -> Result<Value, LoadError> {
        let mut done: BTreeMap<PathBuf, Value> = BTreeMap::new();
        loop {
            let next = self
                .files
                .iter()
                .find(|(p, v)| v.is_some() && !done.contains_key(*p))
                .map(|(p, _)| p.clone());
            let Some(file) = next else { break };
            let mut value = self
                .files
                .get_mut(&file)
                .and_then(Option::take)
                .unwrap_or_default();
            let mut refs = Vec::new();
            rewrite_refs(&mut value, &file, file == root, &|f| self.key(f), &mut refs);
            for target in refs {
                if !self.files.contains_key(&target) {
                    let text = self.loader.read(&target)?;
                    let parsed = parse(&text, &target)?;
                    self.files.insert(target, Some(parsed));
                }
            }
            done.insert(file, value);
        }
        let mut bundle = done.remove(root).unwrap_or_default();
        if !done.is_empty() {
            let mut external = Map::new();
            for (file, value) in done {
                external.insert(self.key(&file), value);
            }
            if let Value::Object(map) = &mut bundle {
                map.insert(EXTERNAL.into(), Value::Object(external));
            }
        }
        check_refs(&bundle, &bundle, &mut Vec::new(), root)?;
        Ok(bundle)
    }
}

/// Rewrites every `$ref` in `value` (a file's content) to a local pointer
/// into the bundle; collects the files named.
fn rewrite_refs(
    value: &mut Value,
    file: &Path,
    is_root: bool,
    key: &dyn Fn(&Path) -> String,
    refs: &mut Vec<PathBuf>,
) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                let (target_file, fragment) = match r.split_once('#') {
                    Some((f, frag)) => (f.to_owned(), frag.to_owned()),
                    None => (r.clone(), String::new()),
                };
                let target = if target_file.is_empty() {
                    file.to_owned()
                } else {
                    let dir = file.parent().unwrap_or(Path::new(""));
                    normalize_path(&dir.join(&target_file))
                };
                let is_root_target = target_file.is_empty() && is_root;
                if !is_root_target {
                    *r = format!("#/{EXTERNAL}/{}{fragment}", escape(&key(&target)));
                    if !target_file.is_empty() {
                        refs.push(target);
                    }
                }
            }
            for v in map.values_mut() {
                rewrite_refs(v, file, is_root, key, refs);
            }
        }
        Value::Array(items) => {
            for v in items {
                rewrite_refs(v, file, is_root, key, refs);
            }
        }
        _ => {}
    }
}

/// Every local `$ref` must point at something. The pointer of a node is
/// only spelled out for the error.
fn check_refs(root: &Value, value: &Value, path: &mut Vec<String>, file: &Path) -> Result<(), LoadError> {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let target = r.strip_prefix('#').unwrap_or(r);
                if root.pointer(target).is_none() {
                    let at: String = path.iter().map(|p| format!("/{}", escape(p))).collect();
                    return Err(LoadError::BrokenRef {
                        file: file.to_owned(),
                        pointer: format!("{at}/$ref"),
                        reference: r.clone(),
                    });
                }
            }
            for (k, v) in map {
                if v.is_object() || v.is_array() {
                    path.push(k.clone());
                    check_refs(root, v, path, file)?;
                    path.pop();
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                if v.is_object() || v.is_array() {
                    path.push(i.to_string());
                    check_refs(root, v, path, file)?;
                    path.pop();
                }
            }
        }
        _ => {}
    }
    Ok(())
}
