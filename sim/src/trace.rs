//! The trace: every event of a run, in order, stamped with simulated time and the node it happened on.
//!
//! Nodes report through a [`NodeSink`] bound to their name; the harness's own actors (load clients, the fault
//! injector, the checker) record through the same [`Recorder`], so one ordered stream tells the whole story.
//! The trace hash is taken over a canonical encoding of the records (not their rendered text), which hold no task
//! ids, addresses or host wall-clock values: the same seed and scenario give the same hash on any thread, alone
//! or in a sweep.

use serde::Serialize;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use system::events::{Event, EventSink};
use system::model::Name;

/// Something the harness itself did or saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, strum::IntoStaticStr)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum HarnessEvent {
    PhaseStarted {
        phase: &'static str,
    },
    /// A client's ingest was acknowledged.
    ClientAcked {
        env: Name,
        entity: Name,
        version: u64,
        request: u64,
        attempts: u32,
    },
    /// A client abandoned a request after a few attempts, as a webhook sender does.
    ClientAbandoned {
        env: Name,
        entity: Name,
        request: u64,
        attempts: u32,
    },
    /// A reader read an entity's views through the delivery API.
    ViewsRead {
        env: Name,
        entity: Name,
        views: usize,
        /// The newest source version among the views read.
        newest: Option<u64>,
    },
    /// A client gave up on a request because the run ended before it was acknowledged.
    ClientGaveUp {
        env: Name,
        entity: Name,
        request: u64,
        attempts: u32,
    },
    DeploySent {
        env: Name,
        schema: Name,
    },
    DeployDone {
        env: Name,
        schema: Name,
        version: u64,
        jobs: u64,
    },
    /// A fault of the fault plan took effect.
    FaultStarted {
        spec: Box<crate::faults::FaultSpec>,
    },
    /// A fault of the fault plan healed.
    FaultHealed {
        spec: Box<crate::faults::FaultSpec>,
    },
    /// A crash fault killed a node. Its disks had `cached_bytes` written and not synced, of which `kept_bytes`
    /// reached the medium anyway (torn or, if `flipped`, with one bit flipped); `compacting` if a compaction was
    /// in flight.
    NodeCrashed {
        node: String,
        cached_bytes: u64,
        kept_bytes: u64,
        flipped: bool,
        compacting: bool,
    },
    /// Every fault healed before the liveness phase.
    HealAll,
    /// `liveness = "core"`: before the liveness phase, these nodes and the links between them healed; every
    /// fault that touches only other nodes stays (each then noted by a [`HarnessEvent::FaultStays`]).
    HealCore {
        core: Vec<String>,
    },
    /// A fault outside the core that did not heal at its end and stays until the end of the run.
    FaultStays {
        spec: Box<crate::faults::FaultSpec>,
    },
    /// A clock fault started or healed: the node's clock now reads `offset_us` away from true time (the sum of
    /// its active clock faults; a healed drift or jump then slews back).
    ClockSet {
        node: String,
        offset_us: i64,
    },
    /// The run branched here: from now on it draws from the child's streams (see `branch`).
    BranchTaken {
        child: u64,
    },
    /// The checker judged the system done, from outside: for `quiet_ms` the network carried only observers'
    /// messages and idle polls, and two full readings were the same.
    QuietJudged {
        quiet_ms: u64,
    },
    /// The checker took its final reading: after the system was judged done, or when the budget ran out.
    FinalRead {
        quiescent: bool,
    },
    /// A deploy was answered as superseded: a newer deploy of the schema, with other fields, took effect after it.
    /// (Last, so that the encoding of every earlier kind, and so every trace hash, stays as it was.)
    DeploySuperseded {
        env: Name,
        schema: Name,
        version: u64,
    },
}

