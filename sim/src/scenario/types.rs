//! The scenario format: what a file deserializes into, field by field, with the defaults of the optional fields.

use super::values::{Bounded, Dur, FreshBound};
use crate::faults::FaultsConfig;
use crate::outcome::ViolationKind;
use serde::{Deserialize, Serialize};
use std::time::Duration;

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
    /// Ranges each seed resolves its cluster, knobs and load from (see `scenario::swarm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<super::swarm::SwarmRanges>,
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
    /// time of being stored. `"fair-share"` derives the bound, and the environments light enough to be held to
    /// it, from each seed's cluster and load, and leaves out writes that a fault delayed (see
    /// `oracle::fairness`). Absent: not checked; a scenario with deploys must give one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_view_latency_max: Option<FreshBound>,
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
    /// Environments with another number of entities than `entities` (`{ "globex" = 3000 }`): one huge site beside
    /// small ones. A mirror has its source's number.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sizes: std::collections::BTreeMap<String, Bounded<1, 100_000>>,
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
    /// What is healed before the liveness phase: everything (`heal-all`), or only a seeded core of the cluster
    /// (`core`), every other fault staying until the end of the run.
    #[serde(default, skip_serializing_if = "Liveness::is_heal_all")]
    pub liveness: Liveness,
}

/// What is healed before the liveness phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Liveness {
    /// Every fault heals; the system converges with the whole cluster.
    #[default]
    HealAll,
    /// A seeded core heals (the store, the queue, at least one ingest node and one worker, and the links between
    /// them); a fault that touches only nodes outside it is never healed, and the system must converge through
    /// the core.
    Core,
}

impl Liveness {
    pub fn is_heal_all(&self) -> bool {
        *self == Liveness::HealAll
    }
}
