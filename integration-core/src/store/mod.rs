//! The durable store, on one of two engines behind one interface
//! ([`crate::db::Conn`]): embedded SQLite (the default) or PostgreSQL
//! (several core replicas sharing one database, see [`pg`]).
//!
//! **Layer**: above `db` and `error`, below the flows, the outbox and http.
//! The store knows nothing of the business: it runs the `apply` closures
//! handed to [`Store::intake`] and [`Store::ops_transaction`], hands the
//! rows a commit queued to the [`Dispatch`] set on it, and creates the
//! tables the layers above hand its constructors (their DDL, after its
//! own [`schema`]). Files here import only `db`, `error`, `clock` and each
//! other (`mod.rs` → `pg` → `schema`, `options`); never `flows`, `outbox`
//! or `http`.
//!
//! **SQLite**: WAL mode with `synchronous=FULL`, so a transaction the core
//! has answered 2xx for is on disk.
//!
//! Writes go through **group commit**: one committer thread owns the writer
//! connection and takes the jobs queued while the previous batch was being
//! committed, runs them in one transaction, commits once (one fsync for the
//! batch) and only then answers every job. Each intake keeps its own
//! atomicity (idempotency lookup, business-key dedupe, validation, state
//! change, outbox rows, stored answer): the batch runs first without
//! savepoints and, if any job fails, is rolled back whole and run again
//! with each job in a savepoint of its own, so a job that fails rolls back
//! alone and leaves the rest of the batch alone. (Savepoints on every job
//! cost SQLite a copy of each page a job touches; most batches have no
//! failure.) A job may therefore run twice, so it has no effects outside
//! the transaction.
//!
//! The outbox rows a batch queued are handed to the outbox worker's lanes
//! in memory at the commit ([`Dispatch`]: claimed before it, sent after
//! it), so a lane reads the outbox only for rows it was not handed (a
//! restart, retries, replays, a full lane queue). The rows are durable
//! and pending in the outbox until marked, as before.
//! Bookkeeping of the outbox (delivered, retry, dead marks) goes through the
//! same committer, so it shares the intakes' fsyncs instead of paying its
//! own. Reads use a second connection (WAL lets it read beside the writer).

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use rusqlite::{Connection, TransactionBehavior};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use contracts::{IntakeAck, IntakeOutcome, Role};

pub mod options;
pub mod pg;
pub mod schema;

pub use options::{GATHER_FROM, GATHER_GAP, StoreOptions};

use crate::db::{Arg, Conn, DbError, Engine, Row, SqliteConn, ToArg, Value, args};
use crate::error::ApiError;
use options::STATEMENT_CACHE;
use pg::Pool;
use schema::{sqlite_totals, upgrade_schema};

/// What one write adds to the running totals ([`schema::SQLITE_TOTALS`]).
#[derive(Debug, Default)]
pub struct Tally {
    /// (kind, messages)
    inbox: Vec<(&'static str, i64)>,
    /// (partner, deliveries, attempts)
    outbox: Vec<(String, i64, i64)>,
}

impl Tally {
    fn inbox(&mut self, kind: &'static str, messages: i64) {
        match self.inbox.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += messages,
            None => self.inbox.push((kind, messages)),
        }
    }

    fn outbox(&mut self, partner: &str, deliveries: i64, attempts: i64) {
        match self.outbox.iter_mut().find(|(p, ..)| p == partner) {
            Some((_, d, a)) => {
                *d += deliveries;
                *a += attempts;
            }
            None => self.outbox.push((partner.to_owned(), deliveries, attempts)),
        }
    }

    fn add(&mut self, other: Tally) {
        for (kind, n) in other.inbox {
            self.inbox(kind, n);
        }
        for (partner, d, a) in other.outbox {
            self.outbox(&partner, d, a);
        }
    }

    fn clear(&mut self) {
        self.inbox.clear();
        self.outbox.clear();
    }

