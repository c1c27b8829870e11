//! Service-level agreements: per-flow latency and error-rate bounds, judged
//! outside fault windows, and recovery after each fault window.
//!
//! ```toml
//! [sla]
//! recovery_s = 15                 # after each fault window (default 15)
//! [sla.asn_to_expectation]        # one table per flow; any of the bounds
//! p50_ms = 50
//! p95_ms = 200
//! p99_ms = 500
//! max_ms = 2000
//! error_rate = 0.0                # share answered with an error / never
//! ```
//!
//! The flows ([`FLOWS`]): `po_release` and `order_release` are the load
//! drivers' sends (latency from the intended send time; an error is a send
//! answered with an error or not at all); `asn_to_expectation`,
//! `receipt_to_posting`, `release_to_decision` and
//! `ship_confirmation_to_posting` are the core's deliveries, measured from
//! the history (an error is a message the core accepted and never
//! delivered). Samples overlapping a fault window are left out of both.
//! Each bound a scenario sets is its own check, `sla-<flow>-<bound>`; a flow
//! without a table gets its [`Flow::default_bounds`].
//!
//! Recovery (DOMAIN invariants 7 and 19): for each fault window, every
//! message accepted before the window ended must be delivered within
//! `recovery_s` of its end (`sla-recovery`).

use std::borrow::Cow;

use contracts::Role;
use hdrhistogram::Histogram;
use reports::{Check, Violation, Witness};
use serde::{Deserialize, Serialize};

use crate::history::histogram;

/// Bounds on one flow; each one set is judged by its own check. (The
/// scenario format validates them: positive milliseconds, a rate in 0..=1.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<f64>,
    /// The highest share (0..=1) of the flow's requests answered with an
    /// error or not at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
}

/// A flow the harness measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Its table under `[sla]`.
    pub key: &'static str,
    /// Its name in check names: `sla-<name>-p99`.
    pub name: &'static str,
    /// Its row in the report's latency table.
    pub row: &'static str,
    /// The party the flow waits on: only fault windows on that party leave
    /// its samples out (`None`: every window does).
    pub waits_on: Option<Role>,
}

pub const PO_RELEASE: Flow = Flow {
    key: "po_release",
    name: "po-release",
    row: "po-release",
    waits_on: None,
};
pub const ASN_TO_EXPECTATION: Flow = Flow {
    key: "asn_to_expectation",
    name: "asn-to-expectation",
    row: "asn-accepted-to-expectation",
    waits_on: Some(Role::Wms),
};
pub const RECEIPT_TO_POSTING: Flow = Flow {
    key: "receipt_to_posting",
    name: "receipt-to-posting",
    row: "receipt-accepted-to-posting",
    waits_on: Some(Role::Erp),
};
pub const ORDER_RELEASE: Flow = Flow {
    key: "order_release",
    name: "order-release",
    row: "order-release",
    waits_on: None,
};
pub const RELEASE_TO_DECISION: Flow = Flow {
    key: "release_to_decision",
    name: "release-to-decision",
    row: "release-to-decision",
    waits_on: Some(Role::Wms),
};
pub const SHIP_CONFIRMATION_TO_POSTING: Flow = Flow {
    key: "ship_confirmation_to_posting",
    name: "ship-confirmation-to-posting",
    row: "ship-confirmation-to-posting",
    waits_on: Some(Role::Erp),
};

/// Every flow, in report order.
pub const FLOWS: [Flow; 6] = [
    PO_RELEASE,
    ASN_TO_EXPECTATION,
    RECEIPT_TO_POSTING,
    ORDER_RELEASE,
    RELEASE_TO_DECISION,
    SHIP_CONFIRMATION_TO_POSTING,
];

impl Flow {
    /// The flow whose `[sla]` table is `key`.
    pub fn by_key(key: &str) -> Option<Flow> {
        FLOWS.iter().copied().find(|f| f.key == key)
    }

