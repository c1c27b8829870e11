//! `crossdock core`: the reference integration core as a standalone service.
//!
//! Configuration is a TOML file (every field optional; the defaults run on
//! a fresh machine):
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! database = "target/crossdock/core/core.sqlite"   # created if absent
//!
//! [partners]                       # base URLs the outbox delivers to
//! erp = "http://127.0.0.1:7001"
//! wms = "http://127.0.0.1:7002"
//! supplier = "http://127.0.0.1:7003"
//!
//! [retry]
//! max_attempts = 12
//! base_ms = 50
//! cap_ms = 10000
//! timeout_ms = 5000
//! concurrency = 32
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use integration_core::{CoreConfig, Partners};

use crate::scenario::{ScenarioError, read_toml};

fn default_listen() -> SocketAddr {
    "127.0.0.1:8080".parse().expect("a valid address")
}

fn default_database() -> PathBuf {
    PathBuf::from("target/crossdock/core/core.sqlite")
}

/// Partner base URLs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnersFile {
    #[serde(default = "default_erp")]
    pub erp: String,
    #[serde(default = "default_wms")]
    pub wms: String,
    #[serde(default = "default_supplier")]
    pub supplier: String,
}

fn default_erp() -> String {
    "http://127.0.0.1:7001".into()
}
fn default_wms() -> String {
    "http://127.0.0.1:7002".into()
}
fn default_supplier() -> String {
    "http://127.0.0.1:7003".into()
}

impl Default for PartnersFile {
    fn default() -> Self {
        Self {
            erp: default_erp(),
            wms: default_wms(),
            supplier: default_supplier(),
        }
    }
}

/// The retry schedule; absent fields keep the core's defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryFile {
    pub max_attempts: Option<crate::scenario::Positive>,
    pub base_ms: Option<crate::scenario::Positive>,
    pub cap_ms: Option<crate::scenario::Positive>,
    pub timeout_ms: Option<crate::scenario::Positive>,
    pub concurrency: Option<crate::scenario::Positive>,
    /// Consecutive failures that open a partner's circuit breaker.
    pub breaker_failures: Option<crate::scenario::Positive>,
    /// How long an open breaker waits before its half-open probe.
    pub breaker_cool_down_ms: Option<crate::scenario::Positive>,
    /// In-flight deliveries per partner, overriding `concurrency`.
    #[serde(default)]
    pub partner_concurrency: PartnerConcurrencyFile,
}

/// `[retry.partner_concurrency]`: in-flight limits for single partners.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerConcurrencyFile {
    pub erp: Option<crate::scenario::Positive>,
    pub wms: Option<crate::scenario::Positive>,
    pub supplier: Option<crate::scenario::Positive>,
}

/// The core's configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoreFile {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default = "default_database")]
    pub database: PathBuf,
    #[serde(default)]
    pub partners: PartnersFile,
    #[serde(default)]
    pub retry: RetryFile,
}

impl Default for CoreFile {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            database: default_database(),
            partners: PartnersFile::default(),
            retry: RetryFile::default(),
        }
    }
}

/// Why the core did not run.
#[derive(Debug, thiserror::Error)]
pub enum CoreCmdError {
    #[error(transparent)]
    Config(#[from] ScenarioError),
    #[error("{0}")]
    BadInput(String),
    #[error("failed to {what}: {message}")]
    Start { what: String, message: String },
}

impl CoreCmdError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CoreCmdError::Config(_) | CoreCmdError::BadInput(_) => crate::exit::BAD_INPUT,
            CoreCmdError::Start { .. } => crate::exit::INFRASTRUCTURE,
        }
    }
}

/// Reads the configuration file (the defaults when `file` is `None`).
pub fn load_config(file: Option<&Path>) -> Result<CoreFile, CoreCmdError> {
    let Some(file) = file else {
        return Ok(CoreFile::default());
    };
    Ok(read_toml(file, "configuration")?)
}

