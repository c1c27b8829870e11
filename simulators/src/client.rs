//! A simulated party's HTTP client: every attempt is recorded as an
//! outbound [`Exchange`], and sends are retried the way a well-behaved
//! partner retries (same key and body; only after 408/409/429/5xx or a
//! network error; bounded exponential backoff; Retry-After honoured).
//!
//! Bodies go out as the bytes they were serialized to once
//! ([`json_body`]) and are recorded as those bytes; answers are kept raw and
//! parsed only by whoever asks ([`Attempt::json`]). The transport is hyper's
//! pooled HTTP/1 client (keep-alive, `TCP_NODELAY`), plain HTTP only: every
//! partner of a simulator is on 127.0.0.1.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::uri::{Authority, PathAndQuery, Scheme};
use axum::http::{HeaderName, HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use contracts::http::{
    IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, RETRY_AFTER, TRACEPARENT, TraceParent, error_chain,
    retry_after_seconds,
};
use contracts::{Direction, Exchange, Role};

use crate::recorder::{Recorder, now_us};

/// How long one attempt may take, answer read to its end included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The request headers of ours, as names that cost no allocation per use
/// (a `&str` name is parsed and copied every time).
const IDEMPOTENCY_KEY_HEADER: HeaderName = HeaderName::from_static(IDEMPOTENCY_KEY);
const TRACEPARENT_HEADER: HeaderName = HeaderName::from_static(TRACEPARENT);

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// `document` as the JSON bytes a [`PartnerClient`] sends: serialized once,
/// compact.
pub fn json_body<T: Serialize + ?Sized>(document: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(document).expect("a wire document serializes"))
}

/// The result of one attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// HTTP status, or `None` on a transport error.
    pub status: Option<u16>,
    /// The answer's body as it came (empty without an answer).
    pub body: Bytes,
    pub retry_after: Option<Duration>,
    pub error: Option<String>,
}

impl Attempt {
    pub fn is_success(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }

    /// Whether a partner may try again: transport errors, 408, 409 (in
    /// flight), 429 and 5xx; never other 4xx.
    pub fn is_retryable(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => matches!(s, 408 | 409 | 429) || s >= 500,
        }
    }

    /// An attempt that got no answer.
    fn failed(error: String) -> Self {
        Self {
            status: None,
            body: Bytes::new(),
            retry_after: None,
            error: Some(error),
        }
    }

    /// The answer's body as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        self.parse()
    }

    /// The answer's body as a `T`, when it is one.
    pub fn parse<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// How a simulated party retries.
#[derive(Debug, Clone, Copy)]
pub struct RetrySchedule {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base: Duration::from_millis(25),
            cap: Duration::from_secs(2),
        }
    }
}

impl RetrySchedule {
    /// Delay before attempt `attempt + 1` (attempt counts from 1).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.base.saturating_mul(1 << attempt.saturating_sub(1).min(16));
        exp.min(self.cap).max(retry_after.unwrap_or_default())
    }
}

/// Where a client's requests go: the peer's origin and the path its base
/// URL puts before every endpoint (usually none).
#[derive(Debug, Clone)]
struct Target {
    scheme: Scheme,
    authority: Authority,
    prefix: String,
}

impl Target {
    fn parse(base_url: &str) -> Result<Self, String> {
        let uri: Uri = base_url
            .parse()
            .map_err(|e| format!("invalid base URL {base_url:?}: {e}"))?;
        let parts = uri.into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
            return Err(format!("invalid base URL {base_url:?}: not absolute"));
        };
        if scheme != Scheme::HTTP {
            return Err(format!("invalid base URL {base_url:?}: only http is supported"));
        }
        let prefix = parts
            .path_and_query
            .map(|pq| pq.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        Ok(Self {
            scheme,
            authority,
            prefix,
        })
    }

    fn uri(&self, path: &str) -> Result<Uri, String> {
        let path_and_query = if self.prefix.is_empty() {
            PathAndQuery::try_from(path)
        } else {
            PathAndQuery::try_from(format!("{}{path}", self.prefix))
        }
        .map_err(|e| format!("invalid path {path:?}: {e}"))?;
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .map_err(|e| format!("invalid URL for {path:?}: {e}"))
    }
}

/// The `Authorization` a client sends once it has a token.
#[derive(Debug)]
struct Bearer {
    token: String,
    /// `None` when the token cannot be a header value: every attempt fails.
    header: Option<HeaderValue>,
}

/// A recording client from one party to one peer.
#[derive(Debug, Clone)]
pub struct PartnerClient {
    http: Client<HttpConnector, Full<Bytes>>,
    target: std::sync::Arc<Result<Target, String>>,
    recorder: Recorder,
    party: Role,
    peer: Role,
    retry: RetrySchedule,
    /// `Authorization: Bearer` sent with every request, once configured.
    bearer: std::sync::Arc<std::sync::OnceLock<Bearer>>,
}

/// An answer's `Retry-After` in seconds, when it has one.
fn retry_after(headers: &axum::http::HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after_seconds)
        .map(Duration::from_secs)
}

