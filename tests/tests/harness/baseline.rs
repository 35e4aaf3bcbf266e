use std::time::Duration;
use tests::run;

#[test]
fn baseline_passes_with_several_environments_and_real_work() {
    let result = run("baseline", 1);
    let outcome = &result.outcome;
    assert!(outcome.passed(), "baseline seed 1 failed: {:#?}", outcome.violations);
    let st = &outcome.stats;
    assert!(st.environments >= 4, "environments: {}", st.environments);
    assert!(st.ingests_acked >= 1_000, "acknowledged ingests: {}", st.ingests_acked);
    assert!(st.jobs_coalesced > 0, "no job was coalesced: the load does not exercise deduplication");
    assert!(st.views_written > 0);
    assert!(st.jobs_completed >= st.views_written / 2);
    // The trace shows every environment acknowledged at the same time (their clients run concurrently).
    let acked_envs: std::collections::BTreeSet<&str> =
        result.trace.iter().filter(|r| r.at.as_secs() < 10).filter_map(|r| r.node.strip_prefix("client-")).collect();
    assert_eq!(acked_envs.len(), 4, "clients of every environment ingest in the first 10 seconds");
}

/// madsim keeps a node's tasks alive after its runtime is dropped; the harness kills every node at the end of a
/// run so that a 10,000-seed sweep does not keep 10,000 runs' state in memory.
#[test]
fn a_finished_run_leaves_nothing_behind() {
    let result = run("crash-restart", 2);
    assert!(result.outcome.passed());
    assert_eq!(result.leaked_references, 0, "event sinks of the run's nodes are still alive");
}

/// The benchmark's "system alone" program (no harness) must run the same system under the same load, or the
/// harness's own cost it reports means nothing: it exchanges about as many messages as a harness seed less its
/// readers' and checker's.
#[test]
fn the_benchmarks_system_alone_carries_the_baseline_load() {
    let harness = run("baseline", 1).outcome.stats;
    let alone =
        sim::bench::alone::run(&tests::scenario("baseline").scenario, 1, Duration::from_millis(harness.simulated_ms));
    let system_messages = harness.net_messages - harness.observer_messages;
    let ratio = alone.messages as f64 / system_messages as f64;
    assert!(
        (0.7..1.3).contains(&ratio),
        "the system alone exchanged {} messages; the harness's system {system_messages}",
        alone.messages
    );
}
