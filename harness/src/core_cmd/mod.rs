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
//!
//! Files: [`file`] (the TOML form and reading it), [`env`] (`CROSSDOCK_*`
//! variables over it), [`serve`] (the core's configuration, and running it).

pub mod env;
#[cfg(test)]
mod env_tests;
pub mod file;
pub mod serve;

pub use env::{ENV_VARS, apply_env};
pub use file::*;
pub use serve::{GeneratedTokens, core_config, run_core};
