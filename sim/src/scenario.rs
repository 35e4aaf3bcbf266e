//! Scenario files: strict TOML data that says what to run.
//!
//! A scenario describes the topology, the environments and their schemas, the load, the system's knobs and the
//! phases of a run. Every field is documented in `scenarios/README.md`. Unknown fields and bad values are errors
//! that name the file, the line and the field; nothing is silently defaulted except the fields documented as
//! optional.

use crate::faults::{ClusterShape, FaultsConfig};
use crate::outcome::ViolationKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use system::flaws::Flaw;

/// The whole scenario, as read from its file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// One or two sentences: what the scenario exercises.
    pub description: String,
    pub topology: Topology,
    pub environments: Environments,
    pub schemas: Vec<SchemaSpec>,
    pub load: Load,
    #[serde(default)]
    pub system: SystemKnobs,
    #[serde(default)]
    pub faults: FaultsConfig,
    #[serde(default)]
    pub invariants: Invariants,
    #[serde(default)]
    pub readers: Readers,
    #[serde(default, skip_serializing_if = "Coverage::is_empty")]
    pub coverage: Coverage,
    /// Present in canary scenarios: a known flaw is switched on and the harness must catch it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    pub run: RunSpec,
}

/// Coverage marks a sweep of this scenario must reach (see `cargo sim list --marks`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    /// A sweep of at least `within_seeds` seeds in which one of these is never reached fails: it tested less
    /// than the scenario claims. A shorter sweep reports such a mark as "not yet reached".
    #[serde(default)]
    pub requires: Vec<String>,
    /// How many seeds a sweep needs before a required mark that was never reached fails it.
    #[serde(default = "default_coverage_within_seeds")]
    pub within_seeds: Bounded<1, 100_000>,
}

fn default_coverage_within_seeds() -> Bounded<1, 100_000> {
    Bounded(10)
}

impl Default for Coverage {
    fn default() -> Self {
        Coverage { requires: Vec::new(), within_seeds: default_coverage_within_seeds() }
    }
}

impl Coverage {
    pub fn is_empty(&self) -> bool {
        self.requires.is_empty()
    }
}

/// The readers: one per environment, reading views through the delivery API during the whole run, as the
/// customer's website does. Monotonic reads, integrity and freshness are judged from what they see.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readers {
    /// Whether readers run. On by default; switching them off leaves only the final reading to judge views by.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Mean time between a reader's ticks (each tick reads one entity, plus recently acknowledged ones).
    #[serde(default = "default_read_interval")]
    pub interval: Dur,
}

fn default_true() -> bool {
    true
}

fn default_read_interval() -> Dur {
    Dur(Duration::from_millis(100))
}

impl Default for Readers {
    fn default() -> Self {
        Readers { enabled: true, interval: default_read_interval() }
    }
}

/// What a canary scenario expects the harness to find.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    /// The violation kinds that count as catching the flaw (any one of them).
    pub expect: Vec<ViolationKind>,
    /// The default sweep must catch the flaw within this many seeds, or the harness has lost its power.
    pub within_seeds: Bounded<1, 100_000>,
    /// Fault kinds the flaw needs to do harm (a clock flaw needs skew or a pause). Shrinking a seed of this
    /// canary keeps at least one of them, so that the saved run shows the harm together with its cause.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<crate::faults::FaultKind>,
}

/// Bounds the oracle holds the system to, beyond the invariants every run checks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invariants {
    /// Fairness: every new source version of the `fairness_environments` must be in all its views within this
    /// time of being stored. Absent: not checked (faults such as partitions make any bound meaningless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_view_latency_max: Option<Dur>,
    /// The environments the fairness bound applies to (the light ones); absent: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness_environments: Option<Vec<String>>,
    /// Bounded work: messages the simulated network delivered for the system and its clients (readers and the
    /// checker left out) at most this percentage of the necessary jobs. Counted by the network, not by the
    /// system, so work the system does not report is counted too.
    #[serde(default = "default_messages_percent_max")]
    pub messages_percent_max: Bounded<100, 1_000_000>,
    /// Bounded work: operations allowed on top of each percentage, so that a tiny run, where a few honest
    /// retries are many times its handful of jobs, is not held to a ratio that only means something at scale.
    #[serde(default = "default_work_allowance")]
    pub work_allowance: Bounded<0, 1_000_000>,
    /// Bounded work: retries allowed per second of network or process fault on top of the percentage. During an
    /// outage every waiting caller retries with backoff, so honest retries grow with the outage's length, not
    /// with the work; a storm retries far faster than its backoff allows.
    #[serde(default = "default_retries_per_fault_second")]
    pub retries_per_fault_second: Bounded<0, 1_000_000>,
    /// Bounded work: client retries at most this percentage of the necessary jobs.
    #[serde(default = "default_retries_percent_max")]
    pub retries_percent_max: Bounded<1, 100_000>,
}

