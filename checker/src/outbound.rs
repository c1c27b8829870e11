//! The outbound flow's checks (invariant 17 and nothing lost), judged from
//! the recorded exchanges alone, per business key:
//!
//! - `release-decision-matches-wms`: a release the core answered rejected
//!   leaves zero WMS orders (no accepted decision at the WMS, nothing
//!   shipped against it); one answered accepted is an order the WMS
//!   accepted; the WMS holds no order the ERP never released.
//! - `shipped-within-released`: per (order, line), what the ERP was posted
//!   as shipped never exceeds what the core accepted for release.
//! - `one-shipment-posting-per-line`: exactly one ERP shipment posting per
//!   (shipment, line) the core took in, under one Idempotency-Key.
//! - `outbound-nothing-lost`: every release the ERP sent got a decision, and
//!   every accepted release the WMS shipped was taken in by the core and
//!   reached an ERP posting, line by line.
//!
//! Contract validity, Idempotency-Keys and trace continuity of the outbound
//! exchanges are judged by the general checks in [`super::check`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use contracts::outbound::{
    Decision, ErpShipmentPosting, OrderRelease, OrderReleaseDecision, ShipmentConfirmation,
};
use contracts::routes::{core, erp, wms};
use contracts::{Direction, Exchange, Role};
use reports::{Check, Latency, Violation, Witness};

use hdrhistogram::Histogram;

use crate::history::{HistoryError, for_each_exchange, histogram, latency, one_slot, parse, witness};
use crate::sla::{Deliveries, FaultSpan, FlowMeasure};

/// What the outbound checks need besides the history.
#[derive(Debug, Clone, Default)]
pub struct OutboundExpectations {
    /// Fault windows: latency samples overlapping one on a party their flow
    /// waits on are left out.
    pub fault_windows: Vec<FaultSpan>,
}

/// The outbound checks' verdicts and measurements.
#[derive(Debug, Clone)]
pub struct OutboundFindings {
    pub checks: Vec<Check>,
    pub latencies: Vec<Latency>,
    pub counts: BTreeMap<String, u64>,
    /// Per flow, what the SLAs judge (outside fault windows).
    pub flows: Vec<FlowMeasure>,
    /// Messages accepted before the last fault window ended: for the
    /// recovery check.
    pub deliveries: Vec<crate::sla::Delivery>,
}

type OrderKey = (String, u32);

/// A release the ERP sent, and the first decision it got.
struct ReleaseSeen {
    first_sent_us: u64,
    witness: Witness,
    /// (line_no, quantity released).
    lines: Vec<(u32, u32)>,
    decision: Option<(Decision, u64, Witness)>,
    /// A later answer that contradicts the first decision.
    contradicted: Option<Witness>,
}

/// A ship confirmation the core took in.
struct ShipmentSeen {
    order: OrderKey,
    accepted_at_us: u64,
    witness: Witness,
    lines: Vec<u32>,
}

#[derive(Default)]
struct Gathered {
    releases: BTreeMap<OrderKey, ReleaseSeen>,
    /// Orders the WMS answered accepted (first witness).
    wms_accepted: HashMap<OrderKey, Witness>,
    /// Orders the WMS shipped against: any confirmation it sent.
    wms_shipped: HashMap<OrderKey, Witness>,
    /// shipment_id → the confirmation the core took in (first 2xx).
    shipments: BTreeMap<String, ShipmentSeen>,
    /// (shipment_id, line) → ERP posting effects (time, witness).
    postings: BTreeMap<(String, u32), Vec<(u64, Witness)>>,
    /// (shipment_id, line) → the distinct Idempotency-Keys the core posted it under.
    posting_keys: HashMap<(String, u32), BTreeSet<String>>,
    /// (order_number, line) → quantity posted as shipped, and the witnesses.
    shipped: BTreeMap<(String, u32), (u64, Vec<Witness>)>,
    /// (order_number, line) → quantity the WMS confirmed shipped in the
    /// confirmations the core took in, and their witnesses.
    wms_shipped_qty: BTreeMap<(String, u32), (u64, Vec<Witness>)>,
    counts: BTreeMap<String, u64>,
}

impl Gathered {
    fn count(&mut self, name: &str) {
        *self.counts.entry(name.to_owned()).or_default() += 1;
    }

