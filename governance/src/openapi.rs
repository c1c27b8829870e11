//! The OpenAPI part of the differ: operations matched by path shape and
//! method (a renamed path parameter is a rename), then parameters (path-item
//! level included), request bodies, responses, headers and security.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::differ::{At, Differ, resolve};
use crate::load::escape;
use crate::model::Direction;
use crate::rules::{BOTH, LOOSENS, NEUTRAL, TIGHTENS};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of a document.
struct Op<'a> {
    path: &'a str,
    method: &'static str,
    item: &'a Value,
    op: &'a Value,
}

/// `/orders/{id}/lines` → `/orders/{}/lines`.
fn shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name))
        .collect()
}

fn operations(root: &Value) -> BTreeMap<(String, &'static str), Op<'_>> {
    let mut out = BTreeMap::new();
    let Some(paths) = root.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        let (item, _) = resolve(root, item, String::new());
        for method in METHODS {
            if let Some(op) = item.get(method) {
                let op = Op {
                    path,
                    method,
                    item,
                    op,
                };
                out.insert((shape(path), method), op);
            }
        }
    }
    out
}

fn is_true(v: Option<&Value>) -> bool {
    v == Some(&Value::Bool(true))
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// `2026-01-31…` or an HTTP date (`Sat, 31 Jan 2026 00:00:00 GMT`) → `2026-01-31`.
pub(crate) fn parse_date(s: &str) -> Option<String> {
    let s = s.trim();
    let iso = s.get(..10).filter(|d| {
        d.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
    });
    if let Some(d) = iso {
        return Some(d.to_owned());
    }
    let parts: Vec<&str> = s.split([' ', ',']).filter(|p| !p.is_empty()).collect();
    let [_, day, month, year, ..] = parts.as_slice() else {
        return None;
    };
    let m = MONTHS
        .iter()
        .position(|m| month.to_ascii_lowercase().starts_with(m))?
        + 1;
    let (d, y): (u32, u32) = (day.parse().ok()?, year.parse().ok()?);
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// The sunset date of an operation: `x-sunset` on the operation or its path
/// item, or the example of a `Sunset` response header.
fn sunset(root: &Value, op: &Op<'_>) -> Option<String> {
    let direct = op
        .op
        .get("x-sunset")
        .or_else(|| op.item.get("x-sunset"))
        .and_then(Value::as_str);
    if let Some(d) = direct {
        return parse_date(d);
    }
    let responses = op.op.get("responses").and_then(Value::as_object)?;
    for r in responses.values() {
        let (r, _) = resolve(root, r, String::new());
        let Some(headers) = r.get("headers").and_then(Value::as_object) else {
            continue;
        };
        for (name, h) in headers {
            if !name.eq_ignore_ascii_case("sunset") {
                continue;
            }
            let (h, _) = resolve(root, h, String::new());
            let example = h
                .get("example")
                .or_else(|| h.pointer("/schema/example"))
                .or_else(|| h.pointer("/schema/default"))
                .and_then(Value::as_str);
            if let Some(d) = example.and_then(parse_date) {
                return Some(d);
            }
        }
    }
    None
}

impl Differ<'_> {
    pub(crate) fn openapi(&mut self) {
        let (old_root, new_root) = (self.old_root, self.new_root);
        let (old_ops, new_ops) = (operations(old_root), operations(new_root));
        for (key, new) in &new_ops {
            let at = format!("/paths/{}/{}", escape(new.path), new.method);
            self.operation = Some(format!("{} {}", new.method.to_uppercase(), new.path));
            let Some(old) = old_ops.get(key) else {
                let msg = format!("{} {} added", new.method.to_uppercase(), new.path);
                self.push("operation-added", &At::same(at), Direction::Request, NEUTRAL, msg);
                continue;
            };
            let at = At::new(format!("/paths/{}/{}", escape(old.path), old.method), at);
            self.operation_pair(old, new, &at);
        }
        for (key, old) in &old_ops {
            if !new_ops.contains_key(key) {
                self.operation = Some(format!("{} {}", old.method.to_uppercase(), old.path));
                self.removed_operation(old);
            }
        }
        self.operation = None;
    }

    fn removed_operation(&mut self, old: &Op<'_>) {
        let at = At::same(format!("/paths/{}/{}", escape(old.path), old.method));
        let name = format!("{} {}", old.method.to_uppercase(), old.path);
        let deprecated = is_true(old.op.get("deprecated"));
        let today = self.options.today.clone();
        match (deprecated, sunset(self.old_root, old)) {
            (true, Some(date)) if today.as_deref().is_some_and(|t| t >= date.as_str()) => {
                let msg = format!("{name} removed after its sunset date {date}");
                self.push(
                    "operation-removed-after-sunset",
                    &at,
                    Direction::Both,
                    NEUTRAL,
                    msg,
                );
            }
            (_, Some(date)) => {
                let msg = format!("{name} removed before its sunset date {date}");
                self.push("operation-removed-before-sunset", &at, Direction::Both, BOTH, msg);
            }
            (true, None) => {
                let msg = format!("deprecated {name} removed without a sunset date");
                self.push("deprecated-operation-removed", &at, Direction::Both, BOTH, msg);
            }
            (false, None) => self.push(
                "operation-removed",
                &at,
                Direction::Both,
                BOTH,
                format!("{name} removed"),
            ),
        }
    }

    fn operation_pair(&mut self, old: &Op<'_>, new: &Op<'_>, at: &At) {
        let renames: BTreeMap<String, String> = path_params(old.path)
            .into_iter()
            .zip(path_params(new.path))
            .filter(|(a, b)| a != b)
            .map(|(a, b)| (a.to_ascii_lowercase(), b.to_ascii_lowercase()))
            .collect();
        for (a, b) in &renames {
            let msg = format!("path parameter {{{a}}} renamed {{{b}}}: the URL is the same");
            self.push("path-parameter-renamed", at, Direction::Request, NEUTRAL, msg);
        }
        if !is_true(old.op.get("deprecated")) && is_true(new.op.get("deprecated")) {
            let msg = format!("{} is now deprecated", self.operation.clone().unwrap_or_default());
            self.push(
                "operation-deprecated",
                &at.join("deprecated"),
                Direction::Request,
                NEUTRAL,
                msg,
            );
        }
        self.parameters(old, new, at, &renames);
        self.request_body(old.op, new.op, at);
        self.responses(old.op, new.op, at);
        self.security(old.op, new.op, at);
    }

    /// Parameters by (in, lowercased name): path-item ones, overridden by
    /// the operation's.
    fn parameters(&mut self, old: &Op<'_>, new: &Op<'_>, at: &At, renames: &BTreeMap<String, String>) {
        let req = Direction::Request;
        let params = |root: &Value, op: &Op<'_>| -> BTreeMap<(String, String), Value> {
            let list = |v: &Value| -> Vec<Value> {
                v.get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|p| resolve(root, p, String::new()).0.clone())
                    .collect()
            };
            let mut out = BTreeMap::new();
            for p in list(op.item).into_iter().chain(list(op.op)) {
                let key = p
                    .get("in")
                    .and_then(Value::as_str)
                    .zip(p.get("name").and_then(Value::as_str));
                if let Some((loc, name)) = key {
                    out.insert((loc.to_owned(), name.to_ascii_lowercase()), p.clone());
                }
            }
            out
        };
        let mut op = params(self.old_root, old);
        let np = params(self.new_root, new);
        for (from, to) in renames {
            if let Some(p) = op.remove(&("path".to_owned(), from.clone())) {
                op.insert(("path".to_owned(), to.clone()), p);
            }
        }
        let ps = at.join("parameters");
        for ((loc, name), p) in &np {
            let ptr = ps.join(loc).join(name);
            let required = is_true(p.get("required"));
            let Some(old_p) = op.get(&(loc.clone(), name.clone())) else {
                if required {
                    let msg = format!("required {loc} parameter {name} added");
                    self.push("parameter-added-required", &ptr, req, TIGHTENS, msg);
                } else {
                    let msg = format!("optional {loc} parameter {name} added");
                    self.push("parameter-added-optional", &ptr, req, NEUTRAL, msg);
                }
                continue;
            };
            match (is_true(old_p.get("required")), required) {
                (false, true) => {
                    let msg = format!("{loc} parameter {name} is now required");
                    self.push("parameter-became-required", &ptr, req, TIGHTENS, msg);
                }
                (true, false) => {
                    let msg = format!("{loc} parameter {name} is no longer required");
                    self.push("parameter-became-optional", &ptr, req, LOOSENS, msg);
                }
                _ => {}
            }
            if let (Some(os), Some(ns)) = (old_p.get("schema"), p.get("schema")) {
                let s = ptr.join("schema");
                self.schema(os, ns, s.old, s.new, req, 0);
            }
        }
        for (loc, name) in op.keys().filter(|k| !np.contains_key(*k)) {
            let msg = format!("{loc} parameter {name} removed");
            self.push("parameter-removed", &ps.join(loc).join(name), req, LOOSENS, msg);
        }
    }

    fn request_body(&mut self, old: &Value, new: &Value, at: &At) {
        let req = Direction::Request;
        let ob = old
            .get("requestBody")
            .map(|b| resolve(self.old_root, b, String::new()).0);
        let nb = new
            .get("requestBody")
            .map(|b| resolve(self.new_root, b, String::new()).0);
        let required = |b: Option<&Value>| b.is_some_and(|b| is_true(b.get("required")));
        let body = at.join("requestBody");
        match (ob, nb) {
            (Some(_), None) => {
                let msg = "the request body was removed".into();
                self.push("request-body-removed", &body, req, BOTH, msg);
            }
            (None, Some(_)) if !required(nb) => {
                let msg = "an optional request body was added".into();
                self.push("request-body-added", &body, req, NEUTRAL, msg);
            }
            _ => {}
        }
        if !required(ob) && required(nb) {
            let msg = "the request body is now required".into();
            self.push(
                "request-body-became-required",
                &body.join("required"),
                req,
                TIGHTENS,
                msg,
            );
        }
        if let (Some(ob), Some(nb)) = (ob, nb) {
            self.content(ob, nb, &body.join("content"), req);
        }
    }

    fn responses(&mut self, old: &Value, new: &Value, at: &At) {
        let empty = Map::new();
        let ors = old.get("responses").and_then(Value::as_object).unwrap_or(&empty);
        let nrs = new.get("responses").and_then(Value::as_object).unwrap_or(&empty);
        let res = Direction::Response;
        let rs = at.join("responses");
        for (status, nr) in nrs {
            let ptr = rs.join(status);
            let Some(or) = ors.get(status) else {
                self.push(
                    "response-status-added",
                    &ptr,
                    res,
                    LOOSENS,
                    format!("response {status} added"),
                );
                continue;
            };
            let or = resolve(self.old_root, or, String::new()).0;
            let nr = resolve(self.new_root, nr, String::new()).0;
            self.content(or, nr, &ptr.join("content"), res);
            self.headers(or, nr, &ptr.join("headers"));
        }
        for status in ors.keys().filter(|k| !nrs.contains_key(*k)) {
            let ptr = rs.join(status);
            if status.starts_with('2') {
                let msg = format!("success response {status} removed");
                self.push("response-success-status-removed", &ptr, res, BOTH, msg);
            } else {
                self.push(
                    "response-status-removed",
                    &ptr,
                    res,
                    TIGHTENS,
                    format!("response {status} removed"),
                );
            }
        }
    }

    fn headers(&mut self, old: &Value, new: &Value, at: &At) {
        let res = Direction::Response;
        let headers = |root: &Value, r: &Value| -> BTreeMap<String, Value> {
            r.get("headers")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, h)| (k.to_ascii_lowercase(), resolve(root, h, String::new()).0.clone()))
                .collect()
        };
        let (oh, nh) = (headers(self.old_root, old), headers(self.new_root, new));
        for (name, h) in &nh {
            let ptr = at.join(name);
            let Some(o) = oh.get(name) else {
                self.push(
                    "response-header-added",
                    &ptr,
                    res,
                    NEUTRAL,
                    format!("response header {name} added"),
                );
                continue;
            };
            if is_true(o.get("required")) && !is_true(h.get("required")) {
                let msg = format!("response header {name} is no longer required");
                self.push("response-header-became-optional", &ptr, res, LOOSENS, msg);
            }
            if let (Some(os), Some(ns)) = (o.get("schema"), h.get("schema")) {
                let s = ptr.join("schema");
                self.schema(os, ns, s.old, s.new, res, 0);
            }
        }
        for (name, o) in &oh {
            if !nh.contains_key(name) && is_true(o.get("required")) {
                let msg = format!("required response header {name} removed");
                self.push("response-header-removed", &at.join(name), res, LOOSENS, msg);
            }
        }
    }

    fn security(&mut self, old: &Value, new: &Value, at: &At) {
        let req = Direction::Request;
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
        let ptr = at.join("security");
        for s in ns.difference(&os) {
            self.push(
                "security-added",
                &ptr,
                req,
                TIGHTENS,
                format!("security scheme {s} added"),
            );
        }
        for s in os.difference(&ns) {
            self.push(
                "security-removed",
                &ptr,
                req,
                LOOSENS,
                format!("security scheme {s} removed"),
            );
        }
    }

    /// Compares the `content` maps of two bodies.
    fn content(&mut self, old: &Value, new: &Value, at: &At, dir: Direction) {
        let empty = Map::new();
        let oc = old.get("content").and_then(Value::as_object).unwrap_or(&empty);
        let nc = new.get("content").and_then(Value::as_object).unwrap_or(&empty);
        for (media, nm) in nc {
            let ptr = at.join(media);
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
                        let s = ptr.join("schema");
                        self.schema(os, ns, s.old, s.new, dir, 0);
                    }
                }
            }
        }
        for media in oc.keys().filter(|k| !nc.contains_key(*k)) {
            let msg = format!("media type {media} removed");
            self.push("media-type-removed", &at.join(media), dir, BOTH, msg);
        }
    }
}
