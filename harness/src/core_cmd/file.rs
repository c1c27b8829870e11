//! The configuration file of `crossdock core`: its TOML form, defaults,
//! validated values, and reading it (errors name file, line and field).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use scenario::{Positive, ScenarioError, read_toml};
use serde::Deserialize;

pub fn default_listen() -> SocketAddr {
    "127.0.0.1:8080".parse().expect("a valid address")
}

pub fn default_database() -> PathBuf {
    PathBuf::from("target/crossdock/core/core.sqlite")
}

/// An http:// or https:// URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(pub String);

impl std::str::FromStr for HttpUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if (s.starts_with("http://") || s.starts_with("https://")) && s.len() > "https://".len() {
            Ok(HttpUrl(s.to_owned()))
        } else {
            Err(format!("expected an http:// or https:// URL, found {s:?}"))
        }
    }
}

/// A bearer token: at least 16 visible ASCII characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl std::str::FromStr for Token {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() >= 16 && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Token(s.to_owned()))
        } else {
            Err(format!(
                "expected a token of at least 16 visible ASCII characters, found one of {} characters",
                s.chars().count()
            ))
        }
    }
}

/// A GS1 GLN (13 digits, valid check digit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlnText(pub String);

impl std::str::FromStr for GlnText {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        contracts::Gln::parse(s)
            .map(|g| GlnText(g.as_str().to_owned()))
            .map_err(|e| format!("expected a GLN: {e}"))
    }
}

macro_rules! deserialize_from_str {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
/// Where the store lives: a `postgres://` URL (checked), or a SQLite path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreText(pub integration_core::StoreLocation);

impl std::str::FromStr for StoreText {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err("expected a SQLite file path or a postgres:// URL, found nothing".into());
        }
        let location = integration_core::StoreLocation::parse(s);
        if let integration_core::StoreLocation::Postgres(url) = &location {
            integration_core::pgstore::check_url(url)?;
        }
        Ok(StoreText(location))
    }
}

/// The SQLite committer's `commit_interval` in milliseconds: 0 (off) to
/// [`CommitIntervalMs::MAX`]. It is how long a busy committer may hold a
/// batch, so it bounds the latency it adds to every write under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitIntervalMs(pub u32);

impl CommitIntervalMs {
    pub const MAX: u32 = 1000;

    fn new(ms: i64) -> Option<Self> {
        u32::try_from(ms)
            .ok()
            .filter(|ms| *ms <= Self::MAX)
            .map(CommitIntervalMs)
    }

    fn expected(found: impl std::fmt::Display) -> String {
        format!(
            "expected milliseconds from 0 (off) to {}, found {found}",
            Self::MAX
        )
    }
}

impl std::str::FromStr for CommitIntervalMs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.trim()
            .parse::<i64>()
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| Self::expected(format_args!("{s:?}")))
    }
}

impl<'de> Deserialize<'de> for CommitIntervalMs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        Self::new(v).ok_or_else(|| serde::de::Error::custom(Self::expected(v)))
    }
}

deserialize_from_str!(HttpUrl, Token, GlnText, StoreText);

/// Partner base URLs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnersFile {
    #[serde(default = "default_erp")]
    pub erp: HttpUrl,
    #[serde(default = "default_wms")]
    pub wms: HttpUrl,
    #[serde(default = "default_supplier")]
    pub supplier: HttpUrl,
}

fn default_erp() -> HttpUrl {
    HttpUrl("http://127.0.0.1:7001".into())
}
fn default_wms() -> HttpUrl {
    HttpUrl("http://127.0.0.1:7002".into())
}
fn default_supplier() -> HttpUrl {
    HttpUrl("http://127.0.0.1:7003".into())
}

/// One supplier's token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierToken {
    pub gln: GlnText,
    pub token: Token,
}

/// Bearer tokens.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    pub erp_token: Option<Token>,
    pub wms_token: Option<Token>,
    pub ops_token: Option<Token>,
    #[serde(default)]
    pub suppliers: Vec<SupplierToken>,
}