/// The core's configuration from the file's values.
pub fn core_config(file: &CoreFile) -> Result<CoreConfig, CoreCmdError> {
    for (name, url) in [
        ("erp", &file.partners.erp),
        ("wms", &file.partners.wms),
        ("supplier", &file.partners.supplier),
    ] {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(CoreCmdError::BadInput(format!(
                "partners.{name}: expected an http:// or https:// URL, found {url:?}"
            )));
        }
    }
    let mut config = CoreConfig::new(
        file.database.clone(),
        Partners {
            erp: file.partners.erp.clone(),
            wms: file.partners.wms.clone(),
            supplier: file.partners.supplier.clone(),
        },
    );
    let r = &file.retry;
    if let Some(n) = r.max_attempts {
        config.retry.policy.max_attempts = n.0;
    }
    if let Some(n) = r.base_ms {
        config.retry.backoff.base = Duration::from_millis(u64::from(n.0));
    }
    if let Some(n) = r.cap_ms {
        config.retry.backoff.cap = Duration::from_millis(u64::from(n.0));
    }
    if let Some(n) = r.timeout_ms {
        config.retry.timeout = Duration::from_millis(u64::from(n.0));
    }
    if let Some(n) = r.concurrency {
        config.retry.concurrency = n.0 as usize;
    }
    if let Some(n) = r.breaker_failures {
        config.retry.breaker.failure_threshold = n.0;
    }
    if let Some(n) = r.breaker_cool_down_ms {
        config.retry.breaker.cool_down = Duration::from_millis(u64::from(n.0));
    }
    let p = &r.partner_concurrency;
    config.retry.limits.erp = p.erp.map(|n| n.0 as usize);
    config.retry.limits.wms = p.wms.map(|n| n.0 as usize);
    config.retry.limits.supplier = p.supplier.map(|n| n.0 as usize);
    if config.retry.backoff.base > config.retry.backoff.cap {
        return Err(CoreCmdError::BadInput(format!(
            "retry: expected base_ms <= cap_ms, found {} > {}",
            config.retry.backoff.base.as_millis(),
            config.retry.backoff.cap.as_millis()
        )));
    }
    Ok(config)
}

/// Runs the core on `listen` until `shutdown`; `started` gets its URL.
pub async fn run_core(
    file: CoreFile,
    started: impl FnOnce(&str),
    shutdown: impl Future<Output = ()>,
) -> Result<(), CoreCmdError> {
    let config = core_config(&file)?;
    if let Some(dir) = config.database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CoreCmdError::Start {
            what: format!("create {}", dir.display()),
            message: e.to_string(),
        })?;
    }
    let listener = tokio::net::TcpListener::bind(file.listen)
        .await
        .map_err(|e| CoreCmdError::Start {
            what: format!("listen on {}", file.listen),
            message: e.to_string(),
        })?;
    let core = integration_core::start(config, listener).map_err(|e| CoreCmdError::Start {
        what: "start the core".into(),
        message: e.to_string(),
    })?;
    started(&core.url());
    shutdown.await;
    core.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_run_on_a_fresh_machine_and_a_file_overrides_them() {
        let d = load_config(None).unwrap();
        assert_eq!(d.listen, default_listen());
        assert_eq!(d.database, default_database());
        let c = core_config(&d).unwrap();
        assert_eq!(c.partners.erp, "http://127.0.0.1:7001");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:0\"\n[partners]\nwms = \"http://127.0.0.1:9000\"\n[retry]\nmax_attempts = 3\ncap_ms = 200\n").unwrap();
        let f = load_config(Some(&path)).unwrap();
        let c = core_config(&f).unwrap();
        assert_eq!(c.partners.wms, "http://127.0.0.1:9000");
        assert_eq!(c.partners.erp, "http://127.0.0.1:7001");
        assert_eq!(c.retry.policy.max_attempts, 3);
        assert_eq!(c.retry.backoff.cap, Duration::from_millis(200));
    }

    #[test]
    fn breaker_and_partner_limits_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core.toml");
        std::fs::write(
            &path,
            "[retry]\nconcurrency = 8\nbreaker_failures = 3\nbreaker_cool_down_ms = 2500\n\
             [retry.partner_concurrency]\nerp = 15\n",
        )
        .unwrap();
        let c = core_config(&load_config(Some(&path)).unwrap()).unwrap();
        assert_eq!(c.retry.breaker.failure_threshold, 3);
        assert_eq!(c.retry.breaker.cool_down, Duration::from_millis(2500));
        assert_eq!(c.retry.limit(contracts::Role::Erp), 15);
        assert_eq!(c.retry.limit(contracts::Role::Wms), 8);

        std::fs::write(&path, "[retry.partner_concurrency]\ncrm = 2\n").unwrap();
        let e = load_config(Some(&path)).unwrap_err();
        assert!(e.to_string().contains("core.toml:2:"), "{e}");
    }

    #[test]
    fn bad_configuration_is_located_or_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core.toml");
        std::fs::write(&path, "[retry]\nmax_attempts = 0\n").unwrap();
        let e = load_config(Some(&path)).unwrap_err();
        assert!(e.to_string().contains("core.toml:2:"), "{e}");
        assert!(e.to_string().contains("retry.max_attempts"), "{e}");

        std::fs::write(&path, "[partners]\nerp = \"ftp://x\"\n").unwrap();
        let e = core_config(&load_config(Some(&path)).unwrap()).unwrap_err();
        assert!(e.to_string().contains("partners.erp: expected an http"), "{e}");
        assert_eq!(e.exit_code(), crate::exit::BAD_INPUT);

        std::fs::write(&path, "colour = \"blue\"\n").unwrap();
        let e = load_config(Some(&path)).unwrap_err();
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    }
}
