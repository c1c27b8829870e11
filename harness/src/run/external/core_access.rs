//! The run's one view of the core — in process (one or several replicas)
//! or at a URL — and of the activity through the proxies, so quiescence
//! and reconciliation do not care which.

use contracts::routes::core;
use integration_core::OpsStatus;

use super::plan::{ExternalCore, client};
use crate::run::options::RunError;
use crate::run::store::Cores;

/// The core a run talks to: its own (one or several replicas), or one at a
/// URL.
pub enum CoreAccess {
    InProcess(Cores),
    External {
        url: String,
        ops_token: String,
        http: reqwest::Client,
    },
}

impl CoreAccess {
    /// Starts the in-process reference core, as `replicas` replicas.
    pub async fn start(
        config: integration_core::CoreConfig,
        listener: tokio::net::TcpListener,
        replicas: u32,
    ) -> Result<Self, RunError> {
        Cores::start(config, listener, replicas)
            .await
            .map(CoreAccess::InProcess)
            .map_err(|e| RunError::Start {
                what: "the reference core",
                message: e.to_string(),
            })
    }

    /// An external core, reached with its ops token.
    pub fn external(core: &ExternalCore) -> Result<Self, RunError> {
        Ok(CoreAccess::External {
            url: core.url.clone(),
            ops_token: core.ops_token.clone(),
            http: client()?,
        })
    }

    pub fn url(&self) -> String {
        match self {
            CoreAccess::InProcess(c) => c.first().url(),
            CoreAccess::External { url, .. } => url.clone(),
        }
    }

    /// Outbox and inbox depth: from the store, or `GET /v1/ops/status`.
    pub async fn status(&self) -> Result<OpsStatus, String> {
        match self {
            CoreAccess::InProcess(c) => c.status().await.map_err(|e| e.to_string()),
            CoreAccess::External { url, ops_token, http } => {
                let r = http
                    .get(format!("{url}{}", core::OPS_STATUS))
                    .bearer_auth(ops_token)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    return Err(format!("GET {} answered {}", core::OPS_STATUS, r.status()));
                }
                r.json().await.map_err(|e| e.to_string())
            }
        }
    }

    /// Stops the in-process core; an external one keeps running.
    pub async fn stop(self) {
        if let CoreAccess::InProcess(c) = self {
            c.stop().await;
        }
    }
}
