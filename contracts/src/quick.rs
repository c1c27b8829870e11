//! A fast validity check for the JSON Schema keyword subset schemars emits
//! for the catalog: `type`, `properties`, `required`, `additionalProperties`,
//! `items`, `minItems`/`maxItems`, `minLength`/`maxLength`, `pattern`,
//! `enum`/`const` of strings, `minimum`/`maximum`, `format`, `$ref` to
//! `#/$defs/…`, `anyOf`/`oneOf`/`allOf`, and annotations.
//!
//! It answers only "valid or not"; the report of an invalid document stays
//! jsonschema's. [`Quick::compile`] refuses (`None`) a schema with anything
//! outside the subset, and then jsonschema alone judges. The `date` and
//! `date-time` formats are checked by copies of jsonschema 0.60's own
//! functions (below); where exactness is delicate it asks jsonschema: any
//! other known `format` on a string, and any keyword on a number that is not
//! a 64-bit integer are judged by a small jsonschema validator of that one
//! leaf schema. Verdicts equal jsonschema's; the
//! `quick_check_agrees_with_jsonschema` property test holds it to that on
//! mutated documents of every type.

use serde_json::{Map, Value};

use crate::pattern::SimplePattern;

/// Bits of [`Node::types`].
const NULL: u8 = 1;
const BOOLEAN: u8 = 2;
const INTEGER: u8 = 4;
const NUMBER: u8 = 8;
const STRING: u8 = 16;
const ARRAY: u8 = 32;
const OBJECT: u8 = 64;
const ALL: u8 = 127;

/// Keywords that only annotate.
const ANNOTATIONS: [&str; 8] = [
    "description",
    "title",
    "$id",
    "$schema",
    "$defs",
    "default",
    "examples",
    "$comment",
];

#[derive(Default)]
enum Additional {
    #[default]
    Any,
    Deny,
    Schema(usize),
}

#[derive(Default)]
struct Node {
    /// Allowed instance types; 0 when the schema has no `type`.
    types: u8,
    /// `false` schema: nothing is valid.
    never: bool,
    min_len: Option<u64>,
    max_len: Option<u64>,
    pattern: Option<SimplePattern>,
    /// This node's `format`, checked on strings.
    format: Option<Format>,
    /// `enum` / `const` (strings only): the instance is one of these.
    one_of_strings: Option<Vec<String>>,
    minimum: Option<i64>,
    maximum: Option<i64>,
    /// jsonschema's check of this (leaf) node, for numbers that are not
    /// 64-bit integers.
    number_fallback: Option<jsonschema::Validator>,
    /// Sorted by key.
    properties: Vec<(String, usize)>,
    /// Indices into `properties` of the required keys.
    required: Vec<usize>,
    additional: Additional,
    items: Option<usize>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    refs: Vec<usize>,
    all_of: Vec<usize>,
    any_of: Vec<usize>,
    one_of: Vec<usize>,
    // Derived after compiling (see `Quick::derive`), for the walk.
    /// The instance types allowed (`types`, or all when it is 0).
    accept: u8,
    /// No `enum`/`const`, `$ref`, `allOf`, `anyOf`, `oneOf`.
    plain: bool,
    /// No `minLength`, `maxLength`, `pattern`, `format`.
    plain_string: bool,
    /// The bits of `required` over `properties`.
    required_mask: u64,
}

/// A `format` asserted on strings.
enum Format {
    Date,
    DateTime,
    /// Any other format jsonschema knows, judged by jsonschema.
    Other(Box<jsonschema::Validator>),
}

impl Format {
    fn is_valid(&self, s: &str, v: &Value) -> bool {
        match self {
            Format::Date => is_valid_date(s),
            Format::DateTime => is_valid_datetime(s),
            Format::Other(f) => f.is_valid(v),
        }
    }
}

