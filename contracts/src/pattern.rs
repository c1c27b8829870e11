//! A linear-time matcher for the simple anchored patterns the contracts use
//! (`^[0-9]{18}$`, `^([0-9]{8}|[0-9]{12,14})$`, `^[A-Z]{2,4}$`, …), so the
//! validators need not start a regex engine for every identifier of a
//! document. [`crate::schema::SchemaSet`] evaluates the JSON Schema `pattern`
//! keyword with it; the published schemas are unchanged.
//!
//! The subset: `^…$` around concatenations of ASCII atoms (literal
//! characters, escaped punctuation, bracket classes of literals and ranges)
//! with the quantifiers `?`, `*`, `+`, `{n}`, `{n,}` and `{n,m}`, and groups
//! (`(…)` or `(?:…)`) with `|` alternation. Anything else (`.`, `\d`,
//! negated classes, lazy quantifiers, look-around, non-ASCII, more than 128
//! positions) is refused by [`SimplePattern::parse`] and left to the regex
//! engine.
//!
//! Matching simulates the Glushkov automaton of the pattern bit-parallel
//! (one bit per position of the pattern): one pass over the bytes, no
//! backtracking, no recursion, whatever the input. A pattern whose positions
//! all share one class and whose lengths are bounded (`^[0-9]{18}$`, GTIN's
//! alternation of lengths) is reduced further to "every byte in the class,
//! length in the set".
//!
//! Working on bytes is exact: every atom is ASCII, so a byte of a multi-byte
//! UTF-8 character matches no atom, and a string that matches is ASCII, where
//! bytes and characters count the same.

/// Most positions (class occurrences, after expanding counted repetition)
/// a compiled pattern may have: one bit each in a `u128`.
const MAX_POSITIONS: usize = 128;

/// A pattern of the simple subset, compiled.
#[derive(Debug, Clone)]
pub struct SimplePattern {
    matcher: Matcher,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// Every byte in the class (`in_class[byte]`, a table: one load per
    /// byte); the length's bit set in `lengths`.
    Lengths {
        in_class: Box<[bool; 256]>,
        lengths: u128,
        /// The class as one range of bytes `lo..=hi`, when it is one:
        /// tested eight bytes at a time.
        range: Option<(u8, u8)>,
    },
    Glushkov(Box<Glushkov>),
}

#[derive(Debug, Clone)]
struct Glushkov {
    /// The empty string matches.
    nullable: bool,
    /// Positions a match may start with.
    first: u128,
    /// Positions a match may end with.
    last: u128,
    /// Positions that may follow each position.
    follow: Vec<u128>,
    /// Positions whose class holds each ASCII byte.
    by_byte: [u128; 128],
}

impl SimplePattern {
    /// Compiles `pattern` when it is in the subset; `None` otherwise.
    pub fn parse(pattern: &str) -> Option<Self> {
        let body = pattern.strip_prefix('^')?;
        let mut parser = Parser {
            chars: body.as_bytes(),
            at: 0,
        };
        if !body.is_ascii() {
            return None;
        }
        // Not `alternation`: `^a|b$` means `(^a)|(b$)`, outside the subset.
        let ast = parser.concat()?;
        // The whole rest must be the closing anchor.
        if parser.chars.get(parser.at..) != Some(b"$".as_slice()) {
            return None;
        }
        let mut build = Build::default();
        let node = build.node(&ast)?;
        let mut by_byte = [0u128; 128];
        for (p, class) in build.classes.iter().enumerate() {
            for (b, slot) in by_byte.iter_mut().enumerate() {
                if class & (1u128 << b) != 0 {
                    *slot |= 1u128 << p;
                }
            }
        }
        let g = Glushkov {
            nullable: node.nullable,
            first: node.first,
            last: node.last,
            follow: build.follow,
            by_byte,
        };
        let matcher = match g.as_lengths(&build.classes) {
            Some((class, lengths)) => {
                let mut in_class = Box::new([false; 256]);
                for (b, slot) in in_class.iter_mut().enumerate().take(128) {
                    *slot = class & (1u128 << b) != 0;
                }
                let lo = class.trailing_zeros();
                let hi = 127 - class.leading_zeros();
                let contiguous = (lo..=hi).all(|b| class & (1u128 << b) != 0);
                let range = contiguous.then_some((lo as u8, hi as u8));
                Matcher::Lengths {
                    in_class,
                    lengths,
                    range,
                }
            }
            None => Matcher::Glushkov(Box::new(g)),
        };
        Some(Self { matcher })
    }

