//! One delivery attempt's outcome and what follows it: the decision
//! ([`RetryPolicy`]: retry or dead-letter) separate from the mechanism
//! ([`Backoff`]: when, with an injected RNG for jitter), as tower's retry
//! module separates them.
//!
//! Imports only `clock`: the lanes, the layers and the events publisher
//! build on it.

use std::time::Duration;

use rand::Rng;

pub use crate::clock::MAX_RETRY_AFTER;

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
