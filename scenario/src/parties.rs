//! Any role as the system under test, by URL: `[parties.<role>]` in a
//! scenario, or `crossdock run --external ROLE=URL` (with `--token-for` and
//! `--listen`). This module holds the format; the harness acts on it.
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

use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use crate::faults::{ProfileName, SimRole};

/// A base URL of an external party: `http://HOST[:PORT]` (the harness is
/// built without TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyUrl(pub String);

impl std::str::FromStr for PartyUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s.strip_prefix("http://").unwrap_or("");
        let host = rest.split(['/', ':']).next().unwrap_or("");
        if host.is_empty() || url::Url::parse(s).is_err() {
            return Err(format!(
                "expected an http:// URL (https is not supported), found {s:?}"
            ));
        }
        Ok(PartyUrl(s.trim_end_matches('/').to_owned()))
    }
}

impl<'de> Deserialize<'de> for PartyUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for PartyUrl {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PartyUrl".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^http://[^/:]+", "description": "http:// base URL of an external party"})
    }
}

/// A loopback socket address the harness listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopbackAddr(pub SocketAddr);

impl std::str::FromStr for LoopbackAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let addr: SocketAddr = s
            .parse()
            .map_err(|_| format!("expected an address like 127.0.0.1:7001, found {s:?}"))?;
        if !addr.ip().is_loopback() {
            return Err(format!(
                "expected a loopback address (127.0.0.1 or [::1]), found {addr}"
            ));
        }
        Ok(LoopbackAddr(addr))
    }
}

impl<'de> Deserialize<'de> for LoopbackAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for LoopbackAddr {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LoopbackAddr".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "description": "loopback address, e.g. 127.0.0.1:7001"})
    }
}

/// The bearer tokens an external core knows, per caller.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallerTokens {
    pub erp: Option<String>,
    pub wms: Option<String>,
    /// The supplier's (GLN 5060000000016, the one every generated PO names).
    pub supplier: Option<String>,
    /// The core's operator: `/v1/ops/status`, reconciliations. Required.
    pub ops: Option<String>,
}

/// `[parties.core]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoreParty {
    /// The core under test; absent: the in-process reference core.
    pub url: Option<PartyUrl>,
    #[serde(default)]
    pub tokens: CallerTokens,
}

/// `[parties.erp]`, `[parties.wms]`, `[parties.supplier]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerParty {
    /// The party under test; absent: simulated.
    pub url: Option<PartyUrl>,
    /// External: the bearer token the recording proxy sends to it.
    pub token: Option<String>,
    /// Where the core reaches this party: the simulator, or the proxy in
    /// front of the external party. Default: a free port.
    pub listen: Option<LoopbackAddr>,
    /// External: where the harness takes the party's calls to the core
    /// (recorded, then forwarded with the party's token). Default: a free
    /// port.
    pub peer_listen: Option<LoopbackAddr>,
    /// Simulated: limits of a real system.
    pub profile: Option<ProfileName>,
    /// External: silence through its proxies that counts as quiet.
    pub quiet_ms: Option<u64>,
}

/// `[parties]`: each role simulated (absent) or external (`url`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parties {
    #[serde(default)]
    pub core: CoreParty,
    #[serde(default)]
    pub erp: PartnerParty,
    #[serde(default)]
    pub wms: PartnerParty,
    #[serde(default)]
    pub supplier: PartnerParty,
}

/// A role of `--external`, `--listen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyRole {
    Core,
    Partner(SimRole),
}

impl std::str::FromStr for PartyRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "core" => Ok(PartyRole::Core),
            "erp" => Ok(PartyRole::Partner(SimRole::Erp)),
            "wms" => Ok(PartyRole::Partner(SimRole::Wms)),
            "supplier" => Ok(PartyRole::Partner(SimRole::Supplier)),
            other => Err(format!(
                "expected a role of core, erp, wms or supplier, found {other:?}"
            )),
        }
    }
}

/// `ROLE=VALUE` of `--external` and `--listen`.
pub fn parse_role_value<T: std::str::FromStr<Err = String>>(s: &str) -> Result<(PartyRole, T), String> {
    let (role, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected ROLE=VALUE (core, erp, wms or supplier), found {s:?}"))?;
    Ok((role.parse()?, value.parse()?))
}
