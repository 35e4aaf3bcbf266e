//! `cargo sim explore`: hunt rare states and the bugs behind them (see [`crate::explore`]). Time-boxed, all
//! cores, shardable like `sweep`; failures are saved as ordinary seed files (with their branches), the report is
//! a sweep report (text, JSON, JUnit, GitHub step summary) with each mark's reach rate and first-reach time.

use super::bad_input;
use super::sweep::{load_scenarios, rotating_start, save_timeline, Progress, Saver};
use super::EXIT_OUTPUT_LOST;
use crate::explore::{corpus::Corpus, Explorer};
use crate::report::files::{check_writable_dir, check_writable_file, write_atomically};
use crate::report::sweep::{stamp, summary, write_reports};
use crate::sweep::{self, ScenarioReport, SeedDone, Shard, SweepOptions, SweepReport};
use crate::world::RunOptions;
use crate::{errln, out};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Wall-time budget when none is given.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(300);

#[derive(clap::Args)]
pub struct ExploreArgs {
    /// A scenario name, a scenario file, or a folder of them; repeat for several. Default: every scenario under
    /// scenarios/ but the canaries (name a canary to hunt its flaw).
    #[arg(long = "scenario")]
    pub scenarios: Vec<String>,
    /// The first fresh seed (the exploration prints it). Default: one that rotates every run.
    #[arg(long)]
    pub start: Option<u64>,
    /// Seed of the explorer's own choices (which parent, which moment, which child). Default: the start seed.
    #[arg(long)]
    pub explorer_seed: Option<u64>,
    /// Runs made at once (at least 1). Default: all cores.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only this machine's share of the fresh seeds: K/N (1-based).
    #[arg(long)]
    pub shard: Option<String>,
    /// How long to explore (e.g. 60s, 10m; more than zero). Default: 5m.
    #[arg(long)]
    pub time_budget: Option<String>,
    /// Stop after this many runs (this shard's), even with time left: an exploration of a set size.
    #[arg(long)]
    pub runs: Option<u64>,
    /// Keep the corpus in this folder: resume from it, save to it at the end (a file per scenario and shard; the
    /// shards' files merge on load).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Where new failures are saved as seed files (checked writable before exploring starts).
    #[arg(long, default_value = "seeds")]
    pub save_dir: PathBuf,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the results as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Save failures as found, without shrinking them.
    #[arg(long)]
    pub no_shrink: bool,
    /// Switch every fault point inside the system off (see `[faults] points` in scenarios/README.md).
    #[arg(long)]
    pub no_buggify: bool,
    /// Beside each seed file saved, write its timeline (`<file>.html`).
    #[arg(long)]
    pub timelines: bool,
    /// Share of runs made twice to check determinism, in percent (0 to 100).
    #[arg(long, default_value_t = 5)]
    pub determinism_percent: u64,
}

struct Plan {
    scenarios: Vec<crate::scenario::LoadedScenario>,
    start: u64,
    explorer_seed: u64,
    shard: Option<Shard>,
    time_budget: Duration,
    jobs: usize,
}

fn plan(args: &ExploreArgs) -> Result<Plan, String> {
    let start = args.start.unwrap_or_else(rotating_start);
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let time_budget = match args.time_budget.as_deref().map(humantime::parse_duration).transpose() {
        Ok(b) => b.unwrap_or(DEFAULT_TIME_BUDGET),
        Err(e) => return Err(format!("--time-budget: {e}; write it like 60s or 10m")),
    };
    if args.runs == Some(0) {
        return Err("--runs 0 explores nothing; give at least one run".into());
    }
    if time_budget.is_zero() {
        return Err("--time-budget 0s explores nothing; give a budget longer than zero".into());
    }
    if args.determinism_percent > 100 {
        return Err("--determinism-percent is a percentage, 0 to 100".into());
    }
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        return Err("--jobs 0 runs nothing; give at least 1".into());
    }
    for (flag, path) in [("--json", &args.json), ("--junit", &args.junit)] {
        if let Some(path) = path {
            check_writable_file(path).map_err(|e| format!("{flag}: {e}"))?;
        }
    }
    check_writable_dir(&args.save_dir).map_err(|e| format!("--save-dir: {e}"))?;
    if let Some(dir) = &args.corpus {
        check_writable_dir(dir).map_err(|e| format!("--corpus: {e}"))?;
    }
    let mut scenarios = load_scenarios(&args.scenarios)?;
    if args.no_buggify {
        scenarios.iter_mut().for_each(super::sweep::no_buggify);
    }
    if args.scenarios.is_empty() {
        scenarios.retain(|s| s.scenario.canary.is_none());
    }
    if scenarios.is_empty() {
        return Err("no scenarios to explore".into());
    }
    Ok(Plan { scenarios, start, explorer_seed: args.explorer_seed.unwrap_or(start), shard, time_budget, jobs })
}

