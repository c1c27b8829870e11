//! The durable store, on one of two engines behind one interface
//! ([`crate::db::Conn`]): embedded SQLite (the default) or PostgreSQL
//! (several core replicas sharing one database, see [`crate::pgstore`]).
//!
//! **SQLite**: WAL mode with `synchronous=FULL`, so a transaction the core
//! has answered 2xx for is on disk.
//!
//! Writes go through **group commit**: one committer thread owns the writer
//! connection and takes the jobs queued while the previous batch was being
//! committed, runs each inside its own savepoint of one transaction, commits
//! once (one fsync for the batch) and only then answers every job. Each
//! intake keeps its own atomicity (idempotency lookup, business-key dedupe,
//! validation, state change, outbox rows, stored answer): a job that fails
//! rolls back to its savepoint and leaves the rest of the batch alone.
//! Bookkeeping of the outbox (delivered, retry, dead marks) goes through the
//! same committer, so it shares the intakes' fsyncs instead of paying its
//! own. Reads use a second connection (WAL lets it read beside the writer).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, TransactionBehavior};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use contracts::{IntakeAck, IntakeOutcome, Role};

use crate::db::{Conn, DbError, Engine, Row, SqliteConn, Value, args};
use crate::error::ApiError;
use crate::pgstore::Pool;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    business_key TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    payload TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    received_at_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_business_key ON inbox(kind, business_key);

CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS purchase_orders (
    po_number TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    supplier_gln TEXT NOT NULL
);

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
);

-- What each distinct ASN advises per PO line; a resent or replacing ASN
-- replaces its own rows, so tolerance is never counted twice.
CREATE TABLE IF NOT EXISTS asn_lines (
    supplier_gln TEXT NOT NULL,
    asn_id TEXT NOT NULL,
    po_number TEXT NOT NULL,
    po_line_no INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (supplier_gln, asn_id, po_number, po_line_no)
);
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
);

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
    delivered_at_us INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_attempt_at_us);
CREATE INDEX IF NOT EXISTS outbox_partner_due ON outbox(partner, state, next_attempt_at_us);
CREATE INDEX IF NOT EXISTS inbox_trace ON inbox(trace_id);
CREATE INDEX IF NOT EXISTS outbox_trace ON outbox(trace_id);
"#;

/// SHA-256 of a JSON value's canonical text (serde_json sorts object keys).
pub fn payload_hash(value: &serde_json::Value) -> String {
    text_hash(&value.to_string())
}

/// SHA-256 of `text`, in lowercase hex.
fn text_hash(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// An intake's payload as stored, and its hash: computed by the caller
/// before the write is queued, so the single committer thread spends its
/// time on SQL only.
struct Stored {
    text: String,
    hash: String,
}

impl Stored {
    fn of(payload: &serde_json::Value) -> Self {
        let text = payload.to_string();
        Self {
            hash: text_hash(&text),
            text,
        }
    }
}

/// One inbound message to take in.
#[derive(Debug, Clone)]
pub struct Intake {
    /// Message kind, e.g. "asn".
    pub kind: &'static str,
    pub endpoint: &'static str,
    /// Natural business key (asn_id, event id, …).
    pub business_key: String,
    pub idempotency_key: String,
    pub payload: serde_json::Value,
    pub trace_id: String,
    /// Recognise a repeat of the business key with the same payload.
    pub dedupe: bool,
}

/// The core's answer to an intake.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub ack: IntakeAck,
    /// Replayed from the idempotency store.
    pub replayed: bool,
}

/// A delivery due in the outbox.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub partner: Role,
    pub path: String,
    pub idempotency_key: String,
    pub body: String,
    pub trace_id: String,
    pub attempts: u32,
}

pub use contracts::ops::{DeadLetter, OpsStatus};
use contracts::ops::{DeliveryState, TraceHop};

/// Inbox messages by kind, and outbox rows by partner and state.
pub type StoreMetrics = (Vec<(String, i64)>, Vec<crate::metrics::OutboxRow>);

/// Which dead letters to replay, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaySelection {
    All,
    Ids(Vec<i64>),
    CreatedBetween { from_us: u64, to_us: u64 },
}

