//! Wall-clock time as a node sees it.
//!
//! Every node reads wall-clock time only through the [`Clock`] it is handed, so that whoever runs it can give
//! each node its own offset, drift and jumps. Durations that a node waits (timeouts, backoff, polling) use
//! madsim's time directly: they are measured by the local monotonic timer, not by the wall clock.

use std::fmt;

/// Milliseconds since the Unix epoch, as read from some node's wall clock. Readings of different nodes are not
/// comparable: each clock may be skewed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct WallMillis(pub u64);

impl WallMillis {
    pub fn plus_ms(self, ms: u64) -> WallMillis {
        WallMillis(self.0.saturating_add(ms))
    }
}

impl fmt::Display for WallMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wall={}ms", self.0)
    }
}

/// A node's wall clock.
pub trait Clock: Send + Sync {
    fn now(&self) -> WallMillis;
}

/// A clock that reads madsim's monotonic time since the clock was made, plus a fixed epoch. Under simulation it
/// is deterministic; outside it is the process's monotonic clock.
pub struct MonotonicClock {
    start: madsim::time::Instant,
    epoch_ms: u64,
}

impl MonotonicClock {
    pub fn new(epoch_ms: u64) -> Self {
        Self { start: madsim::time::Instant::now(), epoch_ms }
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> WallMillis {
        WallMillis(self.epoch_ms + self.start.elapsed().as_millis() as u64)
    }
}
