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

pub mod active;
pub mod clock;
pub mod disk;
pub mod generate;
#[cfg(madsim)]
pub mod inject;
pub mod moments;
#[cfg(madsim)]
pub mod net;
pub mod points;

use crate::scenario::{Bounded, Dur};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// One fault: its kind and the fields that kind needs, and no others. The kinds' names (`clock-offset`, ...) and
/// the field-less [`FaultKind`] (for `generate = [...]` and statistics) are derived from this enum; serde's
/// tagged enum makes a field another kind uses an "unknown field" error, and a missing one a "missing field".
/// Fields are declared in one order across kinds (duration, target, from, to, group, ...), which is the order
/// a seed file and the trace's canonical encoding write them in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
#[strum_discriminants(
    name(FaultKind),
    vis(pub),
    derive(PartialOrd, Ord, Hash, Serialize, Deserialize, strum::IntoStaticStr, strum::Display, strum::VariantArray),
    serde(rename_all = "kebab-case"),
    strum(serialize_all = "kebab-case")
)]
pub enum Fault {
    /// Messages lost at `loss_percent`, on the whole network (`target = "network"`) or to and from one node.
    Loss { duration: Dur, target: String, loss_percent: Bounded<0, 100> },
    /// Extra latency on the whole network or every link of one node (`target`), or on one link (`from`, `to`).
    Latency {
        duration: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        latency: Dur,
        /// `fixed` (the default): every message takes `latency` longer. `pareto`: each draws its own delay, with
        /// `latency` its median and a long tail (see [`Tail`]).
        #[serde(default, skip_serializing_if = "Tail::is_fixed")]
        tail: Tail,
    },
    /// A node cut off from every other node, both ways.
    Isolate { duration: Dur, target: String },
    /// The nodes split in two: `group` against the rest.
    Split { duration: Dur, group: Vec<String> },
    /// A one-way cut: messages from `from` to `to` are lost, the other way works.
    Cut { duration: Dur, from: String, to: String },
    /// The network delivers a copy of `duplicate_percent` of the requests sent to or from `target` (or on the
    /// whole `network`) again, up to `delay` later (to the receiver as it is then, restarted or not).
    Duplicate { duration: Dur, target: String, duplicate_percent: Bounded<1, 100>, delay: Dur },
    /// A node's clock set off by `offset` for the duration.
    ClockOffset { duration: Dur, target: String, offset: SignedDur },
    /// A node's clock running fast or slow by `drift_ppm` (parts per million) for the duration.
    ClockDrift { duration: Dur, target: String, drift_ppm: BoundedI<-900_000, 900_000> },
    /// A node's clock jumping by `offset`; after the duration it slews back.
    ClockJump { duration: Dur, target: String, offset: SignedDur },
    /// A node crashes (a store or queue loses every byte not yet synced) and restarts after the duration.
    Crash { duration: Dur, target: String },
    /// A node stops for the duration (a long GC pause), then resumes.
    Pause { duration: Dur, target: String },
    /// The operator pauses every worker, lets the backlog build, and resumes them all at once.
    PauseWorkers { duration: Dur },
    /// Environments ingest at `rate_percent` of their normal rate (500 is five times), all at the same instant.
    Burst { duration: Dur, environments: Vec<String>, rate_percent: Bounded<1, 100_000> },
    /// A schema deploy that re-processes a whole environment.
    Deploy {
        environment: String,
        schema: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<Vec<String>>,
    },
    /// A node with a disk dies in the middle of a write (waiting up to half the duration for one): its log ends
    /// in a torn record. It restarts after the duration.
    TornWrite { duration: Dur, target: String },
    /// As `torn-write`, with one bit flipped in what reached the medium.
    CorruptWrite { duration: Dur, target: String },
    /// A node with a disk dies while compacting its log (waiting up to half the duration for a compaction to
    /// start). It restarts after the duration.
    CompactionCrash { duration: Dur, target: String },
    /// Every sync of a node's disk fails for the duration, dropping the cached writes it covered.
    SyncFail { duration: Dur, target: String },
    /// A node's disk is full for the duration: appends and compactions are refused.
    DiskFull { duration: Dur, target: String },
    /// Every sync of a node's disk takes `latency` longer for the duration.
    DiskSlow {
        duration: Dur,
        target: String,
        latency: Dur,
        #[serde(default, skip_serializing_if = "Tail::is_fixed")]
        tail: Tail,
    },
    /// A node with a disk restarts (a clean crash), and its disk fails `error_percent` of reads and truncates
    /// for the duration: the node boots reading through transient I/O errors.
    ReadError { duration: Dur, target: String, error_percent: Bounded<1, 90> },
    /// A node crashes right after it acknowledged something (a store or queue: a sync returned, so an answer is
    /// leaving; an ingest node: an ingest or deploy answered; a worker: a batch of views written), waiting up to
    /// half the duration for one. It restarts after the duration.
    CrashAfterAck { duration: Dur, target: String },
    /// A worker stops while it holds a lease (waiting up to half the duration for one), then resumes: its leases
    /// run out while it cannot know.
    PauseWhileLeased { duration: Dur, target: String },
    /// The store's answers to a worker are lost from the moment the worker rendered a job (waiting up to half the
    /// duration for one) until the fault ends: its batch of view writes lands, and the answer never comes back.
    CutDuringViews { duration: Dur, target: String },
}

