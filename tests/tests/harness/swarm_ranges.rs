//! `[swarm]` ranges: each seed resolves its own cluster, knobs and load within them; a seed file keeps the
//! resolved scenario and replays bit for bit; a range out of order, or one whose corner makes the scenario
//! invalid, is an error naming the field.

use sim::scenario::{parse, swarm};
use sim::world::run_seed;
use std::path::Path;

fn baseline_with(ranges: &str) -> String {
    let text = std::fs::read_to_string(tests::scenarios_dir().join("baseline.toml")).unwrap();
    format!("{text}\n[swarm]\n{ranges}\n")
}

#[test]
fn each_seed_resolves_its_own_values_within_the_ranges() {
    let text =
        baseline_with("workers = [1, 4]\nentities = [10, 300]\nlease = [\"1s\", \"6s\"]\nenv_pending_max = [5, 50]");
    let scenario = parse(&text, Path::new("ranged.toml")).unwrap();
    let resolved: Vec<_> = (0..40).map(|seed| swarm::resolve(&scenario, seed)).collect();
    for s in &resolved {
        assert!(s.swarm.is_none(), "a resolved scenario has no ranges left");
        assert!((1..=4).contains(&s.topology.workers.get()));
        assert!((10..=300).contains(&s.environments.entities.get()));
        let lease = s.system.lease.unwrap().0;
        assert!(lease >= std::time::Duration::from_secs(1) && lease <= std::time::Duration::from_secs(6));
        assert!((5..=50).contains(&s.system.env_pending_max.unwrap().get()));
        // What has no range keeps the file's value.
        assert_eq!(s.topology.ingest_nodes, scenario.topology.ingest_nodes);
    }
    let workers: std::collections::BTreeSet<u64> = resolved.iter().map(|s| s.topology.workers.get()).collect();
    assert_eq!(workers.len(), 4, "every worker count of the range comes up in 40 seeds: {workers:?}");
    assert_eq!(swarm::resolve(&scenario, 7).environments.entities, resolved[7].environments.entities, "per seed");
}

#[test]
fn a_seed_file_keeps_the_resolved_scenario_and_replays_bit_for_bit() {
    let mut loaded = sim::catalog::load("swarm").unwrap();
    assert!(loaded.scenario.swarm.is_some(), "swarm varies its cluster per seed");
    loaded.scenario.run.safety = sim::scenario::Dur(std::time::Duration::from_secs(10));
    loaded.scenario.faults.script.clear();
    let outcome = run_seed(&loaded, 3).outcome;
    let file = sim::seedfile::SeedFile::new(&loaded, &outcome, "test");
    assert!(file.scenario.swarm.is_none(), "the seed file holds values, not ranges");
    let resolved = swarm::resolve(&loaded.scenario, 3);
    assert_eq!(file.scenario.topology.workers, resolved.topology.workers);
    assert_eq!(file.scenario.system.lease, resolved.system.lease);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ranged.toml");
    std::fs::write(&path, file.to_toml(&path)).unwrap();
    let replay = run_seed(&sim::seedfile::load(&path).unwrap().to_loaded(&path), 3).outcome;
    assert_eq!(replay.trace_hash, outcome.trace_hash, "a resolved seed file replays bit for bit");
}

#[test]
fn bad_ranges_are_errors_naming_the_field() {
    let misordered = parse(&baseline_with("workers = [4, 1]"), Path::new("bad.toml")).unwrap_err().to_string();
    assert!(misordered.contains("swarm.workers") && misordered.contains("[low, high]"), "{misordered}");
    let outside = parse(&baseline_with("entities = [0, 10]"), Path::new("bad.toml")).unwrap_err().to_string();
    assert!(outside.contains("swarm.entities") && outside.contains("within 1 to 100000"), "{outside}");
    // Valid alone, invalid at a corner: a lease below its limit.
    let corner = parse(&baseline_with("lease = [\"1ms\", \"2s\"]"), Path::new("bad.toml")).unwrap_err().to_string();
    assert!(corner.contains("swarm") && corner.contains("low end") && corner.contains("lease"), "{corner}");
    let unknown = parse(&baseline_with("wokers = [1, 2]"), Path::new("bad.toml")).unwrap_err().to_string();
    assert!(unknown.contains("wokers"), "{unknown}");
}

