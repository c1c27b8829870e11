//! Events on NATS JetStream, against the real server on 127.0.0.1:4222
//! (JetStream on; `.ci/run` starts it). Each test has its own stream and
//! subject prefix, deleted when the test ends (a Drop guard). Without NATS
//! these tests fail, saying so.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use serde_json::Value;
use tokio::net::TcpListener;
use tower::ServiceExt;

use contracts::Role;
use contracts::events::{INVENTORY_ADJUSTED, SHIPMENT_CONFIRMED};
use contracts::routes::{core, erp};
use integration_core::events::{EventsConfig, Publisher};
use integration_core::outbox::{AttemptOutcome, Sent};
use integration_core::store::Delivery;

use crate::outbound::{Wms, WmsScript, confirmation, release};
use crate::support::{CLOSED, Stub, TestCore, eventually, partners, post, quiescent};

const NATS: &str = "nats://127.0.0.1:4222";

/// A stream of the test's own, deleted on drop.
struct TestStream {
    config: EventsConfig,
    js: jetstream::Context,
}

impl TestStream {
    async fn new(tag: &str) -> Self {
        let unique = format!("{tag}_{}_{:08x}", std::process::id(), rand::random::<u32>());
        let config = EventsConfig {
            stream: format!("CROSSDOCK_TEST_{unique}"),
            subject_prefix: format!("crossdock.test.{unique}"),
            ..EventsConfig::new(NATS)
        };
        let js = integration_core::events::connect(&config, Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| {
                panic!("the events tests need NATS with JetStream on 127.0.0.1:4222 (.ci/run starts it): {e}")
            });
        Self { config, js }
    }

    /// Every message in the stream: (subject, Nats-Msg-Id, payload).
    async fn messages(&self) -> Vec<(String, String, Value)> {
        let stream = self.js.get_stream(&self.config.stream).await.expect("the stream");
        let last = stream.get_info().await.expect("stream info").state.last_sequence;
        let mut out = Vec::new();
        for seq in 1..=last {
            let m = stream.get_raw_message(seq).await.expect("a stored message");
            let id = m
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default();
            out.push((
                m.subject.to_string(),
                id,
                serde_json::from_slice(&m.payload).expect("JSON"),
            ));
        }
        out
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let name = self.config.stream.clone();
        // Drop cannot await, and the test's runtime (which drives the
        // test's own connection) is blocked here: a thread with its own
        // runtime and connection deletes the stream.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async {
                let delete = async {
                    let client = async_nats::connect(NATS).await.ok()?;
                    jetstream::new(client).delete_stream(&name).await.ok()
                };
                let deleted = tokio::time::timeout(Duration::from_secs(5), delete)
                    .await
                    .ok()
                    .flatten();
                if deleted.is_none() {
                    eprintln!("warning: failed to delete the test stream {name}");
                }
            });
        })
        .join();
    }
}

crate::both_backends! {
#[tokio::test]
async fn one_event_per_accepted_ship_confirmation_however_often_it_is_sent() {
    let s = TestStream::new("ship").await;
    let w = Wms::start(WmsScript::default()).await;
    let erp_stub = Stub::start().await;
    let config = s.config.clone();
    let core = TestCore::start_with(partners(&erp_stub.url, &w.url, CLOSED), move |c| {
        c.events = Some(config)
    })
    .await;
    let r = post(
        &core.url(),
        core::ORDER_RELEASES,
        "k1",
        &release("SO-1", &[("SKU-1", 10)]),
    )
    .await;
    assert_eq!(r.body["decision"], "accepted");

    let sc = confirmation("SO-1", "SHP-1", "E-1", &[6]);
    let a = post(&core.url(), core::SHIPMENT_CONFIRMATIONS, "s1", &sc).await;
    assert_eq!((a.status, a.outcome()), (201, "accepted"), "{}", a.body);
    // The same request again (a replay) and the same event under a new key
    // (a duplicate): neither is a new acceptance.
    assert!(
        post(&core.url(), core::SHIPMENT_CONFIRMATIONS, "s1", &sc)
            .await
            .replayed()
    );
    let dup = post(&core.url(), core::SHIPMENT_CONFIRMATIONS, "s1-again", &sc).await;
    assert_eq!((dup.status, dup.outcome()), (200, "duplicate"));
    // A refused confirmation (more than released) publishes nothing.
    let over = confirmation("SO-1", "SHP-2", "E-2", &[5]);
    post(&core.url(), core::SHIPMENT_CONFIRMATIONS, "s2", &over)
        .await
        .assert_problem(422, "shipped-exceeds-released");
    erp_stub.wait_for(erp::SHIPMENT_POSTINGS, 1).await;
    quiescent(&core.core).await;

    let got = s.messages().await;
    assert_eq!(got.len(), 1, "{got:?}");
    let (subject, msg_id, event) = &got[0];
    assert_eq!(*subject, s.config.subject(SHIPMENT_CONFIRMED));
    assert_eq!(msg_id, "/crossdock/core/shipment-confirmed:E-1");
    assert_eq!(event["id"], "shipment-confirmed:E-1");
    assert_eq!(event["source"], "/crossdock/core");
    assert_eq!(event["type"], SHIPMENT_CONFIRMED);
    assert_eq!(event["subject"], "SHP-1");
    assert_eq!(event["data"]["event_id"], "E-1");
    // The trace of the confirmation: the caller's trace id (take_in keeps it).
    assert_eq!(event["traceparent"].as_str().unwrap().len(), 55);
    let findings = contracts::validate::validate("ShipmentConfirmedEvent", event).unwrap();
    assert!(findings.is_empty(), "{findings:?}");
    core.stop().await;
}
}

