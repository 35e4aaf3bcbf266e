//! The `sim` command: parses arguments and calls the library. Exit codes are listed in `sim --help` (and in
//! `sim::commands`): 0 pass, 1 failure found, 2 bad input, 3 incomplete, 4 results not written.

// The simulator must be built with `--cfg madsim`, or nothing would be simulated. Without it, only the library's
// live subset and the `sim-live` binary build (see `sim::live`).
#[cfg(not(madsim))]
compile_error!(
    "the sim command must be built with `--cfg madsim`, or nothing would be simulated. The workspace's \
     .cargo/config.toml sets it; a RUSTFLAGS environment variable replaces that setting. Unset RUSTFLAGS, or \
     include the flag in it: RUSTFLAGS=\"--cfg madsim ...\". (The live mode's binary, sim-live, is the one built \
     without it.)"
);

use clap::{Parser, Subcommand};
use sim::commands::{self, EXIT_CODES_HELP};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

// The profile of a sweep showed a quarter of its time in glibc's malloc and free (runs allocate and free many
// small messages, events and futures), with arenas shared between sweep threads. mimalloc keeps a heap per
// thread; BENCHMARKS.md and benchmarks-notes.md have the figures. The allocator cannot reach the simulation:
// nothing simulated reads an address.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its index in `mi_option_e`, `mimalloc.h`; libmimalloc-sys names the
/// options on either side of it but not this one).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Every seed runs on a fresh thread, whose heap would fault in (and the kernel zero) fresh pages if freed
/// ones had been given back: the profile showed 12% of a sweep's time zeroing pages, and page faults in one
/// process contend for its address space. Keeping freed pages measured 1.66x -> 1.79x for two threads against
/// one (benchmarks-notes.md). The sweep's memory stays flat: pages are reused, not accumulated.
fn keep_freed_pages() {
    // SAFETY: sets a plain integer option of the allocator; mimalloc reads it whenever it decides to purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[derive(Parser)]
#[command(
    name = "sim",
    about = "Deterministic simulation testing for the processing system",
    version,
    after_help = EXIT_CODES_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the scenarios (and, with --flaws, the flaws a scenario can switch on; with --marks, the coverage marks).
    #[command(after_help = EXIT_CODES_HELP)]
    List {
        /// Also list the known-bad behaviours a scenario can switch on (`system.flaws`).
        #[arg(long)]
        flaws: bool,
        /// Also list the coverage marks a scenario can require (`[coverage] requires`).
        #[arg(long)]
        marks: bool,
    },
    /// Run one seed of one scenario and check it.
    #[command(after_help = EXIT_CODES_HELP)]
    Run(commands::run::RunArgs),
    /// Run many seeds of many scenarios in parallel (the main job). Without --scenario: every scenario.
    #[command(after_help = EXIT_CODES_HELP)]
    Sweep(commands::sweep::SweepArgs),
    /// Hunt rare states: branch runs shortly before the rarest moments they reached, keep what reaches new
    /// coverage, save what fails (time-boxed, all cores, shardable). Without --scenario: every scenario but the
    /// canaries.
    #[command(after_help = EXIT_CODES_HELP)]
    Explore(commands::explore::ExploreArgs),
    /// Replay a saved seed file exactly: exit 1 while it still fails, 0 once it passes.
    #[command(after_help = EXIT_CODES_HELP)]
    Repro(commands::repro::ReproArgs),
    /// Shrink a failing seed file: fewer branches, faults, environments and entities, less load, a shorter run.
    /// Exit 1 (nothing written) if the seed no longer fails.
    #[command(after_help = EXIT_CODES_HELP)]
    Shrink {
        /// The seed file to shrink (seeds/*.toml).
        file: String,
        /// Where to write the result (default: beside the file, as `<name>.shrunk.toml`).
        #[arg(long, conflicts_with = "in_place")]
        output: Option<PathBuf>,
        /// Overwrite the seed file itself with the shrunk one.
        #[arg(long)]
        in_place: bool,
    },
    /// Measure the harness (throughput, overhead against bare madsim, time to find each canary, memory) and write
    /// BENCHMARKS.md.
    #[command(after_help = EXIT_CODES_HELP)]
    Bench {
        /// Seeds per scenario for throughput (more for a scenario whose seeds take under 2 s; one thread and all
        /// cores are timed in three alternating rounds, each keeping its fastest).
        #[arg(long, default_value_t = 30)]
        seeds: u64,
        /// Start seeds per canary for time-to-find.
        #[arg(long, default_value_t = 20)]
        canary_starts: u64,
        /// Seeds of the memory sweep.
        #[arg(long, default_value_t = 10_000)]
        memory_seeds: u64,
        /// Where the figures are written.
        #[arg(long, default_value = "BENCHMARKS.md")]
        output: PathBuf,
        /// Hand-written analysis appended to the figures.
        #[arg(long, default_value = "benchmarks-notes.md")]
        notes: PathBuf,
        /// Wall budget per scenario, for sweep and for explore, in the exploration reach table.
        #[arg(long, default_value = "60s")]
        explore_budget: String,
        /// Start seeds per rare canary in the exploration canary table.
        #[arg(long, default_value_t = 10)]
        rare_starts: u64,
        /// The longest a hunt for a rare canary may take (a hunt that has not caught it counts as this).
        #[arg(long, default_value = "120s")]
        rare_cap: String,
        /// Only these scenarios in the exploration reach table (repeat; default all the catalog).
        #[arg(long = "explore-scenario")]
        explore_scenarios: Vec<String>,
        /// Measure only the exploration tables and refresh that section of the output.
        #[arg(long)]
        only_exploration: bool,
        /// Seeds of `swarm`, with and without fault points, ranges and moment faults, in the swarm reach table.
        #[arg(long, default_value_t = 300)]
        swarm_seeds: u64,
        /// Measure only the swarm reach table and refresh that section of the output.
        #[arg(long, conflicts_with = "only_exploration")]
        only_swarm_reach: bool,
    },
    /// Merge the JSON reports of sharded sweeps into one report; checks that the shards belong together.
    #[command(after_help = EXIT_CODES_HELP)]
    Merge(commands::merge::MergeArgs),
    /// Run a scenario's cluster for real: local processes, real clock, disk and network, killed and paused from
    /// outside, judged by the same oracle. Not reproducible. Builds the real variant first; `--help` after
    /// `live` shows its arguments.
    #[command(after_help = EXIT_CODES_HELP)]
    Live(commands::live::LiveArgs),
}

