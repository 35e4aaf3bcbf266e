//! The deterministic simulation harness for the processing system in the `system` crate.
//!
//! Code map:
//! - [`commands`]: the `sim` subcommands (list, run, sweep, ...), each returning an exit code.
//! - [`bench`]: the benchmark behind `cargo sim bench` and BENCHMARKS.md.
//! - [`scenario`]: the strict TOML scenario format and its validation (errors name file, line and field).
//! - [`catalog`]: where scenarios live and how names resolve to files.
//! - [`world`]: runs one seed: a fresh thread, a seeded madsim runtime, the nodes, the phases, the final read.
//! - [`live`]: the live mode (built without `--cfg madsim`, as `sim-live`): the cluster as real processes,
//!   the same clients, readers and oracle.
//! - [`load`]: one load client per environment, each with its own random stream, and the record of its writes.
//! - [`readers`]: one reader per environment, reading views through the delivery API during the run.
//! - [`model`]: the oracle's reference model, built from what clients sent and were told.
//! - [`faults`]: fault plans (scripted or generated, swarm mode) and the fault models: network, clocks, disks,
//!   processes, load; one module per family, and the injector that executes a plan.
//! - [`oracle`]: the invariants, one module each; passive, it judges from clients, readers, the final reading
//!   and the network's counts, never from the system's events (which only explain).
//! - [`trace`]: the ordered event log of a run and its stable hash.
//! - [`outcome`]: verdicts, typed violations and statistics.
//! - [`determinism`]: runs a seed twice and shows the first event at which the runs diverge.
//! - [`report`]: human-readable summaries and the repro command every failure prints.
//! - [`output`]: stdout and stderr that survive a closed pipe (`sim list | head`).
//! - [`seedfile`]: failing seeds saved as self-contained, replayable, hand-editable TOML.
//! - [`shrink`]: delta debugging of a seed file towards the smallest run that fails the same way.
//! - [`sweep`]: many seeds in parallel, sharded, time-boxed; failures grouped by signature.
//! - [`rng`]: one random stream per concern, derived from the seed.
//! - [`branch`]: a run re-randomized from a moment on (the explorer's fork), recorded in seed files.
//!
//! Architecture invariants: the harness drives the system only through its public RPC API and the interfaces
//! the system owns (clock, event sink, link shaper); it never reaches into a node's state. Nothing in a run
//! reads the host's clock or randomness; the only OS thread it starts is the fresh one per seed.

#[cfg(madsim)]
pub mod bench;
pub mod branch;
pub mod catalog;
#[cfg(madsim)]
pub mod commands;
#[cfg(madsim)]
pub mod determinism;
pub mod explain;
#[cfg(madsim)]
pub mod explore;
pub mod faults;
#[cfg(not(madsim))]
pub mod live;
pub mod load;
pub mod marks;
pub mod model;
pub mod oracle;
pub mod outcome;
pub mod output;
pub mod readers;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod seedfile;
#[cfg(madsim)]
pub mod shrink;
#[cfg(madsim)]
pub mod sweep;
pub mod trace;
pub mod world;
