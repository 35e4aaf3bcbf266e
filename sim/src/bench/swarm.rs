//! What swarm everything adds, measured: the reach of every coverage mark in `swarm` as written, and in `swarm`
//! without its fault points, its per-seed `[swarm]` ranges and its faults that wait for their moment, over the
//! same seed numbers in the same run.

use crate::scenario::LoadedScenario;
use crate::sweep::{self, SweepOptions};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Where the section sits in BENCHMARKS.md, so that `--only-swarm-reach` can refresh it alone.
pub const BEGIN: &str = "<!-- swarm reach: cargo sim bench --only-swarm-reach refreshes this section -->";
pub const END: &str = "<!-- end of swarm reach -->";

/// A mark reached in fewer seeds than this share is flagged: the fault kinds that can cause it should reach it
/// more often than that.
pub const REACH_PERCENT_MIN: u64 = 5;

/// `swarm` without what points 1 to 3 of "swarm everything" added: no fault points, no `[swarm]` ranges (the
/// file's own topology, knobs and load for every seed), no fault kinds that wait for their moment.
pub fn without_additions(swarm: &LoadedScenario) -> LoadedScenario {
    let mut plain = swarm.clone();
    plain.name = format!("{} (plain)", swarm.name);
    plain.scenario.swarm = None;
    plain.scenario.faults.points = crate::faults::Points::Seeded(false);
    plain.scenario.faults.generate.retain(|kind| !kind.waits_for_moment());
    plain
}

/// Per mark, the seeds of `count` from `start` that reached it.
fn reach(scenario: &LoadedScenario, start: u64, count: u64, jobs: usize) -> BTreeMap<String, u64> {
    let options = SweepOptions::new(vec![scenario.clone()], start, count, jobs);
    let mut reached = BTreeMap::new();
    sweep::run(&options, |done| {
        for mark in done.result.outcome.stats.marks.keys() {
            *reached.entry(mark.clone()).or_insert(0u64) += 1;
        }
    });
    reached
}

/// The section: one row per mark `swarm` can cause (the plain variant causes a subset), with its share of seeds
/// in each.
pub fn section(swarm: &LoadedScenario, seeds: u64, jobs: usize) -> String {
    let plain = without_additions(swarm);
    crate::errln!("bench: swarm reach, {seeds} seeds with and without fault points, ranges and moment faults ...");
    let with = reach(swarm, 0, seeds, jobs);
    let without = reach(&plain, 0, seeds, jobs);
    let reachable = crate::marks::reachable(&swarm.scenario);
    let reachable_plain = crate::marks::reachable(&plain.scenario);
    let mut md = format!("{BEGIN}\n\n## Swarm: what fault points, per-seed configuration and moment faults add\n\n");
    let _ = writeln!(
        md,
        "Every coverage mark `swarm`'s fault kinds can cause (`sim::marks::reachable`), and the share of seeds 0 to \
         {} that reached it: `swarm` as written, and `swarm` without its fault points, its `[swarm]` ranges (every \
         seed gets the file's own topology, knobs and load) and its faults that wait for their moment \
         (`crash-after-ack`, `pause-while-leased`, `cut-during-views`). Same seed numbers, same run. A mark `swarm` \
         reaches in fewer than {REACH_PERCENT_MIN}% of its seeds is marked **below {REACH_PERCENT_MIN}%**; `-` is a \
         mark the variant cannot cause.\n",
        seeds - 1
    );
    let _ = writeln!(md, "| mark | swarm | without points, ranges and moment faults | |");
    let _ = writeln!(md, "|---|---|---|---|");
    let percent = |n: u64| n * 100 / seeds.max(1);
    let mut below = Vec::new();
    for mark in &reachable {
        let w = with.get(*mark).copied().unwrap_or(0);
        let plain_cell = if reachable_plain.contains(mark) {
            format!("{}%", percent(without.get(*mark).copied().unwrap_or(0)))
        } else {
            "-".to_string()
        };
        let flag = if percent(w) < REACH_PERCENT_MIN {
            below.push(*mark);
            format!("**below {REACH_PERCENT_MIN}%**")
        } else {
            String::new()
        };
        let _ = writeln!(md, "| `{mark}` | {}% | {plain_cell} | {flag} |", percent(w));
    }
    let _ = writeln!(
        md,
        "\n{} of {} marks reached in at least {REACH_PERCENT_MIN}% of `swarm`'s seeds{}.\n",
        reachable.len() - below.len(),
        reachable.len(),
        if below.is_empty() {
            String::new()
        } else {
            format!("; below it: {}", below.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "))
        }
    );
    md.push_str(END);
    md.push('\n');
    md
}
