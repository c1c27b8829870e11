//! Group commit: concurrent intakes share one transaction (one fsync), yet
//! each keeps its own atomicity, idempotency and answer.

use std::sync::{Arc, Barrier};

use contracts::Role;
use integration_core::error::ApiError;
use integration_core::flows::TABLES;
use integration_core::store::Intake;
use integration_core::{Store, StoreOptions};

fn intake(n: usize, key: &str) -> Intake {
    Intake {
        kind: "test",
        endpoint: "/v1/test",
        business_key: format!("B-{n}"),
        idempotency_key: key.to_owned(),
        payload: serde_json::json!({ "n": n }),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        dedupe: true,
    }
}

/// Runs `n` intakes at once from `n` threads; `fail(i)` makes intake i's
/// business rule refuse it after it has queued an outbox row.
fn concurrent_intakes(
    store: &Arc<Store>,
    n: usize,
    key: impl Fn(usize) -> String,
    fail: impl Fn(usize) -> bool,
) -> Vec<Result<integration_core::store::Answer, ApiError>> {
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (store, barrier, key, fail) = (store.clone(), barrier.clone(), key(i), fail(i));
            std::thread::spawn(move || {
                barrier.wait();
                store.intake(&intake(i, &key), 1, move |tx| {
                    tx.enqueue(
                        Role::Erp,
                        "/v1/x",
                        &format!("out-{i}"),
                        &serde_json::json!({ "i": i }),
                    )?;
                    if fail {
                        return Err(ApiError::refused(
                            422,
                            "refused",
                            "refused",
                            "/n".into(),
                            "no".into(),
                        ));
                    }
                    Ok(())
                })
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn concurrent_intakes_share_commits_and_each_is_answered_after_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let grouped = Arc::new(Store::open(&dir.path().join("grouped.sqlite"), TABLES).unwrap());
    let answers = concurrent_intakes(&grouped, 64, |i| format!("k{i}"), |_| false);
    let mut ids: Vec<_> = answers
        .iter()
        .map(|a| {
            let a = a.as_ref().unwrap();
            assert_eq!((a.status, a.replayed), (201, false));
            a.ack.message_id.clone()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 64, "each intake has its own message");
    let s = grouped.ops_status().unwrap();
    assert_eq!((s.inbox_messages, s.outbox_pending), (64, 64), "{s:?}");
    assert!(
        grouped.commits() < 64,
        "64 concurrent intakes took {} commits",
        grouped.commits()
    );

    // Group commit off: one commit per intake.
    let naive = Arc::new(
        Store::open_with(
            &dir.path().join("naive.sqlite"),
            StoreOptions {
                max_batch: 1,
                ..StoreOptions::default()
            },
            TABLES,
        )
        .unwrap(),
    );
    let answers = concurrent_intakes(&naive, 16, |i| format!("k{i}"), |_| false);
    assert!(answers.iter().all(|a| a.as_ref().is_ok_and(|a| a.status == 201)));
    assert_eq!(naive.commits(), 16);
}

/// The committer gathers jobs only while they keep coming: clients that
/// all wait on the batch at hand, and a lone intake after them, are
/// committed at once, not held for the commit interval.
#[test]
fn waiting_clients_are_not_held_for_the_commit_interval() {
    let dir = tempfile::tempdir().unwrap();
    let interval = std::time::Duration::from_secs(60);
    let store = Arc::new(
        Store::open_with(
            &dir.path().join("core.sqlite"),
            StoreOptions {
                commit_interval: interval,
                ..StoreOptions::default()
            },
            TABLES,
        )
        .unwrap(),
    );
    let started = std::time::Instant::now();
    // Rounds of 64 at once: from the second batch on, the previous one was
    // big enough for the committer to gather. (Later rounds resend the
    // first round's documents under new keys: duplicates, still writes.)
    for round in 0..3 {
        let answers = concurrent_intakes(&store, 64, |i| format!("r{round}-k{i}"), |_| false);
        let expected = if round == 0 { 201 } else { 200 };
        assert!(
            answers
                .iter()
                .all(|a| a.as_ref().is_ok_and(|a| a.status == expected))
        );
    }
    let lone = store
        .intake(&intake(1_000, "lone"), 2, |tx| {
            tx.enqueue(Role::Erp, "/v1/x", "out-lone", &serde_json::json!({}))
        })
        .unwrap();
    assert_eq!(lone.status, 201);
    assert!(
        started.elapsed() < interval / 2,
        "{:?} for 193 intakes: a batch waited for the interval",
        started.elapsed()
    );
    assert_eq!(store.ops_status().unwrap().inbox_messages, 65);
}

#[test]
fn a_refused_intake_rolls_back_alone_inside_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("core.sqlite"), TABLES).unwrap());
    let answers = concurrent_intakes(&store, 32, |i| format!("k{i}"), |i| i % 4 == 0);
    for (i, a) in answers.iter().enumerate() {
        match a {
            Err(ApiError::Refused(r)) if i % 4 == 0 => assert_eq!(r.status, 422),
            Ok(a) if i % 4 != 0 => assert_eq!(a.status, 201),
            other => panic!("intake {i}: {other:?}"),
        }
    }
    // The refused ones left nothing: no message, no outbox row, no stored answer.
    let s = store.ops_status().unwrap();
    assert_eq!((s.inbox_messages, s.outbox_pending), (24, 24), "{s:?}");
    let again = store
        .intake(&intake(0, "k0"), 2, |tx| {
            tx.enqueue(Role::Erp, "/v1/x", "out-0", &serde_json::json!({}))
        })
        .unwrap();
    assert_eq!(
        (again.status, again.replayed),
        (201, false),
        "the key was not spent"
    );
}

