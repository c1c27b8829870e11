//! The IETF Idempotency-Key contract for a simulated partner, in memory.
//!
//! First request with a key: the effect runs and its answer is stored. A
//! repeat with the same body: the stored answer, marked replayed, no new
//! effect. The same key with another body (byte for byte): 422. No key: 400.
//! The check and the effect run under one lock, so concurrent repeats cannot
//! both apply.
//!
//! Memory is bounded: the store keeps the most recent
//! [`DEFAULT_CAPACITY`] keys (Stripe keeps keys 24 h; a simulator under a
//! million-request load keeps the newest) and forgets the oldest first.
//!
//! Hashing: keys and bodies are hashed with foldhash, not std's SipHash.
//! The keys come from the partner under test, so a caller could in principle
//! pick keys that collide; foldhash is still seeded at random per process
//! (minimal DoS resistance), and the worst a hostile caller could do to a
//! simulator on 127.0.0.1 is slow its own test run down. The body digest
//! (64 bits, like SipHash's) only tells "same body" from "another body"
//! under one key.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use contracts::Problem;
use contracts::http::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
use contracts::problem::PROBLEM_JSON;

use crate::problem_response;

/// Keys remembered by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// A stored answer: status and JSON body bytes. An answer with an error
/// status (4xx, 5xx) is a problem document and goes out as
/// `application/problem+json` (RFC 9457), like every other refusal.
#[derive(Debug, Clone)]
pub struct StoredAnswer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl StoredAnswer {
    /// `problem` as a stored answer, with its own status.
    pub fn problem(problem: &Problem) -> Self {
        Self {
            status: StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: Bytes::from(serde_json::to_vec(problem).expect("a problem serializes")),
        }
    }

    fn response(self) -> Response {
        let content_type = if self.status.is_client_error() || self.status.is_server_error() {
            PROBLEM_JSON
        } else {
            "application/json"
        };
        let mut r = (self.status, self.body).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    }
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
            Outcome::Fresh(a) => a.response(),
            Outcome::Replay(a) => {
                let mut r = a.response();
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

#[derive(Debug, Default)]
struct Entries {
    /// One allocation per key, shared with `order`.
    by_key: HashMap<Arc<str>, (u64, StoredAnswer), foldhash::fast::RandomState>,
    /// Keys in insertion order, for eviction.
    order: VecDeque<Arc<str>>,
}

/// Stored answers by Idempotency-Key, with the hash of the body that made them.
#[derive(Debug)]
pub struct IdempotencyStore {
    entries: Mutex<Entries>,
    capacity: usize,
    /// Digests request bodies (seeded once per store).
    bodies: foldhash::quality::RandomState,
}

impl Default for IdempotencyStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl IdempotencyStore {
    /// A store remembering at most `capacity` keys (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::default(),
            capacity: capacity.max(1),
            bodies: foldhash::quality::RandomState::default(),
        }
    }

    /// Runs `effect` once per key and answers repeats from the store.
    pub fn execute(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        effect: impl FnOnce(&str) -> StoredAnswer,
    ) -> Outcome {
        let Some(key) = headers.get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()) else {
            return Outcome::MissingKey;
        };
        let hash = self.bodies.hash_one(body);
        let mut entries = self.entries.lock().expect("idempotency lock");
        match entries.by_key.get(key) {
            Some((h, answer)) if *h == hash => Outcome::Replay(answer.clone()),
            Some(_) => Outcome::Mismatch(key.to_owned()),
            None => {
                let answer = effect(key);
                if entries.order.len() >= self.capacity
                    && let Some(oldest) = entries.order.pop_front()
                {
                    entries.by_key.remove(&oldest);
                }
                let key: Arc<str> = Arc::from(key);
                entries.order.push_back(key.clone());
                entries.by_key.insert(key, (hash, answer.clone()));
                Outcome::Fresh(answer)
            }
        }
    }

    /// Number of keys stored.
    pub fn len(&self) -> usize {
        self.entries.lock().expect("idempotency lock").by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                body: Bytes::from_static(b"{\"n\":1}"),
            }
        };
        assert!(matches!(
            store.execute(&headers(Some("a")), br#"{"x":1}"#, &mut run),
            Outcome::Fresh(_)
        ));
        assert!(matches!(
            store.execute(&headers(Some("a")), br#"{"x":1}"#, &mut run),
            Outcome::Replay(_)
        ));
        assert!(matches!(
            store.execute(&headers(Some("a")), br#"{"x":2}"#, &mut run),
            Outcome::Mismatch(_)
        ));
        assert!(matches!(
            store.execute(&headers(None), br#"{"x":1}"#, &mut run),
            Outcome::MissingKey
        ));
        assert_eq!(runs, 1);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn the_oldest_keys_are_forgotten_beyond_capacity() {
        let store = IdempotencyStore::with_capacity(2);
        let answer = |_: &str| StoredAnswer {
            status: StatusCode::CREATED,
            body: Bytes::from_static(b"{}"),
        };
        for key in ["a", "b", "c"] {
            assert!(matches!(
                store.execute(&headers(Some(key)), b"{}", answer),
                Outcome::Fresh(_)
            ));
        }
        assert_eq!(store.len(), 2);
        // "a" was evicted: it runs again; "c" is still remembered.
        assert!(matches!(
            store.execute(&headers(Some("c")), b"{}", answer),
            Outcome::Replay(_)
        ));
        assert!(matches!(
            store.execute(&headers(Some("a")), b"{}", answer),
            Outcome::Fresh(_)
        ));
    }
}
