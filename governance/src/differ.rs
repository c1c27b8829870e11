//! The schema differ: two JSON Schemas (or OpenAPI schema objects) compared
//! keyword by keyword, `$ref`s followed, `allOf` merged first, each change
//! classified by a rule of [`crate::rules::RULES`].

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::load::escape;
use crate::model::{Change, Direction, Options};
use crate::rules::{BOTH, Effect, LOOSENS, Level, NEUTRAL, TIGHTENS, rule};

pub(crate) const MAX_DEPTH: usize = 64;

pub(crate) struct Differ<'a> {
    pub(crate) old_root: &'a Value,
    pub(crate) new_root: &'a Value,
    pub(crate) options: &'a Options,
    /// The operation being compared (`POST /v1/things`), if any.
    pub(crate) operation: Option<String>,
    changes: Vec<Change>,
    /// (old pointer, new pointer, direction) of schemas already compared.
    seen: foldhash::HashSet<(String, String, Direction)>,
}

/// Both pointers of a comparison: into the old and into the new document.
#[derive(Clone, Debug)]
pub(crate) struct At {
    pub(crate) old: String,
    pub(crate) new: String,
}

impl At {
    pub(crate) fn new(old: String, new: String) -> At {
        At { old, new }
    }

    pub(crate) fn same(p: String) -> At {
        At {
            old: p.clone(),
            new: p,
        }
    }

    pub(crate) fn join(&self, token: &str) -> At {
        At {
            old: format!("{}/{}", self.old, escape(token)),
            new: format!("{}/{}", self.new, escape(token)),
        }
    }
}

/// Follows local `$ref`s; returns the schema and the pointer it lives at.
pub(crate) fn resolve<'a>(root: &'a Value, mut schema: &'a Value, mut at: String) -> (&'a Value, String) {
    for _ in 0..MAX_DEPTH {
        let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(ptr) = r.strip_prefix('#') else {
            break;
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

/// `anyOf [X, {type: null}]` → X (what schemars emits for `Option<X>`).
fn unwrap_nullable(schema: &Value) -> &Value {
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            let non_null: Vec<&Value> = branches.iter().filter(|b| !is_null_schema(b)).collect();
            if non_null.len() == 1 && branches.len() == 2 {
                return non_null[0];
            }
        }
    }
    schema
}

fn is_null_schema(b: &Value) -> bool {
    b.get("type").and_then(Value::as_str) == Some("null")
}

/// The schema with its `allOf` members merged in (refs followed): what a
/// document must satisfy, as one schema.
fn flatten<'a>(root: &Value, schema: &'a Value, depth: usize) -> Cow<'a, Value> {
    let (Some(Value::Array(members)), Value::Object(map)) = (schema.get("allOf"), schema) else {
        return Cow::Borrowed(schema);
    };
    if depth > MAX_DEPTH {
        return Cow::Borrowed(schema);
    }
    let mut merged = map.clone();
    merged.remove("allOf");
    for member in members {
        let (member, _) = deref(root, member, String::new());
        if let Value::Object(m) = flatten(root, member, depth + 1).as_ref() {
            merge_into(&mut merged, m);
        }
    }
    Cow::Owned(Value::Object(merged))
}

