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
