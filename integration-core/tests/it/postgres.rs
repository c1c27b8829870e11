//! The store on PostgreSQL (127.0.0.1:5432, trust auth, user `postgres`):
//! each test creates its own database and drops it at the end, failure or
//! not. PostgreSQL not reachable fails these tests with a clear message.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use contracts::Role;
use integration_core::Store;
use integration_core::error::ApiError;
use integration_core::flows::TABLES;
use integration_core::pgstore::ScratchDb;
use integration_core::store::{Intake, StoreOptions};

use crate::support::pg_database;

fn open(db: &ScratchDb, lease: Duration) -> Arc<Store> {
    let options = StoreOptions {
        lease,
        ..StoreOptions::default()
    };
    Arc::new(Store::open_postgres(&db.url(), options, TABLES).expect("the PostgreSQL store opens"))
}

fn intake(key: &str, business_key: &str) -> Intake {
    Intake {
        kind: "test",
        endpoint: "/v1/test",
        business_key: business_key.to_owned(),
        idempotency_key: key.to_owned(),
        payload: serde_json::json!({ "k": business_key }),
        trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
        dedupe: true,
    }
}

fn enqueue_one(tx: &integration_core::store::Tx<'_>, key: &str) -> Result<(), ApiError> {
    tx.enqueue(Role::Erp, "/v1/x", key, &serde_json::json!({ "key": key }))
}

#[test]
fn one_key_sent_at_once_to_two_replicas_is_taken_in_once_postgres() {
    let db = pg_database();
    let replicas = [
        open(&db, Duration::from_secs(30)),
        open(&db, Duration::from_secs(30)),
    ];
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (store, barrier) = (replicas[i % 2].clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.intake(&intake("same-key", "B-1"), 1, |tx| enqueue_one(tx, "out-1"))
            })
        })
        .collect();
    let answers: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().unwrap().expect("every intake is answered"))
        .collect();
    assert_eq!(
        answers.iter().filter(|a| a.status == 201 && !a.replayed).count(),
        1
    );
    assert!(
        answers
            .iter()
            .filter(|a| a.status != 201 || a.replayed)
            .all(|a| a.replayed)
    );
    let status = replicas[0].ops_status().unwrap();
    assert_eq!(status.inbox_messages, 1);
    assert_eq!(status.outbox_pending, 1);
}

#[test]
fn outbox_rows_are_claimed_by_one_replica_and_reclaimed_after_its_lease_postgres() {
    let db = pg_database();
    let lease = Duration::from_millis(400);
    let (a, b) = (open(&db, lease), open(&db, lease));
    for i in 0..4 {
        a.intake(&intake(&format!("k{i}"), &format!("B-{i}")), 1, move |tx| {
            enqueue_one(tx, &format!("out-{i}"))
        })
        .unwrap();
    }
    let now = integration_now();
    let claimed_a = a.due_deliveries_for("erp", now, 10, &[]).unwrap();
    assert_eq!(claimed_a.len(), 4);
    assert!(
        b.due_deliveries_for("erp", now, 10, &[]).unwrap().is_empty(),
        "leased rows are A's"
    );
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    // B does not own the lease: its mark changes nothing.
    rt.block_on(b.mark_delivered(claimed_a[0].id, 201, now)).unwrap();
    assert_eq!(a.ops_status().unwrap().outbox_delivered, 0);
    // A delivers one while its lease holds.
    rt.block_on(a.mark_delivered(claimed_a[1].id, 201, now)).unwrap();
    assert_eq!(a.ops_status().unwrap().outbox_delivered, 1);
    // A "dies"; once its lease runs out B reclaims the other three.
    std::thread::sleep(lease + Duration::from_millis(100));
    let later = integration_now();
    let claimed_b = b.due_deliveries_for("erp", later, 10, &[]).unwrap();
    assert_eq!(claimed_b.len(), 3);
    // A's late mark no longer applies; B's does.
    rt.block_on(a.mark_delivered(claimed_b[0].id, 201, later))
        .unwrap();
    assert_eq!(b.ops_status().unwrap().outbox_delivered, 1);
    for d in &claimed_b {
        rt.block_on(b.mark_delivered(d.id, 201, later)).unwrap();
    }
    let status = b.ops_status().unwrap();
    assert_eq!((status.outbox_delivered, status.outbox_pending), (4, 0));
}

fn integration_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

#[test]
fn a_scratch_database_is_there_until_its_guard_drops() {
    let db = pg_database();
    let url = db.url();
    assert!(url.ends_with(&format!("/{}", db.name)), "{url}");
    open(&db, Duration::from_secs(30)).ops_status().unwrap();
    drop(db);
    let e = Store::open_postgres(&url, StoreOptions::default(), TABLES).unwrap_err();
    assert!(e.message.contains("does not exist"), "{}", e.message);
}
