//! Executes a fault plan against a running cluster: each event starts at its time and heals after its
//! duration; at the start of the liveness phase everything still active is healed at once.

use super::clock::{Change, SimClock};
use super::disk::{CrashMode, SimDisk};
use super::net::FaultNet;
use super::{Fault, FaultKind, FaultSpec};
use crate::branch::Branch;
use crate::load::LoadControl;
use crate::trace::{HarnessEvent, Recorder};
use madsim::runtime::Handle;
use madsim::task::NodeId;
use madsim::time::Instant;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a crash waiting for its moment looks at the disk.
const MOMENT_POLL: Duration = Duration::from_millis(1);
/// How long a node stays down when a fault restarts it to meet what it starts (`read-error`).
const RESTART_PAUSE: Duration = Duration::from_millis(50);

/// A node the faults can target.
pub struct NodeInfo {
    pub id: NodeId,
    pub ip: IpAddr,
    pub clock: Arc<SimClock>,
    pub disks: Vec<Arc<SimDisk>>,
}

pub use crate::world::operator::Deployer;

/// Everything the injector acts on.
pub struct Cluster {
    /// The system's nodes, by name: the targets of faults.
    pub nodes: BTreeMap<String, NodeInfo>,
    /// Every node of the run (clients and checker included), for partitions.
    pub all: Vec<NodeId>,
    pub workers: Vec<String>,
    pub net: Arc<FaultNet>,
    pub load: Arc<LoadControl>,
    pub deployer: Deployer,
}

#[derive(Default)]
struct Held {
    crashed: BTreeMap<String, u32>,
    paused: BTreeMap<String, u32>,
}

pub struct Injector {
    cluster: Cluster,
    recorder: Arc<Recorder>,
    node: Arc<str>,
    held: Mutex<Held>,
    /// `liveness = "core"`: the nodes healed before the liveness phase. A fault touching only other nodes never
    /// heals.
    core: Option<BTreeSet<String>>,
    /// The faults whose heal was skipped because they lie outside the core, in the order they would have healed.
    stayed: Mutex<Vec<FaultSpec>>,
}

impl Injector {
    pub fn new(cluster: Cluster, recorder: Arc<Recorder>, core: Option<BTreeSet<String>>) -> Self {
        Self {
            cluster,
            recorder,
            node: "faults".into(),
            held: Mutex::new(Held::default()),
            core,
            stayed: Mutex::new(Vec::new()),
        }
    }

    /// The faults outside the core whose heal was skipped so far.
    pub fn stayed(&self) -> Vec<FaultSpec> {
        self.stayed.lock().expect("injector lock").clone()
    }

    /// Whether a fault lies outside the core (so it never heals): it touches only nodes outside it, and cuts no
    /// link between two nodes of it. Faults on the whole network, on a disk (only core nodes have one) or on the
    /// load always heal.
    pub fn stays(&self, spec: &FaultSpec) -> bool {
        let Some(core) = &self.core else { return false };
        let outside = |node: &str| node != "network" && !core.contains(node);
        match &spec.fault {
            Fault::Crash { target, .. }
            | Fault::Pause { target, .. }
            | Fault::Isolate { target, .. }
            | Fault::Loss { target, .. }
            | Fault::Duplicate { target, .. }
            | Fault::ClockOffset { target, .. }
            | Fault::ClockDrift { target, .. }
            | Fault::ClockJump { target, .. }
            | Fault::CrashAfterAck { target, .. }
            | Fault::PauseWhileLeased { target, .. }
            | Fault::CutDuringViews { target, .. } => outside(target),
            Fault::Latency { target: Some(target), .. } => outside(target),
            Fault::Latency { from: Some(from), to: Some(to), .. } | Fault::Cut { from, to, .. } => {
                outside(from) || outside(to)
            }
            Fault::Split { group, .. } => group.iter().all(|node| outside(node)),
            _ => false,
        }
    }