/// Places of a document the caller wants to be told about during a
/// [`Quick::check_tagged`] walk: a tree of member keys and "every item"
/// steps, with tags (the caller's numbers) at each place.
#[derive(Debug, Default)]
pub(crate) struct Places {
    pub(crate) tags: Vec<u32>,
    pub(crate) keys: Vec<(String, Places)>,
    pub(crate) each: Option<Box<Places>>,
}

impl Places {
    /// The place at the end of `path` (created when absent).
    pub(crate) fn at<'p>(&mut self, path: impl IntoIterator<Item = Option<&'p str>>) -> &mut Places {
        let mut place = self;
        for step in path {
            place = match step {
                Some(key) => {
                    let i = match place.keys.iter().position(|(k, _)| k == key) {
                        Some(i) => i,
                        None => {
                            place.keys.push((key.to_owned(), Places::default()));
                            place.keys.len() - 1
                        }
                    };
                    &mut place.keys[i].1
                }
                None => place.each.get_or_insert_with(Box::default),
            };
        }
        place
    }

    fn is_leaf(&self) -> bool {
        self.keys.is_empty() && self.each.is_none()
    }
}

/// [`Places`] laid over a compiled schema: one pair per (schema node, place)
/// a walk can reach, with the place's tags and the pairs of its members (by
/// index of the node's `properties`) and items.
#[derive(Default)]
pub(crate) struct Overlay {
    pairs: Vec<Pair>,
}

struct Pair {
    tags: Vec<u32>,
    props: Vec<u32>,
    items: u32,
}

/// No pair: a value at no place of the overlay.
const NONE: u32 = u32::MAX;

impl Overlay {
    const EMPTY: Overlay = Overlay { pairs: Vec::new() };
}

/// Told the values at tagged places during [`Quick::check_tagged`].
pub(crate) trait Visit<'a> {
    /// `v` is at a place with `tags`.
    fn visit(&mut self, tags: &[u32], v: &'a Value);
}

impl Visit<'_> for () {
    fn visit(&mut self, _tags: &[u32], _v: &Value) {}
}

/// Equal keys, compared inline (keys are short; a call of `memcmp` per
/// member costs more than the comparison).
#[inline]
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Two overlapping loads from each end cover every byte.
    fn ends<const N: usize>(s: &[u8]) -> Option<(&[u8; N], &[u8; N])> {
        Some((s.first_chunk()?, s.last_chunk()?))
    }
    match n {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => ends::<4>(a) == ends::<4>(b),
        8..=16 => ends::<8>(a) == ends::<8>(b),
        _ => a == b,
    }
}

/// A compiled schema of the subset.
pub(crate) struct Quick {
    nodes: Vec<Node>,
}

struct Compiler<'a> {
    root: &'a Value,
    nodes: Vec<Node>,
    /// `$defs` name → node, compiled once.
    defs: Vec<(String, usize)>,
}

impl Quick {
    /// Compiles `schema`; `None` when it uses anything outside the subset.
    pub(crate) fn compile(schema: &Value) -> Option<Self> {
        let mut c = Compiler {
            root: schema,
            nodes: Vec::new(),
            defs: Vec::new(),
        };
        let root = c.node(schema)?;
        debug_assert_eq!(root, 0);
        let mut quick = Self { nodes: c.nodes };
        quick.simplify();
        quick.derive();
        Some(quick)
    }

