//! crossdock's simulated parties: an ERP, a WMS and a supplier, each an axum
//! server on its own 127.0.0.1 port that keeps state, honours
//! Idempotency-Key, and records every exchange it takes part in.
//!
//! Every simulator is built as `fn app(state) -> Router` so tests can drive
//! it without a socket, and started on a real listener by [`serve`].

pub mod auth;
pub mod client;
pub mod control;
pub mod erp;
pub mod faults;
pub mod idempotency;
pub mod inventory;
mod middleware;
pub use middleware::request_exchange;
pub mod recorder;
mod server;
pub mod supplier;
pub mod wms;

pub use middleware::{InboundRecording, record_inbound, recorded};
pub use server::{ConnKill, Server, serve, serve_plain};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

use contracts::Problem;
use contracts::http::{TRACEPARENT, TraceParent};
use contracts::problem::PROBLEM_JSON;

use crate::idempotency::{IdempotencyStore, Outcome, StoredAnswer};

/// Largest request body a simulator reads.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Prefix of the paths that control a simulator rather than play its role;
/// they are not recorded.
pub const CONTROL_PREFIX: &str = "/_control";

/// Renders `problem` as an `application/problem+json` response.
pub fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, axum::Json(problem)).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    r
}

/// A body read to its end, at most `limit` bytes: `axum::body::to_bytes`
/// (same limit, same errors) without its collector's buffer list, which
/// costs allocations even for the usual body that comes in one frame.
pub async fn body_bytes(body: Body, limit: usize) -> Result<Bytes, axum::Error> {
    let mut body = http_body_util::Limited::new(body, limit);
    let mut first: Option<Bytes> = None;
    let mut joined: Option<Vec<u8>> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(axum::Error::new)?.into_data() else {
            continue; // trailers: not part of the body
        };
        match (&mut joined, first.take()) {
            (Some(all), _) => all.extend_from_slice(&data),
            (None, None) => first = Some(data),
            (None, Some(head)) => {
                let mut all = Vec::with_capacity(head.len() + data.len());
                all.extend_from_slice(&head);
                all.extend_from_slice(&data);
                joined = Some(all);
            }
        }
    }
    Ok(match joined {
        Some(all) => Bytes::from(all),
        None => first.unwrap_or_default(),
    })
}

/// A mutating request as a handler takes it: its headers, moved rather than
/// cloned as axum's `HeaderMap` extractor does, and its body, buffered.
#[derive(Debug)]
pub struct Posted {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, _: &S) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let body = body_bytes(body, MAX_BODY_BYTES).await.map_err(|e| {
            problem_response(
                Problem::new(413, "body-too-large", "request body too large").with_detail(e.to_string()),
            )
        })?;
        Ok(Posted {
            headers: parts.headers,
            body,
        })
    }
}

/// Parses a JSON body as `T`, keeping the raw value for idempotency hashing.
/// Malformed JSON → 400; JSON of the wrong shape → 422; both problem+json.
#[allow(clippy::result_large_err)]
pub fn parse_body<T: DeserializeOwned>(bytes: &Bytes) -> Result<(T, serde_json::Value), Response> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        problem_response(
            Problem::new(400, "malformed-json", "request body is not valid JSON").with_detail(e.to_string()),
        )
    })?;
    let typed = T::deserialize(&value).map_err(|e| {
        problem_response(
            Problem::new(
                422,
                "invalid-document",
                "request body does not match the contract",
            )
            .with_detail(e.to_string()),
        )
    })?;
    Ok((typed, value))
}

/// The common shape of a simulated mutating endpoint: parse, then run
/// `effect` once per Idempotency-Key and answer `status` with its body
/// (whatever `effect` returns, serialized as JSON).
pub fn mutate<T: DeserializeOwned, A: Serialize>(
    store: &IdempotencyStore,
    headers: &HeaderMap,
    bytes: &Bytes,
    status: StatusCode,
    effect: impl FnOnce(T, &str) -> A,
) -> Response {
    let doc = match serde_json::from_slice::<T>(bytes) {
        Ok(doc) => doc,
        // Tell malformed JSON (400) from JSON of the wrong shape (422).
        Err(_) => {
            return parse_body::<T>(bytes)
                .err()
                .unwrap_or_else(|| StatusCode::UNPROCESSABLE_ENTITY.into_response());
        }
    };
    let outcome: Outcome = store.execute(headers, bytes, |key| StoredAnswer {
        status,
        body: Bytes::from(serde_json::to_vec(&effect(doc, key)).expect("an answer serializes")),
    });
    outcome.into_response()
}

/// The W3C trace a request's `traceparent` names, if it carries a valid one.
pub fn trace_of(headers: &HeaderMap) -> Option<TraceParent> {
    headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse)
}

/// The trace a request belongs to, or a fresh one when it carries none.
pub fn incoming_trace(headers: &HeaderMap) -> TraceParent {
    trace_of(headers).unwrap_or_else(|| TraceParent::from_random(rand::random(), rand::random()))
}

/// Waits `delay`; a zero delay does not wait at all. (`tokio::time::sleep`
/// of zero still arms a timer that fires at the next millisecond tick: a
/// wheel insert, a wake-up and up to a millisecond of latency per call.)
pub(crate) async fn pause(delay: std::time::Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// Counts background work (scheduled sends) a simulator still has to do, so
/// the harness can tell when the system is quiet.
#[derive(Debug, Clone, Default)]
pub struct PendingWork(Arc<AtomicUsize>);

/// Held while one piece of background work runs.
#[derive(Debug)]
pub struct PendingGuard(Arc<AtomicUsize>);

impl PendingWork {
    pub fn start(&self) -> PendingGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        PendingGuard(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// RFC 3339 UTC timestamps: the one implementation lives in `contracts`.
pub use contracts::time::rfc3339_utc;

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(parts: &[&'static [u8]]) -> Body {
        let frames: Vec<Result<Bytes, std::convert::Infallible>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Body::from_stream(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn body_bytes_reads_one_frame_or_many_within_the_limit() {
        assert_eq!(
            body_bytes(Body::from("{\"a\":1}"), 64).await.unwrap(),
            Bytes::from_static(b"{\"a\":1}")
        );
        assert_eq!(
            body_bytes(chunked(&[b"{\"a\"", b":", b"1}"]), 64).await.unwrap(),
            Bytes::from_static(b"{\"a\":1}")
        );
        assert_eq!(body_bytes(Body::empty(), 64).await.unwrap(), Bytes::new());
        let too_long = body_bytes(chunked(&[b"12345", b"678"]), 6).await.unwrap_err();
        assert_eq!(too_long.to_string(), "length limit exceeded");
    }
}
