//! When did a failure become inevitable? A failing run is branched at a grid of times before its first violation,
//! many children at each; the share of children that still fail the same way (same fingerprint) at each time is
//! the failure's likelihood from that moment on. Where it jumps toward certainty is where the cause happened:
//! before that moment other futures were possible, after it they were not (Antithesis calls this causality
//! analysis). A child keeps the parent's run up to its branch point exactly (see [`crate::branch`]) and goes its
//! own way after it: other timing and scheduling, other load, and none of the parent's faults that had not
//! started yet (a saved run's plan is recorded, not drawn, so there is nothing to draw them anew from). The only
//! difference between the points is how much of the parent's history the children share.

use crate::branch::Branch;
use crate::scenario::LoadedScenario;
use crate::sweep::{self, Deal, Job, SweepOptions};
use crate::world::RunOptions;
use serde::Serialize;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Duration;

/// Grid points and children per point at most: a likelihood costs points x children runs.
pub const POINTS_MAX: usize = 40;
pub const CHILDREN_MAX: u64 = 200;

/// The share of children that still fail when branched at `at` (since the safety phase began).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Point {
    pub at_ms: u64,
    pub children: u64,
    pub failing: u64,
}

impl Point {
    pub fn percent(&self) -> u64 {
        self.failing * 100 / self.children.max(1)
    }
}

/// Hands out the children of every grid point.
struct Children {
    jobs: Mutex<Vec<Job>>,
}

impl Deal for Children {
    fn next(&self, _skip: &[AtomicBool]) -> Option<Job> {
        self.jobs.lock().expect("children lock").pop()
    }

    fn exhausted(&self, _skip: &[AtomicBool]) -> bool {
        self.jobs.lock().expect("children lock").is_empty()
    }
}

/// The latest time, since the safety phase began, that the failure may still be changed at: its first violation's
/// time, or the end of the safety phase for a failure judged at the end (a view behind, work unbounded).
pub fn horizon(loaded: &LoadedScenario, outcome: &crate::outcome::Outcome, safety_start: Duration) -> Duration {
    let safety = loaded.scenario.run.safety.0;
    outcome
        .violations
        .iter()
        .filter_map(|v| v.at_ms)
        .map(|ms| Duration::from_millis(ms).saturating_sub(safety_start))
        .min()
        .unwrap_or(safety)
        .min(safety)
}

/// How to measure a likelihood: the grid, the children per point, the threads, and the flag that stops it.
pub struct Grid {
    /// From the start of the safety phase up to this time.
    pub horizon: Duration,
    pub points: usize,
    pub children: u64,
    pub jobs: usize,
    pub stop: std::sync::Arc<AtomicBool>,
}

/// Branches the failing run of `loaded` at the grid's times, `children` each, and counts the children that fail
/// with `fingerprint`. The run's own branches before a point are kept; those after it are left out (the child
/// takes its own way from there).
pub fn likelihood(loaded: &LoadedScenario, seed: u64, fingerprint: &str, grid: Grid) -> Vec<Point> {
    let Grid { horizon, points, children, jobs, stop } = grid;
    let points = points.clamp(1, POINTS_MAX);
    let children = children.clamp(1, CHILDREN_MAX);
    let times: Vec<Duration> = (0..points).map(|i| horizon.mul_f64(i as f64 / points as f64)).collect();
    let mut list = Vec::new();
    // One scenario per point: the run's plan up to the point.
    let mut scenarios = Vec::new();
    for (p, &at) in times.iter().enumerate() {
        let mut prefix = LoadedScenario { branches: Vec::new(), ..loaded.clone() };
        prefix.scenario.faults.script.retain(|spec| spec.at.0 < at);
        scenarios.push(prefix);
        for c in 0..children {
            let mut branches: Vec<Branch> = loaded.branches.iter().copied().filter(|b| b.at.0 < at).collect();
            let child =
                (p as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (c + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            branches.push(Branch::new(at, child));
            list.push(Job { scenario: p, seed, branches });
        }
    }
    list.reverse();
    let mut options = SweepOptions::new(scenarios, seed, 0, jobs);
    options.stop = stop;
    let dealer = Children { jobs: Mutex::new(list) };
    let mut found: Vec<Point> =
        times.iter().map(|at| Point { at_ms: at.as_millis() as u64, children: 0, failing: 0 }).collect();
    let run = RunOptions { outcome_only: true, ..RunOptions::default() };
    sweep::run_jobs(&options, &dealer, run, |done| {
        let point = &mut found[done.scenario];
        point.children += 1;
        if done.signature.as_deref() == Some(fingerprint) {
            point.failing += 1;
        }
    });
    found
}

/// The first grid time from which at least `percent` of children fail, at it and at every later point.
pub fn certain_from(points: &[Point], percent: u64) -> Option<u64> {
    let from = points.iter().rposition(|p| p.percent() < percent).map_or(0, |i| i + 1);
    points.get(from).map(|p| p.at_ms)
}