/// Within an intake transaction: what an `apply` function may do.
pub struct Tx<'a> {
    pub(crate) tx: &'a dyn Conn,
    pub message_id: i64,
    pub trace_id: &'a str,
    pub now_us: u64,
}

impl<'a> Tx<'a> {
    pub fn conn(&self) -> &'a dyn Conn {
        self.tx
    }

    /// Queues a delivery to `partner`, to go out after this transaction commits.
    pub fn enqueue(
        &self,
        partner: Role,
        path: &str,
        idempotency_key: &str,
        body: &impl Serialize,
    ) -> Result<(), ApiError> {
        self.enqueue_traced(partner, path, idempotency_key, body, self.trace_id)
    }

    /// [`Tx::enqueue`] on the trace of another message than the one taken
    /// in (a held invoice matched when its goods arrive).
    pub fn enqueue_traced(
        &self,
        partner: Role,
        path: &str,
        idempotency_key: &str,
        body: &impl Serialize,
        trace_id: &str,
    ) -> Result<(), ApiError> {
        self.insert_outbox(partner.as_str(), path, idempotency_key, body, trace_id)
    }

    /// Queues a row for an outbox target that is not a partner (the events
    /// publisher, `crate::events::TARGET`, with the NATS subject as `path`
    /// and the `Nats-Msg-Id` as key), on this message's trace.
    pub fn enqueue_to(
        &self,
        target: &str,
        path: &str,
        idempotency_key: &str,
        body: &impl Serialize,
    ) -> Result<(), ApiError> {
        self.insert_outbox(target, path, idempotency_key, body, self.trace_id)
    }

    fn insert_outbox(
        &self,
        target: &str,
        path: &str,
        idempotency_key: &str,
        body: &impl Serialize,
        trace_id: &str,
    ) -> Result<(), ApiError> {
        let body = serde_json::to_string(body).map_err(|e| ApiError::Storage(e.to_string()))?;
        self.tx.execute(
            "INSERT INTO outbox (partner, path, idempotency_key, body, trace_id, next_attempt_at_us, created_at_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            args![target, path, idempotency_key, body, trace_id, self.now_us],
        )?;
        Ok(())
    }
}

fn role_from_str(s: &str) -> Role {
    match s {
        "erp" => Role::Erp,
        "wms" => Role::Wms,
        "supplier" => Role::Supplier,
        "core" => Role::Core,
        // Not a partner: the events target (`crate::events::TARGET`),
        // whose lane never reads `Delivery::partner`.
        _ => Role::Harness,
    }
}

/// Prepared statements kept per SQLite connection.
const STATEMENT_CACHE: usize = 256;

/// How the store commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Most jobs committed by one transaction (one fsync). 1 turns group
    /// commit off: one transaction and one fsync per write, the naive
    /// baseline of `crossdock bench core-intake`. SQLite only.
    pub max_batch: usize,
    /// PostgreSQL: connections (each on its own thread) serving writes
    /// and reads.
    pub pg_connections: usize,
    /// PostgreSQL: how long a replica's claim on an outbox row lasts. A
    /// delivery must be done (or marked) within it, else another replica
    /// may claim and send it again (same Idempotency-Key and body).
    pub lease: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_batch: 512,
            pg_connections: 4,
            lease: std::time::Duration::from_secs(30),
        }
    }
}

/// Called once the job's batch is committed (or failed to commit).
type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A write: runs inside its savepoint (`None`: the batch could not begin),
/// says whether to keep its changes, and how to answer after the commit.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Finish) + Send>;

/// Runs a statement without parameters through the statement cache (a
/// job's SAVEPOINT and RELEASE, twice per write: rusqlite's `Savepoint`
/// prepares them afresh each time).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Undoes a job's changes and closes its savepoint; a failure leaves the
/// batch's transaction to fail at its commit.
fn roll_back_job(conn: &Connection) {
    if let Err(e) = run_cached(conn, "ROLLBACK TO job").and_then(|()| run_cached(conn, "RELEASE job")) {
        tracing::error!(error = %e, "failed to roll back a job's savepoint");
    }
}

