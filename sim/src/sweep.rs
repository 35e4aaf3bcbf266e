//! Seed sweeps: many seeds of many scenarios, in parallel, time-boxed, shardable across machines.
//!
//! Every seed runs on its own fresh OS thread (std seeds its hasher per thread). `jobs` worker threads pull
//! (scenario, seed) pairs from a shared counter, so the order in which results arrive varies, but each result is
//! a function of its seed alone. A deterministic sample of seeds is run twice to check determinism. Failures are
//! grouped by signature (what failed and where, not which seed), and the caller decides what to do with each
//! new one (save it, shrink it). Stopping (Ctrl-C, time budget, fail-fast) lets running seeds finish and keeps
//! every result so far.

use crate::determinism;
use crate::outcome::Outcome;
use crate::scenario::LoadedScenario;
use crate::world::{run_seed_with, RunOptions, RunResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Which seeds one machine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// 1-based.
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parses `K/N`, with 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (k, n) =
            text.split_once('/').ok_or_else(|| format!("`{text}` is not a shard; write it as K/N, like 1/4"))?;
        let index: u64 = k.trim().parse().map_err(|_| format!("`{k}` in `{text}` is not a number"))?;
        let count: u64 = n.trim().parse().map_err(|_| format!("`{n}` in `{text}` is not a number"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("shard `{text}` needs 1 <= K <= N"));
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard runs `seed`: seeds are dealt round-robin, so every shard gets a spread of the range.
    pub fn owns(&self, seed: u64) -> bool {
        seed % self.count == self.index - 1
    }
}

pub struct SweepOptions {
    pub scenarios: Vec<LoadedScenario>,
    pub start: u64,
    pub count: u64,
    pub shard: Option<Shard>,
    pub jobs: usize,
    pub time_budget: Option<Duration>,
    pub fail_fast: bool,
    /// Percentage of seeds run twice to check determinism.
    pub determinism_percent: u64,
    /// Set from outside (Ctrl-C) to stop taking new seeds.
    pub stop: Arc<AtomicBool>,
    /// Canary mode (the default sweep): a canary scenario runs up to its own `within_seeds` seeds, stops at the
    /// first seed that catches its flaw, and counts that as success, not failure.
    pub canary_mode: bool,
    /// Per scenario: set to stop running its remaining seeds (a canary once caught).
    pub skip: Vec<AtomicBool>,
}

impl SweepOptions {
    /// Options for `count` seeds from `start` of `scenarios` on `jobs` threads: no shard, no time budget, no
    /// determinism sample, canaries swept like any scenario.
    pub fn new(scenarios: Vec<LoadedScenario>, start: u64, count: u64, jobs: usize) -> Self {
        let skip = scenarios.iter().map(|_| AtomicBool::new(false)).collect();
        SweepOptions {
            scenarios,
            start,
            count,
            shard: None,
            jobs,
            time_budget: None,
            fail_fast: false,
            determinism_percent: 0,
            stop: Arc::new(AtomicBool::new(false)),
            canary_mode: false,
            skip,
        }
    }

    /// How many seeds scenario `index` is dealt: the sweep's range (this shard's share of it), or in canary
    /// mode a canary's own budget.
    pub fn planned(&self, index: usize) -> u64 {
        self.lane(index).count
    }

    /// The seeds scenario `index` runs, lowest first: computed, never listed, however long the range.
    fn lane(&self, index: usize) -> Lane {
        let count = match (&self.scenarios[index].scenario.canary, self.canary_mode) {
            (Some(canary), true) => canary.within_seeds.get(),
            _ => self.count,
        };
        Lane::new(self.start, count, self.shard)
    }

    /// Whether this outcome of scenario `index` catches its canary's flaw.
    pub fn catches_canary(&self, index: usize, outcome: &Outcome) -> bool {
        let Some(canary) = self.scenarios[index].scenario.canary.as_ref().filter(|_| self.canary_mode) else {
            return false;
        };
        outcome.violations.iter().any(|v| canary.expect.contains(&v.kind))
    }
}

/// How a canary fared in a sweep.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryReport {
    pub expect: Vec<String>,
    pub within_seeds: u64,
    pub seeds_tried: u64,
    /// The lowest seed that caught the flaw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caught_seed: Option<u64>,
    /// How many seeds of the range, from its start, it took to catch it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caught_after: Option<u64>,
}

