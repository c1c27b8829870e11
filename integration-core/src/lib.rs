//! crossdock's reference integration core: the service between ERP,
//! suppliers and WMS. Durable SQLite inbox and outbox, Idempotency-Key on
//! every intake, business-key dedupe, retry with backoff and jitter,
//! RFC 9457 problems.
//!
//! Library only: a binary (the harness, or `crossdock core` later) builds a
//! [`CoreConfig`] and calls [`start`].

mod api;
pub mod auth;
pub mod db;
pub mod error;
pub mod events;
pub mod flows;
mod metrics;
pub mod outbound;
pub mod outbox;
pub mod pgstore;
mod server;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

pub use auth::{Caller, Credentials, RateLimit};
pub use events::EventsConfig;
pub use outbox::{Backoff, BreakerConfig, PartnerLimits, RetryConfig, RetryPolicy};
pub use store::{OpsStatus, Store, StoreLocation, StoreOptions};

/// Largest request body the core reads.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Base URLs of the partners the core delivers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partners {
    pub erp: String,
    pub wms: String,
    pub supplier: String,
}

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
            release_timeout: outbound::DEFAULT_RELEASE_TIMEOUT,
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

/// Why the core did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("failed to open the store {location}: {source}")]
    Database {
        location: String,
        #[source]
        source: db::DbError,
    },
    #[error("failed to use the listener: {0}")]
    Listener(#[source] std::io::Error),
    #[error(transparent)]
    Events(#[from] events::EventsConfigError),
}

pub(crate) struct CoreState {
    pub config: CoreConfig,
    /// Contract validation (schema + domain rules): every intake is checked
    /// against its own type before anything is stored or forwarded.
    pub validator: contracts::validate::Validator,
    pub store: Arc<Store>,
    pub outbox_notify: Arc<Notify>,
    /// The synchronous order-release client, and releases waiting on it.
    pub release_http: reqwest::Client,
    pub releases_in_flight: outbound::InFlight,
    /// Reconciliation runs one at a time.
    pub reconciling: tokio::sync::Mutex<()>,
    /// Reads partners' snapshots (reconciliation).
    pub http: reqwest::Client,
    pub limiter: Option<auth::Limiter>,
    pub metrics: metrics::Metrics,
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A running core.
#[derive(Debug)]
pub struct CoreHandle {
    pub addr: SocketAddr,
    store: Arc<Store>,
    stop_server: Option<oneshot::Sender<()>>,
    stop_worker: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    worker: JoinHandle<()>,
}

impl CoreHandle {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Outbox and inbox depth.
    pub async fn status(&self) -> Result<OpsStatus, db::DbError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.ops_status())
            .await
            .map_err(|e| db::DbError::new(format!("the status task failed: {e}")))?
    }

    /// Write transactions committed so far (one fsync each): with group
    /// commit, fewer than the writes.
    pub fn commits(&self) -> u64 {
        self.store.commits()
    }

    /// Stops the server (in-flight requests finish) and the outbox worker
    /// (in-flight deliveries finish); what is pending stays in the database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop_server.take() {
            let _ = tx.send(());
        }
        let _ = self.stop_worker.send(true);
        let _ = self.server.await;
        let _ = self.worker.await;
    }
}

/// Opens the store and serves the core on `listener`, with its outbox worker.
pub fn start(config: CoreConfig, listener: TcpListener) -> Result<CoreHandle, StartError> {
    if let Some(events) = &config.events {
        events.validate()?;
    }
    let store = Arc::new(
        Store::open_at(&config.store_location(), config.store).map_err(|source| StartError::Database {
            location: config.store_location().to_string(),
            source,
        })?,
    );
    let addr = listener.local_addr().map_err(StartError::Listener)?;
    let notify = Arc::new(Notify::new());
    let (stop_worker, worker_rx) = watch::channel(false);
    let worker = Arc::new(outbox::Worker::new(
        store.clone(),
        config.partners.clone(),
        config.retry,
        config.seed,
        notify.clone(),
        config.events.clone(),
    ));
    let worker = tokio::spawn(worker.run(worker_rx));

    if config.credentials.is_empty() {
        tracing::warn!("the core has no bearer tokens configured: every request will get 401");
    }
    let state = Arc::new(CoreState {
        limiter: config.rate_limit.map(auth::Limiter::new),
        metrics: metrics::Metrics::default(),
        validator: contracts::validate::Validator::new(),
        store: store.clone(),
        outbox_notify: notify,
        release_http: reqwest::Client::new(),
        releases_in_flight: outbound::InFlight::default(),
        reconciling: tokio::sync::Mutex::new(()),
        http: reqwest::Client::builder()
            .timeout(config.retry.timeout)
            .build()
            .expect("a plain HTTP client builds"),
        config,
    });
    let app = api::router(state);
    let (stop_server, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, app, rx));
    Ok(CoreHandle {
        addr,
        store,
        stop_server: Some(stop_server),
        stop_worker,
        server,
        worker,
    })
}
