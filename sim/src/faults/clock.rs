//! Per-node wall clocks. madsim has one clock for all nodes; each node here reads its own [`SimClock`]: true
//! simulated time plus the sum of what its active clock faults add. Faults give it a fixed offset, a drift rate,
//! sudden jumps forward or backward, and corrections that slew it back, so that leases, timeouts and "newest
//! wins" decisions see what real skewed nodes see. Overlapping faults compose, started and healed in any order:
//! each contributes its own part, and healing one removes only its part (an offset steps back; a drift's built-up
//! error and a jump slew back to true time at [`SLEW_PPM`]).
//!
//! All arithmetic is in integer microseconds and parts per million, so readings are identical on every platform.

use super::active::Active;
use madsim::time::Instant;
use std::sync::Mutex;
use system::clock::{Clock, WallMillis};

/// The wall-clock time at the start of every run: 2026-01-01T00:00:00Z. Fixed, so traces are reproducible.
pub const EPOCH_MS: u64 = 1_767_225_600_000;

/// How far a correction slews a clock back to true time: 50% of real time, as NTP's slewing would at worst.
pub const SLEW_PPM: i64 = 500_000;

/// One clock fault, as it changes the clock while it lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Set off by this many microseconds; healing steps back.
    Offset(i64),
    /// Running fast (positive) or slow by this many parts per million; healing slews the error it built up back.
    Drift(i64),
    /// Jumped by this many microseconds; healing slews back.
    Jump(i64),
}

/// A change under way, or a correction slewing one back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Active {
        change: Change,
        since_us: i64,
    },
    /// Slewing from `from_us` (at `at_us`) toward zero.
    Slew {
        from_us: i64,
        at_us: i64,
    },
}

impl Part {
    fn at(&self, t: i64) -> i64 {
        match *self {
            Part::Active { change: Change::Offset(us) | Change::Jump(us), .. } => us,
            Part::Active { change: Change::Drift(ppm), since_us } => ppm.saturating_mul(t - since_us) / 1_000_000,
            Part::Slew { from_us, at_us } => {
                let moved = SLEW_PPM.saturating_mul(t - at_us) / 1_000_000;
                if from_us > 0 {
                    (from_us - moved).max(0)
                } else {
                    (from_us + moved).min(0)
                }
            }
        }
    }

    fn done(&self, t: i64) -> bool {
        matches!(self, Part::Slew { .. }) && self.at(t) == 0
    }
}

/// A node's wall clock: true simulated time plus the sum of what its active clock faults (and their corrections)
/// add, recomputed whenever one starts or heals, in any order.
pub struct SimClock {
    start: Instant,
    parts: Mutex<Active<Part>>,
    /// The furthest ahead of true time this clock has been at any start, heal or reset, in microseconds. A lease
    /// granted by a clock that was ahead and is then set back runs that much longer in true time.
    ahead_max_us: std::sync::atomic::AtomicI64,
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SimClock {
    /// Must be made inside the runtime.
    pub fn new() -> Self {
        Self { start: Instant::now(), parts: Mutex::new(Active::default()), ahead_max_us: Default::default() }
    }

    fn true_us(&self) -> i64 {
        self.start.elapsed().as_micros() as i64
    }

    /// The current offset from true time, in microseconds: the sum of every part.
    pub fn offset_us(&self) -> i64 {
        let t = self.true_us();
        let offset = self.parts.lock().expect("clock lock").iter().map(|p| p.at(t)).fold(0i64, i64::saturating_add);
        self.ahead_max_us.fetch_max(offset, std::sync::atomic::Ordering::SeqCst);
        offset
    }

    /// The furthest ahead of true time this clock has been when a fault started or healed, or when it was reset
    /// (zero if never ahead).
    pub fn ahead_max(&self) -> std::time::Duration {
        let us = self.ahead_max_us.load(std::sync::atomic::Ordering::SeqCst).max(0);
        std::time::Duration::from_micros(us as u64)
    }

    /// A clock fault starts. Returns the clock's offset after it.
    pub fn start(&self, change: Change) -> i64 {
        let t = self.true_us();
        let mut parts = self.parts.lock().expect("clock lock");
        parts.retain(|p| !p.done(t));
        parts.push(Part::Active { change, since_us: t });
        drop(parts);
        self.offset_us()
    }

    /// A clock fault heals: an offset steps back; a drift's built-up error and a jump slew back. Returns the
    /// clock's offset after it.
    pub fn heal(&self, change: Change) -> i64 {
        let t = self.true_us();
        let mut parts = self.parts.lock().expect("clock lock");
        parts.retain(|p| !p.done(t));
        if let Some(part) = parts.take(|p| matches!(p, Part::Active { change: c, .. } if *c == change)) {
            let from_us = part.at(t);
            if !matches!(change, Change::Offset(_)) && from_us != 0 {
                parts.push(Part::Slew { from_us, at_us: t });
            }
        }
        drop(parts);
        self.offset_us()
    }

    /// Back to true time, at once (every fault healed before the liveness phase). Returns the offset it had.
    pub fn reset(&self) -> i64 {
        let offset = self.offset_us();
        self.parts.lock().expect("clock lock").clear();
        offset
    }
}

impl Clock for SimClock {
    fn now(&self) -> WallMillis {
        let true_us = self.true_us();
        let offset: i64 =
            self.parts.lock().expect("clock lock").iter().map(|p| p.at(true_us)).fold(0i64, i64::saturating_add);
        let wall_us = (EPOCH_MS as i64) * 1_000 + true_us + offset;
        WallMillis((wall_us.max(0) / 1_000) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drift_grows_and_a_slew_stops_at_zero() {
        let drift = Part::Active { change: Change::Drift(100_000), since_us: 0 };
        assert_eq!(drift.at(10_000_000), 1_000_000, "10% fast for 10 s is one second ahead");
        let slew = Part::Slew { from_us: 5_000_000, at_us: 0 };
        assert_eq!(slew.at(4_000_000), 3_000_000);
        assert_eq!(slew.at(20_000_000), 0, "a slew stops at true time");
        assert!(slew.done(20_000_000));
        let back = Part::Slew { from_us: -2_000_000, at_us: 0 };
        assert_eq!(back.at(1_000_000), -1_500_000);
    }
}
