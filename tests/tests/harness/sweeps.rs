//! Sweeps, seed files, replay, shrinking, sharding and interruption: how the harness is used every day.

use sim::commands::repro::{repro, ReproArgs};
use sim::commands::sweep::{sweep, SweepArgs};
use sim::seedfile;
use sim::sweep::{self as sweeper, Shard, SweepOptions};
use sim::world::run_seed;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

const CANARY: &str = "canaries/dedup-ignores-environment";

fn args(scenarios: Vec<String>, start: u64, count: u64, save_dir: &Path) -> SweepArgs {
    SweepArgs {
        scenarios,
        seeds: None,
        start: Some(start),
        count: Some(count),
        jobs: Some(2),
        shard: None,
        time_budget: None,
        save_dir: save_dir.to_path_buf(),
        json: None,
        junit: None,
        fail_fast: false,
        no_shrink: true,
        no_buggify: false,
        timelines: false,
        determinism_percent: 0,
    }
}

fn seed_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn a_canary_sweep_fails_saves_one_file_per_signature_and_the_file_replays_identically() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("sweep.json");
    let junit = dir.path().join("sweep.xml");
    let mut a = args(vec![CANARY.into()], 0, 6, &dir.path().join("seeds"));
    a.json = Some(json.clone());
    a.junit = Some(junit.clone());
    assert_eq!(sweep(a), 1, "failures found");
    let files = seed_files(&dir.path().join("seeds"));
    let report: sweeper::SweepReport = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let signatures = report.scenarios[0].failures.len();
    assert_eq!(files.len(), signatures, "one file per signature: {files:?}");
    assert!(report.scenarios[0].failures.iter().all(|g| g.repro.starts_with("cargo sim run --scenario")));
    assert!(std::fs::read_to_string(&junit).unwrap().contains("<failure"), "the JUnit report shows the failure");

    let file = seedfile::load(&files[0]).unwrap();
    assert_eq!(file.seed.seed, 0, "the lowest failing seed is the one saved");
    let replays: Vec<_> = (0..3).map(|_| run_seed(&file.to_loaded(&files[0]), file.seed.seed)).collect();
    for replay in &replays {
        assert_eq!(sweeper::signature(&replay.outcome).as_deref(), Some(file.seed.signature.as_str()));
        assert_eq!(replay.outcome.trace_hash, file.outcome.trace_hash);
        assert_eq!(replay.trace, replays[0].trace);
    }
    let r = ReproArgs {
        file: files[0].display().to_string(),
        trace: false,
        filter: None,
        no_determinism_check: false,
        no_buggify: false,
        json: false,
        explain: false,
        log: None,
        html: None,
        resave: false,
        likelihood: false,
        points: 12,
        children: 16,
    };
    assert_eq!(repro(r), 1, "repro exits 1 while the seed still fails");
}

/// A scenario with the incident flaw and generated faults, written to `dir`.
fn faulty_canary(dir: &Path, generate: &str) -> PathBuf {
    let text = std::fs::read_to_string(tests::scenarios_dir().join(format!("{CANARY}.toml"))).unwrap();
    let text = text.replace(
        "[run]",
        &format!("[faults]\ngenerate = [{generate}]\nevents_max = 4\nduration_max = \"2s\"\n\n[run]"),
    );
    let path = dir.join("faulty-canary.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_saved_seed_still_reproduces_after_the_scenario_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = faulty_canary(dir.path(), "\"pause\", \"latency\"");
    let seeds = dir.path().join("seeds");
    assert_eq!(sweep(args(vec![scenario.display().to_string()], 3, 1, &seeds)), 1);
    let file_path = seed_files(&seeds).remove(0);
    let saved = seedfile::load(&file_path).unwrap();
    assert!(!saved.plan.is_empty(), "the executed plan is in the file");

    // Change the scenario's fault settings completely: the generator would now draw other faults.
    faulty_canary(dir.path(), "\"crash\", \"split\", \"clock-jump\"");
    let replay = run_seed(&seedfile::load(&file_path).unwrap().to_loaded(&file_path), saved.seed.seed);
    assert_eq!(sweeper::signature(&replay.outcome).as_deref(), Some(saved.seed.signature.as_str()));
    assert_eq!(replay.outcome.fault_plan, saved.plan, "replay executes the recorded plan, not the generator");
    assert_eq!(replay.outcome.trace_hash, saved.outcome.trace_hash);
}

