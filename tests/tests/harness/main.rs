//! The harness's integration tests, one binary, one module per concern:
//! - `baseline`: the correct system passes a multi-environment run and does real work.
//! - `branches`: a branched run replays its parent exactly up to the branch point and differs after it.
//! - `explore`: the explorer's runs, corpus and reports; branched seed files; a failure's likelihood.
//! - `evidence`: events explain, they never judge: muting the system's events changes no verdict.
//! - `determinism`: a seed gives the same trace on any thread; different seeds differ.
//! - `fuzz`: bolero-generated scenarios never break the harness, and the correct system passes them.
//! - `explain`: every saved seed's causal chain marks the step where things went wrong.
//! - `disk`: each storage fault (torn and corrupt writes, failed syncs, a full disk, crashes during compaction,
//!   slow syncs) leaves the log's longest valid prefix with everything acknowledged in it.
//! - `faults`: every fault kind has an observable effect; scripted plans run as written; swarm covers all kinds.
//! - `canaries`: every flaw is caught, and the same seed without the flaw passes.
//! - `scenario_errors`: malformed scenario files get errors that name file, line and field.
//! - `oracle`: each check fires on a crafted bad history and stays silent on a good one.
//! - `regressions`: the cases that once exposed a bug, each tied to it.
//! - `seeds`: every saved seed replays to its reviewed snapshot.
//! - `timeline`: every saved seed's HTML timeline renders in a headless browser with its lanes, faults and chains.
//! - `sweeps`: sweeps save failures, seed files replay exactly, shrink, shard and merge. (Ctrl-C is tested on
//!   the binary itself, in `sim/tests/cli.rs`.)

mod baseline;
mod branches;
mod canaries;
mod determinism;
mod disk;
mod evidence;
mod explain;
mod explore;
mod faults;
mod fuzz;
mod lease_requests;
mod oracle;
mod points;
mod readme;
mod regressions;
mod scenario_errors;
mod seeds;
mod swarm_ranges;
mod sweeps;
mod timeline;
