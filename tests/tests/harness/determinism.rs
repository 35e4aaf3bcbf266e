use sim::world::{run_seed, run_seed_here};
use tests::scenario;

#[test]
fn the_same_seed_gives_the_same_trace_on_different_threads() {
    let baseline = scenario("baseline");
    let first = run_seed(&baseline, 7);
    let second = run_seed(&baseline, 7);
    // A third run on a thread this test starts itself, running the seed directly on it.
    let copy = baseline.clone();
    #[allow(clippy::disallowed_methods)]
    let third = std::thread::spawn(move || run_seed_here(&copy, 7)).join().unwrap();
    assert_eq!(first.outcome.trace_hash, second.outcome.trace_hash);
    assert_eq!(first.outcome.trace_hash, third.outcome.trace_hash);
    assert_eq!(sim::determinism::compare(&first.trace, &third.trace), None);
    assert_eq!(first.outcome.stats.ingests_acked, third.outcome.stats.ingests_acked);
}

#[test]
fn different_seeds_give_different_traces() {
    let baseline = scenario("baseline");
    let hashes: std::collections::BTreeSet<String> =
        (0..4).map(|seed| run_seed(&baseline, seed).outcome.trace_hash).collect();
    assert_eq!(hashes.len(), 4, "four seeds gave only {} distinct traces", hashes.len());
}

#[test]
fn a_divergence_is_located_at_the_first_differing_event() {
    let baseline = scenario("baseline");
    let a = run_seed(&baseline, 1).trace;
    let b = run_seed(&baseline, 2).trace;
    let index = sim::determinism::compare(&a, &b).expect("different seeds diverge");
    assert_eq!(a[..index], b[..index], "everything before the divergence is equal");
    assert_ne!(a.get(index), b.get(index));
}
