//! The reference core's operations answers: status, dead letters, replay,
//! and the hops of one traced business flow. These are wire types like the
//! business documents: the core serves them, operators and the harness read
//! them, and they are in the core's OpenAPI document.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Inbox and outbox depth (`GET /v1/ops/status`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpsStatus {
    /// Messages taken in (first intakes; duplicates are not stored twice).
    pub inbox_messages: i64,
    /// Deliveries still to make (due now or waiting for a retry).
    pub outbox_pending: i64,
    pub outbox_delivered: i64,
    /// Deliveries given up on (dead letters).
    pub outbox_dead: i64,
}

/// A delivery the outbox gave up on (`GET /v1/ops/dead-letters`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetter {
    pub id: i64,
    /// The partner role it was addressed to (`erp`, `wms`, `supplier`).
    pub partner: String,
    pub path: String,
    pub idempotency_key: String,
    pub trace_id: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// When the delivery was queued, Unix microseconds.
    pub created_at_us: u64,
}

/// Which dead letters to replay (`POST /v1/ops/dead-letters/replay`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum ReplayRequest {
    /// `{"ids": [1, 2]}`: these dead letters.
    Ids { ids: Vec<i64> },
    /// `{"all": true}`: every dead letter (`false` replays none).
    All { all: bool },
    /// `{"from_us": …, "to_us": …}`: those queued in that range (Unix µs, inclusive).
    Range { from_us: u64, to_us: u64 },
}

/// How many dead letters went back into the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayResult {
    pub replayed: u64,
}

/// State of one outbox delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryState {
    /// Parses the store's spelling; anything unknown reads as dead.
    pub fn from_store(s: &str) -> Self {
        match s {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            _ => DeliveryState::Dead,
        }
    }
}

/// One hop of a business flow as the core saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "hop", rename_all = "snake_case")]
pub enum TraceHop {
    /// A message the core took in.
    Intake {
        message_id: String,
        /// Message kind, e.g. `asn`.
        kind: String,
        /// Its natural business key (PO number and version, asn_id, …).
        business_key: String,
        /// When the core stored it, Unix microseconds.
        at_us: u64,
    },
    /// A delivery the core queued to a partner, and how it went.
    Delivery {
        id: i64,
        partner: String,
        path: String,
        idempotency_key: String,
        state: DeliveryState,
        attempts: u32,
        last_status: Option<u16>,
        last_error: Option<String>,
        /// When it was queued, Unix microseconds.
        at_us: u64,
        delivered_at_us: Option<u64>,
    },
}

impl TraceHop {
    /// When the hop started, Unix microseconds.
    pub fn at_us(&self) -> u64 {
        match self {
            TraceHop::Intake { at_us, .. } | TraceHop::Delivery { at_us, .. } => *at_us,
        }
    }
}

/// The hops of one business flow (`GET /v1/trace/{trace_id}`), in time order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    /// W3C trace id, 32 lowercase hex digits.
    pub trace_id: String,
    pub hops: Vec<TraceHop>,
}
