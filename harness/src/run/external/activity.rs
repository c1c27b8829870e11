//! What goes through the proxies before external partners, for
//! quiescence: exchanges in flight, and when the last one ended.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use simulators::recorder::now_us;

/// Exchanges through the proxies: in flight now, and when the last ended.
#[derive(Debug, Default)]
pub struct Activity {
    pub(super) in_flight: AtomicUsize,
    pub(super) last_us: AtomicU64,
}

impl Activity {
    /// Proxied exchanges still open, plus one when the last one ended less
    /// than `quiet` ago (the party may still act on what it just got).
    pub fn busy(&self, quiet: Duration) -> usize {
        let last = self.last_us.load(Ordering::SeqCst);
        let recent = last > 0 && now_us().saturating_sub(last) < quiet.as_micros() as u64;
        self.in_flight.load(Ordering::SeqCst) + usize::from(recent)
    }
}