/// The committer thread: batches queued jobs into one transaction each.
fn committer(mut conn: Connection, jobs: mpsc::Receiver<Job>, max_batch: usize, commits: Arc<AtomicU64>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch.max(1) {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut finishes = Vec::with_capacity(batch.len());
        let committed = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => {
                for job in batch {
                    if run_cached(&tx, "SAVEPOINT job").is_err() {
                        finishes.push(job(None).1);
                        continue;
                    }
                    // A panicking job drops its answer (its caller sees a
                    // storage error) and rolls back to its savepoint; the
                    // committer and the rest of the batch carry on.
                    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Some(&tx))));
                    match ran {
                        Ok((true, finish)) => match run_cached(&tx, "RELEASE job") {
                            Ok(()) => finishes.push(finish),
                            Err(e) => {
                                roll_back_job(&tx);
                                finish(Err(format!("failed to release a savepoint: {e}")));
                            }
                        },
                        Ok((false, finish)) => {
                            roll_back_job(&tx);
                            finishes.push(finish);
                        }
                        Err(_) => roll_back_job(&tx),
                    }
                }
                let done = tx.commit().map_err(|e| format!("failed to commit: {e}"));
                commits.fetch_add(1, Ordering::Relaxed);
                done
            }
            Err(e) => {
                for job in batch {
                    finishes.push(job(None).1);
                }
                Err(format!("failed to begin a transaction: {e}"))
            }
        };
        for finish in finishes {
            finish(committed.clone());
        }
    }
}

/// Where the store lives: a SQLite file, or a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(std::path::PathBuf),
    /// A `postgres://` (or `postgresql://`) connection URL.
    Postgres(String),
}

impl StoreLocation {
    /// A `postgres://`/`postgresql://` URL is PostgreSQL; anything else a
    /// SQLite file path.
    pub fn parse(s: &str) -> Self {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Self::Postgres(s.to_owned())
        } else {
            Self::Sqlite(s.into())
        }
    }
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(p) => write!(f, "{}", p.display()),
            Self::Postgres(url) => write!(f, "{}", crate::pgstore::redact(url)),
        }
    }
}

enum Backend {
    Sqlite {
        /// Queue of the committer thread, which owns the writer connection.
        jobs: Mutex<mpsc::Sender<Job>>,
        /// Reads, beside the writer.
        reader: Mutex<Connection>,
    },
    Postgres(Pool),
}

/// The store.
pub struct Store {
    backend: Backend,
    /// Transactions committed (each one fsync on SQLite), for tests and metrics.
    commits: Arc<AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine())
            .finish_non_exhaustive()
    }
}

/// The SQLite store's tables.
pub(crate) fn schemas() -> [&'static str; 5] {
    [
        SCHEMA,
        crate::flows::SCHEMA,
        crate::outbound::SCHEMA,
        crate::flows::invoicing::SCHEMA,
        crate::flows::inventory::SCHEMA,
    ]
}

