//! What a run produced: a verdict, typed violations, statistics and the trace hash.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
}

/// The vocabulary of failures. Each kind belongs to one class: correctness (a state a correct system never
/// reaches), liveness (the system did not finish its work in time), or crash (the run itself broke down).
/// The names (`missing-view`, ...) are derived from the variants, for serde and strum alike.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum ViolationKind {
    /// The system went quiet, but a view of an existing source was never made.
    MissingView,
    /// The system went quiet, but a view reflects an older source or schema than the newest.
    StaleView,
    /// An acknowledged ingest is not in the store.
    LostIngest,
    /// A reader saw a view go back to a strictly older (source version, schema version).
    ViewRegressed,
    /// An acknowledged schema deploy is not what the store ends up with.
    LostDeploy,
    /// A view holds data of another environment, or data its own source never had.
    IsolationBreach,
    /// The system was still working (or clients were still waiting) when the convergence budget ran out.
    NotConverged,
    /// A node panicked.
    Panic,
    /// Every task was blocked with no timer pending.
    Deadlock,
    /// The run exceeded its simulated time limit.
    TimeLimit,
    /// The same seed gave two different traces.
    Nondeterminism,
    /// A light environment's fresh ingest took longer than the stated bound to reach its views.
    Starvation,
    /// The system did more work (executions, retries) than the stated factor of the necessary work.
    UnboundedWork,
    /// The harness itself (or madsim beneath it) broke down: a panic outside the system's code. Not a finding about
    /// the system; a bug of the harness to report.
    HarnessError,
}

impl ViolationKind {
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn class(self) -> &'static str {
        match self {
            ViolationKind::MissingView
            | ViolationKind::StaleView
            | ViolationKind::LostIngest
            | ViolationKind::ViewRegressed
            | ViolationKind::LostDeploy
            | ViolationKind::IsolationBreach => "correctness",
            ViolationKind::NotConverged | ViolationKind::Starvation | ViolationKind::UnboundedWork => "liveness",
            ViolationKind::Panic
            | ViolationKind::Deadlock
            | ViolationKind::TimeLimit
            | ViolationKind::Nondeterminism => "crash",
            ViolationKind::HarnessError => "harness",
        }
    }
}

/// One broken invariant, with everything needed to find it in the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub kind: ViolationKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The version a correct system would show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
    /// The version the system showed (absent: nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_version: Option<u64>,
    /// Simulated time, in milliseconds, of the event that made this a violation (or of the last relevant one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    pub detail: String,
}

