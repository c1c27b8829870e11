//! The open-model load driver.
//!
//! A [`Schedule`] says when each send is due: a starting arrival rate, then
//! any number of linear ramps (each to a new rate over some seconds), the
//! last rate held after them. [`Driver::run`] fires send `i` at its intended
//! time `start + schedule.offset(i)` whether or not earlier sends have been
//! answered — a slow or stalled target makes sends queue up, it never slows
//! the schedule down — and measures each send's latency **from its intended
//! time** (not from when it actually went out) into an HdrHistogram. That is
//! what keeps the figures free of coordinated omission: a target that stalls
//! for a second shows a second of latency on every send that was due during
//! the stall, not on one.
//!
//! What is reported besides the histogram: sends that went out later than
//! [`Driver::late_after`] after their intended time (`missed`: the driver
//! itself could not keep up), the highest number of sends in flight at once
//! (a fact about the target, not a throttle), and sends still unanswered at
//! the time bound (`timed_out`; recorded at the latency they had reached
//! then, so they pull percentiles up instead of vanishing).
//!
//! ```text
//! let report = Driver::new(schedule).run(|i| async move { target.send(i).await.is_ok() }).await;
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use hdrhistogram::Histogram;
pub use scenario::Ramp;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// When each send is due: `start_per_s`, then each ramp in turn, then the
/// last rate held. Send 0 is due at offset 0; send `i` when the arrivals
/// accumulated since the start (the integral of the rate) reach `i`. A
/// constant rate `r` gives offsets `i / r`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub start_per_s: f64,
    pub ramps: Vec<Ramp>,
}

impl Schedule {
    /// A constant arrival rate.
    pub fn constant(per_s: f64) -> Self {
        Self {
            start_per_s: per_s,
            ramps: Vec::new(),
        }
    }

    /// A starting rate and ramp stages.
    pub fn ramped(start_per_s: f64, ramps: Vec<Ramp>) -> Self {
        Self { start_per_s, ramps }
    }

    /// The arrival rate at `t` seconds from the start.
    pub fn rate_at(&self, t: f64) -> f64 {
        let (mut from, mut rate) = (0.0, self.start_per_s);
        for r in &self.ramps {
            if t < from + r.over_s {
                return rate + (r.to_per_s - rate) * (t - from) / r.over_s;
            }
            from += r.over_s;
            rate = r.to_per_s;
        }
        rate
    }

    /// The intended offsets of every send, in order (endless while the
    /// final rate is above zero; bound it by count or time).
    pub fn offsets(&self) -> Offsets<'_> {
        Offsets {
            schedule: self,
            next: 0,
            stage: 0,
            stage_start_s: 0.0,
            stage_start_n: 0.0,
            stage_rate: self.start_per_s,
        }
    }

    /// The intended offset of send `i` (`None` if the rate drops to zero
    /// before it is due).
    pub fn offset(&self, i: u64) -> Option<Duration> {
        self.offsets().nth(i as usize)
    }
}

/// Iterator over a schedule's intended send offsets.
#[derive(Debug, Clone)]
pub struct Offsets<'a> {
    schedule: &'a Schedule,
    next: u64,
    /// Index of the ramp stage in force (`ramps.len()`: the hold after).
    stage: usize,
    stage_start_s: f64,
    /// Arrivals accumulated when the stage began.
    stage_start_n: f64,
    /// The rate when the stage began.
    stage_rate: f64,
}

impl Iterator for Offsets<'_> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let n = self.next as f64;
        loop {
            let Some(ramp) = self.schedule.ramps.get(self.stage) else {
                // The hold after the last stage.
                if self.stage_rate <= 0.0 {
                    return None;
                }
                let t = self.stage_start_s + (n - self.stage_start_n) / self.stage_rate;
                self.next += 1;
                return Some(Duration::from_secs_f64(t));
            };
            let (r0, r1, d) = (self.stage_rate, ramp.to_per_s, ramp.over_s);
            let arrivals = (r0 + r1) / 2.0 * d;
            if n < self.stage_start_n + arrivals {
                // Solve n - N0 = r0 s + (r1 - r0) / (2 d) s² for s in [0, d],
                // in the form that does not cancel when r1 ≈ r0.
                let k = n - self.stage_start_n;
                let a = (r1 - r0) / (2.0 * d);
                let s = if k <= 0.0 {
                    0.0
                } else {
                    2.0 * k / (r0 + (r0 * r0 + 4.0 * a * k).max(0.0).sqrt())
                };
                self.next += 1;
                return Some(Duration::from_secs_f64(self.stage_start_s + s.min(d)));
            }
            self.stage += 1;
            self.stage_start_s += d;
            self.stage_start_n += arrivals;
            self.stage_rate = r1;
        }
    }
}

