//! Streams [`Exchange`] records to a JSON Lines file.
//!
//! Records travel through a bounded channel to one writer thread, so memory
//! stays flat however long a run is: a producer waits when the writer falls
//! behind. [`Recorder::flush`] returns once everything sent before it is on
//! disk.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use contracts::Exchange;
use tokio::sync::{mpsc, oneshot};

/// Records in flight between producers and the writer, at most.
const CHANNEL_CAPACITY: usize = 4096;

/// Records the writer takes off the channel at once.
const BATCH: usize = 256;

/// How long the writer lets records gather after a batch that did not fill
/// up. A writer woken for every record costs a futex wake and a context
/// switch per request on the producer's core; one waking every
/// `GATHER` takes tens of records per wake under load. Idle, it blocks.
/// Each of its naps is a timer and two context switches (~1.3 % of a
/// lifecycle run's CPU for three writers at 2 ms); at 10 ms a third of a
/// batch (256) gathers at 8,000 records/s, and a `flush` waits at most that
/// much longer.
const GATHER: Duration = Duration::from_millis(10);

/// The history file's write buffer.
const WRITE_BUFFER: usize = 64 * 1024;

enum Msg {
    Record(Box<Exchange>),
    /// An exchange whose bodies are still raw bytes: the writer thread
    /// splices them in, off the request path.
    Raw(Box<Exchange>, Option<Bytes>, Option<Bytes>),
    /// An exchange this party sent: its request is compact JSON the party
    /// serialized itself, spliced in without a check.
    Sent(Box<Exchange>, Bytes, Option<Bytes>),
    Flush(oneshot::Sender<std::io::Result<u64>>),
}

/// A cheap, cloneable handle to one history file.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Msg>,
    path: PathBuf,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("path", &self.path).finish()
    }
}

/// Microseconds since the Unix epoch, the clock of every record.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl Recorder {
    /// Creates (truncates) `path` and starts the writer thread.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::create(path)?;
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        std::thread::Builder::new()
            .name(format!("recorder-{}", path.display()))
            .spawn(move || write_loop(rx, BufWriter::with_capacity(WRITE_BUFFER, file)))?;
        Ok(Self {
            tx,
            path: path.to_owned(),
        })
    }

    /// The history file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues one record; its `seq` is assigned by the writer. Waits while
    /// the channel is full.
    pub async fn record(&self, exchange: Exchange) {
        // The writer only stops when every sender is gone, so this cannot fail
        // while `self` lives.
        let _ = self.tx.send(Msg::Record(Box::new(exchange))).await;
    }

    /// Queues one record whose request and response bodies are raw bytes
    /// (kept when they are JSON). Cheaper on the request path than
    /// [`Recorder::record`] with parsed bodies.
    pub async fn record_raw(&self, exchange: Exchange, request: Option<Bytes>, response: Option<Bytes>) {
        let _ = self
            .tx
            .send(Msg::Raw(Box::new(exchange), request, response))
            .await;
    }

    /// Queues the record of a request this party sent: `request` is the
    /// compact JSON it serialized (as `client::json_body` makes it), written
    /// as is; `response` is raw bytes, kept when they are JSON.
    pub async fn record_sent(&self, exchange: Exchange, request: Bytes, response: Option<Bytes>) {
        let _ = self
            .tx
            .send(Msg::Sent(Box::new(exchange), request, response))
            .await;
    }

    /// Waits until every record queued before this call is written and
    /// flushed; returns how many records the file holds.
    pub async fn flush(&self) -> std::io::Result<u64> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Flush(done))
            .await
            .map_err(|_| std::io::Error::other("recorder writer stopped"))?;
        wait.await
            .map_err(|_| std::io::Error::other("recorder writer stopped"))?
    }
}

/// A body as it goes into a JSON Lines record: verbatim when it is compact
/// JSON, re-serialized when it is JSON with line breaks, absent otherwise.
enum RawBody {
    Verbatim(Bytes),
    Parsed(serde_json::Value),
}