impl FaultKind {
    pub const ALL: &'static [FaultKind] = <FaultKind as strum::VariantArray>::VARIANTS;

    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Whether the kind acts on the network (messages lost, delayed, copied or cut).
    pub fn is_network(self) -> bool {
        matches!(
            self,
            FaultKind::Loss
                | FaultKind::Latency
                | FaultKind::Isolate
                | FaultKind::Split
                | FaultKind::Cut
                | FaultKind::Duplicate
        )
    }

    /// Whether the kind waits for a moment of the system (an acknowledgement, a held lease, a batch of view writes)
    /// before it acts, rather than acting at its time.
    pub fn waits_for_moment(self) -> bool {
        matches!(self, FaultKind::CrashAfterAck | FaultKind::PauseWhileLeased | FaultKind::CutDuringViews)
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
                | FaultKind::ReadError
        )
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

/// Matches every kind that has a duration, binding it to `$d`; a deploy (the only kind without) gives `$none`.
macro_rules! with_duration {
    ($fault:expr, $d:ident => $some:expr, $none:expr) => {{
        use Fault::*;
        match $fault {
            Loss { duration: $d, .. }
            | Latency { duration: $d, .. }
            | Isolate { duration: $d, .. }
            | Split { duration: $d, .. }
            | Cut { duration: $d, .. }
            | Duplicate { duration: $d, .. }
            | ClockOffset { duration: $d, .. }
            | ClockDrift { duration: $d, .. }
            | ClockJump { duration: $d, .. }
            | Crash { duration: $d, .. }
            | Pause { duration: $d, .. }
            | PauseWorkers { duration: $d }
            | Burst { duration: $d, .. }
            | TornWrite { duration: $d, .. }
            | CorruptWrite { duration: $d, .. }
            | CompactionCrash { duration: $d, .. }
            | SyncFail { duration: $d, .. }
            | DiskFull { duration: $d, .. }
            | DiskSlow { duration: $d, .. }
            | ReadError { duration: $d, .. }
            | CrashAfterAck { duration: $d, .. }
            | PauseWhileLeased { duration: $d, .. }
            | CutDuringViews { duration: $d, .. } => $some,
            Deploy { .. } => $none,
        }
    }};
}

/// How a latency fault spreads its delays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tail {
    /// Every delay is the fault's latency.
    #[default]
    Fixed,
    /// Each delay is the latency times a factor with median 1 and a power-law tail, P(factor > x) ≈ 1/x, up to
    /// [`TAIL_FACTOR_MAX`]: most requests see about the latency, one in ten ten times it, one in a hundred a
    /// hundred times (what timeouts and leases meet on real networks and disks).
    Pareto,
}

impl Tail {
    pub fn is_fixed(&self) -> bool {
        *self == Tail::Fixed
    }
}

/// The largest factor a long tail multiplies a latency by.
pub const TAIL_FACTOR_MAX: u64 = 100;

