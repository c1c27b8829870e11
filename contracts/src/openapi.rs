//! OpenAPI 3.1 documents, one per role, generated from
//! [`crate::routes::OPERATIONS`] and the schema catalog.
//!
//! Each document is self-contained: the catalog schemas its operations use
//! are bundled under `components/schemas` (their `$defs` hoisted beside them,
//! `#/$defs/X` rewritten to `#/components/schemas/X`). Every operation has its
//! request and success bodies, the Idempotency-Key and traceparent headers,
//! bearer security, and 400/401/403/404/409/422/429/503 answers as
//! `application/problem+json`. The documents are committed under
//! `contracts/openapi/`; the `openapi_documents_are_fresh` test fails (and
//! rewrites them) when one is stale.

use serde_json::{Map, Value, json};

use crate::problem::PROBLEM_JSON;
use crate::routes::{OPERATIONS, Operation, Role};
use crate::schema::catalog;

/// The roles that serve an API, each with its own document.
pub const ROLES: [Role; 4] = [Role::Erp, Role::Wms, Role::Supplier, Role::Core];

/// Error answers every operation documents: (status, component name, description).
pub const ERROR_RESPONSES: [(u16, &str, &str); 8] = [
    (
        400,
        "BadRequest",
        "The request is malformed or lacks a required header such as Idempotency-Key.",
    ),
    (401, "Unauthorized", "No valid bearer token."),
    (403, "Forbidden", "The caller may not act on this resource."),
    (404, "NotFound", "No such resource."),
    (
        409,
        "Conflict",
        "A request with this Idempotency-Key is in flight, or the business key is known with a different payload.",
    ),
    (
        422,
        "UnprocessableContent",
        "The body breaks the contract, or the Idempotency-Key was used with a different body.",
    ),
    (429, "TooManyRequests", "Rate limited; retry after Retry-After."),
    (
        503,
        "ServiceUnavailable",
        "Temporarily unavailable; retry after Retry-After.",
    ),
];

fn title(role: Role) -> &'static str {
    match role {
        Role::Erp => "crossdock ERP API",
        Role::Wms => "crossdock WMS API",
        Role::Supplier => "crossdock supplier API",
        Role::Core => "crossdock integration core API",
        Role::Harness => "crossdock harness",
    }
}

fn status_text(op: &Operation, status: u16) -> &'static str {
    match status {
        200 if op.success == [200] => {
            "The decision, accepted or rejected; a repeat with the same Idempotency-Key gets the stored one."
        }
        200 => "Already known: the stored answer of the first request.",
        201 => "Created: the message is durable.",
        202 => "Accepted for processing.",
        _ => "Success.",
    }
}

/// The indefinite article before a type name: "an Invoice", "a PurchaseOrder".
pub(crate) fn article(name: &str) -> &'static str {
    match name.bytes().next() {
        Some(b'A' | b'E' | b'I' | b'O' | b'U') => "an",
        _ => "a",
    }
}

/// `postAdvanceShipNotice` for a POST taking an `AdvanceShipNotice`. When
/// an earlier operation of the same role already takes that type, named
/// after the path instead (`postInboundExpectationUpdates` for
/// `/v1/inbound-expectation-updates`), so ids stay unique.
pub fn operation_id(op: &Operation) -> String {
    let method = op.method.to_ascii_lowercase();
    let first_taking_it = crate::routes::OPERATIONS
        .iter()
        .find(|o| o.role == op.role && o.method == op.method && o.request == op.request)
        .is_none_or(|o| o.path == op.path);
    if !first_taking_it {
        let last = op.path.rsplit('/').next().unwrap_or(op.path);
        let camel: String = last
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        return format!("{method}{camel}");
    }
    if op.request.is_empty() {
        format!("{method}{}", op.response)
    } else {
        format!("{method}{}", op.request)
    }
}

