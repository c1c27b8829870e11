//! Recognises a document's version and rewrites OpenAPI 3.0 schemas into
//! their 3.1 (JSON Schema 2020-12) meaning, so the differ knows one dialect:
//! - `nullable: true` → `"null"` added to `type`;
//! - boolean `exclusiveMinimum`/`exclusiveMaximum` → the numeric keyword
//!   (moving `minimum`/`maximum`), `false` dropped;
//! - `example` is documentation, like 3.1's `examples`: ignored by the differ.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::LoadError;

/// What kind of document was compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentKind {
    JsonSchema,
    Openapi,
}

impl DocumentKind {
    pub fn name(self) -> &'static str {
        match self {
            DocumentKind::JsonSchema => "JSON Schema",
            DocumentKind::Openapi => "OpenAPI document",
        }
    }
}

/// Recognises `doc`'s kind; rewrites a 3.0 document in place. Swagger 2.0
/// and unknown versions are refused, never compared as a schema.
pub fn prepare(doc: &mut Value, file: &Path) -> Result<DocumentKind, LoadError> {
    let Value::Object(map) = doc else {
        return Err(LoadError::NotAnObject {
            file: file.to_owned(),
        });
    };
    if map.contains_key("swagger") {
        return Err(LoadError::Swagger2 {
            file: file.to_owned(),
        });
    }
    let Some(version) = map.get("openapi") else {
        return Ok(DocumentKind::JsonSchema);
    };
    let version = match version {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if version.starts_with("3.0") {
        upgrade_30(doc);
    } else if !version.starts_with("3.1") {
        return Err(LoadError::UnknownVersion {
            file: file.to_owned(),
            pointer: "/openapi",
            version,
        });
    }
    Ok(DocumentKind::Openapi)
}

/// Rewrites every 3.0 schema keyword of the document into its 3.1 meaning.
fn upgrade_30(value: &mut Value) {
    match value {
        Value::Object(map) => {
            upgrade_schema_keywords(map);
            for v in map.values_mut() {
                upgrade_30(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(upgrade_30),
        _ => {}
    }
}

fn upgrade_schema_keywords(map: &mut Map<String, Value>) {
    if map.get("nullable") == Some(&Value::Bool(true)) {
        let typed = match map.get_mut("type") {
            Some(slot @ Value::String(_)) => {
                let t = slot.take();
                *slot = Value::Array(vec![t, "null".into()]);
                true
            }
            Some(Value::Array(ts)) => {
                if !ts.iter().any(|t| t == "null") {
                    ts.push("null".into());
                }
                true
            }
            _ => false,
        };
        if typed {
            map.remove("nullable");
        }
    } else if map.get("nullable") == Some(&Value::Bool(false)) {
        map.remove("nullable");
    }
    for (exclusive, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
        match map.get(exclusive) {
            Some(Value::Bool(true)) => {
                match map.remove(bound) {
                    Some(b) => map.insert(exclusive.into(), b),
                    None => map.remove(exclusive),
                };
            }
            Some(Value::Bool(false)) => {
                map.remove(exclusive);
            }
            _ => {}
        }
    }
}
