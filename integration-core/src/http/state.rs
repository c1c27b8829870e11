//! What every handler shares: the configuration, the store, the contract
//! validator and the in-memory state of the served core.
//!
//! **Layer**: http. Imports http's `config`, `auth` and `metrics`, the
//! store and the outbound flow; never the handlers.

use std::sync::Arc;

use tokio::sync::Notify;

use super::auth;
use super::config::CoreConfig;
use super::metrics;
use crate::flows::outbound;
use crate::store::Store;

/// The state every handler and the middleware share.
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