/// The OpenAPI 3.1 document of everything `role` serves.
///
/// # Panics
/// When two catalog schemas define the same `$defs` name differently: a bug
/// in this crate, caught by its tests.
pub fn document(role: Role) -> Value {
    let ops: Vec<&Operation> = OPERATIONS.iter().filter(|o| o.role == role).collect();
    let mut schemas = Map::new();
    let mut paths = Map::new();
    let catalog = catalog();
    let mut bundle = |name: &str| {
        let (_, schema) = catalog
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("operation names unknown schema {name}"));
        add_schema(&mut schemas, name, schema);
    };
    bundle("Problem");
    for op in &ops {
        if !op.request.is_empty() {
            bundle(op.request);
        }
        bundle(op.response);
        let mut parameters = vec![json!({"$ref": "#/components/parameters/TraceParent"})];
        if op.idempotency_key {
            parameters.insert(0, json!({"$ref": "#/components/parameters/IdempotencyKey"}));
        }
        let mut responses = Map::new();
        for status in op.success {
            responses.insert(
                status.to_string(),
                json!({
                    "description": status_text(op, *status),
                    "headers": {
                        "Idempotent-Replayed": {"$ref": "#/components/headers/IdempotentReplayed"}
                    },
                    "content": {
                        "application/json": {"schema": {"$ref": format!("#/components/schemas/{}", op.response)}}
                    }
                }),
            );
        }
        for (status, name, _) in ERROR_RESPONSES {
            responses.insert(
                status.to_string(),
                json!({"$ref": format!("#/components/responses/{name}")}),
            );
        }
        let mut operation = json!({
            "operationId": operation_id(op),
            "summary": format!("Submit {} {}", article(op.request), op.request),
            "parameters": parameters,
            "requestBody": {
                "required": true,
                "content": {
                    "application/json": {"schema": {"$ref": format!("#/components/schemas/{}", op.request)}}
                }
            },
            "responses": responses,
        });
        if op.request.is_empty() {
            // A read: no body to submit.
            let o = operation.as_object_mut().expect("an operation is an object");
            o.remove("requestBody");
            o.insert("summary".into(), json!(format!("Read the {}", op.response)));
        }
        let item = paths.entry(op.path).or_insert_with(|| Value::Object(Map::new()));
        item[op.method.to_ascii_lowercase()] = operation;
    }

    if role == Role::Core {
        for op in &OPS_OPERATIONS {
            op.request.into_iter().chain(op.response).for_each(&mut bundle);
            let item = paths.entry(op.path).or_insert_with(|| Value::Object(Map::new()));
            item[op.method.to_ascii_lowercase()] = ops_operation(op);
        }
    }

    let mut responses = Map::new();
    for (status, name, description) in ERROR_RESPONSES {
        let mut response = json!({
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        });
        if status == 429 || status == 503 {
            response["headers"] = json!({"Retry-After": {"$ref": "#/components/headers/RetryAfter"}});
        }
        responses.insert(name.to_owned(), response);
    }

    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": title(role),
            "version": "1",
            "description": format!(
                "What a {role} serves in a crossdock integration, version 1. Generated from contracts::routes::OPERATIONS; do not edit."
            ),
        },
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"}
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": true,
                    "description": "One key per mutating request; a retry reuses it with an identical body (IETF httpapi Idempotency-Key).",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255}
                },
                "TraceParent": {
                    "name": "traceparent",
                    "in": "header",
                    "required": false,
                    "description": "W3C trace context, carried on every hop of one business flow.",
                    "schema": {"type": "string", "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"}
                }
            },
            "headers": {
                "IdempotentReplayed": {
                    "description": "true when the answer is the stored answer of an earlier request with the same Idempotency-Key.",
                    "schema": {"type": "string", "enum": ["true"]}
                },
                "RetryAfter": {
                    "description": "Seconds to wait, or an HTTP date (RFC 9110).",
                    "schema": {"type": "string"}
                }
            },
            "responses": responses,
            "schemas": schemas,
        }
    })
}

/// Adds catalog schema `name` and its `$defs` to `schemas`, rewriting refs.
pub(crate) fn add_schema(schemas: &mut Map<String, Value>, name: &str, schema: &Value) {
    let mut schema = schema.clone();
    rewrite_refs(&mut schema);
    let Value::Object(mut map) = schema else {
        panic!("schema {name} is not an object");
    };
    map.remove("$schema");
    map.remove("$id");
    if let Some(Value::Object(defs)) = map.remove("$defs") {
        for (def, body) in defs {
            insert_once(schemas, &def, body);
        }
    }
    insert_once(schemas, name, Value::Object(map));
}