    /// Two rewrites that keep every verdict and save calls of `check`:
    /// a `oneOf` whose branches are each only a `const` string, all
    /// different, is the set of those strings (exactly one branch matches a
    /// string of the set, none any other instance); and a reference to a
    /// node that is only a `$ref` is a reference to its target.
    fn simplify(&mut self) {
        for at in 0..self.nodes.len() {
            let n = &self.nodes[at];
            if n.one_of.is_empty() || n.one_of_strings.is_some() {
                continue;
            }
            let mut set: Vec<String> = Vec::new();
            let all_consts = n.one_of.iter().all(|&b| match self.nodes[b].only_strings() {
                Some(values) if values.len() == 1 && !set.contains(&values[0]) => {
                    set.push(values[0].clone());
                    true
                }
                _ => false,
            });
            if all_consts {
                let n = &mut self.nodes[at];
                n.one_of.clear();
                n.one_of_strings = Some(set);
            }
        }
        let target: Vec<usize> = (0..self.nodes.len()).map(|at| self.through_refs(at)).collect();
        for n in &mut self.nodes {
            for (_, p) in &mut n.properties {
                *p = target[*p];
            }
            if let Additional::Schema(a) = &mut n.additional {
                *a = target[*a];
            }
            if let Some(i) = &mut n.items {
                *i = target[*i];
            }
            for list in [&mut n.refs, &mut n.all_of, &mut n.any_of, &mut n.one_of] {
                for b in list.iter_mut() {
                    *b = target[*b];
                }
            }
        }
    }

    /// The fields derived for the walk.
    fn derive(&mut self) {
        for n in &mut self.nodes {
            n.accept = if n.types == 0 { ALL } else { n.types };
            n.plain = n.one_of_strings.is_none()
                && n.refs.is_empty()
                && n.all_of.is_empty()
                && n.any_of.is_empty()
                && n.one_of.is_empty();
            n.plain_string =
                n.min_len.is_none() && n.max_len.is_none() && n.pattern.is_none() && n.format.is_none();
            n.required_mask = n.required.iter().fold(0, |mask, &i| mask | 1 << i);
        }
    }

    /// The node `at` stands for: itself, or the end of its chain of
    /// reference-only nodes (a cycle of them is left alone).
    fn through_refs(&self, mut at: usize) -> usize {
        let start = at;
        for _ in 0..self.nodes.len() {
            match self.nodes[at].only_ref() {
                Some(next) => at = next,
                None => return at,
            }
        }
        start
    }

    /// Lays `places` over this schema, so that [`Quick::check_tagged`] finds
    /// each place's tags without comparing keys. `None` when a tagged place
    /// could be reached other than along `properties` and `items` from the
    /// root (below `$ref`, `allOf`, `anyOf` or `oneOf` of a node with
    /// tagged places beneath it, or in a member `properties` does not name
    /// and the schema allows): the walk would then miss values at it.
    pub(crate) fn overlay(&self, places: &Places) -> Option<Overlay> {
        let mut build = OverlayBuild {
            quick: self,
            pairs: Vec::new(),
            memo: Vec::new(),
        };
        let root = build.pair(0, places)?;
        debug_assert_eq!(root, 0);
        Some(Overlay { pairs: build.pairs })
    }

    /// Whether `doc` is valid against the schema.
    pub(crate) fn is_valid(&self, doc: &Value) -> bool {
        self.check(0, doc, NONE, &Overlay::EMPTY, &mut ())
    }

