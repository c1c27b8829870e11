//! Compares two versions of a contract — a JSON Schema or an OpenAPI 3.1
//! document — and classifies every change as breaking or compatible.
//!
//! The model: each change *tightens* the contract (some document valid before
//! is invalid now), *loosens* it (some document invalid before is valid now),
//! or both. Direction decides which hurts:
//! - a **request** (what clients send, servers validate) breaks when the
//!   contract tightens: an old client's request may be refused;
//! - a **response** (what servers send, clients read) breaks when it
//!   loosens: an old client may meet a value it was not told about.
//!
//! In an OpenAPI document the direction follows the location (parameters and
//! request bodies are requests; responses are responses). A standalone
//! schema's direction is given (`--direction`) or inferred from how
//! [`contracts::routes::OPERATIONS`] uses the type; a type used both ways, or
//! unknown, is judged both ways. Rules are listed in [`RULES`].

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;
use serde_json::{Map, Value};

/// Which side of an exchange a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent by clients, validated by the server.
    Request,
    /// Sent by the server, read by clients.
    Response,
    /// Both: a message that flows either way, or whose use is unknown.
    Both,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
            Direction::Both => "both",
        }
    }

    fn breaks(self, effect: Effect) -> bool {
        match self {
            Direction::Request => effect.tightens,
            Direction::Response => effect.loosens,
            Direction::Both => effect.tightens || effect.loosens,
        }
    }
}

/// What a change does to the set of valid documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Effect {
    pub tightens: bool,
    pub loosens: bool,
}

const TIGHTENS: Effect = Effect {
    tightens: true,
    loosens: false,
};
const LOOSENS: Effect = Effect {
    tightens: false,
    loosens: true,
};
const BOTH: Effect = Effect {
    tightens: true,
    loosens: true,
};
const NEUTRAL: Effect = Effect {
    tightens: false,
    loosens: false,
};

/// Every rule: (id, what it detects).
pub const RULES: &[(&str, &str)] = &[
    ("type-narrowed", "a schema accepts fewer JSON types (tightens)"),
    (
        "type-widened",
        "a schema accepts more JSON types, e.g. null (loosens)",
    ),
    ("type-changed", "a schema accepts different JSON types (both)"),
    (
        "property-added-required",
        "a new required property (tightens; loosens a closed object too)",
    ),
    (
        "property-added-optional",
        "a new optional property (loosens a closed object; neutral otherwise)",
    ),
    (
        "property-removed",
        "a property is no longer described (loosens; tightens a closed object)",
    ),
    (
        "property-became-required",
        "an existing property is now required (tightens)",
    ),
    (
        "property-became-optional",
        "a required property is now optional (loosens)",
    ),
    (
        "additional-properties-closed",
        "unknown properties are now refused (tightens)",
    ),
    (
        "additional-properties-opened",
        "unknown properties are now allowed (loosens)",
    ),
    ("enum-value-added", "an enum accepts a new value (loosens)"),
    (
        "enum-value-removed",
        "an enum no longer accepts a value (tightens)",
    ),
    ("const-changed", "a constant changed (both)"),
    (
        "bound-tightened",
        "a min/max length, value or item count is stricter (tightens)",
    ),
    (
        "bound-loosened",
        "a min/max length, value or item count is laxer or gone (loosens)",
    ),
    ("pattern-added", "a string pattern is now required (tightens)"),
    ("pattern-removed", "a string pattern is gone (loosens)"),
    ("pattern-changed", "a string pattern changed (both)"),
    ("format-added", "a string format is now required (tightens)"),
    ("format-removed", "a string format is gone (loosens)"),
    ("format-changed", "a string format changed (both)"),
    ("operation-added", "a new operation (compatible)"),
    ("operation-removed", "an operation is gone (breaking)"),
    (
        "parameter-added-required",
        "a new required parameter, e.g. a header (tightens a request)",
    ),
    ("parameter-added-optional", "a new optional parameter (neutral)"),
    (
        "parameter-removed",
        "a parameter is no longer read (loosens a request)",
    ),
    (
        "parameter-became-required",
        "a parameter is now required (tightens a request)",
    ),
    (
        "parameter-became-optional",
        "a parameter is now optional (loosens a request)",
    ),
    (
        "request-body-became-required",
        "a request body is now required (tightens a request)",
    ),
    (
        "media-type-added",
        "a body may come in a new media type (loosens)",
    ),
    ("media-type-removed", "a body media type is gone (tightens)"),
    (
        "response-status-added",
        "a new response status (loosens a response)",
    ),
    (
        "response-status-removed",
        "a response status is gone (tightens a response)",
    ),
    (
        "security-added",
        "an operation requires new credentials (tightens a request)",
    ),
    (
        "security-removed",
        "an operation requires fewer credentials (loosens a request)",
    ),
];

