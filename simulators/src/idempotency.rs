//! The IETF Idempotency-Key contract for a simulated partner, in memory.
//!
//! First request with a key: the effect runs and its answer is stored. A
//! repeat with the same body: the stored answer, marked replayed, no new
//! effect. The same key with another body: 422. No key: 400. The check and
//! the effect run under one lock, so concurrent repeats cannot both apply.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use contracts::Problem;
use contracts::http::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};

use crate::problem_response;

/// A stored answer.
#[derive(Debug, Clone)]
pub struct StoredAnswer {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

/// What a mutating request got.
#[derive(Debug)]
pub enum Outcome {
    /// First time: the effect ran and this is its answer.
    Fresh(StoredAnswer),
    /// A repeat: the stored answer; nothing was done.
    Replay(StoredAnswer),
    /// No Idempotency-Key header.
    MissingKey,
    /// The key was used before with a different body.
    Mismatch(String),
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        match self {
            Outcome::Fresh(a) => (a.status, Json(a.body)).into_response(),
            Outcome::Replay(a) => {
                let mut r = (a.status, Json(a.body)).into_response();
                r.headers_mut()
                    .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
                r
            }
            Outcome::MissingKey => problem_response(
                Problem::new(
                    400,
                    "idempotency-key-missing",
                    "Idempotency-Key header is required",
                )
                .with_detail("every mutating request must carry an Idempotency-Key header"),
            ),
            Outcome::Mismatch(key) => problem_response(
                Problem::new(
                    422,
                    "idempotency-key-reused",
                    "Idempotency-Key reused with a different body",
                )
                .with_detail(format!("key {key:?} was first used with another request body")),
            ),
        }
    }
}

/// Stored answers by Idempotency-Key, with the hash of the body that made them.
#[derive(Debug, Default)]
pub struct IdempotencyStore {
    entries: Mutex<HashMap<String, (u64, StoredAnswer)>>,
}

fn body_hash(body: &serde_json::Value) -> u64 {
    let mut h = DefaultHasher::new();
    body.to_string().hash(&mut h);
    h.finish()
}

impl IdempotencyStore {
    /// Runs `effect` once per key and answers repeats from the store.
    pub fn execute(
        &self,
        headers: &HeaderMap,
        body: &serde_json::Value,
        effect: impl FnOnce(&str) -> StoredAnswer,
    ) -> Outcome {
        let Some(key) = headers.get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()) else {
            return Outcome::MissingKey;
        };
        let hash = body_hash(body);
        let mut entries = self.entries.lock().expect("idempotency lock");
        match entries.get(key) {
            Some((h, answer)) if *h == hash => Outcome::Replay(answer.clone()),
            Some(_) => Outcome::Mismatch(key.to_owned()),
            None => {
                let answer = effect(key);
                entries.insert(key.to_owned(), (hash, answer.clone()));
                Outcome::Fresh(answer)
            }
        }
    }

    /// Number of keys stored.
    pub fn len(&self) -> usize {
        self.entries.lock().expect("idempotency lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(key: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(k) = key {
            h.insert(IDEMPOTENCY_KEY, k.parse().unwrap());
        }
        h
    }

    #[test]
    fn effect_runs_once_per_key_and_mismatch_is_refused() {
        let store = IdempotencyStore::default();
        let mut runs = 0;
        let mut run = |_: &str| {
            runs += 1;
            StoredAnswer {
                status: StatusCode::CREATED,
                body: json!({"n": 1}),
            }
        };
        assert!(matches!(
            store.execute(&headers(Some("a")), &json!({"x": 1}), &mut run),
            Outcome::Fresh(_)
        ));
        assert!(matches!(
            store.execute(&headers(Some("a")), &json!({"x": 1}), &mut run),
            Outcome::Replay(_)
        ));
        assert!(matches!(
            store.execute(&headers(Some("a")), &json!({"x": 2}), &mut run),
            Outcome::Mismatch(_)
        ));
        assert!(matches!(
            store.execute(&headers(None), &json!({"x": 1}), &mut run),
            Outcome::MissingKey
        ));
        assert_eq!(runs, 1);
        assert_eq!(store.len(), 1);
    }
}