#[test]
fn shrinking_leaves_a_smaller_run_that_still_reproduces() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = faulty_canary(dir.path(), "\"pause\", \"latency\", \"loss\"");
    let seeds = dir.path().join("seeds");
    assert_eq!(sweep(args(vec![scenario.display().to_string()], 5, 1, &seeds)), 1);
    let path = seed_files(&seeds).remove(0);
    let original = seedfile::load(&path).unwrap();
    let shrunk = sim::shrink::shrink(&original, &path, &AtomicBool::new(false));
    let (before, after) = (&shrunk.before, &shrunk.after);
    assert!(
        after.fault_events < before.fault_events
            || after.environments < before.environments
            || after.entities < before.entities
            || after.ingest_rate < before.ingest_rate
            || after.safety < before.safety,
        "nothing shrank: {before} -> {after}"
    );
    let replay = run_seed(&shrunk.file.to_loaded(&path), shrunk.file.seed.seed);
    assert_eq!(sweeper::signature(&replay.outcome).as_deref(), Some(original.seed.signature.as_str()));
    // What the shrunk file says about itself is what it does.
    let text = shrunk.file.to_toml(&path);
    let reread = seedfile::parse(&text, &path).unwrap();
    assert_eq!(reread.plan, shrunk.file.plan);
}

#[test]
fn two_shards_merged_report_the_same_failures_as_one_sweep() {
    let scenarios = vec![tests::scenario("baseline"), tests::scenario(CANARY)];
    let options = |shard: Option<Shard>| SweepOptions { shard, ..SweepOptions::new(scenarios.clone(), 10, 6, 2) };
    let report = |options: SweepOptions| {
        let mut reports: Vec<sweeper::ScenarioReport> = scenarios
            .iter()
            .map(|s| sweeper::ScenarioReport { scenario: s.name.clone(), ..Default::default() })
            .collect();
        sweeper::run(&options, |done| reports[done.scenario].record(done, String::new(), false, 10));
        sweeper::SweepReport { start: 10, count: 6, scenarios: reports, ..Default::default() }
    };
    let whole = report(options(None));
    let one = report(options(Some(Shard::parse("1/2").unwrap())));
    let two = report(options(Some(Shard::parse("2/2").unwrap())));
    assert!(one.scenarios[1].seeds_run > 0 && two.scenarios[1].seeds_run > 0, "each shard runs some seeds");
    let merged = sim::commands::merge::merge_reports(&[one, two], &[]).unwrap();
    let failing = |r: &sweeper::SweepReport| -> Vec<(String, String, Vec<u64>)> {
        let mut groups: Vec<_> = r
            .scenarios
            .iter()
            .flat_map(|s| s.failures.iter().map(|g| (s.scenario.clone(), g.signature.clone(), g.seeds.clone())))
            .collect();
        groups.sort();
        groups
    };
    assert!(!failing(&whole).is_empty());
    assert_eq!(failing(&merged), failing(&whole));
    assert_eq!(
        merged.scenarios.iter().map(|s| s.seeds_run).sum::<u64>(),
        whole.scenarios.iter().map(|s| s.seeds_run).sum::<u64>()
    );
}

#[test]
fn shards_split_the_seeds_without_overlap() {
    let shards: Vec<Shard> = (1..=3).map(|k| Shard::parse(&format!("{k}/3")).unwrap()).collect();
    for seed in 0..100 {
        assert_eq!(shards.iter().filter(|s| s.owns(seed)).count(), 1);
    }
    assert!(Shard::parse("0/2").is_err() && Shard::parse("3/2").is_err() && Shard::parse("x").is_err());
}

// ---- broken seed files ----

