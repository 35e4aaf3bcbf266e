//! Determinism checks: the same seed, scenario and binary must give a bit-identical run.
//!
//! A seed is run once as usual, then twice more under madsim's own determinism check, which logs every draw
//! from madsim's generator (it drives network latency, message loss, scheduling and the system's jitter) with
//! the simulated time of the draw, and stops the second run at the first draw that differs. A divergence that
//! changes no event line is still caught there. The three traces are also compared record by record, so a
//! mismatch shows the first divergent draw's time and the first divergent event with its node. The harness's own
//! random streams (load, faults, readers) feed the system only through messages and timers, so a divergence in
//! them shows up as a divergent draw or event too.

use crate::faults::FaultSpec;
use crate::outcome::ViolationKind;
use crate::scenario::{LoadedScenario, Scenario};
use crate::trace::{Record, Recorder};
use crate::world::{self, phases, run_seed_with, Observation, RunOptions, RunResult};
use madsim::runtime::Runtime;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where two runs of the same seed went apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The simulated time of the first draw from madsim's generator that differed, if the draw check saw one.
    pub draw_at: Option<Duration>,
    /// Index of the first differing trace record.
    pub index: usize,
    pub first: Option<String>,
    pub second: Option<String>,
    pub first_hash: String,
    pub second_hash: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(at) = self.draw_at {
            writeln!(
                f,
                "the runs drew differently from madsim's generator, first at simulated time {:.6}s",
                at.as_secs_f64()
            )?;
        }
        writeln!(f, "the runs diverge at trace event #{}:", self.index)?;
        writeln!(f, "  first run:  {}", self.first.as_deref().unwrap_or("(trace ended)"))?;
        write!(f, "  second run: {}", self.second.as_deref().unwrap_or("(trace ended)"))
    }
}

/// Compares two traces; `None` if they are identical.
pub fn compare(first: &[Record], second: &[Record]) -> Option<usize> {
    let index = first.iter().zip(second).position(|(a, b)| a != b);
    match index {
        Some(i) => Some(i),
        None if first.len() != second.len() => Some(first.len().min(second.len())),
        None => None,
    }
}

fn divergence(first: &[Record], second: &[Record], draw_at: Option<Duration>) -> Option<Divergence> {
    let index = compare(first, second);
    if index.is_none() && draw_at.is_none() {
        return None;
    }
    // Without a differing event, point at the first event at or after the divergent draw.
    let index = index.unwrap_or_else(|| {
        let at = draw_at.unwrap_or_default();
        second.iter().position(|r| r.at >= at).unwrap_or(second.len())
    });
    Some(Divergence {
        draw_at,
        index,
        first: first.get(index).map(|r| show(r, second.get(index))),
        second: second.get(index).map(|r| show(r, first.get(index))),
        first_hash: crate::trace::hash(first),
        second_hash: crate::trace::hash(second),
    })
}

/// A record as printed, with its exact time when the printed line alone would not show the difference.
fn show(record: &Record, other: Option<&Record>) -> String {
    let line = record.to_string().trim().to_string();
    match other {
        Some(other) if other != record && other.to_string().trim() == line => {
            format!("{line} (at exactly {}ns)", record.at.as_nanos())
        }
        _ => line,
    }
}

/// Runs the seed twice on fresh threads. Returns the first run, and the divergence if the runs differ.
pub fn run_twice(scenario: &LoadedScenario, seed: u64) -> (RunResult, Option<Divergence>) {
    run_twice_with(scenario, seed, RunOptions::default())
}