    /// Whether `doc` is valid against the schema (the verdict of
    /// [`Quick::is_valid`]), telling `visit` each value at a tagged place of
    /// `overlay` (built by [`Quick::overlay`] for this schema) on the way:
    /// its tags, before the value's members or items. When
    /// the verdict is "valid", every value at a tagged place has been told
    /// (exactly once); after "invalid" the walk may have stopped early.
    pub(crate) fn check_tagged<'a>(
        &self,
        doc: &'a Value,
        overlay: &Overlay,
        visit: &mut dyn Visit<'a>,
    ) -> bool {
        self.check(0, doc, 0, overlay, visit)
    }

    /// `pair`: the pair of `overlay` this value sits at, or [`NONE`].
    fn check<'a>(
        &self,
        at: usize,
        v: &'a Value,
        pair: u32,
        overlay: &Overlay,
        visit: &mut dyn Visit<'a>,
    ) -> bool {
        let n = &self.nodes[at];
        let pair = overlay.pairs.get(pair as usize);
        if let Some(p) = pair {
            if !p.tags.is_empty() {
                visit.visit(&p.tags, v);
            }
        }
        if n.never {
            return false;
        }
        let ok = match v {
            Value::Null => n.accept & NULL != 0,
            Value::Bool(_) => n.accept & BOOLEAN != 0,
            Value::Number(_) => Self::number_ok(n, v),
            Value::String(s) => n.accept & STRING != 0 && (n.plain_string || Self::string_ok(n, s, v)),
            Value::Array(items) => n.accept & ARRAY != 0 && self.array_ok(n, items, pair, overlay, visit),
            Value::Object(map) => n.accept & OBJECT != 0 && self.object_ok(n, map, pair, overlay, visit),
        };
        ok && (n.plain || self.keywords_ok(n, v))
    }

    // The parts of `check`, out of line so that its frame stays small for
    // the leaves (most values).

    #[inline(never)]
    fn number_ok(n: &Node, v: &Value) -> bool {
        let Value::Number(num) = v else {
            return false;
        };
        let int = num.as_i64().map(i128::from).or(num.as_u64().map(i128::from));
        match int {
            Some(i) => {
                n.accept & (INTEGER | NUMBER) != 0
                    && n.minimum.is_none_or(|m| i >= i128::from(m))
                    && n.maximum.is_none_or(|m| i <= i128::from(m))
            }
            None => match &n.number_fallback {
                Some(fallback) => fallback.is_valid(v),
                None => n.types == 0,
            },
        }
    }

    #[inline(never)]
    fn array_ok<'a>(
        &self,
        n: &Node,
        items: &'a [Value],
        pair: Option<&Pair>,
        overlay: &Overlay,
        visit: &mut dyn Visit<'a>,
    ) -> bool {
        n.min_items.is_none_or(|m| items.len() as u64 >= m)
            && n.max_items.is_none_or(|m| items.len() as u64 <= m)
            && n.items.is_none_or(|i| {
                let below = pair.map_or(NONE, |p| p.items);
                items
                    .iter()
                    .all(|item| self.check(i, item, below, overlay, visit))
            })
    }

    /// `enum`/`const`, `$ref`, `allOf`, `anyOf`, `oneOf`.
    #[inline(never)]
    fn keywords_ok(&self, n: &Node, v: &Value) -> bool {
        if let Some(allowed) = &n.one_of_strings {
            if !v.as_str().is_some_and(|s| allowed.iter().any(|a| same(a, s))) {
                return false;
            }
        }
        // The same value again: its place's tags were told above, and an
        // overlay has no tagged place below a node with these keywords.
        let again = |b: usize| self.check(b, v, NONE, &Overlay::EMPTY, &mut ());
        n.refs.iter().all(|&r| again(r))
            && n.all_of.iter().all(|&b| again(b))
            && (n.any_of.is_empty() || n.any_of.iter().any(|&b| again(b)))
            && (n.one_of.is_empty() || n.one_of.iter().filter(|&&b| again(b)).count() == 1)
    }

    #[inline(never)]
    fn string_ok(n: &Node, s: &str, v: &Value) -> bool {
        if n.min_len.is_some() || n.max_len.is_some() {
            let len = if s.is_ascii() { s.len() } else { s.chars().count() } as u64;
            if n.min_len.is_some_and(|m| len < m) || n.max_len.is_some_and(|m| len > m) {
                return false;
            }
        }
        n.pattern.as_ref().is_none_or(|p| p.is_match(s)) && n.format.as_ref().is_none_or(|f| f.is_valid(s, v))
    }

    #[inline(never)]
    fn object_ok<'a>(
        &self,
        n: &Node,
        map: &'a Map<String, Value>,
        pair: Option<&Pair>,
        overlay: &Overlay,
        visit: &mut dyn Visit<'a>,
    ) -> bool {
        // Required keys seen, as a bit set over `properties` (at most 64
        // properties carry `required`; compile refuses more).
        let mut seen: u64 = 0;
        // Members come in key order (serde_json's map is sorted), like
        // `properties`: try the property after the last one found before
        // searching, so a typical member costs one comparison.
        let mut next = 0;
        for (key, value) in map {
            let found = match n.properties.get(next) {
                Some((k, _)) if same(k, key) => Ok(next),
                _ => n.properties.binary_search_by(|(k, _)| k.as_str().cmp(key)),
            };
            match found {
                Ok(i) => {
                    next = i + 1;
                    let below = pair.map_or(NONE, |p| p.props.get(i).copied().unwrap_or(NONE));
                    if !self.check(n.properties[i].1, value, below, overlay, visit) {
                        return false;
                    }
                    if i < 64 {
                        seen |= 1 << i;
                    }
                }
                Err(_) => match n.additional {
                    Additional::Any => {}
                    Additional::Deny => return false,
                    Additional::Schema(s) => {
                        if !self.check(s, value, NONE, &Overlay::EMPTY, &mut ()) {
                            return false;
                        }
                    }
                },
            }
        }
        seen & n.required_mask == n.required_mask
    }
}

