//! Causal explanations: for a violation, the chain of what happened to its entity, followed by identifiers
//! rather than substrings: the client's requests, the versions the store kept, the jobs enqueued for the view, a
//! coalescing into another job (and whose environment), that job's leases (tokens, workers, expiries,
//! redeliveries), the view writes and refusals, and what the readers saw, each step with the faults active at
//! the time. The step where things went wrong is marked.
//!
//! Explanations read the system's events: they explain a verdict, they never make one (the oracle judges from
//! clients, readers and the network alone).

use crate::outcome::{Violation, ViolationKind};
use crate::trace::{HarnessEvent, Record, TraceEvent};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::time::Duration;
use system::events::Event;

/// Steps shown per violation at most: one screen.
pub const STEPS_MAX: usize = 24;

/// One step of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub at: Duration,
    pub node: String,
    pub line: String,
    /// Faults active when the step happened.
    pub faults: Vec<String>,
    /// Why this is the step where things went wrong, if it is.
    pub wrong: Option<String>,
}

/// The causal chain of one violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub title: String,
    pub steps: Vec<Step>,
    /// Steps left out to keep the chain on one screen.
    pub omitted: usize,
}

impl Chain {
    /// The step marked as where things went wrong.
    pub fn wrong_step(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.wrong.is_some())
    }
}

impl std::fmt::Display for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "  why: {}", self.title)?;
        if self.omitted > 0 {
            writeln!(f, "    ... {} earlier steps left out", self.omitted)?;
        }
        for step in &self.steps {
            let mark = if step.wrong.is_some() { ">>" } else { "  " };
            let mut line = format!("  {mark} {:>10.6}s {:<18} {}", step.at.as_secs_f64(), step.node, step.line);
            if !step.faults.is_empty() {
                let _ = write!(line, "   [faults: {}]", step.faults.join("; "));
            }
            writeln!(f, "{line}")?;
            if let Some(why) = &step.wrong {
                writeln!(f, "  >> here: {why}")?;
            }
        }
        Ok(())
    }
}

/// What the explainer follows for one violation.
struct Focus<'a> {
    env: &'a str,
    entity: &'a str,
    schema: Option<&'a str>,
}

impl Focus<'_> {
    fn entity(&self, env: &str, entity: &str) -> bool {
        env == self.env && entity == self.entity
    }

    fn view(&self, env: &str, entity: &str, schema: &str) -> bool {
        self.entity(env, entity) && self.schema.is_none_or(|s| s == schema)
    }
}

/// The chain of one violation, or `None` for a violation that concerns no entity (and is not about work).
pub fn explain(trace: &[Record], violation: &Violation) -> Option<Chain> {
    match (&violation.env, &violation.entity) {
        (Some(env), Some(entity)) => {
            let focus = Focus { env, entity, schema: violation.schema.as_deref() };
            Some(entity_chain(trace, violation, &focus))
        }
        _ if violation.kind == ViolationKind::UnboundedWork => Some(work_chain(trace, violation)),
        _ => None,
    }
}

/// Faults active at each point of the trace, as their descriptions.
struct ActiveFaults(BTreeMap<String, u32>);

