//! A fast validity check for the JSON Schema keyword subset schemars emits
//! for the catalog: `type`, `properties`, `required`, `additionalProperties`,
//! `items`, `minItems`/`maxItems`, `minLength`/`maxLength`, `pattern`,
//! `enum`/`const` of strings, `minimum`/`maximum`, `format`, `$ref` to
//! `#/$defs/…`, `anyOf`/`oneOf`/`allOf`, and annotations.
//!
//! It answers only "valid or not"; the report of an invalid document stays
//! jsonschema's. [`Quick::compile`] refuses (`None`) a schema with anything
//! outside the subset, and then jsonschema alone judges. Where exactness is
//! delicate it asks jsonschema: `format` on a string, and any keyword on a
//! number that is not a 64-bit integer are judged by a small jsonschema
//! validator of that one leaf schema. Verdicts equal jsonschema's; the
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
    /// jsonschema's check of this node's `format`, for strings.
    format: Option<jsonschema::Validator>,
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
        Some(Self { nodes: c.nodes })
    }

    /// Whether `doc` is valid against the schema.
    pub(crate) fn is_valid(&self, doc: &Value) -> bool {
        self.check(0, doc)
    }

    fn check(&self, at: usize, v: &Value) -> bool {
        let n = &self.nodes[at];
        if n.never {
            return false;
        }
        let ok = match v {
            Value::Null => n.types == 0 || n.types & NULL != 0,
            Value::Bool(_) => n.types == 0 || n.types & BOOLEAN != 0,
            Value::Number(num) => {
                let int = num.as_i64().map(i128::from).or(num.as_u64().map(i128::from));
                match int {
                    Some(i) => {
                        (n.types == 0 || n.types & (INTEGER | NUMBER) != 0)
                            && n.minimum.is_none_or(|m| i >= i128::from(m))
                            && n.maximum.is_none_or(|m| i <= i128::from(m))
                    }
                    None => match &n.number_fallback {
                        Some(fallback) => fallback.is_valid(v),
                        None => n.types == 0,
                    },
                }
            }
            Value::String(s) => {
                (n.types == 0 || n.types & STRING != 0)
                    && self.string_ok(n, s)
                    && n.format.as_ref().is_none_or(|f| f.is_valid(v))
            }
            Value::Array(items) => {
                (n.types == 0 || n.types & ARRAY != 0)
                    && n.min_items.is_none_or(|m| items.len() as u64 >= m)
                    && n.max_items.is_none_or(|m| items.len() as u64 <= m)
                    && n.items
                        .is_none_or(|i| items.iter().all(|item| self.check(i, item)))
            }
            Value::Object(map) => (n.types == 0 || n.types & OBJECT != 0) && self.object_ok(n, map),
        };
        if !ok {
            return false;
        }
        if let Some(allowed) = &n.one_of_strings {
            if !v.as_str().is_some_and(|s| allowed.iter().any(|a| a == s)) {
                return false;
            }
        }
        n.refs.iter().all(|&r| self.check(r, v))
            && n.all_of.iter().all(|&b| self.check(b, v))
            && (n.any_of.is_empty() || n.any_of.iter().any(|&b| self.check(b, v)))
            && (n.one_of.is_empty() || n.one_of.iter().filter(|&&b| self.check(b, v)).count() == 1)
    }

    fn string_ok(&self, n: &Node, s: &str) -> bool {
        if n.min_len.is_some() || n.max_len.is_some() {
            let len = if s.is_ascii() { s.len() } else { s.chars().count() } as u64;
            if n.min_len.is_some_and(|m| len < m) || n.max_len.is_some_and(|m| len > m) {
                return false;
            }
        }
        n.pattern.as_ref().is_none_or(|p| p.is_match(s))
    }

    fn object_ok(&self, n: &Node, map: &Map<String, Value>) -> bool {
        // Required keys seen, as a bit set over `properties` (at most 64
        // properties carry `required`; compile refuses more).
        let mut seen: u64 = 0;
        for (key, value) in map {
            match n.properties.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
                Ok(i) => {
                    if !self.check(n.properties[i].1, value) {
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
                        if !self.check(s, value) {
                            return false;
                        }
                    }
                },
            }
        }
        n.required.iter().all(|&i| seen & (1 << i) != 0)
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
                    let format = value.as_str()?;
                    // A format jsonschema does not know is ignored there, so here.
                    let known = jsonschema::options()
                        .should_validate_formats(true)
                        .should_ignore_unknown_formats(false)
                        .build(&serde_json::json!({ "format": format }));
                    if let Ok(v) = known {
                        node.format = Some(v);
                    }
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
