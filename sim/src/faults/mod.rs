//! Faults: what the harness does to the system during the safety phase, and how it heals it before liveness.
//!
//! Every run executes a **fault plan**: an ordered list of timed events. The plan is scripted in the scenario
//! (`[[faults.script]]`), generated from the seed by the scenario's `[faults]` settings (on its own random
//! stream, so faults never shift the load), or both. The executed plan is part of the outcome. Modules:
//! - [`net`]: loss, latency (network, node, link), partitions (isolate, split, one-way cut).
//! - [`clock`]: per-node clocks with offset, drift, jumps and slewing corrections.
//! - [`disk`]: the durable medium: sync latency, and crashes that lose, tear or corrupt unsynced writes, failed
//!   syncs, a full disk, crashes during compaction.
//! - [`generate`]: the generator, with swarm mode (a random subset of kinds and intensities per seed).
//! - [`inject`]: executes a plan against a running cluster, and heals everything before liveness.

pub mod clock;
pub mod disk;
pub mod generate;
pub mod inject;
pub mod net;

use crate::scenario::{Bounded, Dur};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// The kinds of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Messages lost at `loss_percent`, on the whole network (`target = "network"`) or to and from one node.
    Loss,
    /// Extra latency on the whole network, on every link of one node (a slow node), or on one link.
    Latency,
    /// A node cut off from every other node, both ways.
    Isolate,
    /// The nodes split in two: `group` against the rest.
    Split,
    /// A one-way cut: messages from `from` to `to` are lost, the other way works.
    Cut,
    /// A node's clock set off by `offset` for the duration.
    ClockOffset,
    /// A node's clock running fast or slow by `drift_ppm` for the duration.
    ClockDrift,
    /// A node's clock jumping by `offset`; after the duration it slews back.
    ClockJump,
    /// A node crashes (losing unsynced writes) and restarts after the duration.
    Crash,
    /// A node stops for the duration (a long GC pause), then resumes.
    Pause,
    /// The operator pauses every worker, lets the backlog build, and resumes them all at once.
    PauseWorkers,
    /// Environments ingest at `rate_percent` of their normal rate, all at the same instant.
    Burst,
    /// A schema deploy that re-processes a whole environment.
    Deploy,
    /// A node with a disk dies in the middle of a write (waiting up to half the duration for one): its log ends
    /// in a torn record. It restarts after the duration.
    TornWrite,
    /// A node with a disk dies in the middle of a write that it corrupts: a bit flipped in what reached the
    /// medium. It restarts after the duration.
    CorruptWrite,
    /// A node with a disk dies while compacting its log (waiting up to half the duration for a compaction to
    /// start). It restarts after the duration.
    CompactionCrash,
    /// Every sync of a node's disk fails for the duration, dropping the cached writes it covered.
    SyncFail,
    /// A node's disk is full for the duration: appends and compactions are refused.
    DiskFull,
    /// Every sync of a node's disk takes `latency` longer for the duration.
    DiskSlow,
}