impl ActiveFaults {
    fn see(&mut self, event: &HarnessEvent) {
        match event {
            HarnessEvent::FaultStarted { spec } => *self.0.entry(spec.to_string()).or_insert(0) += 1,
            HarnessEvent::FaultHealed { spec } => {
                let key = spec.to_string();
                if let Some(n) = self.0.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        self.0.remove(&key);
                    }
                }
            }
            HarnessEvent::HealAll => self.0.clear(),
            _ => {}
        }
    }

    fn now(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

fn entity_chain(trace: &[Record], violation: &Violation, focus: &Focus) -> Chain {
    let expected = violation.expected_version;
    let mut faults = ActiveFaults(BTreeMap::new());
    let mut steps: Vec<Step> = Vec::new();
    // Identifiers followed: jobs of this view (its own, and those it was coalesced into), their lease tokens.
    let mut jobs: BTreeSet<u64> = BTreeSet::new();
    let mut tokens: BTreeSet<u64> = BTreeSet::new();
    // Every lease held at each moment (job -> token), to see a coalescing into a job already being processed.
    let mut leased: BTreeMap<u64, u64> = BTreeMap::new();
    let mut job_of_token: BTreeMap<u64, u64> = BTreeMap::new();
    let mut last_read: Option<Option<u64>> = None;
    let mut newest_written: Option<u64> = None;
    for record in trace {
        let mut wrong = None;
        let relevant = match &record.event {
            TraceEvent::Harness(event) => {
                faults.see(event);
                match event {
                    HarnessEvent::ClientAcked { env, entity, .. }
                    | HarnessEvent::ClientAbandoned { env, entity, .. }
                    | HarnessEvent::ClientGaveUp { env, entity, .. } => focus.entity(env, entity),
                    HarnessEvent::ViewsRead { env, entity, newest, .. } if focus.entity(env, entity) => {
                        // Only reads that saw something new: a reader polls the same view many times.
                        let changed = last_read != Some(*newest);
                        last_read = Some(*newest);
                        changed
                    }
                    HarnessEvent::NodeCrashed { node, cached_bytes, kept_bytes, .. } => {
                        // A store crash that lost writes after the entity was acknowledged loses acknowledged work,
                        // and a view a reader had already seen.
                        let lost = cached_bytes - kept_bytes;
                        let kinds = matches!(violation.kind, ViolationKind::LostIngest | ViolationKind::ViewRegressed);
                        if kinds && node == "store" && lost > 0 {
                            wrong.get_or_insert_with(|| {
                                format!("the store crashed and lost {lost} bytes of writes it had not synced, though it may already have acknowledged them")
                            });
                        }
                        node == "store"
                    }
                    _ => false,
                }
            }
            TraceEvent::System(event) => match event {
                Event::IngestBusy { env, entity, .. } if focus.entity(env, entity) => {
                    if matches!(violation.kind, ViolationKind::MissingView | ViolationKind::StaleView) {
                        wrong = Some(
                            "the store had kept the content, then the queue answered busy and the client was told \
                             busy: nothing owes this version its jobs any more"
                                .to_string(),
                        );
                    }
                    true
                }
                Event::JobEnqueued { job, env, entity, schema, .. } if focus.view(env, entity, schema) => {
                    jobs.insert(*job);
                    true
                }
                Event::JobCoalesced { env, entity, schema, into_job, into_env, .. }
                    if focus.view(env, entity, schema) =>
                {
                    jobs.insert(*into_job);
                    if into_env != env {
                        wrong = Some(format!(
                            "the job was coalesced into job #{into_job} of another environment ({into_env}): that job \
                             renders {into_env}'s view, so {env}'s is never made"
                        ));
                    } else if leased.contains_key(into_job) {
                        wrong = Some(format!(
                            "the update was coalesced into job #{into_job}, which a worker was already processing \
                             with the older source: the update is lost"
                        ));
                    }
                    true
                }
                Event::JobLeased { job, token, .. } => {
                    leased.insert(*job, *token);
                    job_of_token.insert(*token, *job);
                    if jobs.contains(job) {
                        tokens.insert(*token);
                        true
                    } else {
                        false
                    }
                }
                Event::LeaseExpired { job, .. } | Event::JobCompleted { job, .. } => {
                    leased.remove(job);
                    jobs.contains(job)
                }
                Event::JobRedelivered { job, .. } => jobs.contains(job),
                Event::AckRefused { token } => tokens.contains(token),
                Event::JobAbandoned { env, entity, schema, token, .. } => {
                    if let Some(job) = job_of_token.get(token) {
                        leased.remove(job);
                    }
                    focus.view(env, entity, schema) || tokens.contains(token)
                }
                Event::ViewWritten { env, entity, schema, source_version, .. } if focus.view(env, entity, schema) => {
                    if newest_written.is_some_and(|n| source_version.0 < n) && wrong.is_none() {
                        wrong = Some(format!(
                            "the store replaced the view of v{} with one of the older {source_version}: a write \
                             that should have been refused",
                            newest_written.unwrap_or_default()
                        ));
                    }
                    newest_written = newest_written.max(Some(source_version.0));
                    true
                }
                Event::ViewWriteRefused { env, entity, schema, source_version, current_version }
                    if focus.view(env, entity, schema) =>
                {
                    if source_version > current_version {
                        wrong = Some(format!(
                            "the store refused {source_version} although it holds the older {current_version}: \
                             the newer view is lost"
                        ));
                    }
                    true
                }
                // Every other event about the entity's source (stored, replayed, superseded, acknowledged, ...).
                _ => matches!(event.subject(), Some((env, entity, None)) if focus.entity(env, entity)),
            },
        };
        if relevant {
            steps.push(Step {
                at: record.at,
                node: record.node.to_string(),
                line: record.event.to_string(),
                faults: faults.now(),
                wrong,
            });
        }
    }
    mark_fallback(&mut steps, violation, expected);
    // Only the first wrong step is the one to look at.
    let mut seen = false;
    for step in &mut steps {
        if step.wrong.is_some() {
            if seen {
                step.wrong = None;
            }
            seen = true;
        }
    }
    fit(violation, steps)
}

/// Where no single event is wrong in itself, the chain still names the step a reader should look at.
fn mark_fallback(steps: &mut [Step], violation: &Violation, expected: Option<u64>) {
    if steps.iter().any(|s| s.wrong.is_some()) {
        return;
    }
    let stored = expected.map(|v| format!(" v{v} "));
    match violation.kind {
        ViolationKind::MissingView | ViolationKind::StaleView => {
            // The version the view should show was stored, and no job for it followed.
            let at = stored.as_ref().and_then(|v| {
                steps.iter().rposition(|s| s.line.starts_with("source-stored") && s.line.contains(v.as_str()))
            });
            if let Some(i) = at {
                let followed = steps[i + 1..]
                    .iter()
                    .any(|s| s.line.starts_with("job-enqueued") || s.line.starts_with("job-coalesced"));
                steps[i].wrong = Some(if followed {
                    "this version was stored and jobs followed, but no view of it was ever written".to_string()
                } else {
                    "this version was stored, and no job for this view was ever queued after it".to_string()
                });
            } else if let Some(last) = steps.iter_mut().rev().find(|s| s.line.starts_with("view-written")) {
                last.wrong = Some("the last view written; nothing newer followed".to_string());
            }
        }
        ViolationKind::Starvation => {
            // The lease that came late: the first after the version was stored, after its job waited in the queue.
            let from = stored
                .as_ref()
                .and_then(|v| {
                    steps.iter().position(|s| s.line.starts_with("source-stored") && s.line.contains(v.as_str()))
                })
                .unwrap_or(0);
            if let Some(i) = steps.iter().skip(from).position(|s| s.line.starts_with("job-leased")).map(|i| i + from) {
                let queued = steps[..i].iter().rev().find(|s| s.line.starts_with("job-enqueued")).map(|s| s.at);
                let waited = queued.map_or(String::new(), |q| {
                    format!(" after waiting {:.3}s in the queue", (steps[i].at - q).as_secs_f64())
                });
                steps[i].wrong = Some(format!("the job was leased only now{waited}"));
            }
        }
        ViolationKind::LostIngest => {
            if let Some(step) = steps.iter_mut().rev().find(|s| s.line.starts_with("client-acked")) {
                step.wrong = Some("acknowledged to the client; the store did not keep it".to_string());
            }
        }
        _ => {}
    }
}

/// Keeps a chain on one screen: the last steps up to the violation, always including the marked one.
fn fit(violation: &Violation, mut steps: Vec<Step>) -> Chain {
    let title = violation.to_string().chars().take(160).collect::<String>();
    let mut omitted = 0;
    if steps.len() > STEPS_MAX {
        let wrong = steps.iter().position(|s| s.wrong.is_some());
        let keep_from = match wrong {
            Some(w) if w + STEPS_MAX / 2 < steps.len() => w.saturating_sub(STEPS_MAX / 4),
            _ => steps.len() - STEPS_MAX,
        };
        let end = (keep_from + STEPS_MAX).min(steps.len());
        omitted = keep_from + (steps.len() - end);
        steps = steps[keep_from..end].to_vec();
    }
    Chain { title, steps, omitted }
}

/// Unbounded work concerns no entity: the chain is where the extra messages came from, per kind of event.
fn work_chain(trace: &[Record], violation: &Violation) -> Chain {
    let mut busy_per_second: BTreeMap<u64, u64> = BTreeMap::new();
    let mut faults = ActiveFaults(BTreeMap::new());
    let mut steps = Vec::new();
    for record in trace {
        match &record.event {
            TraceEvent::Harness(event) => {
                faults.see(event);
                if matches!(event, HarnessEvent::FaultStarted { .. } | HarnessEvent::FaultHealed { .. }) {
                    steps.push(Step {
                        at: record.at,
                        node: record.node.to_string(),
                        line: record.event.to_string(),
                        faults: Vec::new(),
                        wrong: None,
                    });
                }
            }
            TraceEvent::System(Event::EnqueueBusy { .. }) => {
                *busy_per_second.entry(record.at.as_secs()).or_insert(0) += 1;
            }
            _ => {}
        }
    }
    if let Some((&second, &count)) = busy_per_second.iter().max_by_key(|(_, n)| **n) {
        let total: u64 = busy_per_second.values().sum();
        steps.push(Step {
            at: Duration::from_secs(second),
            node: "queue".into(),
            line: format!("enqueue-busy x{count} in this second ({total} in all)"),
            faults: faults.now(),
            wrong: Some(
                "callers kept retrying a queue that answered busy, instead of passing busy back and backing off".into(),
            ),
        });
        steps.sort_by_key(|s| s.at);
    }
    fit(violation, steps)
}
