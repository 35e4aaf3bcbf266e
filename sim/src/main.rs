//! The `sim` command: parses arguments and calls the library. Exit codes: 0 pass, 1 failure found, 2 bad input.

use clap::{Parser, Subcommand};
use sim::{catalog, determinism, report, world};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "sim", about = "Deterministic simulation testing for the processing system", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the scenarios (and, with --flaws, the flaws a scenario can switch on).
    List {
        #[arg(long)]
        flaws: bool,
    },
    /// Run one seed of one scenario and check it.
    Run {
        /// A scenario name under scenarios/ (e.g. `baseline`, `canaries/dedup-ignores-environment`) or a path.
        #[arg(long)]
        scenario: String,
        #[arg(long)]
        seed: u64,
        /// Print the outcome as JSON instead of the summary.
        #[arg(long)]
        json: bool,
        /// Print the event log: simulated time, node, event.
        #[arg(long)]
        trace: bool,
        /// With --trace: only events whose line contains this text (e.g. `acme-prod/home`).
        #[arg(long, requires = "trace")]
        filter: Option<String>,
        /// Run the seed twice on fresh threads and fail if the traces differ.
        #[arg(long)]
        check_determinism: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::List { flaws } => list(flaws),
        Command::Run { scenario, seed, json, trace, filter, check_determinism } => {
            run(&scenario, seed, json, trace, filter.as_deref(), check_determinism)
        }
    }
}

fn list(flaws: bool) -> ExitCode {
    let dir = catalog::scenarios_dir();
    let mut bad = false;
    for path in catalog::list(&dir) {
        let name = path.strip_prefix(&dir).unwrap_or(&path).with_extension("");
        match sim::scenario::load_file(&path) {
            Ok(s) => println!("{:<40} {}", name.display(), s.description.trim()),
            Err(e) => {
                bad = true;
                eprintln!("error: {e}");
            }
        }
    }
    if flaws {
        println!("\nflaws (system.flaws = [...]):");
        for flaw in system::flaws::Flaw::ALL {
            println!("  {:<38} {}", flaw.name(), flaw.description());
        }
    }
    if bad {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn run(name: &str, seed: u64, json: bool, trace: bool, filter: Option<&str>, check: bool) -> ExitCode {
    let scenario = match catalog::load(name) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (result, divergence) =
        if check { determinism::run_twice(&scenario, seed) } else { (world::run_seed(&scenario, seed), None) };
    if trace {
        for record in &result.trace {
            let line = record.to_string();
            if filter.is_none_or(|f| line.contains(f)) {
                println!("{line}");
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&result.outcome).expect("outcomes serialize"));
    } else {
        print!("{}", report::summary(&result.outcome));
    }
    if let Some(d) = &divergence {
        eprintln!("nondeterminism: {d}");
        eprintln!("  trace hashes: {} vs {}", d.first_hash, d.second_hash);
        eprintln!(
            "  reproduce: cargo sim run --scenario {} --seed {seed} --check-determinism",
            result.outcome.scenario
        );
    } else if check && !json {
        println!("  determinism: two runs on fresh threads gave identical traces");
    }
    if result.outcome.passed() && divergence.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
