//! Causal explanations: for a violation, the chain of what happened to its entity, followed by identifiers
//! rather than substrings: the client's requests, the versions the store kept, the jobs enqueued for the view, a
//! coalescing into another job (and whose environment), that job's leases (tokens, workers, expiries,
//! redeliveries), the view writes and refusals, and what the readers saw, each step with the faults active at
//! the time. The step where things went wrong is marked with a typed [`Cause`].
//!
//! Every decision here reads typed trace records (their variants and fields), never their rendered text: the text
//! of a step is made by a renderer handed in, used only for display (tested: a renderer that prints nonsense
//! changes no step and no cause). A cause that follows from one event alone is stated as a finding; one that
//! is a guess from what is absent (no job followed, the lease came late) is labelled a heuristic.
//!
//! Explanations read the system's events: they explain a verdict, they never make one (the oracle judges from
//! clients, readers and the network alone). The same chains give a failure its [`fingerprint`], which groups
//! failures by mechanism in a sweep.

use crate::faults::FaultSpec;
use crate::outcome::{Violation, ViolationKind};
use crate::trace::{HarnessEvent, Record, TraceEvent};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::time::Duration;
use system::events::Event;

/// Steps shown per violation at most: one screen.
pub const STEPS_MAX: usize = 24;

/// Why a step is where things went wrong. The variants up to `StoredWithoutJob` follow from the marked event
/// itself; the rest are heuristics drawn from what did or did not follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The store crashed with acknowledged writes not yet synced: it lost them.
    StoreCrashLostUnsynced { lost_bytes: u64 },
    /// The store kept the content, then the queue answered busy and the client was told busy.
    BusyAfterStore,
    /// A job was coalesced into another environment's job.
    CoalescedAcrossEnvironments { into_job: u64, into_env: String },
    /// An update was coalesced into a job a worker was already processing with the older source.
    CoalescedIntoLeased { into_job: u64 },
    /// The store replaced a view with one rendered from an older source.
    OlderViewReplacedNewer { newer: u64, older: String },
    /// The store refused a newer view because it holds an older one.
    NewerViewRefused { newer: String, older: String },
    /// The operator sent a deploy and never got an answer.
    DeployUnanswered,
    /// Heuristic: the version was stored, and no job for the view was queued after it.
    StoredWithoutJob,
    /// Heuristic: the version was stored and jobs followed, but no view of it was ever written.
    StoredJobsButNoView,
    /// Heuristic: the last view written; nothing newer followed.
    LastViewWritten,
    /// Heuristic: the job was leased only after a long wait in the queue.
    LeasedLate { waited: Option<Duration> },
    /// Heuristic: acknowledged to the client, and the store did not keep it.
    AckedNotKept,
    /// Heuristic: callers kept retrying a queue that answered busy.
    BusyStorm { peak: u64, total: u64 },
}