fn insert_once(schemas: &mut Map<String, Value>, name: &str, body: Value) {
    match schemas.get(name) {
        Some(existing) if *existing != body => {
            panic!("two schemas named {name} differ; rename one of the types")
        }
        Some(_) => {}
        None => {
            schemas.insert(name.to_owned(), body);
        }
    }
}

fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                if let Some(def) = r.strip_prefix("#/$defs/") {
                    *r = format!("#/components/schemas/{def}");
                }
            }
            map.values_mut().for_each(rewrite_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// One of the core's operations endpoints: called with an operator's bearer
/// token, never by a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpsOperation {
    pub method: &'static str,
    pub path: &'static str,
    pub operation_id: &'static str,
    pub summary: &'static str,
    /// Schema name of the JSON request body, if any.
    pub request: Option<&'static str>,
    /// Schema name of the JSON 200 body; `None` for Prometheus text.
    pub response: Option<&'static str>,
    /// Error statuses it answers, beyond 401/403/429/503.
    pub errors: &'static [u16],
}

/// The core's operations endpoints, in its OpenAPI document beside the
/// business operations.
pub const OPS_OPERATIONS: [OpsOperation; 5] = [
    OpsOperation {
        method: "GET",
        path: crate::routes::core::OPS_STATUS,
        operation_id: "getOpsStatus",
        summary: "Inbox and outbox depth",
        request: None,
        response: Some("OpsStatus"),
        errors: &[],
    },
    OpsOperation {
        method: "GET",
        path: crate::routes::core::OPS_DEAD_LETTERS,
        operation_id: "listDeadLetters",
        summary: "Deliveries given up on, oldest first (at most 1000)",
        request: None,
        response: Some("DeadLetter"),
        errors: &[],
    },
    OpsOperation {
        method: "POST",
        path: crate::routes::core::OPS_DEAD_LETTER_REPLAY,
        operation_id: "replayDeadLetters",
        summary: "Put dead letters back in the outbox with their Idempotency-Key and body",
        request: Some("ReplayRequest"),
        response: Some("ReplayResult"),
        errors: &[400, 422],
    },
    OpsOperation {
        method: "GET",
        path: crate::routes::core::OPS_TRACE,
        operation_id: "getTrace",
        summary: "The hops of one business flow: intakes and deliveries with status, attempts and times",
        request: None,
        response: Some("Trace"),
        errors: &[404],
    },
    OpsOperation {
        method: "GET",
        path: crate::routes::core::METRICS,
        operation_id: "getMetrics",
        summary: "Prometheus text exposition: outbox depth, attempts, dead letters, intake counts and latency",
        request: None,
        response: None,
        errors: &[],
    },
];

fn ops_operation(op: &OpsOperation) -> Value {
    let body = match op.response {
        // The dead-letter list is an array of them.
        Some("DeadLetter") => json!({"application/json": {"schema": {
            "type": "array", "items": {"$ref": "#/components/schemas/DeadLetter"}
        }}}),
        Some(name) => {
            json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}})
        }
        None => json!({"text/plain; version=0.0.4": {"schema": {"type": "string"}}}),
    };
    let mut responses = Map::new();
    responses.insert("200".into(), json!({"description": "Success.", "content": body}));
    for (status, name, _) in ERROR_RESPONSES {
        if matches!(status, 401 | 403 | 429 | 503) || op.errors.contains(&status) {
            responses.insert(
                status.to_string(),
                json!({"$ref": format!("#/components/responses/{name}")}),
            );
        }
    }
    let mut operation = json!({
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": ["ops"],
        "responses": responses,
    });
    if let Some(request) = op.request {
        operation["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{request}")}}}
        });
    }
    if op.path.contains("{trace_id}") {
        operation["parameters"] = json!([{
            "name": "trace_id",
            "in": "path",
            "required": true,
            "description": "W3C trace id: 32 lowercase hex digits.",
            "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}
        }]);
    }
    operation
}
