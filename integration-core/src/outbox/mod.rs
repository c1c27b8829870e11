//! Outbox delivery: one dispatcher per partner takes due rows, sends each
//! through the partner's tower stack ([`layers`]: concurrency limit,
//! Retry-After gate, circuit breaker, timeout, one HTTP attempt with its
//! Idempotency-Key and a child `traceparent`), and records the outcome.
//!
//! The decision (whether an outcome is retried, [`RetryPolicy`]) is separate
//! from the mechanism (when, [`Backoff`], with an injected RNG for jitter),
//! as tower's retry module separates them.
//!
//! **Layer**: above the store, beside the flows, below http. Files here
//! import the store, `db`, `error` and `clock`; never the flows or http.
//! Inside: this file (the worker and its lanes) → `events` → `layers` →
//! `attempt`; nothing here imports this file.

pub mod attempt;
pub mod events;
mod layers;

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::ServiceExt;
use tracing::Instrument;

use contracts::Role;

pub use attempt::{AttemptOutcome, Backoff, Decision, MAX_RETRY_AFTER, RetryPolicy};
pub use layers::{
    Admission, Breaker, BreakerConfig, CircuitBreaker, CircuitBreakerLayer, DeliveryService, Gate, Http,
    HttpAttempt, RetryAfter, RetryAfterLayer, Sent, Timeout, TimeoutLayer, http_client, stack,
};

use crate::clock::now_us;
use crate::store::{Delivery, Dispatch, Fresh, Store};

/// Base URLs of the partners the core delivers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partners {
    pub erp: String,
    pub wms: String,
    pub supplier: String,
}

/// In-flight delivery limits per partner; `None` uses
/// [`RetryConfig::concurrency`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartnerLimits {
    pub erp: Option<usize>,
    pub wms: Option<usize>,
    pub supplier: Option<usize>,
}

impl PartnerLimits {
    /// Limits like a NetSuite account's default concurrency governance
    /// (15 requests at once for the ERP); the others unchanged.
    pub fn netsuite_like() -> Self {
        Self {
            erp: Some(15),
            ..Self::default()
        }
    }
}

/// The retry schedule and the delivery stack's settings, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    pub policy: RetryPolicy,
    pub backoff: Backoff,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Deliveries in flight at once per partner, unless `limits` says
    /// otherwise for that partner.
    pub concurrency: usize,
    pub limits: PartnerLimits,
    /// Each partner's circuit breaker.
    pub breaker: BreakerConfig,
}

impl RetryConfig {
    /// In-flight limit for `partner`.
    pub fn limit(&self, partner: Role) -> usize {
        let own = match partner {
            Role::Erp => self.limits.erp,
            Role::Wms => self.limits.wms,
            Role::Supplier => self.limits.supplier,
            Role::Core | Role::Harness => None,
        };
        own.unwrap_or(self.concurrency).max(1)
    }
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
            limits: PartnerLimits::default(),
            breaker: BreakerConfig::default(),
        }
    }
}

/// Wall-clock microseconds of a (tokio) instant.
fn wall_us(at: Instant) -> u64 {
    now_us().saturating_add(at.saturating_duration_since(Instant::now()).as_micros() as u64)
}

/// One partner's delivery lane: its stack and the state the dispatcher
/// consults before reading rows (the same state the layers act on).
struct Lane {
    /// The outbox target: a partner's role name, or `events::TARGET`.
    partner: &'static str,
    service: DeliveryService,
    limit: usize,
    gate: Gate,
    breaker: Breaker,
    wake: Notify,
    /// Rows taken and not yet marked: never read again meanwhile.
    inflight: Mutex<HashSet<i64>>,
    /// Of those, the ones whose attempt is still under way: what `limit`
    /// bounds. A row whose attempt is over frees its place at once, while
    /// its outcome waits for the store's next commit.
    sending: std::sync::atomic::AtomicUsize,
    /// Rows the store handed over at their commit, waiting for a place
    /// (already in `inflight`).
    queue: Mutex<VecDeque<Delivery>>,
    /// Rows claimed for `queue`: handed over, or claimed and not yet
    /// committed. At most [`QUEUE_CAP`].
    queued: AtomicUsize,
    /// Whether the outbox may hold due rows of this lane that are not in
    /// `queue`: a restart, a retry, a replay, a row the queue had no room
    /// for, a write on PostgreSQL. Only then does the lane read it.
    db_dirty: AtomicBool,
    /// The queue was full and refused a row: every new row waits in the
    /// outbox too, until a read of it finds no more due rows, so newer
    /// rows never overtake (and starve) the older ones left there.
    spilled: AtomicBool,
}