    /// Adds this tally to the totals, in the batch's transaction.
    fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        for (kind, n) in &self.inbox {
            conn.prepare_cached(
                "INSERT INTO inbox_totals (kind, messages) VALUES (?1, ?2)
                 ON CONFLICT (kind) DO UPDATE SET messages = messages + excluded.messages",
            )?
            .execute(rusqlite::params![kind, n])?;
        }
        for (partner, d, a) in &self.outbox {
            conn.prepare_cached(
                "INSERT INTO outbox_totals (partner, deliveries, attempts) VALUES (?1, ?2, ?3)
                 ON CONFLICT (partner) DO UPDATE SET deliveries = deliveries + excluded.deliveries,
                     attempts = attempts + excluded.attempts",
            )?
            .execute(rusqlite::params![partner, d, a])?;
        }
        Ok(())
    }
}

/// What a write on the SQLite committer's connection collects beside its
/// changes: the outbox rows it queues (handed to the lanes after the
/// commit) and its tally of the running totals (written before the
/// commit). Reached through [`Conn::collector`], so the `db` layer need not
/// know it.
#[derive(Debug, Default)]
struct Collected {
    fresh: RefCell<Vec<Fresh>>,
    tally: RefCell<Tally>,
}

impl Collected {
    fn clear(&mut self) {
        self.fresh.get_mut().clear();
        self.tally.get_mut().clear();
    }
}

/// What `conn`'s write collects, if it is the committer's connection.
fn collected(conn: &dyn Conn) -> Option<&Collected> {
    conn.collector()?.downcast_ref()
}

/// Tallies on `conn`'s write, if it keeps a tally (SQLite).
fn tally(conn: &dyn Conn, f: impl FnOnce(&mut Tally)) {
    if let Some(c) = collected(conn) {
        f(&mut c.tally.borrow_mut());
    }
}

/// The number of `trace_id` in `traces`, which gets a row if it has none:
/// looked up first (most messages belong to a trace already known); an
/// insert that finds the row there (another transaction, another replica)
/// looks it up again.
fn trace_no_of(conn: &dyn Conn, trace_id: &str) -> Result<i64, DbError> {
    if let Some(no) = known_trace_no(conn, trace_id)? {
        return Ok(no);
    }
    match conn.one_opt(
        "INSERT INTO traces (trace_id) VALUES (?1) ON CONFLICT (trace_id) DO NOTHING RETURNING no",
        args![trace_id],
    )? {
        Some(no) => Ok(no),
        None => known_trace_no(conn, trace_id)?
            .ok_or_else(|| DbError::new(format!("trace {trace_id}: no number after its insert"))),
    }
}

/// The number of `trace_id` in `traces`, if it has one.
fn known_trace_no(conn: &dyn Conn, trace_id: &str) -> Result<Option<i64>, DbError> {
    conn.one_opt("SELECT no FROM traces WHERE trace_id = ?1", args![trace_id])
}

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

/// A row an intake just queued in the outbox, with the lane (`target`) it
/// goes to.
#[derive(Debug, Clone)]
pub struct Fresh {
    pub target: String,
    pub delivery: Delivery,
}

/// Where the SQLite committer hands the rows a batch queued in the outbox
/// (the outbox worker's lanes), so that no lane has to read them back.
/// The rows stay in the outbox (pending) until marked, as before: the
/// handoff only saves the read.
pub trait Dispatch: Send + Sync {
    /// Before the commit: whether `target`'s lane takes row `id`. A lane
    /// that takes it treats it as in flight at once, so no read of the
    /// outbox picks it up as well.
    fn claim(&self, target: &str, id: i64) -> bool;
    /// The commit failed: the claimed row does not exist.
    fn unclaim(&self, target: &str, id: i64);
    /// After the commit: the claimed rows, to be sent.
    fn ready(&self, fresh: Vec<Fresh>);
}

pub use contracts::ops::{DeadLetter, OpsStatus};
use contracts::ops::{DeliveryState, TraceHop};

/// Inbox messages by kind, and outbox rows by partner and state.
pub type StoreMetrics = (Vec<(String, i64)>, Vec<OutboxRow>);

