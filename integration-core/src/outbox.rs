//! Outbox delivery: a worker takes due rows, POSTs them with their
//! Idempotency-Key and a child `traceparent`, and records the outcome.
//!
//! The decision (whether an outcome is retried, [`RetryPolicy`]) is separate
//! from the mechanism (when, [`Backoff`], with an injected RNG for jitter),
//! as tower's retry module separates them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Notify, Semaphore, watch};

use contracts::Role;
use contracts::http::{IDEMPOTENCY_KEY, RETRY_AFTER, TRACEPARENT, TraceParent};

use crate::store::{Delivery, Store};
use crate::{Partners, now_us};

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The partner answered.
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No answer: connection refused or reset, timeout.
    Network(String),
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Delivered,
    /// Try again, not before `not_before` (a partner's Retry-After).
    Retry {
        not_before: Option<Duration>,
    },
    /// Give up: the partner refused for good, or attempts are spent.
    DeadLetter(String),
}

/// Which outcomes are retried, and how many attempts a delivery gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// Retries after network errors, 408, 409 (in flight), 429 and 5xx;
    /// never after another 4xx.
    pub fn decide(&self, outcome: &AttemptOutcome, attempts_made: u32) -> Decision {
        let (retryable, not_before, why) = match outcome {
            AttemptOutcome::Status {
                status: 200..=299, ..
            } => return Decision::Delivered,
            AttemptOutcome::Status { status, retry_after } => (
                matches!(status, 408 | 409 | 429) || *status >= 500,
                *retry_after,
                format!("status {status}"),
            ),
            AttemptOutcome::Network(e) => (true, None, e.clone()),
        };
        if !retryable {
            Decision::DeadLetter(format!("not retryable: {why}"))
        } else if attempts_made >= self.max_attempts {
            Decision::DeadLetter(format!("gave up after {attempts_made} attempts: {why}"))
        } else {
            Decision::Retry { not_before }
        }
    }
}

/// The longest Retry-After honoured as given.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Exponential backoff with "equal jitter": half the delay fixed, half drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// Delay after attempt `attempt` (from 1), never below `not_before`.
    pub fn delay(&self, attempt: u32, not_before: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.cap);
        let half = exp / 2;
        let jitter = Duration::from_micros(rng.random_range(0..=half.as_micros() as u64));
        // A partner's Retry-After is honoured up to an hour; beyond that it
        // is treated as an hour rather than trusted to overflow the clock.
        let not_before = not_before.unwrap_or_default().min(MAX_RETRY_AFTER);
        (half + jitter).max(not_before)
    }
}

/// The retry schedule, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    pub policy: RetryPolicy,
    pub backoff: Backoff,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            policy: RetryPolicy { max_attempts: 12 },
            backoff: Backoff {
                base: Duration::from_millis(50),
                cap: Duration::from_secs(10),
            },
            timeout: Duration::from_secs(5),
            concurrency: 32,
        }
    }
}

/// Parses Retry-After as delay-seconds (RFC 9110); HTTP dates are treated
/// as "retry later" with no extra bound.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

pub(crate) struct Worker {
    pub store: Arc<Store>,
    pub partners: Partners,
    pub retry: RetryConfig,
    pub rng: Mutex<StdRng>,
    pub notify: Arc<Notify>,
    pub http: reqwest::Client,
    pub inflight: Mutex<HashSet<i64>>,
}