struct OverlayBuild<'q, 'p> {
    quick: &'q Quick,
    pairs: Vec<Pair>,
    /// (node, place) → pair, so a recursive schema ends.
    memo: Vec<(usize, &'p Places, u32)>,
}

impl<'p> OverlayBuild<'_, 'p> {
    fn pair(&mut self, at: usize, place: &'p Places) -> Option<u32> {
        if let Some(&(_, _, id)) = self
            .memo
            .iter()
            .find(|(n, p, _)| *n == at && std::ptr::eq(*p, place))
        {
            return Some(id);
        }
        let n = &self.quick.nodes[at];
        let id = u32::try_from(self.pairs.len()).ok().filter(|&id| id != NONE)?;
        self.pairs.push(Pair {
            tags: place.tags.clone(),
            props: vec![NONE; n.properties.len()],
            items: NONE,
        });
        self.memo.push((at, place, id));
        if place.is_leaf() || n.never {
            return Some(id);
        }
        // The walk passes no place into these keywords.
        if !(n.refs.is_empty() && n.all_of.is_empty() && n.any_of.is_empty() && n.one_of.is_empty()) {
            return None;
        }
        let objects = n.types == 0 || n.types & OBJECT != 0;
        for (key, below) in &place.keys {
            match n.properties.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
                Ok(i) => {
                    let child = self.pair(n.properties[i].1, below)?;
                    self.pairs[id as usize].props[i] = child;
                }
                // Such a member makes the document invalid: no value to miss.
                Err(_) if !objects || matches!(n.additional, Additional::Deny) => {}
                Err(_) => return None,
            }
        }
        if let Some(below) = &place.each {
            match n.items {
                Some(items) => {
                    let child = self.pair(items, below)?;
                    self.pairs[id as usize].items = child;
                }
                None if n.types != 0 && n.types & ARRAY == 0 => {}
                None => return None,
            }
        }
        Some(id)
    }
}

impl Node {
    /// Nothing but keywords that are checked only on a match of something else.
    fn is_plain(&self) -> bool {
        !self.never
            && self.min_len.is_none()
            && self.max_len.is_none()
            && self.pattern.is_none()
            && self.format.is_none()
            && self.minimum.is_none()
            && self.maximum.is_none()
            && self.number_fallback.is_none()
            && self.properties.is_empty()
            && self.required.is_empty()
            && matches!(self.additional, Additional::Any)
            && self.items.is_none()
            && self.min_items.is_none()
            && self.max_items.is_none()
            && self.all_of.is_empty()
            && self.any_of.is_empty()
            && self.one_of.is_empty()
    }

