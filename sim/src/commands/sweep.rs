//! `cargo sim sweep`: the project's main job. This file reads the command line, checks it, and wires the
//! sweep ([`crate::sweep`]), saving ([`crate::seedfile`], [`crate::shrink`]) and reporting ([`crate::report`]).

use super::{bad_input, EXIT_OUTPUT_LOST};
use crate::outcome::Outcome;
use crate::report::files::{check_writable_dir, check_writable_file, write_atomically, write_new};
use crate::report::sweep::{stamp, summary, write_reports};
use crate::scenario::LoadedScenario;
use crate::seedfile::{self, SeedFile};
use crate::sweep::{self, CanaryReport, ScenarioReport, SeedDone, Shard, SweepOptions, SweepReport};
use crate::{catalog, report, shrink};
use crate::{errln, out};
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
    /// A scenario name, a scenario file, or a folder of them (e.g. `canaries`); repeat for several. Default:
    /// every scenario under scenarios/, with canaries hunted (each must be caught within its budget).
    #[arg(long = "scenario")]
    pub scenarios: Vec<String>,
    /// Seed range A..B (B exclusive). Default: a start that rotates every run, and --count seeds.
    #[arg(long, conflicts_with_all = ["start", "count"])]
    pub seeds: Option<String>,
    /// The first seed (the sweep prints it, so any run can be repeated).
    #[arg(long)]
    pub start: Option<u64>,
    /// Seeds per scenario (at least 1). Default: 200.
    #[arg(long)]
    pub count: Option<u64>,
    /// Seeds run at once (at least 1). Default: all cores.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only this machine's share of the seeds: K/N (1-based).
    #[arg(long)]
    pub shard: Option<String>,
    /// Stop taking new seeds after this much wall time (e.g. 60s, 10m; more than zero). Default: 10m.
    #[arg(long)]
    pub time_budget: Option<String>,
    /// Where new failures are saved as seed files (checked writable before the sweep starts).
    #[arg(long, default_value = "seeds")]
    pub save_dir: PathBuf,
    /// Write the sweep's results as JSON to this file (checked writable before the sweep starts).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the sweep's results as JUnit XML to this file (checked writable before the sweep starts).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Stop at the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Save failures as found, without shrinking them.
    #[arg(long)]
    pub no_shrink: bool,
    /// Switch every fault point inside the system off (see `[faults] points` in scenarios/README.md).
    #[arg(long)]
    pub no_buggify: bool,
    /// Beside each seed file saved, write its timeline (`<file>.html`, see `repro --html`), for CI to upload.
    #[arg(long)]
    pub timelines: bool,
    /// Share of seeds run twice to check determinism, in percent (0 to 100).
    #[arg(long, default_value_t = 5)]
    pub determinism_percent: u64,
}

