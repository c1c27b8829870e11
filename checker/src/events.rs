//! Events, judged from the recorded exchanges and two reads of the run's
//! JetStream stream (the harness reads it: `harness::run::events`):
//!
//! - **`events-exactly-once`**: every ship confirmation and inventory
//!   adjustment the core accepted (a 2xx `accepted`, not a replay, in the
//!   WMS's history) is in the stream exactly once by (source, id). Lost
//!   (accepted, no event), duplicated (one (source, id) stored twice, or one
//!   business key published under two identities) and unexpected (an event
//!   of no accepted message, or not a CloudEvent of a published type) are
//!   each a violation, with the WMS's exchange and the stream messages as
//!   witnesses.
//! - **`events-contract`**: every event validates against its envelope's
//!   contract (`contracts::events::PUBLISHED`, schema and domain rules), and
//!   its `Nats-Msg-Id` is `<source>/<id>`.
//! - **`events-replay`**: a second, independent read of the stream from
//!   the run's first sequence yields the same (source, id)s, as often.
//!
//! The business key of an event is read from its `data` (a ship
//! confirmation's `event_id`, an adjustment's `source_event_id`), not from
//! how the reference core builds ids, so the check holds for any core.

use std::collections::BTreeMap;
use std::path::PathBuf;

use contracts::events::{INVENTORY_ADJUSTED, PUBLISHED, SHIPMENT_CONFIRMED};
use contracts::routes::core;
use contracts::{Direction, Exchange, IntakeAck, IntakeOutcome, Role, Validator};
use reports::{Check, Violation, Witness};

use crate::history::{HistoryError, for_each_exchange, parse, witness};

/// One message read from the stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamEvent {
    /// Its stream sequence.
    pub seq: u64,
    pub subject: String,
    /// Its `Nats-Msg-Id` header, if any.
    pub msg_id: Option<String>,
    pub payload: Vec<u8>,
}

impl StreamEvent {
    fn witness(&self) -> Witness {
        Witness {
            party: "nats".into(),
            seq: self.seq,
            endpoint: self.subject.clone().into(),
            status: None,
            idempotency_key: self.msg_id.as_deref().map(Box::from),
        }
    }
}

/// What the checker needs to know of the run's events.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventsSeen {
    /// The stream that was read.
    pub stream: String,
    /// The first read, from the run's first sequence.
    pub first: Vec<StreamEvent>,
    /// The second, independent read (the replay).
    pub replay: Vec<StreamEvent>,
}

