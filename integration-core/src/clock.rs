//! Time as the core reads it: the wall clock in microseconds, and a
//! partner's `Retry-After`.
//!
//! **Layer**: the bottom, beside `error`. Imports nothing of the crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use contracts::http::RETRY_AFTER;

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The longest Retry-After honoured as given.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// An answer's Retry-After as delay-seconds (RFC 9110); HTTP dates are
/// treated as "retry later" with no extra bound.
pub(crate) fn retry_after(headers: &axum::http::HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(contracts::http::retry_after_seconds)
        .map(Duration::from_secs)
}
