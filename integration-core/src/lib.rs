//! crossdock's reference integration core: the service between ERP,
//! suppliers and WMS. Durable SQLite inbox and outbox, Idempotency-Key on
//! every intake, business-key dedupe, retry with backoff and jitter,
//! RFC 9457 problems.
//!
//! Library only: a binary (the harness, or `crossdock core` later) builds a
//! [`CoreConfig`] and calls [`start`].
//!
//! # Layers
//!
//! Each file imports only files of its own layer (without a cycle) or of
//! the layers below; `tests/it/layering.rs` checks it on every test run.
//! Bottom first:
//!
//! 1. [`error`] and `clock`: plain error types, the wall clock; import
//!    nothing of the crate.
//! 2. [`db`]: the SQL facade over SQLite and PostgreSQL.
//! 3. [`store`]: durable inbox and outbox, group commit, leases, the
//!    PostgreSQL pool ([`store::pg`]); runs the `apply` closures and
//!    creates the tables the layers above hand it, knows no flow.
//! 4. [`flows`] (business rules, each inside a store transaction; the
//!    order release's call to the WMS) and, beside them, [`outbox`]
//!    (delivery lanes, tower layers, the events publisher); neither
//!    imports the other.
//! 5. `http`: the router, handlers, auth, metrics, the accept loop, the
//!    core's configuration and shared state.
//! 6. This file: [`start`] wires the store, the outbox worker and the
//!    server together, and re-exports the public paths.

mod clock;
pub mod db;
pub mod error;
pub mod flows;
mod http;
pub mod outbox;
pub mod store;

pub use flows::outbound;
pub use http::auth;
pub use outbox::events;
pub use store::pg as pgstore;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

pub use http::MAX_BODY_BYTES;
pub use http::auth::{Caller, Credentials, RateLimit};
pub use http::config::CoreConfig;
pub use outbox::events::EventsConfig;
pub use outbox::{Backoff, BreakerConfig, PartnerLimits, Partners, RetryConfig, RetryPolicy};
pub use store::{OpsStatus, Store, StoreLocation, StoreOptions};

use http::state::CoreState;

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
        Store::open_at(&config.store_location(), config.store, flows::TABLES).map_err(|source| {
            StartError::Database {
                location: config.store_location().to_string(),
                source,
            }
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
        limiter: config.rate_limit.map(http::auth::Limiter::new),
        metrics: http::metrics::Metrics::default(),
        validator: contracts::validate::Validator::new(),
        store: store.clone(),
        outbox_notify: notify,
        release_http: reqwest::Client::new(),
        releases_in_flight: flows::outbound::InFlight::default(),
        reconciling: tokio::sync::Mutex::new(()),
        http: reqwest::Client::builder()
            .timeout(config.retry.timeout)
            .build()
            .expect("a plain HTTP client builds"),
        config,
    });
    let app = http::router(state);
    let (stop_server, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(http::server::serve(listener, app, rx));
    Ok(CoreHandle {
        addr,
        store,
        stop_server: Some(stop_server),
        stop_worker,
        server,
        worker,
    })
}
