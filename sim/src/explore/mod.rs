//! Exploration: steering runs toward rare states instead of waiting for seeds to stumble on them.
//!
//! A sweep hands out seeds from a counter; the explorer keeps a corpus of runs with the coverage features each
//! reached ([`features`]) and spends most of its budget on **branches** ([`crate::branch`]): it picks a parent
//! with probability rising with the rarity of what it reached, picks one of its rarest features (the required
//! marks not yet reached first), branches shortly before that feature's first hit (several offsets, zero
//! included), and keeps the child if it reaches a feature no run had, or a higher high-water mark. A share of runs
//! stay fresh seeds, for breadth. Files, one job each:
//! - [`features`]: the coverage signal of one run, from its trace;
//! - [`corpus`]: the runs kept, their features, the features' rarity, and how a branch is chosen; saved and merged;
//! - [`likelihood`]: when did a failure become inevitable (branch a failing run at a grid of times before it).
//!
//! Exploration is steered by events and coverage; verdicts are the oracle's, from the same evidence as any run.
//! Every run the explorer makes is a (seed, branches) pair that replays bit for bit; a failure is saved as an
//! ordinary seed file with its branches. Which runs the explorer chooses depends on the order in which results
//! arrive from its threads, so two explorations differ; each run they make does not.

pub mod corpus;
pub mod features;
pub mod likelihood;

use crate::branch::Branch;
use crate::sweep::{Deal, Job, Shard};
use corpus::Corpus;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The share of runs, in percent, that are fresh seeds rather than branches.
pub const FRESH_PERCENT: u64 = 25;
/// Fresh seeds each scenario runs before the explorer starts branching.
pub const WARMUP_RUNS: u64 = 8;

/// The explorer's side of a run: what it aimed at, for its report.
#[derive(Clone, Debug, Default)]
pub struct Aim {
    pub target: Option<String>,
}

/// Hands out fresh seeds and branches of the corpus, one scenario after another in turn.
pub struct Explorer {
    state: Mutex<State>,
    /// Per scenario: the required marks (they steer the choice of targets until reached).
    wanted: Vec<Vec<String>>,
}

struct State {
    corpora: Vec<Corpus>,
    rng: ChaCha8Rng,
    /// Per scenario: fresh seeds handed out so far.
    fresh: Vec<u64>,
    cursor: usize,
    start: u64,
    shard: Option<Shard>,
    /// Runs handed out and not yet back, per scenario: warm-up waits for them before branching.
    in_flight: Vec<u64>,
    /// What each run in flight aimed at, by (scenario, seed, branches).
    aims: Vec<(Job, Aim)>,
    reached: Vec<std::collections::BTreeSet<String>>,
    /// Runs handed out so far, and how many may be (`--runs`; unbounded by default).
    dealt: u64,
    runs_max: u64,
}

impl Explorer {
    /// An explorer over `corpora` (one per scenario, possibly loaded from disk), drawing its choices from `seed`,
    /// with fresh seeds from `start` (this shard's share of them).
    pub fn new(corpora: Vec<Corpus>, wanted: Vec<Vec<String>>, seed: u64, start: u64, shard: Option<Shard>) -> Self {
        let n = corpora.len();
        let reached = corpora
            .iter()
            .map(|c| c.counts.keys().filter_map(|f| f.strip_prefix("mark:").map(str::to_string)).collect())
            .collect();
        Explorer {
            state: Mutex::new(State {
                corpora,
                rng: ChaCha8Rng::seed_from_u64(seed),
                fresh: vec![0; n],
                cursor: 0,
                start,
                shard,
                in_flight: vec![0; n],
                aims: Vec::new(),
                reached,
                dealt: 0,
                runs_max: u64::MAX,
            }),
            wanted,
        }
    }

    /// Hands out at most `runs` runs (`--runs`): an exploration of a set size, whatever the machine's speed.
    pub fn with_runs_max(self, runs: u64) -> Self {
        self.state.lock().expect("explorer lock").runs_max = runs;
        self
    }

    /// Takes a finished run into the corpus; returns the features that were new and what the run aimed at.
    pub fn done(&self, job: &Job, coverage: &features::Coverage) -> (Vec<String>, Aim) {
        let mut state = self.state.lock().expect("explorer lock");
        state.in_flight[job.scenario] = state.in_flight[job.scenario].saturating_sub(1);
        let aim = match state.aims.iter().position(|(j, _)| j == job) {
            Some(i) => state.aims.swap_remove(i).1,
            None => Aim::default(),
        };
        for (mark, _) in coverage.marks() {
            state.reached[job.scenario].insert(mark.to_string());
        }
        let new = state.corpora[job.scenario].add(job.seed, &job.branches, coverage);
        (new, aim)
    }

    /// The corpora as they stand, to save.
    pub fn corpora(&self) -> Vec<Corpus> {
        self.state.lock().expect("explorer lock").corpora.clone()
    }

    /// The `k`-th fresh seed of this shard.
    fn fresh_seed(state: &State, k: u64) -> u64 {
        match state.shard {
            None => state.start.wrapping_add(k),
            Some(shard) => {
                let offset = (shard.index - 1 + shard.count - state.start % shard.count) % shard.count;
                state.start.wrapping_add(offset).wrapping_add(k.wrapping_mul(shard.count))
            }
        }
    }
}

impl Deal for Explorer {
    fn next(&self, skip: &[AtomicBool]) -> Option<Job> {
        let mut state = self.state.lock().expect("explorer lock");
        if state.dealt >= state.runs_max {
            return None;
        }
        let n = state.corpora.len();
        let index = (0..n).map(|turn| (state.cursor + turn) % n).find(|&i| !skip[i].load(Ordering::SeqCst))?;
        state.cursor = (index + 1) % n;
        let warming = state.fresh[index] < WARMUP_RUNS;
        let fresh = warming || state.rng.gen_range(0..100) < FRESH_PERCENT;
        let wanted: Vec<String> =
            self.wanted[index].iter().filter(|m| !state.reached[index].contains(*m)).cloned().collect();
        let plan = if fresh {
            None
        } else {
            let mut rng = std::mem::replace(&mut state.rng, ChaCha8Rng::seed_from_u64(0));
            let plan = state.corpora[index].branch(&mut rng, &wanted);
            state.rng = rng;
            plan
        };
        let (job, aim) = match plan {
            Some(plan) => {
                let branches: Vec<Branch> = plan.branches;
                (Job { scenario: index, seed: plan.seed, branches }, Aim { target: plan.target })
            }
            None => {
                let k = state.fresh[index];
                state.fresh[index] += 1;
                (Job { scenario: index, seed: Self::fresh_seed(&state, k), branches: Vec::new() }, Aim::default())
            }
        };
        state.in_flight[index] += 1;
        state.dealt += 1;
        state.aims.push((job.clone(), aim));
        Some(job)
    }

    /// An exploration runs out of runs only at its `--runs`; otherwise its time budget (or a signal, or every
    /// canary caught) ends it.
    fn exhausted(&self, skip: &[AtomicBool]) -> bool {
        let state = self.state.lock().expect("explorer lock");
        state.dealt >= state.runs_max || skip.iter().all(|s| s.load(Ordering::SeqCst))
    }
}