impl Default for Invariants {
    fn default() -> Self {
        Invariants {
            fresh_view_latency_max: None,
            fairness_environments: None,
            messages_percent_max: default_messages_percent_max(),
            work_allowance: default_work_allowance(),
            retries_per_fault_second: default_retries_per_fault_second(),
            retries_percent_max: default_retries_percent_max(),
        }
    }
}

fn default_messages_percent_max() -> Bounded<100, 1_000_000> {
    Bounded(2_000)
}

fn default_retries_per_fault_second() -> Bounded<0, 1_000_000> {
    Bounded(200)
}

fn default_work_allowance() -> Bounded<0, 1_000_000> {
    Bounded(500)
}

fn default_retries_percent_max() -> Bounded<1, 100_000> {
    Bounded(300)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Ingest nodes; clients spread their requests over them.
    pub ingest_nodes: Bounded<1, 16>,
    /// Worker nodes.
    pub workers: Bounded<1, 64>,
    /// Jobs each worker node processes at once.
    #[serde(default = "default_worker_slots")]
    pub worker_slots: Bounded<1, 16>,
}

fn default_worker_slots() -> Bounded<1, 16> {
    Bounded(2)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environments {
    /// Environment names; each gets its own load client. Names are unique, made of `a-z0-9-`.
    pub names: Vec<String>,
    /// Entities per environment. Ids are shared across environments: the first ones are the pages every site
    /// has (`home`, `about`, ...), then `page-0007` and so on.
    pub entities: Bounded<1, 100_000>,
    /// Environments that mirror another (`{ "acme-staging" = "acme-prod" }`): the mirror's client writes the
    /// same entities with the same contents as its source's, as a staging site mirrors production.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub mirrors: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaSpec {
    /// Deployed in every environment at the start of the run.
    pub name: String,
    /// The source fields the schema projects. Sources have `title`, `body`, `summary` and `site`.
    pub fields: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Mean ingests per second, per environment, during the safety phase.
    pub ingest_rate: Bounded<1, 10_000>,
    /// Requests one environment's client keeps in flight at most; arrivals beyond it wait.
    pub in_flight_max: Bounded<1, 1_000>,
    /// Size of each environment's hot set of entities (the first ids), which draws `hot_percent` of ingests.
    pub hot_entities: Bounded<1, 100_000>,
    /// Share of ingests that go to the hot set, in percent.
    pub hot_percent: Bounded<0, 100>,
    /// Share of ingests that resend the entity's current content unchanged, in percent.
    #[serde(default)]
    pub unchanged_percent: Bounded<0, 100>,
    /// Share of requests whose sender gives up after `give_up_attempts` attempts, as webhook senders do, in
    /// percent. The rest are retried until the run ends.
    #[serde(default)]
    pub give_up_percent: Bounded<0, 100>,
    /// Attempts after which a giving-up sender stops.
    #[serde(default = "default_give_up_attempts")]
    pub give_up_attempts: Bounded<1, 100>,
    /// A client writes an entity only once its previous write of it was answered or given up.
    #[serde(default)]
    pub one_write_per_entity: bool,
    /// Schema deploys during the safety phase; each re-processes a whole environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deploys: Vec<Deploy>,
}

fn default_give_up_attempts() -> Bounded<1, 100> {
    Bounded(2)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// Simulated time since the start of the safety phase.
    pub at: Dur,
    pub environment: String,
    /// A schema of the `[[schemas]]` list.
    pub schema: String,
    /// New fields for the schema; if absent, the same fields are deployed again (a re-process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

/// The system's knobs. All optional; the defaults are the system's own.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemKnobs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_pending_max: Option<Bounded<1, 1_000_000>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_pending_max: Option<Bounded<1, 10_000_000>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_per_bulk: Option<Bounded<1, 1_000>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc_timeout: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_time_min: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_time_max: Option<Dur>,
    /// A durable log is compacted once it has grown to this many bytes (and doubled since its last compaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_compact_bytes: Option<Bounded<1024, 1_073_741_824>>,
    /// Known-bad behaviours to switch on (see `cargo sim list --flaws`). Empty for the correct system.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flaws: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// How long load runs (and, later, faults are injected).
    pub safety: Dur,
    /// After the safety phase, how long the system has to finish in-flight requests and converge.
    pub convergence_budget: Dur,
}

/// A duration written as text: `"30s"`, `"250ms"`, `"1m 30s"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurText;
        impl serde::de::Visitor<'_> for DurText {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration written as text with a unit, like \"30s\" or \"250ms\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
                Err(E::custom(format!(
                    "`{v}` is a bare number; write durations as text with a unit, like \"{v}s\" or \"{v}ms\""
                )))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
                self.visit_i64(v as i64)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
                Err(E::custom(format!("`{v}` is a bare number; write durations as text with a unit, like \"1500ms\"")))
            }
        }
        let text = deserializer.deserialize_any(DurText)?;
        if text.trim_start().starts_with('-') {
            return Err(serde::de::Error::custom(format!("`{text}` is negative; durations are zero or more")));
        }
        humantime::parse_duration(&text).map(Dur).map_err(|e| {
            serde::de::Error::custom(format!("`{text}` is not a duration ({e}); write it like \"30s\" or \"250ms\""))
        })
    }
}

