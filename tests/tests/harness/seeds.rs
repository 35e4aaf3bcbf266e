//! Every saved seed is a regression test: it is replayed, and its outcome must match the reviewed snapshot
//! (verdict, signature, violations, key statistics, trace hash). A change in any outcome fails until reviewed
//! with `cargo insta review`.

use serde::Serialize;
use sim::seedfile;
use sim::sweep::signature;
use sim::world::run_seed;

#[derive(Serialize)]
struct Snapshot {
    scenario: String,
    seed: u64,
    verdict: String,
    signature: Option<String>,
    saved_signature: String,
    violations: Vec<String>,
    ingests_acked: u64,
    jobs_enqueued: u64,
    jobs_coalesced: u64,
    jobs_redelivered: u64,
    views_written: u64,
    faults: usize,
    trace_hash: String,
}

/// Every `seeds/*.toml`, sorted. (Not `insta::glob!`: it names snapshots after the files' common prefix, so the
/// first snapshot would be renamed the day a second seed is saved. Here each is named after its own file.)
fn seed_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_saved_seed_replays_to_its_snapshot() {
    let files = seed_files();
    assert!(!files.is_empty(), "seeds/ holds the canaries' seeds at least");
    for path in &files {
        let path = path.as_path();
        let name = path.file_stem().unwrap().to_string_lossy().replace('+', "_");
        let file = seedfile::load(path).unwrap_or_else(|e| panic!("{e}"));
        let outcome = run_seed(&file.to_loaded(path), file.seed.seed).outcome;
        // A saved seed keeps failing the way it was saved; if a change to the system or harness makes it stop,
        // that is a finding to look at (a fixed bug: remove the file; a lost reproduction: re-save the seed).
        assert_eq!(
            signature(&outcome).as_deref(),
            Some(file.seed.signature.as_str()),
            "{} no longer reproduces its saved signature",
            path.display()
        );
        let snapshot = Snapshot {
            scenario: outcome.scenario.clone(),
            seed: outcome.seed,
            verdict: format!("{:?}", outcome.verdict).to_lowercase(),
            signature: signature(&outcome),
            saved_signature: file.seed.signature.clone(),
            // Kind and place only: the explanations quote trace lines, which the trace hash already covers.
            violations: outcome
                .violations
                .iter()
                .map(|v| {
                    let place = [v.env.as_deref(), v.entity.as_deref(), v.schema.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("/");
                    let versions = format!("{:?}->{:?}", v.expected_version, v.actual_version);
                    format!("{} {place} {versions}", v.kind)
                })
                .collect(),
            ingests_acked: outcome.stats.ingests_acked,
            jobs_enqueued: outcome.stats.jobs_enqueued,
            jobs_coalesced: outcome.stats.jobs_coalesced,
            jobs_redelivered: outcome.stats.jobs_redelivered,
            views_written: outcome.stats.views_written,
            faults: outcome.fault_plan.len(),
            trace_hash: outcome.trace_hash.clone(),
        };
        insta::with_settings!({ input_file => path, prepend_module_to_snapshot => false }, {
            insta::assert_yaml_snapshot!(name, snapshot);
        });
    }
}

/// Every saved seed of a flaw passes once the flaw is switched off: the failure is the flaw's, not noise in the
/// harness or the scenario.
#[test]
fn every_flaw_seed_passes_with_its_flaw_switched_off() {
    let mut checked = 0;
    for path in seed_files() {
        let file = seedfile::load(&path).unwrap();
        if file.scenario.system.flaws.is_empty() {
            continue;
        }
        let mut fixed = file.to_loaded(&path);
        fixed.scenario.system.flaws.clear();
        fixed.scenario.canary = None;
        let outcome = run_seed(&fixed, file.seed.seed).outcome;
        assert!(outcome.passed(), "{} without its flaw: {:#?}", path.display(), outcome.violations);
        checked += 1;
    }
    assert!(checked >= 7, "a seed per flaw: found {checked}");
}

/// Every canary of the catalog is caught within its budget (the default sweep checks the same every run); every
/// rare canary (`scenarios/rare/`, hunted by `cargo sim explore`) has a saved seed that still catches its flaw.
#[test]
fn every_canary_is_caught_within_its_budget() {
    let mut rare = 0;
    for path in sim::catalog::list(&tests::scenarios_dir().join("rare")) {
        let loaded = sim::scenario::resolve(&path.display().to_string(), &tests::scenarios_dir()).unwrap();
        let canary = loaded.scenario.canary.clone().expect("every scenario under rare/ has a [canary] section");
        let prefix = format!("{}--", loaded.name.replace('/', "-"));
        let seed = seed_files()
            .into_iter()
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&prefix))
            .unwrap_or_else(|| {
                panic!("{}: no saved seed (explore it: cargo sim explore --scenario {})", loaded.name, loaded.name)
            });
        let file = seedfile::load(&seed).unwrap();
        let outcome = run_seed(&file.to_loaded(&seed), file.seed.seed).outcome;
        assert!(outcome.violations.iter().any(|v| canary.expect.contains(&v.kind)), "{}", seed.display());
        rare += 1;
    }
    let dir = tests::scenarios_dir().join("canaries");
    let mut canaries = 0;
    for path in sim::catalog::list(&dir) {
        let loaded = sim::scenario::resolve(&path.display().to_string(), &tests::scenarios_dir()).unwrap();
        let canary = loaded.scenario.canary.clone().expect("every scenario under canaries/ has a [canary] section");
        let caught = (0..canary.within_seeds.get())
            .find(|&seed| run_seed(&loaded, seed).outcome.violations.iter().any(|v| canary.expect.contains(&v.kind)));
        assert!(caught.is_some(), "{} not caught within {} seeds", loaded.name, canary.within_seeds.get());
        canaries += 1;
    }
    assert_eq!(canaries + rare, system::flaws::Flaw::ALL.len(), "a canary per flaw");
}

/// A clock canary's saved seed keeps a fault its flaw needs (`[canary] needs`): the run shows the harm together
/// with its cause, not a coincidence of an unfaulted run.
#[test]
fn every_saved_seed_keeps_the_faults_its_flaw_needs() {
    let mut checked = 0;
    for path in seed_files() {
        let file = seedfile::load(&path).unwrap();
        let Some(needs) = file.scenario.canary.as_ref().map(|c| c.needs.clone()).filter(|n| !n.is_empty()) else {
            continue;
        };
        assert!(
            file.plan.iter().any(|spec| needs.contains(&spec.kind())),
            "{}: the plan lost every fault of {needs:?}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 3, "the clock canaries and ack-before-durable declare what they need: {checked}");
}
