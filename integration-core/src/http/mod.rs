//! The core's HTTP surface. Every intake endpoint: Idempotency-Key required,
//! body parsed against its contract, then one store transaction; the answer
//! is sent only after the commit.
//!
//! **Layer**: the top but for the crate root's wiring. Imports the flows,
//! the outbox (the events each intake queues), the store, `db`, `error` and
//! `clock`; nothing below imports http. Inside: this file (router,
//! handlers, the one middleware) → `release` → `request`, `state` →
//! `config` → `auth`; `metrics`, `server` stand alone.

pub mod auth;
pub mod config;
mod intake;
pub(crate) mod metrics;
mod release;
mod request;
pub(crate) mod server;
pub(crate) mod state;
pub mod x12;

use std::sync::Arc;

use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use contracts::Role;
use contracts::http::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, TRACEPARENT, TraceParent};
use contracts::inbound::{GoodsReceipt, PurchaseOrder};
use contracts::inventory::{InventoryAdjustment, InventorySnapshot};
use contracts::outbound::ShipmentConfirmation;
use contracts::routes::{self, core};

use contracts::ops::{ReplayRequest, ReplayResult, Trace};

use crate::clock::now_us;
use crate::error::ApiError;
use crate::flows;
use crate::outbox::events;
use crate::store::{ReplaySelection, Tx};
use auth::Caller;
use intake::Incoming;
use request::{key_and_body, parse, readable};
use state::CoreState;

