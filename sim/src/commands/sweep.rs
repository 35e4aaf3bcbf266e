//! `cargo sim sweep`: the project's main job.

use super::bad_input;
use crate::outcome::Outcome;
use crate::scenario::LoadedScenario;
use crate::seedfile::{self, SeedFile};
use crate::sweep::{self, CanaryReport, ScenarioReport, SeedDone, Shard, SweepOptions, SweepReport};
use crate::{catalog, report, shrink};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Seeds per scenario when none are given.
pub const DEFAULT_COUNT: u64 = 200;
/// Wall-time budget when none is given.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(600);

#[derive(clap::Args)]
pub struct SweepArgs {
    /// A scenario name or path; repeat for several. Default: every scenario under scenarios/.
    #[arg(long = "scenario")]
    pub scenarios: Vec<String>,
    /// Seed range A..B (B exclusive). Default: a start that rotates every run, and --count seeds.
    #[arg(long, conflicts_with_all = ["start", "count"])]
    pub seeds: Option<String>,
    /// The first seed (the sweep prints it, so any run can be repeated).
    #[arg(long)]
    pub start: Option<u64>,
    /// Seeds per scenario.
    #[arg(long)]
    pub count: Option<u64>,
    /// Seeds run at once. Default: all cores.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only this machine's share of the seeds: K/N (1-based).
    #[arg(long)]
    pub shard: Option<String>,
    /// Stop taking new seeds after this much wall time (e.g. 60s, 10m). Default: 10m.
    #[arg(long)]
    pub time_budget: Option<String>,
    /// Where new failures are saved as seed files.
    #[arg(long, default_value = "seeds")]
    pub save_dir: PathBuf,
    /// Write the sweep's results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the sweep's results as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Stop at the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Save failures as found, without shrinking them.
    #[arg(long)]
    pub no_shrink: bool,
    /// Share of seeds run twice to check determinism, in percent.
    #[arg(long, default_value_t = 5)]
    pub determinism_percent: u64,
}

/// A start seed that changes every run, so CI explores new seeds; printed so any run can be repeated.
fn rotating_start() -> u64 {
    // Host time, outside any simulation: it only chooses which seeds to explore.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    (now / 60) * 1_000
}

/// Parses `A..B` (B exclusive) into (start, count).
fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let (a, b) = text.split_once("..").ok_or_else(|| format!("`{text}` is not a seed range; write it as A..B"))?;
    let a: u64 = a.trim().parse().map_err(|_| format!("`{a}` in `{text}` is not a seed"))?;
    let b: u64 = b.trim().parse().map_err(|_| format!("`{b}` in `{text}` is not a seed"))?;
    if b <= a {
        return Err(format!("seed range `{text}` is empty"));
    }
    Ok((a, b - a))
}

fn load_scenarios(names: &[String]) -> Result<Vec<LoadedScenario>, String> {
    if names.is_empty() {
        let dir = catalog::scenarios_dir();
        return catalog::list(&dir)
            .iter()
            .map(|path| catalog::load(&path.display().to_string()).map_err(|e| e.to_string()))
            .collect();
    }
    names.iter().map(|name| catalog::load(name).map_err(|e| e.to_string())).collect()
}

