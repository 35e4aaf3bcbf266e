//! Exploration measured as its users would: for each scenario, each mark its fault kinds can cause, reached by a
//! sweep and by the explorer given the same scenario, the same cores and the same wall budget, in one run; and
//! for each rare canary, the wall time to its first catch from many start seeds, sweep against explore.

use super::now;
use crate::explore::{corpus::Corpus, Explorer};
use crate::scenario::LoadedScenario;
use crate::sweep::{self, Dealer, SeedDone, SweepOptions};
use crate::world::RunOptions;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct ExplorationOptions {
    /// Wall budget per scenario and mode for the reach table.
    pub budget: Duration,
    /// Start seeds per rare canary.
    pub starts: u64,
    /// Longest a hunt may take: one that has not caught its canary by then counts as this (shown as "≥").
    pub cap: Duration,
    pub jobs: usize,
    /// Only these scenarios in the reach table (all catalog scenarios when empty).
    pub scenarios: Vec<String>,
}

/// What one time-boxed hunt of a scenario saw: runs, and per mark the runs that reached it and when it was first
/// reached (wall time since the start).
#[derive(Default)]
struct Hunt {
    runs: u64,
    reached: BTreeMap<String, u64>,
    first: BTreeMap<String, Duration>,
    /// When a run first caught the canary, if one did.
    caught: Option<Duration>,
}

enum Mode {
    Sweep,
    Explore,
}

/// Runs `scenario` for `budget` as a sweep or an exploration from `start`; stops early once `catches` says a run
/// caught what it hunts (if given).
fn hunt(
    scenario: &LoadedScenario,
    mode: Mode,
    start: u64,
    budget: Duration,
    jobs: usize,
    catches: Option<&dyn Fn(&SeedDone) -> bool>,
) -> Hunt {
    let stop = Arc::new(AtomicBool::new(false));
    let options = SweepOptions {
        time_budget: Some(budget),
        stop: stop.clone(),
        ..SweepOptions::new(vec![scenario.clone()], start, u64::MAX - start, jobs)
    };
    let mut found = Hunt::default();
    let started = now();
    let mut see = |done: &SeedDone| {
        found.runs += 1;
        let at = started.elapsed();
        for mark in done.result.outcome.stats.marks.keys() {
            *found.reached.entry(mark.clone()).or_insert(0) += 1;
            found.first.entry(mark.clone()).or_insert(at);
        }
        if found.caught.is_none() && catches.is_some_and(|c| c(done)) {
            found.caught = Some(at);
            stop.store(true, Ordering::SeqCst);
        }
    };
    match mode {
        Mode::Sweep => {
            let dealer = Dealer::new(&options);
            sweep::run_jobs(&options, &dealer, RunOptions { outcome_only: true, ..RunOptions::default() }, &mut see);
        }
        Mode::Explore => {
            let wanted = vec![crate::marks::reachable(&scenario.scenario).into_iter().map(str::to_string).collect()];
            let explorer = Explorer::new(vec![Corpus::new(&scenario.name)], wanted, start, start, None);
            let run = RunOptions { outcome_only: true, coverage: true, ..RunOptions::default() };
            sweep::run_jobs(&options, &explorer, run, |done| {
                let job = sweep::Job {
                    scenario: 0,
                    seed: done.result.outcome.seed,
                    branches: done.result.outcome.branches.clone(),
                };
                explorer.done(&job, &done.result.coverage.clone().unwrap_or_default());
                see(done);
            });
        }
    }
    found
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The reach table: per scenario, per mark its fault kinds can cause, the share of runs that reached it and the
/// wall time to its first reach, with `sweep` and with `explore`.
pub fn reach_table(scenarios: &[LoadedScenario], options: &ExplorationOptions, out: &mut String) {
    let _ = writeln!(
        out,
        "\n## Exploration: reaching rare moments\n\nFor each scenario and each mark its fault kinds can cause \
         (`sim::marks::reachable`), the share of runs that reached it and the wall time until the first did, with \
         `cargo sim sweep` and with `cargo sim explore`: the same scenario, {} jobs, {} of wall time each, measured \
         one after the other in this run. A mark not reached shows `-` (first reach `≥` the budget).\n",
        options.jobs,
        secs(options.budget)
    );
    let _ = writeln!(
        out,
        "| scenario | mark | sweep: runs reaching | sweep: first | explore: runs reaching | explore: first |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for s in scenarios {
        crate::errln!("bench: exploration reach of {} ({} each way)", s.name, secs(options.budget));
        let swept = hunt(s, Mode::Sweep, 0, options.budget, options.jobs, None);
        let explored = hunt(s, Mode::Explore, 0, options.budget, options.jobs, None);
        let show = |h: &Hunt, mark: &str| {
            let n = h.reached.get(mark).copied().unwrap_or(0);
            let rate = if n == 0 { "-".to_string() } else { format!("{}% of {}", n * 100 / h.runs.max(1), h.runs) };
            let first = h.first.get(mark).map_or(format!("≥ {}", secs(options.budget)), |d| secs(*d));
            (rate, first)
        };
        for mark in crate::marks::reachable(&s.scenario) {
            let (sr, sf) = show(&swept, mark);
            let (er, ef) = show(&explored, mark);
            let _ = writeln!(out, "| {} | `{mark}` | {sr} | {sf} | {er} | {ef} |", s.name);
        }
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// The rare canaries' table: median wall time to the first catch over `starts` start seeds, sweep against explore.
pub fn canary_table(canaries: &[LoadedScenario], options: &ExplorationOptions, out: &mut String) {
    let _ = writeln!(
        out,
        "\n## Exploration: catching the rare canaries\n\nEach canary of `scenarios/rare/` is harmful only when two rare \
         moments meet. Median wall time to the first run that catches its flaw, over {} start seeds, with `sweep` and \
         with `explore` (same scenario, {} jobs); a hunt that has not caught it by {} counts as that (`≥`).\n",
        options.starts,
        options.jobs,
        secs(options.cap)
    );
    let _ =
        writeln!(out, "| canary | sweep: median to catch | caught | explore: median to catch | caught | speed-up |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for c in canaries {
        let expect = c.scenario.canary.as_ref().map(|k| k.expect.clone()).unwrap_or_default();
        let catches = |done: &SeedDone| done.result.outcome.violations.iter().any(|v| expect.contains(&v.kind));
        let mut times = [Vec::new(), Vec::new()];
        let mut caught = [0u64, 0u64];
        for k in 0..options.starts {
            let start = 1_000_000 * (k + 1);
            crate::errln!("bench: hunting {} from {start}", c.name);
            for (i, mode) in [Mode::Sweep, Mode::Explore].into_iter().enumerate() {
                let h = hunt(c, mode, start, options.cap, options.jobs, Some(&catches));
                caught[i] += u64::from(h.caught.is_some());
                times[i].push(h.caught.unwrap_or(options.cap));
            }
        }
        let show = |i: usize| {
            let m = median(times[i].clone());
            let capped = caught[i] * 2 <= options.starts;
            (if capped { format!("≥ {}", secs(options.cap)) } else { secs(m) }, m, capped)
        };
        let ((s, sm, s_capped), (e, em, _)) = (show(0), show(1));
        let ratio = sm.as_secs_f64() / em.as_secs_f64().max(1e-3);
        let speed = if s_capped { format!("≥ {ratio:.1}x") } else { format!("{ratio:.1}x") };
        let _ = writeln!(
            out,
            "| {} | {s} | {}/{} | {e} | {}/{} | {speed} |",
            c.name, caught[0], options.starts, caught[1], options.starts
        );
    }
}