impl CanaryReport {
    pub fn merge(&mut self, other: &CanaryReport) -> Result<(), String> {
        self.seeds_tried = self
            .seeds_tried
            .checked_add(other.seeds_tried)
            .ok_or_else(|| "the canary's `seeds_tried` overflows across the shards".to_string())?;
        if let Some(seed) = other.caught_seed {
            if self.caught_seed.is_none_or(|s| seed < s) {
                self.caught_seed = Some(seed);
                self.caught_after = other.caught_after;
            }
        }
        Ok(())
    }

    /// The harness has lost its power: the canary ran its whole budget uncaught.
    pub fn missed(&self) -> bool {
        self.caught_seed.is_none() && self.seeds_tried >= self.within_seeds
    }
}

/// A failure's identity across seeds: its fingerprint (how it failed, see [`crate::explain::fingerprint`]), so
/// that one mechanism is one failure whatever mix of violation kinds its seeds show, and two mechanisms that show
/// the same kinds are two.
pub fn signature(outcome: &Outcome) -> Option<String> {
    if outcome.passed() {
        return None;
    }
    Some(outcome.fingerprint.clone().unwrap_or_else(|| outcome.kinds()))
}

/// One run to make: a seed of a scenario, with the branches it takes (none for a sweep's seeds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub scenario: usize,
    pub seed: u64,
    pub branches: Vec<crate::branch::Branch>,
}

/// Hands out runs to the worker threads of [`run_jobs`]: a sweep's [`Dealer`], or the explorer's.
pub trait Deal: Sync {
    /// The next run, or `None` once there is nothing left to run (or, for a scenario in `skip`, nothing more).
    fn next(&self, skip: &[AtomicBool]) -> Option<Job>;
    /// Whether every run was handed out: a sweep that stops after this has not been cut short.
    fn exhausted(&self, skip: &[AtomicBool]) -> bool;
}

/// The result of one seed, as a sweep keeps it.
pub struct SeedDone {
    pub scenario: usize,
    pub result: RunResult,
    pub signature: Option<String>,
    pub nondeterministic: Option<determinism::Divergence>,
    pub checked_determinism: bool,
}

/// A group of failures with the same signature.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureGroup {
    pub signature: String,
    pub count: u64,
    /// The first seeds that failed this way, lowest first (at most `SEEDS_PER_GROUP_MAX`).
    pub seeds: Vec<u64>,
    /// Where the reproduction was saved, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved: Option<String>,
    /// In a merged report: the shard report whose machine saved it (its artifact holds the seed file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    pub repro: String,
    /// The first violations of the lowest failing seed, as printed.
    #[serde(default)]
    pub violations: Vec<String>,
    /// The mixes of violation kinds its seeds showed (`missing-view+stale-view`), at most `KINDS_PER_GROUP_MAX`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
}

/// Mixes of kinds a failure group keeps.
pub const KINDS_PER_GROUP_MAX: usize = 8;

/// Violations of a failure group's lowest seed kept in reports.
pub const VIOLATIONS_PER_GROUP_MAX: usize = 3;

pub const SEEDS_PER_GROUP_MAX: usize = 20;

