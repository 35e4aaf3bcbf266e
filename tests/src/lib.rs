//! Helpers shared by the integration tests: load a scenario of the catalog by name, run a seed.

use sim::scenario::LoadedScenario;
use sim::world::{run_seed, RunResult};
use std::path::PathBuf;

/// The repository's `scenarios/` folder, independent of the directory the tests run in.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("scenarios")
}

pub fn scenario(name: &str) -> LoadedScenario {
    sim::scenario::resolve(name, &scenarios_dir()).unwrap_or_else(|e| panic!("catalog scenario {name}: {e}"))
}

pub fn run(name: &str, seed: u64) -> RunResult {
    run_seed(&scenario(name), seed)
}
