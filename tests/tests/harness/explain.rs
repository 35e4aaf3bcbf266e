//! Explanations: for every committed seed, the causal chain of its first violation marks the step where the
//! view was lost or went stale, the one a person should look at first. Chains follow identifiers (request ids,
//! versions, job ids, lease tokens), not substrings.

use sim::explain::explain;
use sim::world::run_seed;

/// Per saved seed: what the marked step's line starts with, and what its reason says.
const EXPECTED: [(&str, &str, &str); 8] = [
    ("canaries-ack-before-durable", "fault crashed store", "already acknowledged"),
    ("canaries-dedup-against-leased", "job-coalesced", "already processing"),
    ("canaries-dedup-ignores-environment", "job-coalesced", "of another environment"),
    ("canaries-fifo-queue", "job-leased", "waiting"),
    ("canaries-newest-wins-by-wall-clock", "view-write-refused", "holds the older"),
    ("canaries-no-outbox", "ingest-busy", "queue answered busy"),
    ("canaries-retry-storm", "enqueue-busy", "kept retrying"),
    ("canaries-unfenced-worker-clock", "view-written", "older"),
];

#[test]
fn every_saved_seed_is_explained_with_the_step_where_it_went_wrong() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    let files = sim::catalog::list(&dir);
    assert_eq!(files.len(), EXPECTED.len(), "an expected step per saved seed");
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let (_, line, why) = EXPECTED
            .iter()
            .find(|(prefix, ..)| name.starts_with(prefix))
            .unwrap_or_else(|| panic!("{name}: no expected step; add one to EXPECTED"));
        let file = sim::seedfile::load(&path).unwrap();
        let result = run_seed(&file.to_loaded(&path), file.seed.seed);
        let first = &result.outcome.violations[0];
        let chain = explain(&result.trace, first).unwrap_or_else(|| panic!("{name}: no chain for {first}"));
        assert!(chain.steps.len() <= sim::explain::STEPS_MAX, "{name}: one screen");
        let wrong = chain.wrong_step().unwrap_or_else(|| panic!("{name}: no step marked\n{chain}"));
        assert!(wrong.line.starts_with(line), "{name}: marked {:?}\n{chain}", wrong.line);
        assert!(wrong.wrong.as_deref().unwrap_or_default().contains(why), "{name}: {:?}\n{chain}", wrong.wrong);
    }
}
