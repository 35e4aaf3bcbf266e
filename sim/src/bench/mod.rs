//! The benchmark: measures the harness on this machine and writes `BENCHMARKS.md`. Speed targets live here,
//! reported against measurements, never asserted in tests: the machines are shared and noisy. Comparisons are
//! ratios measured in the same run (one thread against all cores, the harness against bare madsim).

pub mod alone;
pub mod exploration;
pub mod swarm;

use crate::catalog;
use crate::scenario::{Bounded, Dur, LoadedScenario};
use crate::sweep::{self, SweepOptions};
use std::fmt::Write;
use std::time::Duration;

/// Seeds per variant of the scaling table at most (the x4 variants are four times the work).
const SCALING_SEEDS_MAX: u64 = 5;
/// One thread's time for a scenario's throughput seeds at least.
const THROUGHPUT_WALL_MIN: Duration = Duration::from_secs(2);
/// Rounds per throughput configuration.
const ROUNDS: usize = 3;
/// Seeds per round of the overhead comparison, for the system alone and for the harness.
const OVERHEAD_SEEDS: u64 = 5;
/// Rounds of the overhead comparison.
const OVERHEAD_ROUNDS: usize = 5;

pub struct BenchOptions {
    pub seeds: u64,
    pub canary_starts: u64,
    pub memory_seeds: u64,
    pub exploration: exploration::ExplorationOptions,
    /// Seeds of `swarm`, with and without what swarm everything added, in the swarm reach table.
    pub swarm_seeds: u64,
}

/// Where the exploration section sits in BENCHMARKS.md, so that `--only-exploration` can refresh it alone.
pub const EXPLORATION_BEGIN: &str = "<!-- exploration: cargo sim bench --only-exploration refreshes this section -->";
pub const EXPLORATION_END: &str = "<!-- end of exploration -->";

/// The exploration section: the reach table and the rare canaries' table, between its markers.
pub fn exploration_section(options: &exploration::ExplorationOptions) -> Result<String, String> {
    let dir = catalog::scenarios_dir();
    let load = |paths: Vec<std::path::PathBuf>| -> Result<Vec<LoadedScenario>, String> {
        paths.iter().map(|p| catalog::load(&p.display().to_string()).map_err(|e| e.to_string())).collect()
    };
    let mut catalog_scenarios: Vec<LoadedScenario> =
        load(catalog::default_list(&dir))?.into_iter().filter(|s| s.scenario.canary.is_none()).collect();
    if !options.scenarios.is_empty() {
        catalog_scenarios.retain(|s| options.scenarios.contains(&s.name));
    }
    let rare = load(catalog::list(&dir.join("rare")))?;
    let mut md = format!("{EXPLORATION_BEGIN}\n");
    exploration::reach_table(&catalog_scenarios, options, &mut md);
    exploration::canary_table(&rare, options, &mut md);
    md.push_str(EXPLORATION_END);
    md.push('\n');
    Ok(md)
}

/// The swarm reach section (see [`swarm`]), between its markers.
pub fn swarm_section(seeds: u64, jobs: usize) -> Result<String, String> {
    let swarm = catalog::load("swarm").map_err(|e| e.to_string())?;
    Ok(swarm::section(&swarm, seeds.max(1), jobs))
}

/// Host time for measuring; never used inside a simulation.
#[allow(clippy::disallowed_methods)]
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

struct Speed {
    seeds: u64,
    wall: Duration,
    /// CPU time the process received meanwhile, all threads (seconds).
    cpu: f64,
    simulated_ms: u64,
    messages: u64,
    rpcs: u64,
    jobs_completed: u64,
}