    /// Runs the plan, with times relative to `start`, and takes each branch at its time (see [`crate::branch`]):
    /// a few draws from madsim's generator that re-randomize everything after it. Returns when the last event
    /// has healed.
    pub async fn run(self: &Arc<Self>, plan: &[FaultSpec], branches: &[Branch], start: Instant) {
        // At one instant: branch points, then starts in plan order, then heals (a stable sort keeps plan order).
        let mut steps: Vec<(Duration, u8, usize)> = Vec::new();
        for (i, branch) in branches.iter().enumerate() {
            steps.push((branch.at.0, 0, i));
        }
        for (i, spec) in plan.iter().enumerate() {
            steps.push((spec.at.0, 1, i));
            if spec.duration().is_some() {
                steps.push((spec.end(), 2, i));
            }
        }
        steps.sort_by_key(|&(at, rank, _)| (at, rank));
        for (at, rank, i) in steps {
            // Steps due at the same instant run back to back: sleeping for a deadline already passed would still
            // yield and let time move on.
            if Instant::now() < start + at {
                madsim::time::sleep_until(start + at).await;
            }
            match rank {
                0 => self.branch(&branches[i]),
                1 => self.apply(&plan[i], true),
                _ if self.stays(&plan[i]) => self.stayed.lock().expect("injector lock").push(plan[i].clone()),
                _ => self.apply(&plan[i], false),
            }
        }
    }

    /// Takes a branch: madsim's generator gives up a few values, so scheduling, latencies and the system's jitter
    /// go another way from here (the harness's own streams switch by themselves).
    fn branch(&self, branch: &Branch) {
        use madsim::rand::Rng;
        self.note(HarnessEvent::BranchTaken { child: branch.child });
        for _ in 0..branch.perturbation() {
            let _: u64 = madsim::rand::thread_rng().gen();
        }
    }

    fn note(&self, event: HarnessEvent) {
        self.recorder.harness(&self.node, event);
    }

    fn info(&self, name: &str) -> &NodeInfo {
        self.cluster.nodes.get(name).expect("fault targets are validated against the cluster")
    }

    /// Directed links between `a` and every node in `b`, both ways.
    fn links_between(&self, a: &[NodeId], b: &[NodeId]) -> Vec<(NodeId, NodeId)> {
        let mut links = Vec::new();
        for &x in a {
            for &y in b {
                if x != y {
                    links.push((x, y));
                    links.push((y, x));
                }
            }
        }
        links
    }

    fn apply(self: &Arc<Self>, spec: &FaultSpec, on: bool) {
        self.note(if on {
            HarnessEvent::FaultStarted { spec: Box::new(spec.clone()) }
        } else {
            HarnessEvent::FaultHealed { spec: Box::new(spec.clone()) }
        });
        self.effect(spec, on);
    }