    /// Whether all of `s` matches the pattern.
    pub fn is_match(&self, s: &str) -> bool {
        let bytes = s.as_bytes();
        match &self.matcher {
            Matcher::Lengths {
                in_class,
                lengths,
                range,
            } => {
                bytes.len() < 128
                    && lengths & (1u128 << bytes.len()) != 0
                    && match *range {
                        Some((lo, hi)) => all_in_range(bytes, lo, hi),
                        None => bytes.iter().all(|&b| in_class[usize::from(b)]),
                    }
            }
            Matcher::Glushkov(g) => g.is_match(bytes),
        }
    }
}

/// Every byte of `bytes` in `lo..=hi` (`hi` < 128), eight at a time: a
/// byte `b` < 0x80 is at least `lo` when `b + (0x80 − lo)` has its top bit
/// set, and above `hi` when `b + (0x7F − hi)` has; neither sum carries into
/// the next byte.
/// A byte ≥ 0x80 fails the first test (whatever the carries do to the others).
pub(crate) fn all_in_range(bytes: &[u8], lo: u8, hi: u8) -> bool {
    debug_assert!(lo <= hi && hi < 0x80);
    const ONES: u64 = 0x0101_0101_0101_0101;
    let at_least = ONES * u64::from(0x80 - lo);
    let above = ONES * u64::from(0x7F - hi);
    let Some(last) = bytes.last_chunk::<8>() else {
        return bytes.iter().all(|b| (lo..=hi).contains(b));
    };
    // The chunks from the start, and the last eight bytes (overlapping the
    // last chunk when the length is not a multiple of eight).
    let mut ok = in_range(u64::from_le_bytes(*last), at_least, above);
    for chunk in bytes.chunks_exact(8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        ok &= in_range(x, at_least, above);
    }
    ok
}

/// The eight bytes of `x` are each in the range that `at_least` and `above`
/// encode (see [`all_in_range`]).
#[inline]
fn in_range(x: u64, at_least: u64, above: u64) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    x & HIGH == 0 && x.wrapping_add(at_least) & HIGH == HIGH && x.wrapping_add(above) & HIGH == 0
}

/// The eight bytes of `x` are each an ASCII digit.
#[inline]
pub(crate) fn eight_digits(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    in_range(x, ONES * u64::from(0x80 - b'0'), ONES * u64::from(0x7F - b'9'))
}

impl Glushkov {
    fn on(&self, b: u8) -> u128 {
        self.by_byte.get(usize::from(b)).copied().unwrap_or(0)
    }

    fn step(&self, active: u128, b: u8) -> u128 {
        let mut next = 0;
        let mut rest = active;
        while rest != 0 {
            next |= self.follow[rest.trailing_zeros() as usize];
            rest &= rest - 1;
        }
        next & self.on(b)
    }

    fn is_match(&self, bytes: &[u8]) -> bool {
        let Some((&head, tail)) = bytes.split_first() else {
            return self.nullable;
        };
        let mut active = self.first & self.on(head);
        for &b in tail {
            if active == 0 {
                return false;
            }
            active = self.step(active, b);
        }
        active & self.last != 0
    }

