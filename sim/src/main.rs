//! The `sim` command: parses arguments and calls the library. Exit codes: 0 pass, 1 failure found, 2 bad input.

use clap::{Parser, Subcommand};
use sim::commands;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "sim", about = "Deterministic simulation testing for the processing system", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the scenarios (and, with --flaws, the flaws a scenario can switch on; with --marks, the coverage marks).
    List {
        #[arg(long)]
        flaws: bool,
        #[arg(long)]
        marks: bool,
    },
    /// Run one seed of one scenario and check it.
    Run(commands::run::RunArgs),
    /// Run many seeds of many scenarios in parallel (the main job). Without --scenario: every scenario.
    Sweep(commands::sweep::SweepArgs),
    /// Replay a saved seed file exactly: exit 1 while it still fails, 0 once it passes.
    Repro(commands::repro::ReproArgs),
    /// Shrink a failing seed file: fewer faults, environments and entities, less load, a shorter run.
    Shrink {
        file: String,
        /// Where to write the result (default: overwrite the file).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Measure the harness (throughput, overhead against bare madsim, time to find each canary, memory) and write
    /// BENCHMARKS.md.
    Bench {
        /// Seeds per scenario for throughput.
        #[arg(long, default_value_t = 20)]
        seeds: u64,
        /// Start seeds per canary for time-to-find.
        #[arg(long, default_value_t = 20)]
        canary_starts: u64,
        /// Seeds of the memory sweep.
        #[arg(long, default_value_t = 10_000)]
        memory_seeds: u64,
        #[arg(long, default_value = "BENCHMARKS.md")]
        output: PathBuf,
        /// Hand-written analysis appended to the figures.
        #[arg(long, default_value = "benchmarks-notes.md")]
        notes: PathBuf,
    },
    /// Merge the JSON results of sharded sweeps into one summary.
    Merge {
        files: Vec<PathBuf>,
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long)]
        junit: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    ExitCode::from(match Cli::parse().command {
        Command::List { flaws, marks } => commands::list::list(flaws, marks),
        Command::Run(args) => commands::run::run(args),
        Command::Sweep(args) => commands::sweep::sweep(args),
        Command::Repro(args) => commands::repro::repro(args),
        Command::Shrink { file, output } => {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            // Ctrl-C ends the shrink early; the smallest failing file found so far is still written.
            let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
            commands::shrink::shrink(&file, output, stop)
        }
        Command::Merge { files, json, junit } => commands::merge::merge(&files, json, junit),
        Command::Bench { seeds, canary_starts, memory_seeds, output, notes } => commands::bench::bench(
            sim::bench::BenchOptions { seeds, canary_starts, memory_seeds },
            &output,
            Some(&notes),
        ),
    })
}
