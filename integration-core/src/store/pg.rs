//! The PostgreSQL engine of the store: several core replicas may share one
//! database.
//!
//! - **Connections on their own threads.** The sync `postgres` client
//!   drives its connection on a runtime of its own, which must not run (or
//!   be dropped) inside the core's tokio runtime. So a small pool of
//!   threads each owns one connection and runs jobs from one queue, the
//!   way the SQLite committer thread owns its writer; async callers await a
//!   oneshot, blocking callers block on it.
//! - **Writes are SERIALIZABLE** and retried whole (bounded, with jittered
//!   backoff) on a serialization failure (40001), a deadlock (40P01) or a
//!   unique violation (23505): another replica won a race (the same
//!   Idempotency-Key, the same business key), and the retry sees its
//!   result. No group commit: PostgreSQL batches WAL flushes across
//!   connections itself.
//! - **Outbox claims** lease rows to this replica (`lease_owner`,
//!   `lease_until_us`) with `FOR UPDATE SKIP LOCKED`, so two replicas never
//!   claim the same row, and a row whose lease ran out (its replica died)
//!   is claimed by another.
//! - **DDL** is the SQLite schema translated by [`crate::db::ddl_for`]
//!   (and brought up to date by [`upgrade_schema`]), plus
//!   the lease columns, created under an advisory lock so replicas
//!   starting together do not race.
//!
//! **Layer**: part of the store. Imports `db`, `error` and the store's
//! `schema` and `options`, never the store's `mod.rs` (which uses this
//! file) nor anything above the store.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tokio::sync::oneshot;

use super::options::StoreOptions;
use super::schema::{SCHEMA, TRACE_INDEXES, upgrade_schema};
use crate::db::{Conn, DbError, Engine, PgConn, Row, args, ddl_for};
use crate::error::ApiError;

/// A job for one of the pool's connections.
pub(crate) type PgJob = Box<dyn FnOnce(&mut postgres::Client) + Send>;

/// Most runs of one write transaction that keeps conflicting.
pub const MAX_TRIES: u32 = 30;

/// Columns only the PostgreSQL outbox has: who claimed a row, until when.
const LEASE_DDL: &str = "
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS lease_until_us BIGINT;
";

/// Key of the advisory lock held while creating the schema.
const SCHEMA_LOCK: i64 = 0x0000_c105_d0c4;

/// The connection URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &userinfo[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn connect(config: &postgres::Config) -> Result<postgres::Client, DbError> {
    config.connect(postgres::NoTls).map_err(DbError::from)
}

/// The pool of connection threads.
pub(crate) struct Pool {
    jobs: Mutex<mpsc::Sender<PgJob>>,
    owner: String,
    lease: Duration,
}

impl Pool {
    /// Connects `options.pg_connections` connections to `url` and creates
    /// the schema if needed. Fails (clearly) when the server is not there.
    /// `tables`: the DDL of the layers above, after the store's own.
    pub fn open(url: &str, options: StoreOptions, tables: &[&str]) -> Result<Self, DbError> {
        let tables: Vec<String> = tables.iter().map(|t| (*t).to_owned()).collect();
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| DbError::new(format!("invalid PostgreSQL URL {}: {e}", redact(url))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        let (jobs, queue) = mpsc::channel::<PgJob>();
        let queue = Arc::new(Mutex::new(queue));
        let (ready_tx, ready) = mpsc::channel::<Result<(), DbError>>();
        let n = options.pg_connections.max(1);
        for i in 0..n {
            let (config, queue, ready_tx) = (config.clone(), queue.clone(), ready_tx.clone());
            let tables = tables.clone();
            let first = i == 0;
            std::thread::Builder::new()
                .name(format!("crossdock-pg-{i}"))
                .spawn(move || {
                    let mut client = match connect(&config).and_then(|mut c| {
                        if first {
                            create_schema(&mut c, &tables)?;
                        }
                        Ok(c)
                    }) {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    drop(ready_tx);
                    serve(&config, &mut client, &queue);
                })
                .map_err(|e| DbError::new(format!("failed to start a PostgreSQL thread: {e}")))?;
        }
        drop(ready_tx);
        for _ in 0..n {
            match ready.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(DbError {
                        message: format!("PostgreSQL at {}: {}", redact(url), e.message),
                        code: e.code,
                    });
                }
                Err(_) => return Err(DbError::new("a PostgreSQL connection thread died")),
            }
        }
        let owner = format!(
            "{}-{}-{:08x}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "core".into()),
            std::process::id(),
            rand::random::<u32>()
        );
        Ok(Self {
            jobs: Mutex::new(jobs),
            owner,
            lease: options.lease,
        })
    }

