use super::bad_input;
use crate::trace::Record;
use crate::{catalog, determinism, report, world};

#[derive(clap::Args)]
pub struct RunArgs {
    /// A scenario name under scenarios/ (e.g. `baseline`, `canaries/dedup-ignores-environment`) or a path.
    #[arg(long)]
    pub scenario: String,
    /// The seed: every random choice of the run (load, faults, the simulated network) derives from it.
    #[arg(long)]
    pub seed: u64,
    /// Print the outcome as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Print the event log: simulated time, node, event.
    #[arg(long)]
    pub trace: bool,
    /// With --trace: only events whose line contains this text (e.g. `acme-prod/home`).
    #[arg(long, requires = "trace")]
    pub filter: Option<String>,
    /// Drop every event the system reports (coverage marks aside); the verdict must not change.
    #[arg(long)]
    pub mute_system_events: bool,
    /// The determinism check's negative control: plant a task whose timing leaks from one run into the next.
    /// `--check-determinism` must report it.
    #[arg(long)]
    pub plant_nondeterminism: bool,
    /// Run the seed twice on fresh threads and fail if the traces differ.
    #[arg(long)]
    pub check_determinism: bool,
}

/// Prints the trace lines that contain `filter` (all of them without one).
pub fn print_trace(trace: &[Record], filter: Option<&str>) {
    for record in trace {
        let line = record.to_string();
        if filter.is_none_or(|f| line.contains(f)) {
            crate::outln!("{line}");
        }
    }
}

pub fn run(args: RunArgs) -> u8 {
    let scenario = match catalog::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    let options = world::RunOptions {
        mute_system_events: args.mute_system_events,
        plant_nondeterminism: args.plant_nondeterminism,
    };
    let (result, divergence) = if args.check_determinism {
        determinism::run_twice_with(&scenario, args.seed, options)
    } else {
        (world::run_seed_with(&scenario, args.seed, options), None)
    };
    if args.trace {
        print_trace(&result.trace, args.filter.as_deref());
    }
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&result.outcome).expect("outcomes serialize"));
    } else {
        crate::out!("{}", report::summary(&result.outcome));
    }
    if let Some(d) = &divergence {
        crate::errln!("nondeterminism: {d}");
        crate::errln!("  trace hashes: {} vs {}", d.first_hash, d.second_hash);
        crate::errln!(
            "  reproduce: cargo sim run --scenario {} --seed {} --check-determinism",
            result.outcome.scenario,
            args.seed
        );
    } else if args.check_determinism && !args.json {
        crate::outln!("  determinism: three runs on fresh threads gave identical traces, and two of them identical draws from madsim's generator");
    }
    if result.outcome.passed() && divergence.is_none() {
        0
    } else {
        1
    }
}