    /// A sample from `from_us` to `to_us` overlaps no fault window on a
    /// party this flow waits on.
    pub fn outside(self, windows: &[FaultSpan], from_us: u64, to_us: u64) -> bool {
        windows
            .iter()
            .filter(|w| self.waits_on.is_none_or(|p| p == w.party))
            .all(|w| to_us < w.from_us || from_us > w.to_us)
    }

    /// The bounds of a flow the scenario gives no table: the core's
    /// deliveries lose nothing outside fault windows and keep a p99 (500 ms
    /// for ASN → expectation, as before per-flow SLAs; 2 s for the ERP
    /// postings, which queue behind the ERP's quotas).
    pub fn default_bounds(self) -> Bounds {
        let p99 = |ms| Bounds {
            p99_ms: Some(ms),
            error_rate: Some(0.0),
            ..Bounds::default()
        };
        match self.key {
            "asn_to_expectation" => p99(500.0),
            "receipt_to_posting" | "ship_confirmation_to_posting" => p99(2000.0),
            "release_to_decision" => p99(2000.0),
            _ => Bounds::default(),
        }
    }
}

fn default_recovery_s() -> f64 {
    15.0
}

/// The SLA a run is judged by (the scenario's `[sla]`, validated there).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// Older form of `[sla.asn_to_expectation] p99_ms` (that wins when both
    /// are set).
    #[serde(default)]
    pub asn_to_expectation_p99_ms: Option<f64>,
    /// After each fault window, everything accepted before its end is
    /// delivered within this many seconds of it.
    #[serde(default = "default_recovery_s")]
    pub recovery_s: f64,
    #[serde(default)]
    pub po_release: Option<Bounds>,
    #[serde(default)]
    pub asn_to_expectation: Option<Bounds>,
    #[serde(default)]
    pub receipt_to_posting: Option<Bounds>,
    #[serde(default)]
    pub order_release: Option<Bounds>,
    #[serde(default)]
    pub release_to_decision: Option<Bounds>,
    #[serde(default)]
    pub ship_confirmation_to_posting: Option<Bounds>,
}

impl Default for Sla {
    fn default() -> Self {
        Self {
            asn_to_expectation_p99_ms: None,
            recovery_s: default_recovery_s(),
            po_release: None,
            asn_to_expectation: None,
            receipt_to_posting: None,
            order_release: None,
            release_to_decision: None,
            ship_confirmation_to_posting: None,
        }
    }
}

impl Sla {
    /// The bounds judged for `flow`: its table, else its defaults; the
    /// older `asn_to_expectation_p99_ms` fills in the p99 of ASN →
    /// expectation.
    pub fn bounds(&self, flow: Flow) -> Bounds {
        let table = match flow.key {
            "po_release" => &self.po_release,
            "asn_to_expectation" => &self.asn_to_expectation,
            "receipt_to_posting" => &self.receipt_to_posting,
            "order_release" => &self.order_release,
            "release_to_decision" => &self.release_to_decision,
            "ship_confirmation_to_posting" => &self.ship_confirmation_to_posting,
            _ => &None,
        };
        let mut bounds = table.clone().unwrap_or_else(|| flow.default_bounds());
        let table_p99 = table.as_ref().and_then(|t| t.p99_ms);
        if flow == ASN_TO_EXPECTATION && table_p99.is_none() {
            bounds.p99_ms = self.asn_to_expectation_p99_ms.or(bounds.p99_ms);
        }
        bounds
    }
}

/// What was measured of one flow, outside fault windows. Serialized (in a
/// run's `expectations.json`) as its flow's key, the counts and the
/// histogram's recorded buckets, `[[highest value in µs, count], …]`, which
/// read back into the same percentiles.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowMeasure {
    pub flow: Flow,
    /// Latency (µs) of the samples that overlap no fault window.
    pub latency_us: Histogram<u64>,
    /// Requests judged for the error rate (overlapping no fault window)…
    pub requests: u64,
    /// …and how many of them were answered with an error or not at all.
    pub errors: u64,
}