/// An integer that must lie in `MIN..=MAX`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Bounded<const MIN: u64, const MAX: u64>(pub u64);

impl<const MIN: u64, const MAX: u64> Bounded<MIN, MAX> {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = i64::deserialize(deserializer)?;
        if value < MIN as i64 || value > MAX as i64 {
            return Err(serde::de::Error::custom(format!("{value} is out of range; expected {MIN} to {MAX}")));
        }
        Ok(Bounded(value as u64))
    }
}

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
    Ok(LoadedScenario { name, path, scenario })
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
    Ok(scenario)
}

/// Deserializes strict TOML, turning an error into one that names the file, line, column and field path.
pub fn deserialize<T: serde::de::DeserializeOwned>(text: &str, file: &Path) -> Result<T, ScenarioError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = match e.path().to_string() {
            // An error that belongs to no field (a duplicate key, a syntax error, a missing top-level field).
            path if path == "." || path.is_empty() => "(top level)".to_string(),
            path => path,
        };
        let inner = e.into_inner();
        let (line, column) = inner.span().map_or((1, 1), |span| line_col(text, span.start));
        let message = inner.message().to_string();
        if let Some((field, message)) = refine(text, &field, &message) {
            let (line, column) = locate(text, &field).unwrap_or((line, column));
            return ScenarioError::Invalid { file: file.into(), line, column, field, message };
        }
        ScenarioError::Invalid { file: file.into(), line, column, field, message }
    })
}

/// An error serde reports against a whole table (a tagged enum, such as a fault, is read from a buffered copy of
/// its table, which has lost the positions of its fields) pointed back at the field it is about, with the line of
/// that field: the one named in the message, the `kind` for a missing field or an unknown kind, or the field
/// whose value the message quotes.
fn refine(text: &str, table: &str, message: &str) -> Option<(String, String)> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut item = doc.as_item();
    for part in table.split('.') {
        let (key, indexes) = part.find('[').map_or((part, ""), |at| (&part[..at], &part[at..]));
        if !key.is_empty() {
            item = item.get(key)?;
        }
        for index in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            item = item.get(index.parse::<usize>().ok()?)?;
        }
    }
    let table_like = item.as_table_like()?;
    let kind = table_like.get("kind").and_then(|k| k.as_str()).unwrap_or_default().to_string();
    let quoted = |prefix: &str| message.strip_prefix(prefix)?.split('`').next().map(str::to_string);
    if let Some(name) = quoted("unknown field `") {
        let expected = message.split(", expected ").nth(1).unwrap_or("nothing more");
        return Some((
            format!("{table}.{name}"),
            format!("is not used by kind `{kind}`; remove it (kind `{kind}` takes {expected})"),
        ));
    }
    if let Some(name) = quoted("missing field `") {
        return Some((format!("{table}.kind"), format!("kind `{kind}` needs the field `{name}`")));
    }
    if let Some(name) = quoted("unknown variant `") {
        let expected = message.split(", expected one of ").nth(1).unwrap_or_default();
        return Some((format!("{table}.kind"), format!("unknown kind `{name}`; the kinds are {expected}")));
    }
    // A value error quotes the value ("150 is out of range", "`-2s` is negative"): the field holding it.
    let value = message.trim_start_matches('`').split(['`', ' ']).next()?;
    let (key, _) = table_like.iter().find(|(_, v)| {
        let raw = v.as_value().map(|v| v.to_string()).unwrap_or_default();
        raw.trim().trim_matches('"') == value
    })?;
    Some((format!("{table}.{key}"), message.to_string()))
}

