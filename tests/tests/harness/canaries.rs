use sim::outcome::ViolationKind;
use sim::world::run_seed;
use tests::scenario;

/// The real incident: deduplication that ignores the environment. The harness must see it as views that were
/// never made, on an early seed.
#[test]
fn the_incident_canary_fails_with_missing_view_within_100_seeds() {
    let canary = scenario("canaries/dedup-ignores-environment");
    let first = (0..100)
        .find(|&seed| run_seed(&canary, seed).outcome.violations.iter().any(|v| v.kind == ViolationKind::MissingView));
    assert!(first.is_some(), "no seed among the first 100 showed missing-view");
}

#[test]
fn the_incident_canary_seed_passes_with_the_flaw_switched_off() {
    let mut canary = scenario("canaries/dedup-ignores-environment");
    let failing = run_seed(&canary, 0);
    assert!(!failing.outcome.passed());
    canary.scenario.system.flaws.clear();
    let fixed = run_seed(&canary, 0);
    assert!(fixed.outcome.passed(), "{:#?}", fixed.outcome.violations);
}

/// Every canary is caught from fresh start seeds too, not only from seed 0 (where its saved seed came from): the
/// harness's power does not hang on one lucky seed.
#[test]
fn every_canary_is_caught_from_fresh_start_seeds() {
    let dir = tests::scenarios_dir().join("canaries");
    for path in sim::catalog::list(&dir) {
        let loaded = sim::scenario::resolve(&path.display().to_string(), &tests::scenarios_dir()).unwrap();
        let canary = loaded.scenario.canary.clone().unwrap();
        for start in [1_000u64, 77_777] {
            let caught = (start..start + canary.within_seeds.get()).find(|&seed| {
                run_seed(&loaded, seed).outcome.violations.iter().any(|v| canary.expect.contains(&v.kind))
            });
            assert!(
                caught.is_some(),
                "{} not caught within {} seeds from {start}",
                loaded.name,
                canary.within_seeds.get()
            );
        }
    }
}
