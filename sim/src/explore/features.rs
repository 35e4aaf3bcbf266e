//! The coverage signal of one run, richer than "was this mark hit", computed from its trace and its mark hits
//! after the run (before the trace is freed). Events may feed coverage and steer exploration; they never decide
//! a verdict.
//!
//! Each feature is a name and the simulated time (since the safety phase began) it was first reached, which is
//! where the explorer branches from:
//! - `mark:NAME` — a coverage mark was hit; `mark:NAME#N` — hit at least N times (N = 1, 2, 4, 8, 16), as AFL
//!   buckets hit counts;
//! - `under:NAME@KIND` — the mark was hit while a fault of that kind was active;
//! - `step:A>B` — along one view (environment, entity, schema) an event of type A was followed by one of type B
//!   (enqueued, then coalesced into another environment's job, then a lease expired, ...);
//! - `high:NAME>=2^L` — a numeric high-water mark reached 2^L ("sometimes greater than"): the deepest pending queue
//!   of one environment (`env-pending`), the most leases expired at one instant (`expired-at-once`), the largest
//!   backwards step of the queue's clock while it held leases (`clock-back-ms`), the oldest version the outbox had
//!   to repair (`outbox-age-ms`).

use crate::faults::Fault;
use crate::trace::{HarnessEvent, MarkHits, Record, TraceEvent};
use std::collections::BTreeMap;
use std::time::Duration;
use system::events::Event;

/// Hit-count buckets, as AFL's.
const BUCKETS: [u64; 5] = [1, 2, 4, 8, 16];

/// The features one run reached, each with when it was first reached (since the safety phase began; zero for
/// what happened before it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub features: BTreeMap<String, Duration>,
    /// High-water marks' values, for reports.
    pub highs: BTreeMap<String, u64>,
}

impl Coverage {
    fn reach(&mut self, name: String, at: Duration) {
        self.features.entry(name).or_insert(at);
    }

    /// A high-water mark's value: every power of two it passes is a feature of its own.
    fn high(&mut self, name: &str, value: u64, at: Duration) {
        let best = self.highs.entry(name.to_string()).or_insert(0);
        if value <= *best {
            return;
        }
        *best = value;
        let level = 63 - value.leading_zeros();
        for l in 0..=level {
            self.reach(format!("high:{name}>=2^{l}"), at);
        }
    }

    /// Only the marks, by name, with when each was first hit.
    pub fn marks(&self) -> impl Iterator<Item = (&str, Duration)> {
        self.features
            .iter()
            .filter_map(|(f, at)| f.strip_prefix("mark:").filter(|m| !m.contains('#')).map(|m| (m, *at)))
    }
}

/// The coverage of a run from its trace and its marks' hits.
pub fn coverage(trace: &[Record], marks: &BTreeMap<String, MarkHits>) -> Coverage {
    let safety_start = trace
        .iter()
        .find(|r| matches!(r.event, TraceEvent::Harness(HarnessEvent::PhaseStarted { phase: "safety" })))
        .map_or(Duration::ZERO, |r| r.at);
    let since = |at: Duration| at.saturating_sub(safety_start);
    let mut c = Coverage::default();
    for (name, hits) in marks {
        let first = hits.times.first().copied().map_or(Duration::ZERO, since);
        c.reach(format!("mark:{name}"), first);
        for bucket in BUCKETS.iter().filter(|&&b| hits.count >= b) {
            let at = hits.times.get(*bucket as usize - 1).or(hits.times.last()).copied().map_or(first, since);
            c.reach(format!("mark:{name}#{bucket}"), at);
        }
        for kind in &hits.under {
            c.reach(format!("under:{name}@{kind}"), first);
        }
    }
    let mut last_step: BTreeMap<(&str, &str, &str), &'static str> = BTreeMap::new();
    let mut pending: BTreeMap<&str, i64> = BTreeMap::new();
    let mut leased: i64 = 0;
    let mut expired_at: (Duration, u64) = (Duration::MAX, 0);
    let mut stored_at: BTreeMap<(&str, &str, u64), Duration> = BTreeMap::new();
    for record in trace {
        let at = since(record.at);
        match &record.event {
            TraceEvent::System(event) => {
                if let Some((env, entity, Some(schema))) = event.subject() {
                    let name = event.name();
                    if let Some(previous) = last_step.insert((env, entity, schema), name) {
                        if previous != name {
                            c.reach(format!("step:{previous}>{name}"), at);
                        }
                    }
                }
                match event {
                    Event::JobEnqueued { env, .. } | Event::JobRedelivered { env, coalesced: false, .. } => {
                        let depth = pending.entry(env.as_str()).or_default();
                        *depth += 1;
                        let depth = *depth;
                        c.high("env-pending", depth.max(0) as u64, at);
                    }
                    Event::JobLeased { env, .. } => {
                        *pending.entry(env.as_str()).or_default() -= 1;
                        leased += 1;
                    }
                    Event::JobCompleted { .. } => leased -= 1,
                    Event::LeaseExpired { .. } => {
                        leased -= 1;
                        expired_at =
                            if expired_at.0 == record.at { (record.at, expired_at.1 + 1) } else { (record.at, 1) };
                        c.high("expired-at-once", expired_at.1, at);
                    }
                    Event::SourceStored { env, entity, version, .. } => {
                        stored_at.insert((env.as_str(), entity.as_str(), version.0), record.at);
                    }
                    Event::OutboxRepaired { env, entity, version, .. } => {
                        if let Some(stored) = stored_at.get(&(env.as_str(), entity.as_str(), version.0)) {
                            c.high("outbox-age-ms", (record.at - *stored).as_millis() as u64, at);
                        }
                    }
                    _ => {}
                }
            }
            TraceEvent::Harness(HarnessEvent::FaultStarted { spec })
            | TraceEvent::Harness(HarnessEvent::FaultHealed { spec })
                if leased > 0 =>
            {
                // The queue's clock stepping back while it holds leases: a negative offset or jump starting, or a
                // positive offset healing (a jump heals by slewing, not stepping).
                let starting = matches!(record.event, TraceEvent::Harness(HarnessEvent::FaultStarted { .. }));
                let back = match &spec.fault {
                    Fault::ClockOffset { target, offset, .. } if target == "queue" && offset.negative == starting => {
                        Some(offset.magnitude)
                    }
                    Fault::ClockJump { target, offset, .. } if target == "queue" && offset.negative && starting => {
                        Some(offset.magnitude)
                    }
                    _ => None,
                };
                if let Some(back) = back {
                    c.high("clock-back-ms", back.as_millis() as u64, at);
                }
            }
            _ => {}
        }
    }
    c
}