fn merge_into(target: &mut Map<String, Value>, src: &Map<String, Value>) {
    for (k, v) in src {
        match (k.as_str(), target.get_mut(k)) {
            ("properties", Some(Value::Object(tp))) => {
                if let Value::Object(sp) = v {
                    for (pk, pv) in sp {
                        tp.entry(pk.clone()).or_insert_with(|| pv.clone());
                    }
                }
            }
            ("required", Some(Value::Array(tr))) => {
                for r in v.as_array().into_iter().flatten() {
                    if !tr.contains(r) {
                        tr.push(r.clone());
                    }
                }
            }
            (_, Some(_)) => {}
            (_, None) => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The JSON types a schema accepts (`None`: any), with `anyOf`/`oneOf`
/// branches united and `allOf` members intersected.
fn types(root: &Value, schema: &Value, depth: usize) -> Option<BTreeSet<String>> {
    let (schema, _) = resolve(root, schema, String::new());
    if depth > MAX_DEPTH {
        return None;
    }
    if let Some(branches) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        let mut all = BTreeSet::new();
        for b in branches {
            all.extend(types(root, b, depth + 1)?);
        }
        return Some(all);
    }
    let mut set: Option<BTreeSet<String>> = match schema.get("type") {
        Some(Value::String(t)) => Some([t.clone()].into()),
        Some(Value::Array(ts)) => Some(ts.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
        _ => None,
    };
    for member in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(m) = types(root, member, depth + 1) {
            set = Some(match set {
                Some(s) => s.intersection(&m).cloned().collect(),
                None => m,
            });
        }
    }
    let mut set = set?;
    if set.contains("number") {
        set.remove("integer");
    }
    Some(set)
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

fn accepts_type(set: &BTreeSet<String>, t: &str) -> bool {
    set.contains(t) || (t == "integer" && set.contains("number"))
}

/// Whether bound `a` (value, exclusive) admits fewer values than `b`.
fn stricter(a: (f64, bool), b: (f64, bool), lower: bool) -> bool {
    if a.0 == b.0 {
        a.1 && !b.1
    } else {
        (a.0 > b.0) == lower
    }
}

fn is_true(m: &Map<String, Value>, key: &str) -> bool {
    m.get(key) == Some(&Value::Bool(true))
}

/// What a change means for a partner's client.
fn explain(dir: Direction, effect: Effect, level: Level) -> String {
    if level == Level::Compatible {
        return "existing clients keep working".into();
    }
    let hedge = if level == Level::Breaking { "" } else { "may " };
    match dir {
        Direction::Request if effect.tightens => format!(
            "requests that existing clients send {hedge}{}",
            if hedge.is_empty() {
                "may now be refused"
            } else {
                "now be refused or treated differently"
            }
        ),
        Direction::Response if effect.loosens => {
            "existing clients may receive responses they were not written to handle".into()
        }
        _ => format!("clients written against the old version {hedge}break"),
    }
}

impl<'a> Differ<'a> {
    pub(crate) fn new(old_root: &'a Value, new_root: &'a Value, options: &'a Options) -> Differ<'a> {
        Differ {
            old_root,
            new_root,
            options,
            operation: None,
            changes: Vec::new(),
            seen: foldhash::HashSet::default(),
        }
    }

    pub(crate) fn into_changes(self) -> Vec<Change> {
        self.changes
    }

    pub(crate) fn push(
        &mut self,
        id: &'static str,
        at: &At,
        dir: Direction,
        effect: Effect,
        message: String,
    ) {
        let Some(rule) = rule(id) else {
            debug_assert!(false, "undocumented rule {id}");
            return;
        };
        let level = if dir.hurts(effect) {
            rule.level
        } else {
            Level::Compatible
        };
        self.changes.push(Change {
            rule: rule.id,
            level,
            breaking: level == Level::Breaking,
            direction: dir,
            operation: self.operation.clone(),
            pointer: at.new.clone(),
            old_pointer: at.old.clone(),
            message,
            explanation: explain(dir, effect, level),
        });
    }

    /// Compares two schemas found at `old_at` / `new_at`.
    pub(crate) fn schema(
        &mut self,
        old: &Value,
        new: &Value,
        old_at: String,
        new_at: String,
        dir: Direction,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let old_types = types(self.old_root, old, 0);
        let new_types = types(self.new_root, new, 0);
        let (old, old_at) = deref(self.old_root, old, old_at);
        let (new, new_at) = deref(self.new_root, new, new_at);
        if !self.seen.insert((old_at.clone(), new_at.clone(), dir)) {
            return;
        }
        let at = At::new(old_at, new_at);
        let (old, new) = (flatten(self.old_root, old, 0), flatten(self.new_root, new, 0));
        let (Value::Object(o), Value::Object(n)) = (old.as_ref(), new.as_ref()) else {
            return;
        };
        self.types(old_types, new_types, &at, dir);
        self.object(o, n, &at, dir, depth);
        self.keywords(o, n, &at, dir);
        self.annotations(o, n, &at, dir);
        self.discriminator(o, n, &at, dir);
        self.alternatives(o, n, &at, dir, depth);
        if let (Some(oi), Some(ni)) = (o.get("items"), n.get("items")) {
            let a = at.join("items");
            self.schema(oi, ni, a.old, a.new, dir, depth + 1);
        }
        if let (Some(oa @ Value::Object(_)), Some(na @ Value::Object(_))) =
            (o.get("additionalProperties"), n.get("additionalProperties"))
        {
            let a = at.join("additionalProperties");
            self.schema(oa, na, a.old, a.new, dir, depth + 1);
        }
    }

    fn types(
        &mut self,
        old: Option<BTreeSet<String>>,
        new: Option<BTreeSet<String>>,
        at: &At,
        dir: Direction,
    ) {
        match (&old, &new) {
            (Some(ot), Some(nt)) if ot != nt => {
                let lost: Vec<&String> = ot.iter().filter(|t| !accepts_type(nt, t)).collect();
                let gained: Vec<&String> = nt.iter().filter(|t| !accepts_type(ot, t)).collect();
                let (rule, effect) = match (lost.as_slice(), gained.as_slice()) {
                    ([], [g]) if *g == "null" => ("nullable-added", LOOSENS),
                    ([l], []) if *l == "null" => ("nullable-removed", TIGHTENS),
                    ([], []) => return,
                    (_, []) => ("type-narrowed", TIGHTENS),
                    ([], _) => ("type-widened", LOOSENS),
                    _ => ("type-changed", BOTH),
                };
                self.push(rule, at, dir, effect, format!("type {ot:?} → {nt:?}"));
            }
            (Some(ot), None) => self.push("type-widened", at, dir, LOOSENS, format!("type {ot:?} → any")),
            (None, Some(nt)) => self.push("type-narrowed", at, dir, TIGHTENS, format!("type any → {nt:?}")),
            _ => {}
        }
    }

    fn object(
        &mut self,
        o: &Map<String, Value>,
        n: &Map<String, Value>,
        at: &At,
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
        let props = at.join("properties");

        for (key, ns) in np {
            let ptr = props.join(key);
            match op.get(key) {
                Some(os) => self.schema(os, ns, ptr.old, ptr.new, dir, depth + 1),
                None if nreq.contains(key) => {
                    let effect = if old_closed { BOTH } else { TIGHTENS };
                    let msg = format!("new required property {key:?}");
                    self.push("property-added-required", &ptr, dir, effect, msg);
                }
                None => {
                    let effect = if old_closed { LOOSENS } else { NEUTRAL };
                    let msg = format!("new optional property {key:?}");
                    self.push("property-added-optional", &ptr, dir, effect, msg);
                }
            }
        }
        for key in op.keys().filter(|k| !np.contains_key(*k)) {
            let effect = if new_closed { BOTH } else { LOOSENS };
            let msg = format!("property {key:?} removed");
            self.push("property-removed", &props.join(key), dir, effect, msg);
        }
        if oreq == nreq {
            return self.closed(old_closed, new_closed, at, dir);
        }
        let req_at = at.join("required");
        for key in nreq.difference(&oreq).filter(|k| op.contains_key(*k)) {
            let msg = format!("property {key:?} is now required");
            self.push("property-became-required", &req_at, dir, TIGHTENS, msg);
        }
        for key in oreq.difference(&nreq).filter(|k| np.contains_key(*k)) {
            let msg = format!("property {key:?} is no longer required");
            self.push("property-became-optional", &req_at, dir, LOOSENS, msg);
        }
        self.closed(old_closed, new_closed, at, dir);
    }

    fn closed(&mut self, old_closed: bool, new_closed: bool, at: &At, dir: Direction) {
        if !old_closed && new_closed {
            let msg = "additionalProperties → false".into();
            self.push(
                "additional-properties-closed",
                &at.join("additionalProperties"),
                dir,
                TIGHTENS,
                msg,
            );
        } else if old_closed && !new_closed {
            let msg = "additionalProperties false → allowed".into();
            self.push(
                "additional-properties-opened",
                &at.join("additionalProperties"),
                dir,
                LOOSENS,
                msg,
            );
        }
    }

    fn keywords(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, at: &At, dir: Direction) {
        self.enums(o, n, at, dir);
        if o.get("const") != n.get("const") {
            let show = |m: &Map<String, Value>| m.get("const").unwrap_or(&Value::Null).to_string();
            let msg = format!("const {} → {}", show(o), show(n));
            self.push("const-changed", &at.join("const"), dir, BOTH, msg);
        }
        if o.get("default") != n.get("default") {
            let show = |m: &Map<String, Value>| m.get("default").map_or("none".to_owned(), Value::to_string);
            let msg = format!("default {} → {}", show(o), show(n));
            self.push("default-changed", &at.join("default"), dir, TIGHTENS, msg);
        }
        self.bounds(o, n, at, dir);
        for (kw, added, removed, changed) in [
            ("pattern", "pattern-added", "pattern-removed", "pattern-changed"),
            ("format", "format-added", "format-removed", "format-changed"),
        ] {
            let (ov, nv) = (o.get(kw), n.get(kw));
            if ov == nv {
                continue;
            }
            let ptr = at.join(kw);
            match (ov, nv) {
                (None, Some(v)) => self.push(added, &ptr, dir, TIGHTENS, format!("{kw} {v} added")),
                (Some(v), None) => self.push(removed, &ptr, dir, LOOSENS, format!("{kw} {v} removed")),
                (Some(a), Some(b)) if a != b => {
                    self.push(changed, &ptr, dir, BOTH, format!("{kw} {a} → {b}"))
                }
                _ => {}
            }
        }
    }

    fn enums(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, at: &At, dir: Direction) {
        if !o.contains_key("enum")
            && !n.contains_key("enum")
            && !o.contains_key("oneOf")
            && !n.contains_key("oneOf")
            && !o.contains_key("anyOf")
            && !n.contains_key("anyOf")
        {
            return;
        }
        let ptr = at.join("enum");
        match (enum_values(o), enum_values(n)) {
            (Some(oe), Some(ne)) => {
                for v in ne.iter().filter(|v| !oe.contains(v)) {
                    self.push(
                        "enum-value-added",
                        &ptr,
                        dir,
                        LOOSENS,
                        format!("enum value {v} added"),
                    );
                }
                for v in oe.iter().filter(|v| !ne.contains(v)) {
                    self.push(
                        "enum-value-removed",
                        &ptr,
                        dir,
                        TIGHTENS,
                        format!("enum value {v} removed"),
                    );
                }
            }
            (Some(oe), None) => {
                let msg = format!("enum {} → any value", Value::Array(oe));
                self.push("enum-value-added", &ptr, dir, LOOSENS, msg);
            }
            (None, Some(ne)) => {
                let msg = format!("any value → enum {}", Value::Array(ne));
                self.push("enum-added", &ptr, dir, TIGHTENS, msg);
            }
            (None, None) => {}
        }
    }

    fn bounds(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, at: &At, dir: Direction) {
        self.numeric_range(o, n, at, dir);
        // (keyword, a higher value tightens)
        for (kw, lower_bound) in [
            ("minLength", true),
            ("minItems", true),
            ("minProperties", true),
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
            let msg = format!("{kw} {} → {}", show(ov), show(nv));
            self.bound(tightened, &at.join(kw), dir, msg);
        }
    }

    fn bound(&mut self, tightened: bool, at: &At, dir: Direction, message: String) {
        if tightened {
            self.push("bound-tightened", at, dir, TIGHTENS, message);
        } else {
            self.push("bound-loosened", at, dir, LOOSENS, message);
        }
    }

    /// `minimum`/`exclusiveMinimum` (and the maxima) judged together, as
    /// one bound that is inclusive or exclusive: `> 0` → `≥ 0` loosens.
    fn numeric_range(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, at: &At, dir: Direction) {
        for (inclusive, exclusive, lower) in [
            ("minimum", "exclusiveMinimum", true),
            ("maximum", "exclusiveMaximum", false),
        ] {
            let bound = |m: &Map<String, Value>| -> Option<(f64, bool)> {
                let inc = m.get(inclusive).and_then(Value::as_f64).map(|v| (v, false));
                let exc = m.get(exclusive).and_then(Value::as_f64).map(|v| (v, true));
                match (inc, exc) {
                    (Some(a), Some(b)) => Some(if stricter(b, a, lower) { b } else { a }),
                    (a, b) => a.or(b),
                }
            };
            let (ob, nb) = (bound(o), bound(n));
            let tightened = match (ob, nb) {
                (None, None) => continue,
                (Some(a), Some(b)) if a == b => continue,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => stricter(b, a, lower),
            };
            let show = |b: Option<(f64, bool)>| match b {
                None => "none".to_owned(),
                Some((v, x)) => format!(
                    "{}{v}",
                    match (lower, x) {
                        (true, true) => "> ",
                        (true, false) => "≥ ",
                        (false, true) => "< ",
                        (false, false) => "≤ ",
                    }
                ),
            };
            let kw = match nb.or(ob) {
                Some((_, true)) => exclusive,
                _ => inclusive,
            };
            let msg = format!(
                "{} {} → {}",
                if lower { "lower bound" } else { "upper bound" },
                show(ob),
                show(nb)
            );
            self.bound(tightened, &at.join(kw), dir, msg);
        }
    }

    /// `readOnly` / `writeOnly`.
    fn annotations(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, at: &At, dir: Direction) {
        for (kw, added, added_effect, removed) in [
            ("readOnly", "read-only-added", TIGHTENS, "read-only-removed"),
            ("writeOnly", "write-only-added", LOOSENS, "write-only-removed"),
        ] {
            match (is_true(o, kw), is_true(n, kw)) {
                (false, true) => self.push(added, &at.join(kw), dir, added_effect, format!("now {kw}")),
                (true, false) => self.push(removed, &at.join(kw), dir, NEUTRAL, format!("no longer {kw}")),
                _ => {}
            }
        }
    }

    fn discriminator(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, at: &At, dir: Direction) {
        if !o.contains_key("discriminator") && !n.contains_key("discriminator") {
            return;
        }
        let ptr = at.join("discriminator");
        let prop = |d: &Value| d.get("propertyName").and_then(Value::as_str).map(str::to_owned);
        match (o.get("discriminator"), n.get("discriminator")) {
            (None, Some(d)) => {
                let msg = format!("discriminator {:?} added", prop(d).unwrap_or_default());
                self.push("discriminator-added", &ptr, dir, BOTH, msg);
            }
            (Some(d), None) => {
                let msg = format!("discriminator {:?} removed", prop(d).unwrap_or_default());
                self.push("discriminator-removed", &ptr, dir, BOTH, msg);
            }
            (Some(od), Some(nd)) => {
                if prop(od) != prop(nd) {
                    let msg = format!("discriminator property {:?} → {:?}", prop(od), prop(nd));
                    self.push(
                        "discriminator-property-changed",
                        &ptr.join("propertyName"),
                        dir,
                        BOTH,
                        msg,
                    );
                }
                let empty = Map::new();
                let om = od.get("mapping").and_then(Value::as_object).unwrap_or(&empty);
                let nm = nd.get("mapping").and_then(Value::as_object).unwrap_or(&empty);
                let mp = ptr.join("mapping");
                for k in nm.keys().filter(|k| !om.contains_key(*k)) {
                    let msg = format!("discriminator value {k:?} added");
                    self.push("discriminator-mapping-added", &mp, dir, LOOSENS, msg);
                }
                for k in om.keys().filter(|k| !nm.contains_key(*k)) {
                    let msg = format!("discriminator value {k:?} removed");
                    self.push("discriminator-mapping-removed", &mp, dir, TIGHTENS, msg);
                }
            }
            (None, None) => {}
        }
    }

    /// `oneOf` / `anyOf` alternatives, matched by `$ref` (or title, or
    /// content); unmatched inline ones paired in order when counts agree.
    fn alternatives(
        &mut self,
        o: &Map<String, Value>,
        n: &Map<String, Value>,
        at: &At,
        dir: Direction,
        depth: usize,
    ) {
        if enum_values(o).is_some() || enum_values(n).is_some() {
            return;
        }
        for kw in ["oneOf", "anyOf"] {
            let (Some(Value::Array(oa)), Some(Value::Array(na))) = (o.get(kw), n.get(kw)) else {
                continue;
            };
            let key = |b: &Value| -> String {
                if let Some(r) = b.get("$ref").and_then(Value::as_str) {
                    return format!("ref {r}");
                }
                if let Some(t) = b.get("title").and_then(Value::as_str) {
                    return format!("title {t}");
                }
                b.to_string()
            };
            let ok: Vec<String> = oa.iter().map(key).collect();
            let nk: Vec<String> = na.iter().map(key).collect();
            let base = at.join(kw);
            let mut old_left: Vec<usize> = Vec::new();
            for (i, k) in ok.iter().enumerate() {
                match nk.iter().position(|x| x == k) {
                    Some(j) => {
                        let (po, pn) = (format!("{}/{i}", base.old), format!("{}/{j}", base.new));
                        self.schema(&oa[i], &na[j], po, pn, dir, depth + 1);
                    }
                    None => old_left.push(i),
                }
            }
            let new_left: Vec<usize> = (0..na.len()).filter(|j| !ok.contains(&nk[*j])).collect();
            let inline = |v: &Value| v.get("$ref").is_none();
            if old_left.len() == new_left.len()
                && old_left.iter().all(|i| inline(&oa[*i]))
                && new_left.iter().all(|j| inline(&na[*j]))
            {
                for (i, j) in old_left.iter().zip(&new_left) {
                    let (po, pn) = (format!("{}/{i}", base.old), format!("{}/{j}", base.new));
                    self.schema(&oa[*i], &na[*j], po, pn, dir, depth + 1);
                }
                continue;
            }
            for j in new_left {
                let ptr = At::new(base.old.clone(), format!("{}/{j}", base.new));
                self.push(
                    "alternative-added",
                    &ptr,
                    dir,
                    LOOSENS,
                    format!("{kw} alternative {} added", nk[j]),
                );
            }
            for i in old_left {
                let ptr = At::new(format!("{}/{i}", base.old), base.new.clone());
                self.push(
                    "alternative-removed",
                    &ptr,
                    dir,
                    TIGHTENS,
                    format!("{kw} alternative {} removed", ok[i]),
                );
            }
        }
    }
}
