//! The delivery stack: one tower [`Service`] per partner, built from layers.
//!
//! Outermost first (a request passes them in this order, the answer comes
//! back through them in reverse):
//!
//! 1. **`ConcurrencyLimit`** (tower): at most `limit` deliveries in flight to
//!    this partner. First, so a delivery waiting for a permit has not yet
//!    passed the checks below, which must hold at the moment of sending.
//! 2. **[`RetryAfter`]**: after an answer with `Retry-After: t`, nothing is
//!    sent to the partner before t (invariant 11). Per partner, not per row:
//!    other deliveries are deferred too. Before the breaker, so a gated
//!    request does not spend the breaker's half-open probe.
//! 3. **[`CircuitBreaker`]**: opens after N consecutive failures; while
//!    open, deliveries are deferred without being sent; after the cool-down
//!    one probe goes out (half-open); its success closes the breaker, its
//!    failure opens it again.
//! 4. **[`Timeout`]**: an attempt that takes longer is a network failure
//!    (tower's own `Timeout` answers an error instead, which would leave the
//!    stack's answer type). Inside the breaker, so a partner that hangs
//!    counts as failing.
//! 5. **[`HttpAttempt`]**: one POST with reqwest.
//!
//! The retry decision is not a layer that loops in memory: it is
//! [`RetryPolicy`](super::RetryPolicy) applied to the stack's answer, and a
//! retry is the outbox row rescheduled in the store (its next attempt time),
//! so a crash loses nothing. A deferred delivery ([`Sent::Deferred`]) is
//! rescheduled without counting an attempt.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder};

use contracts::http::{IDEMPOTENCY_KEY, TRACEPARENT, TraceParent, error_chain};

use super::attempt::AttemptOutcome;
use crate::clock::{MAX_RETRY_AFTER, retry_after};
use crate::store::Delivery;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What the stack answers for one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The request was sent (or failed on the way).
    Attempted(AttemptOutcome),
    /// Nothing was sent: the partner may not be called before `until`.
    Deferred { until: Instant, why: &'static str },
}

/// A partner's delivery stack.
pub type DeliveryService = BoxCloneSyncService<Delivery, Sent, Infallible>;

/// Builds the stack documented at the top of this module.
pub fn stack<S>(inner: S, limit: usize, timeout: Duration, gate: Gate, breaker: Breaker) -> DeliveryService
where
    S: Service<Delivery, Response = Sent, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    let svc = ServiceBuilder::new()
        .concurrency_limit(limit.max(1))
        .layer(RetryAfterLayer::new(gate))
        .layer(CircuitBreakerLayer::new(breaker))
        .layer(TimeoutLayer::new(timeout))
        .service(inner);
    BoxCloneSyncService::new(svc)
}

// ---------------------------------------------------------------- timeout

/// Adds [`Timeout`].
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    after: Duration,
}

impl TimeoutLayer {
    pub fn new(after: Duration) -> Self {
        Self { after }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;
    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner,
            after: self.after,
        }
    }
}

/// Bounds one attempt; past `after` it is abandoned as a network failure.
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    after: Duration,
}

impl<S, R> Service<R> for Timeout<S>
where
    S: Service<R, Response = Sent, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Sent;
    type Error = Infallible;
    type Future = BoxFuture<Result<Sent, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let (answer, after) = (self.inner.call(req), self.after);
        Box::pin(async move {
            match tokio::time::timeout(after, answer).await {
                Ok(sent) => sent,
                Err(_) => Ok(Sent::Attempted(AttemptOutcome::Network(format!(
                    "timed out after {after:?}"
                )))),
            }
        })
    }
}

// ---------------------------------------------------------------- HTTP attempt

/// One delivery attempt: a POST of the row's body to the partner, with its
/// Idempotency-Key and a child `traceparent`. Never fails: a network error
/// is an outcome like a status.
#[derive(Debug, Clone)]
pub struct HttpAttempt {
    http: Http,
    base: String,
}

/// The lanes' HTTP/1.1 client: hyper's pooled client (keep-alive,
/// `TCP_NODELAY`, a connect timeout), without reqwest's layers over it
/// (URL parsing, proxies, redirects) on every delivery.
pub type Http = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<bytes::Bytes>,
>;