/// The most handed-over rows a lane holds in memory; beyond, rows wait in
/// the outbox and the lane reads them from there.
const QUEUE_CAP: usize = 4096;

impl Lane {
    fn sending(&self) -> usize {
        self.sending.load(Ordering::Acquire)
    }

    /// An attempt is over (sent or deferred): its place is free.
    fn attempt_over(&self) {
        self.sending.fetch_sub(1, Ordering::AcqRel);
        self.wake.notify_one();
    }

    /// Up to `n` handed-over rows, oldest first.
    fn take_queued(&self, n: usize) -> Vec<Delivery> {
        let mut queue = self.queue.lock().expect("queue lock");
        let n = n.min(queue.len());
        let taken: Vec<Delivery> = queue.drain(..n).collect();
        self.queued.fetch_sub(taken.len(), Ordering::AcqRel);
        taken
    }

    /// The outbox may hold due rows for this lane: read it on the next pass.
    fn outbox_changed(&self) {
        self.db_dirty.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    fn in_flight_ids(&self) -> Vec<i64> {
        self.inflight
            .lock()
            .expect("inflight lock")
            .iter()
            .copied()
            .collect()
    }
}

/// The lanes as the store's committer sees them: it hands each lane the
/// rows queued for it (see [`Dispatch`]).
struct Lanes(Vec<Arc<Lane>>);

impl Lanes {
    fn of(&self, target: &str) -> Option<&Arc<Lane>> {
        self.0.iter().find(|l| l.partner == target)
    }
}

impl Dispatch for Lanes {
    fn claim(&self, target: &str, id: i64) -> bool {
        let Some(lane) = self.of(target) else {
            return false;
        };
        if lane.spilled.load(Ordering::Acquire) {
            lane.db_dirty.store(true, Ordering::Release);
            return false;
        }
        if lane.queued.fetch_add(1, Ordering::AcqRel) >= QUEUE_CAP {
            lane.queued.fetch_sub(1, Ordering::AcqRel);
            // It stays in the outbox: read from there once committed.
            lane.spilled.store(true, Ordering::Release);
            lane.db_dirty.store(true, Ordering::Release);
            return false;
        }
        lane.inflight.lock().expect("inflight lock").insert(id);
        true
    }