    /// This replica's name in the lease columns.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Queues a job for the next free connection.
    pub fn submit(&self, job: PgJob) {
        // A send fails only when every thread is gone; the job's dropped
        // answer channel then reports it.
        let _ = self.jobs.lock().unwrap_or_else(|p| p.into_inner()).send(job);
    }

    /// Runs `f` on a pooled connection outside a transaction; blocking.
    pub fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Conn) -> Result<R, DbError> + Send + 'static,
    ) -> Result<R, DbError> {
        let (answer, rx) = oneshot::channel();
        self.submit(Box::new(move |client| {
            let _ = answer.send(f(&PgConn::new(client)));
        }));
        rx.blocking_recv()
            .unwrap_or_else(|_| Err(DbError::new("the PostgreSQL read was lost (its thread stopped)")))
    }

    /// Claims up to `limit` due rows of `partner` for this replica (see the
    /// module docs): id, partner, path, idempotency_key, body, trace_id,
    /// attempts, oldest due first.
    pub fn claim(&self, partner: &str, now_us: u64, limit: usize) -> Result<Vec<Row>, DbError> {
        let (partner, owner) = (partner.to_owned(), self.owner.clone());
        let until = now_us.saturating_add(self.lease.as_micros() as u64);
        let (answer, rx) = oneshot::channel();
        self.submit(Box::new(move |client| {
            let claimed = (|| {
                let mut tx = client.transaction()?;
                let rows = PgConn::new(&mut tx).query_all(
                    "UPDATE outbox SET lease_owner = ?1, lease_until_us = ?2
                     WHERE id IN (
                        SELECT id FROM outbox
                        WHERE partner = ?3 AND state = 'pending' AND next_attempt_at_us <= ?4
                          AND (lease_owner IS NULL OR lease_owner = ?1 OR lease_until_us <= ?4)
                        ORDER BY next_attempt_at_us, id LIMIT ?5
                        FOR UPDATE SKIP LOCKED)
                     RETURNING id, partner, path, idempotency_key, body, trace_id, attempts, next_attempt_at_us",
                    args![owner, until, partner, now_us, limit],
                )?;
                tx.commit()?;
                Ok::<_, DbError>(rows)
            })();
            let _ = answer.send(claimed);
        }));
        let mut rows = rx
            .blocking_recv()
            .unwrap_or_else(|_| Err(DbError::new("the outbox claim was lost (its thread stopped)")))?;
        let key = |r: &Row| (r.get::<i64>(7).unwrap_or(0), r.get::<i64>(0).unwrap_or(0));
        rows.sort_by_key(key);
        Ok(rows)
    }
}

/// A connection thread: runs queued jobs until the pool is dropped,
/// reconnecting a connection that broke.
fn serve(config: &postgres::Config, client: &mut postgres::Client, queue: &Mutex<mpsc::Receiver<PgJob>>) {
    loop {
        let job = match queue.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        if client.is_closed() {
            match connect(config) {
                Ok(c) => *client = c,
                Err(e) => tracing::error!(error = %e, "failed to reconnect to PostgreSQL"),
            }
        }
        // A panicking job drops its answer (its caller sees a storage
        // error); an open transaction rolls back as it is dropped.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(client)));
    }
}

fn create_schema(client: &mut postgres::Client, tables: &[String]) -> Result<(), DbError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
    for ddl in std::iter::once(SCHEMA).chain(tables.iter().map(String::as_str)) {
        tx.batch_execute(&ddl_for(Engine::Postgres, ddl))?;
    }
    upgrade_schema(&PgConn::new(&mut tx))?;
    tx.batch_execute(LEASE_DDL)?;
    tx.execute(
        "CREATE INDEX IF NOT EXISTS outbox_lease ON outbox(partner, state, lease_until_us)",
        &[],
    )?;
    tx.commit()?;
    Ok(())
}

