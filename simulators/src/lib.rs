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
pub mod recorder;
mod server;
pub mod supplier;
pub mod wms;

pub use middleware::{InboundRecording, record_inbound, recorded};
pub use server::{ConnKill, Server, serve, serve_plain};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
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
/// `effect` once per Idempotency-Key and answer `status` with its body.
pub fn mutate<T: DeserializeOwned>(
    store: &IdempotencyStore,
    headers: &HeaderMap,
    bytes: &Bytes,
    status: StatusCode,
    effect: impl FnOnce(T, &str) -> serde_json::Value,
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
        body: Bytes::from(serde_json::to_vec(&effect(doc, key)).expect("a JSON value serializes")),
    });
    outcome.into_response()
}

/// The trace a request belongs to, or a fresh one when it carries none.
pub fn incoming_trace(headers: &HeaderMap) -> TraceParent {
    headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse)
        .unwrap_or_else(|| TraceParent::from_random(rand::random(), rand::random()))
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

/// RFC 3339 UTC timestamp (second precision) of a Unix time in microseconds.
pub fn rfc3339_utc(us: u64) -> String {
    let secs = us / 1_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), H. Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        // 2026-11-22T04:30:00Z
        assert_eq!(rfc3339_utc(1_795_321_800 * 1_000_000), "2026-11-22T04:30:00Z");
        // Leap day.
        assert_eq!(rfc3339_utc(951_782_400 * 1_000_000), "2000-02-29T00:00:00Z");
    }
}
