//! Any role as the system under test, by URL: `[parties.<role>]` in a
//! scenario, or `crossdock run --external ROLE=URL` (with `--token-for` and
//! `--listen`).
//!
//! ```toml
//! [parties.core]                  # the core at a URL: the simulators call it
//! url = "http://127.0.0.1:8080"
//! tokens = { erp = "…", wms = "…", supplier = "…", ops = "…" }  # ops required
//!
//! [parties.erp]                   # simulated (no url)
//! listen = "127.0.0.1:7001"       # fixed address, so the core can be configured
//! profile = "netsuite"            # limits of a real system (as `crossdock simulate`)
//!
//! [parties.wms]                   # an external WMS behind a recording proxy
//! url = "http://127.0.0.1:9002"
//! token = "…"                     # bearer the proxy sends to it
//! listen = "127.0.0.1:7002"       # the proxy the core delivers to (default: a free port)
//! peer_listen = "127.0.0.1:7102"  # where its calls to the core go (recorded; default: a free port)
//! quiet_ms = 500                  # silence through its proxies that counts as quiet
//! ```
//!
//! When the core is external, the simulators call it with the callers'
//! tokens, the harness reads `/v1/ops/status` (outbox depth) and runs
//! reconciliations with the ops token, and the core must be configured to
//! deliver to the simulators' addresses (fixed with `listen`, printed at
//! start). When a partner is external, the in-process core delivers to it
//! through a recording reverse proxy, and the party's own calls to the core
//! go through a second one, so its history file is as complete as a
//!
//! Files: [`plan`] (who plays what), [`serve`] (simulators and proxies on
//! their listeners), [`proxy`] (the recording reverse proxy),
//! [`core_access`] (the core in process or at a URL).

pub mod activity;
pub mod core_access;
pub mod plan;
pub mod proxy;
pub mod serve;

pub use crate::run::options::PartyOverrides;
pub use activity::Activity;
pub use core_access::CoreAccess;
pub use plan::{ExternalCore, ExternalPartner, PartnerPlan, Plan};
pub use proxy::start_proxy;
pub use scenario::parties::{LoopbackAddr, PartyRole, PartyUrl, parse_role_value};
pub use serve::{bind_partner, serve_party, serve_peer_proxies};