/// The 1-based line and column of the value at `path` (`load.deploys[0].at`), if the text has it.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut item = doc.as_item();
    for part in path.split('.') {
        let (key, indexes) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            item = item.get(key)?;
        }
        for index in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            item = item.get(index.parse::<usize>().ok()?)?;
        }
    }
    let span = item.span()?;
    Some(line_col(text, span.start))
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The longest safety phase (and convergence budget) a scenario may ask for.
pub const RUN_SAFETY_MAX: Duration = Duration::from_secs(600);
/// The most ingests one run may generate: beyond it a run's memory and time grow past what a sweep can hold.
pub const INGESTS_PER_RUN_MAX: u64 = 200_000;

/// A schema may project only fields that contents have.
fn check_fields(fields: &[String], at: &str, err: &dyn Fn(&str, String) -> ScenarioError) -> Result<(), ScenarioError> {
    let known = crate::load::CONTENT_FIELDS;
    if fields.is_empty() {
        return Err(err(at, format!("needs at least one field; contents have {}", known.join(", "))));
    }
    for (j, field) in fields.iter().enumerate() {
        if !known.contains(&field.as_str()) {
            return Err(err(
                &format!("{at}[{j}]"),
                format!("unknown field `{field}`; contents have {}", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Checks that need more than one field: names that refer to each other, and limits between fields. `prefix`
/// is where the scenario sits in the file's tree (`scenario.` inside a seed file).
pub fn validate(s: &Scenario, text: &str, file: &Path, prefix: &str) -> Result<(), ScenarioError> {
    let err = |field: &str, message: String| {
        let field = format!("{prefix}{field}");
        let (line, column) = locate(text, &field).unwrap_or((1, 1));
        ScenarioError::Invalid { file: file.into(), line, column, field, message }
    };
    let names = &s.environments.names;
    if names.is_empty() {
        return Err(err("environments.names", "needs at least one environment".into()));
    }
    for (i, name) in names.iter().enumerate() {
        let valid = !name.is_empty()
            && name.len() <= 40
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(err(
                &format!("environments.names[{i}]"),
                format!("`{name}` is not a valid name; use 1 to 40 characters of a-z, 0-9 and -"),
            ));
        }
        if names[..i].contains(name) {
            return Err(err(
                &format!("environments.names[{i}]"),
                format!("`{name}` appears twice; environment names are unique"),
            ));
        }
    }
    if s.schemas.is_empty() {
        return Err(err("schemas", "needs at least one [[schemas]] table".into()));
    }
    for (mirror, source) in &s.environments.mirrors {
        let field = format!("environments.mirrors.{mirror}");
        if !names.contains(mirror) {
            return Err(err(&field, format!("`{mirror}` is not one of environments.names")));
        }
        if !names.contains(source) {
            return Err(err(&field, format!("`{source}` is not one of environments.names")));
        }
        if mirror == source || s.environments.mirrors.contains_key(source) {
            return Err(err(&field, format!("`{mirror}` must mirror an environment that mirrors nothing itself")));
        }
    }
    for (i, schema) in s.schemas.iter().enumerate() {
        if s.schemas[..i].iter().any(|other| other.name == schema.name) {
            return Err(err(&format!("schemas[{i}].name"), "duplicate schema name".into()));
        }
        check_fields(&schema.fields, &format!("schemas[{i}].fields"), &err)?;
    }
    for (i, deploy) in s.load.deploys.iter().enumerate() {
        if let Some(fields) = &deploy.fields {
            check_fields(fields, &format!("load.deploys[{i}].fields"), &err)?;
        }
    }
    let positive = [
        ("run.convergence_budget", Some(s.run.convergence_budget)),
        ("system.rpc_timeout", s.system.rpc_timeout),
        ("system.lease", s.system.lease),
        ("readers.interval", Some(s.readers.interval)),
    ];
    for (field, value) in positive {
        if value.is_some_and(|d| d.0.is_zero()) {
            return Err(err(field, "must be longer than zero".into()));
        }
    }
    if s.run.safety.0 > RUN_SAFETY_MAX {
        return Err(err(
            "run.safety",
            format!(
                "{} is longer than the harness runs ({}); split it into shorter scenarios",
                s.run.safety,
                Dur(RUN_SAFETY_MAX)
            ),
        ));
    }
    if s.run.convergence_budget.0 > RUN_SAFETY_MAX {
        return Err(err("run.convergence_budget", format!("is longer than the limit of {}", Dur(RUN_SAFETY_MAX))));
    }
    let ingests = s.load.ingest_rate.get() * names.len() as u64 * s.run.safety.0.as_secs().max(1);
    if ingests > INGESTS_PER_RUN_MAX {
        return Err(err(
            "load.ingest_rate",
            format!(
                "{} per second in {} environments for {} is about {ingests} ingests, more than one run holds                  ({INGESTS_PER_RUN_MAX}); lower the rate, the environments or run.safety",
                s.load.ingest_rate.get(),
                names.len(),
                s.run.safety
            ),
        ));
    }
    if s.load.hot_entities.get() > s.environments.entities.get() {
        return Err(err(
            "load.hot_entities",
            format!(
                "{} is more than environments.entities ({}); the hot set is part of the entities",
                s.load.hot_entities.get(),
                s.environments.entities.get()
            ),
        ));
    }
    for (i, deploy) in s.load.deploys.iter().enumerate() {
        if !names.contains(&deploy.environment) {
            return Err(err(
                &format!("load.deploys[{i}].environment"),
                format!("`{}` is not one of environments.names", deploy.environment),
            ));
        }
        if !s.schemas.iter().any(|schema| schema.name == deploy.schema) {
            return Err(err(
                &format!("load.deploys[{i}].schema"),
                format!("`{}` is not a schema of the [[schemas]] list", deploy.schema),
            ));
        }
        if deploy.at > s.run.safety {
            return Err(err(
                &format!("load.deploys[{i}].at"),
                "is after the end of the safety phase (run.safety)".into(),
            ));
        }
    }
    for (i, flaw) in s.system.flaws.iter().enumerate() {
        if let Err(message) = flaw.parse::<Flaw>() {
            return Err(err(&format!("system.flaws[{i}]"), message));
        }
    }
    if let (Some(min), Some(max)) = (s.system.render_time_min, s.system.render_time_max) {
        if min > max {
            return Err(err("system.render_time_min", "is greater than system.render_time_max".into()));
        }
    }
    if s.run.safety.0.is_zero() {
        return Err(err("run.safety", "must be longer than zero".into()));
    }
    let cluster = s.cluster_shape();
    for (i, spec) in s.faults.script.iter().enumerate() {
        if let Err((field, message)) = spec.check(&cluster) {
            return Err(err(&format!("faults.script[{i}].{field}"), message));
        }
    }
    for (i, mark) in s.coverage.requires.iter().enumerate() {
        if !crate::marks::is_known(mark) {
            let known: Vec<&str> = crate::marks::all().map(|(n, _)| n).collect();
            return Err(err(
                &format!("coverage.requires[{i}]"),
                format!("unknown coverage mark `{mark}`; the marks are {}", known.join(", ")),
            ));
        }
    }
    if let Some(canary) = &s.canary {
        if canary.expect.is_empty() {
            return Err(err("canary.expect", "needs at least one violation kind".into()));
        }
        if s.flaws().is_empty() {
            return Err(err("canary", "a canary needs a flaw switched on (system.flaws)".into()));
        }
    }
    for (i, env) in s.invariants.fairness_environments.iter().flatten().enumerate() {
        if !names.contains(env) {
            return Err(err(
                &format!("invariants.fairness_environments[{i}]"),
                format!("`{env}` is not one of environments.names"),
            ));
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

    /// The entity ids of every environment: the pages every site has, then numbered pages.
    pub fn entity_ids(&self) -> Vec<String> {
        const COMMON: [&str; 8] = ["home", "about", "contact", "pricing", "blog", "careers", "privacy", "terms"];
        (0..self.environments.entities.get() as usize)
            .map(|i| match COMMON.get(i) {
                Some(name) => (*name).to_string(),
                None => format!("page-{i:04}"),
            })
            .collect()
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}