impl Cause {
    /// A stable name, for fingerprints and tests.
    pub fn id(&self) -> &'static str {
        match self {
            Cause::StoreCrashLostUnsynced { .. } => "store-crash-lost-unsynced",
            Cause::BusyAfterStore => "busy-after-store",
            Cause::CoalescedAcrossEnvironments { .. } => "coalesced-across-environments",
            Cause::CoalescedIntoLeased { .. } => "coalesced-into-leased",
            Cause::OlderViewReplacedNewer { .. } => "older-view-replaced-newer",
            Cause::NewerViewRefused { .. } => "newer-view-refused",
            Cause::DeployUnanswered => "deploy-unanswered",
            Cause::StoredWithoutJob => "stored-without-job",
            Cause::StoredJobsButNoView => "stored-jobs-but-no-view",
            Cause::LastViewWritten => "last-view-written",
            Cause::LeasedLate { .. } => "leased-late",
            Cause::AckedNotKept => "acked-not-kept",
            Cause::BusyStorm { .. } => "busy-storm",
        }
    }

    /// Whether the cause is a guess from what is absent rather than a finding from the marked event.
    pub fn heuristic(&self) -> bool {
        matches!(
            self,
            Cause::StoredWithoutJob
                | Cause::StoredJobsButNoView
                | Cause::LastViewWritten
                | Cause::LeasedLate { .. }
                | Cause::AckedNotKept
                | Cause::BusyStorm { .. }
        )
    }

    /// What went wrong, in words.
    pub fn describe(&self) -> String {
        match self {
            Cause::StoreCrashLostUnsynced { lost_bytes } => format!(
                "the store crashed and lost {lost_bytes} bytes of writes it had not synced, though it may already \
                 have acknowledged them"
            ),
            Cause::BusyAfterStore => "the store had kept the content, then the queue answered busy and the client \
                                      was told busy: nothing owes this version its jobs any more"
                .to_string(),
            Cause::CoalescedAcrossEnvironments { into_job, into_env } => format!(
                "the job was coalesced into job #{into_job} of another environment ({into_env}): that job renders \
                 {into_env}'s view, so this environment's is never made"
            ),
            Cause::CoalescedIntoLeased { into_job } => format!(
                "the update was coalesced into job #{into_job}, which a worker was already processing with the \
                 older source: the update is lost"
            ),
            Cause::OlderViewReplacedNewer { newer, older } => format!(
                "the store replaced the view of v{newer} with one of the older {older}: a write that should have \
                 been refused"
            ),
            Cause::NewerViewRefused { newer, older } => {
                format!("the store refused {newer} although it holds the older {older}: the newer view is lost")
            }
            Cause::DeployUnanswered => {
                "the operator sent this deploy and the system never answered it, through every retry".into()
            }
            Cause::StoredWithoutJob => {
                "this version was stored, and no job for this view was ever queued after it".into()
            }
            Cause::StoredJobsButNoView => {
                "this version was stored and jobs followed, but no view of it was ever written".into()
            }
            Cause::LastViewWritten => "the last view written; nothing newer followed".into(),
            Cause::LeasedLate { waited } => match waited {
                Some(w) => format!("the job was leased only now, after waiting {:.3}s in the queue", w.as_secs_f64()),
                None => "the job was leased only now".into(),
            },
            Cause::AckedNotKept => "acknowledged to the client; the store did not keep it".into(),
            Cause::BusyStorm { .. } => {
                "callers kept retrying a queue that answered busy, instead of passing busy back and backing off".into()
            }
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.heuristic() {
            write!(f, "(heuristic) {}", self.describe())
        } else {
            f.write_str(&self.describe())
        }
    }
}

/// One step of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub at: Duration,
    pub node: String,
    /// The trace record the step shows; `None` for a step that sums several (a busy storm).
    pub record: Option<usize>,
    /// The record as rendered, for display only.
    pub line: String,
    /// Faults active when the step happened.
    pub faults: Vec<String>,
    /// Why this is the step where things went wrong, if it is.
    pub wrong: Option<Cause>,
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

/// A record rendered for display.
pub type Render<'r> = &'r dyn Fn(&Record) -> String;

/// The trace's own rendering of a record's event.
pub fn render_event(record: &Record) -> String {
    record.event.to_string()
}

/// The chain of one violation, or `None` for a violation that concerns neither an entity nor a deploy (and is not
/// about work).
pub fn explain(trace: &[Record], violation: &Violation) -> Option<Chain> {
    explain_with(trace, violation, &render_event)
}

/// [`explain`] with the steps' text made by `render`: display only, no decision reads it.
pub fn explain_with(trace: &[Record], violation: &Violation, render: Render) -> Option<Chain> {
    match (&violation.env, &violation.entity) {
        (Some(env), Some(entity)) => {
            let focus = Focus { env, entity, schema: violation.schema.as_deref() };
            Some(entity_chain(trace, violation, &focus, render))
        }
        (Some(env), None) if violation.schema.is_some() => {
            Some(deploy_chain(trace, violation, env, violation.schema.as_deref().unwrap_or_default(), render))
        }
        _ if violation.kind == ViolationKind::UnboundedWork => Some(work_chain(trace, violation, render)),
        _ => None,
    }
}