    /// What a fault does to the cluster when it starts (`on`) or heals.
    fn effect(self: &Arc<Self>, spec: &FaultSpec, on: bool) {
        let net = &self.cluster.net;
        let disks = |target: &str| self.info(target).disks.clone();
        match &spec.fault {
            Fault::Loss { target, loss_percent, .. } => match target.as_str() {
                "network" => net.network_loss(loss_percent.get(), on),
                node => net.node_loss(self.info(node).ip, loss_percent.get(), on),
            },
            Fault::Latency { target, from, to, latency, tail, .. } => {
                let delay = super::net::Delay { latency: latency.0, tail: *tail == super::Tail::Pareto };
                match (target.as_deref(), from, to) {
                    (Some("network"), ..) => net.network_delay(delay, on),
                    (Some(node), ..) => net.node_delay(self.info(node).ip, delay, on),
                    (None, Some(from), Some(to)) => net.link_delay(self.info(from).ip, self.info(to).ip, delay, on),
                    _ => {}
                }
            }
            Fault::Isolate { target, .. } => {
                let id = self.info(target).id;
                net.clog(&self.links_between(&[id], &self.cluster.all), on);
            }
            Fault::Split { group, .. } => {
                let group: Vec<NodeId> = group.iter().map(|name| self.info(name).id).collect();
                let rest: Vec<NodeId> = self.cluster.all.iter().copied().filter(|id| !group.contains(id)).collect();
                net.clog(&self.links_between(&group, &rest), on);
            }
            Fault::Cut { from, to, .. } => net.clog(&[(self.info(from).id, self.info(to).id)], on),
            Fault::Duplicate { target, duplicate_percent, delay, .. } => {
                let at = (target != "network").then(|| self.info(target).ip);
                net.duplicates(at, duplicate_percent.get(), delay.0, on)
            }
            Fault::ClockOffset { target, offset, .. } => self.clock(target, Change::Offset(offset.micros()), on),
            Fault::ClockDrift { target, drift_ppm, .. } => self.clock(target, Change::Drift(drift_ppm.0), on),
            // Healing a jump is the correction: NTP slews the clock back to true time.
            Fault::ClockJump { target, offset, .. } => self.clock(target, Change::Jump(offset.micros()), on),
            Fault::Crash { target, .. } => self.crash(target, on, CrashMode::Clean),
            Fault::TornWrite { .. } | Fault::CorruptWrite { .. } | Fault::CompactionCrash { .. } => {
                // The task crashes the node at the moment and restarts it at the end; the heal step does nothing.
                if on {
                    self.crash_at_moment(spec);
                }
            }
            Fault::SyncFail { target, .. } => disks(target).iter().for_each(|d| d.set_failing_syncs(on)),
            Fault::DiskFull { target, .. } => disks(target).iter().for_each(|d| d.set_full(on)),
            Fault::DiskSlow { target, latency, tail, .. } => {
                let tail = *tail == super::Tail::Pareto;
                disks(target).iter().for_each(|d| d.set_slow(latency.0, tail, on))
            }
            Fault::ReadError { target, error_percent, .. } => {
                disks(target).iter().for_each(|d| d.set_read_errors(error_percent.get(), on));
                if on {
                    self.restart_now(target);
                }
            }
            Fault::CrashAfterAck { .. } | Fault::PauseWhileLeased { .. } | Fault::CutDuringViews { .. } => {
                // The task waits for the moment, acts, and undoes what it did when the fault ends; the heal step
                // does nothing.
                if on {
                    self.act_at_moment(spec);
                }
            }
            Fault::Pause { target, .. } => self.pause(std::slice::from_ref(target), on),
            Fault::PauseWorkers { .. } => self.pause(&self.cluster.workers.clone(), on),
            Fault::Burst { environments, rate_percent, .. } => {
                for env in environments {
                    self.cluster.load.set_rate(env, rate_percent.get(), on);
                }
            }
            Fault::Deploy { environment, schema, fields } => {
                if on {
                    (self.cluster.deployer)(environment.clone(), schema.clone(), fields.clone());
                }
            }
        }
    }

    /// Starts or heals one clock fault of a node, and records the clock that results: the clock that ran, which
    /// the timeline and explanations show, not only the faults as planned.
    fn clock(&self, target: &str, change: Change, on: bool) {
        let clock = &self.info(target).clock;
        let offset_us = if on { clock.start(change) } else { clock.heal(change) };
        self.note(HarnessEvent::ClockSet { node: target.to_string(), offset_us });
    }