impl FlowMeasure {
    pub fn new(flow: Flow) -> Self {
        Self {
            flow,
            latency_us: histogram(),
            requests: 0,
            errors: 0,
        }
    }

    /// A request judged: delivered after `latency_us`, or (`None`) not.
    pub fn record(&mut self, latency_us: Option<u64>) {
        self.requests += 1;
        match latency_us {
            Some(us) => self.latency_us.saturating_record(us.max(1)),
            None => self.errors += 1,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct FlowMeasureForm {
    flow: String,
    requests: u64,
    errors: u64,
    latency_us: Vec<(u64, u64)>,
}

impl Serialize for FlowMeasure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FlowMeasureForm {
            flow: self.flow.key.to_owned(),
            requests: self.requests,
            errors: self.errors,
            latency_us: self
                .latency_us
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for FlowMeasure {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let form = FlowMeasureForm::deserialize(d)?;
        let flow = Flow::by_key(&form.flow)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown flow {:?}", form.flow)))?;
        let mut m = FlowMeasure::new(flow);
        for (value, count) in form.latency_us {
            m.latency_us
                .record_n(value, count)
                .map_err(|e| serde::de::Error::custom(format!("latency {value} µs out of range: {e}")))?;
        }
        m.requests = form.requests;
        m.errors = form.errors;
        Ok(m)
    }
}

/// The SLA checks of one flow: one per bound set.
pub fn flow_checks(m: &FlowMeasure, bounds: &Bounds) -> Vec<Check> {
    let mut checks = Vec::new();
    let h = &m.latency_us;
    let ms = |us: u64| us as f64 / 1000.0;
    let latency_bounds = [
        ("p50", bounds.p50_ms, 0.50),
        ("p95", bounds.p95_ms, 0.95),
        ("p99", bounds.p99_ms, 0.99),
        ("max", bounds.max_ms, 1.0),
    ];
    for (what, bound, q) in latency_bounds {
        let Some(bound) = bound else {
            continue;
        };
        let value = if q >= 1.0 {
            ms(h.max())
        } else {
            ms(h.value_at_quantile(q))
        };
        let mut v = Vec::new();
        if !h.is_empty() && value > bound {
            v.push(Violation {
                key: m.flow.name.into(),
                message: format!(
                    "{what} {value:.1} ms of {} sample(s) outside fault windows exceeds the SLA of {bound:.1} ms",
                    h.len()
                ),
                witness: vec![],
            });
        }
        checks.push(Check::new(
            &format!("sla-{}-{what}", m.flow.name),
            &format!(
                "{what} latency of {} is within {bound:.1} ms, outside fault windows (invariant 19)",
                m.flow.name
            ),
            h.len(),
            v,
        ));
    }
    if let Some(bound) = bounds.error_rate {
        let rate = m.errors as f64 / m.requests.max(1) as f64;
        let mut v = Vec::new();
        if m.requests > 0 && rate > bound {
            v.push(Violation {
                key: m.flow.name.into(),
                message: format!(
                    "{} of {} request(s) outside fault windows answered with an error or not at all \
                     ({:.2} %), above the SLA of {:.2} %",
                    m.errors,
                    m.requests,
                    rate * 100.0,
                    bound * 100.0
                ),
                witness: vec![],
            });
        }
        checks.push(Check::new(
            &format!("sla-{}-error-rate", m.flow.name),
            &format!(
                "the share of {} requests answered with an error or not at all is at most {:.2} %, outside fault windows",
                m.flow.name,
                bound * 100.0
            ),
            m.requests,
            v,
        ));
    }
    checks
}

/// A fault window of a run, from the run's start (milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// The party it was injected on.
    pub role: Role,
    /// The fault kind (`outage`, `latency`, …).
    pub kind: String,
    /// The endpoint it applied to; every endpoint when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub from_ms: u64,
    pub to_ms: u64,
}

/// A fault window on one party, in Unix microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpan {
    pub party: Role,
    pub from_us: u64,
    pub to_us: u64,
}

/// A message the core accepted and (maybe) delivered, for the recovery
/// check.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub flow: Flow,
    /// The business key, as violations name it.
    pub key: String,
    pub accepted_us: u64,
    pub delivered_us: Option<u64>,
    /// The exchange by which it was accepted.
    pub witness: Witness,
}