/// What a sweep found in one scenario.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioReport {
    pub scenario: String,
    pub seeds_run: u64,
    pub seeds_passed: u64,
    pub determinism_checked: u64,
    pub failures: Vec<FailureGroup>,
    pub simulated_ms: u64,
    pub wall_ms: u64,
    pub faults: BTreeMap<String, u64>,
    pub ingests_acked: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryReport>,
    /// Per coverage mark: how many seeds reached it.
    #[serde(default)]
    pub marks: BTreeMap<String, u64>,
    /// Marks the scenario requires.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks_required: Vec<String>,
    /// How many seeds a sweep needs before a required mark never reached fails it.
    #[serde(default)]
    pub marks_within_seeds: u64,
    /// How many seeds the sweep dealt this scenario (this shard's share of the range, or a hunted canary's
    /// budget); it may run fewer if the time budget runs out.
    #[serde(default)]
    pub seeds_planned: u64,
    /// Failing seeds of a canary being hunted whose violations were not the ones it expects: expected noise of a
    /// flawed system, reported but never a failure of the sweep.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub canary_other: BTreeMap<String, u64>,
    /// Per coverage mark: the wall time, in milliseconds from the start, at which a run first reached it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first_reach_ms: BTreeMap<String, u64>,
    /// Exploration: runs that were branches of another run (the rest were fresh seeds).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub branched_runs: u64,
    /// Exploration: distinct coverage features its runs reached.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub features: u64,
    /// Per `[swarm]` range: the lowest and highest value its seeds resolved it to (durations in milliseconds).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub knobs: BTreeMap<String, [u64; 2]>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ScenarioReport {
    /// Required marks no seed reached, once the sweep ran enough seeds to require them.
    pub fn marks_missed(&self) -> Vec<String> {
        if self.seeds_run < self.marks_within_seeds {
            return Vec::new();
        }
        self.marks_not_reached()
    }

    /// Required marks no seed reached so far.
    pub fn marks_not_reached(&self) -> Vec<String> {
        self.marks_required.iter().filter(|m| !self.marks.contains_key(*m)).cloned().collect()
    }

    /// The least seeds this scenario must run for the sweep to count as complete: its coverage window if it
    /// requires marks (or one seed if it requires none), but never more than it was dealt.
    pub fn window(&self) -> u64 {
        let wanted = if self.marks_required.is_empty() { 1 } else { self.marks_within_seeds.max(1) };
        wanted.min(self.seeds_planned)
    }

    /// Why the sweep cannot vouch for this scenario, if it cannot: it ran no seed, fewer seeds than its
    /// coverage window, or (a hunted canary) neither caught its flaw nor used up its budget. A sweep that did not
    /// run a scenario has not passed it.
    pub fn shortfall(&self) -> Option<String> {
        if let Some(canary) = &self.canary {
            if canary.caught_seed.is_some() || canary.missed() {
                return None;
            }
            return Some(format!(
                "canary neither caught nor cleared: {} of its {} seeds ran",
                canary.seeds_tried, canary.within_seeds
            ));
        }
        if self.seeds_run == 0 {
            return Some(if self.seeds_planned == 0 {
                "ran no seed: this shard of the range holds none of its seeds".to_string()
            } else {
                format!("ran no seed of the {} dealt", self.seeds_planned)
            });
        }
        let window = self.window();
        (self.seeds_run < window)
            .then(|| format!("ran {} seeds, fewer than its coverage window of {window}", self.seeds_run))
    }

    /// Notes the marks a run reached, `wall_ms` into the sweep: the first time each was reached.
    pub fn note_reach<'m>(&mut self, marks: impl Iterator<Item = &'m String>, wall_ms: u64) {
        for mark in marks {
            self.first_reach_ms.entry(mark.clone()).or_insert(wall_ms);
        }
    }

    /// Widens each knob's range of resolved values to hold `values` (one seed's, or another shard's lows and highs).
    pub fn note_knobs<'k>(&mut self, values: impl IntoIterator<Item = (&'k String, &'k u64)>) {
        for (name, &value) in values {
            let range = self.knobs.entry(name.clone()).or_insert([value, value]);
            range[0] = range[0].min(value);
            range[1] = range[1].max(value);
        }
    }

    pub fn failed_seeds(&self) -> u64 {
        self.failures.iter().map(|g| g.count).sum()
    }

    /// Records one seed. `caught` marks a canary's flaw caught (in canary mode): not a failure. While a canary
    /// is hunted (`self.canary` is set), no failing seed of it is a failure of the sweep: seeds still running
    /// when it was caught, or failing in other ways, are the flaw's doing and are counted apart.
    pub fn record(&mut self, done: &SeedDone, repro: String, caught: bool, start: u64) {
        let o = &done.result.outcome;
        if let Some(canary) = &mut self.canary {
            canary.seeds_tried += 1;
            if caught && canary.caught_seed.is_none_or(|s| o.seed < s) {
                canary.caught_seed = Some(o.seed);
                canary.caught_after = Some(o.seed - start + 1);
            }
        }
        self.seeds_run += 1;
        if done.checked_determinism {
            self.determinism_checked += 1;
        }
        self.simulated_ms += o.stats.simulated_ms;
        self.wall_ms += o.stats.wall_ms;
        self.ingests_acked += o.stats.ingests_acked;
        for (kind, n) in &o.stats.faults {
            *self.faults.entry(kind.clone()).or_insert(0) += n;
        }
        self.note_knobs(&o.stats.knobs);
        for mark in o.stats.marks.keys() {
            *self.marks.entry(mark.clone()).or_insert(0) += 1;
        }
        let signature = match (&done.signature, &done.nondeterministic) {
            (_, Some(_)) => Some("nondeterminism".to_string()),
            (Some(_), None) if caught => None,
            (Some(s), None) if self.canary.is_some() => {
                *self.canary_other.entry(s.clone()).or_insert(0) += 1;
                None
            }
            (Some(s), None) => Some(s.clone()),
            (None, None) => None,
        };
        let Some(signature) = signature else {
            self.seeds_passed += 1;
            return;
        };
        let group = match self.failures.iter_mut().position(|g| g.signature == signature) {
            Some(i) => &mut self.failures[i],
            None => {
                self.failures.push(FailureGroup {
                    signature: signature.clone(),
                    repro: repro.clone(),
                    ..Default::default()
                });
                self.failures.last_mut().expect("just pushed")
            }
        };
        group.count += 1;
        let kinds = o.kinds();
        if !group.kinds.contains(&kinds) && group.kinds.len() < KINDS_PER_GROUP_MAX {
            group.kinds.push(kinds);
            group.kinds.sort();
        }
        if group.seeds.first().is_none_or(|&lowest| o.seed < lowest) {
            group.repro = repro;
            group.violations = o
                .violations
                .iter()
                .take(VIOLATIONS_PER_GROUP_MAX)
                .map(|v| format!("[{}] {v}", v.kind.class()))
                .collect();
        }
        group.seeds.push(o.seed);
        group.seeds.sort();
        group.seeds.truncate(SEEDS_PER_GROUP_MAX);
    }
}