impl Worker {
    pub fn new(
        store: Arc<Store>,
        partners: Partners,
        retry: RetryConfig,
        seed: u64,
        notify: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            partners,
            retry,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            notify,
            http: reqwest::Client::builder()
                .timeout(retry.timeout)
                .build()
                .expect("a plain HTTP client builds"),
            inflight: Mutex::default(),
        }
    }

    fn url(&self, partner: Role, path: &str) -> Option<String> {
        let base = match partner {
            Role::Erp => &self.partners.erp,
            Role::Wms => &self.partners.wms,
            Role::Supplier => &self.partners.supplier,
            Role::Core | Role::Harness => return None,
        };
        Some(format!("{}{path}", base.trim_end_matches('/')))
    }

    async fn attempt(&self, d: &Delivery) -> AttemptOutcome {
        let Some(url) = self.url(d.partner, &d.path) else {
            return AttemptOutcome::Network(format!("no address for partner {}", d.partner));
        };
        let trace = TraceParent {
            trace_id: d.trace_id.clone(),
            parent_id: String::new(),
            sampled: true,
        }
        .child(rand::random());
        let sent = self
            .http
            .post(url)
            .header(IDEMPOTENCY_KEY, &d.idempotency_key)
            .header(TRACEPARENT, trace.header_value())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(d.body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = retry_after(resp.headers());
                // Drain the body so the connection can be reused.
                let _ = resp.bytes().await;
                AttemptOutcome::Status { status, retry_after }
            }
            Err(e) => AttemptOutcome::Network(e.to_string()),
        }
    }

    async fn deliver(&self, d: Delivery) {
        let outcome = self.attempt(&d).await;
        let attempts_made = d.attempts + 1;
        let status = match &outcome {
            AttemptOutcome::Status { status, .. } => Some(*status),
            AttemptOutcome::Network(_) => None,
        };
        let store = self.store.clone();
        let result = match self.retry.policy.decide(&outcome, attempts_made) {
            Decision::Delivered => {
                tokio::task::spawn_blocking(move || {
                    store.mark_delivered(d.id, status.unwrap_or(200), now_us())
                })
                .await
            }
            Decision::Retry { not_before } => {
                let delay = {
                    let mut rng = self.rng.lock().expect("rng lock");
                    self.retry.backoff.delay(attempts_made, not_before, &mut *rng)
                };
                let why = format!("{outcome:?}");
                tracing::debug!(id = d.id, partner = %d.partner, ?delay, %why, "delivery will be retried");
                let at = now_us().saturating_add(delay.as_micros() as u64);
                tokio::task::spawn_blocking(move || store.mark_retry(d.id, status, &why, at)).await
            }
            Decision::DeadLetter(why) => {
                tracing::warn!(id = d.id, partner = %d.partner, %why, "delivery dead-lettered");
                tokio::task::spawn_blocking(move || store.mark_dead(d.id, status, &why)).await
            }
        };
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(id = d.id, error = %e, "failed to record a delivery outcome"),
            Err(e) => tracing::error!(id = d.id, error = %e, "delivery bookkeeping panicked"),
        }
    }

    /// Ids of the deliveries in flight now.
    fn in_flight_ids(&self) -> Vec<i64> {
        self.inflight
            .lock()
            .expect("inflight lock")
            .iter()
            .copied()
            .collect()
    }

    /// Runs until `shutdown` turns true; in-flight deliveries are awaited.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.retry.concurrency));
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            let free = permits.available_permits();
            let skip = self.in_flight_ids();
            let due = if free == 0 {
                Ok(Vec::new())
            } else {
                let store = self.store.clone();
                tokio::task::spawn_blocking(move || store.due_deliveries(now_us(), free, &skip))
                    .await
                    .unwrap_or_else(|e| Err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))
            };
            let due = due.unwrap_or_else(|e| {
                tracing::error!(error = %e, "failed to read the outbox");
                Vec::new()
            });
            for d in due {
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    break;
                };
                self.inflight.lock().expect("inflight lock").insert(d.id);
                let worker = self.clone();
                tasks.spawn(async move {
                    let id = d.id;
                    worker.deliver(d).await;
                    worker.inflight.lock().expect("inflight lock").remove(&id);
                    drop(permit);
                    worker.notify.notify_one();
                });
            }
            // Sleep until new work, a finished delivery, the next due time, or shutdown.
            let store = self.store.clone();
            let in_flight = self.in_flight_ids();
            let next_due = tokio::task::spawn_blocking(move || store.next_due_us(&in_flight))
                .await
                .ok()
                .and_then(Result::ok)
                .flatten();
            let wait = next_due
                .map(|t| Duration::from_micros(t.saturating_sub(now_us())))
                .unwrap_or(Duration::from_millis(500))
                .clamp(Duration::from_millis(1), Duration::from_millis(500));
            tokio::select! {
                _ = self.notify.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
        tasks.join_all().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_retries_only_transient_outcomes() {
        let p = RetryPolicy { max_attempts: 3 };
        let st = |status| AttemptOutcome::Status {
            status,
            retry_after: None,
        };
        assert_eq!(p.decide(&st(201), 1), Decision::Delivered);
        for s in [408, 409, 429, 500, 503] {
            assert_eq!(p.decide(&st(s), 1), Decision::Retry { not_before: None }, "{s}");
        }
        for s in [400, 401, 404, 422] {
            assert!(matches!(p.decide(&st(s), 1), Decision::DeadLetter(_)), "{s}");
        }
        assert_eq!(
            p.decide(&AttemptOutcome::Network("reset".into()), 2),
            Decision::Retry { not_before: None }
        );
        assert!(matches!(p.decide(&st(503), 3), Decision::DeadLetter(_)));
        let limited = AttemptOutcome::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            p.decide(&limited, 1),
            Decision::Retry {
                not_before: Some(Duration::from_secs(7))
            }
        );
    }

    #[test]
    fn backoff_grows_with_bounded_jitter_and_honours_retry_after() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 1..=8 {
            let exp = (Duration::from_millis(100) * (1 << (attempt - 1))).min(Duration::from_secs(1));
            let d = b.delay(attempt, None, &mut rng);
            assert!(
                d >= exp / 2 && d <= exp,
                "attempt {attempt}: {d:?} not in [{:?}, {exp:?}]",
                exp / 2
            );
        }
        assert_eq!(
            b.delay(1, Some(Duration::from_secs(30)), &mut rng),
            Duration::from_secs(30)
        );
        // Same seed, same schedule.
        let (mut r1, mut r2) = (StdRng::seed_from_u64(1), StdRng::seed_from_u64(1));
        let s1: Vec<_> = (1..6).map(|a| b.delay(a, None, &mut r1)).collect();
        let s2: Vec<_> = (1..6).map(|a| b.delay(a, None, &mut r2)).collect();
        assert_eq!(s1, s2);
    }
}
