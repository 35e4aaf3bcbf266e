//! The verdict on a run: the oracle's judgement of what the run observed (or the crash that ended it), with the
//! run's statistics and trace hash. Shared by the simulated run and the live one.

use crate::faults::FaultSpec;
use crate::oracle;
use crate::outcome::{Outcome, Stats, Verdict, Violation, ViolationKind};
use crate::scenario::LoadedScenario;
use crate::trace::{self, Record, Recorder, TraceEvent};
use std::sync::Arc;
use system::events::Event;

/// Turns what a run left behind (its recorder, and its observation or the panic that ended it) into its result:
/// the oracle's verdict, or a crash violation, with statistics and the trace hash.
pub fn judge(
    scenario: &LoadedScenario,
    seed: u64,
    plan: Vec<FaultSpec>,
    recorder: &Arc<Recorder>,
    result: Result<super::Observation, String>,
    wall_start: std::time::Instant,
) -> (Outcome, Vec<Record>) {
    let s = &scenario.scenario;
    let trace = recorder.take();
    let mut stats = stats_from(&trace);
    let violations = match result {
        Ok(observation) => {
            stats.ingests_sent = observation.load.sent;
            stats.ingest_retries = observation.load.retries;
            stats.ingests_busy = observation.load.busy;
            stats.ingests_abandoned = observation.load.abandoned;
            stats.ingests_given_up = observation.load.given_up;
            stats.ingests_acked = observation.writes.iter().filter(|w| w.acked_at().is_some()).count() as u64;
            stats.deploys = observation.deploys.iter().filter(|d| d.acked.is_some()).count() as u64;
            stats.reads = observation.reads.len() as u64;
            stats.net_messages = observation.net_messages;
            stats.observer_messages = observation.observer_messages;
            stats.simulated_ms = observation.simulated.as_millis() as u64;
            let model = crate::model::Model::new(&observation.writes, &observation.deploys);
            stats.necessary_jobs = oracle::work::necessary_jobs(&model);
            let mut fresh: Vec<u64> = oracle::fairness::freshness(&model, &observation.reads, s.env_names())
                .iter()
                .filter(|f| f.seen)
                .map(|f| f.latency.as_millis() as u64)
                .collect();
            fresh.sort_unstable();
            stats.freshness_p50_ms = fresh.get(fresh.len() / 2).copied().unwrap_or(0);
            stats.freshness_max_ms = fresh.last().copied().unwrap_or(0);
            if let Some(bound) = oracle::fairness::bound(s, &observation.fault_windows, &observation.points_on) {
                stats.fresh_bound_ms = bound.latency.as_millis() as u64;
                stats.fresh_judged = oracle::fairness::judged(&bound, &model, &observation.reads) as u64;
            }
            oracle::check_with(s, &trace, &observation, &model)
        }
        Err(message) => {
            stats.simulated_ms = trace.last().map_or(0, |r| r.at.as_millis() as u64);
            vec![crash_violation(&message, stats.simulated_ms)]
        }
    };
    stats.environments = s.env_names().len() as u64;
    stats.rpcs_sent = recorder.rpcs();
    stats.rpcs_failed = recorder.rpc_failures();
    stats.faults = crate::faults::counts(&plan);
    stats.marks = recorder.marks();
    stats.wall_ms = wall_start.elapsed().as_millis() as u64;
    let outcome = Outcome {
        scenario: scenario.name.clone(),
        seed,
        verdict: if violations.is_empty() { Verdict::Pass } else { Verdict::Fail },
        fingerprint: crate::explain::fingerprint(&trace, &violations),
        violations,
        stats,
        trace_hash: trace::hash(&trace),
        fault_plan: plan,
        branches: scenario.branches.clone(),
        points: crate::faults::points::resolve(
            &s.faults.points,
            &crate::branch::Streams::new(seed, &scenario.branches),
        )
        .into_iter()
        .map(|(point, _)| point)
        .collect(),
    };
    (outcome, trace)
}

/// madsim's panic message when every task is blocked and no timer is pending (madsim 0.2.34, pinned exactly in
/// `Cargo.toml`; `tests/.../determinism.rs` checks it against the real runtime).
pub const MADSIM_DEADLOCK: &str = "no events, all tasks will block forever";
/// madsim's panic message when a run passes its time limit.
pub const MADSIM_TIME_LIMIT: &str = "time limit exceeded";

/// Classifies a panic that ended the simulation. madsim reports a deadlock and an exceeded time limit as
/// panics with fixed messages; anything else is a node (or harness) panic.
pub fn classify_crash(message: &str) -> ViolationKind {
    if message.contains(MADSIM_DEADLOCK) {
        ViolationKind::Deadlock
    } else if message.contains(MADSIM_TIME_LIMIT) {
        ViolationKind::TimeLimit
    } else {
        ViolationKind::Panic
    }
}

/// The system's own code, by the paths its panics carry: a panic anywhere else (the harness, madsim) is not the
/// system's failure.
const SYSTEM_SOURCES: &str = "system/src/";

/// What a panic that ended a run was: a deadlock, a time limit, the system's panic, or the harness's own (a panic
/// whose location is outside the system's sources: the harness, or madsim beneath it).
pub fn crash_kind(message: &str) -> ViolationKind {
    match classify_crash(message) {
        ViolationKind::Panic => match message.rsplit_once(" at ") {
            Some((_, location)) if !location.starts_with(SYSTEM_SOURCES) => ViolationKind::HarnessError,
            _ => ViolationKind::Panic,
        },
        kind => kind,
    }
}

fn crash_violation(message: &str, at_ms: u64) -> Violation {
    Violation::new(crash_kind(message), message.to_string()).at_ms(at_ms)
}

/// Counts events of the trace into statistics. Statistics describe a run; they never decide its verdict.
fn stats_from(trace: &[Record]) -> Stats {
    let mut st = Stats { trace_events: trace.len() as u64, ..Stats::default() };
    for record in trace {
        match &record.event {
            TraceEvent::System(event) => match event {
                Event::SourceStored { .. } => st.sources_stored += 1,
                Event::JobEnqueued { .. } => st.jobs_enqueued += 1,
                Event::JobCoalesced { .. } => st.jobs_coalesced += 1,
                Event::EnqueueBusy { .. } => st.enqueues_busy += 1,
                Event::JobLeased { .. } => st.jobs_leased += 1,
                Event::LeaseExpired { .. } => st.leases_expired += 1,
                Event::JobRedelivered { .. } => st.jobs_redelivered += 1,
                Event::JobCompleted { .. } => st.jobs_completed += 1,
                Event::JobAbandoned { .. } => st.jobs_abandoned += 1,
                Event::AckRefused { .. } => st.acks_refused += 1,
                Event::ViewWritten { .. } => st.views_written += 1,
                Event::ViewWriteRefused { .. } => st.view_writes_refused += 1,
                _ => {}
            },
            TraceEvent::Harness(_) => {}
        }
    }
    st
}
