//! Bounded work: the system does at most a stated factor of the necessary work. Necessary work is one job
//! per stored source version per schema of its environment, plus one per entity a deploy re-processes.
//! Job executions (leases, redeliveries included), RPCs, and retries (failed RPC attempts plus client retries)
//! must each stay within the scenario's percentage of it, so that a resume onto a backlog, or a retry loop without
//! backoff, shows up as a violation instead of passing because it eventually finished.

use super::history::History;
use crate::outcome::{Violation, ViolationKind};
use crate::scenario::Scenario;
use crate::world::{FinalState, Observation};

pub fn check(
    scenario: &Scenario,
    history: &History,
    state: &FinalState,
    observation: &Observation,
    found: &mut Vec<Violation>,
) {
    let mut necessary = history.deploy_jobs;
    for (env, _, _) in history.stored_at.keys() {
        necessary += state.envs.get(env).map_or(0, |e| e.schemas.len() as u64);
    }
    let necessary = necessary.max(1);
    let bounds = &scenario.invariants;
    let allowance = bounds.work_allowance.get();
    let over = |done: u64, percent: u64| done * 100 > necessary * percent + allowance * 100;
    let executions = history.leases;
    if over(executions, bounds.executions_percent_max.get()) {
        found.push(Violation::new(
            ViolationKind::UnboundedWork,
            format!(
                "{executions} job executions for {necessary} necessary jobs ({}%); the bound is {}% plus {allowance}",
                executions * 100 / necessary,
                bounds.executions_percent_max.get()
            ),
        ));
    }
    let rpcs = observation.rpcs_sent;
    if over(rpcs, bounds.rpcs_percent_max.get()) {
        found.push(Violation::new(
            ViolationKind::UnboundedWork,
            format!(
                "{rpcs} RPCs for {necessary} necessary jobs ({}%); the bound is {}% plus {allowance}",
                rpcs * 100 / necessary,
                bounds.rpcs_percent_max.get()
            ),
        ));
    }
    let retries = observation.rpcs_failed + observation.load.retries;
    let outage_allowance = (observation.disruption.as_secs_f64() * bounds.retries_per_fault_second.get() as f64) as u64;
    if retries > outage_allowance && over(retries - outage_allowance, bounds.retries_percent_max.get()) {
        found.push(Violation::new(
            ViolationKind::UnboundedWork,
            format!(
                "{retries} retries ({} failed RPC attempts, {} client retries) for {necessary} necessary jobs ({}%) \
                 and {:.1}s of faults; the bound is {}% plus {allowance}, plus {} per second of faults",
                observation.rpcs_failed,
                observation.load.retries,
                retries * 100 / necessary,
                observation.disruption.as_secs_f64(),
                bounds.retries_percent_max.get(),
                bounds.retries_per_fault_second.get()
            ),
        ));
    }
}