/// What one send reports back to the driver: whether it was answered as
/// hoped. Latency is measured either way.
pub trait SendOutcome {
    fn is_ok(&self) -> bool;
}

impl SendOutcome for bool {
    fn is_ok(&self) -> bool {
        *self
    }
}

impl<T, E> SendOutcome for Result<T, E> {
    fn is_ok(&self) -> bool {
        Result::is_ok(self)
    }
}

/// An open-model load driver: a schedule, bounded by count and time.
#[derive(Debug, Clone)]
pub struct Driver {
    pub schedule: Schedule,
    /// Stop after this many sends…
    pub max_sends: u64,
    /// …or when this much time has passed since the start, whichever comes
    /// first; sends still unanswered then are abandoned (`timed_out`).
    pub max_duration: Duration,
    /// A send that goes out later than this after its intended time counts
    /// as `missed`.
    pub late_after: Duration,
    /// When the schedule starts (default: when `run` is called).
    pub start: Option<Instant>,
    /// Sends due this long after the start or later are not fired (the
    /// answers are still waited for, up to `max_duration`).
    pub send_for: Option<Duration>,
    /// Windows (from, to) after the start, such as fault windows: a send
    /// whose intended time to answer overlaps one is left out of
    /// [`LoadReport::judged`].
    pub exclude: Vec<(Duration, Duration)>,
    /// The flow driven, for the judged figures.
    pub flow: checker::sla::Flow,
}

/// The driver's figures for one run.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Sends fired.
    pub sent: u64,
    /// Sends answered and judged ok by the send itself.
    pub ok: u64,
    /// Sends answered, but not ok.
    pub failed: u64,
    /// Sends fired later than `late_after` after their intended time.
    pub missed: u64,
    /// Sends unanswered at the time bound (abandoned).
    pub timed_out: u64,
    /// The most sends in flight at once.
    pub max_in_flight: u64,
    /// Latency of every fired send, in microseconds from its intended send
    /// time to its answer (or to the time bound, for `timed_out` ones).
    pub latency_us: Histogram<u64>,
    /// From the start to the last answer (or the time bound).
    pub elapsed: Duration,
    /// The tolerance `missed` was judged with.
    pub late_after: Duration,
    /// The sends that overlap none of [`Driver::exclude`]'s windows: what
    /// an SLA is judged on.
    pub judged: checker::sla::FlowMeasure,
}

