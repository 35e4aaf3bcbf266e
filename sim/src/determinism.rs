//! Determinism checks: the same seed, scenario and binary must give a bit-identical trace. A run is repeated on
//! a fresh thread and the two traces are compared line by line, so that a mismatch points at the first event
//! where the runs went apart, which is where to look for the source of nondeterminism.

use crate::scenario::LoadedScenario;
use crate::trace::Record;
use crate::world::{run_seed, RunResult};

/// Where two runs of the same seed went apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the first differing trace line.
    pub index: usize,
    pub first: Option<String>,
    pub second: Option<String>,
    pub first_hash: String,
    pub second_hash: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "the runs diverge at trace event #{}:", self.index)?;
        writeln!(f, "  first run:  {}", self.first.as_deref().unwrap_or("(trace ended)"))?;
        write!(f, "  second run: {}", self.second.as_deref().unwrap_or("(trace ended)"))
    }
}

/// Compares two traces; `None` if they are identical.
pub fn compare(first: &[Record], second: &[Record]) -> Option<usize> {
    let index = first.iter().zip(second).position(|(a, b)| a != b);
    match index {
        Some(i) => Some(i),
        None if first.len() != second.len() => Some(first.len().min(second.len())),
        None => None,
    }
}

/// Runs the seed twice on fresh threads. Returns the first run, and the divergence if the runs differ.
pub fn run_twice(scenario: &LoadedScenario, seed: u64) -> (RunResult, Option<Divergence>) {
    let first = run_seed(scenario, seed);
    let second = run_seed(scenario, seed);
    let divergence = compare(&first.trace, &second.trace).map(|index| Divergence {
        index,
        first: first.trace.get(index).map(|r| r.to_string()),
        second: second.trace.get(index).map(|r| r.to_string()),
        first_hash: first.outcome.trace_hash.clone(),
        second_hash: second.outcome.trace_hash.clone(),
    });
    (first, divergence)
}