#[test]
fn one_key_sent_concurrently_is_taken_in_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("core.sqlite"), TABLES).unwrap());
    // Same key and payload from 16 threads (intake(0, …) for all of them).
    let barrier = Arc::new(Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store
                    .intake(&intake(0, "same"), 1, |tx| {
                        tx.enqueue(Role::Erp, "/v1/x", "out", &serde_json::json!({}))
                    })
                    .unwrap()
            })
        })
        .collect();
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(answers.iter().filter(|a| !a.replayed).count(), 1);
    assert!(
        answers
            .iter()
            .all(|a| a.status == 201 && a.ack.message_id == answers[0].ack.message_id)
    );
    let s = store.ops_status().unwrap();
    assert_eq!((s.inbox_messages, s.outbox_pending), (1, 1), "{s:?}");
}

/// Records what the committer hands over, refusing the ids `refuse` names.
#[derive(Default)]
struct Handoffs {
    claimed: std::sync::Mutex<Vec<i64>>,
    ready: std::sync::Mutex<Vec<integration_core::store::Fresh>>,
    refuse_odd: bool,
}

impl integration_core::store::Dispatch for Handoffs {
    fn claim(&self, target: &str, id: i64) -> bool {
        assert_eq!(target, "erp");
        if self.refuse_odd && id % 2 == 1 {
            return false;
        }
        self.claimed.lock().unwrap().push(id);
        true
    }
    fn unclaim(&self, _: &str, id: i64) {
        panic!("row {id} given back: no commit failed");
    }
    fn ready(&self, fresh: Vec<integration_core::store::Fresh>) {
        self.ready.lock().unwrap().extend(fresh);
    }
}

fn pending_rows(store: &Store) -> Vec<(i64, String)> {
    store
        .read(|c| {
            c.query_all(
                "SELECT id, idempotency_key FROM outbox WHERE state = 'pending' ORDER BY id",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect()
        })
        .unwrap()
}

#[test]
fn committed_outbox_rows_are_handed_to_the_lanes_and_refused_ones_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("core.sqlite"), TABLES).unwrap());
    let handoffs = Arc::new(Handoffs::default());
    assert!(store.set_dispatch(Some(handoffs.clone())));
    assert!(store.hands_over());
    // A quarter refused: their batches run again job by job.
    concurrent_intakes(&store, 32, |i| format!("k{i}"), |i| i % 4 == 0);
    let rows = pending_rows(&store);
    assert_eq!(rows.len(), 24);
    let mut ready: Vec<(i64, String)> = handoffs
        .ready
        .lock()
        .unwrap()
        .iter()
        .map(|f| (f.delivery.id, f.delivery.idempotency_key.clone()))
        .collect();
    ready.sort();
    assert_eq!(ready, rows, "every committed row handed over once, with its id");
    let mut claimed = handoffs.claimed.lock().unwrap().clone();
    claimed.sort();
    assert_eq!(claimed, rows.iter().map(|r| r.0).collect::<Vec<_>>());
    for f in handoffs.ready.lock().unwrap().iter() {
        let i: usize = f.delivery.idempotency_key["out-".len()..].parse().unwrap();
        assert_ne!(i % 4, 0, "a refused intake's row was handed over");
        assert_eq!(f.delivery.body, format!("{{\"i\":{i}}}"));
        assert_eq!((f.target.as_str(), f.delivery.attempts), ("erp", 0));
    }

    // Without a dispatcher, rows only wait in the outbox.
    store.set_dispatch(None);
    assert!(!store.hands_over());
    // (Business keys B-1..B-3 are duplicates by now; B-0 was refused, so
    // it is new and queues one row.)
    concurrent_intakes(&store, 4, |i| format!("later-{i}"), |_| false);
    assert_eq!(handoffs.ready.lock().unwrap().len(), 24);
    assert_eq!(pending_rows(&store).len(), 25);
}

#[test]
fn rows_a_lane_has_no_room_for_stay_in_the_outbox_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("core.sqlite"), TABLES).unwrap());
    let handoffs = Arc::new(Handoffs {
        refuse_odd: true,
        ..Handoffs::default()
    });
    store.set_dispatch(Some(handoffs.clone()));
    concurrent_intakes(&store, 16, |i| format!("k{i}"), |_| false);
    let rows = pending_rows(&store);
    assert_eq!(rows.len(), 16);
    let mut ready: Vec<i64> = handoffs
        .ready
        .lock()
        .unwrap()
        .iter()
        .map(|f| f.delivery.id)
        .collect();
    ready.sort();
    let even: Vec<i64> = rows.iter().map(|r| r.0).filter(|id| id % 2 == 0).collect();
    assert_eq!(ready, even, "only the claimed rows are handed over");
}