/// One classified change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The rule id (see [`RULES`]).
    pub rule: &'static str,
    /// JSON pointer into the new document (into the old one for removals).
    pub pointer: String,
    /// The direction the change was judged in.
    pub direction: Direction,
    pub breaking: bool,
    /// What changed, old → new.
    pub message: String,
}

/// What kind of document was compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentKind {
    JsonSchema,
    Openapi,
}

/// The result of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub kind: DocumentKind,
    pub breaking: usize,
    pub compatible: usize,
    pub changes: Vec<Change>,
}

impl DiffReport {
    pub fn is_breaking(&self) -> bool {
        self.breaking > 0
    }
}

/// Why two documents cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    #[error("cannot compare a {old} with a {new}")]
    KindMismatch { old: &'static str, new: &'static str },
    #[error("the {which} document is not a JSON object")]
    NotAnObject { which: &'static str },
}

fn kind_of(doc: &Value, which: &'static str) -> Result<DocumentKind, DiffError> {
    let Value::Object(map) = doc else {
        return Err(DiffError::NotAnObject { which });
    };
    Ok(if map.contains_key("openapi") {
        DocumentKind::Openapi
    } else {
        DocumentKind::JsonSchema
    })
}

fn kind_name(k: DocumentKind) -> &'static str {
    match k {
        DocumentKind::JsonSchema => "JSON Schema",
        DocumentKind::Openapi => "OpenAPI document",
    }
}

/// The direction of a catalog schema, from how operations use its type:
/// the type is named by `$id` (`…/v1/<Type>.json`) or `title`.
pub fn infer_direction(schema: &Value) -> Direction {
    let name = schema
        .get("$id")
        .and_then(Value::as_str)
        .and_then(|id| id.rsplit('/').next())
        .and_then(|f| f.strip_suffix(".json"))
        .or_else(|| schema.get("title").and_then(Value::as_str));
    let Some(name) = name else {
        return Direction::Both;
    };
    let ops = contracts::routes::OPERATIONS;
    let request = ops.iter().any(|o| o.request == name);
    let response = ops.iter().any(|o| o.response == name) || name == "Problem";
    match (request, response) {
        (true, false) => Direction::Request,
        (false, true) => Direction::Response,
        _ => Direction::Both,
    }
}

/// Compares `old` with `new`. `direction` applies to standalone schemas
/// (inferred when `None`); OpenAPI documents carry their own.
pub fn diff(old: &Value, new: &Value, direction: Option<Direction>) -> Result<DiffReport, DiffError> {
    let (ko, kn) = (kind_of(old, "old")?, kind_of(new, "new")?);
    if ko != kn {
        return Err(DiffError::KindMismatch {
            old: kind_name(ko),
            new: kind_name(kn),
        });
    }
    let mut d = Differ {
        old_root: old,
        new_root: new,
        changes: Vec::new(),
        seen: HashSet::new(),
    };
    match ko {
        DocumentKind::JsonSchema => {
            let dir = direction.unwrap_or_else(|| infer_direction(new));
            d.schema(old, new, String::new(), dir, 0);
        }
        DocumentKind::Openapi => d.openapi(),
    }
    let mut changes = d.changes;
    changes.sort_by(|a, b| (&a.pointer, a.rule).cmp(&(&b.pointer, b.rule)));
    changes.dedup();
    let breaking = changes.iter().filter(|c| c.breaking).count();
    Ok(DiffReport {
        kind: ko,
        breaking,
        compatible: changes.len() - breaking,
        changes,
    })
}

struct Differ<'a> {
    old_root: &'a Value,
    new_root: &'a Value,
    changes: Vec<Change>,
    /// (old pointer, new pointer, direction) of schemas already compared.
    seen: HashSet<(String, String, Direction)>,
}