fn canary_seed_text() -> (PathBuf, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    let path =
        dir.join("canaries-dedup-ignores-environment--correctness-coalesced-across-environments-job-coalesced.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

fn seed_error(from: &str, to: &str) -> String {
    let (_, text) = canary_seed_text();
    assert!(text.contains(from), "the seed file no longer contains {from:?}");
    match seedfile::parse(&text.replacen(from, to, 1), Path::new("seeds/broken.toml")) {
        Ok(_) => panic!("accepted a broken seed file ({from:?} -> {to:?})"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_hand_broken_seed_file_gets_an_error_naming_file_line_and_field() {
    let m = seed_error("format = 1", "format = 1\nfromat = 2");
    assert!(m.starts_with("seeds/broken.toml:"), "{m}");
    assert!(m.contains("field `seed.fromat`"), "{m}");

    let m = seed_error("workers = 3", "workers = \"three\"");
    assert!(m.contains("field `scenario.topology.workers`"), "{m}");

    let m =
        seed_error("plan = []", "[[plan]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"worker-7\"\nduration = \"1s\"");
    assert!(m.contains("field `plan[0].target`") && m.contains("unknown node `worker-7`"), "{m}");

    let m = seed_error("[seed]", "[seed\n");
    assert!(m.starts_with("seeds/broken.toml:"), "a syntax error has a place too: {m}");

    let m = seed_error("format = 1", "format = 7");
    assert!(m.contains("field `seed.format`") && m.contains("re-save"), "{m}");
}

#[test]
fn repro_of_a_corrupt_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = canary_seed_text();
    let path = dir.path().join("corrupt.toml");
    std::fs::write(&path, text.replacen("seed = 0", "seed = -4", 1)).unwrap();
    let r = ReproArgs {
        file: path.display().to_string(),
        trace: false,
        filter: None,
        no_determinism_check: true,
        no_buggify: false,
        json: false,
        explain: false,
        log: None,
        html: None,
        resave: false,
        likelihood: false,
        points: 12,
        children: 16,
    };
    assert_eq!(repro(r), 2);
    let missing = ReproArgs {
        file: "no/such/file.toml".into(),
        trace: false,
        filter: None,
        no_determinism_check: true,
        no_buggify: false,
        json: false,
        explain: false,
        log: None,
        html: None,
        resave: false,
        likelihood: false,
        points: 12,
        children: 16,
    };
    assert_eq!(repro(missing), 2);
}

// ---- coverage marks ----

fn sweep_report(scenario: sim::scenario::LoadedScenario, count: u64) -> sweeper::SweepReport {
    let options = SweepOptions::new(vec![scenario.clone()], 0, count, 2);
    let mut report = sweeper::ScenarioReport {
        scenario: scenario.name.clone(),
        marks_required: scenario.scenario.coverage.requires.clone(),
        marks_within_seeds: scenario.scenario.coverage.within_seeds.get(),
        ..Default::default()
    };
    sweeper::run(&options, |done| report.record(done, String::new(), false, 0));
    sweeper::SweepReport { scenarios: vec![report], ..Default::default() }
}

#[test]
fn a_sweep_that_never_reaches_a_required_mark_fails() {
    // The baseline has no crashes, so the store never recovers from its log.
    let mut unreachable = tests::scenario("baseline");
    unreachable.scenario.coverage.requires = vec!["store.recovered".into()];
    unreachable.scenario.coverage.within_seeds = sim::scenario::Bounded(3);
    let report = sweep_report(unreachable.clone(), 3);
    assert_eq!(report.scenarios[0].seeds_passed, 3, "every seed passes its invariants");
    assert_eq!(report.scenarios[0].marks_missed(), ["store.recovered"]);
    assert!(report.failed(), "yet the sweep fails: it tested less than the scenario claims");
    assert!(sim::report::sweep::summary(&report).contains("COVERAGE MISSED"));

    // A sweep shorter than the scenario's `within_seeds` reports the mark as not yet reached, and passes.
    unreachable.scenario.coverage.within_seeds = sim::scenario::Bounded(10);
    let report = sweep_report(unreachable, 3);
    assert!(report.scenarios[0].marks_missed().is_empty());
    assert!(!report.failed());
    assert!(sim::report::sweep::summary(&report).contains("not yet reached in 3 seeds"));

    let mut reachable = tests::scenario("baseline");
    reachable.scenario.coverage.requires = vec!["queue.cross-env-duplicate-pending".into()];
    let report = sweep_report(reachable, 3);
    assert!(!report.failed());
    assert_eq!(report.scenarios[0].marks.get("queue.cross-env-duplicate-pending"), Some(&3));
}

// ---- how a sweep ends (issue "A clean checkout's two commands pass") ----

#[test]
fn a_hunted_canary_failing_in_other_ways_is_never_a_failure_of_the_sweep() {
    // A canary expecting a kind its flaw never shows: every failing seed fails "in another way", as seeds still
    // running when a canary is caught often do. None of them may fail the sweep or be saved.
    let mut canary = tests::scenario(CANARY);
    canary.scenario.canary.as_mut().unwrap().expect = vec![sim::outcome::ViolationKind::Starvation];
    let options = SweepOptions { canary_mode: true, ..SweepOptions::new(vec![canary.clone()], 0, 3, 2) };
    let mut report = sweeper::ScenarioReport {
        scenario: canary.name.clone(),
        canary: Some(sweeper::CanaryReport { within_seeds: 3, ..Default::default() }),
        ..Default::default()
    };
    let seeds: Vec<u64> = (0..3).collect();
    for &seed in &seeds {
        let result = run_seed(&canary, seed);
        let done = sweeper::SeedDone {
            scenario: 0,
            signature: sweeper::signature(&result.outcome),
            result,
            nondeterministic: None,
            checked_determinism: false,
        };
        let caught = options.catches_canary(0, &done.result.outcome);
        assert!(!caught);
        report.record(&done, String::new(), caught, 0);
    }
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.canary_other.values().sum::<u64>(), 3);
    let whole = sweeper::SweepReport { scenarios: vec![report], ..Default::default() };
    assert!(whole.failed(), "the canary itself was missed within its budget of 3");
    assert!(sim::report::sweep::summary(&whole).contains("other failures of the flawed system (not counted)"));
}

#[test]
fn a_sweep_report_says_what_made_it_and_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("sweep.json");
    let junit = dir.path().join("sweep.xml");
    let mut a = args(vec![CANARY.into()], 0, 2, &dir.path().join("seeds"));
    a.json = Some(json.clone());
    a.junit = Some(junit.clone());
    assert_eq!(sweep(a), 1);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["verdict"], "fail");
    for field in ["harness_version", "toolchain", "started_at"] {
        assert!(report[field].as_str().is_some_and(|s| !s.is_empty()), "{field}: {report}");
    }
    assert!(report["toolchain"].as_str().unwrap().starts_with("rustc "));
    let xml = std::fs::read_to_string(&junit).unwrap();
    // The test case is named after the scenario, whatever the seeds: a dashboard can follow it.
    assert!(xml.contains(&format!("<testcase name=\"{CANARY}\"")), "{xml}");
    assert!(xml.contains("[correctness] "), "the failure's body holds the violation text: {xml}");
    assert!(xml.contains("reproduce: cargo sim run"), "{xml}");
}

#[test]
fn two_sweeps_saving_into_one_folder_never_overwrite_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.toml");
    assert!(sim::report::files::write_new(&path, "first").unwrap());
    assert!(!sim::report::files::write_new(&path, "second").unwrap());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
}

