//! Events: the core publishes canonical CloudEvents (`contracts::events`)
//! to NATS JetStream.
//!
//! **Durable, at least once, deduplicated downstream.** When a ship
//! confirmation or an inventory adjustment is accepted (the first time
//! only: an idempotent repeat or a business-key duplicate never runs the
//! flow again), its event is queued in the outbox **in the same
//! transaction** as the intake, as a row for the target [`TARGET`]
//! (`"events"`, beside the partners' roles): `path` is the NATS subject
//! (`<subject_prefix>.<type>`), `idempotency_key` is `<source>/<id>`, and
//! `body` the event's JSON. The event's `id` is derived from its business
//! key (`shipment-confirmed:<event_id>`, `inventory-adjusted:<source_event_id>`),
//! so a retry republishes the same id, and the row body is written once.
//!
//! The outbox worker delivers those rows through an events lane with the
//! same stack as a partner's (concurrency limit, breaker, timeout) around a
//! [`Publisher`]: a JetStream publish with header `Nats-Msg-Id` =
//! `<source>/<id>`, so JetStream drops a republish inside its duplicate
//! window; a row is marked delivered only after the JetStream ack (a
//! duplicate ack counts: the event is in the stream). A failure (NATS down,
//! no stream, no ack in time) is a network failure: the row is retried with
//! the outbox's backoff, then dead-lettered and replayable like any other.
//!
//! Without [`EventsConfig`] the core queues no event rows at all, so a core
//! started without `--events` carries no backlog of events nobody reads.
//!
//! Part of the outbox layer: imports its `attempt` and `layers`, the store
//! and `error`; never the outbox's `mod.rs` (the worker, which uses it).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::jetstream;
use serde::Serialize;
use tokio::sync::OnceCell;

use contracts::events::{CloudEvent, DataContentType, INVENTORY_ADJUSTED, SHIPMENT_CONFIRMED, SpecVersion};
use contracts::http::TraceParent;
use contracts::inventory::InventoryAdjustment;
use contracts::outbound::ShipmentConfirmation;
use contracts::time::rfc3339_utc;

use super::attempt::AttemptOutcome;
use super::layers::Sent;
use crate::error::ApiError;
use crate::store::{Delivery, Tx};

/// The outbox target of event rows (the partners' rows name their role).
pub const TARGET: &str = "events";
/// Default JetStream stream name: the one the AsyncAPI document names.
pub const DEFAULT_STREAM: &str = contracts::events::STREAM;
/// Default subject prefix: events go to `<prefix>.<type>`.
pub const DEFAULT_SUBJECT_PREFIX: &str = "crossdock.events";
/// Default CloudEvents `source` of the core.
pub const DEFAULT_SOURCE: &str = "/crossdock/core";

/// Where and how the core publishes its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// The NATS server, `nats://host:port`.
    pub url: String,
    /// The JetStream stream (created on first connect if absent, capturing
    /// `<subject_prefix>.>`).
    pub stream: String,
    /// Subjects are `<subject_prefix>.<CloudEvents type>`.
    pub subject_prefix: String,
    /// The CloudEvents `source` of every event.
    pub source: String,
}

/// A bad events setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid events setting {field} = {value:?}: {why}")]
pub struct EventsConfigError {
    pub field: &'static str,
    pub value: String,
    pub why: &'static str,
}

impl EventsConfig {
    /// Publishing to `url` with the default stream, prefix and source.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            stream: DEFAULT_STREAM.to_owned(),
            subject_prefix: DEFAULT_SUBJECT_PREFIX.to_owned(),
            source: DEFAULT_SOURCE.to_owned(),
        }
    }

    /// Checks every field; the first bad one is named.
    pub fn validate(&self) -> Result<(), EventsConfigError> {
        let bad = |field, value: &str, why| {
            Err(EventsConfigError {
                field,
                value: value.to_owned(),
                why,
            })
        };
        let rest = self.url.strip_prefix("nats://").unwrap_or("");
        if rest.is_empty() || rest.contains(['/', ' ']) {
            return bad("url", &self.url, "expected nats://host:port");
        }
        if self.stream.is_empty()
            || !self
                .stream
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return bad("stream", &self.stream, "expected letters, digits, '_' or '-'");
        }
        if self
            .subject_prefix
            .split('.')
            .any(|t| t.is_empty() || t.contains(['*', '>']) || t.bytes().any(|b| b.is_ascii_whitespace()))
        {
            return bad(
                "subject_prefix",
                &self.subject_prefix,
                "expected dot-separated tokens without wildcards or spaces",
            );
        }
        if self.source.is_empty() || self.source.len() > 256 {
            return bad(
                "source",
                &self.source,
                "expected a URI reference of 1 to 256 characters",
            );
        }
        Ok(())
    }

    /// The NATS subject of events of `event_type`.
    pub fn subject(&self, event_type: &str) -> String {
        format!("{}.{event_type}", self.subject_prefix)
    }

    /// The stream's subject filter.
    pub fn stream_subjects(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }
}

/// The `Nats-Msg-Id` of an event: its identity, `<source>/<id>`.
pub fn msg_id(source: &str, id: &str) -> String {
    format!("{source}/{id}")
}

/// The event id of an accepted ship confirmation (by its `event_id`).
pub fn shipment_confirmed_id(sc: &ShipmentConfirmation) -> String {
    format!("shipment-confirmed:{}", sc.event_id)
}

/// The event id of an accepted inventory adjustment (by `source_event_id`).
pub fn inventory_adjusted_id(a: &InventoryAdjustment) -> String {
    format!("inventory-adjusted:{}", a.source_event_id)
}

