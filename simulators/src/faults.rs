//! The fault model: rules that make a simulated party misbehave the way real
//! partners do, decided deterministically from a seed.
//!
//! A [`FaultRule`] matches an endpoint (or every endpoint) and fires with a
//! probability. Whether rule *r* fires on the *n*-th request to an endpoint
//! is a pure function of (seed, r, endpoint, n), so the same seed and the
//! same request sequence give the same faults, whatever the timing.
//!
//! Rules are added and removed at runtime ([`FaultSet::add`],
//! [`FaultSet::remove`]): the harness drives its fault timeline that way, and
//! the control API (`/_control/faults`) exposes the same operations.
//!
//! In a faults file (TOML) or a scenario, a rule reads:
//! ```toml
//! [[faults]]
//! endpoint = "/v1/goods-receipt-postings"   # omit for every endpoint
//! probability = 0.2                          # default 1
//! kind = "status"
//! status = 503
//! ```

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

pub use contracts::faults::{AfterCommit, Fault, FaultRule, FaultsFile, Malformation, OutageMode, Profile};

/// What the middleware must do with one request.
#[derive(Debug, Default)]
pub struct Decision {
    /// Added latency before anything else.
    pub delay: Duration,
    /// The fault that takes over the exchange, if any.
    pub fault: Option<Fault>,
    /// Headers to add (RateLimit fields).
    pub rate_limit: Option<RateLimitInfo>,
    /// Held while the request is in flight, for concurrency caps.
    pub in_flight: Vec<InFlight>,
}

/// Published quota state, for the IETF RateLimit header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitInfo {
    pub limit: u32,
    pub window_s: u64,
    pub retry_after_s: u64,
}

/// Counts a request against a concurrency cap until dropped.
#[derive(Debug)]
pub struct InFlight(Arc<AtomicU64>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct ActiveRule {
    id: u64,
    rule: FaultRule,
    quota: Option<DefaultKeyedRateLimiter<String>>,
    in_flight: Arc<AtomicU64>,
}

/// splitmix64: a well-mixed 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform draw in `[0, 1)` from (seed, rule, endpoint, n, salt).
fn unit(seed: u64, rule: u64, endpoint: &str, n: u64, salt: u64) -> f64 {
    let mut h = DefaultHasher::new();
    endpoint.hash(&mut h);
    let x = mix(seed ^ mix(rule ^ mix(h.finish() ^ mix(n ^ mix(salt)))));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// The live set of fault rules of one simulated party.
pub struct FaultSet {
    seed: u64,
    next_id: AtomicU64,
    rules: RwLock<Vec<ActiveRule>>,
    counters: Mutex<HashMap<String, u64, foldhash::fast::RandomState>>,
}

impl std::fmt::Debug for FaultSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultSet")
            .field("seed", &self.seed)
            .field("rules", &self.list())
            .finish()
    }
}

impl FaultSet {
    pub fn new(seed: u64) -> Arc<Self> {
        Arc::new(Self {
            seed,
            next_id: AtomicU64::new(1),
            rules: RwLock::default(),
            counters: Mutex::default(),
        })
    }

    /// Activates a rule; returns its id, for [`FaultSet::remove`].
    pub fn add(&self, rule: FaultRule) -> Result<u64, String> {
        rule.validate()?;
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let quota = match &rule.fault {
            Fault::Quota { burst, per_s } => {
                let burst = NonZeroU32::new(*burst).expect("validated");
                let cell = Duration::from_secs_f64(*per_s) / burst.get();
                let quota = Quota::with_period(cell.max(Duration::from_nanos(1)))
                    .expect("a positive period")
                    .allow_burst(burst);
                Some(DefaultKeyedRateLimiter::keyed(quota))
            }
            _ => None,
        };
        self.rules.write().expect("faults lock").push(ActiveRule {
            id,
            rule,
            quota,
            in_flight: Arc::default(),
        });
        Ok(id)
    }

