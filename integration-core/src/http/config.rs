//! The core's configuration: what a binary builds and hands to
//! [`crate::start`].
//!
//! **Layer**: http (the served core's settings). Imports the flows', the
//! outbox's and the store's settings, and http's `auth`; never `state` or
//! the handlers.

use std::path::PathBuf;

use super::auth::{Credentials, RateLimit};
use crate::flows;
use crate::outbox::events::EventsConfig;
use crate::outbox::{Partners, RetryConfig};
use crate::store::{StoreLocation, StoreOptions};

/// Everything the core needs to run.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The SQLite database file (created if absent); unused when
    /// `postgres` is set.
    pub database: PathBuf,
    /// A PostgreSQL connection URL (`postgres://…`): the store lives there
    /// instead of in `database`, and several cores may share it.
    pub postgres: Option<String>,
    pub partners: Partners,
    pub retry: RetryConfig,
    /// Seed of the jitter RNG.
    pub seed: u64,
    /// Recognise a resent ASN by (supplier, asn_id). Always on in a real
    /// deployment; the harness's own tests turn it off to prove that its
    /// checks catch the duplicates that follow.
    pub asn_dedup: bool,
    /// How long an order release waits for the WMS's decision.
    pub release_timeout: std::time::Duration,
    /// Report a release the WMS could not decide as rejected, though the WMS
    /// may hold it. Never in a real deployment: the harness's tests turn it
    /// on to prove that invariant 17's check catches the orders that follow.
    pub release_failure_rejects: bool,
    /// Group commit of the store.
    pub store: StoreOptions,
    /// Ignore a receipt event whose seq is not above the last applied for
    /// its receipt (invariant 10). Always on in a real deployment; the
    /// harness's tests turn it off to prove its checks catch the result.
    pub ignore_stale_receipts: bool,
    /// The 3-way match's tolerances.
    pub invoicing: flows::invoicing::MatchConfig,
    /// Recognise a redelivered inventory adjustment by its
    /// `source_event_id`. Always on in a real deployment; the harness's own
    /// tests turn it off to prove that its checks catch the doubles.
    pub adjustment_dedup: bool,
    /// Refuse a reconciliation (409) while adjustments to the ERP are still
    /// pending. Always on in a real deployment; off, a second run reads the
    /// ERP's books before the first run's corrections land and corrects
    /// again (the harness's tests prove its check catches that).
    pub reconciliation_guard: bool,
    /// Bearer tokens of the partners and operators. Empty means nobody may
    /// call (every request but `/openapi.json` gets 401): the core is never
    /// open by default.
    pub credentials: Credentials,
    /// A token bucket per caller; `None` for no limit.
    pub rate_limit: Option<RateLimit>,
    /// Publish CloudEvents to NATS JetStream; `None` (the default): no
    /// event is queued or published.
    pub events: Option<EventsConfig>,
}

impl CoreConfig {
    pub fn new(database: PathBuf, partners: Partners) -> Self {
        Self {
            database,
            postgres: None,
            partners,
            retry: RetryConfig::default(),
            seed: 0,
            asn_dedup: true,
            release_timeout: flows::outbound::DEFAULT_RELEASE_TIMEOUT,
            release_failure_rejects: false,
            store: StoreOptions::default(),
            ignore_stale_receipts: true,
            invoicing: flows::invoicing::MatchConfig::default(),
            adjustment_dedup: true,
            reconciliation_guard: true,
            credentials: Credentials::default(),
            rate_limit: None,
            events: None,
        }
    }
}

impl CoreConfig {
    /// Where the store lives: `postgres` if set, else the SQLite file.
    pub fn store_location(&self) -> StoreLocation {
        match &self.postgres {
            Some(url) => StoreLocation::Postgres(url.clone()),
            None => StoreLocation::Sqlite(self.database.clone()),
        }
    }
}
