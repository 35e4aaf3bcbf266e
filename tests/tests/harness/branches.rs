//! Branches: a run re-randomized from a moment on replays its parent exactly up to that moment, and goes its own
//! way after it. This is what lets the explorer fork a run without a snapshot (see `sim::branch`).

use sim::branch::Branch;
use sim::scenario::{Dur, LoadedScenario};
use sim::trace::{HarnessEvent, Record, TraceEvent};
use sim::world::run_seed;
use std::time::Duration;

/// When the safety phase began, in the run's time: branch times count from there.
fn safety_start(trace: &[Record]) -> Duration {
    trace
        .iter()
        .find(|r| matches!(r.event, TraceEvent::Harness(HarnessEvent::PhaseStarted { phase: "safety" })))
        .map(|r| r.at)
        .expect("every run has a safety phase")
}

fn branched(loaded: &LoadedScenario, branches: Vec<Branch>) -> LoadedScenario {
    LoadedScenario { branches, ..loaded.clone() }
}

/// For every catalog scenario, several seeds and several branch times: the child's trace equals the parent's for
/// every record before the branch point, and differs after it in most cases. 55 seeds, 3 times each.
#[test]
fn a_branch_replays_its_parent_up_to_the_branch_point_and_differs_after() {
    let names = tests::catalog_names();
    let seeds_per_scenario = 55u64.div_ceil(names.len() as u64);
    let mut cases = Vec::new();
    for (n, name) in names.iter().enumerate() {
        for k in 0..seeds_per_scenario {
            cases.push((name.clone(), 1_000 * n as u64 + 37 * k));
        }
    }
    assert!(cases.len() >= 50, "at least 50 seeds: {}", cases.len());
    let (mut compared, mut differed) = (0, 0);
    // Two at a time: each run is on a fresh thread of its own anyway.
    for pair in cases.chunks(2) {
        #[allow(clippy::disallowed_methods)]
        let results: Vec<(u64, u64)> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                pair.iter().map(|(name, seed)| scope.spawn(move || check_seed(name, *seed))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (c, d) in results {
            compared += c;
            differed += d;
        }
    }
    assert!(compared >= 150, "{compared} branches compared");
    assert!(
        differed * 10 >= compared * 8,
        "a branch goes its own way after the branch point: {differed} of {compared}"
    );
}

/// Branches one seed at three times; returns (branches compared, branches whose run differed after the point).
fn check_seed(name: &str, seed: u64) -> (u64, u64) {
    let loaded = tests::scenario(name);
    let parent = run_seed(&loaded, seed);
    let start = safety_start(&parent.trace);
    let safety = loaded.scenario.run.safety.0;
    let mut differed = 0;
    let times = [safety / 5, safety / 2, safety * 9 / 10];
    for (i, at) in times.into_iter().enumerate() {
        let branch = Branch { at: Dur(at), child: seed.wrapping_mul(31).wrapping_add(i as u64 + 1) };
        let child = run_seed(&branched(&loaded, vec![branch]), seed);
        let point = start + at;
        let before = |trace: &[Record]| trace.iter().take_while(|r| r.at < point).cloned().collect::<Vec<_>>();
        let (p, c) = (before(&parent.trace), before(&child.trace));
        assert!(!p.is_empty(), "{name} seed {seed}: nothing before {at:?}");
        if let Some(i) = p.iter().zip(&c).position(|(a, b)| a != b) {
            panic!("{name} seed {seed} branched at {at:?}: record {i} differs before the branch point:\n  parent {}\n  child  {}", p[i], c[i]);
        }
        assert_eq!(p.len(), c.len(), "{name} seed {seed} branched at {at:?}: the prefixes have different lengths");
        let after = |trace: &[Record]| trace.iter().skip_while(|r| r.at < point).cloned().collect::<Vec<_>>();
        if after(&parent.trace) != after(&child.trace) {
            differed += 1;
        }
    }
    (times.len() as u64, differed)
}

/// A branch's generated faults start at or after its point, and the faults that started before it are the
/// parent's; a branch of a branch switches again.
#[test]
fn a_branch_keeps_the_faults_before_it_and_draws_its_own_after() {
    let swarm = tests::scenario("swarm");
    let at = Duration::from_secs(12);
    for seed in 0..20 {
        let parent = sim::world::fault_plan(&swarm.scenario, seed, &[]);
        let branch = Branch { at: Dur(at), child: 7 + seed };
        let child = sim::world::fault_plan(&swarm.scenario, seed, &[branch]);
        let early = |plan: &[sim::faults::FaultSpec]| plan.iter().filter(|f| f.at.0 < at).cloned().collect::<Vec<_>>();
        assert_eq!(early(&parent), early(&child), "seed {seed}: the faults before the branch are the parent's");
        let script = &swarm.scenario.faults.script;
        for fault in child.iter().filter(|f| !early(&parent).contains(f) && !script.contains(f)) {
            assert!(fault.at.0 >= at, "seed {seed}: a branch's own fault starts after its point: {fault}");
            assert!(fault.end() <= swarm.scenario.run.safety.0, "seed {seed}: and heals within the safety phase");
        }
        let second = Branch { at: Dur(Duration::from_secs(20)), child: 99 };
        let grandchild = sim::world::fault_plan(&swarm.scenario, seed, &[branch, second]);
        let before_second =
            |plan: &[sim::faults::FaultSpec]| plan.iter().filter(|f| f.at.0 < second.at.0).cloned().collect::<Vec<_>>();
        assert_eq!(before_second(&child), before_second(&grandchild), "seed {seed}");
    }
}
