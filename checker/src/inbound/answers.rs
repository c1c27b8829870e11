//! The core's answers to the parties, and what it forwards as it was told.
//!
//! - `copies-answered`: an exact copy (same party, endpoint and body) of a
//!   document the core answered 2xx gets 2xx again, with the stored answer
//!   (the same `message_id`); 409 only while the first copy is in flight
//!   (sent before the first 2xx answer came back); 429 and 503 are the
//!   transient refusals the contract allows. Anything else — a 4xx or 5xx
//!   to a copy, another message id — is the core's fault.
//! - `acknowledgements-reach-erp`: every PO acknowledgement the core
//!   accepted reaches the ERP exactly once, unchanged.

use std::collections::{BTreeMap, HashMap};

use contracts::inbound::PoAcknowledgement;
use contracts::routes::{core, erp};
use contracts::{Direction, Exchange, Role};
use reports::{Check, Violation, Witness};

use crate::history::{fingerprint, hash_json, one_slot, parse, witness};

/// One document (party, endpoint, body) sent to the core.
#[derive(Default)]
struct Sent {
    /// The first 2xx answer: when it came back, its message id, its witness.
    first_ok: Option<(u64, Option<String>, Witness)>,
    /// Every other answer: (started, status, message id, witness).
    others: Vec<(u64, u16, Option<String>, Witness)>,
}

/// Gathered while the history streams by.
#[derive(Default)]
pub(super) struct Answers {
    sent: HashMap<u128, Sent>,
    /// ack_id → (body hash, witness) of the first acknowledgement the core accepted.
    acks: BTreeMap<String, (u64, Witness)>,
    /// ack_id → (body hash, witness) of each one the ERP took (an effect).
    forwarded: HashMap<String, Vec<(u64, Witness)>>,
}

fn message_id(ex: &Exchange) -> Option<String> {
    ex.response
        .as_ref()?
        .get("message_id")?
        .as_str()
        .map(str::to_owned)
}

impl Answers {
    pub(super) fn observe(&mut self, ex: &Exchange) {
        let partner = matches!(ex.party, Role::Supplier | Role::Erp | Role::Wms);
        if partner && ex.direction == Direction::Outbound && ex.peer == Role::Core && ex.method == "POST" {
            self.observe_send(ex);
        }
        match (ex.party, ex.direction, ex.endpoint.as_str()) {
            (Role::Supplier, Direction::Outbound, core::PO_ACKNOWLEDGEMENTS) if ex.is_success() => {
                if let Some(ack) = parse::<PoAcknowledgement>(&ex.request) {
                    self.acks
                        .entry(ack.ack_id)
                        .or_insert_with(|| (hash_json(&ex.request), witness(ex)));
                }
            }
            (Role::Erp, Direction::Inbound, erp::PO_ACKNOWLEDGEMENTS) if ex.is_effect() => {
                if let Some(ack) = parse::<PoAcknowledgement>(&ex.request) {
                    self.forwarded
                        .entry(ack.ack_id)
                        .or_insert_with(one_slot)
                        .push((hash_json(&ex.request), witness(ex)));
                }
            }
            _ => {}
        }
    }

    fn observe_send(&mut self, ex: &Exchange) {
        let Some(status) = ex.status else {
            return;
        };
        let body = hash_json(&ex.request).to_string();
        let slot = self
            .sent
            .entry(fingerprint(&[ex.party.as_str(), &ex.endpoint, &body]))
            .or_default();
        let id = message_id(ex);
        match &slot.first_ok {
            None if ex.is_success() => slot.first_ok = Some((ex.finished_at_us, id, witness(ex))),
            Some((done, ..)) if ex.is_success() && ex.finished_at_us < *done => {
                // An earlier answer recorded later: it is the first.
                let old = slot.first_ok.replace((ex.finished_at_us, id, witness(ex)));
                if let Some((t, id, w)) = old {
                    slot.others.push((t, w.status.unwrap_or(200), id, w));
                }
            }
            _ => slot.others.push((ex.started_at_us, status, id, witness(ex))),
        }
    }

    /// `copies-answered`.
    pub(super) fn copies_check(&self) -> Check {
        let mut v = Vec::new();
        let mut checked = 0;
        for sent in self.sent.values() {
            let Some((done, first_id, first)) = &sent.first_ok else {
                continue;
            };
            for (started, status, id, copy) in &sent.others {
                checked += 1;
                let wrong = match status {
                    200..=299 if id.is_some() && first_id.is_some() && id != first_id => Some(format!(
                        "the core answered an exact copy with message id {}, the first with {} (not the stored answer)",
                        id.as_deref().unwrap_or_default(),
                        first_id.as_deref().unwrap_or_default()
                    )),
                    200..=299 | 429 | 503 => None,
                    409 if started < done => None,
                    s => Some(format!(
                        "the core answered {s} to an exact copy of a document it accepted{} (core at fault)",
                        if *s == 409 {
                            " after the first copy was answered"
                        } else {
                            ""
                        }
                    )),
                };
                if let Some(message) = wrong {
                    v.push(Violation {
                        key: format!("{} {}", copy.party, copy.endpoint),
                        message,
                        witness: vec![first.clone(), copy.clone()],
                    });
                }
            }
        }
        v.sort_by_key(|x| (x.witness[1].party.clone(), x.witness[1].seq));
        Check::new(
            "copies-answered",
            "an exact copy of a document the core accepted gets 2xx with the stored answer; 409 only while the first copy is in flight",
            checked,
            v,
        )
    }

