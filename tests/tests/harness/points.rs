//! Fault points: each, switched on alone in `baseline`, fires, takes its path (seen from outside the system where
//! the path leaves a trace there, else by its coverage mark), and the correct system still passes. A run pins the
//! points it switched on in its seed file, which replays bit for bit, and `--no-buggify` switches them off.

use sim::faults::Points;
use sim::scenario::LoadedScenario;
use sim::world::run_seed;
use system::points::Point;

fn baseline_with(points: Points) -> LoadedScenario {
    let mut loaded = sim::catalog::load("baseline").unwrap();
    loaded.scenario.faults.points = points;
    loaded
}

fn hits(outcome: &sim::outcome::Outcome, mark: &str) -> u64 {
    outcome.stats.marks.get(mark).copied().unwrap_or(0)
}

#[test]
fn each_fault_point_alone_fires_takes_its_path_and_the_correct_system_passes() {
    let plain = run_seed(&baseline_with(Points::default()), 1).outcome;
    assert!(plain.points.is_empty());
    for &point in Point::ALL {
        let outcome = run_seed(&baseline_with(Points::Listed(vec![point])), 1).outcome;
        assert_eq!(outcome.points, vec![point], "{point}: only it is on");
        assert!(hits(&outcome, point.mark()) > 0, "{point}: never fired in a whole run");
        assert!(outcome.passed(), "{point}: a legal path failed the correct system: {:#?}", outcome.violations);
        // A skipped scan with nothing to expire does nothing: its path shows where leases run out (below).
        if point != Point::LateLeaseScan {
            assert_ne!(outcome.trace_hash, plain.trace_hash, "{point}: fired and changed nothing");
        }
        // Where the path shows beyond the point's own mark.
        let more = |mark: &str| hits(&outcome, mark) > hits(&plain, mark);
        match point {
            Point::EarlyBusy => assert!(more(system::marks::QUEUE_BUSY), "an early busy is a busy answer"),
            Point::EarlyCompaction => assert!(more(system::marks::LOG_COMPACTED), "more compactions"),
            Point::SpuriousRetry => assert!(
                more(system::marks::DUPLICATE_REQUEST) || more(system::marks::DUPLICATE_ENQUEUE),
                "a repeated call reaches its receiver as a duplicate"
            ),
            _ => {}
        }
    }
}

#[test]
fn a_late_lease_scan_changes_when_expired_leases_go_back() {
    let with = |points: Points, seed: u64| {
        let mut loaded = sim::catalog::load("crash-restart").unwrap();
        loaded.scenario.faults.points = points;
        run_seed(&loaded, seed).outcome
    };
    let mut moved = 0;
    for seed in 0..6 {
        let plain = with(Points::default(), seed);
        let late = with(Points::Listed(vec![Point::LateLeaseScan]), seed);
        assert!(hits(&late, Point::LateLeaseScan.mark()) > 0);
        assert!(late.passed(), "{:#?}", late.violations);
        if hits(&plain, system::marks::LEASE_EXPIRED) > 0 && late.trace_hash != plain.trace_hash {
            moved += 1;
        }
    }
    assert!(moved > 0, "where leases expire, skipped scans move their redelivery");
}

#[test]
fn seeded_points_switch_some_on_from_the_seed_and_a_seed_file_pins_them() {
    let seeded = baseline_with(Points::Seeded(true));
    let outcome = run_seed(&seeded, 7).outcome;
    let again = run_seed(&seeded, 7).outcome;
    assert_eq!(outcome.points, again.points, "the same seed switches the same points on");
    assert!(!outcome.points.is_empty() && outcome.points.len() < Point::ALL.len(), "{:?}", outcome.points);
    let other: Vec<Vec<Point>> = (0..8).map(|seed| run_seed(&seeded, seed).outcome.points).collect();
    assert!(other.iter().any(|p| *p != outcome.points), "the seed decides which points are on");

    // A seed file lists the points the run had on, and replays bit for bit.
    let file = sim::seedfile::SeedFile::new(&seeded, &outcome, "test");
    assert_eq!(file.scenario.faults.points, Points::Listed(outcome.points.clone()));
    let text = file.to_toml(std::path::Path::new("seeds/test.toml"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.toml");
    std::fs::write(&path, text).unwrap();
    let loaded = sim::seedfile::load(&path).unwrap();
    let replay = run_seed(&loaded.to_loaded(&path), 7).outcome;
    assert_eq!(replay.trace_hash, outcome.trace_hash, "a seed file with fault points replays bit for bit");
    assert_eq!(replay.points, outcome.points);
}

#[test]
fn no_buggify_switches_every_point_off() {
    let mut loaded = baseline_with(Points::Seeded(true));
    sim::commands::sweep::no_buggify(&mut loaded);
    let outcome = run_seed(&loaded, 7).outcome;
    assert!(outcome.points.is_empty());
    assert!(Point::ALL.iter().all(|p| hits(&outcome, p.mark()) == 0));
    assert_eq!(outcome.trace_hash, run_seed(&baseline_with(Points::default()), 7).outcome.trace_hash);
}
