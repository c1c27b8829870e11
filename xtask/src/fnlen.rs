//! Functions a reader can hold in mind: the length of every function body,
//! from its `fn` line to its closing brace.

use crate::source::SourceFile;

/// A function and its length in lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FnLen {
    pub file: String,
    /// The line of its `fn`.
    pub line: usize,
    pub name: String,
    pub lines: usize,
}

/// Every function with a body in `file`.
pub fn functions(file: &SourceFile) -> Vec<FnLen> {
    let b = file.code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = find_fn(b, i) {
        let name_start = skip_ws(b, p + 2);
        let name_end = (name_start..b.len())
            .find(|&j| !is_ident(b[j]))
            .unwrap_or(b.len());
        if let Some((open, close)) = body(b, name_end) {
            out.push(FnLen {
                file: file.path.display().to_string(),
                line: line_of(b, p),
                name: String::from_utf8_lossy(&b[name_start..name_end]).into_owned(),
                lines: line_of(b, close) - line_of(b, p) + 1,
            });
            i = open + 1;
        } else {
            i = name_end.max(p + 2);
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The next `fn` keyword at or after `i` followed by a name.
fn find_fn(b: &[u8], mut i: usize) -> Option<usize> {
    while i + 2 < b.len() {
        let keyword =
            &b[i..i + 2] == b"fn" && (i == 0 || !is_ident(b[i - 1])) && b[i + 2].is_ascii_whitespace();
        if keyword {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The body's braces after a signature ending at or after `i`; `None` for
/// a declaration (`;` first).
fn body(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    let mut parens = 0i32;
    while j < b.len() {
        match b[j] {
            b'(' | b'<' | b'[' => parens += 1,
            b')' | b']' => parens -= 1,
            b'>' if j > 0 && b[j - 1] != b'-' && b[j - 1] != b'=' => parens -= 1,
            b';' if parens <= 0 => return None,
            b'{' if parens <= 0 => break,
            _ => {}
        }
        j += 1;
    }
    let open = j;
    let mut depth = 0usize;
    while j < b.len() {
        match b[j] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((open, j));
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

fn line_of(b: &[u8], i: usize) -> usize {
    b[..i].iter().filter(|&&c| c == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::blank;

    #[test]
    fn bodies_are_measured_and_declarations_skipped() {
        let code = "trait T { fn d(&self); }\nfn short() -> Vec<u8> {\n    vec![]\n}\n\npub async fn long<F: Fn() -> u8>(f: F) where F: Send {\n    let s = \"}\";\n    if true {\n    }\n}\n";
        let file = SourceFile {
            path: "x.rs".into(),
            module: "x".into(),
            code: blank(code),
        };
        let found: Vec<(String, usize, usize)> = functions(&file)
            .into_iter()
            .map(|f| (f.name, f.line, f.lines))
            .collect();
        assert_eq!(found, [("short".to_owned(), 2, 3), ("long".to_owned(), 6, 5)]);
    }
}