    /// Deactivates a rule; false when no rule has that id.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.rules.write().expect("faults lock");
        let before = rules.len();
        rules.retain(|r| r.id != id);
        rules.len() != before
    }

    /// Deactivates every rule.
    pub fn clear(&self) {
        self.rules.write().expect("faults lock").clear();
    }

    /// The active rules with their ids.
    pub fn list(&self) -> Vec<(u64, FaultRule)> {
        self.rules
            .read()
            .expect("faults lock")
            .iter()
            .map(|r| (r.id, r.rule.clone()))
            .collect()
    }

    fn next_n(&self, endpoint: &str) -> u64 {
        let mut counters = self.counters.lock().expect("counters lock");
        if let Some(n) = counters.get_mut(endpoint) {
            *n += 1;
            return *n;
        }
        counters.insert(endpoint.to_owned(), 1);
        1
    }

    /// How many copies an emitted event gets on `endpoint` (1 = no fault).
    pub fn copies(&self, endpoint: &str) -> u32 {
        let n = self.next_n(&format!("emit:{endpoint}"));
        let rules = self.rules.read().expect("faults lock");
        rules
            .iter()
            .filter(|r| r.rule.endpoint.as_deref().is_none_or(|e| e == endpoint))
            .filter_map(|r| match r.rule.fault {
                Fault::Duplicate { copies } if unit(self.seed, r.id, endpoint, n, 0) < r.rule.probability => {
                    Some(copies)
                }
                _ => None,
            })
            .max()
            .unwrap_or(1)
    }

    /// Whether the events emitted on `endpoint` for business key `key` are
    /// reordered, and how long the earlier one is held back. Decided from
    /// (seed, rule, endpoint, key) only, so it does not depend on the order
    /// in which concurrent emissions ask.
    pub fn reorder(&self, endpoint: &str, key: &str) -> Option<Duration> {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        let n = h.finish();
        let rules = self.rules.read().expect("faults lock");
        rules
            .iter()
            .filter(|r| r.rule.endpoint.as_deref().is_none_or(|e| e == endpoint))
            .filter_map(|r| match r.rule.fault {
                Fault::Reorder { hold_ms } if unit(self.seed, r.id, endpoint, n, 7) < r.rule.probability => {
                    Some(Duration::from_millis(hold_ms))
                }
                _ => None,
            })
            .max()
    }

    /// Decides what happens to one request to `endpoint` from `caller`.
    pub fn decide(&self, endpoint: &str, caller: &str) -> Decision {
        let n = self.next_n(endpoint);
        let rules = self.rules.read().expect("faults lock");
        let mut decision = Decision::default();
        if rules.is_empty() {
            return decision;
        }
        for r in rules.iter() {
            if r.rule.endpoint.as_deref().is_some_and(|e| e != endpoint) {
                continue;
            }
            if unit(self.seed, r.id, endpoint, n, 0) >= r.rule.probability {
                continue;
            }
            let draw = |salt| unit(self.seed, r.id, endpoint, n, salt);
            match &r.rule.fault {
                Fault::Latency { ms } => decision.delay += Duration::from_millis(*ms),
                Fault::LatencyUniform { min_ms, max_ms } => {
                    let span = (max_ms - min_ms) as f64;
                    decision.delay += Duration::from_millis(min_ms + (draw(1) * (span + 1.0)).floor() as u64);
                }
                Fault::LatencyLognormal { median_ms, sigma } => {
                    // Box–Muller from two uniforms.
                    let (u1, u2) = (draw(1).max(f64::MIN_POSITIVE), draw(2));
                    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                    let ms = (median_ms * (sigma * z).exp()).min(600_000.0);
                    decision.delay += Duration::from_secs_f64(ms / 1000.0);
                }
                Fault::Quota { burst, per_s } => {
                    let limiter = r.quota.as_ref().expect("quota rules have a limiter");
                    if let Err(not_until) = limiter.check_key(&caller.to_owned()) {
                        let wait = not_until.wait_time_from(DefaultClock::default().now());
                        let info = RateLimitInfo {
                            limit: *burst,
                            window_s: per_s.ceil() as u64,
                            retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
                        };
                        decision.rate_limit = Some(info);
                        decision.fault.get_or_insert(r.rule.fault.clone());
                    }
                }
                Fault::Concurrency { limit, .. } => {
                    let now = r.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    let guard = InFlight(r.in_flight.clone());
                    if now > u64::from(*limit) {
                        decision.fault.get_or_insert(r.rule.fault.clone());
                    }
                    decision.in_flight.push(guard);
                }
                // Emission faults are decided by `copies` and `reorder`.
                Fault::Duplicate { .. } | Fault::Reorder { .. } => {}
                other => {
                    decision.fault.get_or_insert(other.clone());
                }
            }
        }
        decision
    }

    /// True while an active rule refuses connections.
    pub fn refusing(&self) -> bool {
        self.rules.read().expect("faults lock").iter().any(|r| {
            r.rule.endpoint.is_none()
                && matches!(
                    r.rule.fault,
                    Fault::Outage {
                        mode: OutageMode::Refuse,
                        ..
                    }
                )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(set: &FaultSet, n: usize) -> Vec<bool> {
        (0..n).map(|_| set.decide("/x", "core").fault.is_some()).collect()
    }

    #[test]
    fn the_same_seed_and_sequence_give_the_same_faults() {
        let rule = FaultRule {
            endpoint: Some("/x".into()),
            probability: 0.3,
            fault: Fault::Status {
                status: 503,
                retry_after_s: None,
            },
        };
        let (a, b, c) = (FaultSet::new(1), FaultSet::new(1), FaultSet::new(2));
        for s in [&a, &b, &c] {
            s.add(rule.clone()).unwrap();
        }
        let (fa, fb, fc) = (fired(&a, 400), fired(&b, 400), fired(&c, 400));
        assert_eq!(fa, fb);
        assert_ne!(fa, fc);
        let rate = fa.iter().filter(|f| **f).count() as f64 / 400.0;
        assert!((0.2..0.4).contains(&rate), "rate {rate}");
        // Other endpoints are untouched.
        assert!(a.decide("/y", "core").fault.is_none());
    }

    #[test]
    fn rules_come_and_go() {
        let set = FaultSet::new(0);
        let id = set.add(FaultRule::always(None, Fault::Reset)).unwrap();
        assert_eq!(set.decide("/x", "c").fault, Some(Fault::Reset));
        assert!(set.remove(id));
        assert!(!set.remove(id));
        assert_eq!(set.decide("/x", "c").fault, None);
    }

    #[test]
    fn latency_distributions_stay_in_their_bounds() {
        let set = FaultSet::new(3);
        set.add(FaultRule::always(
            None,
            Fault::LatencyUniform {
                min_ms: 10,
                max_ms: 20,
            },
        ))
        .unwrap();
        for _ in 0..200 {
            let d = set.decide("/x", "c").delay;
            assert!(
                d >= Duration::from_millis(10) && d <= Duration::from_millis(20),
                "{d:?}"
            );
        }
        let set = FaultSet::new(3);
        set.add(FaultRule::always(
            None,
            Fault::LatencyLognormal {
                median_ms: 50.0,
                sigma: 0.5,
            },
        ))
        .unwrap();
        let mut draws: Vec<_> = (0..1001)
            .map(|_| set.decide("/x", "c").delay.as_secs_f64() * 1000.0)
            .collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[500];
        assert!((40.0..60.0).contains(&median), "median {median}");
    }

    #[test]
    fn quota_is_per_caller_and_publishes_retry_after() {
        let set = FaultSet::new(0);
        set.add(FaultRule::always(
            None,
            Fault::Quota {
                burst: 2,
                per_s: 60.0,
            },
        ))
        .unwrap();
        assert!(set.decide("/x", "a").fault.is_none());
        assert!(set.decide("/x", "a").fault.is_none());
        let third = set.decide("/x", "a");
        assert!(matches!(third.fault, Some(Fault::Quota { .. })));
        let info = third.rate_limit.unwrap();
        assert!(info.retry_after_s >= 1 && info.retry_after_s <= 30, "{info:?}");
        // Another caller has its own bucket.
        assert!(set.decide("/x", "b").fault.is_none());
    }

    #[test]
    fn concurrency_cap_counts_requests_in_flight() {
        let set = FaultSet::new(0);
        set.add(FaultRule::always(
            None,
            Fault::Concurrency {
                limit: 2,
                retry_after_s: 1,
            },
        ))
        .unwrap();
        let first = set.decide("/x", "c");
        let second = set.decide("/x", "c");
        assert!(first.fault.is_none() && second.fault.is_none());
        assert!(set.decide("/x", "c").fault.is_some());
        drop(first);
        assert!(set.decide("/x", "c").fault.is_none());
        drop(second);
    }

    #[test]
    fn bad_rules_are_refused_with_what_was_expected() {
        let set = FaultSet::new(0);
        let e = set
            .add(FaultRule {
                endpoint: None,
                probability: 1.5,
                fault: Fault::Reset,
            })
            .unwrap_err();
        assert!(e.contains("probability in 0..=1"), "{e}");
        let e = set
            .add(FaultRule::always(
                None,
                Fault::Status {
                    status: 200,
                    retry_after_s: None,
                },
            ))
            .unwrap_err();
        assert!(e.contains("4xx or 5xx"), "{e}");
        assert!(set.list().is_empty());
    }

    #[test]
    fn reordering_is_decided_per_key_from_the_seed() {
        let decide = |seed| {
            let set = FaultSet::new(seed);
            set.add(FaultRule {
                endpoint: Some("/e".into()),
                probability: 0.5,
                fault: Fault::Reorder { hold_ms: 30 },
            })
            .unwrap();
            // Asked in another order, the answers per key are the same.
            let forward: Vec<_> = (0..200).map(|k| set.reorder("/e", &format!("R{k}"))).collect();
            let backward: Vec<_> = (0..200)
                .rev()
                .map(|k| set.reorder("/e", &format!("R{k}")))
                .collect();
            assert!(forward.iter().eq(backward.iter().rev()));
            assert_eq!(set.reorder("/other", "R1"), None);
            assert!(set.decide("/e", "c").fault.is_none(), "not a request fault");
            forward
        };
        let (a, b, c) = (decide(5), decide(5), decide(6));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let held = a.iter().flatten().count();
        assert!((60..140).contains(&held), "{held} of 200 keys reordered");
        assert!(a.iter().flatten().all(|d| *d == Duration::from_millis(30)));
    }

    #[test]
    fn a_faults_file_parses() {
        let text = r#"
[[faults]]
endpoint = "/v1/goods-receipt-postings"
probability = 0.25
kind = "status"
status = 503

[[faults]]
kind = "commit_then_fail"
then = "reset"

[[faults]]
kind = "outage"
mode = "refuse"
"#;
        let file: FaultsFile = toml::from_str(text).unwrap();
        assert_eq!(file.faults.len(), 3);
        assert_eq!(file.faults[0].probability, 0.25);
        assert_eq!(
            file.faults[1].fault,
            Fault::CommitThenFail {
                then: AfterCommit::Reset
            }
        );
        assert_eq!(
            file.faults[2].fault,
            Fault::Outage {
                mode: OutageMode::Refuse,
                retry_after_s: 1
            }
        );
    }
}
