//! `cargo sim repro FILE`: replay a saved seed, exactly.

use super::bad_input;
use super::run::print_trace;
use crate::{determinism, report, seedfile, sweep, world};
use std::path::Path;

#[derive(clap::Args)]
pub struct ReproArgs {
    /// A seed file (seeds/*.toml).
    pub file: String,
    /// Print the event log: simulated time, node, event.
    #[arg(long)]
    pub trace: bool,
    /// With --trace: only events whose line contains this text (e.g. `acme-prod/home`).
    #[arg(long, requires = "trace")]
    pub filter: Option<String>,
    /// Print the event log filtered as `RUST_LOG` would: `queue=debug,worker=info`, `warn`, `store=info,faults=warn`.
    /// Targets are the components (store, queue, ingest, worker, client, reader, checker, faults, harness);
    /// levels: warn (trouble), info (state changes), debug (every lease, coalescing and read).
    #[arg(long)]
    pub log: Option<String>,
    /// Replay once instead of twice (the second replay checks determinism).
    #[arg(long)]
    pub no_determinism_check: bool,
    /// Switch every fault point inside the system off (see `[faults] points` in scenarios/README.md).
    #[arg(long)]
    pub no_buggify: bool,
    /// Print the outcome as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Print only the causal chain of every violation: the client request, the versions stored, the jobs, their
    /// coalescing, leases and redeliveries, the view writes and what readers saw, with the faults active at each
    /// step; the step where things went wrong is marked `>>`.
    #[arg(long, conflicts_with = "json")]
    pub explain: bool,
    /// Write the run's timeline to this file: one self-contained HTML page (lanes per node, fault bands, every
    /// event, each violation's causal chain highlighted; zoom, pan, click, filter).
    #[arg(long)]
    pub html: Option<std::path::PathBuf>,
    /// Write the seed file anew from this replay (same scenario and plan; this build's outcome, fingerprint and
    /// stamp), under the name of its current fingerprint, after a change to the harness or the system. Refused
    /// if the seed no longer fails (exit 1): a fixed bug's seed is removed, not re-saved.
    #[arg(long, conflicts_with_all = ["json", "explain"])]
    pub resave: bool,
    /// When did the failure become inevitable? Branch the run at a grid of times before its first violation,
    /// many children each, and print the share of children that still fail the same way at each time (drawn in
    /// the timeline with --html).
    #[arg(long, conflicts_with_all = ["json", "explain", "resave"])]
    pub likelihood: bool,
    /// With --likelihood: grid points (at most 40).
    #[arg(long, default_value_t = 12, requires = "likelihood")]
    pub points: usize,
    /// With --likelihood: children per point (at most 200).
    #[arg(long, default_value_t = 16, requires = "likelihood")]
    pub children: u64,
}

pub fn repro(args: ReproArgs) -> u8 {
    let log = match super::run::parse_log(args.log.as_deref()) {
        Ok(log) => log,
        Err(e) => return bad_input(e),
    };
    let path = Path::new(&args.file);
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return bad_input(format!("{}: cannot read: {e}", path.display())),
    };
    let file = match seedfile::parse(&text, path) {
        Ok(f) => f,
        Err(e) => {
            // A scenario file is the most likely mix-up: say which command runs it.
            if !text.contains("[seed]") && crate::scenario::parse(&text, path).is_ok() {
                return bad_input(format!(
                    "{} is a scenario, not a saved seed; run one of its seeds with `cargo sim run --scenario {} --seed N`",
                    path.display(),
                    path.display()
                ));
            }
            return bad_input(e);
        }
    };
    let mut loaded = file.to_loaded(path);
    if args.no_buggify {
        super::sweep::no_buggify(&mut loaded);
    }
    let seed = file.seed.seed;
    let (result, divergence) = if args.no_determinism_check {
        (world::run_seed(&loaded, seed), None)
    } else {
        determinism::run_twice(&loaded, seed)
    };
    if args.trace || log.is_some() {
        print_trace(&result.trace, args.filter.as_deref(), log.as_ref());
    }
    let outcome = &result.outcome;
    let likelihood = if args.likelihood {
        match measure_likelihood(&loaded, &file, &result, args.points, args.children) {
            Ok(points) => points,
            Err(code) => return code,
        }
    } else {
        Vec::new()
    };
    if let Some(path) = &args.html {
        let page = crate::report::timeline::html_with(&result.outcome, &result.trace, &likelihood);
        if let Err(e) = crate::report::files::write_atomically(path, &page) {
            crate::errln!("error: could not write {}: {e}", path.display());
            return super::EXIT_OUTPUT_LOST;
        }
        crate::errln!("timeline: {} (open it in a browser)", path.display());
    }
    if args.likelihood {
        return 0;
    }
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(outcome).expect("outcomes serialize"));
    } else if args.explain {
        crate::out!("{}", report::explanations(&result.trace, outcome, usize::MAX));
    } else {
        crate::out!("{}", report::summary_with_repro(outcome, &format!("cargo sim repro {} --trace", args.file)));
        crate::out!("{}", report::explanations(&result.trace, outcome, report::EXPLAINED_MAX));
    }
    let now = sweep::signature(outcome);
    let saved_kinds = file.seed.kinds.as_deref().map_or(String::new(), |k| format!(", kinds {k}"));
    let verdict = match &now {
        Some(sig) if *sig == file.seed.signature => {
            format!("reproduced: fails the same way, fingerprint `{sig}` (kinds {})", outcome.kinds())
        }
        Some(sig) => format!(
            "fails differently: fingerprint `{sig}` (kinds {}), saved as `{}`{saved_kinds}",
            outcome.kinds(),
            file.seed.signature
        ),
        None => format!("no longer fails (saved as `{}`{saved_kinds})", file.seed.signature),
    };
    crate::outln!("repro: {verdict}");
    let edited = seedfile::unedited(&text, &file) == Some(false);
    if edited {
        crate::outln!("  note: the file was edited by hand since it was saved; its outcome follows the edit");
    }
    let differences = seedfile::Build::current().differences(&file.seed);
    if !differences.is_empty() {
        crate::outln!("  note: saved by another build: {}", differences.join(", "));
    }
    if outcome.trace_hash != file.outcome.trace_hash {
        let why = match (edited, differences.is_empty()) {
            (true, _) => "the hand edit changed the run",
            (false, false) => "the build differs (above)",
            (false, true) => "the system or the harness changed since the seed was saved",
        };
        crate::outln!("  note: the trace hash is {} (saved: {}); {why}", outcome.trace_hash, file.outcome.trace_hash);
    }
    match &divergence {
        Some(d) => {
            crate::errln!("nondeterminism: {d}");
            return 1;
        }
        None if args.resave => return resave(path, &file, &loaded, outcome, now.as_deref()),
        None if !args.no_determinism_check => crate::outln!("  determinism: three replays gave identical traces, and two of them identical draws from madsim's generator"),
        None => {}
    }
    super::exit_of(outcome)
}