#[test]
fn a_folder_of_scenarios_sweeps_every_scenario_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("sweep.json");
    let mut a = args(vec!["regressions".into()], 0, 1, &dir.path().join("seeds"));
    a.json = Some(json.clone());
    assert_eq!(sweep(a), 0);
    let report: sweeper::SweepReport = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let names: Vec<&str> = report.scenarios.iter().map(|s| s.scenario.as_str()).collect();
    assert_eq!(
        names,
        [
            "regressions/acks-behind-a-slow-link",
            "regressions/busy-after-store",
            "regressions/deploy-longer-than-its-caller-waits",
            "regressions/deploy-over-queue-limit",
            "regressions/deploys-that-undid-each-other",
            "regressions/lease-outlasting-clock-reset",
            "regressions/queue-outage"
        ]
    );
}

#[test]
fn a_merged_failure_points_at_its_lowest_seed() {
    let group = |seeds: Vec<u64>| sweeper::FailureGroup {
        signature: "stale-view".into(),
        count: seeds.len() as u64,
        repro: format!("repro {}", seeds[0]),
        seeds,
        ..Default::default()
    };
    let part = |seeds: Vec<u64>| sweeper::SweepReport {
        scenarios: vec![sweeper::ScenarioReport {
            scenario: "s".into(),
            failures: vec![group(seeds)],
            ..Default::default()
        }],
        ..Default::default()
    };
    let merged = sim::commands::merge::merge_reports(&[part(vec![7, 9]), part(vec![4, 11])], &[]).unwrap();
    let g = &merged.scenarios[0].failures[0];
    assert_eq!(g.seeds, [4, 7, 9, 11]);
    assert_eq!(g.repro, "repro 4");
    let merged = sim::commands::merge::merge_reports(&[part(vec![4, 11]), part(vec![7, 9])], &[]).unwrap();
    assert_eq!(merged.scenarios[0].failures[0].repro, "repro 4");
}