/// Runs `f` in a SERIALIZABLE transaction, retried whole on a conflict
/// with another transaction (see the module docs).
pub(crate) fn serializable<R>(
    client: &mut postgres::Client,
    f: &impl Fn(&dyn Conn) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let mut tries = 0;
    loop {
        tries += 1;
        let outcome = (|| {
            let mut tx = client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::Serializable)
                .start()
                .map_err(|e| {
                    let e = DbError::from(e);
                    (e.retryable(), ApiError::from(e))
                })?;
            let conn = PgConn::new(&mut tx);
            let r = f(&conn);
            let retry = conn.failed_retryable();
            match r {
                Ok(v) => match tx.commit() {
                    Ok(()) => Ok(v),
                    Err(e) => {
                        let e = DbError::from(e);
                        Err((e.retryable(), ApiError::from(e)))
                    }
                },
                // Dropping the transaction rolls it back.
                Err(e) => Err((retry, e)),
            }
        })();
        match outcome {
            Ok(v) => return Ok(v),
            Err((true, _)) if tries < MAX_TRIES => {
                let backoff_us = (200u64 << tries.min(8)).min(50_000);
                std::thread::sleep(Duration::from_micros(
                    backoff_us / 2 + rand::random::<u64>() % (backoff_us / 2 + 1),
                ));
            }
            Err((_, e)) => return Err(e),
        }
    }
}

/// Checks that `url` is a PostgreSQL connection URL the client accepts
/// (without connecting).
pub fn check_url(url: &str) -> Result<(), String> {
    url.parse::<postgres::Config>()
        .map(|_| ())
        .map_err(|e| format!("invalid PostgreSQL URL {}: {e}", redact(url)))
}

/// `url` with its database name replaced by `name` (query kept).
pub fn with_database(url: &str, name: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let (head, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let base = match head[authority_start..].find('/') {
        Some(slash) => &head[..authority_start + slash],
        None => head,
    };
    format!("{base}/{name}{query}")
}

/// A database of its own on a PostgreSQL server, created with a unique
/// name and dropped (connections forced off) when this guard is: one
/// scenario run, one test, one benchmark round. Reruns never collide.
#[derive(Debug)]
pub struct ScratchDb {
    /// The server as given (its database, default `postgres`, is where
    /// `CREATE DATABASE` runs).
    server: String,
    pub name: String,
}

impl ScratchDb {
    /// Creates `<prefix>_<pid>_<counter>_<random>` on the server of `server_url`.
    pub fn create(server_url: &str, prefix: &str) -> Result<Self, DbError> {
        let name = scratch_name(prefix);
        admin(server_url, format!("CREATE DATABASE {name}"))?;
        Ok(Self {
            server: server_url.to_owned(),
            name,
        })
    }

    /// The connection URL of this database.
    pub fn url(&self) -> String {
        with_database(&self.server, &self.name)
    }

    /// Like [`create`](Self::create), but the database starts with the
    /// core's schema: it is copied (`CREATE DATABASE … TEMPLATE`) from a
    /// template database that has it, made once per server and schema
    /// (`crossdock_tpl_<hash of the DDL>`) and kept for later processes, so
    /// each test skips creating the tables. The template is made under a
    /// scratch name and renamed when complete, so concurrent processes
    /// never copy a half-made one.
    /// `tables`: the DDL of the layers above, as [`super::Store::open_postgres`]
    /// takes it.
    pub fn create_migrated(server_url: &str, prefix: &str, tables: &[&str]) -> Result<Self, DbError> {
        static TEMPLATES: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
        let tables: Vec<String> = tables.iter().map(|t| (*t).to_owned()).collect();
        let wanted = template_name(&tables);
        let template = {
            let mut made = TEMPLATES.lock().unwrap_or_else(|e| e.into_inner());
            match made
                .iter()
                .find(|(server, name)| server == server_url && *name == wanted)
            {
                Some((_, name)) => name.clone(),
                None => {
                    let name = schema_template(server_url, wanted, tables)?;
                    made.push((server_url.to_owned(), name.clone()));
                    name
                }
            }
        };
        let name = scratch_name(prefix);
        admin(server_url, format!("CREATE DATABASE {name} TEMPLATE {template}"))?;
        Ok(Self {
            server: server_url.to_owned(),
            name,
        })
    }
}

fn scratch_name(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        rand::random::<u32>()
    )
}