/// Writes the seed file anew from a replay; exit 0 once written, 1 if the seed no longer fails, 4 if the file
/// could not be written.
fn resave(
    path: &Path,
    file: &seedfile::SeedFile,
    loaded: &crate::scenario::LoadedScenario,
    outcome: &crate::outcome::Outcome,
    fingerprint: Option<&str>,
) -> u8 {
    let Some(fingerprint) = fingerprint else {
        crate::errln!("error: {} no longer fails: nothing to re-save (remove it if its bug is fixed)", path.display());
        return 1;
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let target = seedfile::path_for(dir, &file.seed.scenario, fingerprint);
    let fresh = seedfile::SeedFile::new(loaded, outcome, fingerprint);
    if let Err(e) = crate::report::files::write_atomically(&target, &fresh.to_toml(&target)) {
        crate::errln!("error: could not write {}: {e}", target.display());
        return super::EXIT_OUTPUT_LOST;
    }
    if target != path {
        if let Err(e) = std::fs::remove_file(path) {
            crate::errln!("error: wrote {} but could not remove {}: {e}", target.display(), path.display());
            return super::EXIT_OUTPUT_LOST;
        }
        crate::outln!("re-saved as {} (its fingerprint changed; {} removed)", target.display(), path.display());
    } else {
        crate::outln!("re-saved {}", target.display());
    }
    0
}

/// Branches the failing run at a grid of times and prints the share of children that still fail; an error exit
/// code if the run does not fail (there is nothing to measure).
fn measure_likelihood(
    loaded: &crate::scenario::LoadedScenario,
    file: &seedfile::SeedFile,
    result: &crate::world::RunResult,
    points: usize,
    children: u64,
) -> Result<Vec<crate::explore::likelihood::Point>, u8> {
    use crate::explore::likelihood::{certain_from, horizon, likelihood, Grid};
    let Some(fingerprint) = sweep::signature(&result.outcome) else {
        crate::errln!("error: the seed no longer fails: there is no failure whose likelihood to measure");
        return Err(1);
    };
    let safety_start = result
        .trace
        .iter()
        .find(|r| {
            matches!(
                r.event,
                crate::trace::TraceEvent::Harness(crate::trace::HarnessEvent::PhaseStarted { phase: "safety" })
            )
        })
        .map_or(std::time::Duration::ZERO, |r| r.at);
    let horizon = horizon(loaded, &result.outcome, safety_start);
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, std::sync::atomic::Ordering::SeqCst));
    }
    crate::outln!(
        "likelihood of `{fingerprint}`: {points} times from the start of the safety phase to {:.3}s, {children} children each",
        horizon.as_secs_f64()
    );
    let grid = Grid { horizon, points, children, jobs, stop };
    let found = likelihood(loaded, file.seed.seed, &fingerprint, grid);
    for p in &found {
        let bar = "#".repeat((p.percent() / 5) as usize);
        crate::outln!(
            "  branched at {:>8.3}s: {:>3} of {:>3} children still fail ({:>3}%) {bar}",
            p.at_ms as f64 / 1e3,
            p.failing,
            p.children,
            p.percent()
        );
    }
    match certain_from(&found, 90) {
        Some(at) => crate::outln!(
            "  the failure is nearly certain (90% of children or more) from {:.3}s on: its cause happened before",
            at as f64 / 1e3
        ),
        None => crate::outln!("  the failure never becomes nearly certain on this grid: it needs luck up to the end"),
    }
    Ok(found)
}