/// Largest request body the core reads.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Takes in one JSON document: `key` gives its business key, `apply` its
/// effects ([`intake::admit`]).
// One parameter per aspect of an intake; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
async fn take_in<T>(
    state: Arc<CoreState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    kind: &'static str,
    endpoint: &'static str,
    key: impl FnOnce(&T) -> String,
    apply: impl Fn(&Tx<'_>, &T) -> Result<(), ApiError> + Send + 'static,
) -> Result<Response, ApiError>
where
    T: DeserializeOwned + Send + 'static,
{
    let (idempotency_key, body) = key_and_body(&headers, body)?;
    let (doc, payload) = parse::<T>(kind, &body)?;
    let incoming = Incoming {
        doc,
        payload,
        idempotency_key,
        trace_id: intake::trace_id_of(&headers),
    };
    let answer = intake::admit(&state, &caller, incoming, (kind, endpoint), key, apply).await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, axum::Json(answer.ack)).into_response();
    if answer.replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

async fn purchase_order(
    State(s): State<Arc<CoreState>>,
    Extension(c): Extension<Caller>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    take_in(
        s,
        c,
        h,
        b,
        "purchase_order",
        core::PURCHASE_ORDERS,
        |po: &PurchaseOrder| format!("{}:v{}", po.po_number, po.version),
        flows::purchase_order,
    )
    .await
}

async fn acknowledgement(
    State(s): State<Arc<CoreState>>,
    Extension(c): Extension<Caller>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    take_in(
        s,
        c,
        h,
        b,
        "po_acknowledgement",
        core::PO_ACKNOWLEDGEMENTS,
        intake::acknowledgement_key,
        flows::acknowledgement,
    )
    .await
}

async fn asn(
    State(s): State<Arc<CoreState>>,
    Extension(c): Extension<Caller>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    take_in(s, c, h, b, "asn", core::ASNS, intake::asn_key, flows::asn).await
}

async fn goods_receipt(
    State(s): State<Arc<CoreState>>,
    Extension(c): Extension<Caller>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let apply = match s.config.ignore_stale_receipts {
        true => flows::goods_receipt,
        false => flows::goods_receipt_applying_stale,
    };
    take_in(
        s,
        c,
        h,
        b,
        "goods_receipt",
        core::GOODS_RECEIPTS,
        |r: &GoodsReceipt| r.event_id.clone(),
        apply,
    )
    .await
}

async fn shipment_confirmation(
    State(s): State<Arc<CoreState>>,
    Extension(c): Extension<Caller>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let events = s.config.events.clone();
    take_in(
        s,
        c,
        h,
        b,
        "shipment_confirmation",
        core::SHIPMENT_CONFIRMATIONS,
        |c: &ShipmentConfirmation| c.event_id.clone(),
        move |tx, sc| {
            flows::outbound::shipment_confirmation(tx, sc)?;
            events::shipment_confirmed(tx, events.as_ref(), sc)
        },
    )
    .await
}

async fn invoice(
    State(s): State<Arc<CoreState>>,
    Extension(c): Extension<Caller>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let config = s.config.invoicing;
    take_in(
        s,
        c,
        h,
        b,
        "invoice",
        core::INVOICES,
        intake::invoice_key,
        move |tx, i| flows::invoicing::invoice(tx, i, config),
    )
    .await
}

async fn inventory_adjustment(
    State(s): State<Arc<CoreState>>,
    Extension(c): Extension<Caller>,
    h: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let dedup = s.config.adjustment_dedup;
    let events = s.config.events.clone();
    take_in(
        s,
        c,
        h,
        b,
        "inventory_adjustment",
        core::INVENTORY_ADJUSTMENTS,
        |a: &InventoryAdjustment| a.source_event_id.clone(),
        move |tx, a| {
            // Weakened (tests only): a key per message, so a redelivery
            // becomes a second ERP adjustment.
            let key = if dedup {
                format!("adjustment:{}", a.source_event_id)
            } else {
                format!("adjustment:MSG-{}", tx.message_id)
            };
            flows::inventory::adjustment(tx, a, &key)?;
            events::inventory_adjusted(tx, events.as_ref(), a)
        },
    )
    .await
}

/// A stored JSON answer.
fn stored_json(status: StatusCode, body: String, replayed: bool) -> Response {
    let mut r = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if replayed {
        r.headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    r
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Storage(format!("store task failed: {e}")))?
}

/// Reads one partner's inventory snapshot on `trace`.
async fn snapshot(
    s: &CoreState,
    partner: Role,
    base: &str,
    path: &str,
    trace: &TraceParent,
) -> Result<InventorySnapshot, ApiError> {
    let unavailable = |detail: String| {
        ApiError::refused(
            502,
            "snapshot-unavailable",
            "a partner's inventory snapshot could not be read",
            String::new(),
            detail,
        )
    };
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let resp = s
        .http
        .get(&url)
        .header(TRACEPARENT, trace.child(rand::random()).header_value())
        .send()
        .await
        .map_err(|e| unavailable(format!("GET {url} ({partner}): {e}")))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| unavailable(format!("GET {url} ({partner}): reading the body: {e}")))?;
    if !status.is_success() {
        return Err(unavailable(format!("GET {url} ({partner}) answered {status}")));
    }
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| unavailable(format!("GET {url} ({partner}): not JSON: {e}")))?;
    let findings = s
        .validator
        .validate("InventorySnapshot", &value)
        .expect("InventorySnapshot is a catalog type");
    if let Some(f) = findings.first() {
        return Err(unavailable(format!(
            "GET {url} ({partner}): the snapshot breaks its contract: {f}"
        )));
    }
    InventorySnapshot::deserialize(&value).map_err(|e| unavailable(format!("GET {url} ({partner}): {e}")))
}

