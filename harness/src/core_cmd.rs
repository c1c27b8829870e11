//! `crossdock core`: the reference integration core as a standalone service.
//!
//! Configuration is a TOML file (every field optional; the defaults run on
//! a fresh machine):
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! database = "target/crossdock/core/core.sqlite"   # created if absent
//! # store = "postgres://postgres@127.0.0.1:5432/crossdock"  # instead of database:
//! #   a PostgreSQL database (must exist) that several replicas may share
//! outbox_lease_ms = 30000          # PostgreSQL: how long a replica's outbox claim lasts
//! commit_interval_ms = 20          # SQLite, under load: shortest time between commits (0: off)
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
//!
//! [auth]                           # bearer tokens, at least 16 characters
//! erp_token = "…"
//! wms_token = "…"
//! ops_token = "…"                  # /v1/ops/*, /v1/trace/*, /metrics
//! [[auth.suppliers]]
//! gln = "5060000000016"
//! token = "…"
//!
//! [rate_limit]                     # a token bucket per caller
//! enabled = true
//! per_second = 1000
//! burst = 2000
//!
//! [events]                         # CloudEvents to NATS JetStream; off without url
//! url = "nats://127.0.0.1:4222"
//! stream = "CROSSDOCK_EVENTS"      # created if absent
//! subject_prefix = "crossdock.events"
//! source = "/crossdock/core"
//! ```
//!
//! Every key can also come from the environment, which overrides the file:
//! see [`ENV_VARS`]. Raw values are parsed first (a bad one is reported
//! with its file:line:column and field, or its variable), then the whole is
//! resolved and checked.
//!
//! No tokens configured: the core generates the ERP, WMS and ops tokens for
//! this run and prints them on stderr at start; suppliers have no token
//! until configured, and a warning says so.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use integration_core::{Caller, CoreConfig, Credentials, Partners, RateLimit};

use crate::scenario::{ScenarioError, read_toml};

fn default_listen() -> SocketAddr {
    "127.0.0.1:8080".parse().expect("a valid address")
}

fn default_database() -> PathBuf {
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
    pub per_second: Option<crate::scenario::Positive>,
    /// Default 2000.
    pub burst: Option<crate::scenario::Positive>,
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
    pub outbox_lease_ms: Option<crate::scenario::Positive>,
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

/// The environment variables `crossdock core` reads, each overriding the
/// file key beside it. `CROSSDOCK_AUTH_SUPPLIERS` is a comma-separated list
/// of `gln=token`, replacing the file's `[[auth.suppliers]]`.
pub const ENV_VARS: [(&str, &str); 27] = [
    ("CROSSDOCK_LISTEN", "listen"),
    ("CROSSDOCK_DATABASE", "database"),
    ("CROSSDOCK_STORE", "store"),
    ("CROSSDOCK_OUTBOX_LEASE_MS", "outbox_lease_ms"),
    ("CROSSDOCK_COMMIT_INTERVAL_MS", "commit_interval_ms"),
    ("CROSSDOCK_PARTNERS_ERP", "partners.erp"),
    ("CROSSDOCK_PARTNERS_WMS", "partners.wms"),
    ("CROSSDOCK_PARTNERS_SUPPLIER", "partners.supplier"),
    ("CROSSDOCK_RETRY_MAX_ATTEMPTS", "retry.max_attempts"),
    ("CROSSDOCK_RETRY_BASE_MS", "retry.base_ms"),
    ("CROSSDOCK_RETRY_CAP_MS", "retry.cap_ms"),
    ("CROSSDOCK_RETRY_TIMEOUT_MS", "retry.timeout_ms"),
    ("CROSSDOCK_RETRY_CONCURRENCY", "retry.concurrency"),
    ("CROSSDOCK_RETRY_BREAKER_FAILURES", "retry.breaker_failures"),
    (
        "CROSSDOCK_RETRY_BREAKER_COOL_DOWN_MS",
        "retry.breaker_cool_down_ms",
    ),
    ("CROSSDOCK_RETRY_PARTNER_CONCURRENCY", "retry.partner_concurrency"),
    ("CROSSDOCK_AUTH_ERP_TOKEN", "auth.erp_token"),
    ("CROSSDOCK_AUTH_WMS_TOKEN", "auth.wms_token"),
    ("CROSSDOCK_AUTH_OPS_TOKEN", "auth.ops_token"),
    ("CROSSDOCK_AUTH_SUPPLIERS", "auth.suppliers"),
    ("CROSSDOCK_RATE_LIMIT_ENABLED", "rate_limit.enabled"),
    ("CROSSDOCK_RATE_LIMIT_PER_SECOND", "rate_limit.per_second"),
    ("CROSSDOCK_RATE_LIMIT_BURST", "rate_limit.burst"),
    ("CROSSDOCK_EVENTS_URL", "events.url"),
    ("CROSSDOCK_EVENTS_STREAM", "events.stream"),
    ("CROSSDOCK_EVENTS_SUBJECT_PREFIX", "events.subject_prefix"),
    ("CROSSDOCK_EVENTS_SOURCE", "events.source"),
];

/// Variables with the prefix that other commands read; not a typo.
const OTHER_VARS: [&str; 1] = ["CROSSDOCK_LOG"];

fn positive(s: &str) -> Result<crate::scenario::Positive, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(crate::scenario::Positive(n)),
        _ => Err(format!("expected a positive integer, found {s:?}")),
    }
}