impl PartnerClient {
    pub fn new(base_url: impl Into<String>, recorder: Recorder, party: Role, peer: Role) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(connector);
        let base_url: String = base_url.into();
        Self {
            http,
            target: std::sync::Arc::new(Target::parse(base_url.trim_end_matches('/'))),
            recorder,
            party,
            peer,
            retry: RetrySchedule::default(),
            bearer: std::sync::Arc::default(),
        }
    }

    /// Sends `token` as `Authorization: Bearer` from now on. The token is
    /// set once (the harness does it before any load); a second call is
    /// refused with the token already in use.
    pub fn set_bearer(&self, token: impl Into<String>) -> Result<(), String> {
        let token = token.into();
        let header = HeaderValue::try_from(format!("Bearer {token}"))
            .ok()
            .map(|mut v| {
                v.set_sensitive(true);
                v
            });
        self.bearer
            .set(Bearer { token, header })
            .map_err(|refused| refused.token)
    }

    /// The request of one attempt, or why it cannot be made.
    fn request(
        &self,
        path: &str,
        body: &Bytes,
        idempotency_key: &str,
        trace: &TraceParent,
    ) -> Result<Request<Full<Bytes>>, String> {
        let target = self.target.as_ref().as_ref().map_err(String::clone)?;
        let key = HeaderValue::from_str(idempotency_key)
            .map_err(|e| format!("invalid Idempotency-Key {idempotency_key:?}: {e}"))?;
        let traceparent =
            HeaderValue::try_from(trace.header_value()).map_err(|e| format!("invalid traceparent: {e}"))?;
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(target.uri(path)?)
            .header(header::ACCEPT, HeaderValue::from_static("*/*"))
            .header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(IDEMPOTENCY_KEY_HEADER, key)
            .header(TRACEPARENT_HEADER, traceparent);
        if let Some(bearer) = self.bearer.get() {
            let value = bearer.header.clone().ok_or("invalid bearer token")?;
            request = request.header(header::AUTHORIZATION, value);
        }
        request
            .body(Full::new(body.clone()))
            .map_err(|e| format!("invalid request: {e}"))
    }

    /// Sends one request and reads its answer to the end, within
    /// [`ATTEMPT_TIMEOUT`]; the answer and whether it was a replay.
    async fn exchange(&self, request: Request<Full<Bytes>>) -> (Attempt, bool) {
        let failed = |error: String| (Attempt::failed(error), false);
        let sent = tokio::time::timeout(ATTEMPT_TIMEOUT, async {
            let response = self.http.request(request).await.map_err(|e| error_chain(&e))?;
            let (parts, body) = response.into_parts();
            match body.collect().await {
                Ok(collected) => Ok((parts, collected.to_bytes())),
                Err(e) => Err(format!(
                    "reading the answer to a {}: {}",
                    parts.status.as_u16(),
                    error_chain(&e)
                )),
            }
        })
        .await;
        match sent {
            Err(_) => failed(format!("timed out after {} s", ATTEMPT_TIMEOUT.as_secs())),
            Ok(Err(error)) => failed(error),
            Ok(Ok((parts, body))) => (
                Attempt {
                    status: Some(parts.status.as_u16()),
                    body,
                    retry_after: retry_after(&parts.headers),
                    error: None,
                },
                parts
                    .headers
                    .get(IDEMPOTENT_REPLAYED)
                    .is_some_and(|v| v == "true"),
            ),
        }
    }

    /// One recorded POST of `body` (JSON, as [`json_body`] makes it).
    pub async fn post_once(
        &self,
        path: &str,
        body: &Bytes,
        idempotency_key: &str,
        trace: &TraceParent,
    ) -> Attempt {
        let started_at_us = now_us();
        let (attempt, replayed) = match self.request(path, body, idempotency_key, trace) {
            Ok(request) => self.exchange(request).await,
            Err(error) => (Attempt::failed(error), false),
        };
        let exchange = Exchange {
            seq: 0,
            party: self.party,
            peer: self.peer,
            direction: Direction::Outbound,
            method: "POST".into(),
            endpoint: path.to_owned(),
            status: attempt.status,
            error: attempt.error.clone(),
            started_at_us,
            finished_at_us: now_us(),
            idempotency_key: Some(idempotency_key.to_owned()),
            trace_id: Some(trace.trace_id.clone()),
            replayed,
            fault: None,
            handler_status: None,
            request: None,
            response: None,
        };
        self.recorder
            .record_sent(exchange, body.clone(), Some(attempt.body.clone()))
            .await;
        attempt
    }

    /// POSTs until success, a non-retryable answer, or the schedule's last
    /// attempt; every attempt reuses the key and the body.
    pub async fn post(
        &self,
        path: &str,
        body: &Bytes,
        idempotency_key: &str,
        trace: &TraceParent,
    ) -> Attempt {
        let mut attempt_no = 1;
        loop {
            let attempt = self.post_once(path, body, idempotency_key, trace).await;
            if attempt.is_success() || !attempt.is_retryable() || attempt_no >= self.retry.max_attempts {
                if !attempt.is_success() {
                    tracing::warn!(
                        party = %self.party, peer = %self.peer, path, idempotency_key,
                        status = ?attempt.status, error = ?attempt.error,
                        "giving up after {attempt_no} attempts"
                    );
                }
                return attempt;
            }
            tokio::time::sleep(self.retry.delay(attempt_no, attempt.retry_after)).await;
            attempt_no += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_grows_caps_and_honours_retry_after() {
        let s = RetrySchedule {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        assert_eq!(s.delay(1, None), Duration::from_millis(100));
        assert_eq!(s.delay(2, None), Duration::from_millis(200));
        assert_eq!(s.delay(5, None), Duration::from_secs(1));
        assert_eq!(s.delay(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
    }

    #[test]
    fn only_transient_answers_are_retryable() {
        let a = |status| Attempt {
            status,
            body: Bytes::new(),
            retry_after: None,
            error: None,
        };
        for s in [None, Some(408), Some(409), Some(429), Some(500), Some(503)] {
            assert!(a(s).is_retryable(), "{s:?}");
        }
        for s in [Some(400), Some(401), Some(404), Some(422)] {
            assert!(!a(s).is_retryable(), "{s:?}");
        }
    }
}
