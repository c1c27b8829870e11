//! `POST /v1/order-releases`, the synchronous order release: the HTTP side
//! of [`crate::flows::outbound`] (which holds the rules, the tables and the
//! call to the WMS): the request read and checked, the answer a stored
//! decision, or a problem with `Retry-After` when the WMS could not decide.
//!
//! **Layer**: http. Imports the flows, the store, `clock`, `error` and
//! http's `request` and `state`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use contracts::Problem;
use contracts::http::{IDEMPOTENT_REPLAYED, RETRY_AFTER, TRACEPARENT, TraceParent};
use contracts::outbound::OrderRelease;

use super::request::{key_and_body, parse};
use super::state::CoreState;
use crate::error::{ApiError, problem_response};
use crate::flows::outbound::{
    Decided, Known, NoDecision, RELEASE_RETRY_AFTER_S, Wms, ask_wms, known, record_decision, record_key,
    rejection_on_failure,
};
use crate::store::payload_hash;

/// A problem answer with `Retry-After`: the ERP may retry, same key.
fn unavailable(status: u16, slug: &str, title: &str, detail: String, retry_after_s: u64) -> Response {
    let mut r = problem_response(Problem::new(status, slug, title).with_detail(detail));
    r.headers_mut().insert(
        RETRY_AFTER,
        HeaderValue::from_str(&retry_after_s.to_string()).expect("digits are a valid header"),
    );
    r
}

fn decision_response(answer: String, replayed: bool) -> Response {
    let mut r = (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        answer,
    )
        .into_response();
    if replayed {
        r.headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    r
}

/// The answer to a release the store already knows (by Idempotency-Key or
/// by (order_number, version)), or `None` for a new one.
async fn answer_if_known(
    s: &Arc<CoreState>,
    key: &str,
    hash: &str,
    order: &OrderRelease,
    business: &str,
) -> Result<Option<Response>, ApiError> {
    let lookup = {
        let (store, k, h, o) = (s.store.clone(), key.to_owned(), hash.to_owned(), order.clone());
        tokio::task::spawn_blocking(move || store.transaction(move |tx| known(tx, &k, &h, &o)))
            .await
            .map_err(|e| ApiError::Storage(format!("lookup task failed: {e}")))??
    };
    match lookup {
        Known::KeyReused => Err(ApiError::IdempotencyKeyReused { key: key.to_owned() }),
        Known::Conflict => Err(ApiError::Conflict {
            what: "order release",
            key: business.to_owned(),
        }),
        Known::Decided { answer, by_key: true } => Ok(Some(decision_response(answer, true))),
        Known::Decided {
            answer,
            by_key: false,
        } => {
            let (store, key, hash, order) = (s.store.clone(), key.to_owned(), hash.to_owned(), order.clone());
            tokio::task::spawn_blocking(move || {
                store.transaction(move |tx| record_key(tx, &key, &hash, &order))
            })
            .await
            .map_err(|e| ApiError::Storage(format!("store task failed: {e}")))??;
            Ok(Some(decision_response(answer, false)))
        }
        Known::New => Ok(None),
    }
}

/// The answer when the WMS gave no decision on order `business`: nothing
/// was stored; the ERP retries (503, 504) or gives up (502).
fn no_decision_response(why: NoDecision, business: &str, s: &CoreState) -> Response {
    match why {
        NoDecision::Timeout => unavailable(
            504,
            "warehouse-timeout",
            "the warehouse did not decide in time",
            format!(
                "no decision on order {business} within {} ms; nothing was stored, retry with the same Idempotency-Key",
                s.config.release_timeout.as_millis()
            ),
            RELEASE_RETRY_AFTER_S,
        ),
        NoDecision::Unavailable {
            status,
            retry_after,
            detail,
        } => unavailable(
            503,
            "warehouse-unavailable",
            "the warehouse could not decide",
            format!(
                "no decision on order {business} ({detail}{}); nothing was stored, retry with the same Idempotency-Key",
                status.map(|s| format!(", status {s}")).unwrap_or_default()
            ),
            retry_after.unwrap_or(RELEASE_RETRY_AFTER_S).min(60),
        ),
        NoDecision::Refused { status } => problem_response(
            Problem::new(502, "warehouse-refused", "the warehouse refused the release").with_detail(format!(
                "the WMS answered {status} to order {business}; nothing was stored"
            )),
        ),
        NoDecision::Invalid(why) => problem_response(
            Problem::new(
                502,
                "warehouse-answer-invalid",
                "the warehouse's answer breaks its contract",
            )
            .with_detail(format!("order {business}: {why}; nothing was stored")),
        ),
    }
}

/// `POST /v1/order-releases`: the synchronous release (see
/// [`crate::flows::outbound`]).
pub(crate) async fn order_release(
    State(s): State<Arc<CoreState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (key, body) = key_and_body(&headers, body)?;
    let (order, payload) = parse::<OrderRelease>("order_release", &body)?;
    let findings = s
        .validator
        .validate("OrderRelease", &payload)
        .expect("a catalog type");
    if !findings.is_empty() {
        return Err(ApiError::ContractViolations {
            schema: "OrderRelease",
            findings,
        });
    }
    let trace = headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse)
        .unwrap_or_else(|| TraceParent::from_random(rand::random(), rand::random()));
    let hash = payload_hash(&payload);
    let business = format!("{}:v{}", order.order_number, order.version);

    if let Some(answer) = answer_if_known(&s, &key, &hash, &order, &business).await? {
        return Ok(answer);
    }

    let Some(_guard) = s
        .releases_in_flight
        .enter(vec![format!("key:{key}"), format!("order:{business}")])
    else {
        return Err(ApiError::refused(
            409,
            "release-in-flight",
            "the same release is still being decided",
            String::new(),
            format!("order {business} is waiting on the warehouse's decision; retry later"),
        ));
    };
    // A copy that looked before the first one stored its decision, and got
    // the guard after it was dropped, must not ask the WMS again: look again.
    if let Some(answer) = answer_if_known(&s, &key, &hash, &order, &business).await? {
        return Ok(answer);
    }

    let wms = Wms {
        http: &s.release_http,
        base_url: &s.config.partners.wms,
        timeout: s.config.release_timeout,
        validator: &s.validator,
    };
    let decision = match ask_wms(wms, &order, &body, &trace).await {
        Ok(d) => d,
        Err(_) if s.config.release_failure_rejects => rejection_on_failure(&order),
        Err(why) => return Ok(no_decision_response(why, &business, &s)),
    };

    let answer = serde_json::to_string(&decision).map_err(|e| ApiError::Storage(e.to_string()))?;
    {
        let (store, answer) = (s.store.clone(), answer.clone());
        let trace_id = trace.trace_id.clone();
        tokio::task::spawn_blocking(move || {
            store.transaction(move |tx| {
                record_decision(
                    tx,
                    &Decided {
                        order: &order,
                        decision: &decision,
                        answer: &answer,
                        key: &key,
                        hash: &hash,
                        trace_id: &trace_id,
                    },
                )
            })
        })
        .await
        .map_err(|e| ApiError::Storage(format!("store task failed: {e}")))??;
    }
    Ok(decision_response(answer, false))
}