/// A client for [`HttpAttempt`]s: connecting gives up after
/// `connect_timeout` (the whole attempt is bounded by the stack's
/// [`Timeout`]).
pub fn http_client(connect_timeout: Duration) -> Http {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(connect_timeout));
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        // Idle connections close after 90 s, as reqwest's did.
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build(connector)
}

impl HttpAttempt {
    pub fn new(http: Http, base: &str) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        }
    }
}

impl Service<Delivery> for HttpAttempt {
    type Response = Sent;
    type Error = Infallible;
    type Future = BoxFuture<Result<Sent, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, d: Delivery) -> Self::Future {
        use axum::http::{Request, header};
        use http_body_util::BodyExt;
        let trace = TraceParent {
            trace_id: d.trace_id.clone(),
            parent_id: String::new(),
            sampled: true,
        }
        .child(rand::random());
        let url = format!("{}{}", self.base, d.path);
        let request = Request::post(url.as_str())
            .header(IDEMPOTENCY_KEY, &d.idempotency_key)
            .header(TRACEPARENT, trace.header_value())
            .header(header::CONTENT_TYPE, "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(d.body)));
        let http = self.http.clone();
        Box::pin(async move {
            let request = match request {
                Ok(r) => r,
                Err(e) => {
                    return Ok(Sent::Attempted(AttemptOutcome::Network(format!(
                        "cannot send to {url}: {e}"
                    ))));
                }
            };
            Ok(Sent::Attempted(match http.request(request).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = retry_after(resp.headers());
                    // Read the body to its end so the connection can be
                    // reused.
                    let _ = resp.into_body().collect().await;
                    AttemptOutcome::Status { status, retry_after }
                }
                Err(e) => AttemptOutcome::Network(format!("POST {url}: {}", error_chain(&e))),
            }))
        })
    }
}

// ---------------------------------------------------------------- Retry-After gate

/// A partner's "not before" time, shared by every clone of its stack.
#[derive(Debug, Clone, Default)]
pub struct Gate(Arc<Mutex<Option<Instant>>>);

impl Gate {
    /// The time before which nothing may be sent, if it is still ahead.
    pub fn not_before(&self) -> Option<Instant> {
        let held = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        held.filter(|t| *t > Instant::now())
    }

    fn hold_until(&self, t: Instant) {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *held = Some(held.map_or(t, |h| h.max(t)));
    }
}

/// Adds [`RetryAfter`].
#[derive(Debug, Clone)]
pub struct RetryAfterLayer {
    gate: Gate,
}

impl RetryAfterLayer {
    pub fn new(gate: Gate) -> Self {
        Self { gate }
    }
}

impl<S> Layer<S> for RetryAfterLayer {
    type Service = RetryAfter<S>;
    fn layer(&self, inner: S) -> RetryAfter<S> {
        RetryAfter {
            inner,
            gate: self.gate.clone(),
        }
    }
}

/// Honours a partner's Retry-After for every request to it: a request made
/// before that time is answered [`Sent::Deferred`] without reaching the
/// inner service.
#[derive(Debug, Clone)]
pub struct RetryAfter<S> {
    inner: S,
    gate: Gate,
}

impl<S, R> Service<R> for RetryAfter<S>
where
    S: Service<R, Response = Sent, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Sent;
    type Error = Infallible;
    type Future = BoxFuture<Result<Sent, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        if let Some(until) = self.gate.not_before() {
            return Box::pin(async move {
                Ok(Sent::Deferred {
                    until,
                    why: "partner asked to wait (Retry-After)",
                })
            });
        }
        let gate = self.gate.clone();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let sent = answer.await?;
            if let Sent::Attempted(AttemptOutcome::Status {
                retry_after: Some(t), ..
            }) = &sent
            {
                // Counted from the moment the answer arrived.
                gate.hold_until(Instant::now() + (*t).min(MAX_RETRY_AFTER));
            }
            Ok(sent)
        })
    }
}

// ---------------------------------------------------------------- circuit breaker

/// When a partner's breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures (network, 408, 5xx) that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open before a half-open probe.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BreakerState {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// The probe is out.
    HalfOpen,
}

/// Whether a breaker lets a request through now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: requests go through.
    Open,
    /// The cool-down is over: the next request is the probe.
    Probe,
    /// Open until then.
    BlockedUntil(Instant),
    /// The probe is out; wait for its answer.
    ProbeInFlight,
}