/// Outbox numbers from the store, per partner and state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxRow {
    pub partner: String,
    pub state: String,
    pub deliveries: i64,
    pub attempts: i64,
}

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
    /// The number of `trace_id` in `traces`, once known (an intake knows
    /// it; an ops transaction looks it up at its first enqueue).
    trace_no: Cell<Option<i64>>,
    pub now_us: u64,
}

impl<'a> Tx<'a> {
    pub fn conn(&self) -> &'a dyn Conn {
        self.tx
    }

    /// The number of `trace_id` (this transaction's trace when it is
    /// that one, looked up once).
    fn trace_no(&self, trace_id: &str) -> Result<i64, DbError> {
        if trace_id != self.trace_id {
            return trace_no_of(self.tx, trace_id);
        }
        if let Some(no) = self.trace_no.get() {
            return Ok(no);
        }
        let no = trace_no_of(self.tx, trace_id)?;
        self.trace_no.set(Some(no));
        Ok(no)
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
        let trace_no = self.trace_no(trace_id)?;
        let args = args![
            target,
            path,
            idempotency_key,
            body,
            trace_id,
            self.now_us,
            trace_no
        ];
        let insert = "INSERT INTO outbox (partner, path, idempotency_key, body, trace_id, next_attempt_at_us,
                                          created_at_us, trace_no)
                      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)";
        let Some(fresh) = collected(self.tx).map(|c| &c.fresh) else {
            self.tx.execute(insert, args)?;
            tally(self.tx, |t| t.outbox(target, 1, 0));
            return Ok(());
        };
        let id: i64 = self.tx.insert_id(insert, args)?;
        tally(self.tx, |t| t.outbox(target, 1, 0));
        fresh.borrow_mut().push(Fresh {
            target: target.to_owned(),
            delivery: Delivery {
                id,
                partner: role_from_str(target),
                path: path.to_owned(),
                idempotency_key: idempotency_key.to_owned(),
                body,
                trace_id: trace_id.to_owned(),
                attempts: 0,
            },
        });
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

/// A write queued for the committer. It may run twice: a batch runs its
/// jobs without savepoints first and, if one of them fails, rolls the
/// whole batch back and runs every job again in a savepoint of its own.
/// So a job has no effects outside the transaction (as on PostgreSQL,
/// where a conflicting transaction is retried whole).
trait Write: Send {
    /// Runs the write on the batch's transaction and keeps its result;
    /// whether its changes are to be kept.
    fn run(&mut self, conn: &Connection) -> bool;
    /// The outbox rows its last successful run queued.
    fn take_fresh(&mut self) -> Vec<Fresh>;
    /// What its last successful run adds to the running totals.
    fn take_tally(&mut self) -> Tally;
    /// Forgets its last run (it was rolled back and cannot run again).
    fn discard(&mut self);
    /// Answers after the batch's commit (or its failure).
    fn finish(self: Box<Self>, committed: Result<(), String>);
}

type Job = Box<dyn Write>;

/// A [`Write`] of a closure whose result is sent on `answer`.
struct Queued<F, R> {
    f: F,
    answer: oneshot::Sender<Result<R, ApiError>>,
    result: Option<Result<R, ApiError>>,
    collected: Collected,
}

/// The committer's connection as a job sees it: SQLite, collecting the
/// outbox rows the job queues.
struct Collecting<'a> {
    conn: SqliteConn<'a>,
    collected: &'a Collected,
}

impl Conn for Collecting<'_> {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }
    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize, DbError> {
        self.conn.execute(sql, args)
    }
    fn query_all(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError> {
        self.conn.query_all(sql, args)
    }
    fn insert_id(&self, sql: &str, args: &[Arg<'_>]) -> Result<i64, DbError> {
        self.conn.insert_id(sql, args)
    }
    fn collector(&self) -> Option<&dyn std::any::Any> {
        Some(self.collected)
    }
}

impl<F, R> Write for Queued<F, R>
where
    F: Fn(&dyn Conn) -> Result<R, ApiError> + Send,
    R: Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        self.result = None;
        self.collected.clear();
        let r = (self.f)(&Collecting {
            conn: SqliteConn(conn),
            collected: &self.collected,
        });
        let ok = r.is_ok();
        if !ok {
            self.collected.clear();
        }
        self.result = Some(r);
        ok
    }

    fn take_fresh(&mut self) -> Vec<Fresh> {
        std::mem::take(self.collected.fresh.get_mut())
    }

    fn take_tally(&mut self) -> Tally {
        std::mem::take(self.collected.tally.get_mut())
    }

    fn discard(&mut self) {
        self.result = None;
        self.collected.clear();
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let r = match self.result {
            Some(r) => committed.map_err(ApiError::Storage).and(r),
            None => Err(ApiError::Storage(match committed {
                Ok(()) => "the write did not run (its savepoint failed to open)".into(),
                Err(e) => e,
            })),
        };
        let _ = self.answer.send(r);
    }
}