#[test]
fn a_sweep_can_save_each_failures_timeline_beside_its_seed_file() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = dir.path().join("seeds");
    let mut a = args(vec![CANARY.into()], 0, 1, &seeds);
    a.timelines = true;
    assert_eq!(sweep(a), 1);
    let files = seed_files(&seeds);
    let tomls: Vec<_> = files.iter().filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    assert!(!tomls.is_empty());
    for toml in tomls {
        let page = std::fs::read_to_string(toml.with_extension("html")).unwrap();
        assert!(page.starts_with("<!doctype html>") && page.contains("job-coalesced"));
    }
}

// ---- every scenario gets its share (issue "No blind spots in a verdict") ----

#[test]
fn a_time_boxed_sweep_runs_seeds_of_every_scenario_and_is_incomplete_below_a_window() {
    // Five scenarios, a thousand seeds each, and a budget that covers a small fraction of them: the seeds are dealt
    // in turn, so every scenario runs some. `swarm` needs 150 seeds before its required marks count, which the
    // budget cannot give it: the sweep is incomplete (exit 3) and names it (and any other scenario short of its
    // window), never "passed".
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("sweep.json");
    let junit = dir.path().join("sweep.xml");
    let names = ["baseline", "clock-skew", "network-hiccups", "multi-env-burst", "swarm"];
    let mut a = args(names.iter().map(|s| s.to_string()).collect(), 0, 1_000, &dir.path().join("seeds"));
    a.time_budget = Some("3s".into());
    a.json = Some(json.clone());
    a.junit = Some(junit.clone());
    assert_eq!(sweep(a), 3, "a sweep below a scenario's coverage window is incomplete");
    let report: sweeper::SweepReport = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report.verdict, Some(sweeper::SweepVerdict::Incomplete));
    assert_eq!(report.stopped, Some(sweeper::Stop::TimeBudget));
    let runs: Vec<u64> = report.scenarios.iter().map(|s| s.seeds_run).collect();
    assert!(runs.iter().all(|&n| n >= 1), "every scenario ran seeds: {runs:?}");
    assert!(runs.iter().sum::<u64>() < 5_000, "the budget covered a fraction of the seeds: {runs:?}");
    let (max, min) = (runs.iter().max().unwrap(), runs.iter().min().unwrap());
    assert!(max - min <= 2, "the seeds were dealt in turn, not scenario after scenario: {runs:?}");
    let swarm = report.scenarios.iter().find(|s| s.scenario == "swarm").unwrap();
    assert!(swarm.shortfall().unwrap().contains("fewer than its coverage window of 150"), "{swarm:?}");
    let summary = sim::report::sweep::summary(&report);
    assert!(summary.contains("INCOMPLETE (not a pass)") && summary.contains("NOT VOUCHED FOR ("), "{summary}");
    for (name, _) in report.shortfalls() {
        assert!(summary.contains("INCOMPLETE: ran ") && summary.contains(&name), "{name}: {summary}");
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<skipped message=\"incomplete: ran "), "swarm is skipped, not passed: {xml}");
}

