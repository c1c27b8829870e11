//! The receiving side the harness plays while it certifies a role that
//! calls back: the core for a supplier (acknowledgements, ASNs) or a WMS
//! (receipts); the supplier, the ERP and the WMS for a core. It serves
//! every operation of those counterparts from the operations table,
//! validates what arrives against the contract, records it, and answers
//! with the operation's first success status and a valid body.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::Notify;

use contracts::http::IDEMPOTENCY_KEY;
use contracts::routes::{OPERATIONS, Operation};
use contracts::{Direction, Exchange, Problem, Role, Validator};
use simulators::recorder::{Recorder, now_us};

use super::docs::DocGen;

/// The roles a certified role calls back.
pub fn counterparts(role: Role) -> &'static [Role] {
    match role {
        Role::Core => &[Role::Supplier, Role::Erp, Role::Wms],
        _ => &[Role::Core],
    }
}

/// One request the target made to the harness.
#[derive(Debug, Clone)]
pub struct Callback {
    pub method: String,
    pub path: String,
    /// The operation it matched, if any.
    pub operation: Option<&'static Operation>,
    pub idempotency_key: Option<String>,
    pub body: Option<Value>,
    /// What is wrong with it (empty: valid).
    pub problems: Vec<String>,
    /// When it arrived.
    pub at: std::time::Instant,
}

/// What arrived so far, shared with the server.
#[derive(Debug, Default)]
pub struct Received {
    calls: Mutex<Vec<Callback>>,
    arrived: Notify,
}

impl Received {
    pub fn all(&self) -> Vec<Callback> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until `found` holds for what arrived, or `timeout`; returns
    /// whether it held.
    pub async fn wait_for(&self, timeout: Duration, found: impl Fn(&[Callback]) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            if found(&self.calls.lock().unwrap_or_else(|e| e.into_inner())) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return found(&self.calls.lock().unwrap_or_else(|e| e.into_inner()));
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Ctx {
    roles: &'static [Role],
    received: Arc<Received>,
    validator: Arc<Validator>,
    recorder: Recorder,
    peer: Role,
    docs: DocGen,
}

/// The router of the receiving side for certifying `role`.
pub fn app(role: Role, received: Arc<Received>, recorder: Recorder, docs: DocGen) -> Router {
    let ctx = Ctx {
        roles: counterparts(role),
        received,
        validator: Arc::new(Validator::new()),
        recorder,
        peer: role,
        docs,
    };
    Router::new().fallback(receive).with_state(ctx)
}

fn problem(status: u16, slug: &str, title: &str, detail: String) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(Problem::new(status, slug, title).with_detail(detail)),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(contracts::problem::PROBLEM_JSON),
    );
    r
}

/// The decision the harness, playing the WMS, gives on `release`: accepted,
/// every line accepted, a warehouse order id derived from the order.
pub fn accept_release(release: &Value) -> Value {
    let lines: Vec<Value> = release["lines"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|l| serde_json::json!({"line_no": l["line_no"], "decision": "accepted"}))
        .collect();
    let order = release["order_number"].as_str().unwrap_or_default();
    serde_json::json!({
        "order_number": order,
        "order_version": release["version"],
        "decision": "accepted",
        "warehouse_order_id": format!("WO-{order}"),
        "decided_at": "2026-11-22T09:15:02Z",
        "lines": lines,
    })
}

/// A valid answer of type `response` to `request`: for an order release,
/// its acceptance ([`accept_release`]); else the contract's example, with
/// every top-level string member the request shares copied over.
fn answer_body(ctx: &Ctx, response: &str, request: &Value) -> Value {
    if response == "OrderReleaseDecision" {
        return accept_release(request);
    }
    let mut doc = ctx.docs.document(response, 0).unwrap_or(Value::Null);
    if let (Value::Object(out), Value::Object(req)) = (&mut doc, request) {
        for (k, v) in out.iter_mut() {
            if let Some(Value::String(s)) = req.get(k)
                && v.is_string()
            {
                *v = Value::String(s.clone());
            }
        }
    }
    doc
}

async fn receive(
    State(ctx): State<Ctx>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let at = std::time::Instant::now();
    let started_at_us = now_us();
    let path = uri.path().to_owned();
    let operation = OPERATIONS
        .iter()
        .find(|o| ctx.roles.contains(&o.role) && o.method == method.as_str() && o.path == path);
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Option<Value> = serde_json::from_slice(&bytes).ok();
    let mut problems = Vec::new();
    let response = match operation {
        None => {
            problems.push(format!("{method} {path} is not an operation of the contract"));
            problem(
                404,
                "not-found",
                "no such operation",
                format!("{method} {path} is no operation the certified role may call"),
            )
        }
        Some(op) => {
            if op.idempotency_key && key.is_none() {
                problems.push("no Idempotency-Key header".into());
            }
            match &body {
                None => problems.push("the body is not JSON".into()),
                Some(doc) => match ctx.validator.validate(op.request, doc) {
                    Ok(findings) => problems.extend(
                        findings
                            .iter()
                            .map(|f| format!("breaks the {} contract: {f}", op.request)),
                    ),
                    Err(e) => problems.push(format!("unknown schema: {e}")),
                },
            }
            if problems.is_empty() {
                let status = StatusCode::from_u16(op.success[0]).unwrap_or(StatusCode::OK);
                let doc = answer_body(&ctx, op.response, body.as_ref().unwrap_or(&Value::Null));
                (status, axum::Json(doc)).into_response()
            } else {
                problem(
                    422,
                    "invalid-document",
                    "request breaks the contract",
                    problems.join("; "),
                )
            }
        }
    };
    let status = response.status().as_u16();
    ctx.recorder
        .record(Exchange {
            seq: 0,
            party: Role::Harness,
            peer: ctx.peer,
            direction: Direction::Inbound,
            method: method.to_string(),
            endpoint: path.clone(),
            status: Some(status),
            error: None,
            started_at_us,
            finished_at_us: now_us(),
            idempotency_key: key.clone(),
            trace_id: simulators::trace_of(&headers).map(|t| t.trace_id),
            replayed: false,
            fault: None,
            handler_status: None,
            request: body.clone(),
            response: None,
        })
        .await;
    ctx.received
        .calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Callback {
            method: method.to_string(),
            path,
            operation,
            idempotency_key: key,
            body,
            problems,
            at,
        });
    ctx.received.arrived.notify_waiters();
    response
}