/// `erp=15,wms=8`: in-flight limits for single partners (each at most once).
fn partner_concurrency(s: &str) -> Result<PartnerConcurrencyFile, String> {
    let mut limits = PartnerConcurrencyFile::default();
    for (i, item) in s.split(',').map(str::trim).filter(|i| !i.is_empty()).enumerate() {
        let item_no = i + 1;
        let (partner, n) = item
            .split_once('=')
            .ok_or_else(|| format!("item {item_no}: expected partner=limit (e.g. erp=15), found {item:?}"))?;
        let slot = match partner.trim() {
            "erp" => &mut limits.erp,
            "wms" => &mut limits.wms,
            "supplier" => &mut limits.supplier,
            other => {
                return Err(format!(
                    "item {item_no}: expected a partner erp, wms or supplier, found {other:?}"
                ));
            }
        };
        if slot.is_some() {
            return Err(format!("item {item_no}: partner {} given twice", partner.trim()));
        }
        *slot = Some(positive(n).map_err(|e| format!("item {item_no}: {e}"))?);
    }
    Ok(limits)
}

/// Overrides `file` with the `CROSSDOCK_*` variables among `vars`. Returns
/// warnings (unknown `CROSSDOCK_*` names, likely typos).
pub fn apply_env(
    file: &mut CoreFile,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, CoreCmdError> {
    let mut warnings = Vec::new();
    for (name, value) in vars {
        if !name.starts_with("CROSSDOCK_") || OTHER_VARS.contains(&name.as_str()) {
            continue;
        }
        let bad = |message: String| CoreCmdError::BadInput(format!("environment variable {name}: {message}"));
        match name.as_str() {
            "CROSSDOCK_LISTEN" => {
                file.listen = value.parse().map_err(|_| {
                    bad(format!(
                        "expected an address such as 127.0.0.1:8080, found {value:?}"
                    ))
                })?;
            }
            "CROSSDOCK_DATABASE" if value.is_empty() => {
                return Err(bad("expected a file path, found nothing".into()));
            }
            "CROSSDOCK_DATABASE" => file.database = PathBuf::from(value),
            "CROSSDOCK_STORE" => file.store = Some(value.parse().map_err(bad)?),
            "CROSSDOCK_OUTBOX_LEASE_MS" => file.outbox_lease_ms = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_COMMIT_INTERVAL_MS" => file.commit_interval_ms = Some(value.parse().map_err(bad)?),
            "CROSSDOCK_PARTNERS_ERP" => file.partners.erp = value.parse().map_err(bad)?,
            "CROSSDOCK_PARTNERS_WMS" => file.partners.wms = value.parse().map_err(bad)?,
            "CROSSDOCK_PARTNERS_SUPPLIER" => file.partners.supplier = value.parse().map_err(bad)?,
            "CROSSDOCK_RETRY_MAX_ATTEMPTS" => file.retry.max_attempts = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_RETRY_BASE_MS" => file.retry.base_ms = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_RETRY_CAP_MS" => file.retry.cap_ms = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_RETRY_TIMEOUT_MS" => file.retry.timeout_ms = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_RETRY_CONCURRENCY" => file.retry.concurrency = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_RETRY_BREAKER_FAILURES" => {
                file.retry.breaker_failures = Some(positive(&value).map_err(bad)?)
            }
            "CROSSDOCK_RETRY_BREAKER_COOL_DOWN_MS" => {
                file.retry.breaker_cool_down_ms = Some(positive(&value).map_err(bad)?)
            }
            "CROSSDOCK_RETRY_PARTNER_CONCURRENCY" => {
                file.retry.partner_concurrency = partner_concurrency(&value).map_err(bad)?
            }
            "CROSSDOCK_AUTH_ERP_TOKEN" => file.auth.erp_token = Some(value.parse().map_err(bad)?),
            "CROSSDOCK_AUTH_WMS_TOKEN" => file.auth.wms_token = Some(value.parse().map_err(bad)?),
            "CROSSDOCK_AUTH_OPS_TOKEN" => file.auth.ops_token = Some(value.parse().map_err(bad)?),
            "CROSSDOCK_AUTH_SUPPLIERS" => {
                let mut suppliers = Vec::new();
                for (i, item) in value
                    .split(',')
                    .map(str::trim)
                    .filter(|i| !i.is_empty())
                    .enumerate()
                {
                    let (gln, token) = item
                        .split_once('=')
                        .ok_or_else(|| bad(format!("item {}: expected gln=token", i + 1)))?;
                    suppliers.push(SupplierToken {
                        gln: gln
                            .trim()
                            .parse()
                            .map_err(|e| bad(format!("item {}: {e}", i + 1)))?,
                        token: token
                            .trim()
                            .parse()
                            .map_err(|e| bad(format!("item {}: {e}", i + 1)))?,
                    });
                }
                file.auth.suppliers = suppliers;
            }
            "CROSSDOCK_RATE_LIMIT_ENABLED" => {
                file.rate_limit.enabled = Some(match value.trim() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    other => return Err(bad(format!("expected true or false, found {other:?}"))),
                });
            }
            "CROSSDOCK_RATE_LIMIT_PER_SECOND" => {
                file.rate_limit.per_second = Some(positive(&value).map_err(bad)?)
            }
            "CROSSDOCK_RATE_LIMIT_BURST" => file.rate_limit.burst = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_EVENTS_URL" => file.events.url = Some(value),
            "CROSSDOCK_EVENTS_STREAM" => file.events.stream = Some(value),
            "CROSSDOCK_EVENTS_SUBJECT_PREFIX" => file.events.subject_prefix = Some(value),
            "CROSSDOCK_EVENTS_SOURCE" => file.events.source = Some(value),
            _ => warnings.push(format!(
                "ignoring unknown environment variable {name} (crossdock core reads {})",
                ENV_VARS.map(|(v, _)| v).join(", ")
            )),
        }
    }
    Ok(warnings)
}

