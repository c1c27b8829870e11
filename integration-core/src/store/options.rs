//! How the store commits ([`StoreOptions`]). Plain settings: imports
//! nothing of the crate.

/// Prepared statements kept per SQLite connection.
pub(crate) const STATEMENT_CACHE: usize = 256;

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
    /// SQLite, under load: the shortest time between the starts of two
    /// commits. Each commit rewrites the last page of every b-tree its jobs
    /// touched (~60 pages in the inbound flow, whatever the batch), so
    /// fewer, larger commits write less per job. The committer gathers
    /// only while it is busy (the previous batch had at least
    /// [`GATHER_FROM`] jobs) and only while jobs keep coming (each within
    /// [`GATHER_GAP`] of the last): a lone request, or clients that all
    /// wait on the batch at hand, are committed at once. Zero turns it off.
    pub commit_interval: std::time::Duration,
}

/// Jobs in the previous batch from which the committer gathers (see
/// [`StoreOptions::commit_interval`]).
pub const GATHER_FROM: usize = 16;

/// The longest pause between two jobs while the committer gathers.
pub const GATHER_GAP: std::time::Duration = std::time::Duration::from_millis(1);

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_batch: 512,
            pg_connections: 4,
            lease: std::time::Duration::from_secs(30),
            commit_interval: std::time::Duration::from_millis(20),
        }
    }
}
