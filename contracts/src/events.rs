//! Events the core publishes, as CloudEvents 1.0 (structured JSON mode) with
//! the W3C Trace Context extension (`traceparent`).
//!
//! `source` + `id` is an event's identity, and so the consumer's dedupe key.
//! [`PUBLISHED`] lists every event the core publishes; the schema catalog,
//! the domain validator and the AsyncAPI document (`crate::asyncapi`) are
//! generated from it, so a new event is one line there.

use schemars::{JsonSchema, Schema, schema_for};
use serde::{Deserialize, Serialize};

use crate::inventory::InventoryAdjustment;
use crate::outbound::ShipmentConfirmation;

/// The CloudEvents specification version: always `1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum SpecVersion {
    #[default]
    #[serde(rename = "1.0")]
    V1_0,
}

/// The media type of `data`: always `application/json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum DataContentType {
    #[default]
    #[serde(rename = "application/json")]
    Json,
}

/// `type` of a [`ShipmentConfirmedEvent`].
pub const SHIPMENT_CONFIRMED: &str = "dev.crossdock.shipment.confirmed.v1";
/// `type` of an [`InventoryAdjustedEvent`].
pub const INVENTORY_ADJUSTED: &str = "dev.crossdock.inventory.adjusted.v1";

/// The JetStream stream that holds every event the core publishes.
pub const STREAM: &str = "CROSSDOCK_EVENTS";

/// Every event subject starts with this; the stream captures `crossdock.events.>`.
pub const SUBJECT_PREFIX: &str = "crossdock.events.";

/// The NATS subject an event of `event_type` is published on:
/// `crossdock.events.<type>`, such as
/// `crossdock.events.dev.crossdock.shipment.confirmed.v1`.
pub fn subject(event_type: &str) -> String {
    format!("{SUBJECT_PREFIX}{event_type}")
}

/// A CloudEvents 1.0 envelope around `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudEvent<T> {
    /// Unique within `source`.
    #[schemars(length(min = 1, max = 128))]
    pub id: String,
    /// URI reference of the context that produced the event.
    #[schemars(length(min = 1, max = 256), extend("format" = "uri-reference"))]
    pub source: String,
    pub specversion: SpecVersion,
    /// Reverse-DNS event type, versioned (such as `dev.crossdock.shipment.confirmed.v1`).
    #[serde(rename = "type")]
    #[schemars(pattern(r"^[a-z0-9]+(\.[a-z0-9-]+)+\.v[0-9]+$"))]
    pub event_type: String,
    #[schemars(extend("format" = "date-time"))]
    pub time: String,
    pub datacontenttype: DataContentType,
    /// The business key the event is about (such as a shipment id).
    #[schemars(length(min = 1, max = 128))]
    pub subject: String,
    /// W3C Trace Context of the business flow (CloudEvents distributed
    /// tracing extension).
    #[schemars(pattern(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"))]
    pub traceparent: String,
    pub data: T,
}

/// A WMS ship confirmation, accepted by the core.
pub type ShipmentConfirmedEvent = CloudEvent<ShipmentConfirmation>;
/// A WMS inventory adjustment, accepted by the core.
pub type InventoryAdjustedEvent = CloudEvent<InventoryAdjustment>;

/// One kind of event the core publishes.
#[derive(Debug, Clone, Copy)]
pub struct Published {
    /// Catalog name of the envelope's schema; also the AsyncAPI message name.
    pub name: &'static str,
    /// The CloudEvents `type` it is published under (also its channel).
    pub event_type: &'static str,
    /// Catalog name of the data type, whose domain rules apply under `/data`.
    pub data: &'static str,
    /// When the core publishes it.
    pub summary: &'static str,
    /// The envelope's JSON Schema.
    pub schema: fn() -> Schema,
}

fn envelope<T: JsonSchema>() -> Schema {
    schema_for!(T)
}

/// Every event the core publishes, version 1. Adding one: a line here.
pub const PUBLISHED: &[Published] = &[
    Published {
        name: "ShipmentConfirmedEvent",
        event_type: SHIPMENT_CONFIRMED,
        data: "ShipmentConfirmation",
        summary: "A WMS ship confirmation the core accepted.",
        schema: envelope::<ShipmentConfirmedEvent>,
    },
    Published {
        name: "InventoryAdjustedEvent",
        event_type: INVENTORY_ADJUSTED,
        data: "InventoryAdjustment",
        summary: "A WMS inventory adjustment the core accepted.",
        schema: envelope::<InventoryAdjustedEvent>,
    },
];

/// The published event whose envelope schema is named `name`.
pub fn published(name: &str) -> Option<&'static Published> {
    PUBLISHED.iter().find(|e| e.name == name)
}
