//! Inventory, judged from the recorded exchanges:
//!
//! - **adjustments exactly once**: every adjustment the core accepted from
//!   the WMS reaches the ERP exactly once per `source_event_id`, unchanged.
//! - **invariant 18**: a reconciliation is one trace: the ERP's and the
//!   WMS's snapshot reads and the corrective adjustments (reason
//!   `correction`) the ERP took on it. Every (sku, location) where the two
//!   snapshots differ has exactly one correction of delta WMS − ERP from the
//!   ERP's on-hand; where they agree, none. A correction is never made twice:
//!   one whose snapshot was read while an earlier run's correction of the
//!   same position had not yet reached the ERP corrects it again.

use std::collections::{BTreeMap, HashMap};

use contracts::inventory::{AdjustmentReason, InventoryAdjustment, InventorySnapshot};
use contracts::routes::{core, erp, wms};
use contracts::{Direction, Exchange, Role};
use reports::{Check, Violation, Witness};

use crate::history::{one_slot, parse, witness};

/// A snapshot read: when it started, what it showed.
struct Read {
    started_us: u64,
    snapshot: InventorySnapshot,
    witness: Witness,
}

#[derive(Default)]
struct Reconciliation {
    erp: Option<Read>,
    wms: Option<Read>,
}

struct Correction {
    adjustment: InventoryAdjustment,
    finished_us: u64,
    witness: Witness,
}

/// What the inventory checks need, gathered while the history streams by.
#[derive(Default)]
pub(super) struct Inventory {
    /// source_event_id → the adjustment the core accepted from the WMS.
    sent: HashMap<String, (InventoryAdjustment, Witness)>,
    /// source_event_id → WMS adjustments the ERP took.
    forwarded: HashMap<String, Vec<(InventoryAdjustment, Witness)>>,
    /// trace id → the snapshots read on it.
    reconciliations: HashMap<String, Reconciliation>,
    /// trace id → the corrections the ERP took on it.
    corrections: HashMap<String, Vec<Correction>>,
}

impl Inventory {
    pub(super) fn observe(&mut self, ex: &Exchange) {
        match (ex.party, ex.direction, ex.method.as_str(), ex.endpoint.as_str()) {
            (Role::Wms, Direction::Outbound, "POST", core::INVENTORY_ADJUSTMENTS) if ex.is_success() => {
                if let Some(a) = parse::<InventoryAdjustment>(&ex.request) {
                    self.sent
                        .entry(a.source_event_id.clone())
                        .or_insert_with(|| (a, witness(ex)));
                }
            }
            (Role::Erp, Direction::Inbound, "POST", erp::INVENTORY_ADJUSTMENTS) if ex.is_effect() => {
                let Some(a) = parse::<InventoryAdjustment>(&ex.request) else {
                    return;
                };
                if a.reason == AdjustmentReason::Correction {
                    self.corrections
                        .entry(ex.trace_id.clone().unwrap_or_default())
                        .or_insert_with(one_slot)
                        .push(Correction {
                            adjustment: a,
                            finished_us: ex.finished_at_us,
                            witness: witness(ex),
                        });
                } else {
                    self.forwarded
                        .entry(a.source_event_id.clone())
                        .or_insert_with(one_slot)
                        .push((a, witness(ex)));
                }
            }
            (
                party @ (Role::Erp | Role::Wms),
                Direction::Inbound,
                "GET",
                erp::INVENTORY_SNAPSHOT | wms::INVENTORY_SNAPSHOT,
            ) if ex.is_success() => {
                let (Some(trace), Some(snapshot)) = (&ex.trace_id, parse::<InventorySnapshot>(&ex.response))
                else {
                    return;
                };
                let read = Read {
                    started_us: ex.started_at_us,
                    snapshot,
                    witness: witness(ex),
                };
                let r = self.reconciliations.entry(trace.clone()).or_default();
                if party == Role::Erp {
                    r.erp = Some(read);
                } else {
                    r.wms = Some(read);
                }
            }
            _ => {}
        }
    }

    pub(super) fn finish(self) -> Vec<Check> {
        vec![self.exactly_once_check(), self.reconciliation_check()]
    }