/// [`run_twice`] with options.
pub fn run_twice_with(scenario: &LoadedScenario, seed: u64, options: RunOptions) -> (RunResult, Option<Divergence>) {
    let scenario = &*crate::world::run::resolved(scenario, seed);
    let first = run_seed_with(scenario, seed, options);
    let crashed = first
        .outcome
        .violations
        .iter()
        .any(|v| matches!(v.kind, ViolationKind::Panic | ViolationKind::Deadlock | ViolationKind::TimeLimit));
    if crashed {
        // madsim's check runs without a time limit and reports a node's panic as its own: a run that crashed is
        // compared by its trace alone.
        let second = run_seed_with(scenario, seed, options);
        let found = divergence(&first.trace, &second.trace, None);
        return (first, found);
    }
    let (logged, checked, draw_at) = draw_checked(scenario, seed, options);
    // The draw check's finding first: it names the time of the first divergent draw.
    let found = divergence(&logged, &checked, draw_at).or_else(|| divergence(&first.trace, &logged, None));
    (first, found)
}

/// What the draw-checked runs share with the function madsim runs: madsim's check takes a plain `fn`, not a
/// closure, so the run's input travels through this slot. Checks run one at a time (`CHECK_LOCK`).
struct CheckInput {
    scenario: Scenario,
    branches: Vec<crate::branch::Branch>,
    seed: u64,
    plan: Vec<FaultSpec>,
    options: RunOptions,
    recorders: Vec<Arc<Recorder>>,
}

static CHECK_LOCK: Mutex<()> = Mutex::new(());
static CHECK_INPUT: Mutex<Option<CheckInput>> = Mutex::new(None);

fn checked_run() -> impl Future<Output = Observation> {
    let (scenario, plan, options, recorder, streams) = {
        let mut slot = CHECK_INPUT.lock().expect("check input lock");
        let input = slot.as_mut().expect("a draw check sets its input first");
        let recorder = Arc::new(Recorder::new(input.options.mute_system_events));
        input.recorders.push(recorder.clone());
        let streams = crate::branch::Streams::new(input.seed, &input.branches);
        (input.scenario.clone(), input.plan.clone(), input.options, recorder, streams)
    };
    phases::simulate(scenario, recorder, plan, options, streams)
}

/// Runs the seed twice under madsim's draw check. Returns both traces (the second up to where the check stopped
/// it) and the simulated time of the first divergent draw, if any.
fn draw_checked(
    loaded: &LoadedScenario,
    seed: u64,
    options: RunOptions,
) -> (Vec<Record>, Vec<Record>, Option<Duration>) {
    let _one_at_a_time = CHECK_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let scenario = &loaded.scenario;
    let plan = world::fault_plan(scenario, seed, &loaded.branches);
    *CHECK_INPUT.lock().expect("check input lock") = Some(CheckInput {
        scenario: scenario.clone(),
        branches: loaded.branches.clone(),
        seed,
        plan,
        options,
        recorders: Vec::new(),
    });
    let outcome = world::run::quietly(|| Runtime::check_determinism(seed, madsim::Config::default(), checked_run));
    let input = CHECK_INPUT.lock().expect("check input lock").take().expect("set above");
    let draw_at = match outcome {
        Ok(_) => None,
        Err(message) => Some(parse_draw_time(&message).unwrap_or_default()),
    };
    let mut traces = input.recorders.iter().map(|r| r.take());
    let logged = traces.next().unwrap_or_default();
    let checked = traces.next().unwrap_or_default();
    (logged, checked, draw_at)
}

/// madsim reports "non-determinism detected at 1.234s" (a `Duration`'s debug form).
fn parse_draw_time(message: &str) -> Option<Duration> {
    let text = message.split("non-determinism detected at ").nth(1)?.split_whitespace().next()?;
    humantime::parse_duration(text.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '.'))
        .ok()
        .or_else(|| text.trim_end_matches('s').parse::<f64>().ok().map(Duration::from_secs_f64))
}

#[cfg(test)]
mod tests {
    use super::parse_draw_time;
    use std::time::Duration;

    #[test]
    fn the_time_of_a_divergent_draw_is_read_from_madsims_message() {
        assert_eq!(parse_draw_time("non-determinism detected at 1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_draw_time("non-determinism detected at 12ms at src/x.rs:3"), Some(Duration::from_millis(12)));
        assert_eq!(parse_draw_time("something else"), None);
    }
}