    fn observe(&mut self, ex: &Exchange) {
        match (ex.party, ex.direction, ex.endpoint.as_str()) {
            (Role::Erp, Direction::Outbound, core::ORDER_RELEASES) => {
                let Some(order) = parse::<OrderRelease>(&ex.request) else {
                    return;
                };
                self.count("release_attempts");
                let seen = self
                    .releases
                    .entry((order.order_number.clone(), order.version))
                    .or_insert_with(|| ReleaseSeen {
                        first_sent_us: ex.started_at_us,
                        witness: witness(ex),
                        lines: order.lines.iter().map(|l| (l.line_no, l.quantity)).collect(),
                        decision: None,
                        contradicted: None,
                    });
                seen.first_sent_us = seen.first_sent_us.min(ex.started_at_us);
                let decided = ex
                    .is_success()
                    .then(|| parse::<OrderReleaseDecision>(&ex.response))
                    .flatten();
                if let Some(d) = decided {
                    match &seen.decision {
                        None => seen.decision = Some((d.decision, ex.finished_at_us, witness(ex))),
                        Some((first, ..)) if *first != d.decision => {
                            seen.contradicted.get_or_insert_with(|| witness(ex));
                        }
                        Some(_) => {}
                    }
                }
            }
            (Role::Wms, Direction::Inbound, wms::ORDER_RELEASES) => {
                let decided = ex
                    .is_success()
                    .then(|| parse::<OrderReleaseDecision>(&ex.response))
                    .flatten();
                if let Some(d) = decided.filter(|d| d.decision == Decision::Accepted) {
                    self.wms_accepted
                        .entry((d.order_number, d.order_version))
                        .or_insert_with(|| witness(ex));
                }
            }
            (Role::Wms, Direction::Outbound, core::SHIPMENT_CONFIRMATIONS) => {
                let Some(sc) = parse::<ShipmentConfirmation>(&ex.request) else {
                    return;
                };
                let order = (sc.order_number.clone(), sc.order_version);
                self.wms_shipped
                    .entry(order.clone())
                    .or_insert_with(|| witness(ex));
                if ex.is_success() && !self.shipments.contains_key(&sc.shipment_id) {
                    self.count("shipments_accepted");
                    for l in &sc.lines {
                        let slot = self
                            .wms_shipped_qty
                            .entry((sc.order_number.clone(), l.line_no))
                            .or_default();
                        slot.0 += u64::from(l.qty_shipped);
                        slot.1.push(witness(ex));
                    }
                    self.shipments.insert(
                        sc.shipment_id.clone(),
                        ShipmentSeen {
                            order,
                            accepted_at_us: ex.finished_at_us,
                            witness: witness(ex),
                            lines: sc.lines.iter().map(|l| l.line_no).collect(),
                        },
                    );
                }
            }
            (Role::Erp, Direction::Inbound, erp::SHIPMENT_POSTINGS) => {
                let Some(p) = parse::<ErpShipmentPosting>(&ex.request) else {
                    return;
                };
                let line = (p.shipment_id.clone(), p.order_line_no);
                if let Some(key) = &ex.idempotency_key {
                    self.posting_keys
                        .entry(line.clone())
                        .or_default()
                        .insert(key.clone());
                }
                if ex.is_effect() {
                    self.count("shipment_postings");
                    self.postings
                        .entry(line)
                        .or_insert_with(one_slot)
                        .push((ex.finished_at_us, witness(ex)));
                    let shipped = self.shipped.entry((p.order_number, p.order_line_no)).or_default();
                    shipped.0 += u64::from(p.quantity);
                    shipped.1.push(witness(ex));
                }
            }
            _ => {}
        }
    }
}

/// Judges the outbound flow from the history files.
pub fn check(histories: &[PathBuf], expect: &OutboundExpectations) -> Result<OutboundFindings, HistoryError> {
    let mut g = Gathered::default();
    for path in histories {
        for_each_exchange(path, |ex| g.observe(&ex))?;
    }
    Ok(judge(g, expect))
}