/// `POST /v1/ops/reconciliations` (Idempotency-Key required): compares the
/// ERP's and the WMS's on-hand and corrects the ERP, one adjustment per gap.
async fn reconcile(State(s): State<Arc<CoreState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::MissingIdempotencyKey)?
        .to_owned();
    let _one_at_a_time = s.reconciling.lock().await;
    let (store, k) = (s.store.clone(), key.clone());
    if let Some(body) = blocking(move || Ok(store.read(move |c| flows::inventory::by_key(c, &k))?)).await? {
        return Ok(stored_json(StatusCode::CREATED, body, true));
    }
    let store = s.store.clone();
    let pending = blocking(move || Ok(store.read(flows::inventory::pending_adjustments)?)).await?;
    if pending > 0 && s.config.reconciliation_guard {
        return Err(ApiError::refused(
            409,
            "adjustments-in-flight",
            "adjustments to the ERP are still being delivered",
            String::new(),
            format!(
                "{pending} adjustment(s) to the ERP are pending in the outbox; retry once they are delivered"
            ),
        ));
    }
    let trace = TraceParent::from_random(rand::random(), rand::random());
    let partners = &s.config.partners;
    let erp_snap = snapshot(
        &s,
        Role::Erp,
        &partners.erp,
        routes::erp::INVENTORY_SNAPSHOT,
        &trace,
    )
    .await?;
    let wms_snap = snapshot(
        &s,
        Role::Wms,
        &partners.wms,
        routes::wms::INVENTORY_SNAPSHOT,
        &trace,
    )
    .await?;
    let store = s.store.clone();
    let result = blocking(move || {
        store.ops_transaction(&trace.trace_id, now_us(), move |tx| {
            flows::inventory::reconcile(tx, &key, &erp_snap, &wms_snap)
        })
    })
    .await?;
    s.outbox_notify.notify_one();
    Ok((StatusCode::CREATED, axum::Json(result)).into_response())
}

/// `GET /v1/ops/reconciliations/{reconciliation_id}`: a stored result.
async fn reconciliation(
    State(s): State<Arc<CoreState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (store, wanted) = (s.store.clone(), id.clone());
    match blocking(move || Ok(store.read(move |c| flows::inventory::by_id(c, &wanted))?)).await? {
        Some(body) => Ok(stored_json(StatusCode::OK, body, false)),
        None => Err(ApiError::refused(
            404,
            "unknown-reconciliation",
            "no such reconciliation",
            String::new(),
            format!("the core holds no reconciliation {id}"),
        )),
    }
}

async fn ops_status(State(s): State<Arc<CoreState>>) -> Result<Response, ApiError> {
    let store = s.store.clone();
    let status = tokio::task::spawn_blocking(move || store.ops_status())
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))??;
    Ok(axum::Json(status).into_response())
}

/// `GET /v1/ops/dead-letters`: deliveries given up on, oldest first.
async fn dead_letters(State(s): State<Arc<CoreState>>) -> Result<Response, ApiError> {
    let store = s.store.clone();
    let letters = tokio::task::spawn_blocking(move || store.dead_letters(1000))
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))??;
    Ok(axum::Json(letters).into_response())
}

/// `POST /v1/ops/dead-letters/replay` with `{"ids": [..]}`, `{"all": true}`
/// or `{"from_us": .., "to_us": ..}`: back into the outbox, same keys.
async fn replay(
    State(s): State<Arc<CoreState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = readable(body)?;
    let which: ReplayRequest = serde_json::from_slice(&body).map_err(|e| ApiError::InvalidDocument {
        document: "replay selection",
        detail: format!("expected {{\"ids\": [..]}}, {{\"all\": true}} or {{\"from_us\", \"to_us\"}}: {e}"),
    })?;
    let selection = match which {
        ReplayRequest::Ids { ids } => ReplaySelection::Ids(ids),
        ReplayRequest::All { all: true } => ReplaySelection::All,
        ReplayRequest::All { all: false } => ReplaySelection::Ids(Vec::new()),
        ReplayRequest::Range { from_us, to_us } => ReplaySelection::CreatedBetween { from_us, to_us },
    };
    let store = s.store.clone();
    let replayed = tokio::task::spawn_blocking(move || store.replay_dead_letters(&selection, now_us()))
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))??;
    s.outbox_notify.notify_one();
    tracing::info!(replayed, "dead letters replayed");
    Ok(axum::Json(ReplayResult {
        replayed: replayed as u64,
    })
    .into_response())
}

