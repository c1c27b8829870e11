//! `Store::trace` on trace numbers (`traces`, `inbox.trace_no`,
//! `outbox.trace_no`): an intake's hops and the deliveries it queued, on
//! both engines; and a store made before trace numbers, upgraded at open.

use contracts::Role;
use contracts::ops::TraceHop;
use integration_core::Store;
use integration_core::flows::TABLES;
use integration_core::store::{Intake, StoreOptions};
use serde_json::json;

use crate::support::{PG_SERVER, pg_database};

const T: &str = "0af7651916cd43dd8448eb211c80319c";
const U: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const V: &str = "00f067aa0ba902b700f067aa0ba902b7";
const UNKNOWN: &str = "ffffffffffffffffffffffffffffffff";

fn intake(key: &str, business_key: &str, trace_id: &str) -> Intake {
    Intake {
        kind: "test",
        endpoint: "/v1/test",
        business_key: business_key.to_owned(),
        idempotency_key: key.to_owned(),
        payload: json!({ "k": business_key }),
        trace_id: trace_id.to_owned(),
        dedupe: true,
    }
}

/// The hops of `trace_id` as `in:<business key>` and
/// `out:<partner>:<idempotency key>`, in the store's order.
fn hops(store: &Store, trace_id: &str) -> Vec<String> {
    store
        .trace(trace_id)
        .unwrap()
        .into_iter()
        .map(|h| match h {
            TraceHop::Intake { business_key, .. } => format!("in:{business_key}"),
            TraceHop::Delivery {
                partner,
                idempotency_key,
                ..
            } => format!("out:{partner}:{idempotency_key}"),
        })
        .collect()
}

fn count(store: &Store, sql: &'static str) -> i64 {
    store.read(move |c| c.one::<i64>(sql, &[])).unwrap()
}

/// Two intakes on trace T, one on U; a delivery queued on another
/// message's trace (V); an ops transaction's delivery on T.
fn intakes_and_their_deliveries_are_listed_by_trace(store: &Store) {
    let first = store
        .intake(&intake("k1", "B-1", T), 10, |tx| {
            tx.enqueue(Role::Erp, "/v1/x", "out-1", &json!({ "n": 1 }))?;
            tx.enqueue_traced(Role::Wms, "/v1/y", "out-v", &json!({ "n": 2 }), V)
        })
        .unwrap();
    assert_eq!(first.status, 201);
    assert_eq!(first.ack.trace_id, T);
    store
        .intake(&intake("k2", "B-2", U), 20, |tx| {
            tx.enqueue(Role::Erp, "/v1/x", "out-2", &json!({ "n": 3 }))
        })
        .unwrap();
    store
        .intake(&intake("k3", "B-3", T), 30, |tx| {
            tx.enqueue(Role::Supplier, "/v1/z", "out-3", &json!({ "n": 4 }))
        })
        .unwrap();
    // A replay and a duplicate add nothing.
    let replay = store.intake(&intake("k3", "B-3", T), 35, |_| Ok(())).unwrap();
    assert!(replay.replayed);
    let duplicate = store.intake(&intake("k4", "B-3", U), 36, |_| Ok(())).unwrap();
    assert_eq!(duplicate.status, 200);
    store
        .ops_transaction(T, 40, |tx| {
            tx.enqueue(Role::Erp, "/v1/ops", "out-4", &json!({ "n": 5 }))
        })
        .unwrap();

    assert_eq!(
        hops(store, T),
        [
            "in:B-1",
            "out:erp:out-1",
            "in:B-3",
            "out:supplier:out-3",
            "out:erp:out-4"
        ]
    );
    assert_eq!(hops(store, U), ["in:B-2", "out:erp:out-2"]);
    assert_eq!(hops(store, V), ["out:wms:out-v"]);
    assert!(hops(store, UNKNOWN).is_empty());
    // One number per distinct trace; every row has its trace's.
    assert_eq!(count(store, "SELECT COUNT(*) FROM traces"), 3);
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM inbox JOIN traces ON traces.no = inbox.trace_no
             WHERE traces.trace_id = inbox.trace_id"
        ),
        3
    );
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM outbox JOIN traces ON traces.no = outbox.trace_no
             WHERE traces.trace_id = outbox.trace_id"
        ),
        5
    );
}