    fn exactly_once_check(&self) -> Check {
        let mut v = Vec::new();
        let mut keys: Vec<&String> = self.sent.keys().collect();
        keys.sort();
        for key in &keys {
            let (sent, sent_witness) = &self.sent[*key];
            let got = self.forwarded.get(*key).map(Vec::as_slice).unwrap_or_default();
            let mut wit = vec![sent_witness.clone()];
            wit.extend(got.iter().map(|g| g.1.clone()));
            let name = format!("source_event_id={key}");
            match got {
                [] => v.push(Violation {
                    key: name,
                    message: "adjustment accepted by the core, but never reached the ERP (lost)".into(),
                    witness: wit,
                }),
                [(a, _)]
                    if (a.sku.as_str(), a.location.as_str(), a.delta)
                        != (sent.sku.as_str(), sent.location.as_str(), sent.delta) =>
                {
                    v.push(Violation {
                        key: name,
                        message: format!(
                            "the ERP took {} {} {:+}, the WMS sent {} {} {:+} (changed)",
                            a.sku, a.location, a.delta, sent.sku, sent.location, sent.delta
                        ),
                        witness: wit,
                    });
                }
                [_] => {}
                many => v.push(Violation {
                    key: name,
                    message: format!("{} ERP adjustments for one WMS event (duplicated)", many.len()),
                    witness: wit,
                }),
            }
        }
        let mut unexpected: Vec<_> = self
            .forwarded
            .iter()
            .filter(|(k, _)| !self.sent.contains_key(*k))
            .collect();
        unexpected.sort_by(|a, b| a.0.cmp(b.0));
        for (key, got) in &unexpected {
            v.push(Violation {
                key: format!("source_event_id={key}"),
                message: format!(
                    "{} ERP adjustment(s) for an event the core never accepted from the WMS (unexpected)",
                    got.len()
                ),
                witness: got.iter().map(|g| g.1.clone()).collect(),
            });
        }
        Check::new(
            "adjustments-exactly-once",
            "every inventory adjustment the core accepted reaches the ERP exactly once per source_event_id, unchanged",
            (keys.len() + unexpected.len()) as u64,
            v,
        )
    }

    fn reconciliation_check(&self) -> Check {
        let mut v = Vec::new();
        let mut checked = 0u64;
        // Runs in the order their ERP snapshots were read.
        let mut runs: Vec<(&String, &Read, &Read)> = self
            .reconciliations
            .iter()
            .filter_map(|(t, r)| Some((t, r.erp.as_ref()?, r.wms.as_ref()?)))
            .collect();
        runs.sort_by_key(|r| r.1.started_us);
        for (trace, erp_read, wms_read) in &runs {
            // (sku, location) → (erp, wms)
            let mut both: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
            for p in &erp_read.snapshot.positions {
                both.entry((&p.sku, &p.location)).or_default().0 += p.on_hand;
            }
            for p in &wms_read.snapshot.positions {
                both.entry((&p.sku, &p.location)).or_default().1 += p.on_hand;
            }
            let made = self
                .corrections
                .get(*trace)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let reads = [erp_read.witness.clone(), wms_read.witness.clone()];
            for ((sku, location), (e, w)) in &both {
                checked += 1;
                let here: Vec<&Correction> = made
                    .iter()
                    .filter(|c| c.adjustment.sku == *sku && c.adjustment.location == *location)
                    .collect();
                let mut wit = reads.to_vec();
                wit.extend(here.iter().map(|c| c.witness.clone()));
                v.extend(self.gap_violation(trace, (*sku, *location), (*e, *w), &here, erp_read, wit));
            }
            for c in made {
                if !both.contains_key(&(c.adjustment.sku.as_str(), c.adjustment.location.as_str())) {
                    checked += 1;
                    v.push(Violation {
                        key: format!(
                            "reconciliation={trace} sku={} location={}",
                            c.adjustment.sku, c.adjustment.location
                        ),
                        message: "a correction for a position neither snapshot holds (unexpected)".into(),
                        witness: vec![c.witness.clone()],
                    });
                }
            }
        }
        let mut orphans: Vec<_> = self
            .corrections
            .iter()
            .filter(|(t, _)| !runs.iter().any(|r| r.0 == *t))
            .collect();
        orphans.sort_by(|a, b| a.0.cmp(b.0));
        for (trace, made) in orphans {
            checked += 1;
            v.push(Violation {
                key: format!("reconciliation={trace}"),
                message: format!(
                    "{} correction(s) on a trace with no ERP and WMS snapshot read (unexplained)",
                    made.len()
                ),
                witness: made.iter().map(|c| c.witness.clone()).collect(),
            });
        }
        Check::new(
            "reconciliation-closes-gaps",
            "after a reconciliation, every (sku, location) where ERP and WMS on-hand differ has exactly one correction of the difference, none where they agree, and none twice (invariant 18)",
            checked,
            v,
        )
    }