    /// When every position has the same class and no match is longer than
    /// 127: that class and the set of lengths that match.
    fn as_lengths(&self, classes: &[u128]) -> Option<(u128, u128)> {
        let (&class, rest) = classes.split_first()?;
        if rest.iter().any(|&c| c != class) {
            return None;
        }
        // Every byte of the class enables every position, so whether a
        // string of the class matches depends on its length only.
        let mut lengths = u128::from(self.nullable);
        let mut active = self.first;
        for len in 1..=MAX_POSITIONS {
            if active == 0 {
                return Some((class, lengths));
            }
            if len == MAX_POSITIONS {
                return None; // matches of 128 or more: keep the automaton
            }
            if active & self.last != 0 {
                lengths |= 1u128 << len;
            }
            let mut next = 0;
            let mut rest = active;
            while rest != 0 {
                next |= self.follow[rest.trailing_zeros() as usize];
                rest &= rest - 1;
            }
            active = next;
        }
        None
    }
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq)]
enum Ast {
    /// One byte of a set of ASCII bytes (bit `b` for byte `b`).
    Class(u128),
    Concat(Vec<Ast>),
    Alt(Vec<Ast>),
    Repeat {
        ast: Box<Ast>,
        min: u32,
        max: Option<u32>,
    },
}

struct Parser<'a> {
    chars: &'a [u8],
    at: usize,
}

/// Characters that are syntax outside a class.
const SYNTAX: &[u8] = b".^$|?*+()[]{}\\";

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.at += usize::from(hit);
        hit
    }

    /// `a|b|…`, up to a `)` or the closing `$`.
    fn alternation(&mut self) -> Option<Ast> {
        let mut alts = vec![self.concat()?];
        while self.eat(b'|') {
            alts.push(self.concat()?);
        }
        Some(if alts.len() == 1 {
            alts.pop().expect("one")
        } else {
            Ast::Alt(alts)
        })
    }

    fn concat(&mut self) -> Option<Ast> {
        let mut items = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'|' | b')') => break,
                // Only the very last `$` is allowed: the anchor.
                Some(b'$') if self.at + 1 == self.chars.len() => break,
                _ => {}
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Some(Ast::Concat(items))
    }

    fn atom(&mut self) -> Option<Ast> {
        let c = self.peek()?;
        self.at += 1;
        match c {
            b'(' => {
                if self.eat(b'?') && !self.eat(b':') {
                    return None; // look-around, named groups
                }
                let inner = self.alternation()?;
                self.eat(b')').then_some(inner)
            }
            b'[' => self.class(),
            b'\\' => {
                let e = self.peek()?;
                self.at += 1;
                // Escaped punctuation is literal; `\d`, `\w`, `\b`, … are not in the subset.
                (e.is_ascii_punctuation()).then(|| Ast::Class(bit(e)))
            }
            c if SYNTAX.contains(&c) => None,
            c if c.is_ascii_graphic() || c == b' ' => Some(Ast::Class(bit(c))),
            _ => None,
        }
    }

    /// A bracket class, after its `[`.
    fn class(&mut self) -> Option<Ast> {
        if self.peek() == Some(b'^') {
            return None; // negated: may match non-ASCII
        }
        let mut set = 0u128;
        let mut first = true;
        loop {
            let c = self.literal_in_class(first)?;
            first = false;
            let Some(c) = c else {
                break; // `]`
            };
            if self.peek() == Some(b'-') && self.chars.get(self.at + 1) != Some(&b']') {
                self.at += 1;
                let hi = self.literal_in_class(false)??;
                if hi < c {
                    return None;
                }
                for b in c..=hi {
                    set |= bit(b);
                }
            } else {
                set |= bit(c);
            }
        }
        (set != 0).then_some(Ast::Class(set))
    }

    /// A member of a class; `Some(None)` at its closing `]`.
    fn literal_in_class(&mut self, first: bool) -> Option<Option<u8>> {
        let c = self.peek()?;
        self.at += 1;
        match c {
            b']' if !first => Some(None),
            b']' | b'[' => None,
            b'\\' => {
                let e = self.peek()?;
                self.at += 1;
                e.is_ascii_punctuation().then_some(Some(e))
            }
            c if c.is_ascii_graphic() || c == b' ' => Some(Some(c)),
            _ => None,
        }
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        std::str::from_utf8(&self.chars[start..self.at])
            .ok()?
            .parse()
            .ok()
    }

    fn quantified(&mut self, atom: Ast) -> Option<Ast> {
        let (min, max) = match self.peek() {
            Some(b'?') => (0, Some(1)),
            Some(b'*') => (0, None),
            Some(b'+') => (1, None),
            Some(b'{') => {
                self.at += 1;
                let min = self.number()?;
                let max = if self.eat(b',') {
                    if self.peek() == Some(b'}') {
                        None
                    } else {
                        Some(self.number()?)
                    }
                } else {
                    Some(min)
                };
                if self.peek() != Some(b'}') || max.is_some_and(|m| m < min) {
                    return None;
                }
                (min, max)
            }
            _ => return Some(atom),
        };
        self.at += 1;
        if matches!(self.peek(), Some(b'?' | b'*' | b'+' | b'{')) {
            return None; // lazy or possessive quantifiers
        }
        Some(Ast::Repeat {
            ast: Box::new(atom),
            min,
            max,
        })
    }
}

