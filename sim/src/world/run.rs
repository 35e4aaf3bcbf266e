//! Running one seed: a fresh OS thread, a madsim runtime seeded with the seed, the phases, and the
//! classification of how the run ended. A run that returns is judged by the oracle; one that panics is a
//! `panic`, `deadlock` or `time-limit` crash.

use super::phases;
use crate::faults::{generate, FaultSpec};
use crate::outcome::{Outcome, Verdict, Violation, ViolationKind};
use crate::rng;
use crate::scenario::{LoadedScenario, Scenario};
use crate::trace::{Record, Recorder};
use madsim::runtime::Runtime;
use std::cell::RefCell;
use std::sync::{Arc, Once};
use std::time::Duration;

/// Simulated time allowed beyond the phases before the run is declared stuck.
const TIME_LIMIT_MARGIN: Duration = Duration::from_secs(120);

/// The result of one run, with its trace.
pub struct RunResult {
    pub outcome: Outcome,
    pub trace: Vec<Record>,
    /// References to the run's state still alive after its runtime was dropped (every node's event sink holds
    /// one). Anything but zero means a long sweep's memory grows with every seed.
    pub leaked_references: usize,
    /// The run's coverage features (when asked for: the explorer's signal, computed before the trace is freed).
    pub coverage: Option<crate::explore::features::Coverage>,
    /// Every coverage mark the run reached, with its hits' times and the fault kinds active.
    pub marks: std::collections::BTreeMap<String, crate::trace::MarkHits>,
}

/// How to run a seed, beyond the scenario.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Drop every event the system reports (coverage marks aside). Verdicts must not change: they come from
    /// clients, readers and the network, never from the system's account of itself.
    pub mute_system_events: bool,
    /// The determinism check's negative control: a task whose timing depends on a process-wide counter, so
    /// that no two runs of a process are alike. Never set outside that control.
    pub plant_nondeterminism: bool,
    /// The caller needs the outcome only (a sweep): the trace is freed on the seed's own thread, where it was
    /// allocated, instead of being handed over. Freeing tens of thousands of records from another thread cost a
    /// sweep's collecting thread a share of a core, taken from the seeds running beside it.
    pub outcome_only: bool,
    /// Make the system's statistics endpoints lie (the evidence test): verdicts must not change.
    pub stats: system::config::StatsHonesty,
    /// Compute the run's coverage features from its trace (exploration).
    pub coverage: bool,
}

/// Runs one seed on a fresh OS thread, as every seed must: std seeds its HashMap hasher once per thread, and a
/// runtime on a reused thread would not be deterministic.
pub fn run_seed(scenario: &LoadedScenario, seed: u64) -> RunResult {
    run_seed_with(scenario, seed, RunOptions::default())
}

/// [`run_seed`] with options.
pub fn run_seed_with(scenario: &LoadedScenario, seed: u64, options: RunOptions) -> RunResult {
    let scenario = scenario.clone();
    // The one place the harness starts an OS thread: outside any simulation, to give each runtime a fresh one.
    #[allow(clippy::disallowed_methods)]
    let thread = std::thread::Builder::new()
        .name(format!("seed-{seed}"))
        .spawn(move || {
            let mut run = run_here(&scenario, seed, options);
            if options.coverage {
                run.coverage = Some(crate::explore::features::coverage(&run.trace, &run.marks));
            }
            if options.outcome_only {
                run.trace = Vec::new();
            }
            run
        })
        .expect("spawning a thread for a seed");
    thread.join().expect("run_seed_here catches every panic of the simulation")
}

thread_local! {
    /// The last panic's message and location on this thread, captured by the hook instead of printed.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static CAPTURING: RefCell<bool> = const { RefCell::new(false) };
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CAPTURING.with(|c| *c.borrow()) {
                let message = panic_message(info.payload());
                let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{message}{location}")));
            } else if QUIET_EVERYWHERE.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                let mut first = QUIET_PANIC.lock().unwrap_or_else(|p| p.into_inner());
                if first.is_none() {
                    *first = Some(panic_message(info.payload()));
                }
            } else {
                default(info);
            }
        }));
    });
}

pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Runs `f`, catching a panic on this thread or on threads it starts (madsim's determinism check runs each
/// simulation on a thread of its own) without printing it; returns the panic's message instead.
pub fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_panic_hook();
    QUIET_EVERYWHERE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET_EVERYWHERE.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    result.map_err(|payload| {
        QUIET_PANIC.lock().expect("quiet panic lock").take().unwrap_or_else(|| panic_message(&*payload))
    })
}

/// Set while [`quietly`] runs: panics on any thread are captured, not printed; the first one's message is kept.
static QUIET_EVERYWHERE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static QUIET_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Runs one seed on the current thread. Use [`run_seed`] unless this thread is fresh.
pub fn run_seed_here(scenario: &LoadedScenario, seed: u64) -> RunResult {
    run_here(scenario, seed, RunOptions::default())
}

