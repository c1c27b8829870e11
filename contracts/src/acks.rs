//! Success answers of every role.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the core did with an inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntakeOutcome {
    /// Stored durably for the first time.
    Accepted,
    /// Already known by its business key with the same payload: nothing new was done.
    Duplicate,
}

/// The core's answer to an accepted inbound message. Sent only once the
/// message is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeAck {
    /// The core's id for the stored message (the first one, for a duplicate).
    pub message_id: String,
    pub outcome: IntakeOutcome,
    /// W3C trace id of the business flow the message belongs to.
    #[schemars(pattern(r"^[0-9a-f]{32}$"))]
    pub trace_id: String,
}

/// A partner system's (ERP, WMS, supplier) answer to an accepted request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerAck {
    /// The partner's reference for the record it created.
    pub reference: String,
}
