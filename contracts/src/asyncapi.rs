//! The AsyncAPI 3.0 document of the events the core publishes, generated
//! from [`crate::events::PUBLISHED`] and the schema catalog.
//!
//! One channel per event type (NATS subject `crossdock.events.<type>`, held
//! by the JetStream stream `CROSSDOCK_EVENTS`), one `send` operation and one
//! message per channel; the message payload is the CloudEvents envelope's
//! catalog schema, bundled under `components/schemas` like the OpenAPI
//! documents do. Committed as `contracts/asyncapi/core.json`; the
//! `asyncapi_document_is_fresh` test fails (and rewrites it) when it is stale.

use serde_json::{Map, Value, json};

use crate::events::{PUBLISHED, Published, STREAM, SUBJECT_PREFIX, subject};
use crate::openapi::{add_schema, article};
use crate::schema::catalog;

/// The AsyncAPI version the document follows.
pub const ASYNCAPI_VERSION: &str = "3.0.0";

/// Media type of a CloudEvent in structured JSON mode.
pub const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";

/// Key of the one server (the NATS deployment the core publishes to).
pub const SERVER: &str = "nats";

/// Channel, message and component key of a published event: its catalog
/// name, such as `ShipmentConfirmedEvent`.
pub fn channel_id(event: &Published) -> &'static str {
    event.name
}

/// Operation id of publishing `event`: `sendShipmentConfirmedEvent`.
pub fn operation_id(event: &Published) -> String {
    format!("send{}", event.name)
}

/// The AsyncAPI 3.0 document of everything the core publishes.
///
/// # Panics
/// When a published event names a schema the catalog lacks, or two catalog
/// schemas define the same `$defs` name differently: bugs in this crate,
/// caught by its tests.
pub fn document() -> Value {
    let catalog = catalog();
    let mut schemas = Map::new();
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    for event in PUBLISHED {
        let (_, schema) = catalog
            .iter()
            .find(|(n, _)| *n == event.name)
            .unwrap_or_else(|| panic!("published event {} is not in the catalog", event.name));
        add_schema(&mut schemas, event.name, schema);
        let id = channel_id(event);
        messages.insert(
            event.name.to_owned(),
            json!({
                "name": event.name,
                "title": event.name,
                "summary": event.summary,
                "description": format!(
                    "A CloudEvents 1.0 envelope (structured JSON mode) of type `{}`; `data` is {} {} and \
                     obeys its domain rules (`crossdock contracts validate --type {}`). `source` + `id` \
                     identify the event: consumers dedupe on them.",
                    event.event_type,
                    article(event.data),
                    event.data,
                    event.name
                ),
                "contentType": CLOUDEVENTS_JSON,
                "correlationId": {
                    "description": "W3C Trace Context of the business flow the event belongs to.",
                    "location": "$message.payload#/traceparent"
                },
                "payload": {"$ref": format!("#/components/schemas/{}", event.name)}
            }),
        );
        channels.insert(
            id.to_owned(),
            json!({
                "address": subject(event.event_type),
                "title": event.name,
                "summary": event.summary,
                "description": format!(
                    "Events of CloudEvents type `{}`, one NATS message each, kept in JetStream stream `{STREAM}`.",
                    event.event_type
                ),
                "servers": [{"$ref": format!("#/servers/{SERVER}")}],
                "messages": {
                    event.name: {"$ref": format!("#/components/messages/{}", event.name)}
                }
            }),
        );
        operations.insert(
            operation_id(event),
            json!({
                "action": "send",
                "title": format!("Publish {}", event.name),
                "summary": event.summary,
                "channel": {"$ref": format!("#/channels/{id}")},
                "messages": [{"$ref": format!("#/channels/{id}/messages/{}", event.name)}]
            }),
        );
    }
    json!({
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "crossdock integration core events",
            "version": "1",
            "description": format!(
                "What the crossdock integration core publishes, version 1: CloudEvents 1.0 in structured JSON mode, \
                 each on NATS subject `{SUBJECT_PREFIX}<type>` in JetStream stream `{STREAM}`. \
                 Generated from contracts::events::PUBLISHED; do not edit."
            ),
        },
        "defaultContentType": CLOUDEVENTS_JSON,
        "servers": {
            SERVER: {
                "host": "127.0.0.1:4222",
                "protocol": "nats",
                "title": "NATS with JetStream",
                "description": format!(
                    "The NATS server the core is configured with; stream `{STREAM}` captures `{SUBJECT_PREFIX}>`."
                )
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
        }
    })
}