#[test]
fn a_seed_file_with_fault_points_and_resolved_values_replays_bit_for_bit_and_shrinks_them_back() {
    // The dedup canary fails whatever these knobs and points are: its flaw needs only several environments' jobs
    // queued.
    let text = std::fs::read_to_string(tests::scenarios_dir().join("canaries/dedup-ignores-environment.toml")).unwrap()
        + "\n[faults]\npoints = true\n\n[swarm]\nhot_percent = [40, 90]\ngive_up_percent = [5, 20]\nrpc_timeout = [\"300ms\", \"900ms\"]\n\
           log_compact_bytes = [8192, 65536]\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ranged-canary.toml");
    std::fs::write(&path, &text).unwrap();
    let loaded = sim::catalog::load(path.to_str().unwrap()).unwrap();
    let own = {
        let mut s = loaded.scenario.clone();
        s.swarm = None;
        swarm::shrinkable_values(&s)
    };
    let (seed, outcome) = (1..40)
        .map(|seed| (seed, run_seed(&loaded, seed).outcome))
        .find(|(_, o)| !o.passed() && o.points.len() >= 2)
        .expect("the canary fails within 40 seeds, with fault points on");
    let signature = sim::sweep::signature(&outcome).unwrap();
    let original = sim::seedfile::SeedFile::new(&loaded, &outcome, &signature);
    // The file keeps, for each ranged field, what the scenario says without its ranges.
    let ranged = ["hot_percent", "give_up_percent", "rpc_timeout_ms", "log_compact_bytes"];
    assert_eq!(original.swarm_defaults.keys().map(String::as_str).collect::<Vec<_>>(), {
        let mut r = ranged.to_vec();
        r.sort();
        r
    });
    for name in ranged {
        assert_eq!(original.swarm_defaults[name], own[name], "{name}");
    }
    let seed_path = dir.path().join("seed.toml");
    std::fs::write(&seed_path, original.to_toml(&seed_path)).unwrap();
    let reread = sim::seedfile::load(&seed_path).unwrap();
    assert_eq!(reread.swarm_defaults, original.swarm_defaults, "the defaults survive the file");
    assert_eq!(run_seed(&reread.to_loaded(&seed_path), seed).outcome.trace_hash, outcome.trace_hash);

    let shrunk = sim::shrink::shrink(&reread, &seed_path, &std::sync::atomic::AtomicBool::new(false));
    let before = swarm::shrinkable_values(&original.scenario);
    let after = swarm::shrinkable_values(&shrunk.file.scenario);
    let at_default = |values: &std::collections::BTreeMap<String, u64>| {
        ranged.iter().filter(|name| values[**name] == own[**name]).count()
    };
    assert!(at_default(&after) > at_default(&before), "nothing moved back: {before:?} -> {after:?}, own {own:?}");
    for name in ranged {
        let (b, a, d) = (before[name], after[name], own[name]);
        assert!(b.min(d) <= a && a <= b.max(d), "{name}: {a} lies between its resolved {b} and its default {d}");
    }
    let replay = run_seed(&shrunk.file.to_loaded(&seed_path), seed).outcome;
    assert_eq!(
        sim::sweep::signature(&replay).as_deref(),
        Some(signature.as_str()),
        "the shrunk file fails the same way"
    );
}