    /// Crashes a node at the moment its kind is about (a write cached and not synced, one that can be torn, or a
    /// compaction in flight), waiting for it at most three quarters of the fault's duration (these moments come
    /// less often than the events the other moment faults wait for: a compaction every few seconds, a write
    /// across a sector boundary in one sync of several), and restarts the node when the fault ends.
    fn crash_at_moment(self: &Arc<Self>, spec: &FaultSpec) {
        let injector = self.clone();
        let name = spec.target().unwrap_or_default().to_string();
        let kind = spec.kind();
        let duration = spec.duration().unwrap_or_default();
        let end = Instant::now() + duration;
        let deadline = Instant::now() + duration * 3 / 4;
        madsim::task::spawn(async move {
            let ready = |disk: &SimDisk| match kind {
                FaultKind::CompactionCrash => disk.compacting(),
                FaultKind::TornWrite => disk.tearable(),
                _ => disk.cached_bytes() > 0,
            };
            while !injector.info(&name).disks.iter().any(|d| ready(d)) && Instant::now() < deadline {
                madsim::time::sleep(MOMENT_POLL).await;
            }
            let mode = match kind {
                FaultKind::TornWrite => CrashMode::Torn,
                FaultKind::CorruptWrite => CrashMode::Corrupt,
                _ => CrashMode::Clean,
            };
            injector.crash(&name, true, mode);
            madsim::time::sleep_until(end).await;
            injector.crash(&name, false, mode);
        });
    }

    /// A fault that waits for its moment (see [`super::moments`]), at most half its duration: then it crashes,
    /// pauses or cuts, and undoes that when the fault ends. Met in time, the moment is a coverage mark.
    fn act_at_moment(self: &Arc<Self>, spec: &FaultSpec) {
        let injector = self.clone();
        let name = spec.target().unwrap_or_default().to_string();
        let kind = spec.kind();
        let duration = spec.duration().unwrap_or_default();
        let end = Instant::now() + duration;
        let deadline = Instant::now() + duration * 3 / 4;
        madsim::task::spawn(async move {
            let moments = &injector.recorder.moments;
            let acks = |name: &str| {
                moments.acks(name) + injector.info(name).disks.iter().map(|d| d.stats().syncs).sum::<u64>()
            };
            let (acked, rendered) = (acks(&name), moments.renders(&name));
            let met = || match kind {
                FaultKind::CrashAfterAck => acks(&name) > acked,
                FaultKind::PauseWhileLeased => moments.holds_lease(&name),
                _ => moments.renders(&name) > rendered,
            };
            while !met() && Instant::now() < deadline {
                madsim::time::sleep(MOMENT_POLL).await;
            }
            if met() {
                injector.recorder.harness_mark(match kind {
                    FaultKind::CrashAfterAck => crate::marks::MOMENT_AFTER_ACK,
                    FaultKind::PauseWhileLeased => crate::marks::MOMENT_LEASE_HELD,
                    _ => crate::marks::MOMENT_VIEWS_IN_FLIGHT,
                });
            }
            let act = |on: bool| match kind {
                FaultKind::CrashAfterAck => injector.crash(&name, on, CrashMode::Clean),
                FaultKind::PauseWhileLeased => injector.pause(std::slice::from_ref(&name), on),
                _ => {
                    let (store, worker) = (injector.info("store").id, injector.info(&name).id);
                    injector.cluster.net.clog(&[(store, worker)], on);
                }
            };
            act(true);
            madsim::time::sleep_until(end).await;
            act(false);
        });
    }

    /// Crashes a node cleanly and restarts it a moment later, so that it boots into the fault just started.
    fn restart_now(self: &Arc<Self>, name: &str) {
        let injector = self.clone();
        let name = name.to_string();
        madsim::task::spawn(async move {
            injector.crash(&name, true, CrashMode::Clean);
            madsim::time::sleep(RESTART_PAUSE).await;
            injector.crash(&name, false, CrashMode::Clean);
        });
    }

