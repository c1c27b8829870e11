//! What every mutating request must carry, read in one place: the
//! Idempotency-Key, a readable body, a document of the expected type.
//!
//! Imports only `error`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use contracts::http::IDEMPOTENCY_KEY;

use crate::error::ApiError;

/// The document `T` in `body`, and the JSON value it was read from.
pub(crate) fn parse<T: DeserializeOwned>(
    document: &'static str,
    body: &Bytes,
) -> Result<(T, serde_json::Value), ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let doc = T::deserialize(&value).map_err(|e| ApiError::InvalidDocument {
        document,
        detail: e.to_string(),
    })?;
    Ok((doc, value))
}

/// The two things every mutating request must have before anything else is
/// looked at: a non-empty Idempotency-Key (400 without) and a readable body.
pub(crate) fn key_and_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(String, Bytes), ApiError> {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::MissingIdempotencyKey)?
        .to_owned();
    Ok((key, readable(body)?))
}

/// The body, or the problem that it could not be read: over
/// [`crate::MAX_BODY_BYTES`] is 413, a broken transfer 400.
pub(crate) fn readable(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        ApiError::refused(
            e.status().as_u16(),
            "unreadable-body",
            "request body could not be read",
            String::new(),
            e.body_text(),
        )
    })
}
