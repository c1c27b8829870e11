//! The store's own tables (inbox, outbox, idempotency, traces, the SQLite
//! running totals) and their upgrade from older stores. The flows' tables
//! are not here: the layers above hand them to [`super::Store`]'s
//! constructors as a list of DDL.
//!
//! Imports only `db` (never the rest of the store, the flows, the outbox
//! or http).

use crate::db::{Conn, DbError, Engine, args, ddl_for};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    business_key TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    payload TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    received_at_us INTEGER NOT NULL,
    -- `traces.no` of `trace_id` (see `traces`).
    trace_no INTEGER
);
CREATE INDEX IF NOT EXISTS inbox_business_key ON inbox(kind, business_key);

-- Keyed by the key itself (one b-tree per insert, not a table and an
-- index).
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL
) WITHOUT ROWID;

-- Tables keyed by their own (text) keys whose rows are small are
-- `WITHOUT ROWID` (one b-tree per table, not a rowid table and the index
-- of its key): a row costs one b-tree insert, and a commit rewrites one
-- tail page less per such table. Tables with a document body stay rowid
-- tables (in a WITHOUT ROWID b-tree, interior pages hold whole rows).
-- A store made before keeps its rowid tables; both work the same.
CREATE TABLE IF NOT EXISTS purchase_orders (
    po_number TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    supplier_gln TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS po_lines (
    po_number TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    gtin TEXT NOT NULL,
    ordered_qty INTEGER NOT NULL,
    confirmed_qty INTEGER,
    over_tolerance_pct INTEGER NOT NULL,
    under_tolerance_pct INTEGER NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (po_number, line_no)
) WITHOUT ROWID;

-- What each distinct ASN advises per PO line; a resent or replacing ASN
-- replaces its own rows, so tolerance is never counted twice.
CREATE TABLE IF NOT EXISTS asn_lines (
    supplier_gln TEXT NOT NULL,
    asn_id TEXT NOT NULL,
    po_number TEXT NOT NULL,
    po_line_no INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (supplier_gln, asn_id, po_number, po_line_no)
) WITHOUT ROWID;
-- What other ASNs advise per PO line (every ASN's tolerance check): without
-- it each check scanned the whole table.
CREATE INDEX IF NOT EXISTS asn_lines_by_po ON asn_lines(po_number, po_line_no);

CREATE TABLE IF NOT EXISTS expectations (
    expectation_id TEXT PRIMARY KEY,
    asn_id TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS receipts (
    receipt_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID;

-- What stands posted at the ERP per receipt line: the posting of the
-- latest applied receipt event (a correction reverses it and reposts).
CREATE TABLE IF NOT EXISTS receipt_postings (
    receipt_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (receipt_id, line_no)
);

CREATE TABLE IF NOT EXISTS outbox (
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
    delivered_at_us INTEGER,
    -- `traces.no` of `trace_id` (see `traces`).
    trace_no INTEGER
);
-- What each lane reads: only pending rows are indexed, so a delivered row
-- leaves the index and the index stays as small as the backlog. Dead
-- letters likewise (ops API, replay).
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(partner, next_attempt_at_us) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_dead ON outbox(id) WHERE state = 'dead';
-- Indexes of earlier versions, replaced by the two above.
DROP INDEX IF EXISTS outbox_due;
DROP INDEX IF EXISTS outbox_partner_due;

-- One row per distinct trace id, numbered in order of first use. The
-- inbox and outbox find a trace's rows by its number (`TRACE_INDEXES`):
-- an index on the random 128-bit trace id itself took a random leaf page
-- per message, each written to the WAL by its commit; the numbers of the
-- flows in flight are recent, so their inserts land at the index's tail,
-- and the random insert is paid once per trace, here.
CREATE TABLE IF NOT EXISTS traces (
    no INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL UNIQUE
);
"#;

/// The trace indexes, created once the inbox and outbox have `trace_no`
/// (a store made before it gets the column at open, see
/// [`upgrade_schema`]); the indexes on the trace id of earlier versions go.
pub(crate) const TRACE_INDEXES: [&str; 4] = [
    "DROP INDEX IF EXISTS inbox_trace",
    "DROP INDEX IF EXISTS outbox_trace",
    "CREATE INDEX IF NOT EXISTS inbox_trace_no ON inbox(trace_no)",
    "CREATE INDEX IF NOT EXISTS outbox_trace_no ON outbox(trace_no)",
];

/// SQLite only: running totals that `/metrics` and the ops status read
/// instead of counting the inbox and outbox, which only grow (a scan of
/// 864,000 outbox rows took 230–574 ms per scrape). Each write tallies what
/// it adds ([`Tally`]); the committer adds up the tallies of the writes
/// that stand and updates these rows once per batch, in the batch's
/// transaction, so a rolled-back write counts nothing. `attempts` only
/// grows: a replay resets a row's own count, not attempts already made.
/// (PostgreSQL counts with a scan: a hot counter row would serialize the
/// replicas' transactions.)
const SQLITE_TOTALS: &str = r#"
CREATE TABLE IF NOT EXISTS outbox_totals (
    partner TEXT PRIMARY KEY,
    deliveries INTEGER NOT NULL,
    attempts INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox_totals (
    kind TEXT PRIMARY KEY,
    messages INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Creates the totals of [`SQLITE_TOTALS`] if the store has none yet, and
/// counts them again if they disagree with the rows (a store made before
/// them, or written by an older binary since), inside the caller's
/// transaction. The check counts rows through the smallest index (a few
/// milliseconds at a million rows); the full recount runs only on a
/// mismatch. Attempts never go down: the recount keeps the larger of the
/// kept total and the rows' own counts.
pub(crate) fn sqlite_totals(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SQLITE_TOTALS)?;
    let one = |sql: &str| tx.query_row(sql, [], |r| r.get::<_, i64>(0));
    if one("SELECT COUNT(*) FROM outbox")? != one("SELECT COALESCE(SUM(deliveries), 0) FROM outbox_totals")? {
        tx.execute_batch(
            "INSERT INTO outbox_totals (partner, deliveries, attempts)
                 SELECT partner, COUNT(*), COALESCE(SUM(attempts), 0) FROM outbox WHERE true GROUP BY partner
                 ON CONFLICT (partner) DO UPDATE SET deliveries = excluded.deliveries,
                     attempts = MAX(attempts, excluded.attempts);
             DELETE FROM outbox_totals WHERE partner NOT IN (SELECT partner FROM outbox);",
        )?;
    }
    if one("SELECT COUNT(*) FROM inbox")? != one("SELECT COALESCE(SUM(messages), 0) FROM inbox_totals")? {
        tx.execute_batch(
            "DELETE FROM inbox_totals;
             INSERT INTO inbox_totals (kind, messages) SELECT kind, COUNT(*) FROM inbox GROUP BY kind;",
        )?;
    }
    Ok(())
}

/// Brings the tables the store created (or found) to the current
/// schema, inside the caller's transaction: a store whose inbox and outbox
/// predate `trace_no` gets the columns, every trace id of theirs a row of
/// `traces` and every row its number; then the trace indexes.
pub(crate) fn upgrade_schema(conn: &dyn Conn) -> Result<(), DbError> {
    for table in ["inbox", "outbox"] {
        let has: i64 = match conn.engine() {
            Engine::Sqlite => conn.one(
                "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = 'trace_no'",
                args![table],
            )?,
            Engine::Postgres => conn.one(
                "SELECT COUNT(*) FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name::text = ?1 AND column_name = 'trace_no'",
                args![table],
            )?,
        };
        if has > 0 {
            continue;
        }
        conn.execute(
            &ddl_for(
                conn.engine(),
                &format!("ALTER TABLE {table} ADD COLUMN trace_no INTEGER"),
            ),
            &[],
        )?;
        conn.execute(
            &format!(
                "INSERT INTO traces (trace_id)
                 SELECT trace_id FROM (SELECT trace_id, MIN(id) AS first_id FROM {table} GROUP BY trace_id) AS t
                 WHERE true ORDER BY first_id
                 ON CONFLICT (trace_id) DO NOTHING"
            ),
            &[],
        )?;
        conn.execute(
            &format!(
                "UPDATE {table} SET trace_no = (SELECT no FROM traces WHERE traces.trace_id = {table}.trace_id)"
            ),
            &[],
        )?;
    }
    for ddl in TRACE_INDEXES {
        conn.execute(ddl, &[])?;
    }
    Ok(())
}