impl fmt::Display for HarnessEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HarnessEvent::*;
        match self {
            PhaseStarted { phase } => write!(f, "phase {phase}"),
            ClientAcked { env, entity, version, request, attempts } => {
                write!(f, "client-acked {env}/{entity} v{version} req={request} attempts={attempts}")
            }
            ClientAbandoned { env, entity, request, attempts } => {
                write!(f, "client-abandoned {env}/{entity} req={request} attempts={attempts}")
            }
            ViewsRead { env, entity, views, newest } => {
                write!(f, "views-read {env}/{entity} views={views}")?;
                match newest {
                    Some(v) => write!(f, " newest=v{v}"),
                    None => Ok(()),
                }
            }
            ClientGaveUp { env, entity, request, attempts } => {
                write!(f, "client-gave-up {env}/{entity} req={request} attempts={attempts}")
            }
            DeploySent { env, schema } => write!(f, "deploy-sent {env}/{schema}"),
            DeploySuperseded { env, schema, version } => {
                write!(f, "deploy-superseded {env}/{schema} by schema-v{version}")
            }
            DeployDone { env, schema, version, jobs } => {
                write!(f, "deploy-done {env}/{schema} schema-v{version} jobs={jobs}")
            }
            FaultStarted { spec } => write!(f, "fault start {spec}"),
            FaultHealed { spec } => write!(f, "fault heal {spec}"),
            NodeCrashed { node, cached_bytes, kept_bytes, flipped, compacting } => {
                write!(f, "fault crashed {node}")?;
                if *cached_bytes > 0 {
                    write!(f, ": {cached_bytes} unsynced bytes, {kept_bytes} reached the disk")?;
                    if *flipped {
                        write!(f, " with a bit flipped")?;
                    }
                }
                if *compacting {
                    write!(f, " (while compacting)")?;
                }
                Ok(())
            }
            HealAll => write!(f, "fault heal-all before liveness"),
            HealCore { core } => write!(f, "fault heal-core before liveness: {}", core.join(",")),
            FaultStays { spec } => write!(f, "fault stays {spec}"),
            ClockSet { node, offset_us } => {
                write!(
                    f,
                    "clock {node} now {}{:.6}s from true time",
                    if *offset_us < 0 { "-" } else { "+" },
                    offset_us.unsigned_abs() as f64 / 1e6
                )
            }
            BranchTaken { child } => write!(f, "branch taken: child {child:016x}"),
            QuietJudged { quiet_ms } => {
                write!(f, "quiet-judged after {quiet_ms}ms of idle traffic and unchanged readings")
            }
            FinalRead { quiescent } => write!(f, "final-read quiescent={quiescent}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TraceEvent {
    System(Event),
    Harness(HarnessEvent),
}

impl TraceEvent {
    /// The event's type, as the trace's canonical encoding names it (`job-coalesced`, `node-crashed`).
    pub fn name(&self) -> &'static str {
        match self {
            TraceEvent::System(e) => e.name(),
            TraceEvent::Harness(e) => e.into(),
        }
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceEvent::System(e) => e.fmt(f),
            TraceEvent::Harness(e) => e.fmt(f),
        }
    }
}

/// One line of the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Simulated time since the start of the run.
    #[serde(serialize_with = "ser_micros")]
    pub at: Duration,
    pub node: Arc<str>,
    #[serde(flatten)]
    pub event: TraceEvent,
}

/// Every target a record has (see [`Record::target`]): what `--log` directives may name.
pub const TARGETS: &[&str] =
    &["store", "queue", "ingest", "worker", "client", "reader", "checker", "faults", "harness"];

impl Record {
    /// The component the record belongs to, as a `tracing` target: `store`, `queue`, `ingest`, `worker`,
    /// `client`, `reader`, `checker`, `faults` or `harness`. `--log` filters on it as `RUST_LOG` does.
    pub fn target(&self) -> &'static str {
        let node: &str = &self.node;
        let role = node.split('-').next().unwrap_or(node);
        match role {
            "store" => "store",
            "queue" => "queue",
            "ingest" => "ingest",
            "worker" => "worker",
            "client" => "client",
            "reader" => "reader",
            "checker" => "checker",
            "faults" => "faults",
            _ => "harness",
        }
    }

    /// The record's level: `warn` for trouble (busy answers, expiries, redeliveries, faults), `debug` for the
    /// routine of every job (leases, coalescing, reads), `info` for what changes state.
    pub fn level(&self) -> tracing::Level {
        use tracing::Level;
        match &self.event {
            TraceEvent::System(event) => event.level(),
            TraceEvent::Harness(event) => match event {
                HarnessEvent::ViewsRead { .. } => Level::DEBUG,
                HarnessEvent::FaultStarted { .. }
                | HarnessEvent::FaultHealed { .. }
                | HarnessEvent::NodeCrashed { .. }
                | HarnessEvent::ClientGaveUp { .. }
                | HarnessEvent::ClientAbandoned { .. } => Level::WARN,
                _ => Level::INFO,
            },
        }
    }
}

fn ser_micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_micros() as u64)
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>10.6}s {:<16} {}", self.at.as_secs_f64(), self.node, self.event)
    }
}

/// Hits of one coverage mark in a run: how many, when (the first `MARK_TIMES_MAX`), and under which kinds of
/// fault (those active at a hit). Coverage for exploration and sweeps; never evidence for a verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarkHits {
    pub count: u64,
    /// Simulated times since the run started of the first hits.
    pub times: Vec<Duration>,
    /// Fault kinds active at some hit.
    pub under: std::collections::BTreeSet<crate::faults::FaultKind>,
}

/// Hit times kept per mark: enough to pair two marks "within a second", and bounded.
pub const MARK_TIMES_MAX: usize = 64;

/// Collects the records of one run. Shared by every node of the run; lives outside the runtime so that the trace
/// survives a panic inside it.
#[derive(Default)]
pub struct Recorder {
    /// Drop the system's events (marks and counters aside): a run must reach the same verdict without them.
    mute_system: bool,
    start: Mutex<Option<madsim::time::Instant>>,
    records: Mutex<Vec<Record>>,
    rpcs: AtomicU64,
    rpc_failures: AtomicU64,
    marks: Mutex<std::collections::BTreeMap<&'static str, MarkHits>>,
    /// The fault kinds active now, as the injector's start and heal records say (a kind may be active twice).
    active_faults: Mutex<Vec<crate::faults::FaultKind>>,
    /// What the faults that wait for a moment look at, fed by every system event, muted or not.
    pub moments: crate::faults::moments::Moments,
}