/// What the checker gathers for the SLAs from the messages the core
/// accepted: per flow, the samples outside fault windows, and the
/// [`Delivery`]s the recovery check needs.
#[derive(Debug, Clone)]
pub struct Deliveries {
    windows: Vec<FaultSpan>,
    /// Messages accepted up to the end of the last window are kept.
    keep_until: Option<u64>,
    pub kept: Vec<Delivery>,
}

impl Deliveries {
    pub fn new(windows: &[FaultSpan]) -> Self {
        Self {
            windows: windows.to_vec(),
            keep_until: windows.iter().map(|w| w.to_us).max(),
            kept: Vec::new(),
        }
    }

    /// One message of `m`'s flow, accepted at `accepted_us` and delivered
    /// at `delivered_us` (`None`: never): a sample of the flow when it
    /// overlaps no fault window on a party it waits on, kept for the recovery check when it was
    /// accepted before the last window ended. `key` names it.
    pub fn observe(
        &mut self,
        m: &mut FlowMeasure,
        key: impl FnOnce() -> String,
        accepted_us: u64,
        delivered_us: Option<u64>,
        witness: &Witness,
    ) {
        let end = delivered_us.unwrap_or(accepted_us);
        if m.flow.outside(&self.windows, accepted_us, end) {
            m.record(delivered_us.map(|d| d.saturating_sub(accepted_us)));
        }
        if self.keep_until.is_some_and(|until| accepted_us <= until) {
            self.kept.push(Delivery {
                flow: m.flow,
                key: key(),
                accepted_us,
                delivered_us,
                witness: witness.clone(),
            });
        }
    }
}

/// A fault window, in Unix microseconds, with the name a violation gives it.
#[derive(Debug, Clone)]
pub struct Window {
    pub label: String,
    pub from_us: u64,
    pub to_us: u64,
}

/// Recovery (invariants 7 and 19): for each window, everything accepted
/// before it ended is delivered within `recovery_s` of its end. Also
/// returns the slowest recovery seen (ms after a window's end), for the
/// report's counts.
pub fn recovery_check(windows: &[Window], recovery_s: f64, deliveries: &[Delivery]) -> (Check, u64) {
    let bound_us = (recovery_s * 1e6) as u64;
    let (mut checked, mut v, mut slowest_us) = (0, Vec::new(), 0);
    for w in windows {
        for d in deliveries.iter().filter(|d| d.accepted_us <= w.to_us) {
            checked += 1;
            let late = match d.delivered_us {
                Some(at) if at <= w.to_us => None,
                Some(at) => {
                    let after = at - w.to_us;
                    slowest_us = slowest_us.max(after);
                    (after > bound_us).then(|| {
                        format!(
                            "delivered {:.1} s after the window ended, beyond the {recovery_s} s recovery SLA",
                            after as f64 / 1e6
                        )
                    })
                }
                None => Some(format!(
                    "accepted before the window ended, never delivered (recovery SLA {recovery_s} s)"
                )),
            };
            if let Some(message) = late {
                v.push(Violation {
                    key: format!("window={} {} {}", w.label, d.flow.name, d.key),
                    message,
                    witness: vec![d.witness.clone()],
                });
            }
        }
    }
    let check = Check::new(
        "sla-recovery",
        &format!(
            "after each fault window, everything accepted before its end is delivered within {recovery_s} s of it (invariants 7, 19)"
        ),
        checked,
        v,
    );
    (check, slowest_us / 1000)
}

