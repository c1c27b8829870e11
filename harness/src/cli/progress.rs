//! Renders run progress on standard error: a bar on a terminal, otherwise a
//! plain line at most once a second (and at each change of phase). The run
//! emits [`Progress`] events; it never renders.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::run::{Progress, ProgressSink};

/// The sink for the terminal, or for a log when not a terminal.
pub fn progress_sink() -> ProgressSink {
    if std::io::stderr().is_terminal() {
        bar()
    } else {
        lines()
    }
}

fn bar() -> ProgressSink {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg:40} [{bar:30}] {pos}/{len}") {
        bar.set_style(style);
    }
    ProgressSink(Arc::new(move |p: &Progress| match p {
        Progress::Releasing { released, total } => {
            bar.set_length(*total);
            bar.set_position(*released);
            bar.set_message("releasing purchase orders");
        }
        Progress::Settling {
            in_flight,
            outbox_pending,
        } => bar.set_message(format!(
            "settling: {in_flight} in flight, {outbox_pending} in the outbox"
        )),
        Progress::Checking => bar.finish_and_clear(),
    }))
}

fn lines() -> ProgressSink {
    let last: Mutex<Option<(Instant, std::mem::Discriminant<Progress>)>> = Mutex::new(None);
    ProgressSink(Arc::new(move |p: &Progress| {
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        let phase = std::mem::discriminant(p);
        let due = match *last {
            None => true,
            Some((at, previous)) => previous != phase || at.elapsed() >= Duration::from_secs(1),
        };
        if !due {
            return;
        }
        *last = Some((Instant::now(), phase));
        match p {
            Progress::Releasing { released, total } => {
                eprintln!("crossdock: released {released}/{total} purchase orders")
            }
            Progress::Settling {
                in_flight,
                outbox_pending,
            } => eprintln!("crossdock: settling: {in_flight} in flight, {outbox_pending} in the outbox"),
            Progress::Checking => eprintln!("crossdock: checking the recorded history"),
        }
    }))
}
