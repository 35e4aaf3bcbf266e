//! An index over the trace, built once per run, that turns the system's own events into explanations: the last
//! few events that touched each view and each entity. It explains violations; it never finds them (the checks
//! do not read it, and a run with the system's events muted reaches the same verdicts).

use crate::trace::{HarnessEvent, Record, TraceEvent};
use std::cell::OnceCell;
use std::collections::{BTreeMap, VecDeque};
use system::model::ViewKey;

/// Events kept per view or entity to explain a violation.
const EXPLAIN_EVENTS_MAX: usize = 5;

/// The index is built on the first explanation asked for: most runs pass and never need one, and building it
/// formats nothing (it keeps positions in the trace; only the few lines an explanation shows are formatted).
pub struct History<'t> {
    trace: &'t [Record],
    index: OnceCell<Index<'t>>,
}

#[derive(Default)]
struct Index<'t> {
    views: BTreeMap<(&'t str, &'t str, &'t str), VecDeque<usize>>,
    entities: BTreeMap<(&'t str, &'t str), VecDeque<usize>>,
}

fn keep(positions: &mut VecDeque<usize>, at: usize) {
    if positions.len() == EXPLAIN_EVENTS_MAX {
        positions.pop_front();
    }
    positions.push_back(at);
}

impl<'t> Index<'t> {
    fn new(trace: &'t [Record]) -> Index<'t> {
        let mut index = Index::default();
        for (at, record) in trace.iter().enumerate() {
            match &record.event {
                TraceEvent::System(event) => match event.subject() {
                    Some((env, entity, Some(schema))) => {
                        keep(index.views.entry((env, entity, schema)).or_default(), at)
                    }
                    Some((env, entity, None)) => keep(index.entities.entry((env, entity)).or_default(), at),
                    None => {}
                },
                TraceEvent::Harness(
                    HarnessEvent::ClientAcked { env, entity, .. }
                    | HarnessEvent::ClientAbandoned { env, entity, .. }
                    | HarnessEvent::ClientGaveUp { env, entity, .. },
                ) => keep(index.entities.entry((env.as_str(), entity.as_str())).or_default(), at),
                TraceEvent::Harness(_) => {}
            }
        }
        index
    }
}

impl<'t> History<'t> {
    pub fn new(trace: &'t [Record]) -> History<'t> {
        History { trace, index: OnceCell::new() }
    }

    fn index(&self) -> &Index<'t> {
        self.index.get_or_init(|| Index::new(self.trace))
    }

    fn lines(&self, positions: &VecDeque<usize>) -> String {
        let lines: Vec<String> = positions.iter().map(|&at| self.trace[at].to_string().trim().to_string()).collect();
        format!("last events: [{}]", lines.join(" | "))
    }

    /// The last events that touched a view, oldest first, as one line.
    pub fn explain(&self, view: &ViewKey) -> String {
        match self.index().views.get(&(view.env.as_str(), view.entity.as_str(), view.schema.as_str())) {
            None => "no job for this view appears in the trace".to_string(),
            Some(positions) => self.lines(positions),
        }
    }

    /// The last events that touched an entity's source, oldest first, as one line.
    pub fn explain_entity(&self, env: &str, entity: &str) -> String {
        match self.index().entities.get(&(env, entity)) {
            None => "no write of this entity appears in the trace".to_string(),
            Some(positions) => self.lines(positions),
        }
    }
}