/// A TCP relay to NATS that refuses (accepts and drops) connections until
/// `up` is set, counting the refusals.
async fn flaky_relay() -> (String, Arc<AtomicBool>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("nats://{}", listener.local_addr().unwrap());
    let (up, refused) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let (up2, refused2) = (up.clone(), refused.clone());
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !up2.load(Ordering::SeqCst) {
                refused2.fetch_add(1, Ordering::SeqCst);
                drop(inbound);
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:4222").await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (url, up, refused)
}

crate::both_backends! {
#[tokio::test]
async fn an_adjustment_accepted_while_nats_is_down_is_published_once_when_it_is_back() {
    let s = TestStream::new("retry").await;
    let (relay, up, refused) = flaky_relay().await;
    let erp_stub = Stub::start().await;
    let config = EventsConfig {
        url: relay,
        ..s.config.clone()
    };
    let core = TestCore::start_with(partners(&erp_stub.url, CLOSED, CLOSED), move |c| {
        c.events = Some(config)
    })
    .await;
    let adjustment: Value = serde_json::from_str(include_str!(
        "../../../contracts/examples/InventoryAdjustment/valid-typical.json"
    ))
    .unwrap();
    let a = post(&core.url(), core::INVENTORY_ADJUSTMENTS, "a1", &adjustment).await;
    assert_eq!((a.status, a.outcome()), (201, "accepted"), "{}", a.body);
    // The ERP gets its adjustment; the event waits for NATS, retried.
    erp_stub.wait_for(erp::INVENTORY_ADJUSTMENTS, 1).await;
    eventually("two failed publish attempts", || async {
        refused.load(Ordering::SeqCst) >= 2
    })
    .await;
    assert_eq!(core.core.status().await.unwrap().outbox_pending, 1);
    // Redelivered by the WMS meanwhile: a duplicate, no second event.
    let dup = post(&core.url(), core::INVENTORY_ADJUSTMENTS, "a1-again", &adjustment).await;
    assert_eq!((dup.status, dup.outcome()), (200, "duplicate"));

    up.store(true, Ordering::SeqCst);
    quiescent(&core.core).await;
    let got = s.messages().await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, s.config.subject(INVENTORY_ADJUSTED));
    assert_eq!(got[0].1, "/crossdock/core/inventory-adjusted:evt-adj-3001");
    assert_eq!(got[0].2["data"], adjustment);
    core.stop().await;
}
}

#[tokio::test]
async fn a_republished_event_is_acknowledged_and_stored_once() {
    let s = TestStream::new("republish").await;
    let publisher = Publisher::new(s.config.clone(), Duration::from_secs(5));
    let delivery = Delivery {
        id: 1,
        partner: Role::Harness,
        path: s.config.subject(INVENTORY_ADJUSTED),
        idempotency_key: "/crossdock/core/inventory-adjusted:E-9".into(),
        body: r#"{"id":"inventory-adjusted:E-9"}"#.into(),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        attempts: 0,
    };
    // The first ack was lost (say): the outbox publishes the row again.
    for _ in 0..2 {
        let sent = publisher.clone().oneshot(delivery.clone()).await.unwrap();
        assert_eq!(
            sent,
            Sent::Attempted(AttemptOutcome::Status {
                status: 200,
                retry_after: None
            })
        );
    }
    assert_eq!(s.messages().await.len(), 1);
    // A subject no stream captures is not acknowledged: a retryable failure.
    let nowhere = Delivery {
        path: "crossdock.nowhere.x".into(),
        ..delivery
    };
    let sent = publisher.oneshot(nowhere).await.unwrap();
    assert!(
        matches!(sent, Sent::Attempted(AttemptOutcome::Network(_))),
        "{sent:?}"
    );
}

crate::both_backends! {
#[tokio::test]
async fn without_events_nothing_is_queued() {
    let erp_stub = Stub::start().await;
    let core = TestCore::start(partners(&erp_stub.url, CLOSED, CLOSED)).await;
    let adjustment: Value = serde_json::from_str(include_str!(
        "../../../contracts/examples/InventoryAdjustment/valid-typical.json"
    ))
    .unwrap();
    let a = post(&core.url(), core::INVENTORY_ADJUSTMENTS, "a1", &adjustment).await;
    assert_eq!(a.status, 201);
    let status = quiescent(&core.core).await;
    // One row: the ERP's adjustment; no event row.
    assert_eq!(status.outbox_delivered, 1);
    core.stop().await;
}
}