    fn crash(&self, name: &str, on: bool, mode: CrashMode) {
        let info = self.info(name);
        let mut held = self.held.lock().expect("injector lock");
        let count = held.crashed.entry(name.to_string()).or_insert(0);
        if on {
            *count += 1;
            if *count == 1 {
                Handle::current().kill(info.id);
                let mut crash = HarnessEvent::NodeCrashed {
                    node: name.to_string(),
                    cached_bytes: 0,
                    kept_bytes: 0,
                    flipped: false,
                    compacting: false,
                };
                for disk in &info.disks {
                    let report = disk.crash(mode);
                    if let HarnessEvent::NodeCrashed { cached_bytes, kept_bytes, flipped, compacting, .. } = &mut crash
                    {
                        *cached_bytes += report.cached;
                        *kept_bytes += report.kept;
                        *flipped |= report.flipped;
                        *compacting |= report.compacting;
                    }
                    if report.cached > 0 {
                        self.recorder.harness_mark(crate::marks::CRASH_BEFORE_SYNC);
                    }
                    if report.compacting {
                        self.recorder.harness_mark(crate::marks::CRASH_DURING_COMPACTION);
                    }
                    if report.untruncated {
                        self.recorder.harness_mark(crate::marks::TRUNCATE_UNDONE);
                    }
                }
                drop(held);
                self.note(crash);
            }
        } else if *count > 0 {
            *count -= 1;
            if *count == 0 {
                Handle::current().restart(info.id);
            }
        }
    }

    fn pause(&self, names: &[String], on: bool) {
        let mut held = self.held.lock().expect("injector lock");
        for name in names {
            let id = self.info(name).id;
            let count = held.paused.entry(name.clone()).or_insert(0);
            if on {
                *count += 1;
                if *count == 1 {
                    Handle::current().pause(id);
                }
            } else if *count > 0 {
                *count -= 1;
                if *count == 0 {
                    Handle::current().resume(id);
                }
            }
        }
    }

    /// Heals every fault still active: the network, clocks, crashed and paused nodes, load rates. Returns the
    /// furthest ahead of true time any node's clock was during the run: leases it granted then may outlast the
    /// heal by that much.
    pub fn heal_all(self: &Arc<Self>) -> Duration {
        self.cluster.net.heal_all();
        if self.core.is_some() {
            // The network's faults outside the core come back at once, as they were: nothing outside the core
            // saw a moment of health.
            let stayed = self.stayed.lock().expect("injector lock").clone();
            for spec in stayed.iter().filter(|spec| spec.kind().is_network()) {
                self.effect(spec, true);
            }
        }
        let in_core = |name: &str| self.core.as_ref().is_none_or(|core| core.contains(name));
        let mut ahead = Duration::ZERO;
        for (name, info) in &self.cluster.nodes {
            ahead = ahead.max(info.clock.ahead_max());
            if !in_core(name) {
                continue;
            }
            let offset_us = info.clock.reset();
            if offset_us != 0 {
                // The step back (or forward) is part of the clock that ran: the trace and explanations show it.
                self.note(HarnessEvent::ClockSet { node: name.to_string(), offset_us: 0 });
            }
            ahead = ahead.max(info.clock.ahead_max());
            for disk in &info.disks {
                disk.heal();
            }
        }
        let mut held = self.held.lock().expect("injector lock");
        let crashed = std::mem::take(&mut held.crashed);
        let (crashed, staying): (BTreeMap<_, _>, BTreeMap<_, _>) = crashed.into_iter().partition(|(n, _)| in_core(n));
        held.crashed = staying;
        for (name, count) in crashed {
            if count > 0 {
                Handle::current().restart(self.info(&name).id);
            }
        }
        let paused = std::mem::take(&mut held.paused);
        let (paused, staying): (BTreeMap<_, _>, BTreeMap<_, _>) = paused.into_iter().partition(|(n, _)| in_core(n));
        held.paused = staying;
        for (name, count) in paused {
            if count > 0 {
                Handle::current().resume(self.info(&name).id);
            }
        }
        drop(held);
        self.cluster.load.reset();
        match &self.core {
            None => self.note(HarnessEvent::HealAll),
            Some(core) => {
                self.note(HarnessEvent::HealCore { core: core.iter().cloned().collect() });
                for spec in self.stayed.lock().expect("injector lock").iter() {
                    self.note(HarnessEvent::FaultStays { spec: Box::new(spec.clone()) });
                }
            }
        }
        ahead
    }
}
