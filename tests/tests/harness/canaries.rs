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