const MAX_DEPTH: usize = 64;

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Follows local `$ref`s; returns the schema and the pointer it lives at.
fn resolve<'a>(root: &'a Value, mut schema: &'a Value, mut at: String) -> (&'a Value, String) {
    for _ in 0..MAX_DEPTH {
        let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(ptr) = r.strip_prefix('#') else {
            break; // external refs are compared by name only
        };
        match root.pointer(ptr) {
            Some(target) => {
                schema = target;
                at = ptr.to_owned();
            }
            None => break,
        }
    }
    (schema, at)
}

/// The JSON types a schema accepts (`None`: any), with `anyOf [X, null]`
/// folded into X's types plus null.
fn types(root: &Value, schema: &Value) -> Option<BTreeSet<String>> {
    let (schema, _) = resolve(root, schema, String::new());
    if let Some(branches) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        let mut all = BTreeSet::new();
        for b in branches {
            all.extend(types(root, b)?);
        }
        return Some(all);
    }
    let mut set: BTreeSet<String> = match schema.get("type") {
        Some(Value::String(t)) => [t.clone()].into(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => return None,
    };
    if set.contains("number") {
        set.remove("integer");
    }
    Some(set)
}

/// `anyOf [X, {type: null}]` → X (what schemars emits for `Option<X>`).
fn unwrap_nullable(schema: &Value) -> &Value {
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let non_null: Vec<&Value> = branches
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if non_null.len() == 1 && branches.len() == 2 {
            return non_null[0];
        }
    }
    schema
}

/// The values an enum-like schema allows: `enum`, or `oneOf`/`anyOf` whose
/// every branch is a `const`.
fn enum_values(schema: &Map<String, Value>) -> Option<Vec<Value>> {
    if let Some(Value::Array(values)) = schema.get("enum") {
        return Some(values.clone());
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(branches)) = schema.get(key) {
            return branches.iter().map(|b| b.get("const").cloned()).collect();
        }
    }
    None
}

/// Follows refs and nullable wrappers until the schema that holds keywords.
fn deref<'a>(root: &'a Value, mut schema: &'a Value, mut at: String) -> (&'a Value, String) {
    for _ in 0..MAX_DEPTH {
        let (resolved, resolved_at) = resolve(root, schema, at.clone());
        let unwrapped = unwrap_nullable(resolved);
        let done = std::ptr::eq(unwrapped, schema);
        (schema, at) = (unwrapped, resolved_at);
        if done {
            break;
        }
    }
    (schema, at)
}

fn accepts_type(set: &BTreeSet<String>, t: &str) -> bool {
    set.contains(t) || (t == "integer" && set.contains("number"))
}