/// A deploy's chain: what the operator sent and was told, and what the system did with the schema.
fn deploy_chain(trace: &[Record], violation: &Violation, env: &str, schema: &str, render: Render) -> Chain {
    let mut faults = ActiveFaults::default();
    let mut steps: Vec<Step> = Vec::new();
    let mut unanswered: Option<usize> = None;
    for (index, record) in trace.iter().enumerate() {
        let relevant = match &record.event {
            TraceEvent::Harness(event) => {
                faults.see(event);
                match event {
                    HarnessEvent::DeploySent { env: e, schema: s } if e == env && s == schema => {
                        unanswered.get_or_insert(steps.len());
                        true
                    }
                    HarnessEvent::DeployDone { env: e, schema: s, .. } if e == env && s == schema => {
                        unanswered = None;
                        true
                    }
                    _ => false,
                }
            }
            TraceEvent::System(
                Event::DeployAcked { env: e, schema: s, .. } | Event::SchemaStored { env: e, schema: s, .. },
            ) => e == env && s == schema,
            TraceEvent::System(_) => false,
        };
        if relevant {
            let line = render(record);
            steps.push(Step {
                at: record.at,
                node: record.node.to_string(),
                record: Some(index),
                line,
                faults: faults.now(),
                wrong: None,
            });
        }
    }
    if let Some(i) = unanswered {
        steps[i].wrong = Some(Cause::DeployUnanswered);
    }
    fit(violation, steps)
}

/// Faults active at each point of the trace, matched by value (the spec a fault started with heals it), and each
/// node's clock as the last clock change left it (the clock that ran, not the faults as planned).
#[derive(Default)]
struct ActiveFaults(Vec<(FaultSpec, u32)>, BTreeMap<String, i64>);

impl ActiveFaults {
    fn see(&mut self, event: &HarnessEvent) {
        match event {
            HarnessEvent::FaultStarted { spec } | HarnessEvent::FaultStays { spec } => {
                match self.0.iter_mut().find(|(s, _)| *s == **spec) {
                    Some((_, n)) => *n += 1,
                    None => self.0.push(((**spec).clone(), 1)),
                }
            }
            HarnessEvent::FaultHealed { spec } => {
                if let Some(i) = self.0.iter().position(|(s, _)| *s == **spec) {
                    self.0[i].1 -= 1;
                    if self.0[i].1 == 0 {
                        self.0.remove(i);
                    }
                }
            }
            HarnessEvent::HealAll => {
                self.0.clear();
                self.1.clear();
            }
            HarnessEvent::HealCore { core } => {
                // Staying faults are noted again next; the core's clocks are back to true time.
                self.0.clear();
                self.1.retain(|node, _| !core.contains(node));
            }
            HarnessEvent::ClockSet { node, offset_us } => {
                self.1.insert(node.clone(), *offset_us);
            }
            _ => {}
        }
    }

    fn now(&self) -> Vec<String> {
        let mut names: Vec<String> = self.0.iter().map(|(s, _)| s.to_string()).collect();
        names.sort();
        for (node, us) in self.1.iter().filter(|(_, us)| **us != 0) {
            names.push(format!(
                "clock {node} set {}{:.3}s off",
                if *us < 0 { "-" } else { "+" },
                us.unsigned_abs() as f64 / 1e6
            ));
        }
        names
    }
}