impl LoadReport {
    /// The `q` quantile of latency, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    /// The highest latency, in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.latency_us.max() as f64 / 1000.0
    }

    /// Answered sends per second over the run.
    pub fn per_second(&self) -> f64 {
        (self.ok + self.failed) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A latency histogram: 1 µs to 1 h, 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    checker::history::histogram()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Answers gathered while the driver runs.
struct Tally {
    hist: Histogram<u64>,
    /// Sends outside the excluded windows: latency, requests and errors.
    judged: checker::sla::FlowMeasure,
    exclude: Vec<(Instant, Instant)>,
    /// Sends in flight, by task, with their intended time.
    intended_of: HashMap<tokio::task::Id, Instant>,
    ok: u64,
    failed: u64,
}

impl Tally {
    fn settle(&mut self, r: Result<(tokio::task::Id, (u64, bool)), tokio::task::JoinError>) {
        match r {
            Ok((id, (latency, good))) => {
                let due = self.intended_of.remove(&id);
                self.hist.saturating_record(latency);
                if good {
                    self.ok += 1;
                } else {
                    self.failed += 1;
                }
                if let Some(due) = due {
                    self.judge(due, Instant::now(), good.then_some(latency));
                }
            }
            // A send that panicked: answered badly, at the time it ended.
            Err(e) => {
                if let Some(due) = self.intended_of.remove(&e.id()) {
                    self.hist
                        .saturating_record(micros(Instant::now().saturating_duration_since(due)));
                    self.judge(due, Instant::now(), None);
                }
                self.failed += 1;
            }
        }
    }

    /// Counts a send due at `due` and settled at `end` towards the SLA
    /// figures, unless it overlaps an excluded window; `None`: an error.
    fn judge(&mut self, due: Instant, end: Instant, latency: Option<u64>) {
        if self.exclude.iter().all(|(a, b)| end < *a || due > *b) {
            self.judged.record(latency);
        }
    }
}

impl Driver {
    /// A driver for `schedule`, bounded by default to 1,000,000 sends and
    /// 60 s; late means more than 10 ms behind.
    pub fn new(schedule: Schedule) -> Self {
        Self {
            schedule,
            max_sends: 1_000_000,
            max_duration: Duration::from_secs(60),
            late_after: Duration::from_millis(10),
            start: None,
            send_for: None,
            exclude: Vec::new(),
            flow: checker::sla::PO_RELEASE,
        }
    }

    /// Leaves sends overlapping these windows (offsets from the start) out
    /// of the judged figures.
    pub fn exclude(mut self, windows: Vec<(Duration, Duration)>) -> Self {
        self.exclude = windows;
        self
    }

    /// Names the flow the judged figures are for (default `po-release`).
    pub fn flow(mut self, flow: checker::sla::Flow) -> Self {
        self.flow = flow;
        self
    }

    pub fn max_sends(mut self, n: u64) -> Self {
        self.max_sends = n;
        self
    }

    pub fn max_duration(mut self, d: Duration) -> Self {
        self.max_duration = d;
        self
    }

    pub fn send_for(mut self, d: Duration) -> Self {
        self.send_for = Some(d);
        self
    }

    pub fn start_at(mut self, start: Instant) -> Self {
        self.start = Some(start);
        self
    }

    /// Fires `send(i)` for every send of the schedule at its intended time,
    /// each on its own task, and waits (bounded by `max_duration`) for all
    /// of them. `send` is called on the driver's task at the send time; the
    /// future it returns runs concurrently with later sends.
    pub async fn run<F, Fut>(&self, mut send: F) -> LoadReport
    where
        F: FnMut(u64) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: SendOutcome,
    {
        let start = self.start.unwrap_or_else(Instant::now);
        let deadline = start + self.max_duration;
        let mut tally = Tally {
            hist: latency_histogram(),
            judged: checker::sla::FlowMeasure::new(self.flow),
            exclude: self
                .exclude
                .iter()
                .map(|(a, b)| (start + *a, start + *b))
                .collect(),
            intended_of: HashMap::new(),
            ok: 0,
            failed: 0,
        };
        let mut in_flight: JoinSet<(u64, bool)> = JoinSet::new();
        let (mut sent, mut missed, mut max_in_flight) = (0u64, 0u64, 0u64);

        for (i, offset) in self.schedule.offsets().enumerate() {
            let i = i as u64;
            if i >= self.max_sends {
                break;
            }
            let due = start + offset;
            if due >= deadline || self.send_for.is_some_and(|d| offset >= d) {
                break;
            }
            // Collect what finished meanwhile, then wait for the due time.
            while let Some(r) = in_flight.try_join_next_with_id() {
                tally.settle(r);
            }
            if due > Instant::now() {
                tokio::time::sleep_until(due).await;
            } else if i % 64 == 63 {
                // Behind schedule: fire without sleeping, but let the sends
                // run now and then (on a single-threaded runtime too).
                tokio::task::yield_now().await;
            }
            if Instant::now().saturating_duration_since(due) > self.late_after {
                missed += 1;
            }
            let fut = send(i);
            let id = in_flight
                .spawn(async move {
                    let good = fut.await.is_ok();
                    (micros(Instant::now().saturating_duration_since(due)), good)
                })
                .id();
            tally.intended_of.insert(id, due);
            sent += 1;
            max_in_flight = max_in_flight.max(in_flight.len() as u64);
        }

        // Wait for the answers, bounded by the time bound.
        loop {
            match tokio::time::timeout_at(deadline, in_flight.join_next_with_id()).await {
                Ok(Some(r)) => tally.settle(r),
                Ok(None) => break,
                Err(_) => break,
            }
        }
        in_flight.abort_all();
        let timed_out = tally.intended_of.len() as u64;
        let now = Instant::now();
        let unanswered: Vec<Instant> = tally.intended_of.values().copied().collect();
        for intended in unanswered {
            tally
                .hist
                .saturating_record(micros(now.saturating_duration_since(intended)));
            tally.judge(intended, now, None);
        }
        LoadReport {
            sent,
            ok: tally.ok,
            failed: tally.failed,
            missed,
            timed_out,
            max_in_flight,
            latency_us: tally.hist,
            elapsed: now.saturating_duration_since(start),
            late_after: self.late_after,
            judged: tally.judged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn a_constant_rate_spaces_sends_evenly() {
        let s = Schedule::constant(100.0);
        let offsets: Vec<f64> = s.offsets().take(5).map(secs).collect();
        for (i, t) in offsets.iter().enumerate() {
            assert!((t - i as f64 / 100.0).abs() < 1e-9, "{offsets:?}");
        }
        assert!((secs(s.offset(1000).unwrap()) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn intended_times_follow_the_ramp() {
        // 10/s, up to 50/s over 4 s, hold for 2 s, down to 0 over 2 s.
        let s = Schedule::ramped(
            10.0,
            vec![
                Ramp {
                    to_per_s: 50.0,
                    over_s: 4.0,
                },
                Ramp {
                    to_per_s: 50.0,
                    over_s: 2.0,
                },
                Ramp {
                    to_per_s: 0.0,
                    over_s: 2.0,
                },
            ],
        );
        let offsets: Vec<f64> = s.offsets().map(secs).collect();
        // Arrivals: (10+50)/2*4 = 120, then 100, then 50: 270 sends, then the
        // rate is 0 and the schedule ends.
        assert_eq!(offsets.len(), 270);
        assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "monotonic");
        // The cumulative arrivals at each send's time equal its index.
        let arrivals = |t: f64| {
            if t <= 4.0 {
                10.0 * t + 5.0 * t * t
            } else if t <= 6.0 {
                120.0 + 50.0 * (t - 4.0)
            } else {
                let u = t - 6.0;
                220.0 + 50.0 * u - 12.5 * u * u
            }
        };
        for (i, t) in offsets.iter().enumerate() {
            assert!((arrivals(*t) - i as f64).abs() < 1e-6, "send {i} at {t}");
        }
        // Gaps shrink as the rate rises: near 1/10 s at the start, near
        // 1/50 s on the plateau.
        assert!((offsets[1] - offsets[0] - 0.1).abs() < 0.01);
        assert!((offsets[150] - offsets[149] - 0.02).abs() < 1e-6);
        assert!((s.rate_at(2.0) - 30.0).abs() < 1e-9);
        assert!((s.rate_at(7.0) - 25.0).abs() < 1e-9);
    }

    /// Sends fire at their intended (virtual) times, one task each.
    #[tokio::test(start_paused = true)]
    async fn the_driver_fires_each_send_at_its_intended_time() {
        let schedule = Schedule::ramped(
            10.0,
            vec![Ramp {
                to_per_s: 30.0,
                over_s: 2.0,
            }],
        );
        let expected: Vec<Duration> = schedule.offsets().take(40).collect();
        let fired = Arc::new(std::sync::Mutex::new(Vec::new()));
        let start = Instant::now();
        let report = Driver::new(schedule)
            .max_sends(40)
            .run(|_| {
                fired.lock().unwrap().push(Instant::now() - start);
                async { true }
            })
            .await;
        let fired = fired.lock().unwrap().clone();
        assert_eq!(fired.len(), 40);
        for (f, e) in fired.iter().zip(&expected) {
            // Paused time wakes timers on millisecond ticks.
            assert!(f.abs_diff(*e) <= Duration::from_millis(1), "{f:?} vs {e:?}");
        }
        assert_eq!(
            (report.sent, report.ok, report.missed, report.timed_out),
            (40, 40, 0, 0)
        );
    }

    /// A target that answers in 1 ms, except that from 1 s to 2 s after
    /// `start` it answers nothing until 2 s.
    async fn stalled_target(start: Instant) {
        let (stall_from, stall_to) = (start + Duration::from_secs(1), start + Duration::from_secs(2));
        let now = Instant::now();
        if now >= stall_from && now < stall_to {
            tokio::time::sleep_until(stall_to).await;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    /// The sends due during the stall keep going out on time and each
    /// carries the wait it really had: no coordinated omission.
    #[tokio::test(start_paused = true)]
    async fn a_stalled_target_inflates_the_latency_of_every_queued_send() {
        let start = Instant::now();
        let report = Driver::new(Schedule::constant(100.0))
            .max_sends(300)
            .start_at(start)
            .run(move |_| async move {
                stalled_target(start).await;
                true
            })
            .await;
        assert_eq!((report.sent, report.ok, report.missed), (300, 300, 0));
        // 100 sends were due in the stall; they were all in flight together.
        assert!(report.max_in_flight >= 100, "{}", report.max_in_flight);
        // Send i (due at i/100 s, 100 <= i < 200) waited 2 s - i/100 + 1 ms:
        // 1001, 991, …, 11 ms. Those are the top third of all sends.
        let h = &report.latency_us;
        assert_eq!(h.len(), 300);
        let over = |ms: u64| h.count_between(ms * 1000, u64::MAX);
        assert_eq!(over(500), 51, "sends due in the first half of the stall");
        assert_eq!(over(10), 100);
        assert!((report.max_ms() - 1001.0).abs() < 2.0, "{}", report.max_ms());
        // p99 is the 297th of 300: the send due at 1.03 s waited 971 ms.
        assert!(
            (report.quantile_ms(0.99) - 971.0).abs() < 2.0,
            "{}",
            report.quantile_ms(0.99)
        );
        // Outside the stall: 1 ms.
        assert!(report.quantile_ms(0.5) < 2.0, "{}", report.quantile_ms(0.5));
    }

    /// The same stall, inside an excluded (fault) window: the sends that
    /// overlap it are left out of the judged figures, the rest are judged.
    #[tokio::test(start_paused = true)]
    async fn sends_overlapping_an_excluded_window_are_not_judged() {
        let start = Instant::now();
        let report = Driver::new(Schedule::constant(100.0))
            .max_sends(300)
            .start_at(start)
            .exclude(vec![(Duration::from_secs(1), Duration::from_secs(2))])
            .run(move |i| async move {
                stalled_target(start).await;
                // Every tenth send after the stall is answered with an error.
                i < 200 || i % 10 != 0
            })
            .await;
        let judged = &report.judged;
        assert_eq!(judged.flow, checker::sla::PO_RELEASE);
        // Sends answered before 1 s (99: the one due at 0.99 s is answered
        // on the next millisecond tick, at 1 s) and due after 2 s (99: the
        // one due at 2 s touches the window); the failed ones (210, 220, …,
        // 290) count as requests, not latency.
        assert_eq!((judged.requests, judged.errors), (198, 9));
        assert_eq!(judged.latency_us.len(), 189);
        assert!(judged.latency_us.max() < 2_000, "{}", judged.latency_us.max());
        assert!(report.max_ms() > 900.0, "the row still shows the stall");
        assert_eq!(report.failed, 10);
    }

    #[tokio::test(start_paused = true)]
    async fn the_count_bound_stops_it() {
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        let report = Driver::new(Schedule::constant(1000.0))
            .max_sends(25)
            .run(move |_| {
                c.fetch_add(1, Ordering::SeqCst);
                async { true }
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 25);
        assert_eq!(report.sent, 25);
    }

    /// Sending stops at the time bound, and a send never answered is
    /// abandoned there and counted, with the latency it had reached.
    #[tokio::test(start_paused = true)]
    async fn the_time_bound_stops_sends_and_abandons_the_unanswered() {
        let start = Instant::now();
        let report = Driver::new(Schedule::constant(10.0))
            .max_duration(Duration::from_millis(1_050))
            .run(|i| async move {
                if i == 3 {
                    std::future::pending::<()>().await;
                }
                true
            })
            .await;
        // Sends due at 0, 0.1, …, 1.0 s: 11 of them.
        assert_eq!(report.sent, 11);
        assert_eq!((report.ok, report.timed_out), (10, 1));
        assert_eq!(Instant::now() - start, Duration::from_millis(1_050));
        // Send 3 was due at 0.3 s and abandoned at 1.05 s.
        assert!((report.max_ms() - 750.0).abs() < 1.0, "{}", report.max_ms());
    }

    /// When the driver itself falls behind (here: one send's task holds the
    /// only thread while the clock moves 50 ms), the sends that go out late
    /// are counted, and their latency still runs from the intended time.
    #[tokio::test(start_paused = true)]
    async fn late_sends_are_counted_as_missed() {
        let report = Driver::new(Schedule::constant(1000.0))
            .max_sends(100)
            .run(|i| async move {
                if i == 10 {
                    tokio::time::advance(Duration::from_millis(50)).await;
                }
                true
            })
            .await;
        assert_eq!(report.sent, 100);
        // Sends 11..=49 were due within the 50 ms jump; the first ~10 ms of
        // them were within tolerance.
        assert!((35..=45).contains(&report.missed), "{}", report.missed);
        assert!(report.max_ms() >= 39.0, "{}", report.max_ms());
    }
}