impl FaultKind {
    pub const ALL: [FaultKind; 19] = [
        FaultKind::Loss,
        FaultKind::Latency,
        FaultKind::Isolate,
        FaultKind::Split,
        FaultKind::Cut,
        FaultKind::ClockOffset,
        FaultKind::ClockDrift,
        FaultKind::ClockJump,
        FaultKind::Crash,
        FaultKind::Pause,
        FaultKind::PauseWorkers,
        FaultKind::Burst,
        FaultKind::Deploy,
        FaultKind::TornWrite,
        FaultKind::CorruptWrite,
        FaultKind::CompactionCrash,
        FaultKind::SyncFail,
        FaultKind::DiskFull,
        FaultKind::DiskSlow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Loss => "loss",
            FaultKind::Latency => "latency",
            FaultKind::Isolate => "isolate",
            FaultKind::Split => "split",
            FaultKind::Cut => "cut",
            FaultKind::ClockOffset => "clock-offset",
            FaultKind::ClockDrift => "clock-drift",
            FaultKind::ClockJump => "clock-jump",
            FaultKind::Crash => "crash",
            FaultKind::Pause => "pause",
            FaultKind::PauseWorkers => "pause-workers",
            FaultKind::Burst => "burst",
            FaultKind::Deploy => "deploy",
            FaultKind::TornWrite => "torn-write",
            FaultKind::CorruptWrite => "corrupt-write",
            FaultKind::CompactionCrash => "compaction-crash",
            FaultKind::SyncFail => "sync-fail",
            FaultKind::DiskFull => "disk-full",
            FaultKind::DiskSlow => "disk-slow",
        }
    }

    /// The fields each kind needs, and the optional ones it accepts. `at` and `kind` are always required.
    fn fields(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            FaultKind::Loss => (&["target", "loss_percent", "duration"], &[]),
            FaultKind::Latency => (&["latency", "duration"], &["target", "from", "to"]),
            FaultKind::Isolate => (&["target", "duration"], &[]),
            FaultKind::Split => (&["group", "duration"], &[]),
            FaultKind::Cut => (&["from", "to", "duration"], &[]),
            FaultKind::ClockOffset | FaultKind::ClockJump => (&["target", "offset", "duration"], &[]),
            FaultKind::ClockDrift => (&["target", "drift_ppm", "duration"], &[]),
            FaultKind::Crash | FaultKind::Pause => (&["target", "duration"], &[]),
            FaultKind::PauseWorkers => (&["duration"], &[]),
            FaultKind::Burst => (&["environments", "rate_percent", "duration"], &[]),
            FaultKind::Deploy => (&["environment", "schema"], &["fields"]),
            FaultKind::TornWrite
            | FaultKind::CorruptWrite
            | FaultKind::CompactionCrash
            | FaultKind::SyncFail
            | FaultKind::DiskFull => (&["target", "duration"], &[]),
            FaultKind::DiskSlow => (&["target", "latency", "duration"], &[]),
        }
    }

    /// Whether the kind acts on a node's disk (and so needs a node that has one).
    pub fn is_disk(self) -> bool {
        matches!(
            self,
            FaultKind::TornWrite
                | FaultKind::CorruptWrite
                | FaultKind::CompactionCrash
                | FaultKind::SyncFail
                | FaultKind::DiskFull
                | FaultKind::DiskSlow
        )
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A signed duration written as text: `"+30s"`, `"-500ms"`, `"2s"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedDur {
    pub negative: bool,
    pub magnitude: Duration,
}

impl SignedDur {
    pub fn micros(self) -> i64 {
        let us = self.magnitude.as_micros() as i64;
        if self.negative {
            -us
        } else {
            us
        }
    }
}

impl fmt::Display for SignedDur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.negative { "-" } else { "+" };
        write!(f, "{sign}{}", humantime::format_duration(self.magnitude))
    }
}

impl Serialize for SignedDur {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for SignedDur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let trimmed = text.trim();
        let (negative, rest) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
        };
        humantime::parse_duration(rest).map(|magnitude| SignedDur { negative, magnitude }).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{text}` is not a signed duration ({e}); write it like \"+30s\" or \"-2s\""
            ))
        })
    }
}

/// A signed integer that must lie in `MIN..=MAX`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct BoundedI<const MIN: i64, const MAX: i64>(pub i64);

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for BoundedI<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = i64::deserialize(deserializer)?;
        if !(MIN..=MAX).contains(&value) {
            return Err(serde::de::Error::custom(format!("{value} is out of range; expected {MIN} to {MAX}")));
        }
        Ok(BoundedI(value))
    }
}

/// One event of a fault plan, as written in a scenario's `[[faults.script]]` or a seed file, and as executed.
/// Which fields a kind uses is listed in `scenarios/README.md`; a field a kind does not use is an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// When the fault starts, from the start of the safety phase.
    pub at: Dur,
    pub kind: FaultKind,
    /// How long it lasts; it heals at `at + duration`, which must not be after the safety phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Dur>,
    /// A node (`store`, `queue`, `ingest-1`, `worker-2`, ...), or `network` for loss and latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// For `split`: the nodes on one side; every other node is on the other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_percent: Option<Bounded<0, 100>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<SignedDur>,
    /// Parts per million: 100000 is 10% fast, -100000 10% slow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_ppm: Option<BoundedI<-900_000, 900_000>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
    /// For `burst`: the ingest rate during the burst, in percent of the normal rate (500 is five times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_percent: Option<Bounded<1, 100_000>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

impl FaultSpec {
    /// A spec of `kind` at `at` with every optional field empty.
    pub fn new(kind: FaultKind, at: Duration) -> Self {
        FaultSpec {
            at: Dur(at),
            kind,
            duration: None,
            target: None,
            from: None,
            to: None,
            group: None,
            loss_percent: None,
            latency: None,
            offset: None,
            drift_ppm: None,
            environments: None,
            rate_percent: None,
            environment: None,
            schema: None,
            fields: None,
        }
    }