    /// The target when this node is only a `$ref` (annotations aside).
    fn only_ref(&self) -> Option<usize> {
        match self.refs.as_slice() {
            [target] if self.is_plain() && self.types == 0 && self.one_of_strings.is_none() => Some(*target),
            _ => None,
        }
    }

    /// The strings when this node is only an `enum`/`const` of strings,
    /// with or without `"type": "string"`.
    fn only_strings(&self) -> Option<&Vec<String>> {
        let typed = self.types == 0 || self.types == STRING;
        (self.is_plain() && typed && self.refs.is_empty())
            .then_some(self.one_of_strings.as_ref())
            .flatten()
    }
}

impl Compiler<'_> {
    fn push(&mut self) -> usize {
        self.nodes.push(Node::default());
        self.nodes.len() - 1
    }

    fn def(&mut self, name: &str) -> Option<usize> {
        if let Some(&(_, at)) = self.defs.iter().find(|(n, _)| n == name) {
            return Some(at);
        }
        let schema = self.root.get("$defs")?.get(name)?;
        // Reserve the node first, so a recursive definition refers to it.
        let at = self.push();
        self.defs.push((name.to_owned(), at));
        self.fill(at, schema)?;
        Some(at)
    }

    fn node(&mut self, schema: &Value) -> Option<usize> {
        let at = self.push();
        self.fill(at, schema)?;
        Some(at)
    }

    fn fill(&mut self, at: usize, schema: &Value) -> Option<()> {
        let map = match schema {
            Value::Bool(true) => return Some(()),
            Value::Bool(false) => {
                self.nodes[at].never = true;
                return Some(());
            }
            Value::Object(map) => map,
            _ => return None,
        };
        let mut node = Node::default();
        let uint = |v: &Value| v.as_u64();
        let mut numeric = false;
        let mut leaf = true;
        for (key, value) in map {
            match key.as_str() {
                k if ANNOTATIONS.contains(&k) => {}
                "type" => {
                    let names: Vec<&str> = match value {
                        Value::String(s) => vec![s.as_str()],
                        Value::Array(a) => a.iter().map(Value::as_str).collect::<Option<_>>()?,
                        _ => return None,
                    };
                    for name in names {
                        node.types |= match name {
                            "null" => NULL,
                            "boolean" => BOOLEAN,
                            "integer" => {
                                numeric = true;
                                INTEGER
                            }
                            "number" => {
                                numeric = true;
                                NUMBER
                            }
                            "string" => STRING,
                            "array" => ARRAY,
                            "object" => OBJECT,
                            _ => return None,
                        };
                    }
                }
                "minLength" => node.min_len = Some(uint(value)?),
                "maxLength" => node.max_len = Some(uint(value)?),
                "minItems" => node.min_items = Some(uint(value)?),
                "maxItems" => node.max_items = Some(uint(value)?),
                "minimum" => {
                    node.minimum = Some(value.as_i64()?);
                    numeric = true;
                }
                "maximum" => {
                    node.maximum = Some(value.as_i64()?);
                    numeric = true;
                }
                "pattern" => node.pattern = Some(SimplePattern::parse(value.as_str()?)?),
                "format" => {
                    node.format = match value.as_str()? {
                        "date" => Some(Format::Date),
                        "date-time" => Some(Format::DateTime),
                        // A format jsonschema does not know (`uint32`, …) is
                        // ignored there, so here.
                        other => jsonschema::options()
                            .should_validate_formats(true)
                            .should_ignore_unknown_formats(false)
                            .build(&serde_json::json!({ "format": other }))
                            .ok()
                            .map(|v| Format::Other(Box::new(v))),
                    };
                }
                "enum" => {
                    let values = value.as_array()?;
                    node.one_of_strings = Some(
                        values
                            .iter()
                            .map(|v| v.as_str().map(str::to_owned))
                            .collect::<Option<_>>()?,
                    );
                }
                "const" => node.one_of_strings = Some(vec![value.as_str()?.to_owned()]),
                "properties" => {
                    leaf = false;
                    let mut props = Vec::new();
                    for (k, sub) in value.as_object()? {
                        props.push((k.clone(), self.node(sub)?));
                    }
                    props.sort_by(|a, b| a.0.cmp(&b.0));
                    node.properties = props;
                }
                "required" => {} // after `properties`, below
                "additionalProperties" => {
                    leaf = false;
                    node.additional = match value {
                        Value::Bool(true) => Additional::Any,
                        Value::Bool(false) => Additional::Deny,
                        sub => Additional::Schema(self.node(sub)?),
                    };
                }
                "items" => {
                    leaf = false;
                    node.items = Some(self.node(value)?);
                }
                "$ref" => {
                    leaf = false;
                    let name = value.as_str()?.strip_prefix("#/$defs/")?;
                    if name.contains(['/', '~']) {
                        return None;
                    }
                    node.refs.push(self.def(name)?);
                }
                "allOf" | "anyOf" | "oneOf" => {
                    leaf = false;
                    let branches = value
                        .as_array()?
                        .iter()
                        .map(|b| self.node(b))
                        .collect::<Option<Vec<_>>>()?;
                    if branches.is_empty() {
                        return None;
                    }
                    match key.as_str() {
                        "allOf" => node.all_of = branches,
                        "anyOf" => node.any_of = branches,
                        _ => node.one_of = branches,
                    }
                }
                _ => return None,
            }
        }
        if let Some(required) = map.get("required") {
            for name in required.as_array()? {
                let name = name.as_str()?;
                let i = node.properties.iter().position(|(k, _)| k == name)?;
                if i >= 64 {
                    return None;
                }
                node.required.push(i);
            }
        }
        if numeric {
            // Numbers beyond i64/u64 (floats) are jsonschema's to judge, on
            // a leaf only.
            if !leaf {
                return None;
            }
            node.number_fallback = Some(jsonschema::options().build(schema).ok()?);
        }
        self.nodes[at] = node;
        Some(())
    }
}