impl Differ<'_> {
    fn push(&mut self, rule: &'static str, pointer: &str, dir: Direction, effect: Effect, message: String) {
        debug_assert!(RULES.iter().any(|(r, _)| *r == rule), "undocumented rule {rule}");
        self.changes.push(Change {
            rule,
            pointer: pointer.to_owned(),
            direction: dir,
            breaking: dir.breaks(effect),
            message,
        });
    }

    /// Compares two schemas found at `at` (a pointer into the new document).
    fn schema(&mut self, old: &Value, new: &Value, at: String, dir: Direction, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let old_types = types(self.old_root, old);
        let new_types = types(self.new_root, new);
        let (old, old_at) = deref(self.old_root, old, at.clone());
        let (new, at) = deref(self.new_root, new, at);
        if !self.seen.insert((old_at, at.clone(), dir)) {
            return;
        }
        let (Value::Object(o), Value::Object(n)) = (old, new) else {
            return;
        };

        // type
        match (&old_types, &new_types) {
            (Some(ot), Some(nt)) if ot != nt => {
                let lost = ot.iter().any(|t| !accepts_type(nt, t));
                let gained = nt.iter().any(|t| !accepts_type(ot, t));
                let (rule, effect) = match (lost, gained) {
                    (true, false) => ("type-narrowed", TIGHTENS),
                    (false, true) => ("type-widened", LOOSENS),
                    _ => ("type-changed", BOTH),
                };
                self.push(rule, &at, dir, effect, format!("type {ot:?} → {nt:?}"));
            }
            (Some(ot), None) => self.push("type-widened", &at, dir, LOOSENS, format!("type {ot:?} → any")),
            (None, Some(nt)) => self.push("type-narrowed", &at, dir, TIGHTENS, format!("type any → {nt:?}")),
            _ => {}
        }

        self.object(o, n, &at, dir, depth);
        self.keywords(o, n, &at, dir);

        if let (Some(oi), Some(ni)) = (o.get("items"), n.get("items")) {
            self.schema(oi, ni, format!("{at}/items"), dir, depth + 1);
        }
    }

    fn object(
        &mut self,
        o: &Map<String, Value>,
        n: &Map<String, Value>,
        at: &str,
        dir: Direction,
        depth: usize,
    ) {
        let empty = Map::new();
        let op = o.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let np = n.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let required = |m: &Map<String, Value>| -> BTreeSet<String> {
            m.get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let (oreq, nreq) = (required(o), required(n));
        let closed = |m: &Map<String, Value>| m.get("additionalProperties") == Some(&Value::Bool(false));
        let (old_closed, new_closed) = (closed(o), closed(n));

        for (key, ns) in np {
            let ptr = format!("{at}/properties/{}", escape(key));
            match op.get(key) {
                Some(os) => self.schema(os, ns, ptr, dir, depth + 1),
                None if nreq.contains(key) => {
                    let effect = if old_closed { BOTH } else { TIGHTENS };
                    self.push(
                        "property-added-required",
                        &ptr,
                        dir,
                        effect,
                        format!("new required property {key:?}"),
                    );
                }
                None => {
                    let effect = if old_closed { LOOSENS } else { NEUTRAL };
                    self.push(
                        "property-added-optional",
                        &ptr,
                        dir,
                        effect,
                        format!("new optional property {key:?}"),
                    );
                }
            }
        }
        for key in op.keys().filter(|k| !np.contains_key(*k)) {
            let effect = if new_closed { BOTH } else { LOOSENS };
            self.push(
                "property-removed",
                &format!("{at}/properties/{}", escape(key)),
                dir,
                effect,
                format!("property {key:?} removed"),
            );
        }
        for key in nreq.difference(&oreq).filter(|k| op.contains_key(*k)) {
            self.push(
                "property-became-required",
                &format!("{at}/required"),
                dir,
                TIGHTENS,
                format!("property {key:?} is now required"),
            );
        }
        for key in oreq.difference(&nreq).filter(|k| np.contains_key(*k)) {
            self.push(
                "property-became-optional",
                &format!("{at}/required"),
                dir,
                LOOSENS,
                format!("property {key:?} is no longer required"),
            );
        }
        if !old_closed && new_closed {
            self.push(
                "additional-properties-closed",
                &format!("{at}/additionalProperties"),
                dir,
                TIGHTENS,
                "additionalProperties → false".into(),
            );
        } else if old_closed && !new_closed {
            self.push(
                "additional-properties-opened",
                &format!("{at}/additionalProperties"),
                dir,
                LOOSENS,
                "additionalProperties false → allowed".into(),
            );
        }
    }

    fn keywords(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, at: &str, dir: Direction) {
        // enum (or schemars' documented enum: oneOf of consts)
        if let (Some(oe), Some(ne)) = (enum_values(o), enum_values(n)) {
            for v in ne.iter().filter(|v| !oe.contains(v)) {
                self.push(
                    "enum-value-added",
                    &format!("{at}/enum"),
                    dir,
                    LOOSENS,
                    format!("enum value {v} added"),
                );
            }
            for v in oe.iter().filter(|v| !ne.contains(v)) {
                self.push(
                    "enum-value-removed",
                    &format!("{at}/enum"),
                    dir,
                    TIGHTENS,
                    format!("enum value {v} removed"),
                );
            }
        } else if let (Some(oe), None) = (enum_values(o), enum_values(n)) {
            self.push(
                "enum-value-added",
                &format!("{at}/enum"),
                dir,
                LOOSENS,
                format!("enum {} → any value", Value::Array(oe)),
            );
        }
        if o.get("const") != n.get("const") {
            self.push(
                "const-changed",
                &format!("{at}/const"),
                dir,
                BOTH,
                format!(
                    "const {} → {}",
                    o.get("const").unwrap_or(&Value::Null),
                    n.get("const").unwrap_or(&Value::Null)
                ),
            );
        }
        // bounds: (keyword, a higher value tightens)
        for (kw, lower_bound) in [
            ("minimum", true),
            ("exclusiveMinimum", true),
            ("minLength", true),
            ("minItems", true),
            ("minProperties", true),
            ("maximum", false),
            ("exclusiveMaximum", false),
            ("maxLength", false),
            ("maxItems", false),
            ("maxProperties", false),
        ] {
            let (ov, nv) = (
                o.get(kw).and_then(Value::as_f64),
                n.get(kw).and_then(Value::as_f64),
            );
            let tightened = match (ov, nv) {
                (None, None) => continue,
                (Some(a), Some(b)) if a == b => continue,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => (b > a) == lower_bound,
            };
            let show = |v: Option<f64>| v.map_or("none".to_owned(), |v| v.to_string());
            let (rule, effect) = if tightened {
                ("bound-tightened", TIGHTENS)
            } else {
                ("bound-loosened", LOOSENS)
            };
            self.push(
                rule,
                &format!("{at}/{kw}"),
                dir,
                effect,
                format!("{kw} {} → {}", show(ov), show(nv)),
            );
        }
        for (kw, added, removed, changed) in [
            ("pattern", "pattern-added", "pattern-removed", "pattern-changed"),
            ("format", "format-added", "format-removed", "format-changed"),
        ] {
            match (o.get(kw), n.get(kw)) {
                (None, Some(v)) => self.push(
                    added,
                    &format!("{at}/{kw}"),
                    dir,
                    TIGHTENS,
                    format!("{kw} {v} added"),
                ),
                (Some(v), None) => self.push(
                    removed,
                    &format!("{at}/{kw}"),
                    dir,
                    LOOSENS,
                    format!("{kw} {v} removed"),
                ),
                (Some(a), Some(b)) if a != b => self.push(
                    changed,
                    &format!("{at}/{kw}"),
                    dir,
                    BOTH,
                    format!("{kw} {a} → {b}"),
                ),
                _ => {}
            }
        }
    }

    // -----------------------------------------------------------------------
    // OpenAPI

    fn openapi(&mut self) {
        let ops = |root: &Value| -> BTreeMap<(String, String), Value> {
            let mut out = BTreeMap::new();
            if let Some(paths) = root.get("paths").and_then(Value::as_object) {
                for (path, item) in paths {
                    for method in [
                        "get", "put", "post", "delete", "options", "head", "patch", "trace",
                    ] {
                        if let Some(op) = item.get(method) {
                            out.insert((path.clone(), method.to_owned()), op.clone());
                        }
                    }
                }
            }
            out
        };
        let (old_ops, new_ops) = (ops(self.old_root), ops(self.new_root));
        for ((path, method), op) in &new_ops {
            let at = format!("/paths/{}/{method}", escape(path));
            let Some(old_op) = old_ops.get(&(path.clone(), method.clone())) else {
                self.push(
                    "operation-added",
                    &at,
                    Direction::Request,
                    NEUTRAL,
                    format!("{} {path} added", method.to_uppercase()),
                );
                continue;
            };
            self.operation(old_op, op, &at);
        }
        for (path, method) in old_ops.keys().filter(|k| !new_ops.contains_key(*k)) {
            self.push(
                "operation-removed",
                &format!("/paths/{}/{method}", escape(path)),
                Direction::Both,
                BOTH,
                format!("{} {path} removed", method.to_uppercase()),
            );
        }
    }

    fn operation(&mut self, old: &Value, new: &Value, at: &str) {
        let req = Direction::Request;
        // parameters, by (in, name)
        let params = |root: &Value, op: &Value| -> BTreeMap<(String, String), Value> {
            op.get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| resolve(root, p, String::new()).0.clone())
                .filter_map(|p| {
                    let key = (
                        p.get("in")?.as_str()?.to_owned(),
                        p.get("name")?.as_str()?.to_ascii_lowercase(),
                    );
                    Some((key, p))
                })
                .collect()
        };
        let (op, np) = (params(self.old_root, old), params(self.new_root, new));
        let is_required = |p: &Value| p.get("required") == Some(&Value::Bool(true));
        for ((loc, name), p) in &np {
            let ptr = format!("{at}/parameters/{loc}/{name}");
            match op.get(&(loc.clone(), name.clone())) {
                None if is_required(p) => self.push(
                    "parameter-added-required",
                    &ptr,
                    req,
                    TIGHTENS,
                    format!("required {loc} parameter {name} added"),
                ),
                None => self.push(
                    "parameter-added-optional",
                    &ptr,
                    req,
                    NEUTRAL,
                    format!("optional {loc} parameter {name} added"),
                ),
                Some(old_p) => {
                    match (is_required(old_p), is_required(p)) {
                        (false, true) => self.push(
                            "parameter-became-required",
                            &ptr,
                            req,
                            TIGHTENS,
                            format!("{loc} parameter {name} is now required"),
                        ),
                        (true, false) => self.push(
                            "parameter-became-optional",
                            &ptr,
                            req,
                            LOOSENS,
                            format!("{loc} parameter {name} is no longer required"),
                        ),
                        _ => {}
                    }
                    if let (Some(os), Some(ns)) = (old_p.get("schema"), p.get("schema")) {
                        self.schema(os, ns, format!("{ptr}/schema"), req, 0);
                    }
                }
            }
        }
        for (loc, name) in op.keys().filter(|k| !np.contains_key(*k)) {
            self.push(
                "parameter-removed",
                &format!("{at}/parameters/{loc}/{name}"),
                req,
                LOOSENS,
                format!("{loc} parameter {name} removed"),
            );
        }

        // request body
        let (ob, nb) = (
            old.get("requestBody")
                .map(|b| resolve(self.old_root, b, String::new()).0),
            new.get("requestBody")
                .map(|b| resolve(self.new_root, b, String::new()).0),
        );
        let body_required =
            |b: Option<&Value>| b.is_some_and(|b| b.get("required") == Some(&Value::Bool(true)));
        if !body_required(ob) && body_required(nb) {
            self.push(
                "request-body-became-required",
                &format!("{at}/requestBody/required"),
                req,
                TIGHTENS,
                "the request body is now required".into(),
            );
        }
        if let (Some(ob), Some(nb)) = (ob, nb) {
            self.content(ob, nb, &format!("{at}/requestBody/content"), req);
        }

        // responses
        let empty = Map::new();
        let ors = old.get("responses").and_then(Value::as_object).unwrap_or(&empty);
        let nrs = new.get("responses").and_then(Value::as_object).unwrap_or(&empty);
        let res = Direction::Response;
        for (status, nr) in nrs {
            let ptr = format!("{at}/responses/{status}");
            match ors.get(status) {
                None => self.push(
                    "response-status-added",
                    &ptr,
                    res,
                    LOOSENS,
                    format!("response {status} added"),
                ),
                Some(or) => {
                    let or = resolve(self.old_root, or, String::new()).0;
                    let nr = resolve(self.new_root, nr, String::new()).0;
                    self.content(or, nr, &format!("{ptr}/content"), res);
                }
            }
        }
        for status in ors.keys().filter(|k| !nrs.contains_key(*k)) {
            self.push(
                "response-status-removed",
                &format!("{at}/responses/{status}"),
                res,
                TIGHTENS,
                format!("response {status} removed"),
            );
        }

        // security (operation-level, else the document's)
        let security = |root: &Value, op: &Value| -> BTreeSet<String> {
            op.get("security")
                .or_else(|| root.get("security"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(|m| m.keys().cloned())
                .collect()
        };
        let (os, ns) = (security(self.old_root, old), security(self.new_root, new));
        for s in ns.difference(&os) {
            self.push(
                "security-added",
                &format!("{at}/security"),
                req,
                TIGHTENS,
                format!("security scheme {s} added"),
            );
        }
        for s in os.difference(&ns) {
            self.push(
                "security-removed",
                &format!("{at}/security"),
                req,
                LOOSENS,
                format!("security scheme {s} removed"),
            );
        }
    }

    /// Compares the `content` maps of two bodies.
    fn content(&mut self, old: &Value, new: &Value, at: &str, dir: Direction) {
        let empty = Map::new();
        let oc = old.get("content").and_then(Value::as_object).unwrap_or(&empty);
        let nc = new.get("content").and_then(Value::as_object).unwrap_or(&empty);
        for (media, nm) in nc {
            let ptr = format!("{at}/{}", escape(media));
            match oc.get(media) {
                None => self.push(
                    "media-type-added",
                    &ptr,
                    dir,
                    LOOSENS,
                    format!("media type {media} added"),
                ),
                Some(om) => {
                    if let (Some(os), Some(ns)) = (om.get("schema"), nm.get("schema")) {
                        self.schema(os, ns, format!("{ptr}/schema"), dir, 0);
                    }
                }
            }
        }
        for media in oc.keys().filter(|k| !nc.contains_key(*k)) {
            self.push(
                "media-type-removed",
                &format!("{at}/{}", escape(media)),
                dir,
                TIGHTENS,
                format!("media type {media} removed"),
            );
        }
    }
}