/// The name of the template database of the schema `tables` complete: a
/// hash of its DDL.
fn template_name(tables: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut ddl = Sha256::new();
    for part in std::iter::once(SCHEMA).chain(tables.iter().map(String::as_str)) {
        ddl.update(ddl_for(Engine::Postgres, part).as_bytes());
    }
    for part in TRACE_INDEXES {
        ddl.update(part.as_bytes());
    }
    ddl.update(LEASE_DDL.as_bytes());
    let hash = ddl.finalize();
    format!(
        "crossdock_tpl_{}",
        hash[..8].iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The database `name` on `server` holding the schema `tables` complete,
/// made if missing (see [`ScratchDb::create_migrated`]).
fn schema_template(server: &str, name: String, tables: Vec<String>) -> Result<String, DbError> {
    let exists = |name: &str| -> Result<bool, DbError> {
        let name = name.to_owned();
        on_admin_thread(server, move |c| {
            Ok(
                c.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
                    .is_some(),
            )
        })
    };
    if exists(&name)? {
        return Ok(name);
    }
    let draft = scratch_name(&name);
    admin(server, format!("CREATE DATABASE {draft}"))?;
    let made = (|| {
        let mut config: postgres::Config = with_database(server, &draft)
            .parse()
            .map_err(|e| DbError::new(format!("invalid PostgreSQL URL {}: {e}", redact(server))))?;
        config.connect_timeout(Duration::from_secs(5));
        std::thread::spawn(move || {
            let mut client = connect(&config)?;
            create_schema(&mut client, &tables)
        })
        .join()
        .unwrap_or_else(|_| Err(DbError::new("the PostgreSQL schema thread panicked")))?;
        admin(server, format!("ALTER DATABASE {draft} RENAME TO {name}"))
    })();
    if made.is_err() {
        let _ = admin(server, format!("DROP DATABASE IF EXISTS {draft} WITH (FORCE)"));
        // Another process renamed its draft first: use that one.
        if !exists(&name)? {
            made?;
        }
    }
    Ok(name)
}

/// Runs `sql` on the admin database of `server`, on a thread of its own:
/// the sync client must not run inside a tokio runtime.
fn admin(server: &str, sql: String) -> Result<(), DbError> {
    on_admin_thread(server, move |client| {
        client.batch_execute(&sql).map_err(DbError::from)
    })
}

/// Runs `f` with a client of the admin database of `server`, on a thread
/// of its own.
fn on_admin_thread<R: Send + 'static>(
    server: &str,
    f: impl FnOnce(&mut postgres::Client) -> Result<R, DbError> + Send + 'static,
) -> Result<R, DbError> {
    let server = server.to_owned();
    std::thread::spawn(move || {
        let mut config: postgres::Config = server
            .parse()
            .map_err(|e| DbError::new(format!("invalid PostgreSQL URL {}: {e}", redact(&server))))?;
        if config.get_dbname().is_none() {
            config.dbname("postgres");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        let mut client = connect(&config).map_err(|e| DbError {
            message: format!("PostgreSQL at {}: {}", redact(&server), e.message),
            code: e.code,
        })?;
        f(&mut client)
    })
    .join()
    .unwrap_or_else(|_| Err(DbError::new("the PostgreSQL admin thread panicked")))
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let Err(e) = admin(
            &self.server,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            tracing::warn!(database = %self.name, error = %e, "failed to drop a scratch database");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced_and_its_query_kept() {
        for (url, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432",
                "postgres://postgres@127.0.0.1:5432/x",
            ),
            ("postgres://u:p@h/db", "postgres://u:p@h/x"),
            (
                "postgresql://h:5432/db?sslmode=disable",
                "postgresql://h:5432/x?sslmode=disable",
            ),
            (
                "postgres://h?connect_timeout=2",
                "postgres://h/x?connect_timeout=2",
            ),
        ] {
            assert_eq!(with_database(url, "x"), expected);
        }
    }
}
