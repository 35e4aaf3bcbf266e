//! An index over the trace, built once per run, that turns the system's own events into explanations: the last
//! few events that touched each view and each entity. It explains violations; it never finds them (the checks
//! do not read it, and a run with the system's events muted reaches the same verdicts).

use crate::trace::{HarnessEvent, Record, TraceEvent};
use std::collections::{BTreeMap, VecDeque};
use system::model::ViewKey;

/// Events kept per view or entity to explain a violation.
const EXPLAIN_EVENTS_MAX: usize = 5;

#[derive(Default)]
pub struct History {
    views: BTreeMap<ViewKey, VecDeque<String>>,
    entities: BTreeMap<(String, String), VecDeque<String>>,
}

fn key(env: &str, entity: &str, schema: &str) -> ViewKey {
    ViewKey { env: env.into(), entity: entity.into(), schema: schema.into() }
}

fn keep(lines: &mut VecDeque<String>, record: &Record) {
    if lines.len() == EXPLAIN_EVENTS_MAX {
        lines.pop_front();
    }
    lines.push_back(record.to_string().trim().to_string());
}

impl History {
    pub fn new(trace: &[Record]) -> History {
        let mut h = History::default();
        for record in trace {
            let (view, entity) = match &record.event {
                TraceEvent::System(event) => match event.subject() {
                    Some((env, entity, Some(schema))) => (Some(key(env, entity, schema)), None),
                    Some((env, entity, None)) => (None, Some((env, entity))),
                    None => (None, None),
                },
                TraceEvent::Harness(
                    HarnessEvent::ClientAcked { env, entity, .. }
                    | HarnessEvent::ClientAbandoned { env, entity, .. }
                    | HarnessEvent::ClientGaveUp { env, entity, .. },
                ) => (None, Some((env.as_str(), entity.as_str()))),
                TraceEvent::Harness(_) => (None, None),
            };
            if let Some(view) = view {
                keep(h.views.entry(view).or_default(), record);
            }
            if let Some((env, entity)) = entity {
                keep(h.entities.entry((env.to_string(), entity.to_string())).or_default(), record);
            }
        }
        h
    }

    /// The last events that touched a view, oldest first, as one line.
    pub fn explain(&self, view: &ViewKey) -> String {
        match self.views.get(view) {
            None => "no job for this view appears in the trace".to_string(),
            Some(lines) => format!("last events: [{}]", lines.iter().cloned().collect::<Vec<_>>().join(" | ")),
        }
    }

    /// The last events that touched an entity's source, oldest first, as one line.
    pub fn explain_entity(&self, env: &str, entity: &str) -> String {
        match self.entities.get(&(env.to_string(), entity.to_string())) {
            None => "no write of this entity appears in the trace".to_string(),
            Some(lines) => format!("last events: [{}]", lines.iter().cloned().collect::<Vec<_>>().join(" | ")),
        }
    }
}