/// Runs a statement without parameters through the statement cache (a
/// job's SAVEPOINT and RELEASE, twice per write: rusqlite's `Savepoint`
/// prepares them afresh each time).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Undoes a job's changes and closes its savepoint. If that fails, the
/// job's changes may still be in the transaction, so the batch must not
/// commit: the error says why.
fn roll_back_job(conn: &Connection) -> Result<(), String> {
    run_cached(conn, "ROLLBACK TO job")
        .and_then(|()| run_cached(conn, "RELEASE job"))
        .map_err(|e| {
            tracing::error!(error = %e, "failed to roll back a job's savepoint");
            format!("failed to roll back a write's savepoint: {e}")
        })
}

/// Runs `job`; a panic counts as a failure (`None`).
fn run_job(job: &mut Job, conn: &Connection) -> Option<bool> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(conn))).ok()
}

/// The shared slot of the lanes that take fresh outbox rows, if any.
type DispatchSlot = Arc<std::sync::RwLock<Option<Arc<dyn Dispatch>>>>;

/// Commits `tx`, handing the fresh outbox rows of `jobs` (those that
/// succeeded) to their lanes: claimed before the commit, so no read of the
/// outbox takes them meanwhile; ready after it; given back if it failed.
fn commit_dispatching(
    tx: rusqlite::Transaction<'_>,
    jobs: &mut [Job],
    dispatch: &DispatchSlot,
) -> Result<(), String> {
    let mut tally = Tally::default();
    for job in jobs.iter_mut() {
        tally.add(job.take_tally());
    }
    // Dropping `tx` on failure rolls the batch back: nothing committed,
    // nothing handed to the lanes.
    tally
        .apply(&tx)
        .map_err(|e| format!("failed to update the running totals: {e}"))?;
    let dispatch = dispatch.read().unwrap_or_else(|p| p.into_inner()).clone();
    let mut claimed = Vec::new();
    for job in jobs.iter_mut() {
        let fresh = job.take_fresh();
        if let Some(d) = &dispatch {
            claimed.extend(fresh.into_iter().filter(|f| d.claim(&f.target, f.delivery.id)));
        }
    }
    let committed = tx.commit().map_err(|e| format!("failed to commit: {e}"));
    if let Some(d) = dispatch {
        match committed {
            Ok(()) => d.ready(claimed),
            Err(_) => {
                for f in &claimed {
                    d.unclaim(&f.target, f.delivery.id);
                }
                d.ready(Vec::new());
            }
        }
    }
    committed
}

/// The batch in one transaction without savepoints: committed when every
/// job succeeded (`Some`, the commit's outcome), rolled back at the first
/// failure (`None`): the caller then runs it again job by job.
fn run_optimistic(
    conn: &mut Connection,
    batch: &mut [Job],
    dispatch: &DispatchSlot,
) -> Option<Result<(), String>> {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return Some(Err(format!("failed to begin a transaction: {e}"))),
    };
    for job in batch.iter_mut() {
        if run_job(job, &tx) != Some(true) {
            // Dropping `tx` rolls the whole batch back.
            return None;
        }
    }
    Some(commit_dispatching(tx, batch, dispatch))
}