pub fn sweep(args: SweepArgs) -> u8 {
    let scenarios = match load_scenarios(&args.scenarios) {
        Ok(s) if s.is_empty() => return bad_input("no scenarios to sweep"),
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    let (start, count) = match (&args.seeds, args.start, args.count) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return bad_input("give either --seeds A..B or --start/--count, not both")
        }
        (Some(range), None, None) => match parse_range(range) {
            Ok(r) => r,
            Err(e) => return bad_input(e),
        },
        (None, start, count) => (start.unwrap_or_else(rotating_start), count.unwrap_or(DEFAULT_COUNT)),
    };
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    let time_budget = match args.time_budget.as_deref().map(humantime::parse_duration).transpose() {
        Ok(b) => b.or(Some(DEFAULT_TIME_BUDGET)),
        Err(e) => return bad_input(format!("--time-budget: {e}; write it like 60s or 10m")),
    };
    if args.determinism_percent > 100 {
        return bad_input("--determinism-percent is a percentage, 0 to 100");
    }
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Ctrl-C is handled by this process alone, once; a second handler registration would fail harmlessly.
        // Ctrl-C stops taking new seeds; seeds already running finish, and everything found is kept.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                eprintln!("\nsecond interrupt: stopping now");
                std::process::exit(130);
            }
            eprintln!(
                "\ninterrupted: finishing the seeds in flight, then saving and summarising (Ctrl-C again to abort)"
            );
        });
    }
    let shard_note = shard.map_or(String::new(), |s| format!(" · shard {}/{}", s.index, s.count));
    eprintln!(
        "sweep: {} scenario(s) · seeds {start}..{} ({count}){shard_note} · {jobs} jobs · budget {}",
        scenarios.len(),
        start + count,
        time_budget.map_or("none".into(), |b| humantime::format_duration(b).to_string()),
    );
    let scenario_flags: String = args.scenarios.iter().map(|s| format!(" --scenario {s}")).collect();
    eprintln!(
        "  repeat this sweep: cargo sim sweep{scenario_flags} --start {start} --count {count}{}",
        shard.map_or(String::new(), |s| format!(" --shard {}/{}", s.index, s.count))
    );

    // The default sweep (no --scenario) is the project's main job: canaries there must be caught, not pass.
    let canary_mode = args.scenarios.is_empty();
    let options = SweepOptions {
        shard,
        time_budget,
        fail_fast: args.fail_fast,
        determinism_percent: args.determinism_percent,
        stop: stop.clone(),
        canary_mode,
        ..SweepOptions::new(scenarios.clone(), start, count, jobs)
    };
    let mut reports: Vec<ScenarioReport> = scenarios
        .iter()
        .map(|s| ScenarioReport {
            scenario: s.name.clone(),
            marks_required: s.scenario.coverage.requires.clone(),
            canary: s.scenario.canary.as_ref().filter(|_| canary_mode).map(|c| CanaryReport {
                expect: c.expect.iter().map(|k| k.name().to_string()).collect(),
                within_seeds: c.within_seeds.get(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let expected: u64 = (0..scenarios.len()).map(|i| options.seeds_of(i).len() as u64).sum();
    let progress = Progress::new(expected);
    // The lowest failing seed of each new signature, saved (and shrunk) when the sweep ends, so that the same sweep
    // always saves the same files whatever order the seeds finished in.
    let mut to_save: BTreeMap<(usize, String), Outcome> = BTreeMap::new();
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let (interrupted, _) = sweep::run(&options, |done: &SeedDone| {
        let name = &scenarios[done.scenario].name;
        let seed = done.result.outcome.seed;
        let caught = options.catches_canary(done.scenario, &done.result.outcome);
        let report = &mut reports[done.scenario];
        report.record(done, report::repro_command(name, seed), caught, start);
        if caught {
            options.skip[done.scenario].store(true, Ordering::SeqCst);
        }
        if let Some(sig) = &done.signature {
            let key = (done.scenario, sig.clone());
            match to_save.get(&key) {
                None => {
                    if caught {
                        progress.println(format!("caught canary {name} at seed {seed}: {sig}"));
                    } else {
                        progress.println(format!(
                            "FAIL {name} seed {seed}: {sig}\n  reproduce: {}",
                            report::repro_command(name, seed)
                        ));
                    }
                    to_save.insert(key, done.result.outcome.clone());
                }
                Some(kept) if seed < kept.seed => {
                    to_save.insert(key, done.result.outcome.clone());
                }
                Some(_) => {}
            }
        }
        if let Some(d) = &done.nondeterministic {
            progress.println(format!("NONDETERMINISM {name} seed {seed}: {d}"));
        }
        let failures: u64 = reports.iter().map(|r| r.failed_seeds()).sum();
        progress.tick(failures);
    });
    for ((index, sig), outcome) in &to_save {
        let saved = save_failure(&scenarios[*index], outcome, sig, &args.save_dir, args.no_shrink, &stop, &progress);
        if let Some(group) = reports[*index].failures.iter_mut().find(|g| &g.signature == sig) {
            group.saved = saved.map(|p| p.display().to_string());
            group.repro = report::repro_command(&scenarios[*index].name, outcome.seed);
        }
    }
    progress.finish();
    let result = SweepReport {
        start,
        count,
        shard,
        interrupted,
        wall_ms: started.elapsed().as_millis() as u64,
        scenarios: reports,
    };
    print!("{}", summary(&result));
    if let Some(path) = &args.json {
        if let Err(e) = write_atomically(path, &serde_json::to_string_pretty(&result).expect("reports serialize")) {
            eprintln!("error: could not write {}: {e}", path.display());
        }
    }
    if let Some(path) = &args.junit {
        if let Err(e) = write_junit(path, &result) {
            eprintln!("error: could not write {}: {e}", path.display());
        }
    }
    if result.failed() {
        1
    } else {
        0
    }
}

/// Saves a new failure as a seed file (shrunk unless `no_shrink`), unless a file for its signature exists.
fn save_failure(
    scenario: &LoadedScenario,
    outcome: &Outcome,
    signature: &str,
    dir: &std::path::Path,
    no_shrink: bool,
    stop: &AtomicBool,
    progress: &Progress,
) -> Option<PathBuf> {
    let path = seedfile::path_for(dir, &scenario.name, signature);
    if path.exists() {
        progress.println(format!("  known: {} already holds this signature", path.display()));
        return Some(path);
    }
    let mut file = SeedFile::new(scenario, outcome, signature);
    progress.println(format!("saving seed {} of {} ({signature})", outcome.seed, scenario.name));
    if !no_shrink {
        progress.println(format!("  shrinking (at most {} replays; --no-shrink to skip) ...", shrink::REPLAYS_MAX));
        let shrunk = shrink::shrink(&file, &path, stop);
        progress.println(format!("  shrunk from {} to {}", shrunk.before, shrunk.after));
        file = shrunk.file;
    }
    match write_atomically(&path, &file.to_toml(&path)) {
        Ok(()) => {
            progress.println(format!("  saved {} · replay: cargo sim repro {}", path.display(), path.display()));
            Some(path)
        }
        Err(e) => {
            progress.println(format!("  error: could not save {}: {e}", path.display()));
            None
        }
    }
}

/// Writes the sweep as JUnit XML: a suite per scenario, a case per failure signature (or one passing case).
pub fn write_junit(path: &std::path::Path, result: &SweepReport) -> std::io::Result<()> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut junit = Report::new("sim sweep");
    for s in &result.scenarios {
        let mut suite = TestSuite::new(s.scenario.clone());
        suite.set_time(Duration::from_millis(s.wall_ms));
        let mut seeds =
            TestCase::new(format!("{} seeds from {}", s.seeds_run, result.start), TestCaseStatus::success());
        seeds.set_classname(s.scenario.clone());
        if s.failures.is_empty() {
            suite.add_test_case(seeds);
        }
        for g in &s.failures {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let seeds: Vec<String> = g.seeds.iter().map(|x| x.to_string()).collect();
            status.set_message(format!("{} on {} seed(s): {}", g.signature, g.count, seeds.join(", ")));
            status.set_type(g.signature.clone());
            status.set_description(format!(
                "reproduce: {}{}",
                g.repro,
                g.saved.as_ref().map_or(String::new(), |p| format!("\nsaved: {p} (replay: cargo sim repro {p})"))
            ));
            let mut case = TestCase::new(g.signature.clone(), status);
            case.set_classname(s.scenario.clone());
            suite.add_test_case(case);
        }
        if let Some(c) = &s.canary {
            let status = if c.missed() {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(format!("not caught within {} seeds: the harness lost its power", c.within_seeds));
                status
            } else {
                TestCaseStatus::success()
            };
            let mut case = TestCase::new("canary caught", status);
            case.set_classname(s.scenario.clone());
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    let xml = junit.to_string().map_err(std::io::Error::other)?;
    write_atomically(path, &xml)
}

/// Writes a file so that a reader never sees half of it: to a temporary file beside it, then renamed.
pub fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// The end-of-sweep summary, per scenario.
pub fn summary(result: &SweepReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let seeds: u64 = result.scenarios.iter().map(|s| s.seeds_run).sum();
    let secs = result.wall_ms as f64 / 1e3;
    let _ = writeln!(
        out,
        "\nsweep {}: {seeds} seeds in {secs:.1}s ({:.1} seeds/s){}",
        if result.failed() { "FAILED" } else { "passed" },
        seeds as f64 / secs.max(1e-9),
        if result.interrupted { " · stopped early (interrupt, time budget or fail-fast)" } else { "" }
    );
    for s in &result.scenarios {
        let speed = s.simulated_ms as f64 / (s.wall_ms.max(1)) as f64;
        let faults: Vec<String> = s.faults.iter().map(|(k, n)| format!("{k}={n}")).collect();
        let _ = writeln!(
            out,
            "  {:<36} {:>5} seeds, {:>4} failed · {:.0}x real time per seed · {} determinism checks{}",
            s.scenario,
            s.seeds_run,
            s.failed_seeds(),
            speed,
            s.determinism_checked,
            if faults.is_empty() { String::new() } else { format!(" · faults {}", faults.join(" ")) }
        );
        if let Some(c) = &s.canary {
            let _ = match (c.caught_seed, c.caught_after) {
                (Some(seed), Some(after)) => writeln!(
                    out,
                    "      canary caught after {after} seed(s) (seed {seed}); expects {}",
                    c.expect.join(" or ")
                ),
                _ if c.missed() => writeln!(
                    out,
                    "      CANARY MISSED: not caught within {} seeds; the harness has lost its power",
                    c.within_seeds
                ),
                _ => writeln!(
                    out,
                    "      canary not caught in the {} seeds run (budget {})",
                    c.seeds_tried, c.within_seeds
                ),
            };
        }
        if s.seeds_run > 0 {
            let shares: Vec<String> = system::marks::ALL
                .iter()
                .map(|(mark, _)| {
                    let reached = s.marks.get(*mark).copied().unwrap_or(0);
                    format!("{mark} {}%", reached * 100 / s.seeds_run)
                })
                .collect();
            let _ = writeln!(out, "      coverage (share of seeds): {}", shares.join(" · "));
        }
        for missed in s.marks_missed() {
            let _ = writeln!(
                out,
                "      COVERAGE MISSED: required mark {missed} was never reached; the sweep tested less than the scenario claims"
            );
        }
        for g in &s.failures {
            let seeds: Vec<String> = g.seeds.iter().map(|s| s.to_string()).collect();
            let _ = writeln!(out, "      {} x{} (seeds {})", g.signature, g.count, seeds.join(", "));
            if let Some(saved) = &g.saved {
                let _ = writeln!(out, "        saved: {saved} · replay: cargo sim repro {saved}");
            }
            let _ = writeln!(out, "        reproduce: {}", g.repro);
        }
    }
    out
}

/// A progress bar on a terminal; plain lines every few seconds otherwise (CI logs).
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: std::cell::Cell<u64>,
    #[allow(clippy::disallowed_methods)]
    last_line: std::cell::Cell<std::time::Instant>,
    started: std::time::Instant,
}

const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    #[allow(clippy::disallowed_methods)]
    fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} seeds · {per_sec} · {msg} · {eta} left")
                    .expect("a valid template"),
            );
            bar
        });
        let now = std::time::Instant::now();
        Progress { bar, total, done: 0.into(), last_line: now.into(), started: now }
    }

    fn println(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn tick(&self, failures: u64) {
        self.done.set(self.done.get() + 1);
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{failures} failed"));
                bar.inc(1);
            }
            None => {
                if self.last_line.get().elapsed() >= PLAIN_PROGRESS_EVERY {
                    self.last_line.set(std::time::Instant::now());
                    let secs = self.started.elapsed().as_secs_f64();
                    eprintln!(
                        "progress: {}/{} seeds · {:.1} seeds/s · {failures} failed",
                        self.done.get(),
                        self.total,
                        self.done.get() as f64 / secs.max(1e-9)
                    );
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
