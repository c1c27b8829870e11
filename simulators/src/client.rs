//! A simulated party's HTTP client: every attempt is recorded as an
//! outbound [`Exchange`], and sends are retried the way a well-behaved
//! partner retries (same key and body; only after 408/409/429/5xx or a
//! network error; bounded exponential backoff; Retry-After honoured).

use std::time::Duration;

use contracts::http::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, RETRY_AFTER, TRACEPARENT, TraceParent};
use contracts::{Direction, Exchange, Role};

use crate::recorder::{Recorder, now_us};

/// The result of one attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// HTTP status, or `None` on a transport error.
    pub status: Option<u16>,
    pub body: Option<serde_json::Value>,
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

/// A recording client from one party to one peer.
#[derive(Debug, Clone)]
pub struct PartnerClient {
    http: reqwest::Client,
    base_url: String,
    recorder: Recorder,
    party: Role,
    peer: Role,
    retry: RetrySchedule,
    /// `Authorization: Bearer` sent with every request, once configured.
    bearer: std::sync::Arc<std::sync::OnceLock<String>>,
}

impl PartnerClient {
    pub fn new(base_url: impl Into<String>, recorder: Recorder, party: Role, peer: Role) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a plain HTTP client builds"),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
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
        self.bearer.set(token.into())
    }

    /// One recorded POST.
    pub async fn post_once(
        &self,
        path: &str,
        body: &serde_json::Value,
        idempotency_key: &str,
        trace: &TraceParent,
    ) -> Attempt {
        let started_at_us = now_us();
        let mut request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header(IDEMPOTENCY_KEY, idempotency_key)
            .header(TRACEPARENT, trace.header_value())
            .json(body);
        if let Some(token) = self.bearer.get() {
            request = request.bearer_auth(token);
        }
        let result = request.send().await;
        let (attempt, replayed) = match result {
            Err(e) => (
                Attempt {
                    status: None,
                    body: None,
                    retry_after: None,
                    error: Some(e.to_string()),
                },
                false,
            ),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let replayed = resp
                    .headers()
                    .get(IDEMPOTENT_REPLAYED)
                    .is_some_and(|v| v == "true");
                match resp.bytes().await {
                    Ok(bytes) => (
                        Attempt {
                            status: Some(status),
                            body: serde_json::from_slice(&bytes).ok(),
                            retry_after,
                            error: None,
                        },
                        replayed,
                    ),
                    Err(e) => (
                        Attempt {
                            status: None,
                            body: None,
                            retry_after: None,
                            error: Some(format!("reading the answer to a {status}: {e}")),
                        },
                        false,
                    ),
                }
            }
        };
        self.recorder
            .record(Exchange {
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
                request: Some(body.clone()),
                response: attempt.body.clone(),
            })
            .await;
        attempt
    }

    /// POSTs until success, a non-retryable answer, or the schedule's last
    /// attempt; every attempt reuses the key and the body.
    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
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
            body: None,
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