impl Recorder {
    /// A recorder; `mute_system` drops every event the system reports.
    pub fn new(mute_system: bool) -> Self {
        Recorder { mute_system, ..Recorder::default() }
    }

    /// Marks the start of simulated time; call from inside the runtime before anything is recorded.
    pub fn start_clock(&self) {
        *self.start.lock().expect("recorder lock") = Some(madsim::time::Instant::now());
    }

    fn now(&self) -> Duration {
        self.start.lock().expect("recorder lock").map(|s| s.elapsed()).unwrap_or_default()
    }

    pub fn record(&self, node: &Arc<str>, event: TraceEvent) {
        let at = self.now();
        self.records.lock().expect("recorder lock").push(Record { at, node: node.clone(), event });
    }

    pub fn harness(&self, node: &Arc<str>, event: HarnessEvent) {
        match &event {
            HarnessEvent::FaultStarted { spec } => self.active_faults.lock().expect("recorder lock").push(spec.kind()),
            HarnessEvent::FaultHealed { spec } => {
                let mut active = self.active_faults.lock().expect("recorder lock");
                if let Some(i) = active.iter().position(|k| *k == spec.kind()) {
                    active.remove(i);
                }
            }
            HarnessEvent::HealAll | HarnessEvent::HealCore { .. } => {
                self.active_faults.lock().expect("recorder lock").clear()
            }
            HarnessEvent::FaultStays { spec } => self.active_faults.lock().expect("recorder lock").push(spec.kind()),
            _ => {}
        }
        self.record(node, TraceEvent::Harness(event));
    }

    /// Counts one hit of a coverage mark, with its time and the fault kinds active.
    fn hit(&self, name: &'static str) {
        let at = self.now();
        let under: Vec<crate::faults::FaultKind> = self.active_faults.lock().expect("recorder lock").clone();
        let mut marks = self.marks.lock().expect("recorder lock");
        let hits = marks.entry(name).or_default();
        hits.count += 1;
        if hits.times.len() < MARK_TIMES_MAX {
            hits.times.push(at);
        }
        hits.under.extend(under);
    }

    /// Every mark reached, with its hits.
    pub fn mark_hits(&self) -> std::collections::BTreeMap<String, MarkHits> {
        self.marks.lock().expect("recorder lock").iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    pub fn rpcs(&self) -> u64 {
        self.rpcs.load(Ordering::Relaxed)
    }

    /// How often each coverage mark was reached.
    pub fn marks(&self) -> std::collections::BTreeMap<String, u64> {
        self.marks.lock().expect("recorder lock").iter().map(|(k, v)| (k.to_string(), v.count)).collect()
    }

    pub fn rpc_failures(&self) -> u64 {
        self.rpc_failures.load(Ordering::Relaxed)
    }

    pub fn take(&self) -> Vec<Record> {
        std::mem::take(&mut *self.records.lock().expect("recorder lock"))
    }

    /// Counts a coverage mark only the harness can see (one of [`crate::marks::HARNESS`]).
    pub fn harness_mark(&self, name: &'static str) {
        self.hit(name);
    }

    /// A sink bound to one node.
    pub fn sink(self: &Arc<Self>, node: &str) -> Arc<NodeSink> {
        Arc::new(NodeSink { node: node.into(), recorder: self.clone() })
    }
}

pub struct NodeSink {
    node: Arc<str>,
    recorder: Arc<Recorder>,
}

impl EventSink for NodeSink {
    fn emit(&self, event: Event) {
        self.recorder.moments.observe(&self.node, &event);
        if !self.recorder.mute_system {
            self.recorder.record(&self.node, TraceEvent::System(event));
        }
    }

    fn rpc_sent(&self) {
        self.recorder.rpcs.fetch_add(1, Ordering::Relaxed);
    }

    fn rpc_failed(&self) {
        self.recorder.rpc_failures.fetch_add(1, Ordering::Relaxed);
    }

    fn mark(&self, name: &'static str) {
        self.recorder.hit(name);
    }
}

/// A stable 64-bit FNV-1a hash over a canonical encoding of the trace: each record serialized (simulated time in
/// microseconds, node, the event's tag and typed fields), never its rendered text. Rewording a message or changing
/// how a duration is displayed leaves every hash, and so every snapshot, as it was.
pub fn hash(records: &[Record]) -> String {
    hash_records(records)
}

/// [`hash`] over any serializable records (generic so that a test can show that display text plays no part).
pub fn hash_records<T: Serialize>(records: &[T]) -> String {
    use std::hash::Hasher;
    struct Fnv(fnv::FnvHasher);
    impl std::io::Write for Fnv {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hasher = Fnv(fnv::FnvHasher::default());
    for record in records {
        serde_json::to_writer(&mut hasher, record).expect("trace records serialize");
        hasher.0.write_u8(b'\n');
    }
    format!("{:016x}", hasher.0.finish())
}