    fn unclaim(&self, target: &str, id: i64) {
        if let Some(lane) = self.of(target) {
            lane.inflight.lock().expect("inflight lock").remove(&id);
            lane.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn ready(&self, fresh: Vec<Fresh>) {
        for Fresh { target, delivery } in fresh {
            if let Some(lane) = self.of(&target) {
                lane.queue.lock().expect("queue lock").push_back(delivery);
            }
        }
        // Every lane looks: at its new rows, or at the outbox (a row it had
        // no room for is committed now). A lane with neither goes back to
        // sleep at once.
        for lane in &self.0 {
            let has_rows = !lane.queue.lock().expect("queue lock").is_empty();
            if has_rows || lane.db_dirty.load(Ordering::Acquire) {
                lane.wake.notify_one();
            }
        }
    }
}

pub(crate) struct Worker {
    store: Arc<Store>,
    retry: RetryConfig,
    rng: Mutex<StdRng>,
    notify: Arc<Notify>,
    lanes: Vec<Arc<Lane>>,
}

impl Worker {
    pub fn new(
        store: Arc<Store>,
        partners: Partners,
        retry: RetryConfig,
        seed: u64,
        notify: Arc<Notify>,
        events: Option<events::EventsConfig>,
    ) -> Self {
        // The per-attempt timeout is the stack's Timeout layer; the client
        // only bounds connecting.
        let http = layers::http_client(retry.timeout);
        let mut lanes: Vec<Arc<Lane>> = [
            (Role::Erp, &partners.erp),
            (Role::Wms, &partners.wms),
            (Role::Supplier, &partners.supplier),
        ]
        .into_iter()
        .map(|(partner, base)| {
            lane(
                partner.as_str(),
                HttpAttempt::new(http.clone(), base),
                retry.limit(partner),
                &retry,
            )
        })
        .collect();
        // The events lane: the same stack around a JetStream publish.
        if let Some(events) = events {
            let publisher = events::Publisher::new(events, retry.timeout);
            lanes.push(lane(events::TARGET, publisher, retry.concurrency.max(1), &retry));
        }
        // Rows queued by the store's writes come straight to the lanes
        // (SQLite; on PostgreSQL the lanes claim rows from the outbox).
        store.set_dispatch(Some(Arc::new(Lanes(lanes.clone()))));
        Self {
            store,
            retry,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            notify,
            lanes,
        }
    }

    /// One attempt at `d`, in a `delivery` span (visible with
    /// `CROSSDOCK_LOG=debug`): kind (the partner's path), business key (the
    /// Idempotency-Key), trace id, partner, attempt. Whether the row is
    /// still pending afterwards (to be retried, or deferred).
    async fn deliver(&self, lane: &Lane, d: Delivery) -> bool {
        let span = tracing::debug_span!(
            "delivery",
            id = d.id,
            kind = %d.path,
            business_key = %d.idempotency_key,
            trace_id = %d.trace_id,
            partner = %lane.partner,
            attempt = d.attempts + 1,
        );
        self.attempt(lane, d).instrument(span).await
    }

    async fn attempt(&self, lane: &Lane, d: Delivery) -> bool {
        let (id, attempts) = (d.id, d.attempts);
        let partner = lane.partner;
        tracing::debug!("delivery attempt");
        let Ok(sent) = lane.service.clone().oneshot(d).await;
        lane.attempt_over();
        let outcome = match sent {
            Sent::Attempted(outcome) => outcome,
            Sent::Deferred { until, why } => {
                tracing::debug!(id, %partner, why, "delivery deferred, nothing sent");
                if let Err(e) = self.store.defer(id, why.to_owned(), wall_us(until)).await {
                    tracing::error!(id, error = %e, "failed to defer a delivery");
                }
                return true;
            }
        };
        let attempts_made = attempts + 1;
        let status = match &outcome {
            AttemptOutcome::Status { status, .. } => Some(*status),
            AttemptOutcome::Network(_) => None,
        };
        let decision = self.retry.policy.decide(&outcome, attempts_made);
        let pending = matches!(decision, Decision::Retry { .. });
        let result = match decision {
            Decision::Delivered => {
                tracing::debug!(?status, "delivered");
                self.store
                    .mark_delivered(id, status.unwrap_or(200), now_us())
                    .await
            }
            Decision::Retry { not_before } => {
                let delay = {
                    let mut rng = self.rng.lock().expect("rng lock");
                    self.retry.backoff.delay(attempts_made, not_before, &mut *rng)
                };
                let why = format!("{outcome:?}");
                tracing::debug!(id, %partner, ?delay, %why, "delivery will be retried");
                let at = now_us().saturating_add(delay.as_micros() as u64);
                self.store.mark_retry(id, status, why, at).await
            }
            Decision::DeadLetter(why) => {
                tracing::warn!(id, %partner, %why, "delivery dead-lettered");
                self.store.mark_dead(id, status, why).await
            }
        };
        if let Err(e) = &result {
            tracing::error!(id, error = %e, "failed to record a delivery outcome");
        }
        // A mark that failed leaves the row pending too.
        pending || result.is_err()
    }

    /// Runs until `shutdown` turns true; in-flight deliveries are awaited.
    /// One dispatcher per partner, so a partner that is down, slow or
    /// rate-limited never holds up another.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let mut lanes = tokio::task::JoinSet::new();
        for lane in &self.lanes {
            lanes.spawn(self.clone().run_lane(lane.clone(), shutdown.clone()));
        }
        // Fan the core's "the outbox changed" signal (a replay, a write on
        // PostgreSQL) out to every lane.
        let mut stop = shutdown.clone();
        loop {
            tokio::select! {
                _ = self.notify.notified() => {
                    for lane in &self.lanes {
                        lane.outbox_changed();
                    }
                }
                _ = stop.changed() => break,
            }
        }
        lanes.join_all().await;
        // Rows queued from now on wait in the outbox for the next start.
        self.store.set_dispatch(None);
    }

    async fn run_lane(self: Arc<Self>, lane: Arc<Lane>, mut shutdown: watch::Receiver<bool>) {
        let partner = lane.partner;
        let mut tasks = tokio::task::JoinSet::new();
        // Rows left from before a restart are read at once.
        lane.db_dirty.store(true, Ordering::Release);
        // When the next row left in the outbox falls due, if known.
        let mut next_due: Option<Instant> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            if next_due.is_some_and(|t| t <= Instant::now()) {
                next_due = None;
                lane.db_dirty.store(true, Ordering::Release);
            }
            // What the gate and the breaker allow now: rows are taken only
            // when something may be sent.
            let mut blocked_until = lane.gate.not_before();
            let sending = lane.sending();
            let mut room = lane.limit.saturating_sub(sending);
            // The outbox is read in batches: while most of the lane's
            // places are taken, wait for more of them to free up rather
            // than read it (each read also passes over the rows in flight)
            // for every attempt that ends. A finishing attempt wakes the
            // lane. Rows handed over in memory are taken at once.
            let mut wait_for_room = sending > 0 && room < read_batch(lane.limit);
            match lane.breaker.admission() {
                Admission::Open => {}
                Admission::Probe => {
                    room = room.min(1);
                    wait_for_room = false;
                }
                Admission::BlockedUntil(t) => blocked_until = blocked_until.max(Some(t)),
                Admission::ProbeInFlight => room = 0,
            }
            let mut due = Vec::new();
            let mut read_all_due = false;
            if room > 0 && blocked_until.is_none() {
                due = lane.take_queued(room);
                let room = room - due.len();
                if room > 0 && !wait_for_room && lane.db_dirty.swap(false, Ordering::AcqRel) {
                    let store = self.store.clone();
                    let skip = lane.in_flight_ids();
                    let read = tokio::task::spawn_blocking(move || {
                        store.due_deliveries_for(partner, now_us(), room, &skip)
                    })
                    .await
                    .unwrap_or_else(|e| {
                        Err(crate::db::DbError::new(format!(
                            "the outbox read task failed: {e}"
                        )))
                    });
                    match read {
                        Ok(rows) => {
                            // A full read may have left more due rows.
                            read_all_due = rows.len() < room;
                            if read_all_due {
                                lane.spilled.store(false, Ordering::Release);
                            } else {
                                lane.db_dirty.store(true, Ordering::Release);
                            }
                            // A row handed over since the read began is in
                            // flight already: taken once.
                            let mut inflight = lane.inflight.lock().expect("inflight lock");
                            due.extend(rows.into_iter().filter(|d| inflight.insert(d.id)));
                        }
                        Err(e) => {
                            tracing::error!(partner, error = %e, "failed to read the outbox");
                            lane.db_dirty.store(true, Ordering::Release);
                        }
                    }
                }
            }
            for d in due {
                lane.sending.fetch_add(1, Ordering::AcqRel);
                let (worker, lane) = (self.clone(), lane.clone());
                tasks.spawn(async move {
                    let id = d.id;
                    let pending = worker.deliver(&lane, d).await;
                    lane.inflight.lock().expect("inflight lock").remove(&id);
                    if pending {
                        // Read the outbox for when it falls due again.
                        lane.db_dirty.store(true, Ordering::Release);
                    }
                    lane.wake.notify_one();
                });
            }
            // After reading every due row, learn when the next one left in
            // the outbox falls due (or the end of a lease on PostgreSQL).
            if read_all_due {
                let store = self.store.clone();
                let in_flight = lane.in_flight_ids();
                next_due = tokio::task::spawn_blocking(move || store.next_due_us_for(partner, &in_flight))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten()
                    .map(|t| Instant::now() + Duration::from_micros(t.saturating_sub(now_us())));
            }
            // Sleep until new work, a finished delivery, the next due time
            // (or the end of a Retry-After / open breaker), or shutdown; at
            // most half a second, after which the outbox is read again.
            let wait = match blocked_until {
                Some(t) => t.saturating_duration_since(Instant::now()),
                None => next_due.map_or(Duration::from_millis(500), |t| {
                    t.saturating_duration_since(Instant::now())
                }),
            }
            .clamp(Duration::from_millis(1), Duration::from_millis(500));
            tokio::select! {
                _ = lane.wake.notified() => {}
                _ = tokio::time::sleep(wait) => lane.db_dirty.store(true, Ordering::Release),
                _ = shutdown.changed() => {}
            }
        }
        tasks.join_all().await;
    }
}

/// The fewest free places a busy lane reads rows for: a quarter of its
/// limit (at least one).
fn read_batch(limit: usize) -> usize {
    (limit / 4).max(1)
}

/// One lane: `inner` wrapped in the delivery stack, with its own gate and
/// breaker.
fn lane<S>(target: &'static str, inner: S, limit: usize, retry: &RetryConfig) -> Arc<Lane>
where
    S: tower::Service<Delivery, Response = Sent, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let gate = Gate::default();
    let breaker = Breaker::new(retry.breaker);
    Arc::new(Lane {
        partner: target,
        service: layers::stack(inner, limit, retry.timeout, gate.clone(), breaker.clone()),
        limit,
        gate,
        breaker,
        wake: Notify::new(),
        inflight: Mutex::default(),
        sending: Default::default(),
        queue: Mutex::default(),
        queued: AtomicUsize::new(0),
        db_dirty: AtomicBool::new(true),
        spilled: AtomicBool::new(false),
    })
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
