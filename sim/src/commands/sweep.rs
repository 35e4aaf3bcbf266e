//! `cargo sim sweep`: the project's main job.

use super::bad_input;
use crate::scenario::LoadedScenario;
use crate::sweep::{self, ScenarioReport, SeedDone, Shard, SweepOptions, SweepReport};
use crate::{catalog, report};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Seeds per scenario when none are given.
pub const DEFAULT_COUNT: u64 = 200;
/// Wall-time budget when none is given.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(600);

pub struct SweepArgs {
    pub scenarios: Vec<String>,
    pub seeds: Option<String>,
    pub start: Option<u64>,
    pub count: Option<u64>,
    pub jobs: Option<usize>,
    pub shard: Option<String>,
    pub time_budget: Option<String>,
    pub save_dir: PathBuf,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub fail_fast: bool,
    pub no_shrink: bool,
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

pub fn sweep(args: SweepArgs) -> ExitCode {
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
    eprintln!(
        "  repeat this sweep: cargo sim sweep --start {start} --count {count}{}",
        shard.map_or(String::new(), |s| format!(" --shard {}/{}", s.index, s.count))
    );

    let options = SweepOptions {
        scenarios: scenarios.clone(),
        start,
        count,
        shard,
        jobs,
        time_budget,
        fail_fast: args.fail_fast,
        determinism_percent: args.determinism_percent,
        stop,
    };
    let mut reports: Vec<ScenarioReport> =
        scenarios.iter().map(|s| ScenarioReport { scenario: s.name.clone(), ..Default::default() }).collect();
    let expected =
        scenarios.len() as u64 * (start..start + count).filter(|&s| shard.is_none_or(|sh| sh.owns(s))).count() as u64;
    let progress = Progress::new(expected);
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let (interrupted, _) = sweep::run(&options, |done: &SeedDone| {
        let name = &scenarios[done.scenario].name;
        let seed = done.result.outcome.seed;
        let report = &mut reports[done.scenario];
        let known = done.signature.as_ref().is_some_and(|sig| report.failures.iter().any(|g| &g.signature == sig));
        report.record(done, report::repro_command(name, seed));
        if let Some(sig) = &done.signature {
            if !known {
                progress.println(format!(
                    "FAIL {name} seed {seed}: {sig}\n  reproduce: {}",
                    report::repro_command(name, seed)
                ));
            }
        }
        if let Some(d) = &done.nondeterministic {
            progress.println(format!("NONDETERMINISM {name} seed {seed}: {d}"));
        }
        let failures: u64 = reports.iter().map(|r| r.failed_seeds()).sum();
        progress.tick(failures);
    });
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
    if result.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
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
