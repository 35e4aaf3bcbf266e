//! Fairness, from the readers' side: no environment starves. When the scenario states a bound, every write
//! acknowledged to a client of the environments it names must be visible to that environment's reader (every
//! deployed schema's view at that version or newer) within the bound, whatever another environment is doing,
//! and also while the environment's own bulk work (a schema deploy) is queued. A plain FIFO queue fails this
//! under a noisy neighbour: the light environment's job waits behind the whole backlog.
//!
//! Freshness is measured from the acknowledgement to the first read that shows the write; a write never seen
//! is at least as late as the last read that did not show it.

use crate::model::Model;
use crate::outcome::{Violation, ViolationKind};
use crate::readers::Read;
use crate::scenario::Scenario;
use std::collections::BTreeMap;

pub fn check(scenario: &Scenario, model: &Model, reads: &[Read], found: &mut Vec<Violation>) {
    let Some(bound) = scenario.invariants.fresh_view_latency_max else { return };
    let envs = scenario.invariants.fairness_environments.clone().unwrap_or_else(|| scenario.env_names().to_vec());
    let mut by_entity: BTreeMap<(&str, &str), Vec<&Read>> = BTreeMap::new();
    for read in reads {
        by_entity.entry((&read.env, &read.entity)).or_default().push(read);
    }
    for (env, env_model) in model.envs.iter().filter(|(env, _)| envs.contains(env)) {
        let schemas = model.deployed_schemas(env);
        for (entity, writes) in &env_model.entities {
            let Some(reads_of) = by_entity.get(&(env.as_str(), entity.as_str())) else { continue };
            for write in writes {
                let (Some(version), Some(acked_at)) = (write.acked_version(), write.acked_at()) else { continue };
                let shows = |read: &&&&Read| {
                    schemas
                        .iter()
                        .all(|schema| read.views.iter().any(|v| v.schema == *schema && v.source_version >= version))
                };
                let after: Vec<&&Read> = reads_of.iter().filter(|r| r.at >= acked_at).collect();
                let (latency, how) = match after.iter().find(shows) {
                    Some(read) => (read.at - acked_at, "first seen by its reader"),
                    None => match after.last() {
                        Some(read) => (read.at - acked_at, "still not seen by its reader"),
                        None => continue,
                    },
                };
                if latency > bound.0 {
                    found.push(
                        Violation::new(
                            ViolationKind::Starvation,
                            format!(
                                "{version} acknowledged at {:.3}s was {how} {:.3}s later; the bound is {bound}",
                                acked_at.as_secs_f64(),
                                latency.as_secs_f64()
                            ),
                        )
                        .at(env, entity, None)
                        .versions(Some(version.0), None)
                        .at_ms((acked_at + latency).as_millis() as u64),
                    );
                }
            }
        }
    }
}