/// (event type, business key).
type Key = (&'static str, String);

/// The business key an event of `event_type` is about, from its data.
fn data_key(event_type: &str, data: &serde_json::Value) -> Option<Key> {
    let (t, field) = match event_type {
        SHIPMENT_CONFIRMED => (SHIPMENT_CONFIRMED, "event_id"),
        INVENTORY_ADJUSTED => (INVENTORY_ADJUSTED, "source_event_id"),
        _ => return None,
    };
    Some((t, data.get(field)?.as_str()?.to_owned()))
}

fn show(key: &Key) -> String {
    format!("{} {}", key.0, key.1)
}

/// Messages the core accepted, by the key of the event each must yield.
fn accepted(histories: &[PathBuf]) -> Result<BTreeMap<Key, Witness>, HistoryError> {
    let mut out = BTreeMap::new();
    for path in histories {
        for_each_exchange(path, |ex: Exchange| {
            if ex.party != Role::Wms || ex.direction != Direction::Outbound || ex.method != "POST" {
                return;
            }
            let event_type = match ex.endpoint.as_str() {
                core::SHIPMENT_CONFIRMATIONS => SHIPMENT_CONFIRMED,
                core::INVENTORY_ADJUSTMENTS => INVENTORY_ADJUSTED,
                _ => return,
            };
            let took = ex.is_success()
                && !ex.replayed
                && parse::<IntakeAck>(&ex.response).is_some_and(|a| a.outcome == IntakeOutcome::Accepted);
            if !took {
                return;
            }
            if let Some(key) = ex.request.as_ref().and_then(|r| data_key(event_type, r)) {
                out.entry(key).or_insert_with(|| witness(&ex));
            }
        })?;
    }
    Ok(out)
}

/// A stream message read as a CloudEvent: (source, id), type, its key.
struct Parsed {
    identity: (String, String),
    event_type: String,
    key: Option<Key>,
    doc: serde_json::Value,
}

fn parse_event(e: &StreamEvent) -> Result<Parsed, String> {
    let doc: serde_json::Value =
        serde_json::from_slice(&e.payload).map_err(|err| format!("payload is not JSON: {err}"))?;
    let field = |name: &str| {
        doc.get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let (Some(source), Some(id), Some(event_type)) = (field("source"), field("id"), field("type")) else {
        return Err("not a CloudEvent: source, id or type missing".into());
    };
    let key = doc.get("data").and_then(|d| data_key(&event_type, d));
    Ok(Parsed {
        identity: (source, id),
        event_type,
        key,
        doc,
    })
}

/// Judges the run's events.
pub fn check(
    histories: &[PathBuf],
    schemas: &Validator,
    seen: &EventsSeen,
) -> Result<Vec<Check>, HistoryError> {
    let expected = accepted(histories)?;
    Ok(judge(&expected, schemas, seen))
}

/// The stream's messages by (source, id), and by business key → identity.
#[derive(Default)]
struct Read<'a> {
    by_identity: BTreeMap<(String, String), Vec<&'a StreamEvent>>,
    by_key: BTreeMap<Key, BTreeMap<(String, String), Vec<&'a StreamEvent>>>,
    /// Violations of exactly-once and of the contract found while reading.
    once: Vec<Violation>,
    contract: Vec<Violation>,
}

fn judge(expected: &BTreeMap<Key, Witness>, schemas: &Validator, seen: &EventsSeen) -> Vec<Check> {
    let mut r = Read::default();
    for e in &seen.first {
        r.read(e, schemas, &seen.stream);
    }
    let mut once = std::mem::take(&mut r.once);
    once.extend(r.exactly_once(expected, &seen.stream));
    let replay = replay_violations(seen);
    vec![
        Check::new(
            "events-exactly-once",
            "every ship confirmation and inventory adjustment the core accepted is in the event stream exactly once by (source, id); nothing lost, duplicated or unexpected",
            (expected.len() + seen.first.len()) as u64,
            once,
        ),
        Check::new(
            "events-contract",
            "every event validates against its CloudEvents contract, and its Nats-Msg-Id is <source>/<id>",
            seen.first.len() as u64,
            r.contract,
        ),
        Check::new(
            "events-replay",
            "a second, independent read of the stream from the run's start yields the same events",
            seen.replay.len().max(seen.first.len()) as u64,
            replay,
        ),
    ]
}

impl<'a> Read<'a> {
    /// One message of the first read: parsed, judged against its
    /// contract, and indexed.
    fn read(&mut self, e: &'a StreamEvent, schemas: &Validator, stream: &str) {
        let p = match parse_event(e) {
            Ok(p) => p,
            Err(why) => {
                self.once.push(Violation {
                    key: format!("{stream}#{}", e.seq),
                    message: format!("unexpected message on {}: {why}", e.subject),
                    witness: vec![e.witness()],
                });
                self.contract.push(Violation {
                    key: format!("{stream}#{}", e.seq),
                    message: why,
                    witness: vec![e.witness()],
                });
                return;
            }
        };
        let identity = format!("{}/{}", p.identity.0, p.identity.1);
        self.contract
            .extend(contract_violations(e, &p, &identity, schemas));
        self.by_identity.entry(p.identity.clone()).or_default().push(e);
        match p.key {
            Some(key) => self
                .by_key
                .entry(key)
                .or_default()
                .entry(p.identity)
                .or_default()
                .push(e),
            None => self.once.push(Violation {
                key: identity,
                message: format!(
                    "unexpected event: {} carries no business key the checker knows",
                    p.event_type
                ),
                witness: vec![e.witness()],
            }),
        }
    }

    /// Duplicated identities, lost and unexpected business keys.
    fn exactly_once(&self, expected: &BTreeMap<Key, Witness>, stream: &str) -> Vec<Violation> {
        let (by_identity, by_key) = (&self.by_identity, &self.by_key);
        let mut once = Vec::new();
        for ((source, id), copies) in by_identity {
            if copies.len() > 1 {
                once.push(Violation {
                    key: format!("{source}/{id}"),
                    message: format!(
                        "duplicated: (source, id) stored {} times in {stream}",
                        copies.len()
                    ),
                    witness: copies.iter().map(|e| e.witness()).collect(),
                });
            }
        }
        for (key, w) in expected {
            match by_key.get(key) {
                None => once.push(Violation {
                    key: show(key),
                    message: format!("lost: accepted by the core, no event in {stream}"),
                    witness: vec![w.clone()],
                }),
                Some(ids) if ids.len() > 1 => once.push(Violation {
                    key: show(key),
                    message: format!(
                        "duplicated: published under {} identities ({})",
                        ids.len(),
                        ids.keys()
                            .map(|(s, i)| format!("{s}/{i}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    witness: std::iter::once(w.clone())
                        .chain(ids.values().flatten().map(|e| e.witness()))
                        .collect(),
                }),
                Some(_) => {}
            }
        }
        for (key, ids) in by_key {
            if !expected.contains_key(key) {
                once.push(Violation {
                    key: show(key),
                    message: "unexpected: an event of no message the core accepted".into(),
                    witness: ids.values().flatten().map(|e| e.witness()).collect(),
                });
            }
        }
        once
    }
}

/// The event's type is published, its data valid, its `Nats-Msg-Id` right.
fn contract_violations(e: &StreamEvent, p: &Parsed, identity: &str, schemas: &Validator) -> Vec<Violation> {
    let mut contract = Vec::new();
    match PUBLISHED.iter().find(|d| d.event_type == p.event_type) {
        None => contract.push(Violation {
            key: identity.to_owned(),
            message: format!("type {} is not an event the core publishes", p.event_type),
            witness: vec![e.witness()],
        }),
        Some(d) => {
            let findings = schemas.validate(d.name, &p.doc).unwrap_or_default();
            if !findings.is_empty() {
                contract.push(Violation {
                    key: identity.to_owned(),
                    message: format!(
                        "breaks {}: {}",
                        d.name,
                        findings
                            .iter()
                            .map(|f| f.to_string())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    witness: vec![e.witness()],
                });
            }
        }
    }
    if e.msg_id.as_deref() != Some(identity) {
        contract.push(Violation {
            key: identity.to_owned(),
            message: format!(
                "expected Nats-Msg-Id {identity}, found {}",
                e.msg_id.as_deref().unwrap_or("none")
            ),
            witness: vec![e.witness()],
        });
    }
    contract
}

/// The replay: the same identities, as often.
fn replay_violations(seen: &EventsSeen) -> Vec<Violation> {
    let stream = &seen.stream;
    let count = |events: &[StreamEvent]| {
        let mut n: BTreeMap<String, (usize, Vec<Witness>)> = BTreeMap::new();
        for e in events {
            let id = parse_event(e)
                .map(|p| format!("{}/{}", p.identity.0, p.identity.1))
                .unwrap_or_else(|_| format!("{stream}#{}", e.seq));
            let slot = n.entry(id).or_default();
            slot.0 += 1;
            slot.1.push(e.witness());
        }
        n
    };
    let (a, b) = (count(&seen.first), count(&seen.replay));
    let mut replay = Vec::new();
    for id in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        let (na, wa) = a.get(id).cloned().unwrap_or_default();
        let (nb, wb) = b.get(id).cloned().unwrap_or_default();
        if na != nb {
            replay.push(Violation {
                key: id.clone(),
                message: format!("read {na} time(s) first, {nb} time(s) on the replay"),
                witness: wa.into_iter().chain(wb).collect(),
            });
        }
    }
    replay
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn adjustment(source_event_id: &str) -> serde_json::Value {
        json!({"adjustment_id": format!("ADJ-{source_event_id}"), "source_event_id": source_event_id,
               "warehouse_gln": "5060000000023", "sku": "SKU-1", "location": "A-01",
               "delta": -2, "previous_on_hand": 10, "uom": "EA", "reason": "damaged",
               "occurred_at": "2026-11-21T10:00:00Z"})
    }

    fn event(seq: u64, source_event_id: &str, id: &str) -> StreamEvent {
        let doc = json!({"id": id, "source": "/crossdock/core", "specversion": "1.0",
                         "type": INVENTORY_ADJUSTED, "time": "2026-11-21T10:00:01Z",
                         "datacontenttype": "application/json", "subject": format!("ADJ-{source_event_id}"),
                         "traceparent": "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
                         "data": adjustment(source_event_id)});
        StreamEvent {
            seq,
            subject: format!("crossdock.events.{INVENTORY_ADJUSTED}"),
            msg_id: Some(format!("/crossdock/core/{id}")),
            payload: doc.to_string().into_bytes(),
        }
    }

    fn expected(keys: &[&str]) -> BTreeMap<Key, Witness> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                (
                    (INVENTORY_ADJUSTED, (*k).to_owned()),
                    Witness {
                        party: "wms".into(),
                        seq: i as u64,
                        endpoint: format!("POST {}", core::INVENTORY_ADJUSTMENTS).into(),
                        status: Some(201),
                        idempotency_key: None,
                    },
                )
            })
            .collect()
    }

    fn judged(expected_keys: &[&str], first: Vec<StreamEvent>, replay: Vec<StreamEvent>) -> Vec<Check> {
        judge(
            &expected(expected_keys),
            &Validator::new(),
            &EventsSeen {
                stream: "S".into(),
                first,
                replay,
            },
        )
    }

    fn named<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks.iter().find(|c| c.name == name).expect(name)
    }

    #[test]
    fn one_event_per_accepted_message_passes_every_check() {
        let events = vec![
            event(1, "E1", "inventory-adjusted:E1"),
            event(2, "E2", "inventory-adjusted:E2"),
        ];
        let checks = judged(&["E1", "E2"], events.clone(), events);
        for c in &checks {
            assert!(c.passed, "{c:?}");
        }
    }

    #[test]
    fn lost_duplicated_unexpected_and_replay_differences_are_named() {
        let first = vec![
            event(1, "E1", "inventory-adjusted:E1"),
            event(2, "E1", "inventory-adjusted:E1"),
            event(3, "E3", "inventory-adjusted:E3"),
            event(4, "E4", "inventory-adjusted:E4"),
            event(5, "E4", "other-id:E4"),
        ];
        let checks = judged(&["E1", "E2", "E4"], first.clone(), first[..4].to_vec());
        let once = named(&checks, "events-exactly-once");
        let msg = |key: &str| {
            once.violations
                .iter()
                .filter(|v| v.key.ends_with(key))
                .map(|v| v.message.clone())
                .collect::<Vec<_>>()
        };
        assert!(
            msg("/crossdock/core/inventory-adjusted:E1")[0].starts_with("duplicated"),
            "{once:?}"
        );
        assert!(msg(" E2")[0].starts_with("lost"), "{once:?}");
        assert!(msg(" E3")[0].starts_with("unexpected"), "{once:?}");
        assert!(msg(" E4")[0].contains("2 identities"), "{once:?}");
        assert_eq!(once.violations_total, 4, "{once:?}");
        let replay = named(&checks, "events-replay");
        assert_eq!(replay.violations.len(), 1, "{replay:?}");
        assert_eq!(replay.violations[0].key, "/crossdock/core/other-id:E4");
        assert!(named(&checks, "events-contract").passed);
    }

    #[test]
    fn a_broken_event_or_a_wrong_msg_id_breaks_the_contract() {
        let mut bad = event(1, "E1", "inventory-adjusted:E1");
        let mut doc: serde_json::Value = serde_json::from_slice(&bad.payload).unwrap();
        doc["data"]["delta"] = json!(0);
        bad.payload = doc.to_string().into_bytes();
        let mut rekeyed = event(2, "E2", "inventory-adjusted:E2");
        rekeyed.msg_id = Some("E2".into());
        let checks = judged(
            &["E1", "E2"],
            vec![bad.clone(), rekeyed.clone()],
            vec![bad, rekeyed],
        );
        let contract = named(&checks, "events-contract");
        assert_eq!(contract.violations_total, 2, "{contract:?}");
        assert!(
            contract.violations[0].message.contains("/data/delta"),
            "{contract:?}"
        );
        assert!(
            contract.violations[1].message.contains("Nats-Msg-Id"),
            "{contract:?}"
        );
    }
}
