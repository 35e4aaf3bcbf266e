//! Scenario files: strict TOML data that says what to run.
//!
//! A scenario describes the topology, the environments and their schemas, the load, the system's knobs and the
//! phases of a run. Every field is documented in `scenarios/README.md`. Unknown fields and bad values are errors
//! that name the file, the line and the field; nothing is silently defaulted except the fields documented as
//! optional. One file per job:
//! - [`types`]: the format itself, the structs a file deserializes into, with their defaults;
//! - [`values`]: the value types a field may hold (durations written as text, bounded integers);
//! - [`positions`]: strict deserialization, and an error pointed back at its file, line, column and field;
//! - [`validate`]: the checks that need more than one field (names that refer to each other, limits).
//!
//! This module holds what a caller needs: loading a file by name or path, and its errors.

mod positions;
mod types;
mod validate;
mod values;

pub mod swarm;
pub use positions::{deserialize, line_col, locate};
pub use types::*;
pub use validate::{validate, warnings, INGESTS_PER_RUN_MAX, RUN_SAFETY_MAX};
pub use values::{Bounded, Dur, FreshBound};

use crate::faults::ClusterShape;
use std::path::{Path, PathBuf};
use system::flaws::Flaw;

/// A scenario file could not be used. Names the file, the line and column, the field, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {source}")]
    Io { file: PathBuf, source: std::io::Error },
    #[error("{file}:{line}:{column}: field `{field}`: {message}")]
    Invalid { file: PathBuf, line: usize, column: usize, field: String, message: String },
    #[error("scenario `{name}` not found (looked for {looked_at}); run `cargo sim list` to see the scenarios")]
    NotFound { name: String, looked_at: String },
    #[error(
        "`{name}` is a folder of scenarios, not one scenario; name a file in it (`cargo sim list` shows them), or \
         sweep the whole folder with `cargo sim sweep --scenario {name}`"
    )]
    Folder { name: String },
    #[error(
        "{file}: the file is empty; a scenario needs at least description, [topology], [environments], \
             [[schemas]], [load] and [run] (see scenarios/README.md)"
    )]
    Empty { file: PathBuf },
}

/// A scenario with where it came from.
#[derive(Clone, Debug)]
pub struct LoadedScenario {
    /// The name used in reports: the path under `scenarios/` without `.toml`, or the file's path.
    pub name: String,
    pub path: PathBuf,
    pub scenario: Scenario,
    /// The branches its runs take (a seed file's, or the explorer's); empty for a scenario file.
    pub branches: Vec<crate::branch::Branch>,
}

/// Finds a scenario by name (`baseline`, `canaries/dedup-ignores-environment`) under `dir`, or by path.
pub fn resolve(name_or_path: &str, dir: &Path) -> Result<LoadedScenario, ScenarioError> {
    let as_path = PathBuf::from(name_or_path);
    let by_name =
        if name_or_path.ends_with(".toml") { dir.join(name_or_path) } else { dir.join(format!("{name_or_path}.toml")) };
    let path = if as_path.extension().is_some_and(|e| e == "toml") && as_path.is_file() {
        as_path
    } else if by_name.is_file() {
        by_name
    } else if as_path.is_dir() || dir.join(name_or_path).is_dir() {
        return Err(ScenarioError::Folder { name: name_or_path.to_string() });
    } else {
        return Err(ScenarioError::NotFound {
            name: name_or_path.to_string(),
            looked_at: format!("{} and {}", by_name.display(), as_path.display()),
        });
    };
    let name = path
        .strip_prefix(dir)
        .ok()
        .map(|rel| rel.with_extension("").to_string_lossy().replace('\\', "/"))
        .unwrap_or_else(|| path.display().to_string());
    let scenario = load_file(&path)?;
    Ok(LoadedScenario { name, path, scenario, branches: Vec::new() })
}

pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { file: path.into(), source })?;
    parse(&text, path)
}