/// The batch in one transaction, each job in a savepoint of its own: a job
/// that fails rolls back alone. A job that panics is dropped unanswered
/// (its caller sees a storage error). Returns the jobs to answer and the
/// commit's outcome.
fn run_savepoints(
    conn: &mut Connection,
    batch: Vec<Job>,
    dispatch: &DispatchSlot,
) -> (Vec<Job>, Result<(), String>) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return (batch, Err(format!("failed to begin a transaction: {e}"))),
    };
    let mut answered = Vec::with_capacity(batch.len());
    // A savepoint that failed to roll back: its job's changes may still be
    // in the transaction, so nothing of the batch is committed.
    let mut stuck: Option<String> = None;
    for mut job in batch {
        if let Err(e) = run_cached(&tx, "SAVEPOINT job") {
            tracing::error!(error = %e, "failed to open a job's savepoint");
            // Not run here: what a rolled-back run left is not its answer.
            job.discard();
            answered.push(job);
            continue;
        }
        let rolled_back = match run_job(&mut job, &tx) {
            Some(true) => match run_cached(&tx, "RELEASE job") {
                Ok(()) => {
                    answered.push(job);
                    Ok(())
                }
                Err(e) => {
                    let rolled_back = roll_back_job(&tx);
                    job.finish(Err(format!("failed to release a savepoint: {e}")));
                    rolled_back
                }
            },
            Some(false) => {
                answered.push(job);
                roll_back_job(&tx)
            }
            None => roll_back_job(&tx),
        };
        if let Err(e) = rolled_back {
            stuck.get_or_insert(e);
        }
    }
    if let Some(e) = stuck {
        // Dropping `tx` rolls the whole batch back.
        return (answered, Err(e));
    }
    let committed = commit_dispatching(tx, &mut answered, dispatch);
    (answered, committed)
}

/// The committer thread: batches queued jobs into one transaction each
/// (one fsync per batch), answering every job after its batch's commit.
fn committer(
    mut conn: Connection,
    jobs: mpsc::Receiver<Job>,
    options: StoreOptions,
    commits: Arc<AtomicU64>,
    dispatch: DispatchSlot,
) {
    let max_batch = options.max_batch.max(1);
    let mut previous: Option<(Instant, usize)> = None;
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Some((began, size)) = previous
            && size >= GATHER_FROM
        {
            gather(&jobs, &mut batch, max_batch, began + options.commit_interval);
        }
        previous = Some((Instant::now(), batch.len()));
        let (answered, committed) = match run_optimistic(&mut conn, &mut batch, &dispatch) {
            Some(committed) => (batch, committed),
            None => run_savepoints(&mut conn, batch, &dispatch),
        };
        commits.fetch_add(1, Ordering::Relaxed);
        for job in answered {
            job.finish(committed.clone());
        }
    }
}

/// Adds jobs to `batch` until `until`, while each comes within
/// [`GATHER_GAP`] of the last, up to `max_batch`.
fn gather(jobs: &mpsc::Receiver<Job>, batch: &mut Vec<Job>, max_batch: usize, until: Instant) {
    while batch.len() < max_batch {
        let Some(left) = until.checked_duration_since(Instant::now()) else {
            return;
        };
        match jobs.recv_timeout(left.min(GATHER_GAP)) {
            Ok(job) => batch.push(job),
            Err(_) => return,
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
            Self::Postgres(url) => write!(f, "{}", pg::redact(url)),
        }
    }
}