/// A start seed that changes every run, so CI explores new seeds; printed so any run can be repeated.
pub fn rotating_start() -> u64 {
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

/// The scenarios named (files, names, or folders of them), or every scenario.
/// `--no-buggify`: the scenario with every fault point off.
pub fn no_buggify(loaded: &mut LoadedScenario) {
    loaded.scenario.faults.points = crate::faults::Points::default();
}

pub fn load_scenarios(names: &[String]) -> Result<Vec<LoadedScenario>, String> {
    let dir = catalog::scenarios_dir();
    let mut paths = Vec::new();
    if names.is_empty() {
        paths.extend(catalog::default_list(&dir).iter().map(|p| p.display().to_string()));
    }
    for name in names {
        match catalog::folder(name) {
            Some(folder) => {
                let found = catalog::list(&folder);
                if found.is_empty() {
                    return Err(format!("folder {} holds no scenario (*.toml)", folder.display()));
                }
                paths.extend(found.iter().map(|p| p.display().to_string()));
            }
            None => paths.push(name.clone()),
        }
    }
    let loaded: Vec<LoadedScenario> =
        paths.iter().map(|name| catalog::load(name).map_err(|e| e.to_string())).collect::<Result<_, _>>()?;
    // A scenario named twice (or in a folder named too) runs once: twice would double its seeds under one name.
    let mut once: Vec<LoadedScenario> = Vec::new();
    for scenario in loaded {
        if once.iter().any(|s| s.name == scenario.name) {
            errln!("note: scenario {} is named more than once; it runs once", scenario.name);
        } else {
            once.push(scenario);
        }
    }
    Ok(once)
}

/// What the command line asks for, checked.
struct Plan {
    scenarios: Vec<LoadedScenario>,
    start: u64,
    count: u64,
    shard: Option<Shard>,
    time_budget: Duration,
    jobs: usize,
}

fn plan(args: &SweepArgs) -> Result<Plan, String> {
    let (start, count) = match (&args.seeds, args.start, args.count) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err("give either --seeds A..B or --start/--count, not both".into())
        }
        (Some(range), None, None) => parse_range(range)?,
        (None, start, count) => (start.unwrap_or_else(rotating_start), count.unwrap_or(DEFAULT_COUNT)),
    };
    if count == 0 {
        return Err("--count 0 runs nothing; give at least 1 seed".into());
    }
    if start.checked_add(count).is_none() {
        return Err(format!(
            "--start {start} with --count {count} runs past the last seed ({}); lower the start or the count",
            u64::MAX
        ));
    }
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let time_budget = match args.time_budget.as_deref().map(humantime::parse_duration).transpose() {
        Ok(b) => b.unwrap_or(DEFAULT_TIME_BUDGET),
        Err(e) => return Err(format!("--time-budget: {e}; write it like 60s or 10m")),
    };
    if time_budget.is_zero() {
        return Err("--time-budget 0s runs nothing; give a budget longer than zero".into());
    }
    if args.determinism_percent > 100 {
        return Err("--determinism-percent is a percentage, 0 to 100".into());
    }
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        return Err("--jobs 0 runs nothing; give at least 1".into());
    }
    if let Some(path) = &args.json {
        check_writable_file(path).map_err(|e| format!("--json: {e}"))?;
    }
    if let Some(path) = &args.junit {
        check_writable_file(path).map_err(|e| format!("--junit: {e}"))?;
    }
    check_writable_dir(&args.save_dir).map_err(|e| format!("--save-dir: {e}"))?;
    let mut scenarios = load_scenarios(&args.scenarios)?;
    if args.no_buggify {
        scenarios.iter_mut().for_each(no_buggify);
    }
    if scenarios.is_empty() {
        return Err("no scenarios to sweep".into());
    }
    Ok(Plan { scenarios, start, count, shard, time_budget, jobs })
}

