//! Reporting, in one home: the summary of a run, its violations and the command that reproduces it (here);
//! sweep and merge reports as text, JSON and JUnit ([`sweep`]); result files written safely ([`files`]); the
//! HTML timeline of one run ([`timeline`]).

pub mod files;
#[cfg(madsim)]
pub mod sweep;
#[cfg(madsim)]
pub mod timeline;

use crate::outcome::Outcome;
use std::fmt::Write;

/// The command that replays this seed with its trace.
pub fn repro_command(scenario: &str, seed: u64) -> String {
    format!("cargo sim run --scenario {scenario} --seed {seed} --trace")
}

pub fn summary(outcome: &Outcome) -> String {
    summary_with_repro(outcome, &repro_command(&outcome.scenario, outcome.seed))
}

/// The summary, with `repro` as the command a failure prints.
pub fn summary_with_repro(outcome: &Outcome, repro: &str) -> String {
    let st = &outcome.stats;
    let mut out = String::new();
    let verdict = if outcome.passed() { "PASS" } else { "FAIL" };
    let speed = if st.wall_ms > 0 { st.simulated_ms as f64 / st.wall_ms as f64 } else { f64::INFINITY };
    let _ = writeln!(out, "scenario {} · seed {} · {verdict}", outcome.scenario, outcome.seed);
    let _ = writeln!(
        out,
        "  load:   {} environments · {} ingests sent, {} acknowledged ({} retries, {} busy answers, {} abandoned by their senders, {} unanswered at the end) · {} deploys",
        st.environments, st.ingests_sent, st.ingests_acked, st.ingest_retries, st.ingests_busy, st.ingests_abandoned, st.ingests_given_up, st.deploys
    );
    let _ = writeln!(
        out,
        "  queue:  {} jobs enqueued, {} coalesced, {} busy refusals · {} leased, {} leases expired, {} redelivered, {} completed, {} abandoned",
        st.jobs_enqueued, st.jobs_coalesced, st.enqueues_busy, st.jobs_leased, st.leases_expired, st.jobs_redelivered, st.jobs_completed, st.jobs_abandoned
    );
    let _ = writeln!(
        out,
        "  store:  {} sources stored · {} views written, {} view writes refused as older",
        st.sources_stored, st.views_written, st.view_writes_refused
    );
    let _ = writeln!(
        out,
        "  reads:  {} reads · an acknowledged write became visible to its reader in {}ms (median), {}ms at most",
        st.reads, st.freshness_p50_ms, st.freshness_max_ms
    );
    let _ = writeln!(
        out,
        "  run:    {} RPCs, {} messages ({} of readers and checker) for {} necessary jobs · {:.1}s simulated in {:.3}s wall ({speed:.0}x) · {} trace events, hash {}",
        st.rpcs_sent,
        st.net_messages,
        st.observer_messages,
        st.necessary_jobs,
        st.simulated_ms as f64 / 1e3,
        st.wall_ms as f64 / 1e3,
        st.trace_events,
        outcome.trace_hash
    );
    if !outcome.fault_plan.is_empty() {
        let counts: Vec<String> = st.faults.iter().map(|(kind, n)| format!("{kind}={n}")).collect();
        let _ = writeln!(
            out,
            "  faults: {} events ({}) · {} RPC attempts unanswered",
            outcome.fault_plan.len(),
            counts.join(" "),
            st.rpcs_failed
        );
        for spec in &outcome.fault_plan {
            let _ = writeln!(out, "    at {:>9}  {spec}", spec.at.to_string());
        }
    }
    if !outcome.violations.is_empty() {
        let _ = writeln!(out, "  violations ({}):", outcome.violations.len());
        for v in &outcome.violations {
            let _ = writeln!(out, "    [{}] {v}", v.kind.class());
        }
        let _ = writeln!(out, "  reproduce: {repro}");
    }
    out
}

/// Violations explained in a run's or a replay's summary (all of them with `--explain`).
pub const EXPLAINED_MAX: usize = 3;

/// The causal chain of each of the first `max` violations (see [`crate::explain`]), one screen each.
pub fn explanations(trace: &[crate::trace::Record], outcome: &Outcome, max: usize) -> String {
    let mut out = String::new();
    for violation in outcome.violations.iter().take(max) {
        if let Some(chain) = crate::explain::explain(trace, violation) {
            let _ = write!(out, "{chain}");
        }
    }
    if outcome.violations.len() > max {
        let _ = writeln!(out, "  ({} more violations not explained here)", outcome.violations.len() - max);
    }
    out
}