fn run_many(scenario: &LoadedScenario, start: u64, count: u64, jobs: usize) -> Speed {
    let options = SweepOptions::new(vec![scenario.clone()], start, count, jobs);
    let mut speed =
        Speed { seeds: 0, wall: Duration::ZERO, cpu: 0.0, simulated_ms: 0, messages: 0, rpcs: 0, jobs_completed: 0 };
    let cpu_before = cpu_seconds();
    let started = now();
    sweep::run(&options, |done| {
        let st = &done.result.outcome.stats;
        speed.seeds += 1;
        speed.simulated_ms += st.simulated_ms;
        speed.messages += st.net_messages;
        speed.rpcs += st.rpcs_sent;
        speed.jobs_completed += st.jobs_completed;
    });
    speed.wall = started.elapsed();
    speed.cpu = cpu_seconds() - cpu_before;
    speed
}

/// The CPU time this process has received, user and system, of every thread it ever ran (Linux:
/// `/proc/self/stat`, in clock ticks of 10 ms). A virtual machine's second core is not always there: the CPU
/// a many-thread run received tells a harness that does not scale from a machine that did not give it cores.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the 12th, stime the
    // 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / CLOCK_TICKS_PER_SECOND
}

/// `sysconf(_SC_CLK_TCK)` on Linux, fixed by its ABI at 100.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Times one thread and all cores in [`ROUNDS`] alternating rounds and keeps each one's fastest: on a shared
/// machine a neighbour's burst slows a round, never speeds one up, and the virtual CPU's speed drifts over
/// minutes; alternating puts both sides of the ratio in the same minutes.
fn fastest_of_rounds(mut measure: impl FnMut() -> (Speed, Speed)) -> (Speed, Speed) {
    let mut best: Option<(Speed, Speed)> = None;
    for _ in 0..ROUNDS {
        let (one, many) = measure();
        best = Some(match best {
            None => (one, many),
            Some((best_one, best_many)) => (
                if one.wall < best_one.wall { one } else { best_one },
                if many.wall < best_many.wall { many } else { best_many },
            ),
        });
    }
    best.expect("at least one round")
}

/// A bare madsim program: `calls` RPCs with a trivial handler between three nodes, on a fresh thread, timed.
/// Returns (wall time, messages).
pub fn bare_madsim(calls: u64) -> (Duration, u64) {
    // A fresh OS thread for the bare runtime, as for every seed; outside any simulation.
    #[allow(clippy::disallowed_methods)]
    let thread = std::thread::spawn(move || {
        use madsim::net::Endpoint;
        use std::net::SocketAddr;
        let runtime = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
        let started = now();
        let messages = runtime.block_on(async move {
            let handle = madsim::runtime::Handle::current();
            let server: SocketAddr = "10.0.0.1:1".parse().expect("address");
            let node = handle.create_node().ip(server.ip()).build();
            node.spawn(async move {
                let ep = Endpoint::bind(server).await.expect("bind");
                ep.add_rpc_handler(|x: system::proto::AckJob| async move {
                    let _ = x;
                    system::proto::AckReply::Completed
                });
                std::future::pending::<()>().await;
            });
            madsim::time::sleep(Duration::from_millis(1)).await;
            let mut clients = Vec::new();
            for i in 0..2u64 {
                let ip = format!("10.0.0.{}", i + 2).parse().expect("ip");
                let node = handle.create_node().ip(ip).build();
                clients.push(node.spawn(async move {
                    let ep = Endpoint::bind(SocketAddr::new(ip, 1)).await.expect("bind");
                    for token in 0..calls / 2 {
                        let _ = ep.call_timeout(server, system::proto::AckJob { token }, Duration::from_secs(1)).await;
                    }
                }));
            }
            for c in clients {
                let _ = c.await;
            }
            madsim::net::NetSim::current().stat().msg_count
        });
        (started.elapsed(), messages)
    });
    thread.join().expect("bare madsim thread")
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    if values.is_empty() {
        return 0.0;
    }
    values[values.len() / 2]
}