pub fn sweep(args: SweepArgs) -> u8 {
    let Plan { scenarios, start, count, shard, time_budget, jobs } = match plan(&args) {
        Ok(plan) => plan,
        Err(e) => return bad_input(e),
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Ctrl-C and SIGTERM stop taking new seeds; seeds already running finish, everything found is saved and
        // summarised. A second signal aborts at once.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                errln!("\nsecond interrupt: stopping now");
                std::process::exit(130);
            }
            errln!(
                "\ninterrupted: finishing the seeds in flight, then saving and summarising (interrupt again to abort)"
            );
        });
    }
    let shard_note = shard.map_or(String::new(), |s| format!(" · shard {}/{}", s.index, s.count));
    errln!(
        "sweep: {} scenario(s) · seeds {start}..{} ({count}){shard_note} · {jobs} jobs · budget {}",
        scenarios.len(),
        start + count,
        humantime::format_duration(time_budget),
    );
    let scenario_flags: String = args.scenarios.iter().map(|s| format!(" --scenario {s}")).collect();
    errln!(
        "  repeat this sweep: cargo sim sweep{scenario_flags} --start {start} --count {count}{}",
        shard.map_or(String::new(), |s| format!(" --shard {}/{}", s.index, s.count))
    );

    // The default sweep (no --scenario) is the project's main job: canaries there must be caught, not pass.
    let canary_mode = args.scenarios.is_empty();
    let options = SweepOptions {
        shard,
        time_budget: Some(time_budget),
        fail_fast: args.fail_fast,
        determinism_percent: args.determinism_percent,
        stop: stop.clone(),
        canary_mode,
        ..SweepOptions::new(scenarios.clone(), start, count, jobs)
    };
    let mut reports: Vec<ScenarioReport> = scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| ScenarioReport {
            scenario: s.name.clone(),
            seeds_planned: options.planned(i),
            marks_required: s.scenario.coverage.requires.clone(),
            marks_within_seeds: s.scenario.coverage.within_seeds.get(),
            canary: s.scenario.canary.as_ref().filter(|_| canary_mode).map(|c| CanaryReport {
                expect: c.expect.iter().map(|k| k.name().to_string()).collect(),
                within_seeds: c.within_seeds.get(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let expected: u64 = (0..scenarios.len()).map(|i| options.planned(i)).fold(0, u64::saturating_add);
    let progress = Progress::new(expected);
    let mut saver = Saver::new(&args.save_dir);
    // Host time, outside every simulation: the report's start time and the sweep's wall time, nothing more.
    #[allow(clippy::disallowed_methods)]
    let started_at = std::time::SystemTime::now();
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let stopped = sweep::run(&options, |done: &SeedDone| {
        let name = &scenarios[done.scenario].name;
        let seed = done.result.outcome.seed;
        let caught = options.catches_canary(done.scenario, &done.result.outcome);
        let report = &mut reports[done.scenario];
        let hunted = report.canary.is_some();
        report.record(done, report::repro_command(name, seed), caught, start);
        report.note_reach(done.result.outcome.stats.marks.keys(), started.elapsed().as_millis() as u64);
        if caught && !options.skip[done.scenario].swap(true, Ordering::SeqCst) {
            progress.println(format!("caught canary {name} at seed {seed}"));
        }
        // A hunted canary's failures are the flaw's doing: never saved.
        if let Some(sig) = done.signature.as_ref().filter(|_| !hunted) {
            saver.found(&scenarios[done.scenario], done.scenario, sig, &done.result.outcome, &progress);
        }
        if let Some(d) = &done.nondeterministic {
            progress.println(format!("NONDETERMINISM {name} seed {seed}: {d}"));
        }
        let failures: u64 = reports.iter().map(|r| r.failed_seeds()).sum();
        progress.tick(failures);
    });
    // After an interrupt or the time budget, failures stay as found: shrinking is work the user did not wait for,
    // and its replays would outlast the budget.
    let shrink_now = !args.no_shrink && stopped.is_none();
    let mut output_lost = false;
    for ((index, sig), saved) in saver.finish(&scenarios, shrink_now, &stop, &progress) {
        output_lost |= saved.is_err();
        if let (true, Ok(path)) = (args.timelines, &saved) {
            output_lost |= !save_timeline(path, &progress);
        }
        if let Some(group) = reports[index].failures.iter_mut().find(|g| g.signature == sig) {
            group.saved = saved.ok().map(|p| p.display().to_string());
        }
    }
    progress.finish();
    // Reports list failure groups by signature, whatever order the seeds finished in.
    for report in &mut reports {
        report.failures.sort_by(|a, b| a.signature.cmp(&b.signature));
    }
    let mut result = SweepReport {
        mode: "sweep".into(),
        start,
        count,
        shard,
        stopped,
        wall_ms: started.elapsed().as_millis() as u64,
        scenarios: reports,
        ..Default::default()
    };
    stamp(&mut result, started_at);
    // Report files first: a reader that closed our stdout must not cost the machine-readable results.
    output_lost |= !write_reports(&result, args.json.as_deref(), args.junit.as_deref());
    if let Err(e) = crate::report::sweep::write_step_summary(&result) {
        crate::errln!("error: could not append to GITHUB_STEP_SUMMARY: {e}");
        output_lost = true;
    }
    out!("{}", summary(&result));
    if output_lost {
        errln!("error: the sweep finished, but some of its results could not be written (above)");
        return EXIT_OUTPUT_LOST;
    }
    result.computed_verdict().exit_code()
}

/// Saves failures as seed files: each new fingerprint at once, unshrunk, the moment its first seed fails (so
/// that a sweep killed at any point keeps what it found), then, when the sweep ends, the lowest failing seed of
/// each, shrunk, into the same file. A file that held the fingerprint before this sweep began is known: left
/// alone. The files this sweep wrote are its own to replace; nobody else's are ever overwritten.
pub struct Saver {
    dir: PathBuf,
    kept: BTreeMap<(usize, String), Kept>,
}

struct Kept {
    outcome: Outcome,
    path: PathBuf,
    /// `Ok(true)`: this sweep wrote the file. `Ok(false)`: the file was there already (known, or saved by another
    /// sweep meanwhile). `Err`: it could not be written.
    written: Result<bool, String>,
}

impl Saver {
    pub fn new(dir: &std::path::Path) -> Saver {
        Saver { dir: dir.to_path_buf(), kept: BTreeMap::new() }
    }

    /// Sees a failing seed of scenario `index` with fingerprint `sig`: a new fingerprint is written at once; a
    /// lower seed of one this sweep wrote replaces it.
    pub fn found(
        &mut self,
        scenario: &LoadedScenario,
        index: usize,
        sig: &str,
        outcome: &Outcome,
        progress: &Progress,
    ) {
        let key = (index, sig.to_string());
        match self.kept.get_mut(&key) {
            None => {
                let path = seedfile::path_for(&self.dir, &scenario.name, sig);
                // A branched run replays from its seed file only; a fresh seed from its scenario too.
                let reproduce = if outcome.branches.is_empty() {
                    report::repro_command(&scenario.name, outcome.seed)
                } else {
                    format!("cargo sim repro {}", path.display())
                };
                progress.println(format!(
                    "FAIL {} seed {}{}: {sig} ({})\n  reproduce: {reproduce}",
                    scenario.name,
                    outcome.seed,
                    if outcome.branches.is_empty() {
                        String::new()
                    } else {
                        format!(" with {} branch(es)", outcome.branches.len())
                    },
                    outcome.kinds(),
                ));
                let file = SeedFile::new(scenario, outcome, sig);
                let written = write_new(&path, &file.to_toml(&path)).map_err(|e| e.to_string());
                match &written {
                    Ok(true) => progress.println(format!("  saved (unshrunk so far) {}", path.display())),
                    Ok(false) => {
                        progress.println(format!("  known: {} already holds this fingerprint", path.display()))
                    }
                    Err(e) => progress.println(format!("  error: could not save {}: {e}", path.display())),
                }
                self.kept.insert(key, Kept { outcome: outcome.clone(), path, written });
            }
            Some(kept) if outcome.seed < kept.outcome.seed => {
                kept.outcome = outcome.clone();
                if kept.written == Ok(true) {
                    let file = SeedFile::new(scenario, outcome, sig);
                    if let Err(e) = write_atomically(&kept.path, &file.to_toml(&kept.path)) {
                        kept.written = Err(e.to_string());
                    }
                }
            }
            Some(_) => {}
        }
    }

    /// Finishes every file this sweep wrote (shrunk if `shrink_it`); returns, per (scenario, fingerprint), where
    /// its reproduction is, or why it could not be written.
    pub fn finish(
        self,
        scenarios: &[LoadedScenario],
        shrink_it: bool,
        stop: &AtomicBool,
        progress: &Progress,
    ) -> Vec<((usize, String), Result<PathBuf, std::io::Error>)> {
        let mut out = Vec::new();
        for ((index, sig), kept) in self.kept {
            let result = match kept.written {
                Err(e) => Err(std::io::Error::other(e)),
                Ok(false) => Ok(kept.path),
                Ok(true) => {
                    let scenario = &scenarios[index];
                    let mut file = SeedFile::new(scenario, &kept.outcome, &sig);
                    progress.println(format!("seed {} of {} ({sig})", kept.outcome.seed, scenario.name));
                    if shrink_it && !stop.load(Ordering::SeqCst) {
                        progress.println(format!(
                            "  shrinking (at most {} replays; --no-shrink to skip) ...",
                            shrink::REPLAYS_MAX
                        ));
                        let shrunk = shrink::shrink(&file, &kept.path, stop);
                        progress.println(format!("  shrunk from {} to {}", shrunk.before, shrunk.after));
                        file = shrunk.file;
                    }
                    match write_atomically(&kept.path, &file.to_toml(&kept.path)) {
                        Ok(()) => {
                            progress.println(format!(
                                "  saved {} · replay: cargo sim repro {}",
                                kept.path.display(),
                                kept.path.display()
                            ));
                            Ok(kept.path)
                        }
                        Err(e) => {
                            progress.println(format!("  error: could not save {}: {e}", kept.path.display()));
                            Err(e)
                        }
                    }
                }
            };
            out.push(((index, sig), result));
        }
        out
    }
}

/// Replays a saved seed file and writes its timeline beside it. Returns false if it could not be written.
pub fn save_timeline(seed_file: &std::path::Path, progress: &Progress) -> bool {
    let page = seed_file.with_extension("html");
    let result = seedfile::load(seed_file)
        .map_err(|e| e.to_string())
        .map(|file| crate::world::run_seed(&file.to_loaded(seed_file), file.seed.seed));
    let written = result.and_then(|run| {
        crate::report::files::write_atomically(&page, &crate::report::timeline::html(&run.outcome, &run.trace))
            .map_err(|e| e.to_string())
    });
    match written {
        Ok(()) => {
            progress.println(format!("  timeline: {}", page.display()));
            true
        }
        Err(e) => {
            progress.println(format!("  error: could not write the timeline {}: {e}", page.display()));
            false
        }
    }
}

/// A progress bar on a terminal; plain lines every few seconds otherwise (CI logs).
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Zero for an open-ended run (an exploration ends with its budget, not a count).
    total: u64,
    /// What the ticks count, and what they are (`seeds`, or `runs` with the features reached).
    extra: std::cell::RefCell<String>,
    done: std::cell::Cell<u64>,
    #[allow(clippy::disallowed_methods)]
    last_line: std::cell::Cell<std::time::Instant>,
    started: std::time::Instant,
}

const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    #[allow(clippy::disallowed_methods)]
    pub fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            if total == 0 {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {pos} runs · {per_sec} · {msg} · {elapsed}")
                        .expect("a valid template"),
                );
                bar
            } else {
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template("{bar:40} {pos}/{len} seeds · {per_sec} · {msg} · {eta} left")
                        .expect("a valid template"),
                );
                bar
            }
        });
        let now = std::time::Instant::now();
        Progress { bar, total, extra: String::new().into(), done: 0.into(), last_line: now.into(), started: now }
    }

    /// Says more in each progress line (an exploration's features and branches).
    pub fn note(&self, extra: String) {
        *self.extra.borrow_mut() = extra;
    }

    pub fn println(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => errln!("{line}"),
        }
    }

    pub fn tick(&self, failures: u64) {
        self.done.set(self.done.get() + 1);
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{failures} failed{}", self.extra.borrow()));
                bar.inc(1);
            }
            None => {
                if self.last_line.get().elapsed() >= PLAIN_PROGRESS_EVERY {
                    self.last_line.set(std::time::Instant::now());
                    let secs = self.started.elapsed().as_secs_f64();
                    let (count, unit) = if self.total == 0 {
                        (self.done.get().to_string(), "runs")
                    } else {
                        (format!("{}/{}", self.done.get(), self.total), "seeds")
                    };
                    errln!(
                        "progress: {count} {unit} · {:.1} {unit}/s · {failures} failed{}",
                        self.done.get() as f64 / secs.max(1e-9),
                        self.extra.borrow()
                    );
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