/// `GET /v1/trace/{trace_id}`: the hops of one business flow, from the store.
async fn trace(State(s): State<Arc<CoreState>>, Path(trace_id): Path<String>) -> Result<Response, ApiError> {
    if trace_id.len() != 32 || !trace_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ApiError::refused(
            400,
            "bad-trace-id",
            "not a W3C trace id",
            String::new(),
            format!("expected 32 lowercase hex digits, found {trace_id:?}"),
        ));
    }
    let store = s.store.clone();
    let id = trace_id.clone();
    let hops = tokio::task::spawn_blocking(move || store.trace(&id))
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))??;
    if hops.is_empty() {
        return Err(ApiError::refused(
            404,
            "unknown-trace",
            "no such trace",
            String::new(),
            format!("the core holds no message or delivery of trace {trace_id}"),
        ));
    }
    Ok(axum::Json(Trace { trace_id, hops }).into_response())
}

/// `GET /metrics`: Prometheus text.
async fn metrics(State(s): State<Arc<CoreState>>) -> Result<Response, ApiError> {
    let store = s.store.clone();
    let (inbox, outbox) = tokio::task::spawn_blocking(move || store.metrics())
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))??;
    let text = metrics::render(&s.metrics, &inbox, &outbox);
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

/// The core's OpenAPI document, the same as `contracts/openapi/core.json`.
async fn openapi() -> axum::Json<serde_json::Value> {
    axum::Json(contracts::openapi::document(Role::Core))
}

async fn not_found() -> ApiError {
    ApiError::refused(
        404,
        "not-found",
        "no such endpoint",
        String::new(),
        "the core serves no such path".into(),
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::refused(
        405,
        "method-not-allowed",
        "method not allowed",
        String::new(),
        "this path does not serve that method".into(),
    )
}

/// The router's one middleware: counts and times every request by its
/// route template (unmatched paths count as `other`, so a scan cannot grow
/// the label set), refused ones too, and admits it
/// ([`auth::admit`]) before the router sees it.
pub(crate) async fn observe(State(state): State<Arc<CoreState>>, mut req: Request, next: Next) -> Response {
    let route = metrics::route_of(req.uri().path());
    let method = metrics::method_label(req.method());
    let started = Instant::now();
    let response = match auth::admit(&state.config.credentials, state.limiter.as_ref(), &mut req) {
        None => next.run(req).await,
        Some(refused) => refused,
    };
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.record(method, route, status, seconds);
    if route != core::METRICS {
        tracing::debug!(%method, %route, status, ms = seconds * 1000.0, "request");
    }
    response
}

/// The core's router.
pub fn router(state: Arc<CoreState>) -> Router {
    Router::new()
        .route(core::PURCHASE_ORDERS, post(purchase_order))
        .route(core::PO_ACKNOWLEDGEMENTS, post(acknowledgement))
        .route(core::ASNS, post(asn))
        .route(core::GOODS_RECEIPTS, post(goods_receipt))
        .route(core::ORDER_RELEASES, post(release::order_release))
        .route(core::SHIPMENT_CONFIRMATIONS, post(shipment_confirmation))
        .route(core::INVOICES, post(invoice))
        .route(core::X12_INTERCHANGES, post(x12::interchange))
        .route(core::INVENTORY_ADJUSTMENTS, post(inventory_adjustment))
        .route(core::OPS_RECONCILIATIONS, post(reconcile))
        .route(core::OPS_RECONCILIATION, get(reconciliation))
        .route(core::OPS_STATUS, get(ops_status))
        .route("/openapi.json", get(openapi))
        .route(core::OPS_DEAD_LETTERS, get(dead_letters))
        .route(core::OPS_DEAD_LETTER_REPLAY, post(replay))
        .route(core::OPS_TRACE, get(trace))
        .route(core::METRICS, get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        // One middleware: it times and counts every request, refused ones
        // too, and authenticates it (see `observe`).
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}
