//! Fuzzed scenarios: the harness never panics or hangs on any valid bounded scenario, and the correct system
//! passes every one. Runs a few cases under the normal test command; for a long run:
//!
//!   SIM_FUZZ_SECONDS=600 cargo test --release -p tests --test harness fuzz -- --nocapture
//!
//! or with cargo-bolero's engines (libFuzzer, AFL, honggfuzz): `cargo bolero test -p tests --test harness
//! fuzz::fuzzed_scenarios_never_break_the_harness_and_the_correct_system_passes` (the workspace's --cfg madsim
//! applies there too). A failing case prints its scenario and the command that reproduces it.

use sim::outcome::ViolationKind;
use sim::scenario::LoadedScenario;
use sim::world::run_seed;
use std::path::Path;
use std::time::Duration;
use tests::fuzz::FuzzScenario;

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn fuzzed_scenarios_never_break_the_harness_and_the_correct_system_passes() {
    let check = bolero::check!().with_arbitrary::<FuzzScenario>();
    let check = match (env_number("SIM_FUZZ_SECONDS"), env_number("SIM_FUZZ_ITERATIONS")) {
        (Some(secs), _) => check.with_test_time(Duration::from_secs(secs)),
        (None, Some(n)) => check.with_iterations(n as usize),
        (None, None) => check.with_iterations(12),
    };
    check.for_each(|case: &FuzzScenario| {
        let text = case.to_toml();
        let file = Path::new("fuzzed.toml");
        let scenario = sim::scenario::parse(&text, file)
            .unwrap_or_else(|e| panic!("a generated scenario was refused: {e}\n{text}"));
        let loaded = LoadedScenario { name: "fuzzed".into(), path: file.into(), scenario, branches: Vec::new() };
        let outcome = run_seed(&loaded, case.seed).outcome;
        if !outcome.passed() {
            // Save the case where it can be replayed with the CLI before failing.
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-failures");
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("case-{}.toml", outcome.trace_hash));
            let _ = std::fs::write(&path, &text);
            let crash = outcome
                .violations
                .iter()
                .any(|v| matches!(v.kind, ViolationKind::Panic | ViolationKind::Deadlock | ViolationKind::TimeLimit));
            panic!(
                "{} on a fuzzed scenario: {:#?}\nreproduce: cargo sim run --scenario {} --seed {} --trace",
                if crash { "the harness broke down" } else { "the correct system failed" },
                outcome.violations,
                path.display(),
                case.seed
            );
        }
    });
}

/// The fuzz target's fault kinds are the fault enum's: every kind the enum has is drawn, through the strict parser.
#[test]
fn the_fuzz_target_draws_every_fault_kind() {
    let all = sim::faults::FaultKind::ALL;
    let mut drawn = std::collections::BTreeSet::new();
    for k in 0..all.len() as u8 {
        let text = FuzzScenario::with_fault_kinds([k]).to_toml();
        let scenario = sim::scenario::parse(&text, Path::new("fuzzed.toml"))
            .unwrap_or_else(|e| panic!("kind #{k} makes a scenario the parser refuses: {e}\n{text}"));
        drawn.extend(scenario.faults.script.iter().map(|s| s.kind()));
    }
    let missing: Vec<_> = all.iter().filter(|k| !drawn.contains(k)).collect();
    assert!(missing.is_empty(), "kinds the fuzz target never draws: {missing:?}");
}