/// One delay of a latency fault with a long tail: `latency` times a power-law factor (see [`Tail::Pareto`]),
/// drawn with integer arithmetic only (so every platform draws the same), and at most [`FAULT_LATENCY_MAX`].
pub fn tail_delay(latency: Duration, rng: &mut impl rand::Rng) -> Duration {
    // The doubling band: k with probability 2^-(k+1), so the factor lies in [2^k / 2, 2^k).
    let k = rng.next_u64().leading_zeros().min(7);
    let low = 500u64 << k;
    let permille = rng.gen_range(low..low * 2).min(TAIL_FACTOR_MAX * 1000);
    let us = (latency.as_micros() as u64).saturating_mul(permille) / 1000;
    Duration::from_micros(us).min(FAULT_LATENCY_MAX)
}

/// The longest extra latency a fault may add to a message or a sync.
pub const FAULT_LATENCY_MAX: Duration = Duration::from_secs(60);
/// The largest clock offset or jump a fault may set, either way.
pub const CLOCK_OFFSET_MAX: Duration = Duration::from_secs(24 * 3600);

/// One event of a fault plan, as written in a scenario's `[[faults.script]]` or a seed file, and as executed:
/// when it starts, and the fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// When the fault starts, from the start of the safety phase.
    pub at: Dur,
    #[serde(flatten)]
    pub fault: Fault,
}

impl FaultSpec {
    pub fn kind(&self) -> FaultKind {
        FaultKind::from(&self.fault)
    }

    /// How long it lasts; it heals at `at + duration`. A deploy has none.
    pub fn duration(&self) -> Option<Duration> {
        self.duration_field().map(|d| d.0)
    }

    fn duration_field(&self) -> Option<&Dur> {
        with_duration!(&self.fault, duration => Some(duration), None)
    }

    /// Sets the duration of a fault that has one (for shrinking).
    pub fn set_duration(&mut self, to: Duration) {
        with_duration!(&mut self.fault, duration => *duration = Dur(to), ())
    }

    /// The node the fault acts on (or `network`), if it has one target.
    pub fn target(&self) -> Option<&str> {
        use Fault::*;
        match &self.fault {
            Loss { target, .. }
            | Duplicate { target, .. }
            | Isolate { target, .. }
            | ClockOffset { target, .. }
            | ClockDrift { target, .. }
            | ClockJump { target, .. }
            | Crash { target, .. }
            | Pause { target, .. }
            | TornWrite { target, .. }
            | CorruptWrite { target, .. }
            | CompactionCrash { target, .. }
            | SyncFail { target, .. }
            | DiskFull { target, .. }
            | DiskSlow { target, .. }
            | ReadError { target, .. }
            | CrashAfterAck { target, .. }
            | PauseWhileLeased { target, .. }
            | CutDuringViews { target, .. } => Some(target),
            Latency { target, .. } => target.as_deref(),
            _ => None,
        }
    }

    /// Every node the fault names (targets, link ends, split groups), `network` aside.
    pub fn nodes(&self) -> Vec<&str> {
        let mut nodes: Vec<&str> = self.target().into_iter().filter(|t| *t != "network").collect();
        match &self.fault {
            Fault::Latency { from, to, .. } => nodes.extend(from.as_deref().into_iter().chain(to.as_deref())),
            Fault::Cut { from, to, .. } => nodes.extend([from.as_str(), to.as_str()]),
            Fault::Split { group, .. } => nodes.extend(group.iter().map(String::as_str)),
            _ => {}
        }
        nodes
    }

    pub fn end(&self) -> Duration {
        self.at.0 + self.duration().unwrap_or(Duration::ZERO)
    }

