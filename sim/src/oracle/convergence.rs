//! Convergence (liveness), against the reference model: once faults heal and load stops, the system must,
//! within the scenario's budget, answer every client and go quiet, and then every entity of every environment
//! must have a view of each deployed schema that renders its current content (checked by the durability and
//! integrity checks to be a content the client legitimately left current) with the fields of the last
//! acknowledged deploy of that schema. Acknowledged deploys must be what the store lists at the end.
//!
//! If the system went quiet in time, every view behind is a `missing-view` or a `stale-view`: work was silently
//! dropped, since nothing is left that would repair it. If it did not go quiet in time, that is one
//! `not-converged` violation: the system may still have been working on it.

use super::history::History;
use crate::model::{render, Model};
use crate::outcome::{Violation, ViolationKind};
use crate::world::FinalState;
use system::model::ViewKey;

pub fn check(model: &Model, state: &FinalState, given_up: u64, history: &History, found: &mut Vec<Violation>) {
    unanswered_deploys(model, found);
    deploys(model, state, found);
    let mut behind: Vec<(ViewKey, Violation)> = Vec::new();
    for (env, env_model) in &model.envs {
        let Some(env_state) = state.envs.get(env) else { continue };
        for entity in env_model.entities.keys() {
            // An entity without a source: lost if acknowledged (durability says so), legitimately absent if not.
            let Some(source) = env_state.sources.get(entity) else { continue };
            for schema in model.deployed_schemas(env) {
                let Some((schema_version, fields)) = model.schema(env, schema).and_then(|s| s.expected()) else {
                    continue;
                };
                let expected = (source.version, schema_version);
                let key = ViewKey { env: env.clone(), entity: entity.clone(), schema: schema.into() };
                let view = env_state.views.get(entity).and_then(|views| views.get(schema));
                let problem = match view {
                    None => Some((ViolationKind::MissingView, "no view at all".to_string())),
                    Some(v) if (v.source_version, v.schema_version) < expected => Some((
                        ViolationKind::StaleView,
                        format!("the view shows {} schema-v{}", v.source_version, v.schema_version),
                    )),
                    Some(v)
                        if (v.source_version, v.schema_version) == expected
                            && *v.fields != render(fields, &source.payload) =>
                    {
                        Some((
                            ViolationKind::StaleView,
                            format!("the view at {} shows {:?}", v.source_version, v.fields),
                        ))
                    }
                    Some(_) => None,
                };
                let Some((kind, what)) = problem else { continue };
                let violation = Violation::new(
                    kind,
                    format!(
                        "the system went quiet without a view of {} schema-v{schema_version} (the current content, \
                         under the last acknowledged deploy): {what}; {}",
                        source.version,
                        history.explain(&key)
                    ),
                )
                .at(env, entity, Some(schema))
                .versions(Some(source.version.0), view.map(|v| v.source_version.0));
                behind.push((key, violation));
            }
        }
    }
    if !state.quiescent || given_up > 0 {
        let sample: Vec<String> = behind.iter().take(5).map(|(k, _)| k.to_string()).collect();
        // The system's own statistics, asked for only now and only to help a reader: they decide nothing.
        let said = state.system_said.as_ref().map_or("its statistics did not answer".to_string(), |(q, outbox)| {
            format!("its statistics said queue pending={} leased={}, outbox={outbox}", q.pending, q.leased)
        });
        found.push(Violation::new(
            ViolationKind::NotConverged,
            format!(
                "the budget ran out before the system was seen to go quiet (the network still carried work, the \
                 readings still changed, or clients still waited): client requests in flight={}, given up={}, \
                 views behind={} (first: {}); {said}",
                state.requests_in_flight,
                given_up,
                behind.len(),
                if sample.is_empty() { "none".to_string() } else { sample.join(", ") }
            ),
        ));
        return;
    }
    found.extend(behind.into_iter().map(|(_, v)| v));
}

/// Every deploy is answered: the operator retries a bounded number of times, until the run's budget ends, and a
/// deploy the system never answered is work it never finished.
fn unanswered_deploys(model: &Model, found: &mut Vec<Violation>) {
    for (env, env_model) in &model.envs {
        for (name, schema) in &env_model.schemas {
            for deploy in schema.deploys.iter().filter(|d| d.acked.is_none()) {
                found.push(
                    Violation::new(
                        ViolationKind::NotConverged,
                        format!(
                            "the deploy of fields {:?} sent at {:.3}s was never answered ({} attempts, until the \
                             deadline)",
                            deploy.fields,
                            deploy.sent_at.as_secs_f64(),
                            deploy.attempts
                        ),
                    )
                    .on_schema(env, name)
                    .at_ms(deploy.sent_at.as_millis() as u64),
                );
            }
        }
    }
}

/// Every acknowledged deploy is durable: the store lists the schema at the acknowledged version or a later one,
/// and at that version with the deployed fields.
fn deploys(model: &Model, state: &FinalState, found: &mut Vec<Violation>) {
    for (env, env_model) in &model.envs {
        for (name, schema) in &env_model.schemas {
            let Some((version, fields)) = schema.expected() else { continue };
            let listed = state.envs.get(env).and_then(|e| e.schemas.get(name.as_str()));
            let problem = match listed {
                None => Some("the store lists no such schema".to_string()),
                Some(def) if def.version < version => Some(format!("the store lists schema-v{}", def.version)),
                Some(def) if def.version == version && def.fields != fields => {
                    Some(format!("the store lists schema-v{version} with fields {:?}", def.fields))
                }
                Some(_) => None,
            };
            if let Some(problem) = problem {
                found.push(Violation::new(
                    ViolationKind::LostDeploy,
                    format!("{env}/{name}: a deploy of fields {fields:?} was acknowledged as schema-v{version}, but {problem}"),
                ));
            }
        }
    }
}