fn judge(mut g: Gathered, expect: &OutboundExpectations) -> OutboundFindings {
    let windows = &expect.fault_windows;
    let mut decision_latency = histogram();
    let mut posting_latency = histogram();
    let mut decision_flow = FlowMeasure::new(crate::sla::RELEASE_TO_DECISION);
    let mut posting_flow = FlowMeasure::new(crate::sla::SHIP_CONFIRMATION_TO_POSTING);
    let mut deliveries = Deliveries::new(windows);
    for (key, seen) in &g.releases {
        deliveries.observe(
            &mut decision_flow,
            || order_name(key),
            seen.first_sent_us,
            seen.decision.as_ref().map(|d| d.1),
            &seen.witness,
        );
    }
    let posted: HashSet<(String, u32)> = g.postings.keys().cloned().collect();
    let checks = vec![
        decision_matches_wms(&g, windows, &decision_flow, &mut decision_latency),
        shipped_within_released(&g),
        posted_equals_shipped(&g),
        one_posting_per_line(
            &mut g,
            windows,
            &mut deliveries,
            &mut posting_flow,
            &mut posting_latency,
        ),
        nothing_lost(&g, &posted),
    ];
    let mut counts = std::mem::take(&mut g.counts);
    let decided = |d: Decision| {
        g.releases
            .values()
            .filter(|s| matches!(&s.decision, Some((x, ..)) if *x == d))
            .count() as u64
    };
    counts.insert("releases_sent".into(), g.releases.len() as u64);
    counts.insert("releases_accepted".into(), decided(Decision::Accepted));
    counts.insert("releases_rejected".into(), decided(Decision::Rejected));
    OutboundFindings {
        checks,
        latencies: vec![
            latency("release-to-decision", &decision_latency, None),
            latency("ship-confirmation-to-posting", &posting_latency, None),
        ],
        counts,
        flows: vec![decision_flow, posting_flow],
        deliveries: deliveries.kept,
    }
}

fn order_name(k: &OrderKey) -> String {
    format!("order_number={} version={}", k.0, k.1)
}

/// Invariant 17: the decision the ERP got is the WMS's.
fn decision_matches_wms(
    g: &Gathered,
    windows: &[FaultSpan],
    flow: &FlowMeasure,
    latency: &mut Histogram<u64>,
) -> Check {
    // Invariant 17: the decision the ERP got is the WMS's.
    let mut v = Vec::new();
    let mut checked = 0;
    for (key, seen) in &g.releases {
        let Some((decision, decided_at, decided)) = &seen.decision else {
            continue;
        };
        checked += 1;
        if flow.flow.outside(windows, seen.first_sent_us, *decided_at) {
            let _ = latency.record(decided_at.saturating_sub(seen.first_sent_us).max(1));
        }
        if let Some(other) = &seen.contradicted {
            v.push(Violation {
                key: order_name(key),
                message: "the core answered the same release both accepted and rejected".into(),
                witness: vec![decided.clone(), other.clone()],
            });
        }
        let wms_order = g.wms_accepted.get(key).or_else(|| g.wms_shipped.get(key));
        match (decision, wms_order) {
            (Decision::Rejected, Some(held)) => v.push(Violation {
                key: order_name(key),
                message: "the core answered rejected, yet the WMS holds (or shipped) the order (unexpected WMS order)"
                    .into(),
                witness: vec![decided.clone(), held.clone()],
            }),
            (Decision::Accepted, None) => v.push(Violation {
                key: order_name(key),
                message: "the core answered accepted, but the WMS never accepted the order (lost)".into(),
                witness: vec![decided.clone()],
            }),
            _ => {}
        }
    }
    let mut orphans: Vec<_> = g
        .wms_accepted
        .iter()
        .filter(|(k, _)| !g.releases.contains_key(*k))
        .collect();
    orphans.sort_by(|a, b| a.0.cmp(b.0));
    for (key, held) in orphans {
        checked += 1;
        v.push(Violation {
            key: order_name(key),
            message: "the WMS accepted an order the ERP never released (unexpected)".into(),
            witness: vec![held.clone()],
        });
    }
    Check::new(
        "release-decision-matches-wms",
        "a release answered rejected leaves zero WMS orders; one answered accepted is a WMS order (invariant 17)",
        checked,
        v,
    )
}

