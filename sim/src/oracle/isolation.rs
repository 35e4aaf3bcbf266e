//! Integrity and isolation, judged from outside: every view a reader (or the final reading) saw must be a
//! rendering, by the oracle's own rendering, of a content that this environment's client sent for that entity,
//! under the fields of a version of the schema that was deployed in this environment; and where the client was
//! told which content a version holds, of exactly that content. Every source in the final reading must be a
//! content the environment's client sent. A view built from another environment's content, or from content
//! nobody sent, is an `isolation-breach`.

use crate::model::Model;
use crate::outcome::{Violation, ViolationKind};
use crate::readers::Read;
use crate::world::FinalState;
use std::collections::BTreeSet;
use system::model::{Payload, View};

/// A view as judged: where it was read, its versions and its fields (borrowed: a run's reads hold many copies of
/// the same views, and judging must not copy them again).
type Judged<'a> = (&'a str, &'a str, &'a str, u64, u64, &'a Payload);

pub fn check<'a>(model: &Model, reads: &'a [Read], state: Option<&'a FinalState>, found: &mut Vec<Violation>) {
    // Each distinct (view, content) is judged once: readers see the same view many times.
    let mut judged: BTreeSet<Judged<'a>> = BTreeSet::new();
    let mut judge = |env: &'a str, entity: &'a str, view: &'a View, when: &str, at_ms: Option<u64>| {
        let key = (env, entity, view.schema.as_str(), view.source_version.0, view.schema_version, &view.fields);
        if !judged.insert(key) {
            return;
        }
        let problem = if view.env != env || view.entity != entity {
            Some(format!("a view of {env}/{entity} says it is {}/{}/{}", view.env, view.entity, view.schema))
        } else if model.schema(env, &view.schema).is_none() {
            Some(format!("a view of schema `{}`, which was never deployed in {env}", view.schema))
        } else if !model.is_rendering(env, entity, &view.schema, view.source_version, view.schema_version, &view.fields)
        {
            Some(format!(
                "view {} schema-v{} holds {:?}, which is not a rendering of any content {env}'s client sent for \
                 {entity}{}",
                view.source_version,
                view.schema_version,
                view.fields,
                match model.acked_contents(env, entity, view.source_version).first() {
                    Some(content) => format!(" (the client was told {} holds {:?})", view.source_version, content),
                    None => String::new(),
                }
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            let mut v = Violation::new(ViolationKind::IsolationBreach, format!("{when}: {problem}"))
                .at(env, entity, Some(&view.schema))
                .versions(None, Some(view.source_version.0));
            if let Some(ms) = at_ms {
                v = v.at_ms(ms);
            }
            found.push(v);
        }
    };
    for read in reads {
        for view in &read.views {
            judge(&read.env, &read.entity, view, "a reader saw", Some(read.at.as_millis() as u64));
        }
    }
    let Some(state) = state else { return };
    let mut unsent = Vec::new();
    for (env, env_state) in &state.envs {
        for (entity, views) in &env_state.views {
            for view in views.values() {
                judge(env, entity, view, "the final reading shows", None);
            }
        }
        for (entity, source) in &env_state.sources {
            if !model.was_sent(env, entity, &source.payload) {
                unsent.push(
                    Violation::new(
                        ViolationKind::IsolationBreach,
                        format!(
                            "the store's source {} holds {:?}, which {env}'s client never sent for {entity}",
                            source.version, source.payload
                        ),
                    )
                    .at(env, entity, None)
                    .versions(None, Some(source.version.0)),
                );
            }
        }
    }
    found.extend(unsent);
}
