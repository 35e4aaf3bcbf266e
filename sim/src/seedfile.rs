//! Seed files: a failing seed saved as a self-contained, replayable, hand-editable TOML file.
//!
//! A seed file holds the seed, the fully resolved scenario inline, the **executed fault plan** (`[[plan]]`), the
//! failure's fingerprint, a summary of the outcome, the harness version and, where known, the git commit, and the
//! branches the run took (`[[branch]]`, for a failure found by exploring). Replay runs the recorded plan, never
//! the generator, and takes the recorded branches, so a seed file keeps reproducing after the scenario file or
//! the fault generator changes. Delete a `[[plan]]` or `[[branch]]` entry and replay to see whether it mattered.

use crate::faults::FaultSpec;
use crate::outcome::Outcome;
use crate::scenario::{self, LoadedScenario, Scenario, ScenarioError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The seed file format; bump when a change would make old files replay differently.
pub const FORMAT: u64 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    pub seed: SeedMeta,
    pub outcome: OutcomeSummary,
    pub scenario: Scenario,
    /// The fault plan the failing run executed, in order. Replay executes exactly this.
    #[serde(default)]
    pub plan: Vec<FaultSpec>,
    /// The branches the run took (a failure found by `explore`), in time order: replay takes them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty", rename = "branch")]
    pub branches: Vec<crate::branch::Branch>,
    /// For a scenario with a `[swarm]` table: the value each shrinkable field would have without it (the
    /// scenario's own, or the system's default), which shrinking moves the resolved values back toward. Replay
    /// ignores it.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub swarm_defaults: std::collections::BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedMeta {
    pub format: u64,
    pub seed: u64,
    /// The scenario the seed came from (its name in the catalog, or its path).
    pub scenario: String,
    /// The failure's fingerprint: how it failed (its mechanism), not which seed (see `explain::fingerprint`).
    pub signature: String,
    /// The violation kinds the saved run showed (`missing-view+stale-view`), for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<String>,
    pub harness_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// What a replay depends on besides the harness: the simulator's and the generator's versions, and a hash
    /// of the registry packages in the `Cargo.lock` the harness was built with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub madsim_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rand_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cargo_lock_hash: Option<String>,
    /// A hash of the file as it was written (comments and this line left out), to tell a hand edit apart from
    /// a change of the system or the harness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
}

/// The build a seed file is saved or replayed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Build {
    pub harness_version: String,
    pub git_commit: Option<String>,
    pub madsim_version: Option<String>,
    pub rand_version: Option<String>,
    pub cargo_lock_hash: String,
}

/// The `Cargo.lock` this binary was built with.
const CARGO_LOCK: &str = include_str!("../../Cargo.lock");

/// The version of a package in `Cargo.lock`.
fn locked_version(name: &str) -> Option<String> {
    let needle = format!("name = \"{name}\"\nversion = \"");
    let at = CARGO_LOCK.find(&needle)? + needle.len();
    CARGO_LOCK[at..].split('"').next().map(str::to_string)
}

/// The entries of `Cargo.lock` for packages from a registry: what a replay depends on beyond this repository
/// (the workspace's own crates change with every commit, and the commit is recorded apart).
fn external_packages(lock: &str) -> String {
    lock.split("[[package]]").filter(|entry| entry.contains("\nsource = ")).collect::<Vec<_>>().join("[[package]]")
}

fn fnv(text: &str) -> String {
    use std::hash::Hasher;
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(text.as_bytes());
    format!("{:016x}", hasher.finish())
}

impl Build {
    pub fn current() -> Build {
        Build {
            harness_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git_commit(),
            madsim_version: locked_version("madsim"),
            rand_version: locked_version("rand"),
            cargo_lock_hash: fnv(&external_packages(CARGO_LOCK)),
        }
    }