/// Why a sweep stopped before running all its seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// Ctrl-C or SIGTERM: never a pass.
    Interrupted,
    /// The wall-time budget ran out: a time-boxed sweep of the seeds it ran.
    TimeBudget,
    /// `--fail-fast` after the first failure.
    FailFast,
}

/// The verdict of a whole sweep (or merge), in the order of precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SweepVerdict {
    /// Everything run passed, every canary was caught, every required mark reached, and every scenario ran at
    /// least its coverage window.
    Pass,
    /// A failure was found (or a canary was missed, or a required mark never reached).
    Fail,
    /// Interrupted before the end, with nothing failed so far: not a pass.
    Interrupted,
    /// A scenario ran no seed or fewer than its coverage window (the time budget ran out first), or a merge lacks
    /// shards: not a pass.
    Incomplete,
    /// The harness itself broke down on some seed (a panic outside the system's code): no verdict.
    HarnessError,
}

impl SweepVerdict {
    /// The process exit code (documented in `sim --help`).
    pub fn exit_code(self) -> u8 {
        match self {
            SweepVerdict::Pass => 0,
            SweepVerdict::Fail => 1,
            SweepVerdict::Interrupted | SweepVerdict::Incomplete => crate::commands::EXIT_INCOMPLETE,
            SweepVerdict::HarnessError => crate::commands::EXIT_HARNESS_ERROR,
        }
    }
}

/// The whole sweep's result, as written by `--json` and read by `merge`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepReport {
    /// `sweep` or `explore`: what made the report.
    #[serde(default = "sweep_mode")]
    pub mode: String,
    /// `pass`, `fail`, `interrupted` or `incomplete`; filled in when the report is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<SweepVerdict>,
    #[serde(default)]
    pub harness_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// The Rust toolchain the harness was built with.
    #[serde(default)]
    pub toolchain: String,
    /// When the sweep started, in UTC (RFC 3339).
    #[serde(default)]
    pub started_at: String,
    pub start: u64,
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stop>,
    /// Shards a merge lacks (`K/N`); a merge with any is incomplete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_shards: Vec<String>,
    pub wall_ms: u64,
    pub scenarios: Vec<ScenarioReport>,
}

impl SweepReport {
    pub fn failed(&self) -> bool {
        self.scenarios.iter().any(|s| {
            !s.failures.is_empty() || s.canary.as_ref().is_some_and(|c| c.missed()) || !s.marks_missed().is_empty()
        })
    }

    /// The scenarios the sweep cannot vouch for, with why (see [`ScenarioReport::shortfall`]).
    pub fn shortfalls(&self) -> Vec<(String, String)> {
        self.scenarios.iter().filter_map(|s| s.shortfall().map(|why| (s.scenario.clone(), why))).collect()
    }