#[test]
fn a_sweep_that_ran_nothing_is_never_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    // No time at all: no seed runs.
    let mut a = args(vec!["baseline".into()], 0, 5, &dir.path().join("seeds"));
    a.time_budget = Some("1ns".into());
    assert_eq!(sweep(a), 3);
    // A shard that owns none of the range's seeds.
    let json = dir.path().join("sweep.json");
    let mut a = args(vec!["baseline".into()], 0, 2, &dir.path().join("seeds"));
    a.shard = Some("3/4".into());
    a.json = Some(json.clone());
    assert_eq!(sweep(a), 3);
    let report: sweeper::SweepReport = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(report.scenarios[0].shortfall().unwrap().contains("this shard of the range holds none"), "{report:?}");
}

#[test]
fn a_canary_neither_caught_nor_cleared_leaves_the_sweep_incomplete() {
    let report = sweeper::ScenarioReport {
        scenario: "canaries/x".into(),
        seeds_run: 2,
        seeds_planned: 10,
        canary: Some(sweeper::CanaryReport { within_seeds: 10, seeds_tried: 2, ..Default::default() }),
        ..Default::default()
    };
    let whole = sweeper::SweepReport { scenarios: vec![report], ..Default::default() };
    assert!(!whole.failed(), "not missed: its budget was not spent");
    assert_eq!(whole.computed_verdict(), sweeper::SweepVerdict::Incomplete);
}

// ---- fingerprints: failures grouped by how they failed ----

#[test]
fn one_mechanism_whose_seeds_show_different_mixes_of_kinds_is_saved_once() {
    // ack-before-durable's seeds 0, 1 and 3 show three different mixes of violation kinds, all from the same
    // store crash losing acknowledged writes: one fingerprint, one saved seed file.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("sweep.json");
    let mut a = args(vec!["canaries/ack-before-durable".into()], 0, 4, &dir.path().join("seeds"));
    a.json = Some(json.clone());
    assert_eq!(sweep(a), 1);
    let report: sweeper::SweepReport = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let groups = &report.scenarios[0].failures;
    assert_eq!(groups.len(), 1, "{groups:#?}");
    assert!(groups[0].kinds.len() >= 2, "the seeds showed different mixes of kinds: {:?}", groups[0].kinds);
    assert_eq!(groups[0].signature, "correctness:store-crash-lost-unsynced@node-crashed");
    assert_eq!(seed_files(&dir.path().join("seeds")).len(), 1);
}

#[test]
fn two_mechanisms_with_the_same_kinds_are_saved_apart() {
    // Two flaws whose seeds both show exactly `stale-view`: a coalescing into a leased job, and a store that keeps
    // the view with the latest wall clock. Seen in one sweep of one scenario, they are two failures, two files.
    let leased = run_seed(&tests::scenario("canaries/dedup-against-leased"), 0).outcome;
    let wall_clock = run_seed(&tests::scenario("canaries/newest-wins-by-wall-clock"), 0).outcome;
    assert_eq!(leased.kinds(), "stale-view");
    assert_eq!(wall_clock.kinds(), "stale-view");
    let scenario = tests::scenario("canaries/dedup-against-leased");
    let dir = tempfile::tempdir().unwrap();
    let progress = sim::commands::sweep::Progress::new(2);
    let mut saver = sim::commands::sweep::Saver::new(dir.path());
    let mut report = sweeper::ScenarioReport::default();
    for outcome in [leased, wall_clock] {
        let sig = sweeper::signature(&outcome).unwrap();
        let done = sweeper::SeedDone {
            scenario: 0,
            signature: Some(sig.clone()),
            result: sim::world::RunResult {
                outcome: outcome.clone(),
                trace: Vec::new(),
                leaked_references: 0,
                coverage: None,
                marks: Default::default(),
            },
            nondeterministic: None,
            checked_determinism: false,
        };
        report.record(&done, String::new(), false, 0);
        saver.found(&scenario, 0, &sig, &outcome, &progress);
    }
    assert_eq!(report.failures.len(), 2, "{:#?}", report.failures);
    let saved = saver.finish(std::slice::from_ref(&scenario), false, &AtomicBool::new(false), &progress);
    assert_eq!(saved.len(), 2);
    assert_eq!(seed_files(dir.path()).len(), 2, "two files for two mechanisms");
}