    /// The names of the optional fields that are set.
    fn set_fields(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        let mut mark = |name, present: bool| {
            if present {
                set.push(name)
            }
        };
        mark("duration", self.duration.is_some());
        mark("target", self.target.is_some());
        mark("from", self.from.is_some());
        mark("to", self.to.is_some());
        mark("group", self.group.is_some());
        mark("loss_percent", self.loss_percent.is_some());
        mark("latency", self.latency.is_some());
        mark("offset", self.offset.is_some());
        mark("drift_ppm", self.drift_ppm.is_some());
        mark("environments", self.environments.is_some());
        mark("rate_percent", self.rate_percent.is_some());
        mark("environment", self.environment.is_some());
        mark("schema", self.schema.is_some());
        mark("fields", self.fields.is_some());
        set
    }

    pub fn end(&self) -> Duration {
        self.at.0 + self.duration.map_or(Duration::ZERO, |d| d.0)
    }

    /// Checks the spec against the kind's fields and the cluster. Returns the failing field (relative to the
    /// spec) and what is wrong.
    pub fn check(&self, cluster: &ClusterShape) -> Result<(), (String, String)> {
        let (required, optional) = self.kind.fields();
        let set = self.set_fields();
        for field in required {
            if !set.contains(field) {
                return Err(("kind".into(), format!("kind `{}` needs the field `{field}`", self.kind)));
            }
        }
        for field in &set {
            if !required.contains(field) && !optional.contains(field) {
                return Err(((*field).into(), format!("is not used by kind `{}`; remove it", self.kind)));
            }
        }
        let node = |field: &str, name: &Option<String>, network_ok: bool| -> Result<(), (String, String)> {
            match name {
                Some(n) if network_ok && n == "network" => Ok(()),
                Some(n) if !cluster.nodes.contains(n) => Err((
                    field.into(),
                    format!(
                        "unknown node `{n}`; the nodes are {}{}",
                        cluster.nodes.join(", "),
                        if network_ok { ", or `network`" } else { "" }
                    ),
                )),
                _ => Ok(()),
            }
        };
        let network_ok = matches!(self.kind, FaultKind::Loss | FaultKind::Latency);
        node("target", &self.target, network_ok)?;
        if self.kind.is_disk() {
            if let Some(target) = self.target.as_ref().filter(|t| !cluster.disks.contains(t)) {
                return Err((
                    "target".into(),
                    format!("`{target}` has no disk; kind `{}` needs one of {}", self.kind, cluster.disks.join(", ")),
                ));
            }
        }
        node("from", &self.from, false)?;
        node("to", &self.to, false)?;
        if self.kind == FaultKind::Latency {
            let link = self.from.is_some() || self.to.is_some();
            if link == self.target.is_some() || self.from.is_some() != self.to.is_some() {
                return Err((
                    "target".into(),
                    "a latency fault needs either `target` (a node or `network`) or both `from` and `to` (a link)"
                        .into(),
                ));
            }
        }
        if let (Some(from), Some(to)) = (&self.from, &self.to) {
            if from == to {
                return Err(("to".into(), "a link needs two different nodes".into()));
            }
        }
        if let Some(group) = &self.group {
            for (i, n) in group.iter().enumerate() {
                node(&format!("group[{i}]"), &Some(n.clone()), false)?;
            }
            if group.is_empty() || group.len() >= cluster.nodes.len() {
                return Err(("group".into(), "a split needs at least one node on each side".into()));
            }
        }
        if let Some(envs) = &self.environments {
            if envs.is_empty() {
                return Err(("environments".into(), "needs at least one environment".into()));
            }
            for (i, env) in envs.iter().enumerate() {
                if !cluster.environments.contains(env) {
                    return Err((format!("environments[{i}]"), format!("`{env}` is not one of environments.names")));
                }
            }
        }
        if let Some(env) = &self.environment {
            if !cluster.environments.contains(env) {
                return Err(("environment".into(), format!("`{env}` is not one of environments.names")));
            }
        }
        if let Some(schema) = &self.schema {
            if !cluster.schemas.contains(schema) {
                return Err(("schema".into(), format!("`{schema}` is not one of the [[schemas]]")));
            }
        }
        if self.duration.is_some_and(|d| d.0.is_zero()) {
            return Err(("duration".into(), "must be longer than zero".into()));
        }
        if self.end() > cluster.safety {
            return Err((
                "duration".into(),
                format!(
                    "the fault would heal at {}, after the safety phase ends at {}; every fault heals before the \
                     liveness phase",
                    Dur(self.end()),
                    Dur(cluster.safety)
                ),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(t) = &self.target {
            write!(f, " {t}")?;
        }
        if let (Some(from), Some(to)) = (&self.from, &self.to) {
            write!(f, " {from}->{to}")?;
        }
        if let Some(g) = &self.group {
            write!(f, " [{}]|rest", g.join(","))?;
        }
        if let Some(p) = self.loss_percent {
            write!(f, " loss={}%", p.get())?;
        }
        if let Some(l) = self.latency {
            write!(f, " latency={l}")?;
        }
        if let Some(o) = self.offset {
            write!(f, " offset={o}")?;
        }
        if let Some(d) = self.drift_ppm {
            write!(f, " drift={}ppm", d.0)?;
        }
        if let Some(e) = &self.environments {
            write!(f, " [{}]", e.join(","))?;
        }
        if let Some(r) = self.rate_percent {
            write!(f, " rate={}%", r.get())?;
        }
        if let (Some(e), Some(s)) = (&self.environment, &self.schema) {
            write!(f, " {e}/{s}")?;
        }
        if let Some(d) = self.duration {
            write!(f, " for {d}")?;
        }
        Ok(())
    }
}

/// What a fault plan may refer to.
#[derive(Clone, Debug)]
pub struct ClusterShape {
    pub nodes: Vec<String>,
    /// The nodes that keep a disk (the targets of disk faults).
    pub disks: Vec<String>,
    pub workers: Vec<String>,
    pub environments: Vec<String>,
    pub schemas: Vec<String>,
    pub safety: Duration,
}

/// The scenario's `[faults]` section.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsConfig {
    /// Kinds the generator draws from; empty means nothing is generated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generate: Vec<FaultKind>,
    /// Per seed, enable a random non-empty subset of `generate`, each at a random intensity within the bounds.
    #[serde(default)]
    pub swarm: bool,
    /// Generated events per seed: a number drawn from 1 to this.
    #[serde(default = "default_events_max")]
    pub events_max: Bounded<1, 1_000>,
    /// Longest generated fault.
    #[serde(default = "default_duration_max")]
    pub duration_max: Dur,
    #[serde(default = "default_loss_percent_max")]
    pub loss_percent_max: Bounded<0, 100>,
    #[serde(default = "default_latency_max")]
    pub latency_max: Dur,
    #[serde(default = "default_clock_offset_max")]
    pub clock_offset_max: Dur,
    #[serde(default = "default_drift_ppm_max")]
    pub drift_ppm_max: Bounded<0, 900_000>,
    #[serde(default = "default_burst_rate_percent_max")]
    pub burst_rate_percent_max: Bounded<100, 100_000>,
    /// Scripted events, executed exactly as written (together with any generated ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub script: Vec<FaultSpec>,
}

impl Default for FaultsConfig {
    fn default() -> Self {
        FaultsConfig {
            generate: Vec::new(),
            swarm: false,
            events_max: default_events_max(),
            duration_max: default_duration_max(),
            loss_percent_max: default_loss_percent_max(),
            latency_max: default_latency_max(),
            clock_offset_max: default_clock_offset_max(),
            drift_ppm_max: default_drift_ppm_max(),
            burst_rate_percent_max: default_burst_rate_percent_max(),
            script: Vec::new(),
        }
    }
}

fn default_events_max() -> Bounded<1, 1_000> {
    Bounded(6)
}
fn default_duration_max() -> Dur {
    Dur(Duration::from_secs(5))
}
fn default_loss_percent_max() -> Bounded<0, 100> {
    Bounded(40)
}
fn default_latency_max() -> Dur {
    Dur(Duration::from_millis(400))
}
fn default_clock_offset_max() -> Dur {
    Dur(Duration::from_secs(30))
}
fn default_drift_ppm_max() -> Bounded<0, 900_000> {
    Bounded(200_000)
}
fn default_burst_rate_percent_max() -> Bounded<100, 100_000> {
    Bounded(800)
}

/// Total duration of the faults that make callers wait and retry (network and process faults).
pub fn disruption(plan: &[FaultSpec]) -> Duration {
    plan.iter()
        .filter(|f| {
            matches!(
                f.kind,
                FaultKind::Loss
                    | FaultKind::Latency
                    | FaultKind::Isolate
                    | FaultKind::Split
                    | FaultKind::Cut
                    | FaultKind::Crash
                    | FaultKind::Pause
                    | FaultKind::PauseWorkers
                    | FaultKind::TornWrite
                    | FaultKind::CorruptWrite
                    | FaultKind::CompactionCrash
                    | FaultKind::SyncFail
                    | FaultKind::DiskFull
                    | FaultKind::DiskSlow
            )
        })
        .filter_map(|f| f.duration.map(|d| d.0))
        .sum()
}

/// Counts of executed events per kind, for statistics.
pub fn counts(plan: &[FaultSpec]) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for spec in plan {
        *counts.entry(spec.kind.name().to_string()).or_insert(0) += 1;
    }
    counts
}