/// A partner's circuit breaker state, shared by every clone of its stack.
#[derive(Debug, Clone)]
pub struct Breaker {
    config: BreakerConfig,
    state: Arc<Mutex<BreakerState>>,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: Arc::new(Mutex::new(BreakerState::Closed { failures: 0 })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a request would go through now (without taking the probe).
    pub fn admission(&self) -> Admission {
        match *self.lock() {
            BreakerState::Closed { .. } => Admission::Open,
            BreakerState::Open { until } if until > Instant::now() => Admission::BlockedUntil(until),
            BreakerState::Open { .. } => Admission::Probe,
            BreakerState::HalfOpen => Admission::ProbeInFlight,
        }
    }

    /// Lets a request through (`Ok(is_probe)`) or says until when not.
    fn admit(&self) -> Result<bool, Sent> {
        let mut state = self.lock();
        let now = Instant::now();
        match *state {
            BreakerState::Closed { .. } => Ok(false),
            BreakerState::Open { until } if until > now => Err(Sent::Deferred {
                until,
                why: "circuit breaker open",
            }),
            BreakerState::Open { .. } => {
                *state = BreakerState::HalfOpen;
                Ok(true)
            }
            BreakerState::HalfOpen => Err(Sent::Deferred {
                until: now + self.config.cool_down,
                why: "circuit breaker half-open, probe in flight",
            }),
        }
    }

    fn record(&self, failed: bool, probe: bool) {
        let mut state = self.lock();
        let reopen = BreakerState::Open {
            until: Instant::now() + self.config.cool_down,
        };
        *state = match (*state, probe, failed) {
            (_, true, false) => BreakerState::Closed { failures: 0 },
            (_, true, true) => reopen,
            (BreakerState::Closed { .. }, false, false) => BreakerState::Closed { failures: 0 },
            (BreakerState::Closed { failures }, false, true)
                if failures + 1 >= self.config.failure_threshold =>
            {
                reopen
            }
            (BreakerState::Closed { failures }, false, true) => BreakerState::Closed {
                failures: failures + 1,
            },
            // An answer to a request let through before the breaker opened
            // changes nothing: the probe decides.
            (open_or_half, false, _) => open_or_half,
        };
    }
}

/// Failures as the breaker counts them: the partner is down or overloaded.
/// A 429 (handled by the Retry-After gate), a 409 or another 4xx shows a
/// partner that answers.
fn is_failure(sent: &Sent) -> bool {
    match sent {
        Sent::Attempted(AttemptOutcome::Network(_)) => true,
        Sent::Attempted(AttemptOutcome::Status { status, .. }) => *status == 408 || *status >= 500,
        Sent::Deferred { .. } => false,
    }
}

/// Adds [`CircuitBreaker`].
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer {
    breaker: Breaker,
}

impl CircuitBreakerLayer {
    pub fn new(breaker: Breaker) -> Self {
        Self { breaker }
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreaker<S>;
    fn layer(&self, inner: S) -> CircuitBreaker<S> {
        CircuitBreaker {
            inner,
            breaker: self.breaker.clone(),
        }
    }
}

/// Fails fast ([`Sent::Deferred`]) while the partner's breaker is open.
#[derive(Debug, Clone)]
pub struct CircuitBreaker<S> {
    inner: S,
    breaker: Breaker,
}

/// Records a probe that never answered (its future was dropped) as failed,
/// so the breaker is never stuck half-open.
struct ProbeGuard(Option<Breaker>);

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            b.record(true, true);
        }
    }
}

impl<S, R> Service<R> for CircuitBreaker<S>
where
    S: Service<R, Response = Sent, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Sent;
    type Error = Infallible;
    type Future = BoxFuture<Result<Sent, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let probe = match self.breaker.admit() {
            Ok(probe) => probe,
            Err(deferred) => return Box::pin(async move { Ok(deferred) }),
        };
        let breaker = self.breaker.clone();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let mut guard = ProbeGuard(probe.then(|| breaker.clone()));
            let sent = answer.await?;
            guard.0 = None;
            breaker.record(is_failure(&sent), probe);
            Ok(sent)
        })
    }
}

#[cfg(test)]
mod tests {
    //! Each layer on paused time, stepping a scripted inner service.

    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tower::ServiceExt;

    use super::*;

    /// An inner service answering from a script and counting calls.
    #[derive(Clone)]
    struct Scripted {
        answers: Arc<Mutex<VecDeque<(Duration, AttemptOutcome)>>>,
        calls: Arc<AtomicUsize>,
        in_flight: Arc<AtomicUsize>,
        max_in_flight: Arc<AtomicUsize>,
    }

