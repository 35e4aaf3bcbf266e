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
    /// Run many seeds of many scenarios in parallel (the main job). Without --scenario: every scenario.
    Sweep {
        /// A scenario name or path; repeat for several. Default: every scenario under scenarios/.
        #[arg(long)]
        scenario: Vec<String>,
        /// Seed range A..B (B exclusive). Default: a start that rotates every run, and --count seeds.
        #[arg(long, conflicts_with_all = ["start", "count"])]
        seeds: Option<String>,
        #[arg(long)]
        start: Option<u64>,
        /// Seeds per scenario.
        #[arg(long)]
        count: Option<u64>,
        /// Seeds run at once. Default: all cores.
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only this machine's share of the seeds: K/N (1-based).
        #[arg(long)]
        shard: Option<String>,
        /// Stop taking new seeds after this much wall time (e.g. 60s, 10m). Default: 10m.
        #[arg(long)]
        time_budget: Option<String>,
        /// Where new failures are saved as seed files.
        #[arg(long, default_value = "seeds")]
        save_dir: PathBuf,
        /// Write the sweep's results as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the sweep's results as JUnit XML to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Stop at the first failure.
        #[arg(long)]
        fail_fast: bool,
        /// Save failures as found, without shrinking them.
        #[arg(long)]
        no_shrink: bool,
        /// Share of seeds run twice to check determinism, in percent.
        #[arg(long, default_value_t = 5)]
        determinism_percent: u64,
    },
    /// Replay a saved seed file exactly: exit 1 while it still fails, 0 once it passes.
    Repro {
        /// A seed file (seeds/*.toml).
        file: String,
        /// Print the event log: simulated time, node, event.
        #[arg(long)]
        trace: bool,
        /// With --trace: only events whose line contains this text (e.g. `acme-prod/home`).
        #[arg(long, requires = "trace")]
        filter: Option<String>,
        /// Replay once instead of twice (the second replay checks determinism).
        #[arg(long)]
        no_determinism_check: bool,
        /// Print the outcome as JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
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
        Command::Run { scenario, seed, json, trace, filter, check_determinism } => {
            commands::run::run(commands::run::RunArgs { scenario, seed, json, trace, filter, check_determinism })
        }
        Command::Sweep {
            scenario,
            seeds,
            start,
            count,
            jobs,
            shard,
            time_budget,
            save_dir,
            json,
            junit,
            fail_fast,
            no_shrink,
            determinism_percent,
        } => commands::sweep::sweep(commands::sweep::SweepArgs {
            scenarios: scenario,
            seeds,
            start,
            count,
            jobs,
            shard,
            time_budget,
            save_dir,
            json,
            junit,
            fail_fast,
            no_shrink,
            determinism_percent,
        }),
        Command::Repro { file, trace, filter, no_determinism_check, json } => {
            commands::repro::repro(commands::repro::ReproArgs { file, trace, filter, no_determinism_check, json })
        }
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