impl Violation {
    pub fn new(kind: ViolationKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            env: None,
            entity: None,
            schema: None,
            expected_version: None,
            actual_version: None,
            at_ms: None,
            detail: detail.into(),
        }
    }

    pub fn at(mut self, env: &str, entity: &str, schema: Option<&str>) -> Self {
        self.env = Some(env.to_string());
        self.entity = Some(entity.to_string());
        self.schema = schema.map(str::to_string);
        self
    }

    /// A violation about a schema of an environment, not an entity (a deploy).
    pub fn on_schema(mut self, env: &str, schema: &str) -> Self {
        self.env = Some(env.to_string());
        self.schema = Some(schema.to_string());
        self
    }

    pub fn versions(mut self, expected: Option<u64>, actual: Option<u64>) -> Self {
        self.expected_version = expected;
        self.actual_version = actual;
        self
    }

    pub fn at_ms(mut self, ms: u64) -> Self {
        self.at_ms = Some(ms);
        self
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        match (&self.env, &self.entity, &self.schema) {
            (Some(env), Some(entity), schema) => {
                write!(f, " {env}/{entity}")?;
                if let Some(schema) = schema {
                    write!(f, "/{schema}")?;
                }
            }
            (Some(env), None, Some(schema)) => write!(f, " {env} schema {schema}")?,
            _ => {}
        }
        if self.expected_version.is_some() || self.actual_version.is_some() {
            let show = |v: Option<u64>| v.map_or("none".to_string(), |v| format!("v{v}"));
            write!(f, " expected={} actual={}", show(self.expected_version), show(self.actual_version))?;
        }
        if let Some(ms) = self.at_ms {
            write!(f, " at={}.{:03}s", ms / 1000, ms % 1000)?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// Counts that describe a run. Everything but `wall_ms` is a deterministic function of the seed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub environments: u64,
    pub ingests_sent: u64,
    pub ingests_acked: u64,
    pub ingest_retries: u64,
    pub ingests_given_up: u64,
    /// Requests their senders abandoned after a few attempts, by design.
    #[serde(default)]
    pub ingests_abandoned: u64,
    pub ingests_busy: u64,
    pub sources_stored: u64,
    pub jobs_enqueued: u64,
    pub jobs_coalesced: u64,
    pub enqueues_busy: u64,
    pub jobs_leased: u64,
    pub leases_expired: u64,
    pub jobs_redelivered: u64,
    pub jobs_completed: u64,
    pub jobs_abandoned: u64,
    pub acks_refused: u64,
    pub views_written: u64,
    pub view_writes_refused: u64,
    pub deploys: u64,
    pub rpcs_sent: u64,
    /// RPC attempts that got no answer (timed out or failed).
    pub rpcs_failed: u64,
    pub net_messages: u64,
    /// Messages of the readers and the checker, left out of bounded work.
    #[serde(default)]
    pub observer_messages: u64,
    /// The jobs a correct system needs for what the clients sent (the bounded-work yardstick).
    #[serde(default)]
    pub necessary_jobs: u64,
    /// Freshness as the readers saw it: from a write's acknowledgement to the first read that showed it, the
    /// median and the largest over every write a read measured, in milliseconds.
    #[serde(default)]
    pub freshness_p50_ms: u64,
    #[serde(default)]
    pub freshness_max_ms: u64,
    /// The freshness bound the run was held to, in milliseconds (0: none), and how many acknowledged writes it
    /// judged (a `"fair-share"` bound leaves out writes a fault delayed, and environments too busy to be light).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fresh_bound_ms: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fresh_judged: u64,
    /// Reads the readers made through the delivery API.
    #[serde(default)]
    pub reads: u64,
    pub trace_events: u64,
    pub simulated_ms: u64,
    /// Executed fault events per kind.
    pub faults: std::collections::BTreeMap<String, u64>,
    /// Coverage marks reached, and how often.
    #[serde(default)]
    pub marks: std::collections::BTreeMap<String, u64>,
    /// The value each `[swarm]` range resolved to for this seed (durations in milliseconds, `_ms` names).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub knobs: std::collections::BTreeMap<String, u64>,
    /// Host time the run took. Not deterministic; left out of snapshots.
    pub wall_ms: u64,
}

/// The result of one seed of one scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub scenario: String,
    pub seed: u64,
    pub verdict: Verdict,
    pub violations: Vec<Violation>,
    pub stats: Stats,
    pub trace_hash: String,
    /// How it failed, as a stable name (see [`crate::explain::fingerprint`]): what a sweep groups failures by.
    /// Drawn from the explanations, which read the system's events: it groups failures, it never decides one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The fault plan the run executed, in order.
    pub fault_plan: Vec<crate::faults::FaultSpec>,
    /// The branches the run took (see `branch`): with the seed and the plan, what reproduces it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<crate::branch::Branch>,
    /// The fault points switched on for the run (see `faults::points`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<system::points::Point>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// The kinds of violation the run showed, sorted and joined (`missing-view+stale-view`): for people; a sweep
    /// groups by [`Outcome::fingerprint`].
    pub fn kinds(&self) -> String {
        let mut kinds: Vec<&str> = self.violations.iter().map(|v| v.kind.name()).collect();
        kinds.sort();
        kinds.dedup();
        kinds.join("+")
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}