    /// `acknowledgements-reach-erp`.
    pub(super) fn acks_check(&self) -> Check {
        let mut v = Vec::new();
        for (ack_id, (hash, accepted)) in &self.acks {
            let effects = self.forwarded.get(ack_id).map_or(&[][..], Vec::as_slice);
            let mut witness = vec![accepted.clone()];
            witness.extend(effects.iter().map(|e| e.1.clone()));
            let message = match effects {
                [] => {
                    "acknowledgement accepted by the core, never forwarded to the ERP (lost; core at fault)"
                        .into()
                }
                [(h, _)] if h == hash => continue,
                [_] => "the ERP got the acknowledgement altered from what the supplier sent (core at fault)"
                    .into(),
                many => format!(
                    "{} ERP acknowledgement effects for one ack (duplicated; core at fault)",
                    many.len()
                ),
            };
            v.push(Violation {
                key: format!("ack_id={ack_id}"),
                message,
                witness,
            });
        }
        Check::new(
            "acknowledgements-reach-erp",
            "every PO acknowledgement the core accepted reaches the ERP exactly once, unchanged",
            self.acks.len() as u64,
            v,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::test_exchange;
    use serde_json::json;

    fn send(seq: u64, started: u64, finished: u64, status: u16, id: &str) -> Exchange {
        let mut ex = test_exchange(
            Role::Supplier,
            Direction::Outbound,
            core::ASNS,
            seq,
            json!({"asn_id": "A", "n": 1}),
        );
        (ex.started_at_us, ex.finished_at_us, ex.status) = (started, finished, Some(status));
        ex.response = Some(json!({"message_id": id, "outcome": "accepted"}));
        ex
    }

    fn judged(h: &[Exchange]) -> Answers {
        let mut a = Answers::default();
        for e in h {
            a.observe(e);
        }
        a
    }

    #[test]
    fn copies_get_the_stored_answer_and_409_only_in_flight() {
        // First accepted at 10–20; a concurrent copy 409 (15), a late copy
        // 200 with the same id: equivalent, passes.
        let good = [
            send(0, 10, 20, 201, "M1"),
            send(1, 15, 16, 409, "-"),
            send(2, 30, 31, 200, "M1"),
        ];
        let c = judged(&good).copies_check();
        assert!(c.passed && c.checked == 2, "{c:#?}");

        for (bad, says) in [
            (send(2, 30, 31, 409, "-"), "409 to an exact copy"),
            (send(2, 30, 31, 500, "-"), "500 to an exact copy"),
            (send(2, 30, 31, 422, "-"), "422"),
            (send(2, 30, 31, 200, "M2"), "message id M2"),
            (send(2, 12, 13, 500, "-"), "500"),
        ] {
            let c = judged(&[good[0].clone(), bad]).copies_check();
            assert!(!c.passed, "{says}: {c:#?}");
            assert!(c.violations[0].message.contains(says), "{c:#?}");
            assert_eq!(c.violations[0].key, "supplier POST /v1/asns");
            assert_eq!(c.violations[0].witness.len(), 2);
        }
        // A different body is not a copy; nothing accepted, nothing judged.
        let mut other = send(1, 30, 31, 422, "-");
        other.request = Some(json!({"asn_id": "A", "n": 2}));
        assert!(judged(&[good[0].clone(), other]).copies_check().passed);
        assert_eq!(judged(&[send(0, 1, 2, 500, "-")]).copies_check().checked, 0);
    }

    fn ack(party: Role, direction: Direction, endpoint: &str, seq: u64, qty: u32) -> Exchange {
        test_exchange(
            party,
            direction,
            endpoint,
            seq,
            json!({"ack_id": "ACK-1", "po_number": "PO-1", "po_version": 1, "supplier_gln": "5060000000016",
                   "lines": [{"line_no": 1, "status": "accepted", "confirmed_qty": qty,
                              "promised_date": "2026-11-27"}]}),
        )
    }

    #[test]
    fn acknowledgements_reach_the_erp_once_unchanged() {
        let taken = ack(
            Role::Supplier,
            Direction::Outbound,
            core::PO_ACKNOWLEDGEMENTS,
            0,
            5,
        );
        let fwd = |seq, qty| ack(Role::Erp, Direction::Inbound, erp::PO_ACKNOWLEDGEMENTS, seq, qty);
        let parsed: Option<PoAcknowledgement> = parse(&taken.request);
        assert!(parsed.is_some(), "the test acknowledgement must parse");
        let c = judged(&[taken.clone(), fwd(1, 5)]).acks_check();
        assert!(c.passed && c.checked == 1, "{c:#?}");

        let cases: [(Vec<Exchange>, &str); 3] = [
            (vec![taken.clone()], "never forwarded"),
            (vec![taken.clone(), fwd(1, 5), fwd(2, 5)], "duplicated"),
            (vec![taken.clone(), fwd(1, 6)], "altered"),
        ];
        for (h, says) in cases {
            let c = judged(&h).acks_check();
            assert!(!c.passed, "{says}: {c:#?}");
            assert_eq!(c.violations[0].key, "ack_id=ACK-1");
            assert!(c.violations[0].message.contains(says), "{c:#?}");
        }
    }
}