fn entity_chain(trace: &[Record], violation: &Violation, focus: &Focus, render: Render) -> Chain {
    let mut faults = ActiveFaults::default();
    let mut steps: Vec<Step> = Vec::new();
    // Identifiers followed: jobs of this view (its own, and those it was coalesced into), their lease tokens.
    let mut jobs: BTreeSet<u64> = BTreeSet::new();
    let mut tokens: BTreeSet<u64> = BTreeSet::new();
    // Every lease held at each moment (job -> token), to see a coalescing into a job already being processed.
    let mut leased: BTreeMap<u64, u64> = BTreeMap::new();
    let mut job_of_token: BTreeMap<u64, u64> = BTreeMap::new();
    let mut last_read: Option<Option<u64>> = None;
    let mut newest_written: Option<u64> = None;
    for (index, record) in trace.iter().enumerate() {
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
                            wrong = Some(Cause::StoreCrashLostUnsynced { lost_bytes: lost });
                        }
                        node == "store"
                    }
                    _ => false,
                }
            }
            TraceEvent::System(event) => match event {
                Event::IngestBusy { env, entity, .. } if focus.entity(env, entity) => {
                    if matches!(violation.kind, ViolationKind::MissingView | ViolationKind::StaleView) {
                        wrong = Some(Cause::BusyAfterStore);
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
                        wrong = Some(Cause::CoalescedAcrossEnvironments {
                            into_job: *into_job,
                            into_env: into_env.to_string(),
                        });
                    } else if leased.contains_key(into_job) {
                        wrong = Some(Cause::CoalescedIntoLeased { into_job: *into_job });
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
                    if let Some(newer) = newest_written.filter(|&n| source_version.0 < n) {
                        wrong = Some(Cause::OlderViewReplacedNewer { newer, older: source_version.to_string() });
                    }
                    newest_written = newest_written.max(Some(source_version.0));
                    true
                }
                Event::ViewWriteRefused { env, entity, schema, source_version, current_version }
                    if focus.view(env, entity, schema) =>
                {
                    if source_version > current_version {
                        wrong = Some(Cause::NewerViewRefused {
                            newer: source_version.to_string(),
                            older: current_version.to_string(),
                        });
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
                record: Some(index),
                line: render(record),
                faults: faults.now(),
                wrong,
            });
        }
    }
    mark_fallback(trace, &mut steps, violation);
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

/// The system event a step shows, if it shows one.
fn system_event<'t>(trace: &'t [Record], step: &Step) -> Option<&'t Event> {
    match &trace[step.record?].event {
        TraceEvent::System(event) => Some(event),
        TraceEvent::Harness(_) => None,
    }
}

/// Whether a step shows the store keeping `version` of the source.
fn stores(trace: &[Record], step: &Step, version: Option<u64>) -> bool {
    matches!(system_event(trace, step), Some(Event::SourceStored { version: v, .. }) if Some(v.0) == version)
}