// ---- merge checks what it merges ----

fn shard_report(k: u64, commit: &str) -> sweeper::SweepReport {
    sweeper::SweepReport {
        harness_version: "0.1.0".into(),
        git_commit: Some(commit.into()),
        toolchain: "rustc 1.95.0".into(),
        start: 0,
        count: 4,
        shard: Some(Shard { index: k, count: 2 }),
        scenarios: vec![sweeper::ScenarioReport {
            scenario: "baseline".into(),
            seeds_run: 2,
            seeds_planned: 2,
            seeds_passed: 2,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn merge_files(dir: &Path, parts: &[String], allow_mixed: bool) -> u8 {
    let files: Vec<PathBuf> = parts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let path = dir.join(format!("sweep-{i}.json"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    sim::commands::merge::merge(sim::commands::merge::MergeArgs { files, json: None, junit: None, allow_mixed })
}

#[test]
fn merge_refuses_shards_of_different_builds_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let json = |r: &sweeper::SweepReport| serde_json::to_string(r).unwrap();
    let same = [json(&shard_report(1, "abc")), json(&shard_report(2, "abc"))];
    assert_eq!(merge_files(dir.path(), &same, false), 0, "one build's shards merge");
    let mixed = [json(&shard_report(1, "abc")), json(&shard_report(2, "def"))];
    assert_eq!(merge_files(dir.path(), &mixed, false), 2, "two commits' shards are not one sweep");
    assert_eq!(merge_files(dir.path(), &mixed, true), 0, "--allow-mixed merges them anyway");
    let mut other = shard_report(2, "abc");
    other.scenarios[0].scenario = "swarm".into();
    assert_eq!(merge_files(dir.path(), &[json(&shard_report(1, "abc")), json(&other)], false), 2, "scenario sets");
}

#[test]
fn merge_refuses_reports_that_overflow_or_carry_unknown_fields() {
    let dir = tempfile::tempdir().unwrap();
    let mut huge = shard_report(2, "abc");
    huge.scenarios[0].seeds_run = u64::MAX;
    let parts = [serde_json::to_string(&shard_report(1, "abc")).unwrap(), serde_json::to_string(&huge).unwrap()];
    assert_eq!(merge_files(dir.path(), &parts, false), 2, "an overflowing count is bad input, not a panic");
    let unknown = serde_json::to_string(&shard_report(1, "abc")).unwrap().replacen('{', "{\"seeds_rnu\": 3,", 1);
    assert_eq!(merge_files(dir.path(), &[unknown], false), 2, "an unknown field is bad input");
}

#[test]
fn junit_of_an_interrupted_sweep_or_one_that_ran_nothing_shows_no_pass() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |name: &str, run: u64, planned: u64| sweeper::ScenarioReport {
        scenario: name.into(),
        seeds_run: run,
        seeds_passed: run,
        seeds_planned: planned,
        ..Default::default()
    };
    let report = sweeper::SweepReport {
        stopped: Some(sweeper::Stop::Interrupted),
        scenarios: vec![scenario("cut-short", 3, 10), scenario("never-ran", 0, 10)],
        ..Default::default()
    };
    let path = dir.path().join("sweep.xml");
    sim::report::sweep::write_junit(&path, &report).unwrap();
    let xml = std::fs::read_to_string(&path).unwrap();
    assert!(xml.contains("interrupted after 3 of its 10 seeds"), "{xml}");
    assert!(xml.contains("<skipped message=\"incomplete: ran no seed"), "{xml}");
    assert_eq!(report.computed_verdict(), sweeper::SweepVerdict::Interrupted);
}