fn main() -> ExitCode {
    keep_freed_pages();
    ExitCode::from(match Cli::parse().command {
        Command::List { flaws, marks } => commands::list::list(flaws, marks),
        Command::Run(args) => commands::run::run(args),
        Command::Sweep(args) => commands::sweep::sweep(args),
        Command::Explore(args) => commands::explore::explore(args),
        Command::Repro(args) => commands::repro::repro(args),
        Command::Shrink { file, output, in_place } => {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            // Ctrl-C ends the shrink early; the smallest failing file found so far is still written.
            let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
            commands::shrink::shrink(&file, output, in_place, stop)
        }
        Command::Merge(args) => commands::merge::merge(args),
        Command::Live(args) => commands::live::live(args),
        Command::Bench {
            seeds,
            canary_starts,
            memory_seeds,
            output,
            notes,
            explore_budget,
            rare_starts,
            rare_cap,
            explore_scenarios,
            only_exploration,
            swarm_seeds,
            only_swarm_reach,
        } => {
            let parse = |flag: &str, text: &str| {
                humantime::parse_duration(text).map_err(|e| format!("--{flag}: {e}; write it like 60s or 2m"))
            };
            let (budget, cap) = match (parse("explore-budget", &explore_budget), parse("rare-cap", &rare_cap)) {
                (Ok(b), Ok(c)) if !b.is_zero() && !c.is_zero() && rare_starts > 0 => (b, c),
                (Err(e), _) | (_, Err(e)) => return ExitCode::from(commands::bad_input(e)),
                _ => return ExitCode::from(commands::bad_input("budgets and --rare-starts must be more than zero")),
            };
            let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
            let exploration = sim::bench::exploration::ExplorationOptions {
                budget,
                starts: rare_starts,
                cap,
                jobs,
                scenarios: explore_scenarios,
            };
            if swarm_seeds == 0 {
                return ExitCode::from(commands::bad_input("--swarm-seeds must be more than zero"));
            }
            if only_swarm_reach {
                commands::bench::swarm_reach_only(swarm_seeds, jobs, &output)
            } else if only_exploration {
                commands::bench::exploration_only(&exploration, &output)
            } else {
                commands::bench::bench(
                    sim::bench::BenchOptions { seeds, canary_starts, memory_seeds, exploration, swarm_seeds },
                    &output,
                    Some(&notes),
                )
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every argument of every subcommand has a help line, and every subcommand shows the exit codes.
    #[test]
    fn every_argument_has_a_help_line() {
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            assert!(sub.get_after_help().is_some(), "{} shows no exit codes", sub.get_name());
            for arg in sub.get_arguments().filter(|a| a.get_id() != "help") {
                assert!(arg.get_help().is_some(), "{} --{} has no help line", sub.get_name(), arg.get_id());
            }
        }
    }
}