// ---------------------------------------------------------------------------
// `date` and `date-time` exactly as jsonschema 0.60.2 judges them: copies of
// `jsonschema::keywords::format::{is_valid_date, is_valid_time,
// is_valid_datetime}` (MIT), so no per-string call into a jsonschema
// validator. The agreement property test covers them.

fn is_valid_date(date: &str) -> bool {
    if date.len() != 10 {
        return false;
    }

    let bytes = date.as_bytes();

    // Check format: YYYY-MM-DD
    if bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }

    // Parse year (YYYY)
    let Some(year) = parse_four_digits(&bytes[0..4]) else {
        return false;
    };

    // Parse month (MM)
    let Some(month) = parse_two_digits(&bytes[5..7]) else {
        return false;
    };
    if !(1..=12).contains(&month) {
        return false;
    }

    // Parse day (DD)
    let Some(day) = parse_two_digits(&bytes[8..10]) else {
        return false;
    };
    if day == 0 {
        return false;
    }

    // Check day validity
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => day <= 31,
        4 | 6 | 9 | 11 => day <= 30,
        2 => {
            if is_leap_year(year) {
                day <= 29
            } else {
                day <= 28
            }
        }
        _ => unreachable!("Month value is checked above"),
    }
}

#[inline]
fn is_leap_year(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || (year % 400 == 0)
}

#[inline]
fn parse_four_digits(bytes: &[u8]) -> Option<u16> {
    // Little-endian layout: bytes[0] lands in the lowest byte of the u32.
    // Check if all bytes are ASCII digits
    let value = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let sub = value.wrapping_sub(0x3030_3030);
    if sub.wrapping_add(0x0606_0606) & 0xF0F0_F0F0 != 0 {
        return None;
    }
    let val = (sub & 0x0F0F_0F0F).wrapping_mul(2561) >> 8;
    Some(((val & 0x00FF_00FF).wrapping_mul(6_553_601) >> 16) as u16)
}