pub fn explore(args: ExploreArgs) -> u8 {
    let Plan { scenarios, start, explorer_seed, shard, time_budget, jobs } = match plan(&args) {
        Ok(plan) => plan,
        Err(e) => return bad_input(e),
    };
    let mut corpora = Vec::new();
    for s in &scenarios {
        match args.corpus.as_deref().map(|dir| Corpus::load(dir, &s.name)).transpose() {
            Ok(corpus) => corpora.push(corpus.unwrap_or_else(|| Corpus::new(&s.name))),
            Err(e) => return bad_input(format!("--corpus: {e}")),
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                errln!("\nsecond interrupt: stopping now");
                std::process::exit(130);
            }
            errln!("\ninterrupted: finishing the runs in flight, then saving (interrupt again to abort)");
        });
    }
    let resumed: u64 = corpora.iter().map(|c| c.runs).sum();
    let shard_note = shard.map_or(String::new(), |s| format!(" · shard {}/{}", s.index, s.count));
    errln!(
        "explore: {} scenario(s) · fresh seeds from {start}{shard_note} · explorer seed {explorer_seed} · {jobs} jobs · \
         budget {}{}{}",
        scenarios.len(),
        humantime::format_duration(time_budget),
        args.runs.map_or(String::new(), |n| format!(" or {n} runs")),
        if resumed > 0 { format!(" · resuming a corpus of {resumed} runs") } else { String::new() }
    );
    // The explorer hunts every mark the scenario's faults can cause (its required ones among them) until reached.
    let wanted: Vec<Vec<String>> = scenarios
        .iter()
        .map(|s| {
            let mut wanted: Vec<String> =
                crate::marks::reachable(&s.scenario).into_iter().map(str::to_string).collect();
            wanted.extend(s.scenario.coverage.requires.iter().cloned());
            wanted.sort();
            wanted.dedup();
            wanted
        })
        .collect();
    let explorer =
        Explorer::new(corpora, wanted, explorer_seed, start, shard).with_runs_max(args.runs.unwrap_or(u64::MAX));
    let options = SweepOptions {
        shard,
        time_budget: Some(time_budget),
        determinism_percent: args.determinism_percent,
        stop: stop.clone(),
        ..SweepOptions::new(scenarios.clone(), start, u64::MAX, jobs)
    };
    let mut reports: Vec<ScenarioReport> = scenarios
        .iter()
        .map(|s| ScenarioReport {
            scenario: s.name.clone(),
            marks_required: s.scenario.coverage.requires.clone(),
            marks_within_seeds: s.scenario.coverage.within_seeds.get(),
            seeds_planned: u64::MAX,
            ..Default::default()
        })
        .collect();
    let progress = Progress::new(0);
    let mut saver = Saver::new(&args.save_dir);
    let mut features: Vec<std::collections::BTreeSet<String>> = vec![Default::default(); scenarios.len()];
    // Host time, outside every simulation: the report's stamp and first-reach times, nothing more.
    #[allow(clippy::disallowed_methods)]
    let started_at = std::time::SystemTime::now();
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let run = RunOptions { outcome_only: true, coverage: true, ..RunOptions::default() };
    let stopped = sweep::run_jobs(&options, &explorer, run, |done: &SeedDone| {
        let o = &done.result.outcome;
        let name = &scenarios[done.scenario].name;
        let job = sweep::Job { scenario: done.scenario, seed: o.seed, branches: o.branches.clone() };
        let coverage = done.result.coverage.clone().unwrap_or_default();
        let (new, aim) = explorer.done(&job, &coverage);
        let report = &mut reports[done.scenario];
        let repro = if o.branches.is_empty() {
            crate::report::repro_command(name, o.seed)
        } else {
            "a branched run: replay its saved seed file".to_string()
        };
        report.record(done, repro, false, start);
        report.note_reach(o.stats.marks.keys(), started.elapsed().as_millis() as u64);
        if !o.branches.is_empty() {
            report.branched_runs += 1;
        }
        features[done.scenario].extend(coverage.features.keys().cloned());
        report.features = features[done.scenario].len() as u64;
        for mark in new.iter().filter_map(|f| f.strip_prefix("mark:")).filter(|m| !m.contains('#')) {
            let how = aim.target.as_deref().map_or("a fresh seed".to_string(), |t| format!("a branch aimed at {t}"));
            progress
                .println(format!("new mark {mark} in {name} after {:.1}s ({how})", started.elapsed().as_secs_f64()));
        }
        if let Some(sig) = &done.signature {
            saver.found(&scenarios[done.scenario], done.scenario, sig, o, &progress);
        }
        let failures: u64 = reports.iter().map(|r| r.failed_seeds()).sum();
        let branched: u64 = reports.iter().map(|r| r.branched_runs).sum();
        let reached: usize = features.iter().map(|f| f.len()).sum();
        progress.note(format!(" · {reached} features · {branched} branches"));
        progress.tick(failures);
    });
    let shrink_now = !args.no_shrink && stopped.is_none_or(|s| s == sweep::Stop::TimeBudget);
    let mut output_lost = false;
    for ((index, sig), saved) in saver.finish(&scenarios, shrink_now, &stop, &progress) {
        output_lost |= saved.is_err();
        if let (true, Ok(path)) = (args.timelines, &saved) {
            output_lost |= !save_timeline(path, &progress);
        }
        if let Some(group) = reports[index].failures.iter_mut().find(|g| g.signature == sig) {
            if let Ok(path) = &saved {
                group.repro = format!("cargo sim repro {}", path.display());
            }
            group.saved = saved.ok().map(|p| p.display().to_string());
        }
    }
    progress.finish();
    if let Some(dir) = &args.corpus {
        for corpus in explorer.corpora() {
            let path = Corpus::path(dir, &corpus.scenario, shard);
            let text = serde_json::to_string(&corpus).expect("corpora serialize");
            if let Err(e) = write_atomically(&path, &text) {
                errln!("error: could not save the corpus {}: {e}", path.display());
                output_lost = true;
            }
        }
    }
    for report in &mut reports {
        report.failures.sort_by(|a, b| a.signature.cmp(&b.signature));
        // An exploration must run at least a scenario's coverage window before it can vouch for it.
        report.seeds_planned = report.seeds_run.max(report.marks_within_seeds);
    }
    // A time-boxed exploration is whole when its budget runs out: that is how it ends.
    let stopped = stopped.filter(|s| *s != sweep::Stop::TimeBudget);
    let mut result = SweepReport {
        mode: "explore".into(),
        start,
        count: 0,
        shard,
        stopped,
        wall_ms: started.elapsed().as_millis() as u64,
        scenarios: reports,
        ..Default::default()
    };
    stamp(&mut result, started_at);
    let mut history_text = String::new();
    if let Some(dir) = &args.corpus {
        match record_history(dir, &result) {
            Ok(text) => history_text = text,
            Err(e) => {
                errln!("error: could not add to the corpus's history: {e}");
                output_lost = true;
            }
        }
    }
    output_lost |= !write_reports(&result, args.json.as_deref(), args.junit.as_deref());
    if let Err(e) = crate::report::sweep::write_step_summary(&result) {
        errln!("error: could not append to GITHUB_STEP_SUMMARY: {e}");
        output_lost = true;
    }
    out!("{}{history_text}", summary(&result));
    if output_lost {
        errln!("error: the exploration finished, but some of its results could not be written (above)");
        return EXIT_OUTPUT_LOST;
    }
    result.computed_verdict().exit_code()
}