    /// How the build that saved `meta` differs from this one, in words; empty if it does not (as far as the
    /// file can tell).
    pub fn differences(&self, meta: &SeedMeta) -> Vec<String> {
        let mut out = Vec::new();
        if meta.harness_version != self.harness_version {
            out.push(format!("harness {} (this is {})", meta.harness_version, self.harness_version));
        }
        if let (Some(saved), Some(now)) = (&meta.git_commit, &self.git_commit) {
            if saved != now {
                out.push(format!("commit {saved} (this is {now})"));
            }
        }
        if meta.madsim_version.is_some() && meta.madsim_version != self.madsim_version {
            out.push(format!("madsim {:?} (this is {:?})", meta.madsim_version, self.madsim_version));
        }
        if meta.cargo_lock_hash.as_ref().is_some_and(|h| *h != self.cargo_lock_hash) {
            out.push("other dependency versions (Cargo.lock differs)".to_string());
        }
        out
    }
}

/// The hash a seed file's text is checked with: every line but comments and the hash's own line.
fn content_hash_of(text: &str) -> String {
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("content_hash = "))
        .map(|line| format!("{line}\n"))
        .collect();
    fnv(body.trim())
}

/// Whether a seed file's text is as it was written: `Some(false)` if it was edited since, `None` if it carries no
/// hash (saved by an older harness).
pub fn unedited(text: &str, file: &SeedFile) -> Option<bool> {
    file.seed.content_hash.as_ref().map(|saved| *saved == content_hash_of(text))
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeSummary {
    pub verdict: String,
    pub violations: u64,
    pub trace_hash: String,
    /// The first violations, as printed.
    pub first: Vec<String>,
}

impl SeedFile {
    /// A seed file for a failing outcome of `scenario`.
    pub fn new(scenario: &LoadedScenario, outcome: &Outcome, signature: &str) -> SeedFile {
        // The scenario as this seed resolved it (a `[swarm]` table's ranges fixed to the seed's values).
        let mut inline = crate::scenario::swarm::resolve(&scenario.scenario, outcome.seed);
        // The plan below is the executed one; the generator's settings no longer matter for this seed.
        inline.faults.generate.clear();
        inline.faults.script.clear();
        // The points the run switched on, pinned: a replay (and a shrink) starts from exactly these.
        inline.faults.points = if outcome.points.is_empty() {
            crate::faults::Points::Seeded(false)
        } else {
            crate::faults::Points::Listed(outcome.points.clone())
        };
        let build = Build::current();
        SeedFile {
            seed: SeedMeta {
                format: FORMAT,
                seed: outcome.seed,
                scenario: scenario.name.clone(),
                signature: signature.to_string(),
                kinds: Some(outcome.kinds()),
                harness_version: build.harness_version,
                git_commit: build.git_commit,
                madsim_version: build.madsim_version,
                rand_version: build.rand_version,
                cargo_lock_hash: Some(build.cargo_lock_hash),
                content_hash: None,
            },
            outcome: summary(outcome),
            scenario: inline,
            plan: outcome.fault_plan.clone(),
            branches: outcome.branches.clone(),
            swarm_defaults: crate::scenario::swarm::defaults(&scenario.scenario),
        }
    }

    /// The scenario to replay: the inline one, executing the recorded plan.
    pub fn to_loaded(&self, path: &Path) -> LoadedScenario {
        let mut scenario = self.scenario.clone();
        scenario.faults.generate.clear();
        scenario.faults.script = self.plan.clone();
        LoadedScenario {
            name: self.seed.scenario.clone(),
            path: path.to_path_buf(),
            scenario,
            branches: self.branches.clone(),
        }
    }

    /// The file's text; `path` is where it will live, for the replay command in its header.
    pub fn to_toml(&self, path: &Path) -> String {
        let mut hashed = self.clone();
        hashed.seed.content_hash = None;
        let plain = toml::to_string_pretty(&hashed).expect("seed files serialize to TOML");
        hashed.seed.content_hash = Some(content_hash_of(&plain));
        let body = toml::to_string_pretty(&hashed).expect("seed files serialize to TOML");
        format!(
            "# A failing seed saved by the simulation harness. Replay it with:\n#   cargo sim repro {}\n# It is \
             self-contained: the scenario is inline and [[plan]] is the executed fault plan. Edit freely (remove\n# a \
             [[plan]] entry, lower the load) and replay; `cargo sim shrink` does that automatically.\n\n{body}",
            path.display()
        )
    }
}

pub fn summary(outcome: &Outcome) -> OutcomeSummary {
    OutcomeSummary {
        verdict: if outcome.passed() { "pass".into() } else { "fail".into() },
        violations: outcome.violations.len() as u64,
        trace_hash: outcome.trace_hash.clone(),
        first: outcome
            .violations
            .iter()
            .take(3)
            .map(|v| {
                let line = v.to_string();
                // Keep the summary readable: the full detail is one replay away.
                match line.char_indices().nth(200) {
                    Some((cut, _)) => format!("{}...", &line[..cut]),
                    None => line,
                }
            })
            .collect(),
    }
}

/// The commit this harness was built from, if it was built in a git checkout (recorded by `build.rs`). Only
/// for people; replay never uses it.
fn git_commit() -> Option<String> {
    Some(env!("SIM_GIT_COMMIT").to_string()).filter(|c| !c.is_empty())
}

/// `seeds/<scenario>--<signature>.toml`, with everything but `a-z0-9-+` replaced, so one file per signature.
pub fn file_name(scenario: &str, signature: &str) -> String {
    let clean = |s: &str| -> String {
        let cleaned: String = s
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '+' { c.to_ascii_lowercase() } else { '-' })
            .collect();
        cleaned.trim_matches('-').to_string()
    };
    // A scenario given by path is named by its file, not by the folders it sits in.
    let scenario = match scenario.strip_suffix(".toml") {
        Some(path) => Path::new(path).file_name().map_or(path.to_string(), |n| n.to_string_lossy().to_string()),
        None => scenario.to_string(),
    };
    format!("{}--{}.toml", clean(&scenario), clean(signature))
}

