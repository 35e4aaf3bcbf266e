//! Events explain, they never judge (an architecture invariant): with the system's event sink muted (coverage
//! marks aside), every verdict stays the same. Each canary is still caught on the same seed with the same
//! violations, every saved seed still fails with the violations it was saved with, and the catalog still passes.
//! (A fingerprint is drawn from the explanations, which read the events: muted, it may name the mechanism less
//! well, so the comparison is of verdicts and violation kinds, which is what the oracle decides.)

use sim::world::{run_seed, run_seed_with, RunOptions};

const MUTED: RunOptions = RunOptions {
    mute_system_events: true,
    plant_nondeterminism: false,
    outcome_only: false,
    stats: system::config::StatsHonesty::Honest,
    coverage: false,
};

#[test]
fn muting_the_system_events_changes_no_canary_verdict() {
    let dir = tests::scenarios_dir().join("canaries");
    let mut checked = 0;
    for path in sim::catalog::list(&dir) {
        let loaded = sim::scenario::resolve(&path.display().to_string(), &tests::scenarios_dir()).unwrap();
        let canary = loaded.scenario.canary.clone().unwrap();
        let seed = (0..canary.within_seeds.get())
            .find(|&seed| run_seed(&loaded, seed).outcome.violations.iter().any(|v| canary.expect.contains(&v.kind)))
            .unwrap_or_else(|| panic!("{} not caught", loaded.name));
        let heard = run_seed(&loaded, seed);
        let muted = run_seed_with(&loaded, seed, MUTED);
        assert!(muted.trace.len() < heard.trace.len(), "{}: muting dropped no event", loaded.name);
        assert_eq!(muted.outcome.verdict, heard.outcome.verdict, "{} seed {seed}", loaded.name);
        assert_eq!(muted.outcome.kinds(), heard.outcome.kinds(), "{} seed {seed}", loaded.name);
        checked += 1;
    }
    let rare = sim::catalog::list(&tests::scenarios_dir().join("rare")).len();
    // The rare canaries are caught by their saved seeds, which `..._no_saved_seed_verdict` covers.
    assert_eq!(checked + rare, system::flaws::Flaw::ALL.len());
}

#[test]
fn muting_the_system_events_changes_no_saved_seed_verdict() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    for path in sim::catalog::list(&dir) {
        let file = sim::seedfile::load(&path).unwrap();
        let heard = run_seed(&file.to_loaded(&path), file.seed.seed);
        let muted = run_seed_with(&file.to_loaded(&path), file.seed.seed, MUTED);
        assert!(!muted.outcome.passed(), "{}", path.display());
        assert_eq!(muted.outcome.kinds(), heard.outcome.kinds(), "{}", path.display());
    }
}

#[test]
fn muting_the_system_events_changes_no_catalog_verdict() {
    for name in tests::catalog_names() {
        let loaded = tests::scenario(&name);
        for seed in 0..2 {
            let muted = run_seed_with(&loaded, seed, MUTED);
            assert!(muted.outcome.passed(), "{name} seed {seed} muted: {:#?}", muted.outcome.violations);
        }
    }
}

/// Whether the system is done is judged from outside (the clients, the readings, what the network carried), never
/// from its statistics: a system whose statistics always say "nothing pending", or never do, gets the same
/// verdict, with the same violations, on every catalog scenario, every canary's catching seed and every saved
/// seed. The statistics are not even asked for in a run judged done, so its trace is the same too.
#[test]
fn lying_statistics_change_no_verdict() {
    use system::config::StatsHonesty::{AlwaysQuiet, NeverQuiet};
    let mut cases: Vec<(sim::scenario::LoadedScenario, u64)> =
        tests::catalog_names().iter().map(|name| (tests::scenario(name), 0)).collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    for path in sim::catalog::list(&dir) {
        let file = sim::seedfile::load(&path).unwrap();
        cases.push((file.to_loaded(&path), file.seed.seed));
    }
    let mut failing = 0;
    for (loaded, seed) in &cases {
        let honest = run_seed(loaded, *seed);
        failing += usize::from(!honest.outcome.passed());
        for stats in [AlwaysQuiet, NeverQuiet] {
            let lying = run_seed_with(loaded, *seed, RunOptions { stats, ..RunOptions::default() });
            let what = format!("{} seed {seed} with statistics {stats:?}", loaded.name);
            assert_eq!(lying.outcome.verdict, honest.outcome.verdict, "{what}");
            assert_eq!(lying.outcome.kinds(), honest.outcome.kinds(), "{what}");
            let quiet = |r: &sim::world::RunResult| {
                r.trace.iter().any(|t| {
                    matches!(t.event, sim::trace::TraceEvent::Harness(sim::trace::HarnessEvent::QuietJudged { .. }))
                })
            };
            if quiet(&honest) {
                assert_eq!(lying.outcome.trace_hash, honest.outcome.trace_hash, "{what}: the statistics were read");
            }
        }
    }
    assert!(failing >= 8, "the saved seeds fail, so wrong views are covered too: {failing}");
}
