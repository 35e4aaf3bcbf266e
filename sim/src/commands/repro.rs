//! `cargo sim repro FILE`: replay a saved seed, exactly.

use super::bad_input;
use super::run::print_trace;
use crate::{determinism, report, seedfile, sweep, world};
use std::path::Path;

#[derive(clap::Args)]
pub struct ReproArgs {
    /// A seed file (seeds/*.toml).
    pub file: String,
    /// Print the event log: simulated time, node, event.
    #[arg(long)]
    pub trace: bool,
    /// With --trace: only events whose line contains this text (e.g. `acme-prod/home`).
    #[arg(long, requires = "trace")]
    pub filter: Option<String>,
    /// Replay once instead of twice (the second replay checks determinism).
    #[arg(long)]
    pub no_determinism_check: bool,
    /// Print the outcome as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
}

pub fn repro(args: ReproArgs) -> u8 {
    let path = Path::new(&args.file);
    let file = match seedfile::load(path) {
        Ok(f) => f,
        Err(e) => return bad_input(e),
    };
    let loaded = file.to_loaded(path);
    let seed = file.seed.seed;
    let (result, divergence) = if args.no_determinism_check {
        (world::run_seed(&loaded, seed), None)
    } else {
        determinism::run_twice(&loaded, seed)
    };
    if args.trace {
        print_trace(&result.trace, args.filter.as_deref());
    }
    let outcome = &result.outcome;
    if args.json {
        println!("{}", serde_json::to_string_pretty(outcome).expect("outcomes serialize"));
    } else {
        print!("{}", report::summary_with_repro(outcome, &format!("cargo sim repro {} --trace", args.file)));
    }
    let now = sweep::signature(outcome);
    let verdict = match &now {
        Some(sig) if *sig == file.seed.signature => format!("reproduced: fails with the same signature `{sig}`"),
        Some(sig) => format!("fails differently: signature `{sig}`, saved as `{}`", file.seed.signature),
        None => format!("no longer fails (saved as `{}`)", file.seed.signature),
    };
    println!("repro: {verdict}");
    if outcome.trace_hash != file.outcome.trace_hash {
        println!(
            "  note: the trace hash is {} (saved: {}); the system or harness changed since the seed was saved",
            outcome.trace_hash, file.outcome.trace_hash
        );
    }
    match &divergence {
        Some(d) => {
            eprintln!("nondeterminism: {d}");
            return 1;
        }
        None if !args.no_determinism_check => println!("  determinism: two replays gave identical traces"),
        None => {}
    }
    if outcome.passed() {
        0
    } else {
        1
    }
}
