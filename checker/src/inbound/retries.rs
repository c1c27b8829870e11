//! `no-retry-after-refusal` (invariant 12): the core never sends a request
//! again, under the same Idempotency-Key, after the partner refused it with
//! a 4xx other than 408, 409 and 429 — a refusal says the request is wrong,
//! and resending it cannot make it right.
//!
//! The other half of invariants 11 and 12 (nothing before the time a 429
//! or 503 named in Retry-After) needs the answer's Retry-After, which the
//! history does not record: not judged here.

use std::collections::HashMap;

use contracts::{Direction, Exchange, Role};
use reports::{Check, Violation, Witness};

use crate::history::{fingerprint, witness};

/// Per (partner, endpoint, Idempotency-Key): the first final refusal and
/// the last attempt started.
#[derive(Default)]
struct Attempts {
    /// (finished, witness) of the earliest-finishing final refusal.
    refused: Option<(u64, Witness)>,
    /// (started, witness) of the latest-starting attempt.
    last: Option<(u64, Witness)>,
}

/// Gathered while the history streams by.
#[derive(Default)]
pub(super) struct Retries {
    keys: HashMap<u128, Attempts>,
}

/// A 4xx the caller must not retry (invariant 12).
fn final_refusal(status: Option<u16>) -> bool {
    matches!(status, Some(400..=499)) && !matches!(status, Some(408 | 409 | 429))
}

impl Retries {
    pub(super) fn observe(&mut self, ex: &Exchange) {
        let partner = matches!(ex.party, Role::Supplier | Role::Erp | Role::Wms);
        let (true, Direction::Inbound, Role::Core, Some(key)) =
            (partner, ex.direction, ex.peer, &ex.idempotency_key)
        else {
            return;
        };
        let slot = self
            .keys
            .entry(fingerprint(&[ex.party.as_str(), &ex.endpoint, key]))
            .or_default();
        if final_refusal(ex.status) && slot.refused.as_ref().is_none_or(|r| ex.finished_at_us < r.0) {
            slot.refused = Some((ex.finished_at_us, witness(ex)));
        }
        if slot.last.as_ref().is_none_or(|l| ex.started_at_us > l.0) {
            slot.last = Some((ex.started_at_us, witness(ex)));
        }
    }

    pub(super) fn check(&self) -> Check {
        let mut v = Vec::new();
        let mut checked = 0;
        for a in self.keys.values() {
            let (Some((refused_at, refused)), Some((last_at, last))) = (&a.refused, &a.last) else {
                continue;
            };
            checked += 1;
            if last_at > refused_at {
                v.push(Violation {
                    key: format!(
                        "idempotency_key={}",
                        refused.idempotency_key.as_deref().unwrap_or_default()
                    ),
                    message: format!(
                        "the core sent the request again after {} answered {} (a final refusal; core at fault)",
                        refused.party,
                        refused.status.unwrap_or_default()
                    ),
                    witness: vec![refused.clone(), last.clone()],
                });
            }
        }
        v.sort_by(|a, b| a.key.cmp(&b.key));
        Check::new(
            "no-retry-after-refusal",
            "the core never resends a request (same Idempotency-Key) after a partner refused it with a 4xx other than 408, 409 or 429 (invariant 12)",
            checked,
            v,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::test_exchange;
    use contracts::routes::erp;
    use serde_json::json;

    fn attempt(seq: u64, status: u16) -> Exchange {
        let mut ex = test_exchange(
            Role::Erp,
            Direction::Inbound,
            erp::GOODS_RECEIPT_POSTINGS,
            seq,
            json!({"receipt_id": "R"}),
        );
        ex.status = Some(status);
        ex.started_at_us = seq * 10;
        ex.finished_at_us = seq * 10 + 5;
        ex.idempotency_key = Some("post:R:1".into());
        ex
    }

    fn judged(h: &[Exchange]) -> Check {
        let mut r = Retries::default();
        for e in h {
            r.observe(e);
        }
        r.check()
    }

    #[test]
    fn a_retry_after_a_final_4xx_is_caught_and_after_a_transient_one_is_not() {
        for status in [408, 409, 429, 503] {
            let c = judged(&[attempt(0, status), attempt(1, 201)]);
            assert!(c.passed, "{status}: {c:#?}");
        }
        // A refusal as the last attempt: judged, and fine.
        let c = judged(&[attempt(0, 503), attempt(1, 422)]);
        assert!(c.passed && c.checked == 1, "{c:#?}");

        for status in [400, 404, 422] {
            let c = judged(&[attempt(0, status), attempt(1, 201)]);
            assert!(!c.passed, "{status}: {c:#?}");
            let v = &c.violations[0];
            assert_eq!(v.key, "idempotency_key=post:R:1");
            assert!(
                v.message.contains(&format!("after erp answered {status}")),
                "{v:#?}"
            );
            assert_eq!(v.witness.len(), 2);
        }
    }
}