/// Invariant 17: shipped ≤ released, per order line.
fn shipped_within_released(g: &Gathered) -> Check {
    // Invariant 17: shipped ≤ released, per order line.
    let released: HashMap<(String, u32), u64> = g
        .releases
        .iter()
        .filter(|(_, s)| matches!(s.decision, Some((Decision::Accepted, ..))))
        .flat_map(|((order, _), s)| {
            s.lines
                .iter()
                .map(move |(line, qty)| ((order.clone(), *line), u64::from(*qty)))
        })
        .collect();
    let mut v = Vec::new();
    for ((order, line), (shipped, witnesses)) in &g.shipped {
        match released.get(&(order.clone(), *line)) {
            Some(r) if shipped <= r => {}
            Some(r) => v.push(Violation {
                key: format!("order_number={order} line={line}"),
                message: format!("{shipped} posted as shipped, only {r} released"),
                witness: witnesses.clone(),
            }),
            None => v.push(Violation {
                key: format!("order_number={order} line={line}"),
                message: format!("{shipped} posted as shipped for a line never accepted for release"),
                witness: witnesses.clone(),
            }),
        }
    }
    Check::new(
        "shipped-within-released",
        "per order line, the quantity posted to the ERP as shipped never exceeds the quantity released (invariant 17)",
        g.shipped.len() as u64,
        v,
    )
}

/// Invariant 17 and 8's outbound twin: per order line, the quantity posted
/// to the ERP as shipped is what the WMS confirmed shipped, summed over the
/// confirmations the core took in.
fn posted_equals_shipped(g: &Gathered) -> Check {
    let mut v = Vec::new();
    let lines: BTreeSet<&(String, u32)> = g.wms_shipped_qty.keys().chain(g.shipped.keys()).collect();
    for line in &lines {
        let (shipped, shipped_by) = g
            .wms_shipped_qty
            .get(*line)
            .map_or((0, &[][..]), |s| (s.0, &s.1[..]));
        let (posted, posted_by) = g.shipped.get(*line).map_or((0, &[][..]), |s| (s.0, &s.1[..]));
        if shipped != posted {
            v.push(Violation {
                key: format!("order_number={} line={}", line.0, line.1),
                message: format!(
                    "the core posted {posted} to the ERP as shipped, the WMS confirmed {shipped} shipped (core at fault)"
                ),
                witness: shipped_by.iter().chain(posted_by).cloned().collect(),
            });
        }
    }
    Check::new(
        "shipment-posting-equals-shipped",
        "per order line, the quantity posted to the ERP as shipped equals what the WMS confirmed shipped, summed over shipments (invariant 17)",
        lines.len() as u64,
        v,
    )
}

/// Invariant 17: the ERP line moves to shipped exactly once, per shipment.
fn one_posting_per_line(
    g: &mut Gathered,
    windows: &[FaultSpan],
    deliveries: &mut Deliveries,
    posting_flow: &mut FlowMeasure,
    posting_latency: &mut Histogram<u64>,
) -> Check {
    // Invariant 17: the ERP line moves to shipped exactly once, per shipment.
    let mut v = Vec::new();
    let mut checked = 0;
    for (shipment_id, seen) in &g.shipments {
        for line in &seen.lines {
            checked += 1;
            let slot = (shipment_id.clone(), *line);
            let effects = g.postings.remove(&slot).unwrap_or_default();
            let keys = g.posting_keys.get(&slot).map_or(0, BTreeSet::len);
            let key = format!("shipment_id={shipment_id} line={line}");
            let mut wit = vec![seen.witness.clone()];
            wit.extend(effects.iter().map(|e| e.1.clone()));
            deliveries.observe(
                posting_flow,
                || key.clone(),
                seen.accepted_at_us,
                effects.iter().map(|e| e.0).min(),
                &seen.witness,
            );
            match effects.len() {
                1 if keys <= 1 => {
                    if posting_flow
                        .flow
                        .outside(windows, seen.accepted_at_us, effects[0].0)
                    {
                        let _ =
                            posting_latency.record(effects[0].0.saturating_sub(seen.accepted_at_us).max(1));
                    }
                }
                0 => v.push(Violation {
                    key,
                    message: "ship confirmation taken in by the core, but never posted to the ERP (lost)"
                        .into(),
                    witness: wit,
                }),
                1 => v.push(Violation {
                    key,
                    message: format!(
                        "one posting, but the core posted the line under {keys} Idempotency-Keys (duplicated)"
                    ),
                    witness: wit,
                }),
                n => v.push(Violation {
                    key,
                    message: format!("{n} ERP shipment postings for one shipment line (duplicated)"),
                    witness: wit,
                }),
            }
        }
    }
    for ((shipment_id, line), effects) in std::mem::take(&mut g.postings) {
        checked += 1;
        v.push(Violation {
            key: format!("shipment_id={shipment_id} line={line}"),
            message: format!(
                "{} ERP shipment posting(s) for a shipment the core never took in (unexpected)",
                effects.len()
            ),
            witness: effects.into_iter().map(|e| e.1).collect(),
        });
    }
    Check::new(
        "one-shipment-posting-per-line",
        "exactly one ERP shipment posting per (shipment, line), under one Idempotency-Key (invariant 17)",
        checked,
        v,
    )
}