/// The label of a report's fault window: `wms outage /v1/… 500-2500ms`.
pub fn window_label(w: &FaultWindow) -> String {
    let endpoint: Cow<'_, str> = match &w.endpoint {
        Some(e) => format!(" {e}").into(),
        None => "".into(),
    };
    format!(
        "{} {}{endpoint} {}-{}ms",
        w.role.as_str(),
        w.kind,
        w.from_ms,
        w.to_ms
    )
}

/// A run's SLA checks: for each flow measured, one check per bound
/// (`sla.bounds`), then, when there were fault windows, `sla-recovery`
/// and the slowest recovery seen (ms).
pub fn judge(
    sla: &Sla,
    flows: &[FlowMeasure],
    windows: &[FaultWindow],
    run_started_us: u64,
    deliveries: &[Delivery],
) -> (Vec<Check>, Option<u64>) {
    let mut checks: Vec<Check> = FLOWS
        .iter()
        .flat_map(|flow| flows.iter().filter(move |m| m.flow == *flow))
        .flat_map(|m| flow_checks(m, &sla.bounds(m.flow)))
        .collect();
    if windows.is_empty() {
        return (checks, None);
    }
    let windows: Vec<Window> = windows
        .iter()
        .map(|w| Window {
            label: window_label(w),
            from_us: run_started_us + w.from_ms * 1000,
            to_us: run_started_us + w.to_ms * 1000,
        })
        .collect();
    let (check, slowest_ms) = recovery_check(&windows, sla.recovery_s, deliveries);
    checks.push(check);
    (checks, Some(slowest_ms))
}