thread_local! {
    /// Set once a seed ran on this thread: a thread never runs a second one.
    static RAN_A_SEED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Watches madsim's warning that std's hash random state could not be seeded on this thread (something created
/// a `HashMap` on it before the runtime): iteration order would then differ from run to run.
struct StdRandomStateWatch(Arc<std::sync::atomic::AtomicBool>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StdRandomStateWatch {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                use std::fmt::Write;
                let _ = write!(self.0, "{value:?}");
            }
        }
        if *event.metadata().level() == tracing::Level::WARN {
            let mut message = Message(String::new());
            event.record(&mut message);
            if message.0.contains("std random state") {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }
}

/// Makes the seed's runtime, failing the run (not just logging) if std's random state could not be seeded.
fn runtime_for(seed: u64) -> (Runtime, bool) {
    use tracing_subscriber::layer::SubscriberExt;
    let unseeded = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = tracing_subscriber::registry().with(StdRandomStateWatch(unseeded.clone()));
    let runtime =
        tracing::subscriber::with_default(watch, || Runtime::with_seed_and_config(seed, madsim::Config::default()));
    (runtime, unseeded.load(std::sync::atomic::Ordering::SeqCst))
}

/// The scenario a seed runs: a `[swarm]` table's ranges resolved for it (see `scenario::swarm`). Every way of
/// running a seed starts here, so that they all run the same resolved scenario.
pub fn resolved(scenario: &LoadedScenario, seed: u64) -> std::borrow::Cow<'_, LoadedScenario> {
    if scenario.scenario.swarm.is_none() {
        return std::borrow::Cow::Borrowed(scenario);
    }
    std::borrow::Cow::Owned(LoadedScenario {
        scenario: crate::scenario::swarm::resolve(&scenario.scenario, seed),
        ..scenario.clone()
    })
}

fn run_here(scenario: &LoadedScenario, seed: u64, options: RunOptions) -> RunResult {
    install_panic_hook();
    // From here on, the run knows only the resolved scenario (and, for the report, what its ranges resolved to).
    let resolved = resolved(scenario, seed);
    let knobs = crate::scenario::swarm::values(&scenario.scenario, &resolved.scenario);
    let scenario = &*resolved;
    // std seeds its hasher once per thread: a second seed on this thread would not replay. Every caller hands each
    // seed a fresh thread; this holds them to it.
    assert!(!RAN_A_SEED.with(|r| r.replace(true)), "a thread ran a second seed; every seed needs a fresh thread");
    // Host time is measured only to report speed; it never reaches the simulation.
    #[allow(clippy::disallowed_methods)]
    let wall_start = std::time::Instant::now();
    let recorder = Arc::new(Recorder::new(options.mute_system_events));
    let s = &scenario.scenario;
    let (mut runtime, unseeded) = runtime_for(seed);
    runtime.set_time_limit(time_limit(s));
    CAPTURING.with(|c| *c.borrow_mut() = true);
    let plan = fault_plan(s, seed, &scenario.branches);
    let streams = crate::branch::Streams::new(seed, &scenario.branches);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(phases::simulate(s.clone(), recorder.clone(), plan.clone(), options, streams))
    }))
    .map_err(|payload| LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| panic_message(&*payload)));
    CAPTURING.with(|c| *c.borrow_mut() = false);
    drop(runtime);
    let mut run = finish(scenario, seed, plan, &recorder, result, wall_start);
    run.outcome.stats.knobs = knobs;
    if unseeded {
        run.outcome.violations.push(Violation::new(
            ViolationKind::Nondeterminism,
            "std's hash random state could not be seeded on this seed's thread (a HashMap was made on it before the \
             runtime): hash iteration order differs from run to run, so this run cannot be replayed",
        ));
        run.outcome.verdict = Verdict::Fail;
        run.outcome.fingerprint = Some("crash:nondeterminism".to_string());
    }
    run
}

/// The simulated time a run may take before it is declared stuck: every phase's own bound, and a margin.
pub fn time_limit(s: &Scenario) -> Duration {
    phases::SETUP_BUDGET + s.run.safety.0 + s.run.convergence_budget.0 + TIME_LIMIT_MARGIN
}

/// Turns what a run left behind (its recorder, and its observation or the panic that ended it) into its result:
/// the oracle's verdict, or a crash violation, with statistics and the trace hash.
pub fn finish(
    scenario: &LoadedScenario,
    seed: u64,
    plan: Vec<FaultSpec>,
    recorder: &Arc<Recorder>,
    result: Result<super::Observation, String>,
    wall_start: std::time::Instant,
) -> RunResult {
    let leaked_references = Arc::strong_count(recorder) - 1;
    let (outcome, trace) = super::verdict::judge(scenario, seed, plan, recorder, result, wall_start);
    RunResult { outcome, trace, leaked_references, coverage: None, marks: recorder.mark_hits() }
}

pub use super::verdict::{classify_crash, crash_kind, MADSIM_DEADLOCK, MADSIM_TIME_LIMIT};

/// The fault plan of a run: the scenario's script and what the generator draws from the seed, in time order.
/// Each branch keeps the generated faults that start before it and draws the rest from its own fault stream.
pub fn fault_plan(scenario: &Scenario, seed: u64, branches: &[crate::branch::Branch]) -> Vec<FaultSpec> {
    let cluster = scenario.cluster_shape();
    let mut generated = generate::generate(&scenario.faults, &cluster, &mut rng::stream(seed, "faults", 0));
    let mut path = branches.to_vec();
    path.sort_by_key(|b| b.at);
    for i in 0..path.len() {
        let from = path[i].at.0;
        generated.retain(|spec| spec.at.0 < from);
        let mut selection = rng::stream(seed, "faults", 0);
        let mut child = crate::branch::Streams::faults_of(seed, &path[..=i]);
        generated.extend(generate::generate_from(&scenario.faults, &cluster, &mut selection, &mut child, from));
    }
    let mut plan = scenario.faults.script.clone();
    plan.extend(generated);
    plan.sort_by_key(|spec| spec.at);
    plan
}