#[test]
fn intakes_and_their_deliveries_are_listed_by_trace_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("core.sqlite"), TABLES).unwrap();
    intakes_and_their_deliveries_are_listed_by_trace(&store);
    // Read through the trace-number indexes, not a scan.
    for (table, index) in [("inbox", "inbox_trace_no"), ("outbox", "outbox_trace_no")] {
        let sql =
            format!("EXPLAIN QUERY PLAN SELECT id, trace_id FROM {table} WHERE trace_no = 1 ORDER BY id");
        let plan = store
            .read(move |c| c.query_all(&sql, &[]))
            .unwrap()
            .iter()
            .map(|r| r.get::<String>(3).unwrap())
            .collect::<Vec<_>>()
            .join("; ");
        assert!(plan.contains(&format!("USING INDEX {index}")), "{table}: {plan}");
    }
}

#[test]
fn intakes_and_their_deliveries_are_listed_by_trace_postgres() {
    let db = pg_database();
    let store = Store::open_postgres(&db.url(), StoreOptions::default(), TABLES).unwrap();
    intakes_and_their_deliveries_are_listed_by_trace(&store);
}

/// The inbox and outbox as the store made them before trace numbers, with
/// their indexes on the trace id, and rows on traces T and U.
const OLD_SQLITE: &str = "
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    business_key TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    payload TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    received_at_us INTEGER NOT NULL
);
CREATE INDEX inbox_business_key ON inbox(kind, business_key);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    partner TEXT NOT NULL,
    path TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    body TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_us INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    last_status INTEGER,
    last_error TEXT,
    created_at_us INTEGER NOT NULL,
    delivered_at_us INTEGER
);
CREATE INDEX outbox_pending ON outbox(partner, next_attempt_at_us) WHERE state = 'pending';
CREATE INDEX outbox_dead ON outbox(id) WHERE state = 'dead';
CREATE INDEX inbox_trace ON inbox(trace_id);
CREATE INDEX outbox_trace ON outbox(trace_id);
";

const OLD_ROWS: &str = "
INSERT INTO inbox (kind, business_key, payload_hash, payload, trace_id, received_at_us) VALUES
    ('test', 'B-1', 'h1', '{}', '0af7651916cd43dd8448eb211c80319c', 10),
    ('test', 'B-2', 'h2', '{}', '4bf92f3577b34da6a3ce929d0e0e4736', 20);
INSERT INTO outbox (partner, path, idempotency_key, body, trace_id, next_attempt_at_us, state, created_at_us) VALUES
    ('erp', '/v1/x', 'out-1', '{}', '0af7651916cd43dd8448eb211c80319c', 10, 'delivered', 10),
    ('wms', '/v1/y', 'out-2', '{}', '4bf92f3577b34da6a3ce929d0e0e4736', 20, 'pending', 20),
    ('supplier', '/v1/z', 'out-3', '{}', '0af7651916cd43dd8448eb211c80319c', 30, 'dead', 30);
";

/// What an upgraded store must answer, and that a new intake on an old
/// trace joins it.
fn old_rows_are_traced_after_the_upgrade(store: &Store) {
    assert_eq!(hops(store, T), ["in:B-1", "out:erp:out-1", "out:supplier:out-3"]);
    assert_eq!(hops(store, U), ["in:B-2", "out:wms:out-2"]);
    assert_eq!(count(store, "SELECT COUNT(*) FROM traces"), 2);
    store
        .intake(&intake("k9", "B-9", T), 40, |tx| {
            tx.enqueue(Role::Erp, "/v1/x", "out-9", &json!({ "n": 9 }))
        })
        .unwrap();
    assert_eq!(
        hops(store, T),
        [
            "in:B-1",
            "out:erp:out-1",
            "out:supplier:out-3",
            "in:B-9",
            "out:erp:out-9"
        ]
    );
    assert_eq!(count(store, "SELECT COUNT(*) FROM traces"), 2);
}