/// Tokens generated for a run that configured none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedTokens {
    pub erp: String,
    pub wms: String,
    pub ops: String,
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

/// The core's configuration from the file's values.
///
/// With no token configured at all, tokens for the ERP, WMS and operators
/// are generated and returned so the caller can show them.
pub fn core_config(file: &CoreFile) -> Result<(CoreConfig, Option<GeneratedTokens>), CoreCmdError> {
    let mut config = CoreConfig::new(
        match &file.store {
            Some(StoreText(integration_core::StoreLocation::Sqlite(path))) => path.clone(),
            _ => file.database.clone(),
        },
        Partners {
            erp: file.partners.erp.0.clone(),
            wms: file.partners.wms.0.clone(),
            supplier: file.partners.supplier.0.clone(),
        },
    );
    if let Some(StoreText(integration_core::StoreLocation::Postgres(url))) = &file.store {
        config.postgres = Some(url.clone());
    }
    if let Some(ms) = file.outbox_lease_ms {
        config.store.lease = Duration::from_millis(u64::from(ms.0));
    }
    if let Some(CommitIntervalMs(ms)) = file.commit_interval_ms {
        config.store.commit_interval = Duration::from_millis(u64::from(ms));
    }
    let a = &file.auth;
    let generated =
        (a.erp_token.is_none() && a.wms_token.is_none() && a.ops_token.is_none() && a.suppliers.is_empty())
            .then(|| {
                let token = || format!("{:032x}", rand::random::<u128>());
                GeneratedTokens {
                    erp: token(),
                    wms: token(),
                    ops: token(),
                }
            });
    let mut credentials = Credentials::default();
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut add = |what: String, token: &str, caller: Caller| {
        if let Some((_, first)) = seen.iter().find(|(t, _)| *t == token) {
            return Err(CoreCmdError::BadInput(format!(
                "{what}: the same token is already {first}'s; each caller needs its own"
            )));
        }
        seen.push((token.to_owned(), what.clone()));
        credentials.insert(token, caller);
        Ok(())
    };
    if let Some(g) = &generated {
        add("auth.erp_token".into(), &g.erp, Caller::Erp)?;
        add("auth.wms_token".into(), &g.wms, Caller::Wms)?;
        add("auth.ops_token".into(), &g.ops, Caller::Ops)?;
    }
    for (what, token, caller) in [
        ("auth.erp_token", &a.erp_token, Caller::Erp),
        ("auth.wms_token", &a.wms_token, Caller::Wms),
        ("auth.ops_token", &a.ops_token, Caller::Ops),
    ] {
        if let Some(t) = token {
            add(what.into(), &t.0, caller)?;
        }
    }
    for (i, s) in a.suppliers.iter().enumerate() {
        add(
            format!("auth.suppliers[{i}] (gln {})", s.gln.0),
            &s.token.0,
            Caller::Supplier { gln: s.gln.0.clone() },
        )?;
    }
    config.credentials = credentials;
    let rl = &file.rate_limit;
    if rl.enabled.unwrap_or(true) {
        let per_second = rl.per_second.map_or(1000, |p| p.0);
        let burst = rl.burst.map_or(per_second.saturating_mul(2), |p| p.0);
        config.rate_limit = Some(RateLimit {
            per_second: std::num::NonZeroU32::new(per_second).expect("Positive is at least 1"),
            burst: std::num::NonZeroU32::new(burst).expect("Positive is at least 1"),
        });
    }
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
    config.events = file.events.resolve()?;
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
    Ok((config, generated))
}