    pub fn computed_verdict(&self) -> SweepVerdict {
        let harness = self.scenarios.iter().any(|s| {
            s.failures.iter().any(|g| g.signature.starts_with("harness:"))
                || s.canary_other.keys().any(|k| k.starts_with("harness:"))
        });
        if harness {
            SweepVerdict::HarnessError
        } else if self.failed() {
            SweepVerdict::Fail
        } else if self.stopped == Some(Stop::Interrupted) {
            SweepVerdict::Interrupted
        } else if !self.missing_shards.is_empty() || !self.shortfalls().is_empty() {
            SweepVerdict::Incomplete
        } else {
            SweepVerdict::Pass
        }
    }
}

fn sweep_mode() -> String {
    "sweep".to_string()
}

/// Whether `seed` is in the determinism sample: a fixed function of the seed, so reruns sample the same seeds.
fn sampled(seed: u64, percent: u64) -> bool {
    let mixed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
    mixed % 100 < percent
}

/// The seeds one scenario is dealt: `first`, `first + step`, ... (`count` of them). A shard's share of a range
/// is every `step`-th seed from its first, so no list of seeds is ever built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lane {
    first: u64,
    step: u64,
    count: u64,
}

impl Lane {
    fn new(start: u64, count: u64, shard: Option<Shard>) -> Lane {
        let Some(shard) = shard else { return Lane { first: start, step: 1, count } };
        let end = start.saturating_add(count);
        let offset = (shard.index - 1 + shard.count - start % shard.count) % shard.count;
        let first = start.saturating_add(offset);
        let owned = if first >= end { 0 } else { (end - first - 1) / shard.count + 1 };
        Lane { first, step: shard.count, count: owned }
    }

    fn seed(&self, k: u64) -> u64 {
        self.first + k * self.step
    }
}

/// Deals (scenario, seed) pairs lazily and in turn: one seed of each scenario that has seeds left, then the next
/// of each, so that a sweep cut short by its time budget has run a share of every scenario, never all of some
/// and none of the others. A scenario marked in `skip` (a canary once caught) is passed over.
pub struct Dealer {
    lanes: Vec<Lane>,
    state: std::sync::Mutex<DealerState>,
}

struct DealerState {
    dealt: Vec<u64>,
    cursor: usize,
}

impl Dealer {
    pub fn new(options: &SweepOptions) -> Dealer {
        let lanes: Vec<Lane> = (0..options.scenarios.len()).map(|i| options.lane(i)).collect();
        let dealt = vec![0; lanes.len()];
        Dealer { lanes, state: std::sync::Mutex::new(DealerState { dealt, cursor: 0 }) }
    }

    /// The next pair, or `None` once every scenario has been dealt all its seeds (or is skipped).
    pub fn next_pair(&self, skip: &[AtomicBool]) -> Option<(usize, u64)> {
        let mut state = self.state.lock().expect("dealer lock");
        let n = self.lanes.len();
        for turn in 0..n {
            let index = (state.cursor + turn) % n;
            let lane = &self.lanes[index];
            if state.dealt[index] >= lane.count || skip[index].load(Ordering::SeqCst) {
                continue;
            }
            let seed = lane.seed(state.dealt[index]);
            state.dealt[index] += 1;
            state.cursor = (index + 1) % n;
            return Some((index, seed));
        }
        None
    }

    /// Whether every seed of every scenario not skipped has been dealt.
    fn all_dealt(&self, skip: &[AtomicBool]) -> bool {
        let state = self.state.lock().expect("dealer lock");
        self.lanes.iter().enumerate().all(|(i, lane)| state.dealt[i] >= lane.count || skip[i].load(Ordering::SeqCst))
    }
}

impl Deal for Dealer {
    fn next(&self, skip: &[AtomicBool]) -> Option<Job> {
        self.next_pair(skip).map(|(scenario, seed)| Job { scenario, seed, branches: Vec::new() })
    }

    fn exhausted(&self, skip: &[AtomicBool]) -> bool {
        self.all_dealt(skip)
    }
}

/// Runs the sweep; `on_done` sees every seed's result as it arrives, on the calling thread. Returns why it
/// stopped early, if it did.
pub fn run(options: &SweepOptions, on_done: impl FnMut(&SeedDone)) -> Option<Stop> {
    let dealer = Dealer::new(options);
    let outcome_only = RunOptions { outcome_only: true, ..RunOptions::default() };
    run_jobs(options, &dealer, outcome_only, on_done)
}

