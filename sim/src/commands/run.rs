use super::bad_input;
use crate::trace::Record;
use crate::{catalog, determinism, report, world};

#[derive(clap::Args)]
pub struct RunArgs {
    /// A scenario name under scenarios/ (e.g. `baseline`, `canaries/dedup-ignores-environment`) or a path.
    #[arg(long)]
    pub scenario: String,
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
    /// Run the seed twice on fresh threads and fail if the traces differ.
    #[arg(long)]
    pub check_determinism: bool,
}

/// Prints the trace lines that contain `filter` (all of them without one).
pub fn print_trace(trace: &[Record], filter: Option<&str>) {
    for record in trace {
        let line = record.to_string();
        if filter.is_none_or(|f| line.contains(f)) {
            println!("{line}");
        }
    }
}

pub fn run(args: RunArgs) -> u8 {
    let scenario = match catalog::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    let (result, divergence) = if args.check_determinism {
        determinism::run_twice(&scenario, args.seed)
    } else {
        (world::run_seed(&scenario, args.seed), None)
    };
    if args.trace {
        print_trace(&result.trace, args.filter.as_deref());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result.outcome).expect("outcomes serialize"));
    } else {
        print!("{}", report::summary(&result.outcome));
    }
    if let Some(d) = &divergence {
        eprintln!("nondeterminism: {d}");
        eprintln!("  trace hashes: {} vs {}", d.first_hash, d.second_hash);
        eprintln!(
            "  reproduce: cargo sim run --scenario {} --seed {} --check-determinism",
            result.outcome.scenario, args.seed
        );
    } else if args.check_determinism && !args.json {
        println!("  determinism: two runs on fresh threads gave identical traces");
    }
    if result.outcome.passed() && divergence.is_none() {
        0
    } else {
        1
    }
}