/// Runs the core on `listen` until `shutdown`; `started` gets its URL.
pub async fn run_core(
    file: CoreFile,
    started: impl FnOnce(&str),
    shutdown: impl Future<Output = ()>,
) -> Result<(), CoreCmdError> {
    let (config, generated) = core_config(&file)?;
    if let Some(g) = &generated {
        eprintln!(
            "crossdock: no bearer tokens configured; generated for this run:\n  erp: {}\n  wms: {}\n  ops: {}\n  (suppliers have none: configure [[auth.suppliers]] or CROSSDOCK_AUTH_SUPPLIERS)",
            g.erp, g.wms, g.ops
        );
    } else if file.auth.suppliers.is_empty() {
        eprintln!("crossdock: warning: no supplier tokens configured; suppliers will get 401");
    }
    if let Some(dir) = config
        .database
        .parent()
        .filter(|d| config.postgres.is_none() && !d.as_os_str().is_empty())
    {
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
    let on_postgres = config.postgres.is_some();
    let core = integration_core::start(config, listener).map_err(|e| match e {
        integration_core::StartError::Database { source, .. } if on_postgres => {
            CoreCmdError::Unreachable(source.to_string())
        }
        e => CoreCmdError::Start {
            what: "start the core".into(),
            message: e.to_string(),
        },
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
        let (c, generated) = core_config(&d).unwrap();
        assert_eq!(c.partners.erp, "http://127.0.0.1:7001");
        assert!(generated.is_some(), "no tokens configured: some are generated");
        assert!(!c.credentials.is_empty());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:0\"\n[partners]\nwms = \"http://127.0.0.1:9000\"\n[retry]\nmax_attempts = 3\ncap_ms = 200\n").unwrap();
        let f = load_config(Some(&path)).unwrap();
        let (c, _) = core_config(&f).unwrap();
        assert_eq!(c.partners.wms, "http://127.0.0.1:9000");
        assert_eq!(c.partners.erp, "http://127.0.0.1:7001");
        assert_eq!(c.retry.policy.max_attempts, 3);
        assert_eq!(c.retry.backoff.cap, Duration::from_millis(200));
    }

    /// `text` as core.toml in a temporary directory (kept with the guard).
    fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn events_come_from_the_file_or_the_environment_and_are_checked() {
        let (c, _) = core_config(&CoreFile::default()).unwrap();
        assert_eq!(c.events, None, "off by default");
        let (_dir, path) =
            config_file("[events]\nurl = \"nats://127.0.0.1:4222\"\nsubject_prefix = \"x.y\"\n");
        let mut f = load_config(Some(&path)).unwrap();
        let vars = [("CROSSDOCK_EVENTS_STREAM".to_owned(), "S1".to_owned())];
        assert!(apply_env(&mut f, vars).unwrap().is_empty());
        let (c, _) = core_config(&f).unwrap();
        let e = c.events.unwrap();
        assert_eq!(
            (e.url.as_str(), e.stream.as_str(), e.subject_prefix.as_str()),
            ("nats://127.0.0.1:4222", "S1", "x.y")
        );
        assert_eq!(e.source, "/crossdock/core");

        f.events.url = Some("http://127.0.0.1:4222".into());
        let err = core_config(&f).unwrap_err().to_string();
        assert!(
            err.contains("events") && err.contains("nats://host:port"),
            "{err}"
        );
        f.events.url = None;
        let err = core_config(&f).unwrap_err().to_string();
        assert!(err.contains("without url"), "{err}");
    }

    #[test]
    fn the_store_is_a_sqlite_path_or_a_postgres_url_from_the_file_or_the_environment() {
        let (c, _) = core_config(&CoreFile::default()).unwrap();
        assert_eq!((c.postgres, c.database), (None, default_database()));
        let (_dir, path) =
            config_file("store = \"postgres://postgres@127.0.0.1:5432/crossdock\"\noutbox_lease_ms = 2000\n");
        let mut f = load_config(Some(&path)).unwrap();
        let (c, _) = core_config(&f).unwrap();
        assert_eq!(
            c.postgres.as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/crossdock")
        );
        assert_eq!(c.store.lease, Duration::from_millis(2000));
        // The environment overrides the file: a path is SQLite again.
        let vars = [("CROSSDOCK_STORE".to_owned(), "data/core.sqlite".to_owned())];
        apply_env(&mut f, vars).unwrap();
        let (c, _) = core_config(&f).unwrap();
        assert_eq!(
            (c.postgres, c.database),
            (None, PathBuf::from("data/core.sqlite"))
        );

        std::fs::write(&path, "listen = \"127.0.0.1:0\"\nstore = \"postgres://h:port\"\n").unwrap();
        let e = load_config(Some(&path)).unwrap_err().to_string();
        assert!(e.contains("core.toml:2:") && e.contains("store"), "{e}");
        assert!(e.contains("invalid PostgreSQL URL"), "{e}");
        let vars = [("CROSSDOCK_STORE".to_owned(), String::new())];
        let e = apply_env(&mut CoreFile::default(), vars).unwrap_err();
        assert!(
            e.to_string()
                .contains("CROSSDOCK_STORE: expected a SQLite file path or a postgres:// URL")
        );
        assert_eq!(e.exit_code(), crate::exit::BAD_INPUT);
    }

    #[test]
    fn the_commit_interval_and_outbox_lease_come_from_the_file_or_the_environment() {
        let (c, _) = core_config(&CoreFile::default()).unwrap();
        assert_eq!(
            c.store.commit_interval,
            integration_core::StoreOptions::default().commit_interval
        );
        let (_dir, path) = config_file("commit_interval_ms = 0\noutbox_lease_ms = 2000\n");
        let mut f = load_config(Some(&path)).unwrap();
        let (c, _) = core_config(&f).unwrap();
        assert_eq!(c.store.commit_interval, Duration::ZERO);
        let vars = [
            ("CROSSDOCK_COMMIT_INTERVAL_MS".to_owned(), "5".to_owned()),
            ("CROSSDOCK_OUTBOX_LEASE_MS".to_owned(), "700".to_owned()),
            (
                "CROSSDOCK_EVENTS_URL".to_owned(),
                "nats://127.0.0.1:4222".to_owned(),
            ),
            ("CROSSDOCK_EVENTS_SUBJECT_PREFIX".to_owned(), "a.b".to_owned()),
            ("CROSSDOCK_EVENTS_SOURCE".to_owned(), "/dc/7".to_owned()),
        ];
        assert!(apply_env(&mut f, vars).unwrap().is_empty());
        let (c, _) = core_config(&f).unwrap();
        assert_eq!(c.store.commit_interval, Duration::from_millis(5));
        assert_eq!(c.store.lease, Duration::from_millis(700));
        let e = c.events.unwrap();
        assert_eq!((e.subject_prefix.as_str(), e.source.as_str()), ("a.b", "/dc/7"));

        std::fs::write(&path, "listen = \"127.0.0.1:0\"\ncommit_interval_ms = 1001\n").unwrap();
        let e = load_config(Some(&path)).unwrap_err().to_string();
        assert!(
            e.contains("core.toml:2:") && e.contains("commit_interval_ms"),
            "{e}"
        );
        assert!(e.contains("from 0 (off) to 1000, found 1001"), "{e}");
        for bad in ["-1", "20ms", ""] {
            let vars = [("CROSSDOCK_COMMIT_INTERVAL_MS".to_owned(), bad.to_owned())];
            let e = apply_env(&mut CoreFile::default(), vars).unwrap_err();
            assert_eq!(e.exit_code(), crate::exit::BAD_INPUT);
            assert!(
                e.to_string()
                    .contains("CROSSDOCK_COMMIT_INTERVAL_MS: expected milliseconds"),
                "{e}"
            );
        }
    }

    #[tokio::test]
    async fn an_unreachable_postgres_store_is_bad_input_naming_it() {
        let mut f = CoreFile {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..CoreFile::default()
        };
        // Nothing listens on port 9 (discard).
        f.store = Some(
            "postgres://postgres:secret@127.0.0.1:9/crossdock"
                .parse()
                .unwrap(),
        );
        let e = run_core(f, |_| {}, async {}).await.unwrap_err();
        let text = e.to_string();
        assert_eq!(e.exit_code(), crate::exit::BAD_INPUT, "{text}");
        assert!(
            text.contains("PostgreSQL store (--store) is unreachable"),
            "{text}"
        );
        assert!(
            text.contains("postgres://postgres:***@127.0.0.1:9/crossdock"),
            "{text}"
        );
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
        let (c, _) = core_config(&load_config(Some(&path)).unwrap()).unwrap();
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
        let e = load_config(Some(&path)).unwrap_err();
        assert!(e.to_string().contains("core.toml:2:"), "{e}");
        assert!(e.to_string().contains("partners.erp"), "{e}");
        assert!(e.to_string().contains("expected an http"), "{e}");
        assert_eq!(e.exit_code(), crate::exit::BAD_INPUT);

        std::fs::write(&path, "colour = \"blue\"\n").unwrap();
        let e = load_config(Some(&path)).unwrap_err();
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    }
}

#[cfg(test)]
mod env_tests {
    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core.toml");
        std::fs::write(
            &path,
            "[partners]\nerp = \"http://127.0.0.1:9001\"\n[auth]\nerp_token = \"erp-token-from-the-file\"\n[rate_limit]\nper_second = 5\n",
        )
        .unwrap();
        let mut f = load_config(Some(&path)).unwrap();
        let warnings = apply_env(
            &mut f,
            vars(&[
                ("CROSSDOCK_PARTNERS_ERP", "http://127.0.0.1:9002"),
                ("CROSSDOCK_AUTH_ERP_TOKEN", "erp-token-from-the-env"),
                (
                    "CROSSDOCK_AUTH_SUPPLIERS",
                    "5060000000016=supplier-token-one-1, 5060000000023=supplier-token-two-2",
                ),
                ("CROSSDOCK_RATE_LIMIT_BURST", "7"),
                ("CROSSDOCK_LOG", "debug"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let (c, generated) = core_config(&f).unwrap();
        assert!(generated.is_none());
        assert_eq!(c.partners.erp, "http://127.0.0.1:9002");
        assert_eq!(c.credentials.caller("erp-token-from-the-env"), Some(&Caller::Erp));
        assert_eq!(c.credentials.caller("erp-token-from-the-file"), None);
        assert_eq!(
            c.credentials.caller("supplier-token-two-2"),
            Some(&Caller::Supplier {
                gln: "5060000000023".into()
            })
        );
        let rl = c.rate_limit.unwrap();
        assert_eq!((rl.per_second.get(), rl.burst.get()), (5, 7));

        // The breaker and the per-partner limits, over the file's.
        std::fs::write(
            &path,
            "[retry]\nconcurrency = 8\nbreaker_failures = 3\n[retry.partner_concurrency]\nsupplier = 4\n",
        )
        .unwrap();
        let mut f = load_config(Some(&path)).unwrap();
        let warnings = apply_env(
            &mut f,
            vars(&[
                ("CROSSDOCK_RETRY_BREAKER_FAILURES", "9"),
                ("CROSSDOCK_RETRY_BREAKER_COOL_DOWN_MS", "750"),
                ("CROSSDOCK_RETRY_PARTNER_CONCURRENCY", "erp=15, wms=2"),
            ]),
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let (c, _) = core_config(&f).unwrap();
        assert_eq!(c.retry.breaker.failure_threshold, 9);
        assert_eq!(c.retry.breaker.cool_down, Duration::from_millis(750));
        assert_eq!(c.retry.limit(contracts::Role::Erp), 15);
        assert_eq!(c.retry.limit(contracts::Role::Wms), 2);
        // The variable replaces the file's table: supplier falls back.
        assert_eq!(c.retry.limit(contracts::Role::Supplier), 8);

        let mut f = CoreFile::default();
        let w = apply_env(&mut f, vars(&[("CROSSDOCK_RETRY_MAX_ATEMPTS", "3")])).unwrap();
        assert!(w[0].contains("CROSSDOCK_RETRY_MAX_ATEMPTS"), "{w:?}");
        let mut f = CoreFile::default();
        apply_env(&mut f, vars(&[("CROSSDOCK_RATE_LIMIT_ENABLED", "false")])).unwrap();
        assert_eq!(core_config(&f).unwrap().0.rate_limit, None);
    }

    #[test]
    fn a_bad_variable_is_named_with_what_was_expected() {
        for (var, value, expected) in [
            ("CROSSDOCK_RETRY_MAX_ATTEMPTS", "0", "expected a positive integer"),
            (
                "CROSSDOCK_PARTNERS_WMS",
                "wms.local",
                "expected an http:// or https:// URL",
            ),
            ("CROSSDOCK_AUTH_OPS_TOKEN", "short", "at least 16"),
            (
                "CROSSDOCK_AUTH_SUPPLIERS",
                "5060000000017=supplier-token-one-1",
                "item 1: expected a GLN",
            ),
            ("CROSSDOCK_LISTEN", "here", "expected an address"),
            (
                "CROSSDOCK_RETRY_BREAKER_FAILURES",
                "-1",
                "expected a positive integer",
            ),
            (
                "CROSSDOCK_RETRY_BREAKER_COOL_DOWN_MS",
                "soon",
                "expected a positive integer",
            ),
            (
                "CROSSDOCK_RETRY_PARTNER_CONCURRENCY",
                "erp=15,crm=2",
                "item 2: expected a partner erp, wms or supplier",
            ),
            (
                "CROSSDOCK_RETRY_PARTNER_CONCURRENCY",
                "erp=0",
                "item 1: expected a positive integer",
            ),
            (
                "CROSSDOCK_RETRY_PARTNER_CONCURRENCY",
                "erp",
                "item 1: expected partner=limit",
            ),
            (
                "CROSSDOCK_RETRY_PARTNER_CONCURRENCY",
                "wms=2,wms=3",
                "item 2: partner wms given twice",
            ),
        ] {
            let mut f = CoreFile::default();
            let e = apply_env(&mut f, vars(&[(var, value)])).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(&format!("environment variable {var}: ")), "{text}");
            assert!(text.contains(expected), "{text}");
            assert_eq!(e.exit_code(), crate::exit::BAD_INPUT);
        }
        // The same token for two callers is refused after resolving.
        let mut f = CoreFile::default();
        apply_env(
            &mut f,
            vars(&[
                ("CROSSDOCK_AUTH_ERP_TOKEN", "one-token-for-both"),
                ("CROSSDOCK_AUTH_WMS_TOKEN", "one-token-for-both"),
            ]),
        )
        .unwrap();
        let e = core_config(&f).unwrap_err().to_string();
        assert!(
            e.contains("auth.wms_token") && e.contains("auth.erp_token"),
            "{e}"
        );
    }
}