/// Where no single event is wrong in itself, the chain still names the step a reader should look at: a guess,
/// labelled as one.
fn mark_fallback(trace: &[Record], steps: &mut [Step], violation: &Violation) {
    if steps.iter().any(|s| s.wrong.is_some()) {
        return;
    }
    let expected = violation.expected_version;
    let is = |step: &Step, name: &str| system_event(trace, step).is_some_and(|e| e.name() == name);
    match violation.kind {
        ViolationKind::MissingView | ViolationKind::StaleView => {
            // The version the view should show was stored, and no job for it followed.
            if let Some(i) = steps.iter().rposition(|s| stores(trace, s, expected)) {
                let followed = steps[i + 1..].iter().any(|s| is(s, "job-enqueued") || is(s, "job-coalesced"));
                steps[i].wrong = Some(if followed { Cause::StoredJobsButNoView } else { Cause::StoredWithoutJob });
            } else if let Some(last) = steps.iter_mut().rev().find(|s| is(s, "view-written")) {
                last.wrong = Some(Cause::LastViewWritten);
            }
        }
        ViolationKind::Starvation => {
            // The lease that came late: the first after the version was stored, after its job waited in the queue.
            let from = steps.iter().position(|s| stores(trace, s, expected)).unwrap_or(0);
            if let Some(i) = steps.iter().skip(from).position(|s| is(s, "job-leased")).map(|i| i + from) {
                let queued = steps[..i].iter().rev().find(|s| is(s, "job-enqueued")).map(|s| s.at);
                steps[i].wrong = Some(Cause::LeasedLate { waited: queued.map(|q| steps[i].at - q) });
            }
        }
        ViolationKind::LostIngest => {
            let acked = |s: &Step| {
                s.record
                    .is_some_and(|r| matches!(trace[r].event, TraceEvent::Harness(HarnessEvent::ClientAcked { .. })))
            };
            if let Some(step) = steps.iter_mut().rev().find(|s| acked(s)) {
                step.wrong = Some(Cause::AckedNotKept);
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
fn work_chain(trace: &[Record], violation: &Violation, render: Render) -> Chain {
    let mut busy_per_second: BTreeMap<u64, u64> = BTreeMap::new();
    let mut faults = ActiveFaults::default();
    let mut steps = Vec::new();
    for (index, record) in trace.iter().enumerate() {
        match &record.event {
            TraceEvent::Harness(event) => {
                faults.see(event);
                if matches!(event, HarnessEvent::FaultStarted { .. } | HarnessEvent::FaultHealed { .. }) {
                    steps.push(Step {
                        at: record.at,
                        node: record.node.to_string(),
                        record: Some(index),
                        line: render(record),
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
            record: None,
            line: format!("enqueue-busy x{count} in this second ({total} in all)"),
            faults: faults.now(),
            wrong: Some(Cause::BusyStorm { peak: count, total }),
        });
        steps.sort_by_key(|s| s.at);
    }
    fit(violation, steps)
}

/// Violations of each kind explained to find a failure's fingerprint: the first is enough to name its mechanism,
/// and explaining every violation of a large failure would cost a sweep more than its seeds.
const FINGERPRINT_PER_KIND: usize = 1;

/// How a run failed, as one stable name, so that a sweep groups failures by mechanism rather than by the mix of
/// violation kinds each seed happened to show. A crash is its kind (and a panic its location). Otherwise each
/// kind's first violation is explained; the earliest step marked wrong by a finding (or, failing any, by a
/// heuristic) names the failure: its class, its cause and the type of its event
/// (`correctness:coalesced-across-environments@job-coalesced`). A failure no chain explains is named by its
/// first violation's class and kind (`liveness:not-converged`).
pub fn fingerprint(trace: &[Record], violations: &[Violation]) -> Option<String> {
    let first = violations.first()?;
    if let Some(crash) = violations.iter().find(|v| matches!(v.kind.class(), "crash" | "harness")) {
        return Some(match crash.kind {
            ViolationKind::Panic => match crash.detail.rsplit_once(" at ") {
                Some((_, location)) => format!("crash:panic@{location}"),
                None => "crash:panic".to_string(),
            },
            ViolationKind::HarnessError => match crash.detail.rsplit_once(" at ") {
                Some((_, location)) => format!("harness:panic@{location}"),
                None => "harness:panic".to_string(),
            },
            kind => format!("crash:{kind}"),
        });
    }
    let mut seen: BTreeMap<ViolationKind, usize> = BTreeMap::new();
    // (heuristic, time, order) of each marked step, the smallest winning: findings before guesses, then earliest.
    let mut best: Option<((bool, Duration, usize), String)> = None;
    for (order, violation) in violations.iter().enumerate() {
        let n = seen.entry(violation.kind).or_default();
        if *n >= FINGERPRINT_PER_KIND {
            continue;
        }
        *n += 1;
        let Some(chain) = explain_with(trace, violation, &|_| String::new()) else { continue };
        let Some(step) = chain.wrong_step() else { continue };
        let cause = step.wrong.as_ref().expect("a wrong step has a cause");
        let event = step.record.map_or("summary", |r| trace[r].event.name());
        let key = (cause.heuristic(), step.at, order);
        if best.as_ref().is_none_or(|(k, _)| key < *k) {
            best = Some((key, format!("{}:{}@{event}", violation.kind.class(), cause.id())));
        }
    }
    Some(best.map_or_else(|| format!("{}:{}", first.kind.class(), first.kind), |(_, name)| name))
}
