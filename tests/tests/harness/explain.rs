//! Explanations: for every committed seed, the causal chain of its first violation marks the step where the
//! view was lost or went stale, the one a person should look at first. Chains follow identifiers (request ids,
//! versions, job ids, lease tokens), not substrings.

use sim::explain::explain;
use sim::world::run_seed;

/// Per saved seed: what the marked step's line starts with, and what its reason says.
const EXPECTED: [(&str, &str, &str); 13] = [
    ("canaries-ack-before-durable", "fault crashed store", "had not synced"),
    ("canaries-dedup-against-leased", "job-coalesced", "already processing"),
    ("canaries-dedup-ignores-environment", "job-coalesced", "of another environment"),
    ("canaries-deploy-never-answers", "deploy-sent", "never answered"),
    ("canaries-fifo-queue", "job-leased", "waiting"),
    // The heuristic rule: the explainer has no rule yet for a job stranded with a worker that stays dead.
    ("canaries-jobs-stick-to-their-worker", "source-stored", "no view of it was ever written"),
    ("canaries-newest-wins-by-wall-clock", "view-write-refused", "holds the older"),
    ("canaries-no-outbox", "ingest-busy", "queue answered busy"),
    ("canaries-retry-storm", "enqueue-busy", "kept retrying"),
    ("canaries-unfenced-worker-clock", "view-written", "older"),
    ("rare-compaction-in-place", "fault crashed store", "had not synced"),
    ("rare-dedup-when-clock-steps-back", "job-coalesced", "of another environment"),
    ("rare-outbox-drops-on-full-disk", "ingest-busy", "queue answered busy"),
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
        let cause = wrong.wrong.as_ref().map(|c| c.to_string()).unwrap_or_default();
        assert!(cause.contains(why), "{name}: {cause:?}\n{chain}");
    }
}

/// A real deployment logs the same events through `tracing`: the target is the node's role and the level the
/// event's, so `RUST_LOG` directives filter a running service's log as `--log` filters a simulated one.
#[test]
fn the_systems_tracing_sink_logs_each_event_under_its_role_and_level() {
    use std::sync::{Arc, Mutex};
    use system::events::{Event, EventSink, TracingSink};
    use tracing_subscriber::layer::SubscriberExt;
    struct Seen(Arc<Mutex<Vec<(String, tracing::Level)>>>);
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Seen {
        fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            let meta = event.metadata();
            self.0.lock().unwrap().push((meta.target().to_string(), *meta.level()));
        }
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let filter: tracing_subscriber::filter::Targets = "queue=debug,worker=info".parse().unwrap();
    let subscriber = tracing_subscriber::registry().with(filter).with(Seen(seen.clone()));
    tracing::subscriber::with_default(subscriber, || {
        let queue = TracingSink { node: "queue".into() };
        let worker = TracingSink { node: "worker-2".into() };
        let store = TracingSink { node: "store".into() };
        queue.emit(Event::JobCompleted { job: 1, token: 1 });
        queue.emit(Event::AckRefused { token: 9 });
        queue.emit(Event::LeaseExpired { job: 1, token: 1, expired_at: system::clock::WallMillis(5) });
        worker.emit(Event::NodeStarted { role: "worker" });
        worker.emit(Event::JobCoalesced {
            env: "a".into(),
            entity: "home".into(),
            schema: "page".into(),
            kind: system::model::JobKind::Fresh,
            into_job: 3,
            into_env: "a".into(),
        });
        store.emit(Event::NodeStarted { role: "store" });
    });
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("queue".to_string(), tracing::Level::INFO),
            ("queue".to_string(), tracing::Level::WARN),
            ("queue".to_string(), tracing::Level::WARN),
            ("worker".to_string(), tracing::Level::INFO),
        ],
        "worker's debug and the store's events are filtered out"
    );
}

/// Explanations follow typed records and identifiers only: a renderer that prints nonsense for every event
/// changes no step and no conclusion of any saved seed's chains, and a heuristic conclusion says it is one.
#[test]
fn changing_every_events_text_changes_no_explanation() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    let mut heuristics = 0;
    for path in sim::catalog::list(&dir) {
        let file = sim::seedfile::load(&path).unwrap();
        let result = run_seed(&file.to_loaded(&path), file.seed.seed);
        let nonsense = |r: &sim::trace::Record| format!("zz{}qq", r.at.as_nanos() % 7);
        for violation in result.outcome.violations.iter().take(10) {
            let plain = explain(&result.trace, violation);
            let garbled = sim::explain::explain_with(&result.trace, violation, &nonsense);
            let shape = |c: Option<sim::explain::Chain>| {
                c.map(|c| c.steps.into_iter().map(|s| (s.at, s.record, s.wrong, s.faults)).collect::<Vec<_>>())
            };
            assert_eq!(shape(plain.clone()), shape(garbled), "{}: {violation}", path.display());
            if let Some(step) = plain.as_ref().and_then(|c| c.wrong_step()) {
                let cause = step.wrong.as_ref().unwrap();
                if cause.heuristic() {
                    heuristics += 1;
                    assert!(cause.to_string().starts_with("(heuristic) "), "{cause}");
                    assert!(plain.unwrap().to_string().contains(">> here: (heuristic) "));
                }
            }
        }
        assert_eq!(
            sim::explain::fingerprint(&result.trace, &result.outcome.violations),
            result.outcome.fingerprint,
            "the fingerprint is the explanations' own"
        );
    }
    assert!(heuristics > 0, "some saved seed's chain ends in a heuristic (the starvation and busy-storm ones)");
}
