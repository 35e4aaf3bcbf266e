//! Fairness: no environment starves. When the scenario states a bound, every new source version of the
//! environments it names must be in all of its views within that time of being stored, whatever another
//! environment is doing. A plain FIFO queue fails this under a noisy neighbour: the light environment's job waits
//! behind the whole backlog.

use super::history::History;
use crate::outcome::{Violation, ViolationKind};
use crate::scenario::Scenario;
use crate::world::FinalState;
use system::model::ViewKey;

pub fn check(scenario: &Scenario, history: &History, state: &FinalState, found: &mut Vec<Violation>) {
    let Some(bound) = scenario.invariants.fresh_view_latency_max else { return };
    let envs = scenario.invariants.fairness_environments.clone().unwrap_or_else(|| scenario.env_names().to_vec());
    for ((env, entity, version), stored_at) in &history.stored_at {
        if !envs.contains(env) {
            continue;
        }
        let Some(schemas) = state.envs.get(env).map(|e| &e.schemas) else { continue };
        for schema in schemas.keys() {
            let key = ViewKey { env: env.clone(), entity: entity.clone(), schema: schema.clone() };
            let Some(writes) = history.view_writes.get(&key) else { continue };
            // The first write that reflects this version or a newer one. If none, convergence reports it.
            let Some(write) = writes.iter().find(|w| w.source_version >= *version) else { continue };
            let latency = write.at.saturating_sub(*stored_at);
            if latency > bound.0 {
                found.push(
                    Violation::new(
                        ViolationKind::Starvation,
                        format!(
                            "{version} stored at {:.3}s reached its view only at {:.3}s, {:.3}s later; the bound is {bound}",
                            stored_at.as_secs_f64(),
                            write.at.as_secs_f64(),
                            latency.as_secs_f64()
                        ),
                    )
                    .at(env, entity, Some(schema))
                    .versions(Some(version.0), Some(write.source_version.0))
                    .at_ms(write.at.as_millis() as u64),
                );
            }
        }
    }
}