impl Store {
    /// Opens (creating if needed) the database at `path`, in WAL mode,
    /// with group commit.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        Self::open_with(path, StoreOptions::default())
    }

    /// Opens the store at `location` (SQLite file or PostgreSQL URL).
    pub fn open_at(location: &StoreLocation, options: StoreOptions) -> Result<Self, DbError> {
        match location {
            StoreLocation::Sqlite(path) => Self::open_with(path, options),
            StoreLocation::Postgres(url) => Self::open_postgres(url, options),
        }
    }

    /// Opens (creating its tables if needed) the PostgreSQL database at
    /// `url`, with `options.pg_connections` connections.
    pub fn open_postgres(url: &str, options: StoreOptions) -> Result<Self, DbError> {
        Ok(Self {
            backend: Backend::Postgres(Pool::open(url, options)?),
            commits: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Opens the database at `path` with explicit commit options.
    pub fn open_with(path: &Path, options: StoreOptions) -> Result<Self, DbError> {
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            // 64 MiB of page cache per connection (the default is 2 MB):
            // the indexes of a long run's tables stay in memory instead of
            // being read back through the OS on every intake.
            conn.pragma_update(None, "cache_size", -65_536)?;
            // Each job's savepoint journals the pages it touches
            // (SQLite's statement subjournal): in memory, not in a temp
            // file (those writes were 12 % of a lifecycle run's CPU).
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            // Every statement of the flows stays prepared (rusqlite keeps
            // 16 by default: fewer than one intake uses, so each was
            // prepared again on every call).
            conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            Ok(conn)
        };
        let writer = open()?;
        for ddl in schemas() {
            writer.execute_batch(ddl)?;
        }
        let reader = open()?;
        let (jobs, queue) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let counter = commits.clone();
        std::thread::Builder::new()
            .name("crossdock-committer".into())
            .spawn(move || committer(writer, queue, options.max_batch, counter))
            .map_err(|e| DbError::new(format!("failed to start the committer thread: {e}")))?;
        Ok(Self {
            backend: Backend::Sqlite {
                jobs: Mutex::new(jobs),
                reader: Mutex::new(reader),
            },
            commits,
        })
    }

    /// The engine behind this store.
    pub fn engine(&self) -> Engine {
        match self.backend {
            Backend::Sqlite { .. } => Engine::Sqlite,
            Backend::Postgres(_) => Engine::Postgres,
        }
    }

    /// Write transactions committed so far (one fsync each on SQLite).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `f` in one write transaction (its own savepoint in the current
    /// group-commit batch on SQLite; a SERIALIZABLE transaction, retried on
    /// a conflict, on PostgreSQL), answered after its commit. Blocking:
    /// call from the blocking pool.
    pub(crate) fn transaction<R: Send + 'static>(
        &self,
        f: impl Fn(&dyn Conn) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        self.write_blocking(f)
    }

    /// Queues a write; the answer arrives after its commit.
    fn submit<R: Send + 'static>(
        &self,
        f: impl Fn(&dyn Conn) -> Result<R, ApiError> + Send + 'static,
    ) -> oneshot::Receiver<Result<R, ApiError>> {
        let (answer, rx) = oneshot::channel();
        match &self.backend {
            Backend::Sqlite { jobs, .. } => {
                let job: Job = Box::new(move |conn: Option<&Connection>| {
                    let r = match conn {
                        Some(c) => f(&SqliteConn(c)),
                        None => Err(ApiError::Storage("failed to open a savepoint".into())),
                    };
                    let keep = r.is_ok();
                    let finish: Finish = Box::new(move |committed: Result<(), String>| {
                        let _ = answer.send(committed.map_err(ApiError::Storage).and(r));
                    });
                    (keep, finish)
                });
                // A send fails only when the committer is gone; the dropped
                // receiver then reports it.
                let _ = jobs.lock().unwrap_or_else(|p| p.into_inner()).send(job);
            }
            Backend::Postgres(pool) => {
                let commits = self.commits.clone();
                pool.submit(Box::new(move |client| {
                    let r = crate::pgstore::serializable(client, &f);
                    if r.is_ok() {
                        commits.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = answer.send(r);
                }));
            }
        }
        rx
    }

    /// Runs a write and waits for its commit.
    async fn write<R: Send + 'static>(
        &self,
        f: impl Fn(&dyn Conn) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        self.submit(f).await.unwrap_or_else(|_| {
            Err(ApiError::Storage(
                "the write was lost (committer stopped or job panicked)".into(),
            ))
        })
    }

    /// [`Store::write`] for callers outside the async runtime.
    fn write_blocking<R: Send + 'static>(
        &self,
        f: impl Fn(&dyn Conn) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        self.submit(f).blocking_recv().unwrap_or_else(|_| {
            Err(ApiError::Storage(
                "the write was lost (committer stopped or job panicked)".into(),
            ))
        })
    }

    /// Takes in one message atomically: its own savepoint inside the
    /// current group-commit batch; answered after that batch's fsync.
    /// `apply` validates it and makes its effects (state, outbox rows)
    /// inside the same savepoint. On PostgreSQL `apply` may run more than
    /// once (a conflicting transaction is retried whole), so it must not
    /// have effects outside the transaction. Blocking: call from the
    /// blocking pool.
    pub fn intake(
        &self,
        intake: &Intake,
        now_us: u64,
        apply: impl Fn(&Tx<'_>) -> Result<(), ApiError> + Send + 'static,
    ) -> Result<Answer, ApiError> {
        let (intake, stored) = (intake.clone(), Stored::of(&intake.payload));
        self.write_blocking(move |c| intake_in(c, &intake, &stored, now_us, &apply))
    }

    /// [`Store::intake`] from async code: nothing blocks while the batch
    /// commits.
    pub async fn intake_async(
        &self,
        intake: Intake,
        now_us: u64,
        apply: impl Fn(&Tx<'_>) -> Result<(), ApiError> + Send + 'static,
    ) -> Result<Answer, ApiError> {
        let stored = Stored::of(&intake.payload);
        self.write(move |c| intake_in(c, &intake, &stored, now_us, &apply))
            .await
    }

    /// Runs `apply` in one write transaction that is not an intake (an ops
    /// action such as a reconciliation), answered after it commits.
    /// Blocking: call from the blocking pool.
    pub fn ops_transaction<R: Send + 'static>(
        &self,
        trace_id: &str,
        now_us: u64,
        apply: impl Fn(&Tx<'_>) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        let trace_id = trace_id.to_owned();
        self.write_blocking(move |c| {
            apply(&Tx {
                tx: c,
                message_id: 0,
                trace_id: &trace_id,
                now_us,
            })
        })
    }

    /// A read outside any write transaction (the reader connection on
    /// SQLite, a pooled connection on PostgreSQL). Blocking.
    pub fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Conn) -> Result<R, DbError> + Send + 'static,
    ) -> Result<R, DbError> {
        match &self.backend {
            Backend::Sqlite { reader, .. } => {
                // A panic while holding the lock leaves SQLite consistent,
                // so a poisoned lock is still usable.
                let conn = reader.lock().unwrap_or_else(|p| p.into_inner());
                f(&SqliteConn(&conn))
            }
            Backend::Postgres(pool) => pool.read(f),
        }
    }

    /// Up to `limit` pending deliveries to `partner` due at `now_us`,
    /// oldest first, leaving out `skip` (those already in flight). On
    /// PostgreSQL the rows are **claimed**: leased to this store until
    /// `now + lease` (`FOR UPDATE SKIP LOCKED`, so replicas never claim
    /// the same row), and a row leased by another replica is not due here
    /// until its lease runs out.
    pub fn due_deliveries_for(
        &self,
        partner: &str,
        now_us: u64,
        limit: usize,
        skip: &[i64],
    ) -> Result<Vec<Delivery>, DbError> {
        let (partner, n) = (partner.to_owned(), limit + skip.len());
        let rows = match &self.backend {
            Backend::Sqlite { .. } => {
                let skip = skip.to_vec();
                self.read(move |c| {
                    // The due ids first (from the index alone), then the
                    // rows of those not in flight: the rows in flight are
                    // most of what is due, and their bodies were read and
                    // dropped on every pass.
                    let ids = c.query_all(
                        "SELECT id FROM outbox
                         WHERE partner = ?3 AND state = 'pending' AND next_attempt_at_us <= ?1
                         ORDER BY next_attempt_at_us, id LIMIT ?2",
                        args![now_us, n, partner],
                    )?;
                    let mut rows = Vec::new();
                    for id in ids {
                        let id: i64 = id.get(0)?;
                        if skip.contains(&id) {
                            continue;
                        }
                        rows.extend(c.query_opt(
                            "SELECT id, partner, path, idempotency_key, body, trace_id, attempts FROM outbox
                             WHERE id = ?1 AND state = 'pending'",
                            args![id],
                        )?);
                        if rows.len() == limit {
                            break;
                        }
                    }
                    Ok(rows)
                })?
            }
            Backend::Postgres(pool) => pool.claim(&partner, now_us, n)?,
        };
        let mut out = Vec::new();
        for r in rows {
            let d = Delivery {
                id: r.get(0)?,
                partner: role_from_str(&r.get::<String>(1)?),
                path: r.get(2)?,
                idempotency_key: r.get(3)?,
                body: r.get(4)?,
                trace_id: r.get(5)?,
                attempts: r.get(6)?,
            };
            if !skip.contains(&d.id) {
                out.push(d);
            }
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// When the next pending delivery to `partner` not in `in_flight` falls
    /// due, if any (on PostgreSQL, a row leased by another replica falls
    /// due here when its lease runs out).
    pub fn next_due_us_for(&self, partner: &str, in_flight: &[i64]) -> Result<Option<u64>, DbError> {
        let (partner, skip) = (partner.to_owned(), in_flight.to_vec());
        let owner = self.lease_owner();
        let rows = self.read(move |c| match owner {
            None => c.query_all(
                "SELECT id, next_attempt_at_us FROM outbox WHERE partner = ?2 AND state = 'pending'
                 ORDER BY next_attempt_at_us LIMIT ?1",
                args![skip.len() + 1, partner],
            ),
            Some(owner) => c.query_all(
                "SELECT id, CASE WHEN lease_owner IS NOT NULL AND lease_owner <> ?3
                                  AND lease_until_us > next_attempt_at_us
                             THEN lease_until_us ELSE next_attempt_at_us END AS due
                 FROM outbox WHERE partner = ?2 AND state = 'pending'
                 ORDER BY due LIMIT ?1",
                args![skip.len() + 1, partner, owner],
            ),
        })?;
        for r in rows {
            let (id, at): (i64, i64) = (r.get(0)?, r.get(1)?);
            if !in_flight.contains(&id) {
                return Ok(Some(at.max(0) as u64));
            }
        }
        Ok(None)
    }

    /// This replica's name in the outbox's lease columns (PostgreSQL only).
    fn lease_owner(&self) -> Option<String> {
        match &self.backend {
            Backend::Sqlite { .. } => None,
            Backend::Postgres(pool) => Some(pool.owner().to_owned()),
        }
    }

    /// Records the outcome of an attempt on row `id`: `UPDATE outbox SET
    /// {set} WHERE id = ?1`, with `args` from `?2` on. On PostgreSQL it
    /// applies only while the row's lease is still this replica's (another
    /// replica may have reclaimed it after the lease ran out), and releases
    /// the lease.
    async fn mark(&self, set: &'static str, args: Vec<Value>) -> Result<(), ApiError> {
        let id = args.first().cloned();
        match self.lease_owner() {
            None => {
                let sql = format!("UPDATE outbox SET {set} WHERE id = ?1");
                self.write(move |c| Ok(c.execute(&sql, &args)?)).await?;
            }
            Some(owner) => {
                let n = args.len() + 1;
                let sql = format!(
                    "UPDATE outbox SET {set}, lease_owner = NULL, lease_until_us = NULL
                     WHERE id = ?1 AND lease_owner = ?{n}"
                );
                let mut args = args;
                args.push(Value::Text(owner));
                let changed = self.write(move |c| Ok(c.execute(&sql, &args)?)).await?;
                if changed == 0 {
                    tracing::info!(?id, "outbox row no longer leased to this replica: mark skipped");
                }
            }
        }
        Ok(())
    }

    /// Records a delivered attempt (on SQLite through the committer: it
    /// shares the batch's fsync).
    pub async fn mark_delivered(&self, id: i64, status: u16, now_us: u64) -> Result<(), ApiError> {
        self.mark(
            "state = 'delivered', attempts = attempts + 1, last_status = ?2, last_error = NULL,
             delivered_at_us = ?3",
            args![id, status, now_us].to_vec(),
        )
        .await
    }

    /// Records a failed attempt and when the next one is due.
    pub async fn mark_retry(
        &self,
        id: i64,
        status: Option<u16>,
        error: String,
        next_attempt_at_us: u64,
    ) -> Result<(), ApiError> {
        self.mark(
            "attempts = attempts + 1, last_status = ?2, last_error = ?3, next_attempt_at_us = ?4",
            args![id, status, error, next_attempt_at_us].to_vec(),
        )
        .await
    }

    /// Puts a delivery off until `next_attempt_at_us` without counting an
    /// attempt: nothing was sent (its partner's breaker was open or its
    /// Retry-After had not passed).
    pub async fn defer(&self, id: i64, why: String, next_attempt_at_us: u64) -> Result<(), ApiError> {
        self.mark(
            "last_error = ?2, next_attempt_at_us = ?3",
            args![id, why, next_attempt_at_us].to_vec(),
        )
        .await
    }

    /// Dead-letters a delivery after its last attempt.
    pub async fn mark_dead(&self, id: i64, status: Option<u16>, error: String) -> Result<(), ApiError> {
        self.mark(
            "state = 'dead', attempts = attempts + 1, last_status = ?2, last_error = ?3",
            args![id, status, error].to_vec(),
        )
        .await
    }

    /// Dead letters, oldest first, at most `limit`.
    pub fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, DbError> {
        let rows = self.read(move |c| {
            c.query_all(
                "SELECT id, partner, path, idempotency_key, trace_id, attempts, last_status, last_error, created_at_us
                 FROM outbox WHERE state = 'dead' ORDER BY id LIMIT ?1",
                args![limit],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    id: r.get(0)?,
                    partner: r.get(1)?,
                    path: r.get(2)?,
                    idempotency_key: r.get(3)?,
                    trace_id: r.get(4)?,
                    attempts: r.get(5)?,
                    last_status: r.get(6)?,
                    last_error: r.get(7)?,
                    created_at_us: r.get::<i64>(8)?.max(0) as u64,
                })
            })
            .collect()
    }

    /// Puts dead letters back in the outbox, due now with a fresh attempt
    /// budget. Each keeps its Idempotency-Key and body, so a replay never
    /// doubles an effect the partner already applied. Returns how many.
    /// Blocking: call from the blocking pool.
    pub fn replay_dead_letters(&self, which: &ReplaySelection, now_us: u64) -> Result<usize, ApiError> {
        let which = which.clone();
        self.write_blocking(move |conn| Ok(replay_in(conn, &which, now_us)?))
    }

    /// The hops of one trace: its intakes and the deliveries they queued,
    /// in time order.
    pub fn trace(&self, trace_id: &str) -> Result<Vec<TraceHop>, DbError> {
        let trace_id = trace_id.to_owned();
        let (intakes, deliveries) = self.read(move |c| {
            let intakes = c.query_all(
                "SELECT id, kind, business_key, received_at_us FROM inbox WHERE trace_id = ?1 ORDER BY id",
                args![trace_id],
            )?;
            let deliveries = c.query_all(
                "SELECT id, partner, path, idempotency_key, state, attempts, last_status, last_error, created_at_us,
                        delivered_at_us
                 FROM outbox WHERE trace_id = ?1 ORDER BY id",
                args![trace_id],
            )?;
            Ok((intakes, deliveries))
        })?;
        let mut hops = Vec::new();
        for r in intakes {
            hops.push(TraceHop::Intake {
                message_id: format!("MSG-{:010}", r.get::<i64>(0)?),
                kind: r.get(1)?,
                business_key: r.get(2)?,
                at_us: r.get::<i64>(3)?.max(0) as u64,
            });
        }
        for r in deliveries {
            hops.push(TraceHop::Delivery {
                id: r.get(0)?,
                partner: r.get(1)?,
                path: r.get(2)?,
                idempotency_key: r.get(3)?,
                state: DeliveryState::from_store(&r.get::<String>(4)?),
                attempts: r.get(5)?,
                last_status: r.get(6)?,
                last_error: r.get(7)?,
                at_us: r.get::<i64>(8)?.max(0) as u64,
                delivered_at_us: r.get::<Option<i64>>(9)?.map(|t| t.max(0) as u64),
            });
        }
        // Stable: an intake and the deliveries it queued share a time.
        hops.sort_by_key(TraceHop::at_us);
        Ok(hops)
    }

    /// Inbox messages by kind, and outbox deliveries and attempts by
    /// partner and state, for /metrics.
    pub fn metrics(&self) -> Result<StoreMetrics, DbError> {
        let (inbox, outbox) = self.read(|c| {
            let inbox = c.query_all(
                "SELECT kind, COUNT(*) FROM inbox GROUP BY kind ORDER BY kind",
                &[],
            )?;
            let outbox = c.query_all(
                "SELECT partner, state, COUNT(*), CAST(COALESCE(SUM(attempts), 0) AS BIGINT) FROM outbox
                 GROUP BY partner, state ORDER BY partner, state",
                &[],
            )?;
            Ok((inbox, outbox))
        })?;
        let inbox = inbox
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect::<Result<Vec<_>, DbError>>()?;
        let outbox = outbox
            .iter()
            .map(|r| {
                Ok(crate::metrics::OutboxRow {
                    partner: r.get(0)?,
                    state: r.get(1)?,
                    deliveries: r.get(2)?,
                    attempts: r.get(3)?,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        Ok((inbox, outbox))
    }

    pub fn ops_status(&self) -> Result<OpsStatus, DbError> {
        let (inbox_messages, rows) = self.read(|c| {
            let n: i64 = c.one("SELECT COUNT(*) FROM inbox", &[])?;
            Ok((
                n,
                c.query_all("SELECT state, COUNT(*) FROM outbox GROUP BY state", &[])?,
            ))
        })?;
        let mut status = OpsStatus {
            inbox_messages,
            ..OpsStatus::default()
        };
        for r in rows {
            let (state, n): (String, i64) = (r.get(0)?, r.get(1)?);
            match state.as_str() {
                "pending" => status.outbox_pending = n,
                "delivered" => status.outbox_delivered = n,
                _ => status.outbox_dead += n,
            }
        }
        Ok(status)
    }
}

/// One intake, inside its transaction `tx` (a savepoint of a group-commit
/// batch on SQLite).
fn intake_in(
    tx: &dyn Conn,
    intake: &Intake,
    body: &Stored,
    now_us: u64,
    apply: impl FnOnce(&Tx<'_>) -> Result<(), ApiError>,
) -> Result<Answer, ApiError> {
    let hash = &body.hash;
    let stored: Option<Row> = tx.query_opt(
        "SELECT request_hash, status, response FROM idempotency WHERE key = ?1",
        args![intake.idempotency_key],
    )?;
    if let Some(row) = stored {
        let (request_hash, status, response): (String, u16, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        if &request_hash != hash {
            return Err(ApiError::IdempotencyKeyReused {
                key: intake.idempotency_key.clone(),
            });
        }
        let ack = serde_json::from_str(&response).map_err(|e| ApiError::Storage(e.to_string()))?;
        return Ok(Answer {
            status,
            ack,
            replayed: true,
        });
    }

    let known: Option<(i64, String, String)> = if intake.dedupe {
        tx.query_opt(
            "SELECT id, payload_hash, trace_id FROM inbox WHERE kind = ?1 AND business_key = ?2 ORDER BY id LIMIT 1",
            args![intake.kind, intake.business_key],
        )?
        .map(|r| Ok::<_, DbError>((r.get(0)?, r.get(1)?, r.get(2)?)))
        .transpose()?
    } else {
        None
    };
    let (status, ack) = match known {
        Some((_, known_hash, _)) if &known_hash != hash => {
            return Err(ApiError::Conflict {
                what: intake.kind,
                key: intake.business_key.clone(),
            });
        }
        Some((id, _, trace_id)) => (
            200,
            IntakeAck {
                message_id: format!("MSG-{id:010}"),
                outcome: IntakeOutcome::Duplicate,
                trace_id,
            },
        ),
        None => {
            let message_id: i64 = tx.one(
                "INSERT INTO inbox (kind, business_key, payload_hash, payload, trace_id, received_at_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                args![
                    intake.kind,
                    intake.business_key,
                    hash,
                    body.text,
                    intake.trace_id,
                    now_us
                ],
            )?;
            apply(&Tx {
                tx,
                message_id,
                trace_id: &intake.trace_id,
                now_us,
            })?;
            (
                201,
                IntakeAck {
                    message_id: format!("MSG-{message_id:010}"),
                    outcome: IntakeOutcome::Accepted,
                    trace_id: intake.trace_id.clone(),
                },
            )
        }
    };
    let response = serde_json::to_string(&ack).map_err(|e| ApiError::Storage(e.to_string()))?;
    tx.execute(
        "INSERT INTO idempotency (key, endpoint, request_hash, status, response) VALUES (?1, ?2, ?3, ?4, ?5)",
        args![intake.idempotency_key, intake.endpoint, hash, status, response],
    )?;
    Ok(Answer {
        status,
        ack,
        replayed: false,
    })
}

/// Puts the selected dead letters back in the outbox, due at `now_us`.
fn replay_in(conn: &dyn Conn, which: &ReplaySelection, now_us: u64) -> Result<usize, DbError> {
    let set = "UPDATE outbox SET state = 'pending', attempts = 0, last_error = NULL, next_attempt_at_us = ?1
               WHERE state = 'dead'";
    match which {
        ReplaySelection::All => conn.execute(set, args![now_us]),
        ReplaySelection::Ids(ids) => {
            let mut n = 0;
            for id in ids {
                n += conn.execute(&format!("{set} AND id = ?2"), args![now_us, id])?;
            }
            Ok(n)
        }
        ReplaySelection::CreatedBetween { from_us, to_us } => conn.execute(
            &format!("{set} AND created_at_us BETWEEN ?2 AND ?3"),
            args![now_us, from_us, to_us],
        ),
    }
}