/// One exploration's reach rates, as `history.jsonl` in the corpus folder keeps them (one line per scenario; a
/// shard's file is `history.shard-K-of-N.jsonl`).
#[derive(serde::Serialize, serde::Deserialize)]
struct History {
    commit: String,
    started_at: String,
    scenario: String,
    runs: u64,
    /// Mark -> percent of runs that reached it.
    reach: std::collections::BTreeMap<String, u64>,
}

/// Commits shown in the reach history.
const HISTORY_SHOWN: usize = 5;

/// Appends this exploration's reach rates to the corpus's history and returns, per scenario, each mark's reach
/// rate over the last commits explored: a change that makes a mark rarer shows as a falling rate.
fn record_history(dir: &std::path::Path, result: &SweepReport) -> std::io::Result<String> {
    use std::io::Write;
    // One history per shard, so that the shards' corpus folders merge without touching each other's files.
    let path = dir.join(match result.shard {
        Some(s) => format!("history.shard-{}-of-{}.jsonl", s.index, s.count),
        None => "history.jsonl".to_string(),
    });
    let commit = result.git_commit.clone().unwrap_or_else(|| "(no commit)".into());
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    for s in &result.scenarios {
        let reach = s.marks.iter().map(|(m, n)| (m.clone(), n * 100 / s.seeds_run.max(1))).collect();
        let line = History {
            commit: commit.clone(),
            started_at: result.started_at.clone(),
            scenario: s.scenario.clone(),
            runs: s.seeds_run,
            reach,
        };
        writeln!(file, "{}", serde_json::to_string(&line).expect("history lines serialize"))?;
    }
    let text = std::fs::read_to_string(&path)?;
    let lines: Vec<History> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let mut out = String::new();
    for s in &result.scenarios {
        let mut last: Vec<&History> = lines.iter().filter(|h| h.scenario == s.scenario).collect();
        let from = last.len().saturating_sub(HISTORY_SHOWN);
        last.drain(..from);
        if last.len() < 2 {
            continue;
        }
        out.push_str(&format!("\n  reach rate per commit, {} (oldest first):\n", s.scenario));
        let marks: std::collections::BTreeSet<&String> = last.iter().flat_map(|h| h.reach.keys()).collect();
        for mark in marks {
            let rates: Vec<String> = last
                .iter()
                .map(|h| format!("{} {}%", &h.commit[..h.commit.len().min(8)], h.reach.get(mark).copied().unwrap_or(0)))
                .collect();
            out.push_str(&format!("    {mark}: {}\n", rates.join(" · ")));
        }
    }
    Ok(out)
}
