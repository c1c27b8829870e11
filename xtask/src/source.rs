//! Reading a crate's sources: which module each file is, and its text with
//! comments, string and character literals blanked out (so a `crate::` in a
//! doc comment or a `{` in a string neither counts as a reference nor as a
//! brace). Line breaks are kept, so line numbers still hold.

use std::path::{Path, PathBuf};

/// One source file of a crate.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Its path.
    pub path: PathBuf,
    /// Its module path: `crate` for lib.rs/main.rs, `a::b` for a/b.rs or
    /// a/b/mod.rs.
    pub module: String,
    /// Its code, comments and literals blanked.
    pub code: String,
}

/// Every `.rs` file under `src`, sorted by path (binaries under `src/bin`
/// are left out: they are crates of their own).
pub fn read_crate(src: &Path) -> std::io::Result<Vec<SourceFile>> {
    let mut paths = Vec::new();
    walk(src, &mut paths)?;
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let rel = path.strip_prefix(src).expect("walked under src");
        if rel.starts_with("bin") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        files.push(SourceFile {
            module: module_of(rel),
            code: blank(&text),
            path,
        });
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `a/b.rs` and `a/b/mod.rs` → `a::b`; `lib.rs`, `main.rs` → `crate`.
pub fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        return "crate".into();
    }
    parts.join("::")
}

/// The text with comments and string/char literals replaced by spaces
/// (line breaks kept).
pub fn blank(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let skip = match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => line_comment(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => block_comment(b, i),
            b'r' if raw_string_start(b, i).is_some() && !ident_before(b, i) => raw_string(b, i),
            b'b' if b.get(i + 1) == Some(&b'"') && !ident_before(b, i) => string(b, i + 1),
            b'"' => string(b, i),
            b'\'' => char_literal(b, i),
            _ => None,
        };
        match skip {
            Some(end) => {
                out.extend(b[i..end].iter().map(|&c| if c == b'\n' { b'\n' } else { b' ' }));
                i = end;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ident_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

fn line_comment(b: &[u8], i: usize) -> Option<usize> {
    Some(b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p))
}

fn block_comment(b: &[u8], i: usize) -> Option<usize> {
    let (mut depth, mut j) = (0usize, i);
    while j + 1 < b.len() {
        if b[j] == b'/' && b[j + 1] == b'*' {
            depth += 1;
            j += 2;
        } else if b[j] == b'*' && b[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return Some(j);
            }
        } else {
            j += 1;
        }
    }
    Some(b.len())
}

fn string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    Some(b.len())
}

/// `r"`, `r#"`, `br##"`…: the number of hashes, if a raw string starts here.
fn raw_string_start(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    let mut hashes = 0;
    while b.get(j) == Some(&b'#') {
        hashes += 1;
        j += 1;
    }
    (b.get(j) == Some(&b'"')).then_some(hashes)
}

fn raw_string(b: &[u8], i: usize) -> Option<usize> {
    let hashes = raw_string_start(b, i)?;
    let body = i + 1 + hashes + 1;
    let mut j = body;
    while j < b.len() {
        if b[j] == b'"' && b[j + 1..].iter().take(hashes).filter(|&&c| c == b'#').count() == hashes {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(b.len())
}

/// `'x'`, `'\n'`, `'\u{7f}'`: a char literal; a lifetime (`'a`) is not one.
fn char_literal(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i + 1) == Some(&b'\\') {
        let end = b[i + 2..].iter().position(|&c| c == b'\'')?;
        return Some(i + 2 + end + 1);
    }
    let len = std::str::from_utf8(&b[i + 1..(i + 5).min(b.len())])
        .ok()
        .or_else(|| std::str::from_utf8(&b[i + 1..(i + 2).min(b.len())]).ok())
        .and_then(|s| s.chars().next())
        .map(char::len_utf8)?;
    (b.get(i + 1 + len) == Some(&b'\'')).then_some(i + 2 + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_strings_and_chars_are_blanked_lines_kept() {
        let text = "let a = \"crate::x {\"; // crate::y\nlet c = '{'; /* crate::z\n */ crate::w\nfn f<'a>(x: &'a str) {}\nlet r = r#\"crate::v \"# ;";
        let code = blank(text);
        assert_eq!(code.lines().count(), text.lines().count());
        assert!(!code.contains("crate::x") && !code.contains("crate::y") && !code.contains("crate::z"));
        assert!(!code.contains("crate::v"));
        assert!(code.contains("crate::w"));
        assert!(code.contains("fn f<'a>(x: &'a str) {}"), "{code}");
        assert_eq!(code.matches('{').count(), 1, "{code}");
    }

    #[test]
    fn files_name_their_modules() {
        assert_eq!(module_of(Path::new("lib.rs")), "crate");
        assert_eq!(module_of(Path::new("run/mod.rs")), "run");
        assert_eq!(
            module_of(Path::new("run/external/plan.rs")),
            "run::external::plan"
        );
    }
}