/// `Store::metrics` and `Store::ops_status` (on SQLite from running
/// totals) against counting the inbox and outbox row by row.
fn totals_match_a_scan(store: &Store) {
    let scan = store
        .read(|c| {
            let rows = c.query_all(
                "SELECT partner, state, COUNT(*) FROM outbox GROUP BY partner, state ORDER BY partner, state",
                &[],
            )?;
            let rows = rows
                .iter()
                .map(|r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?)))
                .collect::<Result<Vec<_>, integration_core::db::DbError>>()?;
            let inbox = c.query_all(
                "SELECT kind, COUNT(*) FROM inbox GROUP BY kind ORDER BY kind",
                &[],
            )?;
            let inbox = inbox
                .iter()
                .map(|r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)))
                .collect::<Result<Vec<_>, integration_core::db::DbError>>()?;
            Ok((rows, inbox))
        })
        .unwrap();
    let (inbox, outbox) = store.metrics().unwrap();
    let mut counted: Vec<(String, String, i64)> = outbox
        .iter()
        .filter(|r| r.deliveries > 0)
        .map(|r| (r.partner.clone(), r.state.clone(), r.deliveries))
        .collect();
    counted.sort();
    assert_eq!(counted, scan.0);
    assert_eq!(inbox, scan.1);
    let status = store.ops_status().unwrap();
    let of = |state: &str| scan.0.iter().filter(|r| r.1 == state).map(|r| r.2).sum::<i64>();
    assert_eq!(
        (
            status.outbox_pending,
            status.outbox_delivered,
            status.outbox_dead,
            status.inbox_messages
        ),
        (
            of("pending"),
            of("delivered"),
            of("dead"),
            scan.1.iter().map(|r| r.1).sum()
        )
    );
}

/// Attempts made for the ERP, the supplier and the WMS, as /metrics
/// reports them.
fn attempts(store: &Store) -> [i64; 3] {
    let (_, outbox) = store.metrics().unwrap();
    ["erp", "supplier", "wms"].map(|p| outbox.iter().filter(|r| r.partner == p).map(|r| r.attempts).sum())
}

/// What a write that fails after its enqueue answers.
fn refusal() -> integration_core::error::ApiError {
    integration_core::error::ApiError::refused(
        422,
        "test",
        "refused",
        String::new(),
        "refused after its enqueue".into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_totals_follow_intakes_marks_rollbacks_and_replays_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("totals.sqlite");
    let store = Store::open(&path, TABLES).unwrap();
    totals_match_a_scan(&store);
    for n in 0..6 {
        store
            .intake_async(intake(&format!("k{n}"), &format!("B-{n}"), T), 10, move |tx| {
                tx.enqueue(Role::Erp, "/v1/x", &format!("erp-{n}"), &json!({ "n": n }))?;
                tx.enqueue(Role::Wms, "/v1/y", &format!("wms-{n}"), &json!({ "n": n }))
            })
            .await
            .unwrap();
    }
    // A job that fails after queueing a row leaves no trace in the totals.
    let refused = store
        .intake_async(intake("k-bad", "B-bad", T), 10, |tx| {
            tx.enqueue(Role::Erp, "/v1/x", "erp-bad", &json!({}))?;
            Err(refusal())
        })
        .await;
    assert!(refused.is_err() || refused.unwrap().status == 422);
    totals_match_a_scan(&store);
    assert_eq!(store.ops_status().unwrap().outbox_pending, 12);
    // In one batch with writes that stand, the failing write is rolled
    // back alone (each then runs in a savepoint of its own), and so is
    // its tally.
    let write = |n: u32, fail: bool| {
        let store = &store;
        async move {
            store
                .intake_async(intake(&format!("kb{n}"), &format!("BB-{n}"), T), 10, move |tx| {
                    tx.enqueue(Role::Supplier, "/v1/z", &format!("sup-{n}"), &json!({ "n": n }))?;
                    if fail {
                        return Err(refusal());
                    }
                    Ok(())
                })
                .await
        }
    };
    let (a, b, c) = tokio::join!(write(1, false), write(2, true), write(3, false));
    assert!(a.is_ok() && c.is_ok());
    assert!(b.is_err() || b.unwrap().status == 422);
    totals_match_a_scan(&store);
    let pending_supplier = store
        .metrics()
        .unwrap()
        .1
        .into_iter()
        .find(|r| r.partner == "supplier" && r.state == "pending")
        .map(|r| r.deliveries);
    assert_eq!(pending_supplier, Some(2));

    let ids: Vec<(i64, String)> = store
        .read(|c| {
            let rows = c.query_all(
                "SELECT id, partner FROM outbox WHERE partner <> 'supplier' ORDER BY id",
                &[],
            )?;
            rows.iter()
                .map(|r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?)))
                .collect()
        })
        .unwrap();
    for (i, (id, _)) in ids.iter().enumerate() {
        match i % 3 {
            0 => store.mark_delivered(*id, 200, 20).await.unwrap(),
            1 => store.mark_retry(*id, Some(503), "busy".into(), 30).await.unwrap(),
            _ => store.mark_dead(*id, Some(400), "refused".into()).await.unwrap(),
        }
    }
    // Deferring counts no attempt.
    store.defer(ids[1].0, "breaker open".into(), 40).await.unwrap();
    totals_match_a_scan(&store);
    assert_eq!(attempts(&store), [6, 0, 6]);

    // A replay puts dead letters back with a fresh budget; attempts
    // already made stay counted.
    let replayed = tokio::task::block_in_place(|| {
        store.replay_dead_letters(&integration_core::store::ReplaySelection::All, 50)
    })
    .unwrap();
    assert_eq!(replayed, 4);
    totals_match_a_scan(&store);
    assert_eq!(store.ops_status().unwrap().outbox_dead, 0);
    assert_eq!(attempts(&store), [6, 0, 6]);
    store.mark_delivered(ids[2].0, 200, 60).await.unwrap(); // an ERP row
    totals_match_a_scan(&store);
    assert_eq!(attempts(&store), [7, 0, 6]);

    // Rows written behind the totals' back (an older binary on the same
    // file) are counted at the next open; attempts made stay counted.
    drop(store);
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "INSERT INTO outbox (partner, path, idempotency_key, body, trace_id, next_attempt_at_us, created_at_us)
                 VALUES ('wms', '/v1/y', 'old-binary', '{}', 't', 1, 1);
             INSERT INTO inbox (kind, business_key, payload_hash, payload, trace_id, received_at_us)
                 VALUES ('test', 'B-old', 'h', '{}', 't', 1);",
        )
        .unwrap();
    }
    let store = Store::open(&path, TABLES).unwrap();
    totals_match_a_scan(&store);
    assert_eq!(attempts(&store), [7, 0, 6]);
}