    impl Scripted {
        fn new(script: Vec<(Duration, AttemptOutcome)>) -> Self {
            Self {
                answers: Arc::new(Mutex::new(script.into())),
                calls: Arc::default(),
                in_flight: Arc::default(),
                max_in_flight: Arc::default(),
            }
        }
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl Service<Delivery> for Scripted {
        type Response = Sent;
        type Error = Infallible;
        type Future = BoxFuture<Result<Sent, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Delivery) -> Self::Future {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let (delay, outcome) = self
                .answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or((Duration::ZERO, ok()));
            let in_flight = self.in_flight.clone();
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(Sent::Attempted(outcome))
            })
        }
    }

    fn ok() -> AttemptOutcome {
        status(201)
    }
    fn status(status: u16) -> AttemptOutcome {
        AttemptOutcome::Status {
            status,
            retry_after: None,
        }
    }
    fn delivery(id: i64) -> Delivery {
        Delivery {
            id,
            partner: contracts::Role::Erp,
            path: "/x".into(),
            idempotency_key: format!("k{id}"),
            body: "{}".into(),
            trace_id: "0".repeat(32),
            attempts: 0,
        }
    }
    const LONG: Duration = Duration::from_secs(3600);

    #[tokio::test(start_paused = true)]
    async fn timeout_turns_a_hanging_attempt_into_a_network_failure() {
        let inner = Scripted::new(vec![(LONG, ok()), (Duration::from_millis(10), ok())]);
        let svc = stack(
            inner.clone(),
            4,
            Duration::from_secs(2),
            Gate::default(),
            Breaker::new(BreakerConfig::default()),
        );
        let start = Instant::now();
        let sent = svc.clone().oneshot(delivery(1)).await.unwrap();
        assert_eq!(
            sent,
            Sent::Attempted(AttemptOutcome::Network("timed out after 2s".into()))
        );
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert_eq!(svc.oneshot(delivery(2)).await.unwrap(), Sent::Attempted(ok()));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_limit_holds_per_partner() {
        let inner = Scripted::new(vec![(Duration::from_millis(100), ok()); 10]);
        let svc = stack(
            inner.clone(),
            3,
            LONG,
            Gate::default(),
            Breaker::new(BreakerConfig::default()),
        );
        let start = Instant::now();
        let mut all = tokio::task::JoinSet::new();
        for id in 0..10 {
            all.spawn(svc.clone().oneshot(delivery(id)));
        }
        let answers = all.join_all().await;
        assert!(answers.iter().all(|a| *a == Ok(Sent::Attempted(ok()))));
        assert_eq!(inner.max_in_flight.load(Ordering::SeqCst), 3);
        // Ten requests of 100 ms, three at a time: four waves.
        assert_eq!(start.elapsed(), Duration::from_millis(400));
        // Another partner's stack has its own permits.
        let other = Scripted::new(vec![(Duration::from_millis(100), ok()); 3]);
        let other_svc = stack(
            other.clone(),
            3,
            LONG,
            Gate::default(),
            Breaker::new(BreakerConfig::default()),
        );
        let busy = svc.clone();
        let hold: Vec<_> = (0..3)
            .map(|i| tokio::spawn(busy.clone().oneshot(delivery(i))))
            .collect();
        tokio::task::yield_now().await;
        let t = Instant::now();
        other_svc.oneshot(delivery(9)).await.unwrap();
        assert_eq!(
            t.elapsed(),
            Duration::from_millis(100),
            "not held up by the busy partner"
        );
        for h in hold {
            h.await.unwrap().unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_holds_every_request_to_the_partner() {
        let limited = AttemptOutcome::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(5)),
        };
        let inner = Scripted::new(vec![(Duration::from_millis(20), limited.clone())]);
        let gate = Gate::default();
        let svc = stack(
            inner.clone(),
            4,
            LONG,
            gate.clone(),
            Breaker::new(BreakerConfig::default()),
        );
        let start = Instant::now();
        assert_eq!(
            svc.clone().oneshot(delivery(1)).await.unwrap(),
            Sent::Attempted(limited)
        );
        let until = start + Duration::from_millis(20) + Duration::from_secs(5);
        assert_eq!(gate.not_before(), Some(until));
        // Another row to the same partner is not sent before then.
        for id in 2..5 {
            let sent = svc.clone().oneshot(delivery(id)).await.unwrap();
            assert!(
                matches!(sent, Sent::Deferred { until: u, .. } if u == until),
                "{sent:?}"
            );
        }
        assert_eq!(inner.calls(), 1);
        tokio::time::sleep_until(until - Duration::from_millis(1)).await;
        assert!(matches!(
            svc.clone().oneshot(delivery(5)).await.unwrap(),
            Sent::Deferred { .. }
        ));
        tokio::time::sleep_until(until).await;
        assert_eq!(gate.not_before(), None);
        assert_eq!(svc.oneshot(delivery(6)).await.unwrap(), Sent::Attempted(ok()));
        assert_eq!(inner.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn breaker_opens_after_consecutive_failures_probes_and_closes() {
        let config = BreakerConfig {
            failure_threshold: 3,
            cool_down: Duration::from_secs(10),
        };
        let net = || AttemptOutcome::Network("refused".into());
        let inner = Scripted::new(vec![
            (Duration::ZERO, status(503)),
            (Duration::ZERO, status(503)),
            // A success in between resets the count …
            (Duration::ZERO, ok()),
            (Duration::ZERO, status(503)),
            // … and a 4xx or 429 is an answer, not a failure.
            (Duration::ZERO, status(422)),
            (Duration::ZERO, net()),
            (Duration::ZERO, status(408)),
            (Duration::ZERO, status(500)),
            // The first probe fails, the second succeeds.
            (Duration::from_millis(50), net()),
            (Duration::from_millis(50), ok()),
        ]);
        let breaker = Breaker::new(config);
        let svc = stack(inner.clone(), 8, LONG, Gate::default(), breaker.clone());
        for id in 0..8 {
            assert!(matches!(
                svc.clone().oneshot(delivery(id)).await.unwrap(),
                Sent::Attempted(_)
            ));
        }
        let opened = Instant::now();
        assert_eq!(
            breaker.admission(),
            Admission::BlockedUntil(opened + config.cool_down)
        );
        // Open: nothing reaches the partner.
        let sent = svc.clone().oneshot(delivery(8)).await.unwrap();
        assert_eq!(
            sent,
            Sent::Deferred {
                until: opened + config.cool_down,
                why: "circuit breaker open"
            }
        );
        assert_eq!(inner.calls(), 8);

        // After the cool-down one probe goes out; others wait for it.
        tokio::time::sleep(config.cool_down).await;
        assert_eq!(breaker.admission(), Admission::Probe);
        let probe = tokio::spawn(svc.clone().oneshot(delivery(9)));
        tokio::task::yield_now().await;
        assert_eq!(breaker.admission(), Admission::ProbeInFlight);
        assert!(matches!(
            svc.clone().oneshot(delivery(10)).await.unwrap(),
            Sent::Deferred { .. }
        ));
        assert_eq!(probe.await.unwrap().unwrap(), Sent::Attempted(net()));
        assert!(
            matches!(breaker.admission(), Admission::BlockedUntil(_)),
            "a failed probe reopens"
        );
        assert_eq!(inner.calls(), 9);

        tokio::time::sleep(config.cool_down).await;
        assert_eq!(
            svc.clone().oneshot(delivery(11)).await.unwrap(),
            Sent::Attempted(ok())
        );
        assert_eq!(breaker.admission(), Admission::Open, "a good probe closes");
        assert_eq!(svc.oneshot(delivery(12)).await.unwrap(), Sent::Attempted(ok()));
        assert_eq!(inner.calls(), 11);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_probe_counts_as_failed() {
        let config = BreakerConfig {
            failure_threshold: 1,
            cool_down: Duration::from_secs(1),
        };
        let inner = Scripted::new(vec![(Duration::ZERO, status(503)), (LONG, ok())]);
        let breaker = Breaker::new(config);
        let svc = stack(inner, 1, LONG, Gate::default(), breaker.clone());
        svc.clone().oneshot(delivery(1)).await.unwrap();
        tokio::time::sleep(config.cool_down).await;
        let probe = tokio::spawn(svc.oneshot(delivery(2)));
        tokio::task::yield_now().await;
        assert_eq!(breaker.admission(), Admission::ProbeInFlight);
        probe.abort();
        let _ = probe.await;
        assert!(matches!(breaker.admission(), Admission::BlockedUntil(_)));
    }
}