    /// The violation, if any, of one (sku, location) of a reconciliation:
    /// ERP and WMS on-hand `(e, w)`, the corrections `here` made for it.
    fn gap_violation(
        &self,
        trace: &str,
        (sku, location): (&str, &str),
        (e, w): (u64, u64),
        here: &[&Correction],
        erp_read: &Read,
        wit: Vec<Witness>,
    ) -> Option<Violation> {
        let name = format!("reconciliation={trace} sku={sku} location={location}");
        let difference = w as i64 - e as i64;
        match (difference, here) {
            (0, []) => None,
            (0, _) => Some(Violation {
                key: name,
                message: format!(
                    "ERP and WMS agree at {e}, yet {} correction(s) were posted (unexpected)",
                    here.len()
                ),
                witness: wit,
            }),
            (_, []) => Some(Violation {
                key: name,
                message: format!("ERP has {e}, WMS has {w}, and no adjustment records the gap (lost)"),
                witness: wit,
            }),
            (d, [c]) if c.adjustment.delta != d || c.adjustment.previous_on_hand != e => Some(Violation {
                key: name,
                message: format!(
                    "ERP has {e}, WMS has {w}: expected a correction of {d:+} from {e}, found {:+} from {}",
                    c.adjustment.delta, c.adjustment.previous_on_hand
                ),
                witness: wit,
            }),
            (_, [c]) => {
                // Corrected twice: an earlier run's correction of the
                // same position had not reached the ERP when this
                // run read the ERP's books.
                let earlier = self
                    .corrections
                    .iter()
                    .filter(|(t, _)| t.as_str() != trace)
                    .flat_map(|(_, cs)| cs)
                    .find(|o| {
                        o.adjustment.sku == sku
                            && o.adjustment.location == location
                            && o.finished_us > erp_read.started_us
                            && o.witness.seq < c.witness.seq
                    });
                earlier.map(|o| Violation {
                        key: name,
                        message: format!(
                            "corrected twice: read ERP {e} while an earlier correction of {:+} was still on its way",
                            o.adjustment.delta
                        ),
                        witness: vec![o.witness.clone(), erp_read.witness.clone(), c.witness.clone()],
                    })
            }
            (_, many) => Some(Violation {
                key: name,
                message: format!("{} corrections for one gap (duplicated)", many.len()),
                witness: wit,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn ex(
        party: Role,
        direction: Direction,
        method: &str,
        endpoint: &str,
        seq: u64,
        trace: &str,
    ) -> Exchange {
        Exchange {
            seq,
            party,
            peer: Role::Core,
            direction,
            method: method.into(),
            endpoint: endpoint.into(),
            status: Some(if method == "GET" { 200 } else { 201 }),
            error: None,
            started_at_us: seq * 10,
            finished_at_us: seq * 10 + 5,
            idempotency_key: (method == "POST").then(|| format!("k{seq}")),
            trace_id: Some(trace.into()),
            replayed: false,
            fault: None,
            handler_status: None,
            request: None,
            response: None,
        }
    }

    fn adjustment(source: &str, sku: &str, delta: i64, previous: u64, reason: &str) -> Value {
        json!({"adjustment_id": format!("A-{source}"), "source_event_id": source, "warehouse_gln": "5060000000092",
               "sku": sku, "location": "STOCK", "delta": delta, "previous_on_hand": previous, "uom": "EA",
               "reason": reason, "occurred_at": "2026-11-27T10:00:00Z"})
    }

    fn sent(seq: u64, source: &str, delta: i64) -> Exchange {
        let mut e = ex(
            Role::Wms,
            Direction::Outbound,
            "POST",
            core::INVENTORY_ADJUSTMENTS,
            seq,
            "t-wms",
        );
        e.request = Some(adjustment(source, "A", delta, 10, "lost"));
        e
    }

    fn at_erp(
        seq: u64,
        trace: &str,
        source: &str,
        sku: &str,
        delta: i64,
        previous: u64,
        reason: &str,
    ) -> Exchange {
        let mut e = ex(
            Role::Erp,
            Direction::Inbound,
            "POST",
            erp::INVENTORY_ADJUSTMENTS,
            seq,
            trace,
        );
        e.request = Some(adjustment(source, sku, delta, previous, reason));
        e
    }

    fn snapshot(party: Role, seq: u64, trace: &str, positions: &[(&str, u64)]) -> Exchange {
        let mut e = ex(
            party,
            Direction::Inbound,
            "GET",
            erp::INVENTORY_SNAPSHOT,
            seq,
            trace,
        );
        e.response = Some(
            json!({"snapshot_id": format!("S{seq}"), "source": if party == Role::Erp { "erp" } else { "wms" },
            "warehouse_gln": "5060000000092", "taken_at": "2026-11-27T10:00:00Z",
            "positions": positions.iter().map(|(sku, n)| json!({"sku": sku, "location": "STOCK", "uom": "EA", "on_hand": n})).collect::<Vec<_>>()}),
        );
        e
    }

    fn judge(history: &[Exchange]) -> (Check, Check) {
        let mut g = Inventory::default();
        for e in history {
            g.observe(e);
        }
        let mut checks = g.finish().into_iter();
        (checks.next().unwrap(), checks.next().unwrap())
    }

    #[test]
    fn adjustments_reach_the_erp_exactly_once_and_unchanged() {
        let once = judge(&[sent(1, "E1", -2), at_erp(2, "t", "E1", "A", -2, 10, "lost")]).0;
        assert!(once.passed && once.checked == 1, "{once:?}");
        let twice = judge(&[
            sent(1, "E1", -2),
            at_erp(2, "t", "E1", "A", -2, 10, "lost"),
            at_erp(3, "t", "E1", "A", -2, 10, "lost"),
        ])
        .0;
        assert!(twice.violations[0].message.contains("duplicated"), "{twice:?}");
        let lost = judge(&[sent(1, "E1", -2)]).0;
        assert!(lost.violations[0].message.contains("lost"), "{lost:?}");
        let changed = judge(&[sent(1, "E1", -2), at_erp(2, "t", "E1", "A", 2, 10, "lost")]).0;
        assert!(changed.violations[0].message.contains("changed"), "{changed:?}");
        let stray = judge(&[at_erp(2, "t", "E9", "A", 2, 10, "found")]).0;
        assert!(stray.violations[0].message.contains("unexpected"), "{stray:?}");
    }

    #[test]
    fn invariant_18_wants_one_exact_correction_per_gap_and_none_elsewhere() {
        let reads = |t: &str, base: u64| {
            vec![
                snapshot(Role::Erp, base, t, &[("A", 10), ("B", 5)]),
                snapshot(Role::Wms, base + 1, t, &[("A", 8), ("B", 5), ("C", 1)]),
            ]
        };
        let mut right = reads("r1", 1);
        right.push(at_erp(3, "r1", "R-1", "A", -2, 10, "correction"));
        right.push(at_erp(4, "r1", "R-2", "C", 1, 0, "correction"));
        let c = judge(&right).1;
        assert!(c.passed && c.checked == 3, "{c:?}");

        let mut missing = reads("r1", 1);
        missing.push(at_erp(3, "r1", "R-1", "A", -2, 10, "correction"));
        let c = judge(&missing).1;
        assert_eq!(c.violations.len(), 1, "{c:?}");
        assert!(
            c.violations[0].message.contains("no adjustment records the gap"),
            "{c:?}"
        );
        assert_eq!(c.violations[0].key, "reconciliation=r1 sku=C location=STOCK");

        let mut wrong = reads("r1", 1);
        wrong.push(at_erp(3, "r1", "R-1", "A", 2, 10, "correction"));
        wrong.push(at_erp(4, "r1", "R-2", "C", 1, 0, "correction"));
        wrong.push(at_erp(5, "r1", "R-3", "B", 1, 5, "correction"));
        let c = judge(&wrong).1;
        let messages: Vec<_> = c.violations.iter().map(|v| v.message.as_str()).collect();
        assert!(
            messages.iter().any(|m| m.contains("expected a correction of -2")),
            "{c:?}"
        );
        assert!(messages.iter().any(|m| m.contains("agree at 5")), "{c:?}");

        let orphan = judge(&[at_erp(3, "r9", "R-1", "A", -2, 10, "correction")]).1;
        assert!(orphan.violations[0].message.contains("unexplained"), "{orphan:?}");
    }

    #[test]
    fn a_second_run_that_reads_before_the_first_correction_landed_corrects_twice() {
        // Run 1 reads at seq 1–2 and corrects A at seq 6 (finished at 65 µs);
        // run 2 reads the ERP at seq 3 (30 µs), before that landed, and
        // corrects A again.
        let history = vec![
            snapshot(Role::Erp, 1, "r1", &[("A", 10)]),
            snapshot(Role::Wms, 2, "r1", &[("A", 8)]),
            snapshot(Role::Erp, 3, "r2", &[("A", 10)]),
            snapshot(Role::Wms, 4, "r2", &[("A", 8)]),
            at_erp(6, "r1", "R1-1", "A", -2, 10, "correction"),
            at_erp(7, "r2", "R2-1", "A", -2, 10, "correction"),
        ];
        let c = judge(&history).1;
        assert_eq!(c.violations.len(), 1, "{c:?}");
        assert!(c.violations[0].message.contains("corrected twice"), "{c:?}");
        assert_eq!(c.violations[0].witness.len(), 3);

        // Had run 2 read the ERP after the correction, it would see no gap.
        let history = vec![
            snapshot(Role::Erp, 1, "r1", &[("A", 10)]),
            snapshot(Role::Wms, 2, "r1", &[("A", 8)]),
            at_erp(3, "r1", "R1-1", "A", -2, 10, "correction"),
            snapshot(Role::Erp, 6, "r2", &[("A", 8)]),
            snapshot(Role::Wms, 7, "r2", &[("A", 8)]),
        ];
        assert!(judge(&history).1.passed);
    }
}