#[test]
fn a_store_made_before_trace_numbers_is_upgraded_at_open_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(OLD_SQLITE).unwrap();
        c.execute_batch(OLD_ROWS).unwrap();
    }
    let store = Store::open(&path, TABLES).unwrap();
    // The running totals count what the old store held.
    let status = store.ops_status().unwrap();
    assert_eq!(
        (
            status.inbox_messages,
            status.outbox_pending,
            status.outbox_delivered,
            status.outbox_dead
        ),
        (2, 1, 1, 1)
    );
    old_rows_are_traced_after_the_upgrade(&store);
    totals_match_a_scan(&store);
    drop(store);

    let indexes = |path: &std::path::Path| -> Vec<String> {
        let c = rusqlite::Connection::open(path).unwrap();
        let mut stmt = c
            .prepare("SELECT name FROM sqlite_master
                 WHERE type = 'index' AND tbl_name IN ('inbox', 'outbox') AND name LIKE '%trace%' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(indexes(&path), ["inbox_trace_no", "outbox_trace_no"]);
    // Opening it again changes nothing.
    let store = Store::open(&path, TABLES).unwrap();
    assert_eq!(hops(&store, U), ["in:B-2", "out:wms:out-2"]);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM traces"), 2);
    drop(store);
    assert_eq!(indexes(&path), ["inbox_trace_no", "outbox_trace_no"]);
}

#[test]
fn a_store_made_before_trace_numbers_is_upgraded_at_open_postgres() {
    // An empty database, not the migrated template.
    let db = integration_core::pgstore::ScratchDb::create(PG_SERVER, "crossdock_t")
        .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {PG_SERVER}: {e}"));
    let old = OLD_SQLITE
        .replace(
            "INTEGER PRIMARY KEY",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        )
        .replace("INTEGER", "BIGINT");
    {
        let mut c = postgres::Client::connect(&db.url(), postgres::NoTls).unwrap();
        c.batch_execute(&old).unwrap();
        c.batch_execute(OLD_ROWS).unwrap();
    }
    let store = Store::open_postgres(&db.url(), StoreOptions::default(), TABLES).unwrap();
    old_rows_are_traced_after_the_upgrade(&store);
    let indexes = store
        .read(|c| {
            c.query_all(
                "SELECT indexname::text FROM pg_indexes
                 WHERE schemaname = current_schema() AND tablename IN ('inbox', 'outbox')
                   AND indexname LIKE '%trace%' ORDER BY indexname",
                &[],
            )
        })
        .unwrap()
        .iter()
        .map(|r| r.get::<String>(0).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(indexes, ["inbox_trace_no", "outbox_trace_no"]);
    drop(store);
    // A second replica opening it changes nothing.
    let again = Store::open_postgres(&db.url(), StoreOptions::default(), TABLES).unwrap();
    assert_eq!(hops(&again, U), ["in:B-2", "out:wms:out-2"]);
    assert_eq!(count(&again, "SELECT COUNT(*) FROM traces"), 2);
}