enum Backend {
    Sqlite {
        /// Queue of the committer thread, which owns the writer connection.
        jobs: mpsc::Sender<Job>,
        /// Reads, beside the writer.
        reader: Mutex<Connection>,
        /// The lanes the committer hands fresh outbox rows to.
        dispatch: DispatchSlot,
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

impl Store {
    /// Opens (creating if needed) the database at `path`, in WAL mode,
    /// with group commit. Every constructor creates the store's own tables
    /// and then `tables`: the DDL of the layers above (the crate root's
    /// `TABLES` for the whole core), in order.
    pub fn open(path: &Path, tables: &[&str]) -> Result<Self, DbError> {
        Self::open_with(path, StoreOptions::default(), tables)
    }

    /// Opens the store at `location` (SQLite file or PostgreSQL URL).
    pub fn open_at(
        location: &StoreLocation,
        options: StoreOptions,
        tables: &[&str],
    ) -> Result<Self, DbError> {
        match location {
            StoreLocation::Sqlite(path) => Self::open_with(path, options, tables),
            StoreLocation::Postgres(url) => Self::open_postgres(url, options, tables),
        }
    }

    /// Opens (creating its tables if needed) the PostgreSQL database at
    /// `url`, with `options.pg_connections` connections.
    pub fn open_postgres(url: &str, options: StoreOptions, tables: &[&str]) -> Result<Self, DbError> {
        Ok(Self {
            backend: Backend::Postgres(Pool::open(url, options, tables)?),
            commits: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Opens the database at `path` with explicit commit options.
    pub fn open_with(path: &Path, options: StoreOptions, tables: &[&str]) -> Result<Self, DbError> {
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            // Pages are read through a memory map (no read call, no copy)
            // unless the WAL holds a newer copy; the page cache keeps the
            // pages written lately. 16 MiB of it, not more: each commit that
            // split a b-tree page (balance_nonroot renumbers a page through
            // a temporary number past the database's end) makes SQLite scan
            // the cache's whole hash table when the transaction ends
            // (pcache1TruncateUnsafe); with 64 MiB those scans were 2.3 % of
            // a lifecycle run's CPU.
            conn.pragma_update(None, "mmap_size", 1_i64 << 30)?;
            conn.pragma_update(None, "cache_size", -16_384)?;
            // Each job's savepoint journals the pages it touches
            // (SQLite's statement subjournal): in memory, not in a temp
            // file (those writes were 12 % of a lifecycle run's CPU).
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            // Checkpoint every 8,192 WAL pages (32 MiB) rather than 1,000:
            // a page written by many commits in between is copied back to
            // the database once.
            conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            // Every statement of the flows stays prepared (rusqlite keeps
            // 16 by default: fewer than one intake uses, so each was
            // prepared again on every call).
            conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            Ok(conn)
        };
        let mut writer = open()?;
        // One transaction: an upgrade of an older store happens whole or
        // not at all.
        let tx = writer.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for ddl in std::iter::once(&schema::SCHEMA).chain(tables) {
            tx.execute_batch(ddl)?;
        }
        upgrade_schema(&SqliteConn(&tx))?;
        sqlite_totals(&tx)?;
        tx.commit()?;
        let reader = open()?;
        let (jobs, queue) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let counter = commits.clone();
        let dispatch = DispatchSlot::default();
        let slot = dispatch.clone();
        std::thread::Builder::new()
            .name("crossdock-committer".into())
            .spawn(move || committer(writer, queue, options, counter, slot))
            .map_err(|e| DbError::new(format!("failed to start the committer thread: {e}")))?;
        Ok(Self {
            backend: Backend::Sqlite {
                jobs,
                reader: Mutex::new(reader),
                dispatch,
            },
            commits,
        })
    }

    /// Hands the outbox rows each committed write queued to `dispatch`
    /// from now on (`None`: stop), instead of leaving them for a read of
    /// the outbox. SQLite only (on PostgreSQL, replicas claim rows with
    /// leases); whether it took effect.
    pub fn set_dispatch(&self, dispatch: Option<Arc<dyn Dispatch>>) -> bool {
        match &self.backend {
            Backend::Sqlite { dispatch: slot, .. } => {
                *slot.write().unwrap_or_else(|p| p.into_inner()) = dispatch;
                true
            }
            Backend::Postgres(_) => false,
        }
    }

    /// Whether committed writes hand their outbox rows to the lanes (see
    /// [`Store::set_dispatch`]); otherwise the lanes must be told to read.
    pub fn hands_over(&self) -> bool {
        match &self.backend {
            Backend::Sqlite { dispatch, .. } => dispatch.read().unwrap_or_else(|p| p.into_inner()).is_some(),
            Backend::Postgres(_) => false,
        }
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

    /// Runs `f` in one write transaction (its part of the current
    /// group-commit batch on SQLite, run again alone if another job fails; a SERIALIZABLE transaction, retried on
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
                let job: Job = Box::new(Queued {
                    f,
                    answer,
                    result: None,
                    collected: Collected::default(),
                });
                // A send fails only when the committer is gone; the dropped
                // receiver then reports it.
                let _ = jobs.send(job);
            }
            Backend::Postgres(pool) => {
                let commits = self.commits.clone();
                pool.submit(Box::new(move |client| {
                    let r = pg::serializable(client, &f);
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

    /// Takes in one message atomically: its part of the current
    /// group-commit batch; answered after that batch's fsync. `apply`
    /// validates it and makes its effects (state, outbox rows) in the same
    /// transaction. `apply` may run more than once (on SQLite when another
    /// job of the batch fails, on PostgreSQL when a conflicting transaction
    /// is retried whole), so it must not
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
                trace_no: Cell::new(None),
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
    async fn mark(&self, set: &'static str, attempt: bool, args: &[Arg<'_>]) -> Result<(), ApiError> {
        // Owned: the write runs on the committer's thread, which borrows
        // them again.
        let mut owned: Vec<Value> = args.iter().copied().map(Value::from).collect();
        let leased = self.lease_owner();
        // SQLite: an attempt is tallied for the running totals, under the
        // row's partner.
        let returning = attempt && leased.is_none();
        let sql = match &leased {
            None if returning => format!("UPDATE outbox SET {set} WHERE id = ?1 RETURNING partner"),
            None => format!("UPDATE outbox SET {set} WHERE id = ?1"),
            Some(owner) => {
                owned.push(Value::Text(owner.clone()));
                format!(
                    "UPDATE outbox SET {set}, lease_owner = NULL, lease_until_us = NULL
                     WHERE id = ?1 AND lease_owner = ?{}",
                    owned.len()
                )
            }
        };
        let changed = self
            .write(move |c| {
                let args: Vec<Arg<'_>> = owned.iter().map(ToArg::to_arg).collect();
                if !returning {
                    return Ok(c.execute(&sql, &args)?);
                }
                let rows = c.query_all(&sql, &args)?;
                for row in &rows {
                    let partner: String = row.get(0)?;
                    tally(c, |t| t.outbox(&partner, 0, 1));
                }
                Ok(rows.len())
            })
            .await?;
        if leased.is_some() && changed == 0 {
            tracing::info!(id = ?args.first(), "outbox row no longer leased to this replica: mark skipped");
        }
        Ok(())
    }

    /// Records a delivered attempt (on SQLite through the committer: it
    /// shares the batch's fsync).
    pub async fn mark_delivered(&self, id: i64, status: u16, now_us: u64) -> Result<(), ApiError> {
        self.mark(
            "state = 'delivered', attempts = attempts + 1, last_status = ?2, last_error = NULL,
             delivered_at_us = ?3",
            true,
            args![id, status, now_us],
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
            true,
            args![id, status, error, next_attempt_at_us],
        )
        .await
    }

    /// Puts a delivery off until `next_attempt_at_us` without counting an
    /// attempt: nothing was sent (its partner's breaker was open or its
    /// Retry-After had not passed).
    pub async fn defer(&self, id: i64, why: String, next_attempt_at_us: u64) -> Result<(), ApiError> {
        self.mark(
            "last_error = ?2, next_attempt_at_us = ?3",
            false,
            args![id, why, next_attempt_at_us],
        )
        .await
    }

    /// Dead-letters a delivery after its last attempt.
    pub async fn mark_dead(&self, id: i64, status: Option<u16>, error: String) -> Result<(), ApiError> {
        self.mark(
            "state = 'dead', attempts = attempts + 1, last_status = ?2, last_error = ?3",
            true,
            args![id, status, error],
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
            let Some(no) = known_trace_no(c, &trace_id)? else {
                return Ok((Vec::new(), Vec::new()));
            };
            let intakes = c.query_all(
                "SELECT id, kind, business_key, received_at_us FROM inbox WHERE trace_no = ?1 ORDER BY id",
                args![no],
            )?;
            let deliveries = c.query_all(
                "SELECT id, partner, path, idempotency_key, state, attempts, last_status, last_error, created_at_us,
                        delivered_at_us
                 FROM outbox WHERE trace_no = ?1 ORDER BY id",
                args![no],
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
    /// partner and state, for /metrics. On SQLite from the running totals
    /// (`SQLITE_TOTALS`) and the pending and dead rows (each state has a
    /// partial index): the cost follows the backlog, not the history.
    pub fn metrics(&self) -> Result<StoreMetrics, DbError> {
        let (inbox, outbox) = self.read(|c| match c.engine() {
            Engine::Sqlite => Ok((
                c.query_all("SELECT kind, messages FROM inbox_totals ORDER BY kind", &[])?,
                c.query_all(
                    "SELECT t.partner, s.state, CASE s.state
                         WHEN 'delivered' THEN t.deliveries - COALESCE(p.n, 0) - COALESCE(d.n, 0)
                         WHEN 'pending' THEN COALESCE(p.n, 0) ELSE COALESCE(d.n, 0) END,
                         CASE s.state WHEN 'delivered' THEN t.attempts ELSE 0 END
                     FROM outbox_totals AS t
                     CROSS JOIN (SELECT 'dead' AS state UNION ALL SELECT 'delivered' UNION ALL SELECT 'pending') AS s
                     LEFT JOIN (SELECT partner, COUNT(*) AS n FROM outbox WHERE state = 'pending' GROUP BY partner) AS p
                         ON p.partner = t.partner
                     LEFT JOIN (SELECT partner, COUNT(*) AS n FROM outbox WHERE state = 'dead' GROUP BY partner) AS d
                         ON d.partner = t.partner
                     ORDER BY t.partner, s.state",
                    &[],
                )?,
            )),
            Engine::Postgres => Ok((
                c.query_all(
                    "SELECT kind, COUNT(*) FROM inbox GROUP BY kind ORDER BY kind",
                    &[],
                )?,
                c.query_all(
                    "SELECT partner, state, COUNT(*), CAST(COALESCE(SUM(attempts), 0) AS BIGINT) FROM outbox
                     GROUP BY partner, state ORDER BY partner, state",
                    &[],
                )?,
            )),
        })?;
        let inbox = inbox
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect::<Result<Vec<_>, DbError>>()?;
        let outbox = outbox
            .iter()
            .map(|r| {
                Ok(OutboxRow {
                    partner: r.get(0)?,
                    state: r.get(1)?,
                    deliveries: r.get(2)?,
                    attempts: r.get(3)?,
                })
            })
            .filter(|r| !matches!(r, Ok(row) if row.deliveries == 0 && row.attempts == 0))
            .collect::<Result<Vec<_>, DbError>>()?;
        Ok((inbox, outbox))
    }

    /// Inbox messages and outbox rows by state: the sums of
    /// [`Store::metrics`] (on SQLite from the running totals).
    pub fn ops_status(&self) -> Result<OpsStatus, DbError> {
        let (inbox, outbox) = self.metrics()?;
        let mut status = OpsStatus {
            inbox_messages: inbox.iter().map(|(_, n)| n).sum(),
            ..OpsStatus::default()
        };
        for r in outbox {
            match r.state.as_str() {
                "pending" => status.outbox_pending += r.deliveries,
                "delivered" => status.outbox_delivered += r.deliveries,
                _ => status.outbox_dead += r.deliveries,
            }
        }
        Ok(status)
    }
}

/// One intake, inside its transaction `tx` (part of a group-commit batch
/// on SQLite).
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
            let trace_no = trace_no_of(tx, &intake.trace_id)?;
            let message_id: i64 = tx.insert_id(
                "INSERT INTO inbox (kind, business_key, payload_hash, payload, trace_id, received_at_us, trace_no)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                args![
                    intake.kind,
                    intake.business_key,
                    hash,
                    body.text,
                    intake.trace_id,
                    now_us,
                    trace_no
                ],
            )?;
            tally(tx, |t| t.inbox(intake.kind, 1));
            apply(&Tx {
                tx,
                message_id,
                trace_id: &intake.trace_id,
                trace_no: Cell::new(Some(trace_no)),
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
