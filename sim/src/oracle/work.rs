//! Bounded work, measured from outside the system: the messages the simulated network delivered (the readers'
//! and the checker's left out) and the clients' retries must each stay within the scenario's percentage of the
//! necessary work, so that a resume onto a backlog, a redelivery loop, or a retry loop without backoff shows up
//! as a violation instead of passing because it eventually finished. The system's own counters are not used:
//! work it does not report is counted all the same.
//!
//! Necessary work follows from the clients' records: one job per schema for every write that changed its
//! entity's content (in the client's order), plus one per entity a deploy re-processes.

use crate::model::Model;
use crate::outcome::{Violation, ViolationKind};
use crate::scenario::Scenario;
use crate::world::Observation;

/// The jobs a correct system needs for what the clients sent.
pub fn necessary_jobs(model: &Model) -> u64 {
    let mut necessary = 0u64;
    for (env, env_model) in &model.envs {
        let schemas = model.deployed_schemas(env).len() as u64;
        for writes in env_model.entities.values() {
            let changes = writes.iter().enumerate().filter(|(i, w)| *i == 0 || writes[i - 1].payload != w.payload);
            necessary += changes.count() as u64 * schemas;
        }
        for schema in env_model.schemas.values() {
            for deploy in &schema.deploys {
                let Some((_, at)) = deploy.acked else { continue };
                let entities = env_model.entities.values().filter(|w| w.first().is_some_and(|w| w.sent_at <= at));
                necessary += entities.count() as u64;
            }
        }
    }
    necessary.max(1)
}

pub fn check(scenario: &Scenario, model: &Model, observation: &Observation, found: &mut Vec<Violation>) {
    let necessary = necessary_jobs(model);
    let bounds = &scenario.invariants;
    let allowance = bounds.work_allowance.get();
    let outage = (observation.disruption.as_secs_f64() * bounds.retries_per_fault_second.get() as f64) as u64;
    let over = |done: u64, percent: u64| done > outage && (done - outage) * 100 > necessary * percent + allowance * 100;
    // Idle long polls are waiting, not work: each worker keeps one open at a time, and a correct one lasts most of
    // an RPC timeout (see the worker). Up to twice that rate is excused, so a run that lasts longer (a liveness
    // phase that waits out a clock fault's lease) is not taken for one that works more; polls faster than that
    // (a busy loop of empty polls) still count.
    let config = crate::world::system_config(scenario);
    let poll_ms = (config.rpc_timeout.as_millis() as u64 * 8 / 10).max(1);
    let polls_allowed =
        2 * 2 * scenario.topology.workers.get() * (observation.simulated.as_millis() as u64 / poll_ms + 1);
    let idle = observation.idle_poll_messages.min(polls_allowed);
    let messages = observation.net_messages.saturating_sub(observation.observer_messages).saturating_sub(idle);
    if over(messages, bounds.messages_percent_max.get()) {
        found.push(Violation::new(
            ViolationKind::UnboundedWork,
            format!(
                "{messages} messages for {necessary} necessary jobs ({}%) and {:.1}s of faults; the bound is {}% plus \
                 {allowance}, plus {} per second of faults",
                messages * 100 / necessary,
                observation.disruption.as_secs_f64(),
                bounds.messages_percent_max.get(),
                bounds.retries_per_fault_second.get()
            ),
        ));
    }
    let retries = observation.load.retries;
    if over(retries, bounds.retries_percent_max.get()) {
        found.push(Violation::new(
            ViolationKind::UnboundedWork,
            format!(
                "{retries} client retries for {necessary} necessary jobs ({}%) and {:.1}s of faults; the bound is {}% \
                 plus {allowance}, plus {} per second of faults",
                retries * 100 / necessary,
                observation.disruption.as_secs_f64(),
                bounds.retries_percent_max.get(),
                bounds.retries_per_fault_second.get()
            ),
        ));
    }
}
