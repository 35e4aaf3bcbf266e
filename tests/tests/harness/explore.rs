//! Exploration: the explorer's runs, corpus and reports, branched seed files, and when a failure became
//! inevitable (`repro --likelihood`).

use sim::commands::explore::{explore, ExploreArgs};
use sim::explore::likelihood::{horizon, likelihood, Grid};
use sim::world::run_seed;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

fn args(scenario: &str, dir: &Path, runs: u64) -> ExploreArgs {
    ExploreArgs {
        scenarios: vec![scenario.into()],
        start: Some(0),
        explorer_seed: Some(0),
        jobs: Some(2),
        shard: None,
        // A set number of runs, so that what is tested does not depend on the machine's speed; the time budget
        // only bounds a machine far slower than any.
        time_budget: Some("10m".into()),
        runs: Some(runs),
        corpus: Some(dir.join("corpus")),
        save_dir: dir.join("seeds"),
        json: Some(dir.join("explore.json")),
        junit: None,
        no_shrink: true,
        no_buggify: false,
        timelines: false,
        determinism_percent: 0,
    }
}

fn saved_seed(prefix: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    sim::catalog::list(&dir)
        .into_iter()
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no saved seed {prefix}*"))
}

#[test]
fn an_exploration_branches_reports_and_resumes_from_its_corpus() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(explore(args("baseline", dir.path(), 24)), 0, "the correct system passes");
    let report: sim::sweep::SweepReport =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("explore.json")).unwrap()).unwrap();
    assert_eq!(report.mode, "explore");
    let baseline = &report.scenarios[0];
    assert_eq!(baseline.seeds_run, 24, "--runs sets how many runs an exploration makes: {baseline:?}");
    assert_eq!(report.stopped, None, "reaching its --runs is how such an exploration ends, not a cut: {report:?}");
    assert!(baseline.branched_runs > 0, "past its warm-up the explorer branches: {baseline:?}");
    assert!(baseline.features > 10, "{baseline:?}");
    assert!(baseline.first_reach_ms.contains_key("queue.cross-env-duplicate-pending"), "{baseline:?}");
    let corpus = sim::explore::corpus::Corpus::load(&dir.path().join("corpus"), "baseline").unwrap();
    assert_eq!(corpus.runs, baseline.seeds_run, "every run is counted in the saved corpus");
    assert!(!corpus.entries.is_empty());
    // A second exploration resumes from the corpus: its runs add to the first's.
    assert_eq!(explore(args("baseline", dir.path(), 12)), 0);
    let resumed = sim::explore::corpus::Corpus::load(&dir.path().join("corpus"), "baseline").unwrap();
    assert_eq!(resumed.runs, corpus.runs + 12, "{} then {}", corpus.runs, resumed.runs);
}

#[test]
fn a_branched_seed_file_replays_bit_for_bit_shrinks_and_shows_its_branches() {
    let path = saved_seed("rare-dedup-when-clock-steps-back");
    let file = sim::seedfile::load(&path).unwrap();
    assert!(!file.branches.is_empty(), "explore saved the branches it took");
    let loaded = file.to_loaded(&path);
    let first = run_seed(&loaded, file.seed.seed);
    let second = run_seed(&loaded, file.seed.seed);
    assert_eq!(first.outcome.trace_hash, file.outcome.trace_hash, "replays as saved");
    assert_eq!(first.trace, second.trace);
    assert_eq!(first.outcome.branches, file.branches);
    assert_eq!(sim::sweep::signature(&first.outcome).as_deref(), Some(file.seed.signature.as_str()));
    // The branches matter: without them the recorded run does not fail the same way.
    let unbranched = sim::scenario::LoadedScenario { branches: Vec::new(), ..loaded.clone() };
    let without = run_seed(&unbranched, file.seed.seed);
    assert_ne!(without.outcome.trace_hash, first.outcome.trace_hash);
    // Shrinking keeps the failure (the saved file was shrunk already: nothing may break).
    let shrunk = sim::shrink::shrink(&file, &path, &AtomicBool::new(false));
    let again = run_seed(&shrunk.file.to_loaded(&path), file.seed.seed);
    assert_eq!(sim::sweep::signature(&again.outcome).as_deref(), Some(file.seed.signature.as_str()));
    // The timeline marks each branch where it was taken.
    let page = sim::report::timeline::html(&first.outcome, &first.trace);
    let taken = first
        .trace
        .iter()
        .filter(|r| matches!(r.event, sim::trace::TraceEvent::Harness(sim::trace::HarnessEvent::BranchTaken { .. })))
        .count();
    assert_eq!(taken, file.branches.len(), "the trace records each branch taken");
    assert!(page.contains("\"branches\":[[") && page.contains("branch-mark"), "the page draws the branches");
}

/// ack-before-durable's saved run loses acknowledged writes in a store crash at 8 s: branched before the crash,
/// children (which do not crash) mostly pass; branched after it, they all fail the same way.
#[test]
fn the_likelihood_of_a_failure_rises_after_its_cause() {
    let path = saved_seed("canaries-ack-before-durable");
    let file = sim::seedfile::load(&path).unwrap();
    let crash = file.plan.iter().find(|s| s.kind() == sim::faults::FaultKind::Crash && s.target() == Some("store"));
    let crash_at = crash.expect("the saved run crashes the store").at.0;
    let loaded = file.to_loaded(&path);
    let parent = run_seed(&loaded, file.seed.seed);
    let safety_start = parent
        .trace
        .iter()
        .find(|r| {
            matches!(
                r.event,
                sim::trace::TraceEvent::Harness(sim::trace::HarnessEvent::PhaseStarted { phase: "safety" })
            )
        })
        .unwrap()
        .at;
    let horizon = horizon(&loaded, &parent.outcome, safety_start);
    let grid = Grid { horizon, points: 6, children: 6, jobs: 2, stop: Arc::new(AtomicBool::new(false)) };
    let points = likelihood(&loaded, file.seed.seed, &file.seed.signature, grid);
    let share = |keep: &dyn Fn(Duration) -> bool| {
        let chosen: Vec<_> = points.iter().filter(|p| keep(Duration::from_millis(p.at_ms))).collect();
        let (failing, children): (u64, u64) = chosen.iter().fold((0, 0), |(f, c), p| (f + p.failing, c + p.children));
        (failing * 100).checked_div(children)
    };
    let before = share(&|at| at < crash_at).expect("grid points before the crash");
    let after = share(&|at| at > crash_at).expect("grid points after the crash");
    assert!(after >= 80 && before < after, "before the crash {before}%, after it {after}%: {points:?}");
}
