//! The oracle: checks a finished run against the invariants a correct system keeps.
//!
//! It is passive, and it believes only what it can verify. Its evidence is what the clients sent and were told
//! (writes, deploys and their replies), what the readers saw through the delivery API during the run, the final
//! reading through the same API, the scenario, and what the simulated network counted. From the clients' side
//! it builds a reference model ([`crate::model`]) of what may legitimately be current, and renders expected
//! views with its own code. The system's own events never decide a verdict: they only explain one (the
//! `history` index turns them into the "last events" of a violation) and feed coverage marks. A run with the
//! system's event sink muted gets the same verdict (tested).
//!
//! Each invariant has its own module, written from what a correct system must do, not from any known bug:
//! - [`durability`]: an acknowledged write is never lost; the client's later write wins over its earlier one.
//! - [`isolation`]: every view read is a rendering of content its own environment sent, under a deployed schema.
//! - [`monotonic`]: no reader ever sees a view go back to a strictly older version.
//! - [`convergence`]: once load stops and the system goes quiet, every view shows the current content under the
//!   last acknowledged deploy; acknowledged deploys are what the store ends up with.
//! - [`fairness`]: where the scenario states a bound, readers see an acknowledged write within it.
//! - [`work`]: messages and client retries stay within a stated factor of the necessary work.

pub mod convergence;
pub mod durability;
pub mod fairness;
pub mod history;
pub mod isolation;
pub mod monotonic;
pub mod work;

use crate::model::Model;
use crate::outcome::{Violation, ViolationKind};
use crate::scenario::Scenario;
use crate::trace::Record;
use crate::world::Observation;
use history::History;

/// Violations of one kind reported one by one at most; the rest are counted in the last one.
pub const VIOLATIONS_PER_KIND_MAX: usize = 20;

/// Judges a run. `trace` is used only to explain violations, never to find them.
pub fn check(scenario: &Scenario, trace: &[Record], observation: &Observation) -> Vec<Violation> {
    check_with(scenario, trace, observation, &Model::new(&observation.writes, &observation.deploys))
}

/// [`check`] with the run's reference model already built (a run builds it once, for its statistics too).
pub fn check_with(scenario: &Scenario, trace: &[Record], observation: &Observation, model: &Model) -> Vec<Violation> {
    let history = History::new(trace);
    let mut found = Vec::new();
    monotonic::check(&observation.reads, observation.final_state.as_ref(), &history, &mut found);
    isolation::check(model, &observation.reads, observation.final_state.as_ref(), &mut found);
    durability::check_replies(model, &mut found);
    match &observation.final_state {
        None => found.push(Violation::new(
            ViolationKind::NotConverged,
            "the final reading through the delivery API did not get answers after the faults healed",
        )),
        Some(state) => {
            durability::check(model, state, &history, &mut found);
            convergence::check(model, state, observation.load.given_up, &history, &mut found);
            fairness::check(
                scenario,
                model,
                &observation.reads,
                &observation.fault_windows,
                &observation.points_on,
                &mut found,
            );
            work::check(scenario, model, observation, &mut found);
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
