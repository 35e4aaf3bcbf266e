//! Where scenarios live: `scenarios/` at the top of the repository, in folders by tier (`canaries/`, ...). A
//! scenario's name is its path under that folder without `.toml`.

use crate::scenario::{self, LoadedScenario, ScenarioError};
use std::path::{Path, PathBuf};

/// The scenarios folder: `$SIM_SCENARIOS_DIR` if set, else the nearest `scenarios/` beside a `Cargo.toml` from
/// the current directory upwards, else the one this binary was built from.
pub fn scenarios_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SIM_SCENARIOS_DIR") {
        return PathBuf::from(dir);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            if dir.join("Cargo.toml").is_file() && dir.join("scenarios").is_dir() {
                return dir.join("scenarios");
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("scenarios")
}

/// Every scenario file under `dir`, sorted by name.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Folders of the catalog that the default sweep leaves out: `rare/` holds canaries whose flaw shows only when two
/// rare moments meet, hunted by `cargo sim explore` and the benchmark (name them to sweep them).
pub const NOT_IN_DEFAULT: &[&str] = &["rare"];

/// The scenarios a default sweep runs: every one under `dir` but those in [`NOT_IN_DEFAULT`] folders.
pub fn default_list(dir: &Path) -> Vec<PathBuf> {
    list(dir)
        .into_iter()
        .filter(|p| {
            let rel = p.strip_prefix(dir).unwrap_or(p);
            !NOT_IN_DEFAULT.iter().any(|f| rel.starts_with(f))
        })
        .collect()
}

/// Resolves a name or a path against the scenarios folder; says on stderr what the scenario's warnings are.
pub fn load(name_or_path: &str) -> Result<LoadedScenario, ScenarioError> {
    let loaded = scenario::resolve(name_or_path, &scenarios_dir())?;
    for warning in scenario::warnings(&loaded.scenario) {
        crate::errln!("warning: {}: {warning}", loaded.path.display());
    }
    Ok(loaded)
}

/// A folder of scenarios named by `name_or_path`: a folder under the scenarios folder (`canaries`), or a path.
pub fn folder(name_or_path: &str) -> Option<PathBuf> {
    let under = scenarios_dir().join(name_or_path);
    if under.is_dir() {
        return Some(under);
    }
    let path = PathBuf::from(name_or_path);
    path.is_dir().then_some(path)
}