#[test]
fn the_last_environment_can_be_sized_apart_and_the_queue_knobs_are_ranged() {
    let text = baseline_with(
        "last_environment_entities = [500, 3000]\nqueue_pending_max = [100, 1000]\nfresh_per_bulk = [1, 8]\n\
         mirrors = [0, 1]\none_write_per_entity = [0, 1]",
    );
    let scenario = parse(&text, Path::new("ranged.toml")).unwrap();
    let last = scenario.environments.names.last().unwrap().clone();
    for seed in 0..20 {
        let s = swarm::resolve(&scenario, seed);
        let size = s.entities_of(&last);
        assert!((500..=3000).contains(&size), "{size}");
        assert!(s
            .env_names()
            .iter()
            .filter(|e| **e != last)
            .all(|e| s.entities_of(e) == s.environments.entities.get()));
        assert!((100..=1000).contains(&s.system.queue_pending_max.unwrap().get()));
        assert!((1..=8).contains(&s.system.fresh_per_bulk.unwrap().get()));
        assert_eq!(s.entity_ids_of(&last).len() as u64, size);
    }
    // Baseline's one mirror is kept in some seeds and let go in others; senders wait for their previous write of
    // an entity in some.
    let mirrored: std::collections::BTreeSet<usize> =
        (0..20).map(|seed| swarm::resolve(&scenario, seed).environments.mirrors.len()).collect();
    assert_eq!(mirrored, [0, 1].into());
    let one_write: std::collections::BTreeSet<bool> =
        (0..20).map(|seed| swarm::resolve(&scenario, seed).load.one_write_per_entity).collect();
    assert_eq!(one_write, [false, true].into());
    let too_many = parse(&baseline_with("mirrors = [0, 2]"), Path::new("bad.toml")).unwrap_err().to_string();
    assert!(too_many.contains("swarm.mirrors") && too_many.contains("within 0 to 1"), "{too_many}");
    // The earlier fields resolve as they did before these ranges were added.
    let plain = parse(&baseline_with("workers = [1, 4]"), Path::new("a.toml")).unwrap();
    let more = parse(&baseline_with("workers = [1, 4]\nfresh_per_bulk = [1, 8]"), Path::new("b.toml")).unwrap();
    for seed in 0..20 {
        assert_eq!(swarm::resolve(&plain, seed).topology.workers, swarm::resolve(&more, seed).topology.workers);
    }
}

#[test]
fn a_large_environment_writes_entities_the_small_ones_do_not_have() {
    let mut loaded = tests::scenario("baseline");
    // Neither mirrors nor is mirrored in baseline.
    let (small, big) = ("globex".to_string(), "initech".to_string());
    assert!(!loaded.scenario.environments.mirrors.contains_key(&big));
    loaded.scenario.environments.entities = sim::scenario::Bounded(20);
    loaded.scenario.load.hot_entities = sim::scenario::Bounded(5);
    loaded.scenario.load.hot_percent = sim::scenario::Bounded(0);
    loaded.scenario.environments.sizes.insert(big.clone(), sim::scenario::Bounded(400));
    let result = run_seed(&loaded, 2);
    assert!(result.outcome.passed(), "{:#?}", result.outcome.violations);
    let small_ids = loaded.scenario.entity_ids();
    let written =
        |env: &str| -> std::collections::BTreeSet<String> {
            result
                .trace
                .iter()
                .filter_map(|r| match &r.event {
                    sim::trace::TraceEvent::Harness(sim::trace::HarnessEvent::ClientAcked {
                        env: e, entity, ..
                    }) if *e == *env => Some(entity.to_string()),
                    _ => None,
                })
                .collect()
        };
    assert!(written(&big).iter().any(|e| !small_ids.contains(e)), "the large environment uses its own entities");
    assert!(written(&small).iter().all(|e| small_ids.contains(e)), "a small one keeps to its own");
}

#[test]
fn sizes_must_name_an_environment_and_agree_within_a_mirror() {
    let text = std::fs::read_to_string(tests::scenarios_dir().join("swarm.toml")).unwrap();
    let unknown = text.replace("[environments]\n", "[environments]\nsizes = { nobody = 10 }\n");
    let err = parse(&unknown, Path::new("bad.toml")).unwrap_err().to_string();
    assert!(err.contains("environments.sizes.nobody") && err.contains("environments.names"), "{err}");
    let mirrored = text.replace("[environments]\n", "[environments]\nsizes = { acme-prod = 300 }\n");
    let err = parse(&mirrored, Path::new("bad.toml")).unwrap_err().to_string();
    assert!(err.contains("environments.sizes.acme-prod") && err.contains("mirrors"), "{err}");
}
