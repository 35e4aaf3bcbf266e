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

/// The trace hash is taken over a canonical encoding of the records, not over their rendered text: rewording an
/// event's display (here a record type whose display text can be switched) leaves the hash as it was, while a
/// change of any field changes it.
#[test]
fn changing_an_events_display_text_leaves_the_trace_hash_unchanged() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static REWORDED: AtomicBool = AtomicBool::new(false);
    #[derive(serde::Serialize)]
    struct Line {
        at_us: u64,
        node: &'static str,
        version: u64,
    }
    impl std::fmt::Display for Line {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match REWORDED.load(Ordering::SeqCst) {
                false => write!(f, "{} {} source-stored v{}", self.at_us, self.node, self.version),
                true => write!(f, "at {}us the {} stored version {}", self.at_us, self.node, self.version),
            }
        }
    }
    let trace = [Line { at_us: 5, node: "store", version: 1 }, Line { at_us: 9, node: "store", version: 2 }];
    let before = sim::trace::hash_records(&trace);
    let shown_before = trace[0].to_string();
    REWORDED.store(true, Ordering::SeqCst);
    assert_ne!(trace[0].to_string(), shown_before, "the display text did change");
    assert_eq!(sim::trace::hash_records(&trace), before);
    let changed = [Line { at_us: 5, node: "store", version: 1 }, Line { at_us: 9, node: "store", version: 3 }];
    assert_ne!(sim::trace::hash_records(&changed), before);
    // The real trace goes through the same function.
    let result = tests::run("baseline", 3);
    assert_eq!(result.outcome.trace_hash, sim::trace::hash_records(&result.trace));
}

/// The negative control: nondeterminism planted in a simulated task (its timing leaks from one run of the process
/// into the next) is reported, with the simulated time of the first draw from madsim's generator that differed.
#[test]
fn planted_nondeterminism_is_reported_with_the_first_divergent_draw() {
    let planted = sim::world::RunOptions { plant_nondeterminism: true, ..Default::default() };
    let (_, divergence) = sim::determinism::run_twice_with(&scenario("baseline"), 1, planted);
    let divergence = divergence.expect("the check reports the planted nondeterminism");
    // The plant draws 1 to 7 ms into the run: a time of zero would mean madsim's report was not understood.
    let at = divergence.draw_at.expect("the draw check saw the divergent draw");
    assert!(at > std::time::Duration::ZERO, "the time is read from madsim's own report: {divergence}");
    assert!(divergence.to_string().contains("drew differently from madsim's generator"), "{divergence}");
    // The same check on the same seed without the plant finds nothing.
    let (_, clean) = sim::determinism::run_twice(&scenario("baseline"), 1);
    assert_eq!(clean, None);
}

/// std seeds its hash random state once per thread. A thread that made a HashMap before the seed's runtime cannot
/// replay the seed: that is a failure of the run, not a log line.
#[test]
fn a_thread_whose_hash_state_was_already_seeded_fails_the_run() {
    let baseline = scenario("baseline");
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    let outcome = std::thread::spawn(move || {
        // Deliberately the nondeterministic thing: a std HashMap made before the runtime.
        let early: std::collections::HashMap<u8, u8> = std::collections::HashMap::new();
        drop(early);
        run_seed_here(&baseline, 1).outcome
    })
    .join()
    .unwrap();
    assert!(outcome.violations.iter().any(|v| v.kind == sim::outcome::ViolationKind::Nondeterminism), "{outcome:?}");
}

/// A thread never runs a second seed.
#[test]
fn a_thread_refuses_a_second_seed() {
    let baseline = scenario("baseline");
    #[allow(clippy::disallowed_methods)]
    let second = std::thread::spawn(move || {
        let _first = run_seed_here(&baseline, 1);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_seed_here(&baseline, 2))).is_err()
    })
    .join()
    .unwrap();
    assert!(second, "the second seed on one thread must be refused");
}

/// The harness recognises madsim's own panic messages for a deadlock and an exceeded time limit (madsim is pinned
/// exactly; these run the real runtime, so a rewording in a new version fails here, not as a mislabelled verdict).
#[test]
fn madsims_deadlock_and_time_limit_panics_are_classified() {
    use sim::outcome::ViolationKind;
    use sim::world::run::{classify_crash, quietly};
    let crash = |limit: Option<std::time::Duration>, wait: Option<std::time::Duration>| -> String {
        #[allow(clippy::disallowed_methods)]
        std::thread::spawn(move || {
            quietly(|| {
                let mut runtime = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
                if let Some(limit) = limit {
                    runtime.set_time_limit(limit);
                }
                runtime.block_on(async move {
                    match wait {
                        Some(wait) => madsim::time::sleep(wait).await,
                        None => std::future::pending::<()>().await,
                    }
                })
            })
            .expect_err("the runtime panics")
        })
        .join()
        .unwrap()
    };
    let deadlock = crash(None, None);
    assert_eq!(classify_crash(&deadlock), ViolationKind::Deadlock, "{deadlock}");
    let over = crash(Some(std::time::Duration::from_secs(1)), Some(std::time::Duration::from_secs(10)));
    assert_eq!(classify_crash(&over), ViolationKind::TimeLimit, "{over}");
    assert_eq!(classify_crash("index out of bounds at system/src/x.rs:1:1"), ViolationKind::Panic);
}

/// A panic in the system's code is the system's (`panic`); one anywhere else (madsim's "IP conflict" when the
/// harness numbered two nodes alike, a harness bug) is the harness's own, exit 5, never blamed on the system.
#[test]
fn a_panic_outside_the_systems_code_is_a_harness_error() {
    use sim::outcome::ViolationKind;
    use sim::world::run::crash_kind;
    assert_eq!(
        crash_kind("called `Option::unwrap()` on a `None` value at system/src/queue/fair.rs:250"),
        ViolationKind::Panic
    );
    let madsim =
        "IP conflict: 10.0.3.1 at /root/.cargo/registry/src/index.crates.io/madsim-0.2.34/src/sim/net/network.rs:155";
    assert_eq!(crash_kind(madsim), ViolationKind::HarnessError);
    assert_eq!(crash_kind("oops at sim/src/world/cluster.rs:30"), ViolationKind::HarnessError);
    assert_eq!(ViolationKind::HarnessError.class(), "harness");
    let outcome = sim::outcome::Outcome {
        scenario: "s".into(),
        seed: 0,
        verdict: sim::outcome::Verdict::Fail,
        violations: vec![sim::outcome::Violation::new(ViolationKind::HarnessError, madsim)],
        stats: Default::default(),
        trace_hash: String::new(),
        fingerprint: None,
        fault_plan: Vec::new(),
        branches: Vec::new(),
        points: Vec::new(),
    };
    assert_eq!(sim::commands::exit_of(&outcome), sim::commands::EXIT_HARNESS_ERROR);
}
