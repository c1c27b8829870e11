//! The exchange record: one line of a party's JSON Lines history file.
//!
//! Every simulated party writes one [`Exchange`] per HTTP exchange it takes
//! part in, as a client (`outbound`) or as a server (`inbound`). The harness
//! reads these files back to check contracts and invariants. The format is
//! versioned by [`HISTORY_FORMAT`]; its JSON Schema is `schemas/Exchange.json`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::routes::Role;

/// Version tag of the history format.
pub const HISTORY_FORMAT: &str = "crossdock.history.v1";

/// The direction of an exchange, seen from the recording party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The party served the request.
    Inbound,
    /// The party sent the request.
    Outbound,
}

/// One recorded HTTP exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Exchange {
    /// Order of recording within the party's file, from 0.
    pub seq: u64,
    /// The party that recorded the exchange.
    pub party: Role,
    /// The other side of the exchange.
    pub peer: Role,
    pub direction: Direction,
    pub method: String,
    /// The request path, without query.
    pub endpoint: String,
    /// HTTP status; absent when no answer came (network error, timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Transport error, when no answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the request started, in microseconds since the Unix epoch.
    pub started_at_us: u64,
    /// When the answer was complete (or the attempt failed).
    pub finished_at_us: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The answer was replayed from a stored idempotent result: no new effect.
    #[serde(default)]
    pub replayed: bool,
    /// The fault a simulated party injected into this exchange, by kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// The status the party's own logic produced, when a fault (such as
    /// commit-then-fail) replaced the answer the caller saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler_status: Option<u16>,
    /// Request body, when it was JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<serde_json::Value>,
    /// Response body, when it was JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<serde_json::Value>,
}

impl Exchange {
    /// True when an answer came with a 2xx status.
    pub fn is_success(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }

    /// True when the exchange made a first effect: the party's logic answered
    /// 2xx (whatever a fault then showed the caller) and it was not a replay.
    pub fn is_effect(&self) -> bool {
        matches!(self.handler_status.or(self.status), Some(200..=299)) && !self.replayed
    }
}