fn raw_body(bytes: Option<Bytes>) -> Option<RawBody> {
    let bytes = bytes.filter(|b| !b.is_empty())?;
    if bytes.contains(&b'\n') || bytes.contains(&b'\r') {
        return serde_json::from_slice(&bytes).ok().map(RawBody::Parsed);
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
        .ok()
        .map(|_| RawBody::Verbatim(bytes))
}

/// Writes `exchange` with its raw bodies spliced in as the `request` and
/// `response` members; `line` is scratch space, reused between records.
fn write_raw(
    out: &mut BufWriter<File>,
    line: &mut Vec<u8>,
    exchange: &mut Exchange,
    request: Option<RawBody>,
    response: Option<RawBody>,
) -> std::io::Result<()> {
    line.clear();
    let mut splice: [Option<(&str, Bytes)>; 2] = [None, None];
    for ((name, body, slot), spliced) in [
        ("request", request, &mut exchange.request),
        ("response", response, &mut exchange.response),
    ]
    .into_iter()
    .zip(&mut splice)
    {
        match body {
            Some(RawBody::Parsed(v)) => *slot = Some(v),
            Some(RawBody::Verbatim(b)) => *spliced = Some((name, b)),
            None => {}
        }
    }
    serde_json::to_writer(&mut *line, &*exchange)?;
    // The record is an object: reopen it to append the verbatim members.
    line.pop();
    for (name, b) in splice.into_iter().flatten() {
        line.extend_from_slice(b",\"");
        line.extend_from_slice(name.as_bytes());
        line.extend_from_slice(b"\":");
        line.extend_from_slice(&b);
    }
    line.extend_from_slice(b"}\n");
    out.write_all(line)
}

fn write_loop(mut rx: mpsc::Receiver<Msg>, mut out: BufWriter<File>) {
    let mut seq = 0u64;
    let mut failed: Option<std::io::Error> = None;
    let mut line = Vec::with_capacity(1024);
    let mut batch = Vec::with_capacity(BATCH);
    // Waits for at least one message, then takes what is queued, in order.
    while rx.blocking_recv_many(&mut batch, BATCH) > 0 {
        let full = batch.len() == BATCH;
        for msg in batch.drain(..) {
            // What each record's bodies are: its own (typed) members, or raw
            // bytes spliced in.
            let (mut exchange, raw) = match msg {
                Msg::Flush(done) => {
                    let result = match &failed {
                        Some(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                        None => out.flush().and_then(|()| out.get_ref().sync_data()).map(|()| seq),
                    };
                    let _ = done.send(result);
                    continue;
                }
                _ if failed.is_some() => continue,
                Msg::Record(exchange) => (exchange, None),
                Msg::Raw(exchange, request, response) => {
                    (exchange, Some((raw_body(request), raw_body(response))))
                }
                Msg::Sent(exchange, request, response) => {
                    let request = (!request.is_empty()).then_some(RawBody::Verbatim(request));
                    (exchange, Some((request, raw_body(response))))
                }
            };
            exchange.seq = seq;
            seq += 1;
            let written = match raw {
                None => serde_json::to_writer(&mut out, &exchange)
                    .map_err(std::io::Error::from)
                    .and_then(|()| out.write_all(b"\n")),
                Some((request, response)) => write_raw(&mut out, &mut line, &mut exchange, request, response),
            };
            if let Err(e) = written {
                failed = Some(e);
            }
        }
        if !full && rx.is_empty() {
            // Caught up: let the next records gather rather than be woken
            // for each (producers do not wake a writer that is not waiting).
            std::thread::sleep(GATHER);
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::{Direction, Role};

    fn sample(n: u64) -> Exchange {
        Exchange {
            seq: 999,
            party: Role::Erp,
            peer: Role::Core,
            direction: Direction::Inbound,
            method: "POST".into(),
            endpoint: format!("/v1/x/{n}"),
            status: Some(201),
            error: None,
            started_at_us: n,
            finished_at_us: n + 1,
            idempotency_key: Some(format!("k{n}")),
            trace_id: None,
            replayed: false,
            fault: None,
            handler_status: None,
            request: Some(serde_json::json!({"n": n})),
            response: None,
        }
    }

    #[tokio::test]
    async fn raw_and_sent_bodies_are_spliced_verbatim_or_reparsed_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let rec = Recorder::create(&path).unwrap();
        let mut ex = sample(1);
        ex.request = None;
        rec.record_raw(
            ex.clone(),
            Some(Bytes::from_static(b"{\"a\":1}")),
            Some(Bytes::from_static(b"not json")),
        )
        .await;
        rec.record_raw(
            ex.clone(),
            Some(Bytes::from_static(b"{\n  \"b\": [1, 2]\n}")),
            None,
        )
        .await;
        rec.record_sent(
            ex,
            Bytes::from_static(b"{\"c\":\"x\"}"),
            Some(Bytes::from_static(b"{\"ok\":true}")),
        )
        .await;
        assert_eq!(rec.flush().await.unwrap(), 3);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Exchange> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0].request, Some(serde_json::json!({"a": 1})));
        assert_eq!(lines[0].response, None);
        assert_eq!(lines[0].seq, 0);
        assert_eq!(lines[1].request, Some(serde_json::json!({"b": [1, 2]})));
        assert_eq!(lines[1].seq, 1);
        assert_eq!(lines[2].request, Some(serde_json::json!({"c": "x"})));
        assert_eq!(lines[2].response, Some(serde_json::json!({"ok": true})));
        assert_eq!(lines[2].seq, 2);
    }

    #[tokio::test]
    async fn records_are_numbered_in_order_and_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let rec = Recorder::create(&path).unwrap();
        // More than the channel holds, so producers must wait on the writer.
        let total = CHANNEL_CAPACITY as u64 * 2 + 3;
        for n in 0..total {
            rec.record(sample(n)).await;
        }
        assert_eq!(rec.flush().await.unwrap(), total);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Exchange> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len() as u64, total);
        for (i, ex) in lines.iter().enumerate() {
            assert_eq!(ex.seq, i as u64);
            assert_eq!(ex.started_at_us, i as u64);
        }
    }
}