/// Runs what `dealer` hands out on `options.jobs` threads, each run on a fresh thread of its own, with `run`'s
/// options; `on_done` sees every result as it arrives, on the calling thread. Returns why it stopped early.
pub fn run_jobs(
    options: &SweepOptions,
    dealer: &dyn Deal,
    run: RunOptions,
    mut on_done: impl FnMut(&SeedDone),
) -> Option<Stop> {
    // Host time bounds the sweep; it is read only here, outside every simulation.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let (tx, rx) = mpsc::channel::<SeedDone>();
    let interrupted = AtomicBool::new(false);
    let over_budget = AtomicBool::new(false);
    let failed_fast = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            let tx = tx.clone();
            let (interrupted, over_budget) = (&interrupted, &over_budget);
            // Worker threads only hand seeds out; each seed still runs on a fresh thread of its own.
            #[allow(clippy::disallowed_methods)]
            scope.spawn(move || loop {
                if options.stop.load(Ordering::SeqCst) {
                    interrupted.store(true, Ordering::SeqCst);
                    break;
                }
                if options.time_budget.is_some_and(|budget| started.elapsed() >= budget) {
                    over_budget.store(true, Ordering::SeqCst);
                    break;
                }
                let Some(Job { scenario, seed, branches }) = dealer.next(&options.skip) else { break };
                let branched;
                let loaded = if branches.is_empty() {
                    &options.scenarios[scenario]
                } else {
                    branched = LoadedScenario { branches, ..options.scenarios[scenario].clone() };
                    &branched
                };
                let checked_determinism = sampled(seed, options.determinism_percent);
                let (result, nondeterministic) = if checked_determinism {
                    // The check compares the first run's trace with the draw-checked runs': it needs it whole.
                    let (mut result, divergence) =
                        determinism::run_twice_with(loaded, seed, RunOptions { outcome_only: false, ..run });
                    if run.outcome_only {
                        result.trace = Vec::new();
                    }
                    (result, divergence)
                } else {
                    (run_seed_with(loaded, seed, run), None)
                };
                let signature = signature(&result.outcome);
                if tx.send(SeedDone { scenario, result, signature, nondeterministic, checked_determinism }).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for done in rx {
            let failed = done.signature.is_some() || done.nondeterministic.is_some();
            on_done(&done);
            if failed && options.fail_fast && !options.stop.swap(true, Ordering::SeqCst) {
                failed_fast.store(true, Ordering::SeqCst);
            }
        }
    });
    if dealer.exhausted(&options.skip) {
        None
    } else if failed_fast.load(Ordering::SeqCst) {
        Some(Stop::FailFast)
    } else if interrupted.load(Ordering::SeqCst) {
        Some(Stop::Interrupted)
    } else if over_budget.load(Ordering::SeqCst) {
        Some(Stop::TimeBudget)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds(lane: Lane) -> Vec<u64> {
        (0..lane.count).map(|k| lane.seed(k)).collect()
    }

    #[test]
    fn a_shard_owns_every_nth_seed_of_the_range() {
        for start in 0..9u64 {
            for count in 1..14u64 {
                for n in 1..5u64 {
                    let mut all = Vec::new();
                    for k in 1..=n {
                        let lane = Lane::new(start, count, Some(Shard { index: k, count: n }));
                        let expected: Vec<u64> = (start..start + count).filter(|s| s % n == k - 1).collect();
                        assert_eq!(seeds(lane), expected, "start {start} count {count} shard {k}/{n}");
                        all.extend(expected);
                    }
                    all.sort();
                    assert_eq!(all, (start..start + count).collect::<Vec<_>>());
                }
            }
        }
        assert_eq!(Lane::new(0, 2, Some(Shard { index: 3, count: 4 })).count, 0, "a shard may own no seed");
    }

    #[test]
    fn a_range_of_a_billion_seeds_is_not_listed() {
        let lane = Lane::new(0, 1_000_000_000, None);
        assert_eq!(lane.count, 1_000_000_000);
        assert_eq!(lane.seed(999_999_999), 999_999_999);
        let near_end = Lane::new(u64::MAX - 10, 10, Some(Shard { index: 2, count: 3 }));
        assert_eq!(seeds(near_end), (u64::MAX - 10..u64::MAX).filter(|s| s % 3 == 1).collect::<Vec<_>>());
    }
}
