//! Events explain, they never judge (an architecture invariant): with the system's event sink muted (coverage
//! marks aside), every verdict stays the same. Each canary is still caught on the same seed with the same
//! violations, every saved seed still fails with the violations it was saved with, and the catalog still passes.
//! (A fingerprint is drawn from the explanations, which read the events: muted, it may name the mechanism less
//! well, so the comparison is of verdicts and violation kinds, which is what the oracle decides.)

use sim::world::{run_seed, run_seed_with, RunOptions};

const MUTED: RunOptions = RunOptions { mute_system_events: true, plant_nondeterminism: false, outcome_only: false };

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
    assert_eq!(checked, system::flaws::Flaw::ALL.len());
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
