//! Convergence (liveness): once faults heal and load stops, the system must, within the scenario's budget,
//! answer every client, drain its queue, and make every view of every environment reflect the newest version of
//! its source under the newest schema.
//!
//! If the system went quiet in time, every view behind its source is a `missing-view` or a `stale-view`: work
//! was silently dropped, since nothing is left that would repair it. If it did not go quiet in time, that is one
//! `not-converged` violation: the system may still have been working on it.

use super::history::History;
use crate::outcome::{Violation, ViolationKind};
use crate::world::FinalState;
use system::model::ViewKey;

pub fn check(history: &History, state: &FinalState, requests_given_up: u64, found: &mut Vec<Violation>) {
    let mut behind = Vec::new();
    for (env, env_state) in &state.envs {
        for (entity, source) in &env_state.sources {
            for (schema, def) in &env_state.schemas {
                let view = env_state.views.get(entity).and_then(|views| views.get(schema));
                let current = view.map(|v| (v.source_version, v.schema_version));
                if current.is_some_and(|c| c >= (source.version, def.version)) {
                    continue;
                }
                let key = ViewKey { env: env.clone(), entity: entity.clone(), schema: schema.clone() };
                behind.push((key, source.version, def.version, view.map(|v| v.source_version)));
            }
        }
    }
    if !state.quiescent || requests_given_up > 0 {
        let sample: Vec<String> = behind.iter().take(5).map(|(k, ..)| k.to_string()).collect();
        found.push(Violation::new(
            ViolationKind::NotConverged,
            format!(
                "the budget ran out before the system went quiet: queue pending={} leased={}, client requests in \
                 flight={}, given up={}, views behind their source={} (first: {})",
                state.queue.pending,
                state.queue.leased,
                state.requests_in_flight,
                requests_given_up,
                behind.len(),
                if sample.is_empty() { "none".to_string() } else { sample.join(", ") }
            ),
        ));
        return;
    }
    for (key, source_version, schema_version, view_version) in behind {
        let stored = history.stored_ms(&key.env, &key.entity, source_version);
        let kind = if view_version.is_none() { ViolationKind::MissingView } else { ViolationKind::StaleView };
        let mut violation = Violation::new(
            kind,
            format!(
                "the system went quiet without a view of {source_version} schema-v{schema_version}{}; {}",
                stored.map_or(String::new(), |ms| format!(" (source stored at {:.3}s)", ms as f64 / 1e3)),
                history.explain(&key)
            ),
        )
        .at(&key.env, &key.entity, Some(&key.schema))
        .versions(Some(source_version.0), view_version.map(|v| v.0));
        if let Some(ms) = stored {
            violation = violation.at_ms(ms);
        }
        found.push(violation);
    }
}
