//! An index over the trace, built once per run, for the checkers: when each source version was stored, every
//! write of every view, and the last few events that touched each view (to explain a violation).

use crate::trace::{Record, TraceEvent};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use system::events::Event;
use system::model::{Version, ViewKey};

/// Events kept per view to explain a violation.
const EXPLAIN_EVENTS_MAX: usize = 5;

#[derive(Clone, Debug)]
pub struct ViewWrite {
    pub at: Duration,
    pub source_version: Version,
    pub schema_version: u64,
}

#[derive(Default)]
pub struct History {
    pub stored_at: BTreeMap<(String, String, Version), Duration>,
    pub view_writes: BTreeMap<ViewKey, Vec<ViewWrite>>,
    /// Jobs that deploys enqueued (one per entity of the environment).
    pub deploy_jobs: u64,
    /// Leases granted: job executions, redeliveries included.
    pub leases: u64,
    recent: BTreeMap<ViewKey, VecDeque<String>>,
}

fn key(env: &str, entity: &str, schema: &str) -> ViewKey {
    ViewKey { env: env.into(), entity: entity.into(), schema: schema.into() }
}

impl History {
    pub fn new(trace: &[Record]) -> History {
        let mut h = History::default();
        for record in trace {
            let TraceEvent::System(event) = &record.event else { continue };
            let touched = match event {
                Event::SourceStored { env, entity, version, .. } => {
                    h.stored_at.entry((env.clone(), entity.clone(), *version)).or_insert(record.at);
                    None
                }
                Event::ViewWritten { env, entity, schema, source_version, schema_version } => {
                    let k = key(env, entity, schema);
                    h.view_writes.entry(k.clone()).or_default().push(ViewWrite {
                        at: record.at,
                        source_version: *source_version,
                        schema_version: *schema_version,
                    });
                    Some(k)
                }
                Event::DeployAcked { jobs, .. } => {
                    h.deploy_jobs += *jobs as u64;
                    None
                }
                Event::JobLeased { env, entity, schema, .. } => {
                    h.leases += 1;
                    Some(key(env, entity, schema))
                }
                Event::ViewWriteRefused { env, entity, schema, .. }
                | Event::JobEnqueued { env, entity, schema, .. }
                | Event::JobCoalesced { env, entity, schema, .. }
                | Event::JobRedelivered { env, entity, schema, .. }
                | Event::JobAbandoned { env, entity, schema, .. } => Some(key(env, entity, schema)),
                _ => None,
            };
            if let Some(k) = touched {
                let lines = h.recent.entry(k).or_default();
                if lines.len() == EXPLAIN_EVENTS_MAX {
                    lines.pop_front();
                }
                lines.push_back(record.to_string().trim().to_string());
            }
        }
        h
    }

    /// The last events that touched a view, oldest first, as one line.
    pub fn explain(&self, view: &ViewKey) -> String {
        match self.recent.get(view) {
            None => "no job for this view ever appeared in the trace".to_string(),
            Some(lines) => format!("last events: [{}]", lines.iter().cloned().collect::<Vec<_>>().join(" | ")),
        }
    }

    pub fn stored_ms(&self, env: &str, entity: &str, version: Version) -> Option<u64> {
        self.stored_at.get(&(env.to_string(), entity.to_string(), version)).map(|d| d.as_millis() as u64)
    }
}