/// Marks each latency row of a flow with the p99 bound it is judged by.
pub fn annotate(sla: &Sla, rows: &mut [reports::Latency]) {
    for row in rows {
        if let Some(flow) = FLOWS.iter().find(|f| f.row == row.name) {
            row.sla_p99_ms = sla.bounds(*flow).p99_ms;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(flow: Flow, latencies_ms: &[u64], lost: u64) -> FlowMeasure {
        let mut m = FlowMeasure::new(flow);
        for ms in latencies_ms {
            m.record(Some(ms * 1000));
        }
        for _ in 0..lost {
            m.record(None);
        }
        m
    }

    fn parse(text: &str) -> Sla {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn only_the_bounds_set_are_checked_each_under_its_own_name() {
        let sla = parse("[receipt_to_posting]\np95_ms = 100\nmax_ms = 1000\n");
        // 100 samples: 1..=100 ms; p95 is 95 ms, max 100 ms.
        let all: Vec<u64> = (1..=100).collect();
        let checks = flow_checks(
            &measure(RECEIPT_TO_POSTING, &all, 0),
            &sla.bounds(RECEIPT_TO_POSTING),
        );
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["sla-receipt-to-posting-p95", "sla-receipt-to-posting-max"]
        );
        assert!(checks.iter().all(|c| c.passed && c.checked == 100), "{checks:#?}");

        let tight = parse("[receipt_to_posting]\np50_ms = 20\np99_ms = 100\nerror_rate = 0.01\n");
        let checks = flow_checks(
            &measure(RECEIPT_TO_POSTING, &all, 2),
            &tight.bounds(RECEIPT_TO_POSTING),
        );
        let verdict: Vec<(&str, bool)> = checks.iter().map(|c| (c.name.as_str(), c.passed)).collect();
        assert_eq!(
            verdict,
            [
                ("sla-receipt-to-posting-p50", false),
                ("sla-receipt-to-posting-p99", true),
                ("sla-receipt-to-posting-error-rate", false),
            ]
        );
        assert!(
            checks[0].violations[0].message.contains("p50 50.0 ms"),
            "{checks:#?}"
        );
        assert!(
            checks[2].violations[0].message.contains("2 of 102 request(s)"),
            "{checks:#?}"
        );
        assert_eq!(checks[2].checked, 102);
    }

    #[test]
    fn nothing_measured_passes_with_nothing_checked() {
        let checks = flow_checks(
            &measure(ORDER_RELEASE, &[], 0),
            &parse("[order_release]\np99_ms = 1\nerror_rate = 0\n").bounds(ORDER_RELEASE),
        );
        assert_eq!(checks.len(), 2);
        assert!(checks.iter().all(|c| c.passed && c.checked == 0));
    }

    #[test]
    fn defaults_and_the_older_asn_bound() {
        let none = Sla::default();
        assert_eq!(none.bounds(ASN_TO_EXPECTATION).p99_ms, Some(500.0));
        assert_eq!(none.bounds(ASN_TO_EXPECTATION).error_rate, Some(0.0));
        assert_eq!(none.bounds(PO_RELEASE), Bounds::default());
        assert_eq!(none.recovery_s, 15.0);

        let old = parse("asn_to_expectation_p99_ms = 800\n");
        assert_eq!(old.bounds(ASN_TO_EXPECTATION).p99_ms, Some(800.0));
        // A table keeps its own p99 over the older field, and takes the
        // older field when it has none.
        let both = parse("asn_to_expectation_p99_ms = 800\n[asn_to_expectation]\np99_ms = 300\n");
        assert_eq!(both.bounds(ASN_TO_EXPECTATION).p99_ms, Some(300.0));
        let table = parse("asn_to_expectation_p99_ms = 800\n[asn_to_expectation]\nmax_ms = 900\n");
        let b = table.bounds(ASN_TO_EXPECTATION);
        assert_eq!((b.p99_ms, b.max_ms), (Some(800.0), Some(900.0)));
        assert_eq!(b.error_rate, None, "a table replaces the defaults");

        let e = toml::from_str::<Sla>("[po_release]\np99 = 5\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `p99`"), "{e}");
    }

    fn delivery(key: &str, accepted_s: f64, delivered_s: Option<f64>) -> Delivery {
        let us = |s: f64| (s * 1e6) as u64;
        Delivery {
            flow: ASN_TO_EXPECTATION,
            key: format!("asn_id={key}"),
            accepted_us: us(accepted_s),
            delivered_us: delivered_s.map(us),
            witness: Witness {
                party: "supplier".into(),
                seq: 1,
                endpoint: "POST /v1/asns".into(),
                status: Some(202),
                idempotency_key: None,
            },
        }
    }

    #[test]
    fn recovery_is_measured_from_the_end_of_each_window() {
        let window = Window {
            label: "wms outage 1000-3000ms".into(),
            from_us: 1_000_000,
            to_us: 3_000_000,
        };
        let deliveries = [
            delivery("BEFORE-ON-TIME", 0.5, Some(0.6)),
            delivery("DURING-RECOVERED", 1.5, Some(4.9)),
            delivery("DURING-LATE", 2.0, Some(5.5)),
            delivery("BEFORE-NEVER", 0.2, None),
            // Accepted after the window: not this window's business.
            delivery("AFTER", 3.5, Some(9.0)),
        ];
        let (check, slowest_ms) = recovery_check(std::slice::from_ref(&window), 2.0, &deliveries);
        assert_eq!(check.name, "sla-recovery");
        assert_eq!(check.checked, 4);
        assert!(!check.passed);
        let keys: Vec<&str> = check.violations.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "window=wms outage 1000-3000ms asn-to-expectation asn_id=DURING-LATE",
                "window=wms outage 1000-3000ms asn-to-expectation asn_id=BEFORE-NEVER",
            ]
        );
        assert!(
            check.violations[0]
                .message
                .contains("2.5 s after the window ended"),
            "{check:#?}"
        );
        assert!(
            check.violations[1].message.contains("never delivered"),
            "{check:#?}"
        );
        assert_eq!(check.violations[0].witness.len(), 1);
        assert_eq!(slowest_ms, 2500);

        // With a longer recovery bound only the lost one is left.
        let (check, _) = recovery_check(&[window], 3.0, &deliveries);
        assert_eq!(check.violations_total, 1);
    }
}
