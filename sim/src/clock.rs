//! Per-node wall clocks. madsim has one clock for all nodes; each node here reads its own [`SimClock`], which
//! the clock faults can skew, so that leases, timeouts and "newest wins" decisions see what real skewed nodes see.

use madsim::time::Instant;
use std::sync::atomic::{AtomicI64, Ordering};
use system::clock::{Clock, WallMillis};

/// The wall-clock time at the start of every run: 2026-01-01T00:00:00Z. Fixed, so traces are reproducible.
pub const EPOCH_MS: u64 = 1_767_225_600_000;

pub struct SimClock {
    start: Instant,
    /// Added to true simulated time, in milliseconds; may be negative.
    offset_ms: AtomicI64,
}

impl SimClock {
    /// Must be made inside the runtime.
    pub fn new() -> Self {
        Self { start: Instant::now(), offset_ms: AtomicI64::new(0) }
    }

    pub fn set_offset_ms(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::SeqCst);
    }
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SimClock {
    fn now(&self) -> WallMillis {
        let true_ms = EPOCH_MS as i64 + self.start.elapsed().as_millis() as i64;
        WallMillis((true_ms + self.offset_ms.load(Ordering::SeqCst)).max(0) as u64)
    }
}