/// Nothing lost: decided, and what the WMS shipped reaches the ERP.
fn nothing_lost(g: &Gathered, posted: &HashSet<(String, u32)>) -> Check {
    // Nothing lost: decided, and what the WMS shipped reaches the ERP.
    let mut v = Vec::new();
    let mut checked = 0;
    let mut taken_in: HashMap<&OrderKey, Vec<(&String, &ShipmentSeen)>> = HashMap::new();
    for (id, s) in &g.shipments {
        taken_in.entry(&s.order).or_insert_with(one_slot).push((id, s));
    }
    for (key, seen) in &g.releases {
        checked += 1;
        match &seen.decision {
            None => v.push(Violation {
                key: order_name(key),
                message: "released by the ERP, but never answered with a decision (lost)".into(),
                witness: vec![seen.witness.clone()],
            }),
            Some((Decision::Accepted, _, decided)) => {
                let Some(shipped) = g.wms_shipped.get(key) else {
                    continue;
                };
                let Some(shipments) = taken_in.get(key) else {
                    v.push(Violation {
                        key: order_name(key),
                        message:
                            "shipped by the WMS, but the core never took the ship confirmation in (lost)"
                                .into(),
                        witness: vec![decided.clone(), shipped.clone()],
                    });
                    continue;
                };
                for (line, _) in &seen.lines {
                    let reached = shipments
                        .iter()
                        .any(|(id, s)| s.lines.contains(line) && posted.contains(&((*id).clone(), *line)));
                    if !reached {
                        v.push(Violation {
                            key: format!("{} line={line}", order_name(key)),
                            message: "shipped by the WMS, never posted as shipped at the ERP (lost)".into(),
                            witness: vec![decided.clone(), shipped.clone()],
                        });
                    }
                }
            }
            Some(_) => {}
        }
    }
    Check::new(
        "outbound-nothing-lost",
        "every release gets a decision; every accepted release the WMS shipped reaches an ERP shipment posting per line",
        checked,
        v,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn ex(
        party: Role,
        direction: Direction,
        endpoint: &str,
        status: u16,
        request: Value,
        response: Option<Value>,
    ) -> Exchange {
        Exchange {
            seq: 0,
            party,
            peer: Role::Core,
            direction,
            method: "POST".into(),
            endpoint: endpoint.into(),
            status: Some(status),
            error: None,
            started_at_us: 1,
            finished_at_us: 2,
            idempotency_key: Some(format!("k-{endpoint}-{request}")),
            trace_id: None,
            replayed: false,
            fault: None,
            handler_status: None,
            request: Some(request),
            response,
        }
    }

    fn release(order: &str, qty: u32) -> Value {
        json!({"order_number": order, "version": 1, "warehouse_gln": "5060000000092",
               "ship_to": {"name": "C", "address_line": "1 St", "city": "H", "postal_code": "1", "country_code": "DE"},
               "release_date": "2026-11-20", "requested_ship_date": "2026-11-23",
               "lines": [{"line_no": 1, "sku": "SKU-1", "gtin": "4006381333931", "quantity": qty, "uom": "EA"}]})
    }

    fn decision(order: &str, accepted: bool) -> Value {
        if accepted {
            json!({"order_number": order, "order_version": 1, "decision": "accepted", "warehouse_order_id": "WO-1",
                   "decided_at": "2026-11-20T10:00:00Z", "lines": [{"line_no": 1, "decision": "accepted"}]})
        } else {
            json!({"order_number": order, "order_version": 1, "decision": "rejected",
                   "decided_at": "2026-11-20T10:00:00Z",
                   "lines": [{"line_no": 1, "decision": "rejected",
                              "reasons": [{"code": "unknown_item", "detail": "no such item"}]}]})
        }
    }

    fn confirmation(order: &str, shipment: &str, shipped: u32) -> Value {
        json!({"shipment_id": shipment, "event_id": format!("E-{shipment}"), "order_number": order,
               "order_version": 1, "warehouse_order_id": "WO-1", "warehouse_gln": "5060000000092",
               "shipped_at": "2026-11-21T10:00:00Z", "carrier_scac": "DHLX",
               "lines": [{"line_no": 1, "sku": "SKU-1", "gtin": "4006381333931", "qty_ordered": 10,
                          "qty_shipped": shipped, "uom": "EA"}]})
    }

    fn posting(order: &str, shipment: &str, qty: u32) -> Value {
        json!({"shipment_id": shipment, "order_number": order, "order_line_no": 1, "sku": "SKU-1",
               "quantity": qty, "uom": "EA", "shipped_at": "2026-11-21T10:00:00Z"})
    }

    /// The ERP releases `order` (10 units) and gets `accepted`; the WMS
    /// decides `wms_accepts`.
    fn released(order: &str, accepted: bool, wms_accepts: bool) -> Vec<Exchange> {
        vec![
            ex(
                Role::Erp,
                Direction::Outbound,
                core::ORDER_RELEASES,
                200,
                release(order, 10),
                Some(decision(order, accepted)),
            ),
            ex(
                Role::Wms,
                Direction::Inbound,
                wms::ORDER_RELEASES,
                200,
                release(order, 10),
                Some(decision(order, wms_accepts)),
            ),
        ]
    }

    fn shipped(order: &str, shipment: &str, qty: u32, postings: usize) -> Vec<Exchange> {
        let mut out = vec![ex(
            Role::Wms,
            Direction::Outbound,
            core::SHIPMENT_CONFIRMATIONS,
            201,
            confirmation(order, shipment, qty),
            None,
        )];
        for n in 0..postings {
            let mut p = ex(
                Role::Erp,
                Direction::Inbound,
                erp::SHIPMENT_POSTINGS,
                201,
                posting(order, shipment, qty),
                None,
            );
            p.idempotency_key = Some(format!("shp:{shipment}:1:{n}"));
            out.push(p);
        }
        out
    }

    fn judged(history: Vec<Exchange>) -> Vec<Check> {
        let mut g = Gathered::default();
        for e in &history {
            g.observe(e);
        }
        judge(g, &OutboundExpectations::default()).checks
    }

    fn check_named<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn a_correct_history_passes_every_check() {
        let mut h = released("SO-1", true, true);
        h.extend(shipped("SO-1", "SHP-1", 10, 1));
        h.extend(released("SO-2", false, false));
        let checks = judged(h);
        for c in &checks {
            assert!(c.passed && c.checked > 0, "{c:#?}");
        }
    }

    #[test]
    fn a_rejected_release_the_wms_holds_violates_invariant_17() {
        // The ERP was told rejected; the WMS accepted and shipped it.
        let mut h = released("SO-1", false, true);
        h.extend(shipped("SO-1", "SHP-1", 10, 0));
        let checks = judged(h);
        let c = check_named(&checks, "release-decision-matches-wms");
        assert!(!c.passed);
        assert_eq!(c.violations[0].key, "order_number=SO-1 version=1");
        assert!(c.violations[0].message.contains("unexpected WMS order"));
        assert_eq!(c.violations[0].witness.len(), 2);

        // Shipped without the WMS's decision on record is evidence too.
        let mut h = released("SO-1", false, false);
        h.retain(|e| e.party == Role::Erp);
        h.extend(shipped("SO-1", "SHP-1", 10, 0));
        assert!(!check_named(&judged(h), "release-decision-matches-wms").passed);

        // Accepted at the ERP, never at the WMS: lost.
        let c = judged(released("SO-3", true, false));
        let c = check_named(&c, "release-decision-matches-wms");
        assert!(c.violations[0].message.contains("lost"), "{c:#?}");
    }

    #[test]
    fn shipping_more_than_released_is_caught() {
        let mut h = released("SO-1", true, true);
        h.extend(shipped("SO-1", "SHP-1", 6, 1));
        h.extend(shipped("SO-1", "SHP-2", 6, 1));
        let checks = judged(h);
        let c = check_named(&checks, "shipped-within-released");
        assert!(!c.passed);
        assert!(
            c.violations[0]
                .message
                .contains("12 posted as shipped, only 10 released"),
            "{c:#?}"
        );
        assert_eq!(c.violations[0].witness.len(), 2);
        assert!(check_named(&checks, "one-shipment-posting-per-line").passed);

        // Posted for an order the ERP saw rejected.
        let mut h = released("SO-2", false, false);
        h.extend(shipped("SO-2", "SHP-3", 1, 1));
        let checks = judged(h);
        let c = check_named(&checks, "shipped-within-released");
        assert!(c.violations[0].message.contains("never accepted"), "{c:#?}");
    }

    #[test]
    fn one_posting_per_shipment_line_lost_doubled_or_rekeyed_is_caught() {
        let run = |postings: usize| {
            let mut h = released("SO-1", true, true);
            h.extend(shipped("SO-1", "SHP-1", 10, postings));
            judged(h)
        };
        let doubled = run(2);
        let c = check_named(&doubled, "one-shipment-posting-per-line");
        assert!(
            c.violations[0].message.contains("2 ERP shipment postings"),
            "{c:#?}"
        );
        assert_eq!(c.violations[0].witness.len(), 3);
        assert_eq!(c.violations[0].key, "shipment_id=SHP-1 line=1");

        let lost = run(0);
        let c = check_named(&lost, "one-shipment-posting-per-line");
        assert!(c.violations[0].message.contains("lost"), "{c:#?}");
        assert!(!check_named(&lost, "outbound-nothing-lost").passed);

        // One effect, but a second attempt under another key (the ERP refused it).
        let mut h = released("SO-1", true, true);
        h.extend(shipped("SO-1", "SHP-1", 10, 1));
        let mut refused = ex(
            Role::Erp,
            Direction::Inbound,
            erp::SHIPMENT_POSTINGS,
            422,
            posting("SO-1", "SHP-1", 10),
            None,
        );
        refused.idempotency_key = Some("another-key".into());
        h.push(refused);
        let checks = judged(h);
        let c = check_named(&checks, "one-shipment-posting-per-line");
        assert!(c.violations[0].message.contains("2 Idempotency-Keys"), "{c:#?}");

        // A posting for a shipment the core never took in.
        let mut h = released("SO-1", true, true);
        h.extend(shipped("SO-1", "SHP-1", 10, 1).into_iter().skip(1));
        let checks = judged(h);
        let c = check_named(&checks, "one-shipment-posting-per-line");
        assert!(c.violations[0].message.contains("never took in"), "{c:#?}");
    }

    #[test]
    fn a_posting_quantity_other_than_shipped_is_caught() {
        // Two shipments against one line (4 + 6): postings of 4 and 6 pass.
        let mut h = released("SO-1", true, true);
        h.extend(shipped("SO-1", "SHP-1", 4, 1));
        h.extend(shipped("SO-1", "SHP-2", 6, 1));
        let c = judged(h.clone());
        let c = check_named(&c, "shipment-posting-equals-shipped");
        assert!(c.passed && c.checked == 1, "{c:#?}");

        // The core posts 7 for the shipment of 6 (one posting per line
        // still holds, and 11 ≤ 10 released does not: shipped-within-released
        // would miss a 5 instead of a 7).
        for (posted, total) in [(7, 11), (5, 9)] {
            let mut wrong = h.clone();
            let last = wrong.len() - 1;
            wrong[last].request = Some(posting("SO-1", "SHP-2", posted));
            let checks = judged(wrong);
            let c = check_named(&checks, "shipment-posting-equals-shipped");
            assert!(!c.passed, "{c:#?}");
            assert_eq!(c.violations[0].key, "order_number=SO-1 line=1");
            assert!(
                c.violations[0].message.contains(&format!(
                    "the core posted {total} to the ERP as shipped, the WMS confirmed 10"
                )),
                "{c:#?}"
            );
            assert_eq!(c.violations[0].witness.len(), 4);
            assert!(check_named(&checks, "one-shipment-posting-per-line").passed);
        }
    }

    #[test]
    fn undecided_releases_and_refused_shipments_are_lost() {
        let mut h = released("SO-1", true, true);
        h[0].status = Some(503);
        h[0].response = None;
        let checks = judged(h);
        let c = check_named(&checks, "outbound-nothing-lost");
        assert!(
            c.violations[0].message.contains("never answered with a decision"),
            "{c:#?}"
        );

        let mut h = released("SO-2", true, true);
        let mut refused = shipped("SO-2", "SHP-1", 10, 0);
        refused[0].status = Some(422);
        h.extend(refused);
        let checks = judged(h);
        let c = check_named(&checks, "outbound-nothing-lost");
        assert!(
            c.violations[0]
                .message
                .contains("never took the ship confirmation in"),
            "{c:#?}"
        );
    }
}
