//! Streams [`Exchange`] records to a JSON Lines file.
//!
//! Records travel through a bounded channel to one writer thread, so memory
//! stays flat however long a run is: a producer waits when the writer falls
//! behind. [`Recorder::flush`] returns once everything sent before it is on
//! disk.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use contracts::Exchange;
use tokio::sync::{mpsc, oneshot};

/// Records in flight between producers and the writer, at most.
const CHANNEL_CAPACITY: usize = 4096;

enum Msg {
    Record(Box<Exchange>),
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
            .spawn(move || write_loop(rx, BufWriter::new(file)))?;
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

fn write_loop(mut rx: mpsc::Receiver<Msg>, mut out: BufWriter<File>) {
    let mut seq = 0u64;
    let mut failed: Option<std::io::Error> = None;
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Record(mut exchange) => {
                if failed.is_some() {
                    continue;
                }
                exchange.seq = seq;
                seq += 1;
                let written = serde_json::to_writer(&mut out, &exchange)
                    .map_err(std::io::Error::from)
                    .and_then(|()| out.write_all(b"\n"));
                if let Err(e) = written {
                    failed = Some(e);
                }
            }
            Msg::Flush(done) => {
                let result = match &failed {
                    Some(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                    None => out.flush().and_then(|()| out.get_ref().sync_data()).map(|()| seq),
                };
                let _ = done.send(result);
            }
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