/// Queues one event in the intake's transaction (nothing when events are
/// off). Its `traceparent` is a child of the intake's trace.
fn emit<T: Serialize>(
    tx: &Tx<'_>,
    config: Option<&EventsConfig>,
    event_type: &str,
    id: String,
    subject: &str,
    data: &T,
) -> Result<(), ApiError> {
    let Some(config) = config else {
        return Ok(());
    };
    let traceparent = TraceParent {
        trace_id: tx.trace_id.to_owned(),
        parent_id: String::new(),
        sampled: true,
    }
    // The span of this publication: fixed by the intake's message id, so
    // the row (and every republish of it) carries one traceparent.
    .child((tx.message_id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    .header_value();
    let event = CloudEvent {
        id,
        source: config.source.clone(),
        specversion: SpecVersion::V1_0,
        event_type: event_type.to_owned(),
        time: rfc3339_utc(tx.now_us),
        datacontenttype: DataContentType::Json,
        subject: subject.to_owned(),
        traceparent,
        data,
    };
    tx.enqueue_to(
        TARGET,
        &config.subject(event_type),
        &msg_id(&event.source, &event.id),
        &event,
    )
}

/// `dev.crossdock.shipment.confirmed.v1` for an accepted ship confirmation.
pub fn shipment_confirmed(
    tx: &Tx<'_>,
    config: Option<&EventsConfig>,
    sc: &ShipmentConfirmation,
) -> Result<(), ApiError> {
    emit(
        tx,
        config,
        SHIPMENT_CONFIRMED,
        shipment_confirmed_id(sc),
        &sc.shipment_id,
        sc,
    )
}

/// `dev.crossdock.inventory.adjusted.v1` for an accepted adjustment.
pub fn inventory_adjusted(
    tx: &Tx<'_>,
    config: Option<&EventsConfig>,
    a: &InventoryAdjustment,
) -> Result<(), ApiError> {
    emit(
        tx,
        config,
        INVENTORY_ADJUSTED,
        inventory_adjusted_id(a),
        &a.adjustment_id,
        a,
    )
}

/// Connects to NATS and makes sure the stream exists (created with a file
/// store capturing `<subject_prefix>.>` if absent). Bounded by `timeout`.
pub async fn connect(config: &EventsConfig, timeout: Duration) -> Result<jetstream::Context, String> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(timeout)
        .connect(config.url.as_str())
        .await
        .map_err(|e| format!("failed to connect to NATS at {}: {e}", config.url))?;
    let js = jetstream::new(client);
    js.get_or_create_stream(jetstream::stream::Config {
        name: config.stream.clone(),
        subjects: vec![config.stream_subjects()],
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("failed to get or create JetStream stream {}: {e}", config.stream))?;
    Ok(js)
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The innermost service of the events lane: one JetStream publish of an
/// event row, answered once JetStream acknowledged it. Connects (and
/// creates the stream) on first use, and again after a failed connect, so a
/// core started while NATS is down publishes once it is up.
#[derive(Clone)]
pub struct Publisher {
    config: Arc<EventsConfig>,
    timeout: Duration,
    js: Arc<OnceCell<jetstream::Context>>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").field("config", &self.config).finish()
    }
}

impl Publisher {
    pub fn new(config: EventsConfig, timeout: Duration) -> Self {
        Self {
            config: Arc::new(config),
            timeout,
            js: Arc::default(),
        }
    }

    async fn publish(&self, d: Delivery) -> AttemptOutcome {
        let (config, timeout) = (self.config.clone(), self.timeout);
        let js = match self.js.get_or_try_init(|| connect(&config, timeout)).await {
            Ok(js) => js,
            Err(e) => return AttemptOutcome::Network(e),
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, d.idempotency_key.as_str());
        let ack = match js.publish_with_headers(d.path, headers, d.body.into()).await {
            Ok(ack) => ack,
            Err(e) => return AttemptOutcome::Network(format!("JetStream publish failed: {e}")),
        };
        match ack.await {
            // A duplicate ack means the event is already in the stream.
            Ok(_) => AttemptOutcome::Status {
                status: 200,
                retry_after: None,
            },
            Err(e) => AttemptOutcome::Network(format!("no JetStream ack: {e}")),
        }
    }
}

impl tower::Service<Delivery> for Publisher {
    type Response = Sent;
    type Error = Infallible;
    type Future = BoxFuture<Result<Sent, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, d: Delivery) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(Sent::Attempted(this.publish(d).await)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_validated_field_by_field() {
        let ok = EventsConfig::new("nats://127.0.0.1:4222");
        assert_eq!(ok.validate(), Ok(()));
        // The defaults publish where the AsyncAPI document says.
        assert_eq!(
            ok.subject(SHIPMENT_CONFIRMED),
            contracts::events::subject(SHIPMENT_CONFIRMED)
        );
        assert_eq!(ok.stream_subjects(), "crossdock.events.>");
        for (bad, field) in [
            (EventsConfig::new("http://127.0.0.1:4222"), "url"),
            (EventsConfig::new("nats://"), "url"),
            (
                EventsConfig {
                    stream: "a.b".into(),
                    ..ok.clone()
                },
                "stream",
            ),
            (
                EventsConfig {
                    subject_prefix: "a.*".into(),
                    ..ok.clone()
                },
                "subject_prefix",
            ),
            (
                EventsConfig {
                    subject_prefix: "a..b".into(),
                    ..ok.clone()
                },
                "subject_prefix",
            ),
            (
                EventsConfig {
                    source: String::new(),
                    ..ok.clone()
                },
                "source",
            ),
        ] {
            assert_eq!(bad.validate().unwrap_err().field, field, "{bad:?}");
        }
    }
}
