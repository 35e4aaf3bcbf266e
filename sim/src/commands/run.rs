use super::bad_input;
use crate::trace::Record;
use crate::{catalog, determinism, report, world};

#[derive(clap::Args)]
pub struct RunArgs {
    /// A scenario name under scenarios/ (e.g. `baseline`, `canaries/dedup-ignores-environment`) or a path.
    #[arg(long)]
    pub scenario: String,
    /// The seed: every random choice of the run (load, faults, the simulated network) derives from it.
    #[arg(long)]
    pub seed: u64,
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
    /// Drop every event the system reports (coverage marks aside); the verdict must not change.
    #[arg(long)]
    pub mute_system_events: bool,
    /// The determinism check's negative control: plant a task whose timing leaks from one run into the next.
    /// `--check-determinism` must report it.
    #[arg(long)]
    pub plant_nondeterminism: bool,
    /// Run the seed twice on fresh threads and fail if the traces differ.
    #[arg(long)]
    pub check_determinism: bool,
    /// Switch every fault point inside the system off (see `[faults] points` in scenarios/README.md).
    #[arg(long)]
    pub no_buggify: bool,
}

/// Parses a `--log` directive (`queue=debug,worker=info`, `warn`, ...), the syntax of `RUST_LOG`, whose targets
/// are the components (`store`, `queue`, `ingest`, `worker`, `client`, `reader`, `checker`, `faults`, `harness`).
pub fn parse_log(directives: Option<&str>) -> Result<Option<tracing_subscriber::filter::Targets>, String> {
    let Some(d) = directives else { return Ok(None) };
    let targets = d.parse::<tracing_subscriber::filter::Targets>().map_err(|e| {
        format!("--log `{d}`: {e}; write it as RUST_LOG is written, e.g. `queue=debug,worker=info` or `warn`")
    })?;
    // A target no record has would filter out everything it names, silently: a typo is an error.
    for (target, _) in targets.iter() {
        if !crate::trace::TARGETS.contains(&target) {
            return Err(format!(
                "--log `{d}`: unknown target `{target}`; the targets are {}",
                crate::trace::TARGETS.join(", ")
            ));
        }
    }
    Ok(Some(targets))
}

/// Prints the trace records the `--log` directives enable (all without any) whose line contains `filter`.
pub fn print_trace(trace: &[Record], filter: Option<&str>, log: Option<&tracing_subscriber::filter::Targets>) {
    for record in trace {
        if log.is_some_and(|log| !log.would_enable(record.target(), &record.level())) {
            continue;
        }
        let line = record.to_string();
        if filter.is_none_or(|f| line.contains(f)) {
            crate::outln!("{line}");
        }
    }
}

/// Writes a run's HTML timeline, and says where.
pub fn write_timeline(path: &std::path::Path, result: &crate::world::RunResult) -> std::io::Result<()> {
    crate::report::files::write_atomically(path, &crate::report::timeline::html(&result.outcome, &result.trace))?;
    crate::errln!("timeline: {} (open it in a browser)", path.display());
    Ok(())
}

pub fn run(args: RunArgs) -> u8 {
    let log = match parse_log(args.log.as_deref()) {
        Ok(log) => log,
        Err(e) => return bad_input(e),
    };
    let mut scenario = match catalog::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    if args.no_buggify {
        super::sweep::no_buggify(&mut scenario);
    }
    if let Some(path) = &args.html {
        if let Err(e) = crate::report::files::check_writable_file(path) {
            return bad_input(format!("--html: {e}"));
        }
    }
    let options = world::RunOptions {
        mute_system_events: args.mute_system_events,
        plant_nondeterminism: args.plant_nondeterminism,
        ..world::RunOptions::default()
    };
    let (result, divergence) = if args.check_determinism {
        determinism::run_twice_with(&scenario, args.seed, options)
    } else {
        (world::run_seed_with(&scenario, args.seed, options), None)
    };
    if args.trace || log.is_some() {
        print_trace(&result.trace, args.filter.as_deref(), log.as_ref());
    }
    if let Some(path) = &args.html {
        if let Err(e) = write_timeline(path, &result) {
            crate::errln!("error: could not write {}: {e}", path.display());
            return super::EXIT_OUTPUT_LOST;
        }
    }
    // A divergence fails the run: the outcome says so, its headline included.
    let mut outcome = result.outcome.clone();
    if let Some(d) = &divergence {
        outcome.violations.push(crate::outcome::Violation::new(
            crate::outcome::ViolationKind::Nondeterminism,
            format!("the same seed gave different runs: {}", d.to_string().replace('\n', "; ")),
        ));
        outcome.verdict = crate::outcome::Verdict::Fail;
    }
    let repro = format!(
        "cargo sim run --scenario {} --seed {}{}{}",
        outcome.scenario,
        args.seed,
        if args.check_determinism { " --check-determinism" } else { " --trace" },
        if args.plant_nondeterminism { " --plant-nondeterminism" } else { "" }
    );
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&outcome).expect("outcomes serialize"));
    } else if args.explain {
        crate::out!("{}", report::explanations(&result.trace, &outcome, usize::MAX));
    } else {
        crate::out!("{}", report::summary_with_repro(&outcome, &repro));
        crate::out!("{}", report::explanations(&result.trace, &outcome, report::EXPLAINED_MAX));
    }
    if let Some(d) = &divergence {
        crate::errln!("nondeterminism: {d}");
        crate::errln!(
            "  trace hashes: this run {}, the draw-checked runs {} and {}",
            result.outcome.trace_hash,
            d.first_hash,
            d.second_hash
        );
        crate::errln!("  reproduce: {repro}");
    } else if args.check_determinism && !args.json {
        crate::outln!("  determinism: three runs on fresh threads gave identical traces, and two of them identical draws from madsim's generator");
    }
    super::exit_of(&outcome)
}