pub fn path_for(dir: &Path, scenario: &str, signature: &str) -> PathBuf {
    dir.join(file_name(scenario, signature))
}

/// Reads and checks a seed file. Errors name the file, line and field.
pub fn load(path: &Path) -> Result<SeedFile, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { file: path.into(), source })?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<SeedFile, ScenarioError> {
    let file: SeedFile = scenario::deserialize(text, path)?;
    let invalid = |field: String, message: String| {
        let (line, column) = scenario::locate(text, &field).unwrap_or((1, 1));
        ScenarioError::Invalid { file: path.into(), line, column, field, message }
    };
    if file.seed.format != FORMAT {
        return Err(invalid(
            "seed.format".into(),
            format!(
                "format {} is not the one this harness reads ({FORMAT}); re-save the seed with this harness",
                file.seed.format
            ),
        ));
    }
    scenario::validate(&file.scenario, text, path, "scenario.")?;
    let cluster = file.scenario.cluster_shape();
    for (i, spec) in file.plan.iter().enumerate() {
        if let Err((field, message)) = spec.check(&cluster) {
            return Err(invalid(format!("plan[{i}].{field}"), message));
        }
    }
    let run_end = file.scenario.run.safety.0 + file.scenario.run.convergence_budget.0;
    for (i, branch) in file.branches.iter().enumerate() {
        if branch.child > crate::branch::CHILD_MAX {
            return Err(invalid(
                format!("branch[{i}].child"),
                format!("{} is out of range; expected 0 to {}", branch.child, crate::branch::CHILD_MAX),
            ));
        }
        if branch.at.0 > run_end {
            return Err(invalid(
                format!("branch[{i}].at"),
                format!(
                    "{} is after the run ends ({} of safety and convergence); a branch is taken while the run lasts",
                    branch.at,
                    crate::scenario::Dur(run_end)
                ),
            ));
        }
    }
    Ok(file)
}