fn bit(b: u8) -> u128 {
    1u128 << b
}

/// Glushkov's construction: positions, and per node its nullability and
/// first and last positions; `follow` filled as nodes are built.
#[derive(Default)]
struct Build {
    classes: Vec<u128>,
    follow: Vec<u128>,
}

#[derive(Clone, Copy)]
struct Node {
    nullable: bool,
    first: u128,
    last: u128,
}

const EMPTY: Node = Node {
    nullable: true,
    first: 0,
    last: 0,
};

impl Build {
    fn link(&mut self, from: u128, to: u128) {
        let mut rest = from;
        while rest != 0 {
            self.follow[rest.trailing_zeros() as usize] |= to;
            rest &= rest - 1;
        }
    }

    fn concat(&mut self, a: Node, b: Node) -> Node {
        self.link(a.last, b.first);
        Node {
            nullable: a.nullable && b.nullable,
            first: a.first | if a.nullable { b.first } else { 0 },
            last: b.last | if b.nullable { a.last } else { 0 },
        }
    }

    /// `None` when the pattern needs more than [`MAX_POSITIONS`].
    fn node(&mut self, ast: &Ast) -> Option<Node> {
        match ast {
            Ast::Class(set) => {
                if self.classes.len() == MAX_POSITIONS {
                    return None;
                }
                let p = 1u128 << self.classes.len();
                self.classes.push(*set);
                self.follow.push(0);
                Some(Node {
                    nullable: false,
                    first: p,
                    last: p,
                })
            }
            Ast::Concat(items) => {
                let mut acc = EMPTY;
                for item in items {
                    let n = self.node(item)?;
                    acc = self.concat(acc, n);
                }
                Some(acc)
            }
            Ast::Alt(alts) => {
                let mut acc = Node {
                    nullable: false,
                    first: 0,
                    last: 0,
                };
                for alt in alts {
                    let n = self.node(alt)?;
                    acc = Node {
                        nullable: acc.nullable || n.nullable,
                        first: acc.first | n.first,
                        last: acc.last | n.last,
                    };
                }
                Some(acc)
            }
            Ast::Repeat { ast, min, max } => {
                if *min as usize > MAX_POSITIONS || max.is_some_and(|m| m as usize > MAX_POSITIONS) {
                    return None;
                }
                // x{m,n} = x…x (m times) then x? (n − m times); x{m,} = x…x x*.
                let mut acc = EMPTY;
                for _ in 0..*min {
                    let n = self.node(ast)?;
                    acc = self.concat(acc, n);
                }
                match max {
                    Some(max) => {
                        for _ in *min..*max {
                            let n = self.node(ast)?;
                            acc = self.concat(acc, Node { nullable: true, ..n });
                        }
                    }
                    None => {
                        let n = self.node(ast)?;
                        self.link(n.last, n.first);
                        acc = self.concat(acc, Node { nullable: true, ..n });
                    }
                }
                Some(acc)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, s: &str) -> bool {
        SimplePattern::parse(pattern)
            .unwrap_or_else(|| panic!("{pattern} is in the subset"))
            .is_match(s)
    }

    #[test]
    fn fixed_and_ranged_lengths() {
        assert!(m("^[0-9]{18}$", "123456789012345678"));
        assert!(!m("^[0-9]{18}$", "12345678901234567"));
        assert!(!m("^[0-9]{18}$", "1234567890123456789"));
        assert!(!m("^[0-9]{18}$", "12345678901234567a"));
        assert!(!m("^[0-9]{18}$", "12345678901234567\n"));
        for (s, ok) in [
            ("12345678", true),
            ("123456789", false),
            ("123456789012", true),
            ("12345678901234", true),
            ("123456789012345", false),
            ("", false),
        ] {
            assert_eq!(m("^([0-9]{8}|[0-9]{12,14})$", s), ok, "{s}");
        }
        assert!(m("^[A-Z]{2,4}$", "UPSN"));
        assert!(!m("^[A-Z]{2,4}$", "upsn"));
        assert!(!m("^[A-Z]{2,4}$", "U"));
    }

    #[test]
    fn groups_optional_and_unbounded() {
        let price = r"^[0-9]{1,12}(\.[0-9]{1,4})?$";
        for (s, ok) in [
            ("41", true),
            ("41.25", true),
            ("41.", false),
            (".5", false),
            ("1.23456", false),
            ("1234567890123", false),
        ] {
            assert_eq!(m(price, s), ok, "{s}");
        }
        let event = r"^[a-z0-9]+(\.[a-z0-9-]+)+\.v[0-9]+$";
        assert!(m(event, "dev.crossdock.shipment.confirmed.v1"));
        assert!(m(event, "a.b.v12"));
        assert!(!m(event, "dev.v1"));
        assert!(!m(event, "dev.crossdock.shipment.confirmed"));
        assert!(!m(event, "Dev.crossdock.x.v1"));
        let tp = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$";
        assert!(m(tp, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
        assert!(!m(tp, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1"));
    }

    #[test]
    fn the_range_test_agrees_with_a_byte_loop() {
        let mut strings: Vec<Vec<u8>> = Vec::new();
        for len in 0..20 {
            for bad_at in 0..=len {
                for bad in [0u8, b'*', b'/', b':', b'@', b'Z', b'[', 0x7F, 0x80, 0xC3, 0xFF] {
                    let mut s: Vec<u8> = (0..len).map(|i| b'0' + (i % 10) as u8).collect();
                    if bad_at < len {
                        s[bad_at] = bad;
                    }
                    strings.push(s);
                }
            }
        }
        for (lo, hi) in [(b'0', b'9'), (b'A', b'Z'), (0, 0x7F), (b'a', b'a')] {
            for s in &strings {
                let want = s.iter().all(|b| (lo..=hi).contains(b));
                assert_eq!(all_in_range(s, lo, hi), want, "{s:?} in {lo}..={hi}");
            }
        }
    }

    #[test]
    fn outside_the_subset_is_refused() {
        for p in [
            "[0-9]{3}$",
            "^[0-9]{3}",
            "^.{3}$",
            r"^\d{3}$",
            "^[^a]$",
            "^a+?$",
            "^(?=a)a$",
            "^a|b$",
            "^é$",
            "^[0-9]{200}$",
            "^a$b$",
        ] {
            assert!(SimplePattern::parse(p).is_none(), "{p}");
        }
    }

    #[test]
    fn non_ascii_input_never_matches_an_ascii_pattern() {
        assert!(!m("^[0-9]{2}$", "٣٣"));
        assert!(!m("^[a-z]+$", "é"));
        assert!(!m(r"^[a-z0-9]+(\.[a-z0-9-]+)+\.v[0-9]+$", "a.é.v1"));
    }
}
