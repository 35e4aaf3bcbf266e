//! The oracle: checks a finished run against the invariants a correct system keeps.
//!
//! It is passive. It reads the trace (what the nodes reported), the clients' acknowledgements and the final
//! reading through the delivery API; it never steers the system. Each invariant has its own module and is
//! written from what a correct system must do, not from any particular bug:
//! - [`durability`]: an acknowledged ingest is never lost.
//! - [`monotonic`]: a view never goes back to an older version of its source.
//! - [`isolation`]: a view holds only its own environment's data, exactly as its source and schema render it.
//! - [`convergence`]: once load stops and the system goes quiet, every view reflects the newest source.
//! - [`fairness`]: where the scenario states a bound, a light environment's ingest reaches its views in time.
//! - [`work`]: executions and retries stay within a stated factor of the necessary work.

pub mod convergence;
pub mod durability;
pub mod fairness;
pub mod history;
pub mod isolation;
pub mod monotonic;
pub mod work;

use crate::outcome::{Violation, ViolationKind};
use crate::scenario::Scenario;
use crate::trace::Record;
use crate::world::Observation;
use history::History;

/// Violations of one kind reported one by one at most; the rest are counted in the last one.
pub const VIOLATIONS_PER_KIND_MAX: usize = 20;

pub fn check(scenario: &Scenario, trace: &[Record], observation: &Observation) -> Vec<Violation> {
    let history = History::new(trace);
    let mut found = Vec::new();
    monotonic::check(&history, &mut found);
    match &observation.final_state {
        None => found.push(Violation::new(
            ViolationKind::NotConverged,
            "the final reading through the delivery API did not get answers after the faults healed",
        )),
        Some(state) => {
            durability::check(&history, &observation.acks, state, &mut found);
            isolation::check(state, &mut found);
            convergence::check(&history, state, observation.load.given_up, &mut found);
            fairness::check(scenario, &history, state, &mut found);
            work::check(scenario, &history, state, observation, &mut found);
        }
    }
    cap_per_kind(found)
}

/// Keeps the first few violations of each kind and notes how many more there were, so that one broken
/// mechanism does not bury the report under thousands of lines.
fn cap_per_kind(found: Vec<Violation>) -> Vec<Violation> {
    let mut kept: Vec<Violation> = Vec::new();
    let mut dropped: std::collections::BTreeMap<ViolationKind, usize> = Default::default();
    for v in found {
        if kept.iter().filter(|k| k.kind == v.kind).count() < VIOLATIONS_PER_KIND_MAX {
            kept.push(v);
        } else {
            *dropped.entry(v.kind).or_default() += 1;
        }
    }
    for (kind, more) in dropped {
        if let Some(last) = kept.iter_mut().rev().find(|k| k.kind == kind) {
            last.detail.push_str(&format!(" ({more} more {kind} not listed)"));
        }
    }
    kept
}