/// Parses and validates scenario text; `file` is only used in error messages.
pub fn parse(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    if text.lines().all(|line| line.trim().is_empty() || line.trim_start().starts_with('#')) {
        return Err(ScenarioError::Empty { file: file.into() });
    }
    let scenario: Scenario = deserialize(text, file)?;
    validate(&scenario, text, file, "")?;
    validate_swarm(&scenario, text, file, "")?;
    Ok(scenario)
}

/// A `[swarm]` table: every range in order, and the scenario valid at both corners of its ranges (so at every
/// value a seed can resolve). An error at a corner names the corner.
pub fn validate_swarm(scenario: &Scenario, text: &str, file: &Path, prefix: &str) -> Result<(), ScenarioError> {
    let Some(ranges) = &scenario.swarm else { return Ok(()) };
    let misordered = swarm::misordered(ranges)
        .map(|field| (field, "a range is [low, high]: the first value must not be above the second".to_string()));
    let outside = swarm::out_of_bounds(ranges, scenario.environments.names.len(), scenario.environments.mirrors.len());
    if let Some((field, message)) = misordered.or(outside) {
        let field = format!("{prefix}swarm.{field}");
        let (line, column) = locate(text, &field).unwrap_or((1, 1));
        return Err(ScenarioError::Invalid { file: file.into(), line, column, field, message });
    }
    for (corner, resolved) in ["low", "high"].iter().zip(swarm::corners(scenario)) {
        if let Err(ScenarioError::Invalid { field, message, .. }) = validate(&resolved, text, file, prefix) {
            let (line, column) = locate(text, &format!("{prefix}swarm")).unwrap_or((1, 1));
            return Err(ScenarioError::Invalid {
                file: file.into(),
                line,
                column,
                field: format!("{prefix}swarm"),
                message: format!("with every range at its {corner} end, `{field}` is invalid: {message}"),
            });
        }
    }
    Ok(())
}

impl Scenario {
    /// The nodes, environments and schemas a fault plan may refer to.
    pub fn cluster_shape(&self) -> ClusterShape {
        let workers: Vec<String> = (1..=self.topology.workers.get()).map(|i| format!("worker-{i}")).collect();
        let mut nodes = vec!["store".to_string(), "queue".to_string()];
        nodes.extend((1..=self.topology.ingest_nodes.get()).map(|i| format!("ingest-{i}")));
        nodes.extend(workers.iter().cloned());
        ClusterShape {
            nodes,
            disks: vec!["store".to_string(), "queue".to_string()],
            workers,
            environments: self.environments.names.clone(),
            schemas: self.schemas.iter().map(|s| s.name.clone()).collect(),
            safety: self.run.safety.0,
        }
    }

    pub fn env_names(&self) -> &[String] {
        &self.environments.names
    }

    pub fn flaws(&self) -> Vec<Flaw> {
        self.system.flaws.iter().filter_map(|f| f.parse().ok()).collect()
    }

    /// How many entities `env` has: its own size if `environments.sizes` gives one, else `entities`.
    pub fn entities_of(&self, env: &str) -> u64 {
        self.environments.sizes.get(env).map_or(self.environments.entities.get(), |n| n.get())
    }

    /// The fewest entities any environment has (the hot set must fit in each).
    pub fn entities_min(&self) -> u64 {
        self.env_names().iter().map(|e| self.entities_of(e)).min().unwrap_or(self.environments.entities.get())
    }

    /// The entity ids of `env`: the pages every site has, then numbered pages (ids are shared across
    /// environments, so a smaller environment's are the first of a larger one's).
    pub fn entity_ids_of(&self, env: &str) -> Vec<String> {
        Self::ids(self.entities_of(env))
    }

    /// The entity ids of an environment of `entities` entities (without `environments.sizes`, every one's).
    pub fn entity_ids(&self) -> Vec<String> {
        Self::ids(self.environments.entities.get())
    }

    fn ids(count: u64) -> Vec<String> {
        const COMMON: [&str; 8] = ["home", "about", "contact", "pricing", "blog", "careers", "privacy", "terms"];
        (0..count as usize)
            .map(|i| match COMMON.get(i) {
                Some(name) => (*name).to_string(),
                None => format!("page-{i:04}"),
            })
            .collect()
    }
}