/// Resident and peak memory of this process, in MiB, from /proc (Linux).
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Runs the whole benchmark and returns the markdown.
pub fn run(options: &BenchOptions, command: &str) -> Result<String, String> {
    let dir = catalog::scenarios_dir();
    let all: Vec<LoadedScenario> = catalog::default_list(&dir)
        .iter()
        .map(|p| catalog::load(&p.display().to_string()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Measured by `{command}` on this machine ({cores} cores). Figures are wall-clock and vary with the \
         machine and its load; compare the ratios, which are measured in the same run.\n"
    );

    // 1. Per scenario: one thread, all cores.
    let _ = writeln!(
        md,
        "## Throughput per scenario\n\n{} seeds per scenario, more where they take less than {} s on one thread; \
         one thread and {cores} threads timed in {ROUNDS} alternating rounds, each keeping its fastest. *Cores received* is the CPU time the \
         process got during the {cores}-thread run over its wall time: a virtual machine does not always give all \
         its cores, and a speed-up can only be judged against the cores there were.\n",
        options.seeds,
        THROUGHPUT_WALL_MIN.as_secs()
    );
    let _ = writeln!(
        md,
        "| scenario | seeds | seeds/s, 1 thread | seeds/s, {cores} threads | speed-up | cores received ({cores} threads) | simulated s per wall s (1 thread) | messages per wall s (1 thread) |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    let mut baseline_speed = None;
    let mut speedups = Vec::new();
    for s in all.iter().filter(|s| s.scenario.canary.is_none()) {
        crate::errln!("bench: {} ...", s.name);
        // A scenario whose seeds are short gets more of them: a configuration timed for a fraction of a second
        // measures thread start-up and the last seed's tail more than the harness.
        let probe = run_many(s, 0, options.seeds, 1);
        let seeds = if probe.wall < THROUGHPUT_WALL_MIN {
            (options.seeds as f64 * THROUGHPUT_WALL_MIN.as_secs_f64() / probe.wall.as_secs_f64().max(1e-3)).ceil()
                as u64
        } else {
            options.seeds
        };
        let (one, many) = fastest_of_rounds(|| (run_many(s, 0, seeds, 1), run_many(s, 0, seeds, cores)));
        let (w1, wn) = (one.wall.as_secs_f64(), many.wall.as_secs_f64());
        let speedup = w1 / wn.max(1e-9);
        speedups.push((s.name.clone(), speedup, many.cpu / wn.max(1e-9)));
        let _ = writeln!(
            md,
            "| {} | {seeds} | {:.1} | {:.1} | {:.2}x | {:.2} | {:.0}x | {:.0} |",
            s.name,
            one.seeds as f64 / w1,
            many.seeds as f64 / wn,
            speedup,
            many.cpu / wn.max(1e-9),
            one.simulated_ms as f64 / 1e3 / w1,
            one.messages as f64 / w1
        );
        if s.name == "baseline" {
            baseline_speed = Some(one);
        }
    }
    let baseline = baseline_speed.ok_or("the catalog has no baseline scenario")?;

    // 2. Overhead against bare madsim, the same number of RPCs in the same run; and the system alone on madsim
    // (same nodes, configuration and load, no harness), which splits the gap into the system's and the harness's.
    let rpcs_per_seed = baseline.rpcs / baseline.seeds.max(1);
    let baseline_loaded = all.iter().find(|s| s.name == "baseline").ok_or("the catalog has no baseline")?;
    // The three programs take turns, round after round, and each keeps its fastest round: the same treatment
    // for all three, so a neighbour's burst during one of them does not tilt the ratios.
    let (mut bare_per_message, mut alone_per_message, mut harness_per_message) = (f64::MAX, f64::MAX, f64::MAX);
    let (mut bare_messages, mut alone_messages, mut harness_messages) = (0, 0, 0);
    let (mut alone_per_seed, mut harness_per_seed) = (f64::MAX, f64::MAX);
    for _ in 0..OVERHEAD_ROUNDS {
        let (wall, messages) = bare_madsim(rpcs_per_seed);
        bare_messages = messages;
        bare_per_message = bare_per_message.min(wall.as_secs_f64() / messages.max(1) as f64);
        let harness = run_many(baseline_loaded, 0, OVERHEAD_SEEDS, 1);
        harness_messages = harness.messages / OVERHEAD_SEEDS;
        harness_per_message = harness_per_message.min(harness.wall.as_secs_f64() / harness.messages.max(1) as f64);
        harness_per_seed = harness_per_seed.min(harness.wall.as_secs_f64() / OVERHEAD_SEEDS as f64);
        let simulated = Duration::from_millis(harness.simulated_ms / OVERHEAD_SEEDS);
        let (mut wall, mut messages) = (Duration::ZERO, 0u64);
        for seed in 0..OVERHEAD_SEEDS {
            let alone = alone::run(&baseline_loaded.scenario, seed, simulated);
            wall += alone.wall;
            messages += alone.messages;
        }
        alone_messages = messages / OVERHEAD_SEEDS;
        alone_per_message = alone_per_message.min(wall.as_secs_f64() / messages.max(1) as f64);
        alone_per_seed = alone_per_seed.min(wall.as_secs_f64() / OVERHEAD_SEEDS as f64);
    }
    let overhead = harness_per_message / bare_per_message.max(1e-12);
    let harness_own = harness_per_message / alone_per_message.max(1e-12);
    let harness_per_seed_ratio = harness_per_seed / alone_per_seed.max(1e-12);
    let system_own = alone_per_message / bare_per_message.max(1e-12);
    let _ = writeln!(md, "\n## Harness overhead\n");
    let _ = writeln!(
        md,
        "Three programs timed in the same run: a bare madsim program (three nodes, a trivial RPC handler) exchanging \
         the same number of RPCs as one baseline seed ({rpcs_per_seed}); the system alone on madsim, with \
         `baseline`'s nodes, configuration and load but no harness (no faults, link shaping, recorder, readers or \
         checks; an in-memory disk; run for as long in simulated time as the harness's seeds); and the harness running \
         `baseline`. Each of the two runs the first {OVERHEAD_SEEDS} seeds; the three take turns for {OVERHEAD_ROUNDS} rounds and each keeps its fastest.\n"
    );
    let _ = writeln!(md, "| | wall per message | messages | against bare madsim |");
    let _ = writeln!(md, "|---|---|---|---|");
    let _ =
        writeln!(md, "| bare madsim, trivial handler | {:.2} µs | {bare_messages} | 1.00x |", bare_per_message * 1e6);
    let _ = writeln!(
        md,
        "| the system alone on madsim | {:.2} µs | {alone_messages} per seed | {system_own:.2}x |",
        alone_per_message * 1e6,
    );
    let _ = writeln!(
        md,
        "| harness, baseline | {:.2} µs | {harness_messages} per seed | **{overhead:.2}x** |",
        harness_per_message * 1e6,
    );
    let _ = writeln!(
        md,
        "\nThe harness's own cost against the system alone: **{harness_own:.2}x** per message; per seed (the same \
         load over the same simulated time, so the readers' messages count as the harness's cost) {:.1} ms against \
         {:.1} ms, **{harness_per_seed_ratio:.2}x**.\n",
        harness_per_seed * 1e3,
        alone_per_seed * 1e3
    );

    // 3. Messages per job: the protocol's cost, which no speed-up of the harness can remove.
    let rpcs_per_job = baseline.rpcs as f64 / baseline.jobs_completed.max(1) as f64;
    let _ = writeln!(md, "\n## RPCs per completed job\n");
    let _ = writeln!(
        md,
        "Every RPC the system's nodes and the load clients sent (ingests, store and queue calls, leases, idle long \
         polls, retries), over the jobs the queue saw completed, in `baseline` ({} seeds):\n",
        baseline.seeds
    );
    let _ = writeln!(md, "| RPCs | completed jobs | RPCs per job | madsim messages per job (readers included) |");
    let _ = writeln!(md, "|---|---|---|---|");
    let _ = writeln!(
        md,
        "| {} | {} | {rpcs_per_job:.2} | {:.2} |",
        baseline.rpcs,
        baseline.jobs_completed,
        baseline.messages as f64 / baseline.jobs_completed.max(1) as f64
    );

    // 4. Cost as the load and the number of environments grow: seconds per seed should grow linearly.
    let _ = writeln!(md, "\n## Cost as load and environments grow\n");
    let _ = writeln!(
        md,
        "`baseline` with its ingest rate, or its number of environments, multiplied; seconds per seed on one thread \
         ({} seeds each). Linear cost means the last column stays near 1.\n",
        options.seeds.min(SCALING_SEEDS_MAX)
    );
    let _ = writeln!(md, "| variant | s per seed | jobs per seed | ms per 1000 jobs | vs x1, per job |");
    let _ = writeln!(md, "|---|---|---|---|---|");
    let base = all.iter().find(|s| s.name == "baseline").ok_or("no baseline")?;
    let mut per_job_x1 = None;
    for (what, factor) in [("load", 1u64), ("load", 2), ("load", 4), ("environments", 2), ("environments", 4)] {
        let mut variant = base.clone();
        match what {
            "load" => variant.scenario.load.ingest_rate = Bounded(base.scenario.load.ingest_rate.get() * factor),
            _ => {
                let names = &mut variant.scenario.environments.names;
                let original = names.len();
                for i in original..original * factor as usize {
                    names.push(format!("env-{i}"));
                }
            }
        }
        crate::errln!("bench: {what} x{factor} ...");
        let speed = run_many(&variant, 0, options.seeds.min(SCALING_SEEDS_MAX), 1);
        let per_seed = speed.wall.as_secs_f64() / speed.seeds.max(1) as f64;
        let jobs = speed.jobs_completed as f64 / speed.seeds.max(1) as f64;
        let per_job = per_seed / jobs.max(1.0);
        let x1 = *per_job_x1.get_or_insert(per_job);
        let _ = writeln!(
            md,
            "| {what} x{factor} | {per_seed:.3} | {jobs:.0} | {:.1} | {:.2} |",
            per_job * 1e6,
            per_job / x1
        );
    }

    // 5. Time to find each canary, over different start seeds.
    let _ = writeln!(md, "\n## Time to find each canary ({} start seeds)\n", options.canary_starts);
    let _ = writeln!(md, "| canary | median seeds to first catch | median wall time | caught in |");
    let _ = writeln!(md, "|---|---|---|---|");
    let mut incident_ms = None;
    for s in all.iter().filter(|s| s.scenario.canary.is_some()) {
        crate::errln!("bench: {} ...", s.name);
        let canary = s.scenario.canary.clone().expect("filtered on canaries");
        let (mut seeds, mut walls, mut caught) = (Vec::new(), Vec::new(), 0);
        for k in 0..options.canary_starts {
            let start = k * 1_000_003;
            let started = now();
            let mut tried = 0;
            for seed in start..start + canary.within_seeds.get() {
                tried += 1;
                let outcome = crate::world::run_seed(s, seed).outcome;
                if outcome.violations.iter().any(|v| canary.expect.contains(&v.kind)) {
                    caught += 1;
                    break;
                }
            }
            seeds.push(tried as f64);
            walls.push(started.elapsed().as_secs_f64() * 1e3);
        }
        let wall = median(&mut walls);
        if s.name == "canaries/dedup-ignores-environment" {
            incident_ms = Some(wall);
        }
        let _ = writeln!(
            md,
            "| {} | {:.0} | {wall:.0} ms | {caught}/{} |",
            s.name,
            median(&mut seeds),
            options.canary_starts
        );
    }

    // 6. Memory across a long sweep of a small scenario.
    let mut tiny = all.iter().find(|s| s.name == "baseline").ok_or("no baseline")?.clone();
    tiny.name = "baseline (3 s safety, 2 environments x 50 entities)".into();
    tiny.scenario.run.safety = Dur(Duration::from_secs(3));
    tiny.scenario.environments.names.truncate(2);
    tiny.scenario.environments.entities = Bounded(50);
    tiny.scenario.load.deploys.clear();
    tiny.scenario.coverage.requires.clear();
    crate::errln!("bench: memory over {} seeds ...", options.memory_seeds);
    let mut samples = Vec::new();
    let chunk = (options.memory_seeds / 5).max(1);
    let mut done = 0;
    let started = now();
    while done < options.memory_seeds {
        let n = chunk.min(options.memory_seeds - done);
        run_many(&tiny, done, n, cores);
        done += n;
        samples.push((done, memory_mib()));
    }
    let _ = writeln!(md, "\n## Memory over a {}-seed sweep\n", options.memory_seeds);
    let _ = writeln!(
        md,
        "Scenario: {} ({:.0} s for all seeds on {cores} threads). Resident memory of the sweeping process after each \
         fifth of the seeds:\n",
        tiny.name,
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(md, "| seeds done | resident MiB | peak MiB |");
    let _ = writeln!(md, "|---|---|---|");
    for (n, (rss, peak)) in &samples {
        let _ = writeln!(md, "| {n} | {rss:.1} | {peak:.1} |");
    }
    let first = samples.first().map_or(0.0, |s| s.1 .0);
    let last = samples.last().map_or(0.0, |s| s.1 .0);
    let growth = last - first;

    // Targets.
    let baseline_x = baseline.simulated_ms as f64 / 1e3 / baseline.wall.as_secs_f64();
    let (lowest_name, two_thread, lowest_received) = speedups
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .cloned()
        .unwrap_or_else(|| (String::new(), f64::NAN, f64::NAN));
    let verdict = |ok: bool| if ok { "met" } else { "**missed**" };
    let _ = writeln!(md, "\n## Targets\n");
    let _ = writeln!(md, "| target | measured | |");
    let _ = writeln!(md, "|---|---|---|");
    let _ = writeln!(
        md,
        "| `baseline` at >= 500x real time (1 thread) | {baseline_x:.0}x | {} |",
        verdict(baseline_x >= 500.0)
    );
    let _ = writeln!(
        md,
        "| overhead <= 1.3x bare madsim per message (harness and system together, against a trivial handler) | \
         {overhead:.2}x | {} |",
        verdict(overhead <= 1.3)
    );
    let _ = writeln!(
        md,
        "| the harness's own cost <= 1.3x per message (against the system alone on madsim) | {harness_own:.2}x \
         ({harness_per_seed_ratio:.2}x per seed, readers included) | {} |",
        verdict(harness_own <= 1.3)
    );
    let _ = writeln!(
        md,
        "| RPCs per completed job <= 4.0 (`baseline`) | {rpcs_per_job:.2} | {} |",
        verdict(rpcs_per_job <= 4.0)
    );
    let incident = incident_ms.unwrap_or(f64::NAN);
    let _ =
        writeln!(md, "| incident canary found in < 1 s (median) | {incident:.0} ms | {} |", verdict(incident < 1000.0));
    let _ = writeln!(
        md,
        "| {cores} threads >= 1.85x one thread | {two_thread:.2}x (lowest over the scenarios: {lowest_name}, which \
         received {lowest_received:.2} cores) | {} |",
        verdict(two_thread >= 1.85)
    );
    let _ = writeln!(
        md,
        "| memory flat across a sweep | {growth:+.1} MiB from the first fifth to the end | {} |",
        verdict(growth.abs() < 16.0)
    );
    md.push('\n');
    md.push_str(&swarm_section(options.swarm_seeds, cores)?);
    md.push('\n');
    md.push_str(&exploration_section(&options.exploration)?);
    Ok(md)
}
