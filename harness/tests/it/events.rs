//! Runs with events on NATS JetStream (127.0.0.1:4222, JetStream on;
//! `.ci/run` starts it): the in-process core publishes, the run checks
//! exactly once, the contract and the replay; a stream tampered with after
//! the run (an event stored twice, one deleted) fails the check, naming the
//! keys. Each test has its own stream and subject prefix, deleted at the
//! end. Without NATS these tests fail, saying so.

use std::time::Duration;

use async_nats::jetstream;

use checker::events::{EventsSeen, check};
use harness::run::events::{RunEvents, read_stream};
use harness::run::{RunOptions, RunOutcome, run_scenario};

use crate::{scenario, scenario_turn};

const NATS: &str = "nats://127.0.0.1:4222";

/// The test's own stream name and prefix; the stream is deleted on drop.
struct TestStream {
    events: RunEvents,
    js: jetstream::Context,
}

impl TestStream {
    async fn new(tag: &str) -> Self {
        let unique = format!("{tag}_{}_{:08x}", std::process::id(), rand::random::<u32>());
        let mut events = RunEvents::new(NATS, &format!("CROSSDOCK_TEST_{unique}")).unwrap();
        events.subject_prefix = format!("crossdock.test.{unique}");
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(NATS)
            .await
            .unwrap_or_else(|e| {
                panic!("the events tests need NATS with JetStream on 127.0.0.1:4222 (.ci/run starts it): {e}")
            });
        Self {
            events,
            js: jetstream::new(client),
        }
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let name = self.events.stream.clone();
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

async fn run(file: &str, events: &TestStream) -> (RunOutcome, tempfile::TempDir) {
    let _turn = scenario_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out_dir: dir.path().to_owned(),
        seed: None,
        core: Default::default(),
        progress: None,
        events: Some(events.events.clone()),
        parties: Default::default(),
        store: None,
    };
    (run_scenario(&scenario(file), &opts).await.unwrap(), dir)
}

fn assert_events_checks_pass(outcome: &RunOutcome) {
    for name in ["events-exactly-once", "events-contract", "events-replay"] {
        let c = outcome
            .report
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}"));
        assert!(c.passed, "{c:?}");
        assert!(c.checked > 0, "{c:?}");
    }
    assert!(outcome.report.passed, "{:?}", outcome.report.checks);
}

fn histories(outcome: &RunOutcome) -> Vec<std::path::PathBuf> {
    ["erp", "supplier", "wms"]
        .iter()
        .map(|p| outcome.out_dir.join(format!("{p}.jsonl")))
        .collect()
}

#[tokio::test]
async fn ship_confirmations_are_published_exactly_once() {
    let s = TestStream::new("run_outbound").await;
    let (outcome, _dir) = run("outbound-happy-path.toml", &s).await;
    assert_events_checks_pass(&outcome);
    assert!(
        outcome.report.counts["events"] > 10,
        "{:?}",
        outcome.report.counts
    );
}

#[tokio::test]
async fn redelivered_adjustments_yield_one_event_and_tampering_is_caught() {
    let s = TestStream::new("run_inventory").await;
    // The WMS sends every adjustment twice (a duplicate fault).
    let (outcome, _dir) = run("reconciliation-drift.toml", &s).await;
    assert_events_checks_pass(&outcome);
    let n = outcome.report.counts["events"];
    assert!(n > 10, "{:?}", outcome.report.counts);

    // Tamper with the stream: the first event stored again under another
    // Nats-Msg-Id (a republish JetStream cannot recognise), the second
    // deleted.
    let stream = s.js.get_stream(&s.events.stream).await.unwrap();
    let first = stream.get_raw_message(1).await.unwrap();
    let second = stream.get_raw_message(2).await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, "a-new-msg-id");
    s.js.publish_with_headers(first.subject.to_string(), headers, first.payload.clone())
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(stream.delete_message(2).await.unwrap());
    let id = |payload: &[u8]| {
        let v: serde_json::Value = serde_json::from_slice(payload).unwrap();
        (
            format!("{}/{}", v["source"].as_str().unwrap(), v["id"].as_str().unwrap()),
            v["data"]["source_event_id"].as_str().unwrap().to_owned(),
        )
    };
    let (dup_identity, _) = id(&first.payload);
    let (_, lost_key) = id(&second.payload);

    let read = || read_stream(&s.js, &s.events.stream, 1);
    let seen = EventsSeen {
        stream: s.events.stream.clone(),
        first: read().await.unwrap(),
        replay: read().await.unwrap(),
    };
    assert_eq!(seen.first.len() as u64, n);
    let checks = check(&histories(&outcome), &contracts::Validator::new(), &seen).unwrap();
    let once = checks.iter().find(|c| c.name == "events-exactly-once").unwrap();
    assert!(!once.passed);
    let keyed = |key: &str| once.violations.iter().find(|v| v.key.ends_with(key));
    let dup = keyed(&dup_identity).unwrap_or_else(|| panic!("no duplicate of {dup_identity}: {once:?}"));
    assert!(dup.message.starts_with("duplicated"), "{dup:?}");
    assert_eq!(dup.witness.len(), 2);
    let lost = keyed(&format!(" {lost_key}")).unwrap_or_else(|| panic!("{lost_key} not lost: {once:?}"));
    assert!(lost.message.starts_with("lost"), "{lost:?}");
    assert_eq!(lost.witness[0].party, "wms");
    // The contract check names the re-keyed copy.
    let contract = checks.iter().find(|c| c.name == "events-contract").unwrap();
    assert!(
        contract
            .violations
            .iter()
            .any(|v| v.message.contains("a-new-msg-id")),
        "{contract:?}"
    );
}
