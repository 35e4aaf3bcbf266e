//! Per-node wall clocks. madsim has one clock for all nodes; each node here reads its own [`SimClock`]: true
//! simulated time plus an offset that moves piecewise-linearly. Faults give it a fixed offset, a drift rate,
//! sudden jumps forward or backward, and corrections that slew it back, so that leases, timeouts and "newest
//! wins" decisions see what real skewed nodes see.
//!
//! All arithmetic is in integer microseconds and parts per million, so readings are identical on every platform.

use madsim::time::Instant;
use std::sync::Mutex;
use system::clock::{Clock, WallMillis};

/// The wall-clock time at the start of every run: 2026-01-01T00:00:00Z. Fixed, so traces are reproducible.
pub const EPOCH_MS: u64 = 1_767_225_600_000;

/// The offset as a function of true time: `anchor_offset + rate * (t - anchor)`, clamped at `target` while
/// slewing towards it.
#[derive(Clone, Copy, Debug, Default)]
struct Offset {
    anchor_us: i64,
    anchor_offset_us: i64,
    rate_ppm: i64,
    target_us: Option<i64>,
}

impl Offset {
    fn at(&self, true_us: i64) -> i64 {
        let moved = self.rate_ppm.saturating_mul(true_us - self.anchor_us) / 1_000_000;
        let offset = self.anchor_offset_us.saturating_add(moved);
        match self.target_us {
            Some(target) if self.rate_ppm > 0 => offset.min(target),
            Some(target) if self.rate_ppm < 0 => offset.max(target),
            _ => offset,
        }
    }
}

pub struct SimClock {
    start: Instant,
    offset: Mutex<Offset>,
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SimClock {
    /// Must be made inside the runtime.
    pub fn new() -> Self {
        Self { start: Instant::now(), offset: Mutex::new(Offset::default()) }
    }

    fn true_us(&self) -> i64 {
        self.start.elapsed().as_micros() as i64
    }

    /// The current offset from true time, in microseconds.
    pub fn offset_us(&self) -> i64 {
        self.offset.lock().expect("clock lock").at(self.true_us())
    }

    fn reanchor(&self, f: impl FnOnce(i64, &mut Offset)) {
        let now = self.true_us();
        let mut offset = self.offset.lock().expect("clock lock");
        let current = offset.at(now);
        // A slew that has reached its target holds there: it has no rate left. A drift keeps its rate.
        let (rate_ppm, target_us) = match offset.target_us {
            Some(target) if target == current => (0, None),
            target => (offset.rate_ppm, target),
        };
        *offset = Offset { anchor_us: now, anchor_offset_us: current, rate_ppm, target_us };
        f(current, &mut offset);
    }

    /// Jumps the clock by `by_us` (forward if positive), keeping its drift.
    pub fn jump(&self, by_us: i64) {
        self.reanchor(|current, o| o.anchor_offset_us = current + by_us);
    }

    /// Makes the clock run fast (positive) or slow (negative) by `ppm` parts per million.
    pub fn drift(&self, ppm: i64) {
        self.reanchor(|_, o| o.rate_ppm = ppm);
    }

    /// Slews the offset towards `target_us` at `ppm_abs` parts per million, then holds it there.
    pub fn slew_to(&self, target_us: i64, ppm_abs: i64) {
        self.reanchor(|current, o| {
            o.rate_ppm = if target_us > current { ppm_abs.abs() } else { -ppm_abs.abs() };
            o.target_us = Some(target_us);
        });
    }

    /// Back to true time, at once, with no drift.
    pub fn reset(&self) {
        self.reanchor(|_, o| *o = Offset { anchor_us: o.anchor_us, ..Offset::default() });
    }
}

impl Clock for SimClock {
    fn now(&self) -> WallMillis {
        let true_us = self.true_us();
        let wall_us = (EPOCH_MS as i64) * 1_000 + true_us + self.offset.lock().expect("clock lock").at(true_us);
        WallMillis((wall_us.max(0) / 1_000) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset_after(o: Offset, secs: i64) -> i64 {
        o.at(secs * 1_000_000)
    }

    #[test]
    fn drift_and_slew_are_piecewise_linear() {
        let drift = Offset { rate_ppm: 100_000, ..Offset::default() };
        assert_eq!(offset_after(drift, 10), 1_000_000, "10% fast for 10 s is one second ahead");
        let slew = Offset { anchor_offset_us: 5_000_000, rate_ppm: -500_000, target_us: Some(0), ..Offset::default() };
        assert_eq!(offset_after(slew, 4), 3_000_000);
        assert_eq!(offset_after(slew, 20), 0, "a slew stops at its target");
    }
}