    /// Checks the spec against the cluster (serde has already checked which fields the kind takes). Returns the
    /// failing field (relative to the spec) and what is wrong.
    pub fn check(&self, cluster: &ClusterShape) -> Result<(), (String, String)> {
        let kind = self.kind();
        let node = |field: &str, name: &str, network_ok: bool| -> Result<(), (String, String)> {
            if (network_ok && name == "network") || cluster.nodes.iter().any(|n| n == name) {
                return Ok(());
            }
            Err((
                field.into(),
                format!(
                    "unknown node `{name}`; the nodes are {}{}",
                    cluster.nodes.join(", "),
                    if network_ok { ", or `network`" } else { "" }
                ),
            ))
        };
        let environment = |field: &str, env: &str| -> Result<(), (String, String)> {
            if cluster.environments.iter().any(|e| e == env) {
                Ok(())
            } else {
                Err((field.into(), format!("`{env}` is not one of environments.names")))
            }
        };
        let link = |from: &str, to: &str| -> Result<(), (String, String)> {
            node("from", from, false)?;
            node("to", to, false)?;
            if from == to {
                return Err(("to".into(), "a link needs two different nodes".into()));
            }
            Ok(())
        };
        match &self.fault {
            Fault::Loss { target, .. } | Fault::Duplicate { target, .. } => node("target", target, true)?,
            Fault::Latency { target, from, to, .. } => match (target, from, to) {
                (Some(target), None, None) => node("target", target, true)?,
                (None, Some(from), Some(to)) => link(from, to)?,
                _ => {
                    return Err((
                        "target".into(),
                        "a latency fault needs either `target` (a node or `network`) or both `from` and `to` (a \
                         link)"
                            .into(),
                    ))
                }
            },
            Fault::Cut { from, to, .. } => link(from, to)?,
            Fault::Split { group, .. } => {
                for (i, n) in group.iter().enumerate() {
                    node(&format!("group[{i}]"), n, false)?;
                }
                if group.is_empty() || group.len() >= cluster.nodes.len() {
                    return Err(("group".into(), "a split needs at least one node on each side".into()));
                }
            }
            Fault::Burst { environments, .. } => {
                if environments.is_empty() {
                    return Err(("environments".into(), "needs at least one environment".into()));
                }
                for (i, env) in environments.iter().enumerate() {
                    environment(&format!("environments[{i}]"), env)?;
                }
            }
            Fault::Deploy { environment: env, schema, .. } => {
                environment("environment", env)?;
                if !cluster.schemas.contains(schema) {
                    return Err(("schema".into(), format!("`{schema}` is not one of the [[schemas]]")));
                }
            }
            Fault::PauseWorkers { .. } => {}
            Fault::PauseWhileLeased { target, .. } | Fault::CutDuringViews { target, .. } => {
                node("target", target, false)?;
                if !cluster.workers.iter().any(|w| w == target) {
                    return Err((
                        "target".into(),
                        format!(
                            "`{target}` is not a worker; kind `{kind}` needs one of {}",
                            cluster.workers.join(", ")
                        ),
                    ));
                }
            }
            _ => {
                let target = self.target().unwrap_or_default();
                node("target", target, false)?;
                if kind.is_disk() && !cluster.disks.iter().any(|d| d == target) {
                    return Err((
                        "target".into(),
                        format!("`{target}` has no disk; kind `{kind}` needs one of {}", cluster.disks.join(", ")),
                    ));
                }
            }
        }
        if self.duration().is_some_and(|d| d.is_zero()) {
            return Err(("duration".into(), "must be longer than zero".into()));
        }
        if self.duration().is_none() && self.at.0 > cluster.safety {
            return Err((
                "at".into(),
                format!("{} is after the safety phase ends at {}; move it earlier", self.at, Dur(cluster.safety)),
            ));
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
        // Values beyond what any real fault looks like are typos (a unit), not scenarios: they would only be
        // blamed on the system.
        let too_much = |field: &str, value: Duration, max: Duration| -> Result<(), (String, String)> {
            if value > max {
                return Err((
                    field.into(),
                    format!("{} is more than the limit of {}; check the unit", Dur(value), Dur(max)),
                ));
            }
            Ok(())
        };
        match &self.fault {
            Fault::Latency { latency, .. } | Fault::DiskSlow { latency, .. } => {
                too_much("latency", latency.0, FAULT_LATENCY_MAX)?
            }
            Fault::Duplicate { delay, .. } => too_much("delay", delay.0, FAULT_LATENCY_MAX)?,
            Fault::ClockOffset { offset, .. } | Fault::ClockJump { offset, .. } => {
                too_much("offset", offset.magnitude, CLOCK_OFFSET_MAX)?
            }
            _ => {}
        }
        Ok(())
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind())?;
        match &self.fault {
            Fault::Loss { target, loss_percent, .. } => write!(f, " {target} loss={}%", loss_percent.get())?,
            Fault::Duplicate { target, duplicate_percent, delay, .. } => {
                write!(f, " {target} copies={}% within {delay}", duplicate_percent.get())?
            }
            Fault::Latency { target, from, to, latency, tail, .. } => {
                if let Some(t) = target {
                    write!(f, " {t}")?;
                }
                if let (Some(from), Some(to)) = (from, to) {
                    write!(f, " {from}->{to}")?;
                }
                write!(f, " latency={latency}")?;
                if *tail == Tail::Pareto {
                    write!(f, " tail=pareto")?;
                }
            }
            Fault::Split { group, .. } => write!(f, " [{}]|rest", group.join(","))?,
            Fault::Cut { from, to, .. } => write!(f, " {from}->{to}")?,
            Fault::ClockOffset { target, offset, .. } | Fault::ClockJump { target, offset, .. } => {
                write!(f, " {target} offset={offset}")?
            }
            Fault::ClockDrift { target, drift_ppm, .. } => write!(f, " {target} drift={}ppm", drift_ppm.0)?,
            Fault::Burst { environments, rate_percent, .. } => {
                write!(f, " [{}] rate={}%", environments.join(","), rate_percent.get())?
            }
            Fault::Deploy { environment, schema, .. } => write!(f, " {environment}/{schema}")?,
            Fault::DiskSlow { target, latency, tail, .. } => {
                write!(f, " {target} latency={latency}")?;
                if *tail == Tail::Pareto {
                    write!(f, " tail=pareto")?;
                }
            }
            Fault::ReadError { target, error_percent, .. } => write!(f, " {target} errors={}%", error_percent.get())?,
            Fault::PauseWorkers { .. } => {}
            _ => write!(f, " {}", self.target().unwrap_or_default())?,
        }
        if let Some(d) = self.duration_field() {
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
    /// How a crash leaves what the disks' page caches held: `prefix` (a prefix of the unsynced writes) or
    /// `any-order` (each unsynced write whole, torn at a sector, or lost, independently, as a real page cache
    /// writes back).
    #[serde(default, skip_serializing_if = "Writeback::is_prefix")]
    pub writeback: Writeback,
    /// Fault points inside the system (see `system::points`): `false` (the default), `true` (each switched on
    /// for the run with probability one half, from the seed), or the list of points switched on (what a seed
    /// file pins).
    #[serde(default, skip_serializing_if = "Points::is_off")]
    pub points: Points,
    /// How generated latency faults (network and disk) draw their delays: `fixed` (each delay is the fault's
    /// latency), `mixed` (each fault is fixed or long-tailed, half and half), `long` (every one long-tailed).
    /// Unset: `mixed` under `swarm`, `fixed` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tails: Option<Tails>,
}

/// How generated latency faults draw their delays (see [`FaultsConfig::tails`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tails {
    Fixed,
    Mixed,
    Long,
}

/// How a crash writes back a disk's page cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Writeback {
    #[default]
    Prefix,
    AnyOrder,
}

impl Writeback {
    fn is_prefix(&self) -> bool {
        *self == Writeback::Prefix
    }
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
            writeback: Writeback::Prefix,
            points: Points::default(),
            tails: None,
        }
    }
}

/// Which fault points a run switches on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Points {
    /// `false`: none; `true`: each with probability one half, from the seed.
    Seeded(bool),
    /// Exactly these.
    Listed(Vec<system::points::Point>),
}

impl Default for Points {
    fn default() -> Self {
        Points::Seeded(false)
    }
}

impl Points {
    pub fn is_off(&self) -> bool {
        matches!(self, Points::Seeded(false)) || matches!(self, Points::Listed(list) if list.is_empty())
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
                f.kind(),
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
                    | FaultKind::ReadError
                    | FaultKind::CrashAfterAck
                    | FaultKind::PauseWhileLeased
                    | FaultKind::CutDuringViews
            )
        })
        .filter_map(|f| f.duration())
        .sum()
}

/// Counts of executed events per kind, for statistics.
pub fn counts(plan: &[FaultSpec]) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for spec in plan {
        *counts.entry(spec.kind().name().to_string()).or_insert(0) += 1;
    }
    counts
}
