//! Branches: how a run is re-randomized from a moment on, without a snapshot of the simulation.
//!
//! A run is a function of (seed, fault plan, branches). A branch `{ at, child }` leaves everything before `at`
//! (simulated time since the safety phase began) as the parent had it and re-randomizes what follows: every
//! random stream of the harness (each client's load, each reader, the link layer's loss, each disk) draws from the
//! child's own stream for draws at or after `at`; the generated faults that start at or after `at` are drawn
//! anew from the child's fault stream ([`crate::faults::generate::generate_from`]); and at `at` the fault
//! injector draws a few values from madsim's generator, which re-randomizes the scheduling, latencies and the
//! system's own jitter from that moment on. The injector wakes at `at` on a timer: registering a timer draws
//! nothing, so nothing before `at` moves. A branch of a branch switches again at its own time.
//!
//! Because the prefix replays exactly (tested for many seeds, times and every catalog scenario), a branch is a
//! cheap fork: the explorer re-runs the prefix instead of snapshotting it, and a seed file that records its
//! branches replays bit for bit.

use crate::rng;
use crate::scenario::Dur;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// One branch point of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// From the start of the safety phase.
    pub at: Dur,
    /// The child's name: which streams it draws from.
    pub child: u64,
}

/// The largest child name: seed files are TOML, whose integers are signed 64-bit.
pub const CHILD_MAX: u64 = i64::MAX as u64;

impl Branch {
    /// A branch at `at` to the child named by `child` (its top bit dropped, so that a seed file can hold it).
    pub fn new(at: Duration, child: u64) -> Branch {
        Branch { at: Dur(at), child: child & CHILD_MAX }
    }

    /// Values madsim's generator gives up at the branch point: a few, so that children differ among themselves.
    pub fn perturbation(&self) -> u64 {
        1 + self.child % 7
    }
}

impl std::fmt::Display for Branch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "branch {:016x} at {}", self.child, self.at)
    }
}

/// The key of the streams of the branch that ends `path`: each branch's streams depend on every branch before it.
fn path_key(path: &[Branch]) -> u64 {
    path.iter().fold(0x5eed_b7a5_c0de_0001u64, |h, b| {
        let mut x = h ^ b.child.rotate_left(17) ^ (b.at.0.as_micros() as u64);
        x = (x ^ (x >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^ (x >> 29)
    })
}

/// When the run's safety phase began: set once inside the run; streams switch relative to it.
#[derive(Default)]
pub struct BranchClock(OnceLock<madsim::time::Instant>);

impl BranchClock {
    pub fn start(&self, at: madsim::time::Instant) {
        let _ = self.0.set(at);
    }

    fn elapsed(&self) -> Option<Duration> {
        self.0.get().map(|start| start.elapsed())
    }
}

/// A random stream of the harness that follows the run's branches: the parent's stream until the first branch
/// point, then each branch's in turn.
pub struct Stream {
    /// The parent's stream, then one per branch with its switch time.
    parts: Vec<(Duration, ChaCha8Rng)>,
    clock: Arc<BranchClock>,
}

impl Stream {
    fn current(&mut self) -> &mut ChaCha8Rng {
        if self.parts.len() == 1 {
            return &mut self.parts[0].1;
        }
        let i = match self.clock.elapsed() {
            None => 0,
            Some(now) => self.parts.iter().rposition(|(at, _)| *at <= now).unwrap_or(0),
        };
        &mut self.parts[i].1
    }
}

impl RngCore for Stream {
    fn next_u32(&mut self) -> u32 {
        self.current().next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.current().next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.current().fill_bytes(dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.current().try_fill_bytes(dest)
    }
}

/// The random streams of one run: the seed's, and each branch's.
#[derive(Clone)]
pub struct Streams {
    seed: u64,
    branches: Vec<Branch>,
    pub clock: Arc<BranchClock>,
}

impl Streams {
    /// `branches` in time order.
    pub fn new(seed: u64, branches: &[Branch]) -> Streams {
        let mut branches = branches.to_vec();
        branches.sort_by_key(|b| b.at);
        Streams { seed, branches, clock: Arc::default() }
    }

    fn build(&self, make: impl Fn(u64) -> ChaCha8Rng) -> Stream {
        let mut parts = vec![(Duration::ZERO, make(self.seed))];
        for i in 0..self.branches.len() {
            parts.push((self.branches[i].at.0, make(self.seed ^ path_key(&self.branches[..=i]))));
        }
        Stream { parts, clock: self.clock.clone() }
    }

    /// The stream of `concern` and `index` (see [`rng::stream`]).
    pub fn stream(&self, concern: &str, index: u64) -> Stream {
        self.build(|seed| rng::stream(seed, concern, index))
    }

    /// The stream of `concern` and a name (see [`rng::stream_named`]).
    pub fn stream_named(&self, concern: &str, name: &str) -> Stream {
        self.build(|seed| rng::stream_named(seed, concern, name))
    }

    /// The fault stream of the branch that ends `path` (the seed's own for an empty path).
    pub fn faults_of(seed: u64, path: &[Branch]) -> ChaCha8Rng {
        let seed = if path.is_empty() { seed } else { seed ^ path_key(path) };
        rng::stream(seed, "faults", 0)
    }

    pub fn branches(&self) -> &[Branch] {
        &self.branches
    }
}
