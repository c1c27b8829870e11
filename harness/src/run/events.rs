//! A run with events (`crossdock run --events nats://…`): the in-process
//! core publishes to a JetStream stream, and after the run is quiet the
//! harness reads the run's part of that stream twice, each time with its own
//! ephemeral consumer from the run's first sequence, for
//! `check::events`.
//!
//! Each run publishes under its own CloudEvents `source`
//! (`/crossdock/core/run-<start µs>-<seed>`), so a re-run of the same seeded
//! scenario (the same business keys, the same event ids) is not dropped by
//! JetStream's duplicate window as a republish of the previous run; and it
//! reads from the sequence after the stream's last one at its start, so
//! earlier runs' events are not its own. Runs sharing a stream must not
//! overlap in time (another run's events would count as unexpected).

use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use futures_util::StreamExt;

use integration_core::EventsConfig;

use checker::events::StreamEvent;

/// How long connecting, and each wait for the next message, may take.
const NATS_TIMEOUT: Duration = Duration::from_secs(5);

/// `--events` and `--events-stream` of `crossdock run`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEvents {
    pub url: String,
    pub stream: String,
    /// Subjects are `<subject_prefix>.<type>` (default `crossdock.events`).
    pub subject_prefix: String,
}

impl RunEvents {
    /// Checks the URL and stream name.
    pub fn new(url: &str, stream: &str) -> Result<Self, String> {
        let config = EventsConfig {
            stream: stream.to_owned(),
            ..EventsConfig::new(url)
        };
        config.validate().map_err(|e| format!("--events: {e}"))?;
        Ok(Self {
            url: url.to_owned(),
            stream: stream.to_owned(),
            subject_prefix: config.subject_prefix,
        })
    }

    /// Connects, creates the stream if absent, and notes where this run's
    /// events will start. `source` is the run's CloudEvents source.
    pub async fn prepare(&self, source: String) -> Result<Prepared, String> {
        let config = EventsConfig {
            stream: self.stream.clone(),
            subject_prefix: self.subject_prefix.clone(),
            source,
            ..EventsConfig::new(&self.url)
        };
        config.validate().map_err(|e| e.to_string())?;
        let js = integration_core::events::connect(&config, NATS_TIMEOUT).await?;
        let last = last_sequence(&js, &config.stream).await?;
        Ok(Prepared {
            config,
            js,
            start_seq: last + 1,
        })
    }
}

/// A run's events, ready: the core's configuration and the first sequence
/// that is the run's.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub config: EventsConfig,
    js: jetstream::Context,
    pub start_seq: u64,
}

impl Prepared {
    /// Reads the run's events once, from its first sequence to the stream's
    /// last, with a new ephemeral consumer.
    pub async fn read(&self) -> Result<Vec<StreamEvent>, String> {
        read_stream(&self.js, &self.config.stream, self.start_seq).await
    }
}

async fn last_sequence(js: &jetstream::Context, stream: &str) -> Result<u64, String> {
    let mut s = js
        .get_stream(stream)
        .await
        .map_err(|e| format!("failed to find JetStream stream {stream}: {e}"))?;
    let info = s
        .info()
        .await
        .map_err(|e| format!("failed to read JetStream stream {stream}'s state: {e}"))?;
    Ok(info.state.last_sequence)
}

/// Every message of `stream` from `start_seq` to its last sequence at the
/// time of the call, in order, through a new ephemeral pull consumer (no
/// acks: reading changes nothing in the stream).
pub async fn read_stream(
    js: &jetstream::Context,
    stream: &str,
    start_seq: u64,
) -> Result<Vec<StreamEvent>, String> {
    let last = last_sequence(js, stream).await?;
    if last < start_seq {
        return Ok(Vec::new());
    }
    let s = js
        .get_stream(stream)
        .await
        .map_err(|e| format!("failed to find JetStream stream {stream}: {e}"))?;
    let consumer = s
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start_seq,
            },
            ack_policy: AckPolicy::None,
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("failed to create a consumer on {stream}: {e}"))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| format!("failed to read {stream}: {e}"))?;
    let mut out = Vec::new();
    loop {
        let next = tokio::time::timeout(NATS_TIMEOUT, messages.next())
            .await
            .map_err(|_| {
                format!(
                    "reading {stream}: no message within {NATS_TIMEOUT:?} (expected up to sequence {last})"
                )
            })?;
        let m = match next {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(format!("reading {stream}: {e}")),
            None => {
                return Err(format!(
                    "reading {stream}: the consumer ended before sequence {last}"
                ));
            }
        };
        let seq = m
            .info()
            .map_err(|e| format!("reading {stream}: a message without JetStream metadata: {e}"))?
            .stream_sequence;
        let msg_id = m
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|v| v.as_str().to_owned());
        out.push(StreamEvent {
            seq,
            subject: m.subject.to_string(),
            msg_id,
            payload: m.payload.to_vec(),
        });
        if seq >= last {
            break;
        }
    }
    Ok(out)
}
