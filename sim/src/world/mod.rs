//! One seed of one scenario, end to end. Each file has one job:
//! - [`run`]: a fresh OS thread and a madsim runtime per seed; classifies how the run ended (a verdict from the
//!   oracle, or a panic, deadlock or time limit) and gathers statistics.
//! - [`cluster`]: wires the system's nodes (each with its own clock, disk and event sink) and the harness's own
//!   actors' nodes.
//! - [`phases`]: the phase script: setup (deploy every schema), safety (load, readers, deploys and the fault
//!   plan), liveness (faults healed, load stopped, the system must go quiet within the budget).
//! - [`config`]: the system's configuration a scenario gives, and the quiet window it implies.
//! - [`operator`]: schema deploys through the public API, retried as an operator would.
//! - [`verdict`]: the oracle's judgement of a run, with its statistics.
//! - [`reading`]: the final reading of every environment through the public API.
//!
//! What a run hands the oracle is an [`Observation`]: what the clients sent and were told, what the readers
//! saw, the final reading, and what the simulated network counted. Never the system's own events.

#[cfg(madsim)]
pub mod cluster;
pub mod config;
pub mod operator;
#[cfg(madsim)]
pub mod phases;
pub mod reading;
#[cfg(madsim)]
pub mod run;
pub mod verdict;
#[cfg(madsim)]
pub mod wiretap;

pub use config::system_config;
pub use reading::{EnvState, FinalState};
#[cfg(madsim)]
pub use run::{fault_plan, run_seed, run_seed_here, run_seed_with, RunOptions, RunResult};

use crate::load::Write;
use crate::model::DeployRecord;
use crate::readers::Read;
use std::time::Duration;

/// What the run observed from outside the system, for the oracle.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    /// Every write the clients sent, with what they were told.
    pub writes: Vec<Write>,
    /// Every schema deploy sent (the initial ones and the scheduled ones), with the replies.
    pub deploys: Vec<DeployRecord>,
    /// Every read the readers made during the safety and liveness phases, in time order.
    pub reads: Vec<Read>,
    /// None if the final reading itself failed.
    pub final_state: Option<FinalState>,
    pub load: LoadCounters,
    /// Messages the simulated network delivered (madsim's own count).
    pub net_messages: u64,
    /// Messages of the harness's observers (readers, the checker): not the system's work.
    pub observer_messages: u64,
    /// Messages of workers' idle long polls (a request with nothing to acknowledge, and its empty answer), as
    /// the wiretap saw them: waiting for work, not work, up to the rate a long poll allows.
    pub idle_poll_messages: u64,
    pub simulated: Duration,
    /// How long network and process faults lasted in all (see `faults::disruption`).
    pub disruption: Duration,
    /// Every executed fault with when it ended: the scenario's own account of what it did to the system, which
    /// the freshness bound leaves delayed writes out by (a fault outside the core ends with the run).
    pub fault_windows: Vec<FaultWindow>,
    /// The fault points switched on for the run, with the percent of calls each fires at: which legal detours the
    /// system may have taken, as the harness drew them.
    pub points_on: Vec<(system::points::Point, u64)>,
}

/// One executed fault and the time it ended, from the start of the safety phase.
#[derive(Clone, Debug)]
pub struct FaultWindow {
    pub spec: crate::faults::FaultSpec,
    pub until: Duration,
}

/// Load counters, copied out of the shared load state at the end of the run.
#[derive(Clone, Debug, Default)]
pub struct LoadCounters {
    pub sent: u64,
    pub retries: u64,
    pub busy: u64,
    /// Requests their senders abandoned after a few attempts, by design.
    pub abandoned: u64,
    /// Requests still unanswered when the run ended.
    pub given_up: u64,
}