#[inline]
fn parse_two_digits(bytes: &[u8]) -> Option<u8> {
    // Little-endian layout: bytes[0] lands in the low byte of the u16.
    // Check if all bytes are ASCII digits
    let value = u16::from_le_bytes([bytes[0], bytes[1]]);
    let sub = value.wrapping_sub(0x3030);
    if sub.wrapping_add(0x0606) & 0xF0F0 != 0 {
        return None;
    }
    Some(((sub & 0x0F0F).wrapping_mul(2561) >> 8) as u8)
}

macro_rules! handle_offset {
    ($sign:tt, $i:ident, $bytes:expr, $hour:expr, $minute:expr, $second:expr) => {{
        if $bytes.len() - $i != 6 {
            return false;
        }
        $i += 1;
        if $bytes[$i + 2] != b':' {
            return false;
        }
        let Some(offset_hh) = parse_two_digits(&$bytes[$i..$i + 2]) else {
            return false;
        };
        let Some(offset_mm) = parse_two_digits(&$bytes[$i + 3..$i + 5]) else {
            return false;
        };
        if offset_hh > 23 || offset_mm > 59 {
            return false;
        }

        if $second == 60 {
            let mut utc_hh = i16::from($hour);
            let mut utc_mm = i16::from($minute);
            let offset_hh = i16::from(offset_hh);
            let offset_mm = i16::from(offset_mm);

            // Apply offset based on the sign (+ or -)
            utc_hh $sign offset_hh;
            utc_mm $sign offset_mm;

            // Adjust for minute overflow/underflow
            utc_hh += utc_mm / 60;
            utc_mm %= 60;
            if utc_mm < 0 {
                utc_mm += 60;
                utc_hh -= 1;
            }

            // Adjust for hour overflow/underflow
            utc_hh = (utc_hh + 24) % 24;
            utc_hh == 23 && utc_mm == 59
        } else {
            true
        }
    }};
}

fn is_valid_time(time: &str) -> bool {
    let bytes = time.as_bytes();
    let len = bytes.len();

    if len < 9 {
        // Minimum valid time is "HH:MM:SSZ"
        return false;
    }

    // Check HH:MM:SS format
    if bytes[2] != b':' || bytes[5] != b':' {
        return false;
    }

    // Parse hour (HH)
    let Some(hour) = parse_two_digits(&bytes[..2]) else {
        return false;
    };
    // Parse minute (MM)
    let Some(minute) = parse_two_digits(&bytes[3..5]) else {
        return false;
    };
    // Parse second (SS)
    let Some(second) = parse_two_digits(&bytes[6..8]) else {
        return false;
    };

    if hour > 23 || minute > 59 || second > 60 {
        return false;
    }

    let mut i = 8;

    // Check fractional seconds
    if i < len && bytes[i] == b'.' {
        i += 1;
        let mut has_digit = false;
        while i < len && bytes[i].is_ascii_digit() {
            has_digit = true;
            i += 1;
        }
        if !has_digit {
            return false;
        }
    }

    // Check offset
    if i == len {
        return false;
    }

    match bytes[i] {
        b'Z' | b'z' => i == len - 1 && (second != 60 || (hour == 23 && minute == 59)),
        b'+' => handle_offset!(-=, i, bytes, hour, minute, second),
        b'-' => handle_offset!(+=, i, bytes, hour, minute, second),
        _ => false,
    }
}

fn is_valid_datetime(datetime: &str) -> bool {
    // Find the position of 'T' or 't' separator
    let Some(t_pos) = datetime.bytes().position(|b| b == b'T' || b == b't') else {
        return false;
    };

    // Split the string into date and time parts
    let (date_part, time_part) = datetime.split_at(t_pos);

    is_valid_date(date_part) && is_valid_time(&time_part[1..])
}