/// The core's own per-caller rate limit.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFile {
    /// Default true.
    pub enabled: Option<bool>,
    /// Default 1000.
    pub per_second: Option<Positive>,
    /// Default 2000.
    pub burst: Option<Positive>,
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
    pub max_attempts: Option<Positive>,
    pub base_ms: Option<Positive>,
    pub cap_ms: Option<Positive>,
    pub timeout_ms: Option<Positive>,
    pub concurrency: Option<Positive>,
    /// Consecutive failures that open a partner's circuit breaker.
    pub breaker_failures: Option<Positive>,
    /// How long an open breaker waits before its half-open probe.
    pub breaker_cool_down_ms: Option<Positive>,
    /// In-flight deliveries per partner, overriding `concurrency`.
    #[serde(default)]
    pub partner_concurrency: PartnerConcurrencyFile,
}

/// `[retry.partner_concurrency]`: in-flight limits for single partners.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerConcurrencyFile {
    pub erp: Option<Positive>,
    pub wms: Option<Positive>,
    pub supplier: Option<Positive>,
}

/// `[events]`: publishing CloudEvents to NATS JetStream. Without `url`,
/// the core publishes nothing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsFile {
    pub url: Option<String>,
    pub stream: Option<String>,
    pub subject_prefix: Option<String>,
    pub source: Option<String>,
}

impl EventsFile {
    /// The core's events configuration, checked; `None` without a URL.
    pub fn resolve(&self) -> Result<Option<integration_core::EventsConfig>, CoreCmdError> {
        let Some(url) = &self.url else {
            if self.stream.is_some() || self.subject_prefix.is_some() || self.source.is_some() {
                return Err(CoreCmdError::BadInput(
                    "events ([events] in the file or CROSSDOCK_EVENTS_*): stream, subject_prefix or source given without url (--events nats://…)".into(),
                ));
            }
            return Ok(None);
        };
        let mut config = integration_core::EventsConfig::new(url);
        if let Some(v) = &self.stream {
            config.stream.clone_from(v);
        }
        if let Some(v) = &self.subject_prefix {
            config.subject_prefix.clone_from(v);
        }
        if let Some(v) = &self.source {
            config.source.clone_from(v);
        }
        config.validate().map_err(|e| {
            CoreCmdError::BadInput(format!(
                "events ([events] in the file or CROSSDOCK_EVENTS_*): {e}"
            ))
        })?;
        Ok(Some(config))
    }
}

/// The core's configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoreFile {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default = "default_database")]
    pub database: PathBuf,
    /// The store: a SQLite path or a `postgres://` URL; overrides `database`.
    pub store: Option<StoreText>,
    /// PostgreSQL: how long a replica's claim on an outbox row lasts.
    pub outbox_lease_ms: Option<Positive>,
    /// SQLite, under load: the shortest time between two commits' starts
    /// (`StoreOptions::commit_interval`); 0 turns gathering off.
    pub commit_interval_ms: Option<CommitIntervalMs>,
    #[serde(default)]
    pub partners: PartnersFile,
    #[serde(default)]
    pub retry: RetryFile,
    #[serde(default)]
    pub auth: AuthFile,
    #[serde(default)]
    pub rate_limit: RateLimitFile,
    #[serde(default)]
    pub events: EventsFile,
}

impl Default for CoreFile {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            database: default_database(),
            store: None,
            outbox_lease_ms: None,
            commit_interval_ms: None,
            partners: PartnersFile::default(),
            retry: RetryFile::default(),
            auth: AuthFile::default(),
            rate_limit: RateLimitFile::default(),
            events: EventsFile::default(),
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
    /// The PostgreSQL store (`--store postgres://…`) did not answer or
    /// refused us: bad input, like an unreachable `--events`.
    #[error("the PostgreSQL store (--store) is unreachable: {0}")]
    Unreachable(String),
}

impl CoreCmdError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CoreCmdError::Config(_) | CoreCmdError::BadInput(_) | CoreCmdError::Unreachable(_) => {
                crate::exit::BAD_INPUT
            }
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
