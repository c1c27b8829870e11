//! bench integration tests (one binary): each benchmark runs in a minimal
//! configuration through the `crossdock-bench` binary.

mod core;

use std::sync::{Mutex, MutexGuard};

/// Benchmarks take turns: on a two-core machine, two at once would measure
/// each other.
static TURN: Mutex<()> = Mutex::new(());

pub fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}
