//! The live mode: a scenario's cluster as real processes on the loopback interface, with a real clock, real
//! disks and real TCP, driven by the same load clients, readers and operator as a simulated run and judged by
//! the same oracle.
//!
//! A live run is not reproducible: the OS schedules the processes, the network and the disk take the time they
//! take. What it shows is that the code the simulation found correct behaves as a real cluster when its processes
//! are killed, paused and restarted from outside, and what the simulation's models of the network and the disk
//! left out. It executes the faults a real cluster can have from outside:
//! - `crash`: SIGKILL, then a restart after the duration. The store and the queue run with a write buffer
//!   (`node --write-buffer`), so a kill loses what they had not synced, as a power cut would; with
//!   `--page-cache` they append through the OS instead, and a kill loses nothing the OS was given.
//! - `pause`: SIGSTOP, then SIGCONT after the duration.
//! - `isolate`, `split`, `cut`, `loss` and fixed `latency`: through the transport seam, which the OS cannot do
//!   between processes without root. Every node, client, reader and the checker shapes its messages by one
//!   rules file (`system::real::links`) that the run rewrites as faults start and heal; each process has its own
//!   loopback address (127.0.1.x the nodes, 127.0.2.x the clients, 127.0.3.x the readers, 127.0.4.1 the checker).
//!
//! Every other fault kind (clock faults, disk faults inside a write, duplicated messages, long-tailed latency)
//! needs the simulation; a live run lists the ones it left out. Built only without `--cfg madsim`, as the `sim-live` binary, which `cargo sim
//! live` builds and runs.
//!
//! Not judged live: the bound on messages (nothing counts the real network's messages). Every other invariant is
//! judged as in a simulated run, from the same evidence: what the clients were told, what the readers saw, and
//! the final reading.

pub mod procs;

use crate::faults::{Fault, FaultSpec};
use crate::load::{Client, LoadControl, LoadState};
use crate::model::DeployRecord;
use crate::outcome::{Outcome, Verdict, Violation, ViolationKind};
use crate::readers::{Follows, ReadLog, Reader};
use crate::scenario::{Dur, Scenario};
use crate::trace::{HarnessEvent, Recorder};
use crate::world::operator::{operator, Deployer, Operator};
use crate::world::reading::{call_outside, Checker, FinalState};
use crate::world::{LoadCounters, Observation};
use madsim::time::Instant;
use procs::{Procs, StopOnDrop};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use system::config::SystemConfig;
use system::model::Name;
use system::net::{Endpoint, LinkShaper, NoShaping, Rpc};
use system::node::{NodeContext, Topology};
use system::proto::{GetQueueStats, GetStoreStats};
use system::real::links::{FileLinks, Rule};

/// The exit codes, as the `sim` command's (see `sim --help`).
pub const EXIT_PASS: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_INCOMPLETE: u8 = 3;
pub const EXIT_OUTPUT_LOST: u8 = 4;

/// How often the liveness phase looks at the clients and the readings.
const QUIESCENCE_POLL: Duration = Duration::from_millis(200);
/// Two readings this far apart, equal, with the system saying it has nothing left, end the liveness phase.
const STABLE_FOR: Duration = Duration::from_secs(1);
const CHECKER_CALL_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest the setup deploys may take.
const SETUP_BUDGET: Duration = Duration::from_secs(60);

/// Run a scenario's cluster as local processes over the real network and judge it with the same oracle.
#[derive(clap::Parser, Debug)]
#[command(name = "sim-live", version)]
pub struct LiveArgs {
    /// A scenario name under scenarios/ (e.g. `baseline`) or a path.
    #[arg(long)]
    pub scenario: String,
    /// The seed of the load clients' and readers' streams (what they send and read; the OS decides the rest).
    /// Default: drawn from the clock, and printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Kill a node with SIGKILL and restart it after a while: `NODE@AT+FOR`, e.g. `store@2s+500ms` (repeatable;
    /// AT from the start of the load).
    #[arg(long = "crash", value_name = "NODE@AT+FOR")]
    pub crash: Vec<String>,
    /// Stop a node with SIGSTOP and resume it with SIGCONT: `NODE@AT+FOR`, e.g. `worker-1@3s+1s` (repeatable).
    #[arg(long = "pause", value_name = "NODE@AT+FOR")]
    pub pause: Vec<String>,
    /// Cut a node off from every other process, both ways, through the transport seam: `NODE@AT+FOR`
    /// (repeatable).
    #[arg(long = "isolate", value_name = "NODE@AT+FOR")]
    pub isolate: Vec<String>,
    /// The load phase's length, instead of the scenario's `run.safety`.
    #[arg(long)]
    pub safety: Option<humantime::Duration>,
    /// Leave out the scenario's own scripted faults (only `--crash` and `--pause` run).
    #[arg(long)]
    pub no_script: bool,
    /// The store and the queue append through the OS's page cache (a kill then loses nothing the OS was given),
    /// instead of a write buffer that a kill loses as a power cut loses the page cache.
    #[arg(long)]
    pub page_cache: bool,
    /// The longest the whole run may take, wall time; it then stops every process and exits with code 3.
    #[arg(long, default_value = "5m")]
    pub time_budget: humantime::Duration,
    /// Print the outcome as JSON (as `sim run --json` does) instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Where the run keeps its nodes' logs and data folders and its report (`report.json`). Default:
    /// `target/live/runs/<scenario>-<time>`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The node binary (default: `node` beside this binary).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
}

/// A fault as a live run executes it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Executed {
    pub spec: FaultSpec,
    /// Wall time from the start of the load at which it began and healed, as it happened.
    pub started_ms: u64,
    pub healed_ms: Option<u64>,
    /// Why it did not run as planned, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a live run leaves in its folder beside the nodes' logs.
#[derive(serde::Serialize)]
struct Report<'a> {
    reproducible: bool,
    note: &'static str,
    outcome: &'a Outcome,
    executed: &'a [Executed],
    left_out: &'a [String],
    not_judged: &'a [&'static str],
    logs: BTreeMap<String, PathBuf>,
}

const NOT_REPRODUCIBLE: &str = "a live run is not reproducible: real processes, clock, network and disk. The seed \
    fixes what the clients send; the OS decides the rest.";

fn bad_input(message: impl std::fmt::Display) -> u8 {
    crate::errln!("error: {message}");
    EXIT_BAD_INPUT
}

/// Parses `NODE@AT+FOR`.
fn parse_fault(flag: &str, value: &str, nodes: &[String]) -> Result<(String, Duration, Duration), String> {
    let usage = format!("--{flag} {value}: write it NODE@AT+FOR, e.g. store@2s+500ms");
    let (node, times) = value.split_once('@').ok_or_else(|| usage.clone())?;
    let (at, length) = times.split_once('+').ok_or_else(|| usage.clone())?;
    if !nodes.iter().any(|n| n == node) {
        return Err(format!("--{flag} {value}: no node named `{node}`; the nodes are {}", nodes.join(", ")));
    }
    let at = humantime::parse_duration(at).map_err(|e| format!("--{flag} {value}: AT `{at}`: {e}"))?;
    let length = humantime::parse_duration(length).map_err(|e| format!("--{flag} {value}: FOR `{length}`: {e}"))?;
    if length.is_zero() {
        return Err(format!("--{flag} {value}: FOR must be longer than zero"));
    }
    Ok((node.to_string(), at, length))
}

/// The node names of a scenario's cluster, as in a simulated run.
fn node_names(s: &Scenario) -> Vec<String> {
    let mut names = vec!["store".to_string(), "queue".to_string()];
    names.extend((1..=s.topology.ingest_nodes.get()).map(|i| format!("ingest-{i}")));
    names.extend((1..=s.topology.workers.get()).map(|i| format!("worker-{i}")));
    names
}

/// The live plan: the scenario's scripted crashes and pauses (unless `--no-script`) and the command line's, in
/// time order; and what it left out, with why.
fn plan(args: &LiveArgs, s: &Scenario, nodes: &[String]) -> Result<(Vec<FaultSpec>, Vec<String>), String> {
    let mut plan = Vec::new();
    let mut left_out = Vec::new();
    if !args.no_script {
        for spec in &s.faults.script {
            if rules(&spec.fault, &BTreeMap::new()).is_some()
                || matches!(&spec.fault, Fault::Crash { target, .. } | Fault::Pause { target, .. } if nodes.contains(target))
            {
                plan.push(spec.clone());
            } else {
                left_out.push(format!("at {}: {spec} (needs the simulation)", spec.at));
            }
        }
    }
    if !s.faults.generate.is_empty() {
        left_out.push(format!(
            "the generated faults ({}): a live run executes only the scenario's script and the command line's faults",
            s.faults.generate.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    for (flag, values) in [("crash", &args.crash), ("pause", &args.pause), ("isolate", &args.isolate)] {
        for value in values {
            let (target, at, length) = parse_fault(flag, value, nodes)?;
            let duration = Dur(length);
            let fault = match flag {
                "crash" => Fault::Crash { duration, target },
                "pause" => Fault::Pause { duration, target },
                _ => Fault::Isolate { duration, target },
            };
            plan.push(FaultSpec { at: Dur(at), fault });
        }
    }
    let safety = s.run.safety.0;
    let (kept, late): (Vec<FaultSpec>, Vec<FaultSpec>) = plan.into_iter().partition(|spec| spec.at.0 < safety);
    left_out.extend(late.iter().map(|spec| format!("at {}: {spec} (after the load phase ends)", spec.at)));
    let mut kept = kept;
    kept.sort_by_key(|spec| spec.at);
    Ok((kept, left_out))
}

/// The link rules a network fault stands for, or `None` for a fault the rules file cannot express. `ips` maps
/// node names to addresses (an empty map checks only whether the fault can be expressed: every name is then a
/// wildcard).
fn rules(fault: &Fault, ips: &BTreeMap<String, std::net::IpAddr>) -> Option<Vec<Rule>> {
    use system::real::links::Action;
    // A name the map does not know would read as a wildcard and cut everything: such a fault is not expressed.
    let names: Vec<&String> = match fault {
        Fault::Isolate { target, .. } | Fault::Loss { target, .. } => vec![target],
        Fault::Cut { from, to, .. } => vec![from, to],
        Fault::Split { group, .. } => group.iter().collect(),
        Fault::Latency { target, from, to, .. } => target.iter().chain(from).chain(to).collect(),
        _ => Vec::new(),
    };
    if !ips.is_empty() && names.iter().any(|n| *n != "network" && !ips.contains_key(*n)) {
        return None;
    }
    let ip = |name: &str| ips.get(name).copied();
    let both = |name: &str, action: Action| {
        if name == "network" {
            return vec![Rule { from: None, to: None, action }];
        }
        vec![Rule { from: ip(name), to: None, action: action.clone() }, Rule { from: None, to: ip(name), action }]
    };
    Some(match fault {
        Fault::Isolate { target, .. } => both(target, Action::Drop(100)),
        Fault::Loss { target, loss_percent, .. } => both(target, Action::Drop(loss_percent.get())),
        Fault::Cut { from, to, .. } => vec![Rule { from: ip(from), to: ip(to), action: Action::Drop(100) }],
        Fault::Split { group, .. } => {
            let rest: Vec<&String> = ips.keys().filter(|n| !group.contains(n)).collect();
            let mut rules = Vec::new();
            for g in group {
                for r in &rest {
                    rules.push(Rule { from: ip(g), to: ip(r), action: Action::Drop(100) });
                    rules.push(Rule { from: ip(r), to: ip(g), action: Action::Drop(100) });
                }
            }
            rules
        }
        Fault::Latency { target, from, to, latency, tail, .. } if tail.is_fixed() => match (target, from, to) {
            (Some(target), _, _) => both(target, Action::Delay(latency.0)),
            (None, Some(from), Some(to)) => vec![Rule { from: ip(from), to: ip(to), action: Action::Delay(latency.0) }],
            _ => return None,
        },
        _ => return None,
    })
}

/// Loopback ports free now, one per node. (Another process could take one before the node binds it; the node
/// then fails to start, and the run says so.)
fn free_addrs(count: usize) -> std::io::Result<Vec<SocketAddr>> {
    let listeners: Vec<std::net::TcpListener> =
        (0..count).map(|i| std::net::TcpListener::bind(loopback(NET_NODES, i, 0))).collect::<Result<_, _>>()?;
    listeners.iter().map(|l| l.local_addr()).collect()
}

/// The loopback subnets (127.0.NET.x) of the nodes, the clients, the readers and the checker: Linux routes all of
/// 127/8 to the loopback interface, so each process can have an address of its own for the link rules.
const NET_NODES: u8 = 1;
const NET_CLIENTS: u8 = 2;
const NET_READERS: u8 = 3;
const NET_CHECKER: u8 = 4;

fn loopback(net: u8, host: usize, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, net, (host % 250) as u8 + 1), port))
}

/// The command-line arguments that give a node the scenario's configuration.
fn config_args(c: &SystemConfig) -> Vec<String> {
    let mut args = vec![
        format!("--lease-ms={}", c.lease.as_millis()),
        format!("--env-pending-max={}", c.env_pending_max),
        format!("--queue-pending-max={}", c.queue_pending_max),
        format!("--fresh-per-bulk={}", c.fresh_per_bulk),
        format!("--rpc-timeout-ms={}", c.rpc_timeout.as_millis()),
        format!("--render-time-min-ms={}", c.render_time_min.as_millis()),
        format!("--render-time-max-ms={}", c.render_time_max.as_millis()),
        format!("--log-compact-bytes={}", c.log_compact_bytes),
        format!("--worker-slots={}", c.worker_slots),
    ];
    args.extend(c.flaws.iter().map(|f| format!("--flaw={f}")));
    args
}

/// Runs `sim-live` with `args`, returning its exit code.
pub fn run(args: LiveArgs) -> u8 {
    let mut loaded = match crate::catalog::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    if let Some(safety) = args.safety {
        if safety.is_zero() {
            return bad_input("--safety must be longer than zero");
        }
        loaded.scenario.run.safety = Dur(*safety);
    }
    let s = loaded.scenario.clone();
    let names = node_names(&s);
    let (plan, left_out) = match plan(&args, &s, &names) {
        Ok(plan) => plan,
        Err(e) => return bad_input(e),
    };
    let node_bin = match &args.node_bin {
        Some(path) => path.clone(),
        None => match std::env::current_exe() {
            Ok(exe) => exe.with_file_name("node"),
            Err(e) => return bad_input(format!("cannot find this binary's folder: {e}; give --node-bin")),
        },
    };
    if !node_bin.is_file() {
        return bad_input(format!(
            "{} is not a file: build the node binary (cargo sim live does), or give --node-bin",
            node_bin.display()
        ));
    }
    // The real clock: a live run is not simulated, and it says so.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seed = args.seed.unwrap_or(now.as_nanos() as u64 & 0xffff_ffff);
    let out = args.out.clone().unwrap_or_else(|| {
        let base = Path::new(&loaded.name).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        PathBuf::from("target/live/runs").join(format!("{base}-{}", now.as_secs()))
    });
    for dir in [out.join("logs"), out.join("data")] {
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return bad_input(format!("--out {}: cannot create {}: {e}", out.display(), dir.display()));
        }
    }
    crate::errln!("live: scenario {} · seed {seed} · nodes and logs in {}", loaded.name, out.display());
    crate::errln!("live: {NOT_REPRODUCIBLE}");
    for line in &left_out {
        crate::errln!("live: left out: {line}");
    }

    let addrs = match free_addrs(names.len()) {
        Ok(addrs) => addrs,
        Err(e) => return bad_input(format!("cannot find free ports on 127.0.{NET_NODES}.x: {e}")),
    };
    let addrs: BTreeMap<String, SocketAddr> = names.iter().cloned().zip(addrs).collect();
    let links_file = out.join("links");
    // No rules until a fault starts (a file left by an earlier run in the same folder would apply).
    if let Err(e) = std::fs::write(&links_file, "") {
        return bad_input(format!("cannot write {}: {e}", links_file.display()));
    }
    let ingest: Vec<SocketAddr> = names.iter().filter(|n| n.starts_with("ingest-")).map(|n| addrs[n]).collect();
    let topology = Topology { store: addrs["store"], queue: addrs["queue"], ingest: ingest.clone() };
    let config = crate::world::system_config(&s);
    let procs = Procs::new(&node_bin);
    for name in &names {
        let role = name.split('-').next().unwrap_or_default();
        let mut node_args: Vec<OsString> = vec![
            format!("--role={role}").into(),
            format!("--name={name}").into(),
            format!("--listen={}", addrs[name]).into(),
            format!("--store={}", topology.store).into(),
            format!("--queue={}", topology.queue).into(),
        ];
        node_args.extend(ingest.iter().map(|a| OsString::from(format!("--ingest={a}"))));
        node_args.extend(config_args(&config).into_iter().map(OsString::from));
        let mut links = OsString::from("--links=");
        links.push(&links_file);
        node_args.push(links);
        // Every node names its folder (only the store and the queue use it): what tells this run's processes apart.
        let mut data = OsString::from("--data=");
        data.push(out.join("data").join(name));
        node_args.push(data);
        if role == "store" || role == "queue" {
            if !args.page_cache {
                node_args.push("--write-buffer".into());
            }
        }
        procs.add(name, node_args, addrs[name], out.join("logs").join(format!("{name}.log")));
    }
    let guard = StopOnDrop(procs.clone());
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let (procs, interrupted) = (procs.clone(), interrupted.clone());
        // Ctrl-C (and SIGTERM): every node is killed from the signal's thread at once; the run then ends as
        // incomplete. A second handler cannot be set in one process: a failure here only loses that safety net.
        let _ = ctrlc::set_handler(move || {
            interrupted.store(true, Ordering::SeqCst);
            procs.kill_all();
        });
    }
    for name in &names {
        if let Err(e) = procs.start(name) {
            crate::errln!("error: {e}");
            return EXIT_INCOMPLETE;
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            crate::errln!("error: cannot start the runtime: {e}");
            return EXIT_INCOMPLETE;
        }
    };
    let wall_start = std::time::Instant::now();
    let recorder = Arc::new(Recorder::new(false));
    let live = Arc::new(Live {
        scenario: Arc::new(s.clone()),
        seed,
        topology: Arc::new(topology),
        config: Arc::new(config),
        recorder: recorder.clone(),
        procs: procs.clone(),
        executed: Arc::default(),
        interrupted: interrupted.clone(),
        ips: addrs.iter().map(|(name, addr)| (name.clone(), addr.ip())).collect(),
        links_file: links_file.clone(),
        active_rules: Arc::default(),
    });
    let executed = live.executed.clone();
    let budget = *args.time_budget;
    let flag = interrupted.clone();
    let observation = runtime.block_on(async move {
        // Ctrl-C ends the run at once: its nodes are already gone, and nothing is judged.
        let stopped = async {
            while !flag.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            observation = tokio::time::timeout(budget, live.run(plan.clone())) => observation.ok(),
            () = stopped => None,
        }
    });
    drop(guard);
    runtime.shutdown_timeout(Duration::from_secs(1));
    let executed = std::mem::take(&mut *executed.lock().unwrap_or_else(|p| p.into_inner()));
    if interrupted.load(Ordering::SeqCst) {
        crate::errln!("live: interrupted: every node was stopped; nothing was judged");
        return EXIT_INCOMPLETE;
    }
    let Some(observation) = observation else {
        crate::errln!(
            "live: the time budget ({}) ran out before the run ended; every node was stopped",
            args.time_budget
        );
        return EXIT_INCOMPLETE;
    };
    let executed_plan: Vec<FaultSpec> = executed.iter().map(|e| e.spec.clone()).collect();
    let (mut outcome, _trace) =
        crate::world::verdict::judge(&loaded, seed, executed_plan, &recorder, Ok(observation), wall_start);
    for e in executed.iter().filter(|e| e.error.is_some()) {
        outcome.violations.push(Violation::new(
            ViolationKind::HarnessError,
            format!("live fault {} did not run: {}", e.spec, e.error.as_deref().unwrap_or_default()),
        ));
        outcome.verdict = Verdict::Fail;
    }
    outcome.trace_hash = "live".into();
    let not_judged = ["bounded messages (nothing counts the real network's messages)"];
    let report = Report {
        reproducible: false,
        note: NOT_REPRODUCIBLE,
        outcome: &outcome,
        executed: &executed,
        left_out: &left_out,
        not_judged: &not_judged,
        logs: procs.logs(),
    };
    let report_path = out.join("report.json");
    let written = serde_json::to_string_pretty(&report)
        .map_err(std::io::Error::other)
        .and_then(|json| crate::report::files::write_atomically(&report_path, &json));
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&outcome).expect("outcomes serialize"));
    } else {
        crate::out!("{}", summary(&outcome, &executed, &left_out, &not_judged, &out));
    }
    if let Err(e) = written {
        crate::errln!("error: could not write {}: {e}", report_path.display());
        return EXIT_OUTPUT_LOST;
    }
    if outcome.violations.iter().any(|v| v.kind == ViolationKind::HarnessError) {
        crate::errln!("error: the live run itself broke down (not a verdict on the system)");
        return 5;
    }
    if outcome.passed() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

fn summary(outcome: &Outcome, executed: &[Executed], left_out: &[String], not_judged: &[&str], out: &Path) -> String {
    use std::fmt::Write;
    let st = &outcome.stats;
    let mut text = String::new();
    let verdict = if outcome.passed() { "PASS" } else { "FAIL" };
    let _ = writeln!(text, "live · scenario {} · seed {} · {verdict}", outcome.scenario, outcome.seed);
    let _ = writeln!(
        text,
        "  load:   {} environments · {} ingests sent, {} acknowledged ({} retries, {} busy answers, {} abandoned by their senders, {} unanswered at the end) · {} deploys",
        st.environments, st.ingests_sent, st.ingests_acked, st.ingest_retries, st.ingests_busy, st.ingests_abandoned, st.ingests_given_up, st.deploys
    );
    let _ = writeln!(
        text,
        "  reads:  {} reads · an acknowledged write became visible to its reader in {}ms (median), {}ms at most",
        st.reads, st.freshness_p50_ms, st.freshness_max_ms
    );
    let _ = writeln!(text, "  run:    {:.1}s wall · {} RPCs of the clients", st.wall_ms as f64 / 1e3, st.rpcs_sent);
    let _ = writeln!(text, "  faults: {} executed", executed.len());
    for e in executed {
        let healed = e.healed_ms.map(|ms| format!("healed at {ms}ms")).unwrap_or_else(|| "never healed".into());
        let error = e.error.as_deref().map(|e| format!(" · error: {e}")).unwrap_or_default();
        let _ = writeln!(
            text,
            "    at {:>9}  {} (began at {}ms, {healed}){error}",
            e.spec.at.to_string(),
            e.spec,
            e.started_ms
        );
    }
    for line in left_out {
        let _ = writeln!(text, "    left out: {line}");
    }
    for line in not_judged {
        let _ = writeln!(text, "  not judged live: {line}");
    }
    if !outcome.violations.is_empty() {
        let _ = writeln!(text, "  violations ({}):", outcome.violations.len());
        for v in &outcome.violations {
            let _ = writeln!(text, "    [{}] {v}", v.kind.class());
        }
    }
    let _ = writeln!(text, "  logs:   {}/logs · report: {}/report.json", out.display(), out.display());
    let _ = writeln!(text, "  note:   {NOT_REPRODUCIBLE}");
    text
}

/// One live run's shared state.
struct Live {
    scenario: Arc<Scenario>,
    seed: u64,
    topology: Arc<Topology>,
    config: Arc<SystemConfig>,
    recorder: Arc<Recorder>,
    procs: Procs,
    executed: Arc<Mutex<Vec<Executed>>>,
    interrupted: Arc<AtomicBool>,
    /// Every node's loopback address, for the link rules.
    ips: BTreeMap<String, std::net::IpAddr>,
    /// The rules file every process shapes its messages by, and the rules of each network fault active now.
    links_file: PathBuf,
    active_rules: Arc<Mutex<BTreeMap<usize, Vec<Rule>>>>,
}

impl Live {
    fn context(&self, name: &str, ep_addr: SocketAddr, links: &Arc<dyn LinkShaper>) -> NodeContext {
        NodeContext {
            name: name.to_string(),
            addr: ep_addr,
            clock: Arc::new(system::real::HostClock),
            events: self.recorder.sink(name),
            links: links.clone(),
            config: self.config.clone(),
            topology: self.topology.clone(),
            points: Arc::new(system::points::NeverFire),
        }
    }

    /// Setup, safety, heal, liveness and the final reading, as a simulated run's phases.
    async fn run(self: Arc<Self>, plan: Vec<FaultSpec>) -> Observation {
        let s = self.scenario.clone();
        self.recorder.start_clock();
        let run_start = Instant::now();
        // The harness's own actors meet the network's faults as the nodes do.
        let links: Arc<dyn LinkShaper> = Arc::new(FileLinks::new(&self.links_file));
        let streams = crate::branch::Streams::new(self.seed, &[]);
        let bind = |net: u8, host: usize| Endpoint::bind(loopback(net, host, 0));
        let (schemas_ep, content_ep) = match (bind(NET_CHECKER, 0).await, bind(NET_CHECKER, 0).await) {
            (Ok(a), Ok(b)) => (a, b),
            _ => panic!("cannot bind a loopback endpoint for the checker"),
        };
        let checker = Checker {
            schemas: schemas_ep,
            content: content_ep.clone(),
            links: links.clone(),
            store: self.topology.store,
        };
        let harness: Arc<str> = "harness".into();
        let checker_node: Arc<str> = "checker".into();
        let deploys_running = Arc::new(AtomicU64::new(0));
        let deploy_log: Arc<Mutex<Vec<DeployRecord>>> = Arc::default();
        let deploy_deadline = Arc::new(Mutex::new(run_start + SETUP_BUDGET));
        let deployer: Deployer = operator(Operator {
            ingest: self.topology.ingest.clone(),
            recorder: self.recorder.clone(),
            node: checker_node.clone(),
            links: links.clone(),
            scenario: s.clone(),
            ep: content_ep.clone(),
            running: deploys_running.clone(),
            log: deploy_log.clone(),
            deadline: deploy_deadline.clone(),
            run_start,
            spawn: Arc::new(|task| {
                tokio::spawn(task);
            }),
        });

        // Setup: every schema in every environment.
        self.recorder.harness(&harness, HarnessEvent::PhaseStarted { phase: "setup" });
        for env in s.env_names() {
            for schema in &s.schemas {
                deployer(env.clone(), schema.name.clone(), Some(schema.fields.clone()));
            }
        }
        while deploys_running.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // Safety: clients, readers, scheduled deploys and the live plan.
        self.recorder.harness(&harness, HarnessEvent::PhaseStarted { phase: "safety" });
        let load_start = Instant::now();
        streams.clock.start(load_start);
        let load_end = load_start + s.run.safety.0;
        let give_up_at = load_end + s.run.convergence_budget.0;
        *deploy_deadline.lock().expect("deploy deadline lock") = give_up_at;
        let load = Arc::new(LoadState::default());
        let reads = Arc::new(ReadLog::default());
        let control = Arc::new(LoadControl::default());
        for (i, env) in s.env_names().iter().enumerate() {
            let follows = Arc::new(Follows::default());
            if s.readers.enabled {
                let Ok(ep) = bind(NET_READERS, i).await else { panic!("cannot bind a loopback endpoint for a reader") };
                let reader = Reader {
                    env: env.into(),
                    node: format!("reader-{env}").as_str().into(),
                    ep,
                    links: links.clone(),
                    store: self.topology.store,
                    entities: s.entity_ids_of(env).iter().map(Name::from).collect(),
                    hot_entities: s.load.hot_entities.get() as usize,
                    hot_percent: s.load.hot_percent.get(),
                    schemas: s.schemas.len(),
                    interval: s.readers.interval.0,
                    rng: streams.stream_named("reader", env),
                    follows: follows.clone(),
                    log: reads.clone(),
                    recorder: self.recorder.clone(),
                    run_start,
                };
                tokio::spawn(reader.run());
            }
            let name = format!("client-{env}");
            let Ok(ep) = bind(NET_CLIENTS, i).await else { panic!("cannot bind a loopback endpoint for a client") };
            let ctx = self.context(&name, ep.local_addr().expect("a bound endpoint has an address"), &links);
            let content_env = s.environments.mirrors.get(env).cloned().unwrap_or_else(|| env.to_string());
            load.generators_running.fetch_add(1, Ordering::SeqCst);
            let client = Client {
                env_index: i,
                env: env.as_str().into(),
                rng: streams.stream_named("load", &content_env),
                content_env,
                node: name.as_str().into(),
                rpc: Rpc::new(ep, ctx),
                control: control.clone(),
                ingest: self.topology.ingest.clone(),
                recorder: self.recorder.clone(),
                state: load.clone(),
                follows,
                run_start,
                load_end,
                give_up_at,
            };
            let scenario = s.clone();
            tokio::spawn(async move { client.run(&scenario).await });
        }
        for d in &s.load.deploys {
            let (deployer, env, schema, fields, at) =
                (deployer.clone(), d.environment.clone(), d.schema.clone(), d.fields.clone(), d.at.0);
            deploys_running.fetch_add(1, Ordering::SeqCst);
            let running = deploys_running.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(load_start + at).await;
                deployer(env, schema, fields);
                running.fetch_sub(1, Ordering::SeqCst);
            });
        }
        let faults: Vec<_> =
            plan.iter().map(|spec| tokio::spawn(self.clone().execute(spec.clone(), load_start))).collect();
        tokio::time::sleep_until(load_end).await;
        for fault in faults {
            let _ = fault.await;
        }

        // Heal: every paused node resumed, every node that is down started again.
        self.recorder.harness(&harness, HarnessEvent::HealAll);
        self.active_rules.lock().expect("rules lock").clear();
        self.write_rules();
        for name in self.procs.paused() {
            let _ = self.procs.resume(&name);
        }
        for name in self.procs.down() {
            let procs = self.procs.clone();
            let started = tokio::task::spawn_blocking(move || procs.start(&name)).await;
            if let Ok(Err(e)) = started {
                crate::errln!("live: {e}");
            }
        }

        // Liveness: load stopped; done when the clients and deploys are, the system says it has nothing left,
        // and two full readings a second apart are equal. The system's word only decides when to read: a
        // system that claims to be done early is read early and judged on what it shows.
        self.recorder.harness(&harness, HarnessEvent::PhaseStarted { phase: "liveness" });
        let envs = s.env_names().to_vec();
        let mut quiescent = false;
        let mut last: Option<(Instant, Option<BTreeMap<Name, crate::world::EnvState>>)> = None;
        while Instant::now() < give_up_at && !self.interrupted.load(Ordering::SeqCst) {
            tokio::time::sleep(QUIESCENCE_POLL).await;
            let done =
                load.idle() && deploys_running.load(Ordering::SeqCst) == 0 && self.system_idle(&content_ep).await;
            if !done {
                last = None;
                continue;
            }
            let reading = checker.read(&envs).await;
            match &last {
                Some((at, before)) if reading.is_some() && *before == reading && at.elapsed() >= STABLE_FOR => {
                    self.recorder.harness(
                        &checker_node,
                        HarnessEvent::QuietJudged { quiet_ms: at.elapsed().as_millis() as u64 },
                    );
                    quiescent = true;
                    break;
                }
                Some((_, before)) if *before == reading => {}
                _ => last = Some((Instant::now(), reading)),
            }
        }

        // The final reading.
        reads.stop.store(true, Ordering::SeqCst);
        self.recorder.harness(&checker_node, HarnessEvent::FinalRead { quiescent });
        let final_envs = checker.read(&envs).await;
        let system_said = if quiescent { None } else { self.ask_system(&content_ep).await };
        let final_state = final_envs.map(|envs| FinalState {
            quiescent,
            system_said,
            requests_in_flight: load.in_flight.load(Ordering::SeqCst),
            envs,
        });
        let executed = self.executed.lock().expect("executed lock").clone();
        let fault_windows = executed
            .iter()
            .map(|e| crate::world::FaultWindow {
                spec: e.spec.clone(),
                until: Duration::from_millis(e.healed_ms.unwrap_or(e.started_ms)),
            })
            .collect();
        let specs: Vec<FaultSpec> = executed.iter().map(|e| e.spec.clone()).collect();
        let writes = std::mem::take(&mut *load.writes.lock().expect("writes lock"));
        let deploys = std::mem::take(&mut *deploy_log.lock().expect("deploy log lock"));
        let reads = std::mem::take(&mut *reads.reads.lock().expect("reads lock"));
        Observation {
            writes,
            deploys,
            reads,
            final_state,
            load: LoadCounters {
                sent: load.sent.load(Ordering::SeqCst),
                retries: load.retries.load(Ordering::SeqCst),
                busy: load.busy.load(Ordering::SeqCst),
                abandoned: load.abandoned.load(Ordering::SeqCst),
                given_up: load.given_up.load(Ordering::SeqCst),
            },
            net_messages: 0,
            observer_messages: 0,
            idle_poll_messages: 0,
            simulated: run_start.elapsed(),
            disruption: crate::faults::disruption(&specs),
            fault_windows,
            points_on: Vec::new(),
        }
    }

    /// One fault of the live plan, at its time: a kill and a restart, or a pause and a resume.
    async fn execute(self: Arc<Self>, spec: FaultSpec, load_start: Instant) {
        tokio::time::sleep_until(load_start + spec.at.0).await;
        let harness: Arc<str> = "faults".into();
        let network = rules(&spec.fault, &self.ips);
        let (target, length, crash) = match &spec.fault {
            Fault::Crash { target, duration } => (target.clone(), duration.0, true),
            Fault::Pause { target, duration } => (target.clone(), duration.0, false),
            _ if network.is_some() => (String::new(), spec.duration().unwrap_or_default(), false),
            _ => return,
        };
        let index = {
            let mut executed = self.executed.lock().expect("executed lock");
            executed.push(Executed {
                spec: spec.clone(),
                started_ms: load_start.elapsed().as_millis() as u64,
                healed_ms: None,
                error: None,
            });
            executed.len() - 1
        };
        self.recorder.harness(&harness, HarnessEvent::FaultStarted { spec: Box::new(spec.clone()) });
        if let Some(network) = network {
            self.active_rules.lock().expect("rules lock").insert(index, network);
            self.write_rules();
            tokio::time::sleep(length).await;
            self.active_rules.lock().expect("rules lock").remove(&index);
            self.write_rules();
            self.recorder.harness(&harness, HarnessEvent::FaultHealed { spec: Box::new(spec.clone()) });
            self.executed.lock().expect("executed lock")[index].healed_ms =
                Some(load_start.elapsed().as_millis() as u64);
            return;
        }
        let procs = self.procs.clone();
        let name = target.clone();
        let begun = tokio::task::spawn_blocking(move || if crash { procs.kill(&name) } else { procs.pause(&name) });
        let mut error = match begun.await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        tokio::time::sleep(length).await;
        let procs = self.procs.clone();
        let name = target.clone();
        let healed =
            tokio::task::spawn_blocking(move || if crash { procs.start(&name) } else { procs.resume(&name) }).await;
        match healed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error = error.or(Some(e.to_string())),
            Err(e) => error = error.or(Some(e.to_string())),
        }
        self.recorder.harness(&harness, HarnessEvent::FaultHealed { spec: Box::new(spec.clone()) });
        let mut executed = self.executed.lock().expect("executed lock");
        executed[index].healed_ms = Some(load_start.elapsed().as_millis() as u64);
        executed[index].error = error;
    }

    /// Writes the active faults' rules where every process reads them: whole, by a rename, so that no process
    /// reads half a file.
    fn write_rules(&self) {
        let text: String =
            self.active_rules.lock().expect("rules lock").values().flatten().map(|rule| format!("{rule}\n")).collect();
        if let Err(e) = crate::report::files::write_atomically(&self.links_file, &text) {
            crate::errln!("live: cannot write {}: {e}", self.links_file.display());
        }
    }

    /// Whether the queue says nothing is pending or leased and the store that its outbox is empty.
    async fn system_idle(&self, ep: &Endpoint) -> bool {
        self.ask_system(ep).await.is_some_and(|(stats, outbox)| stats.pending == 0 && stats.leased == 0 && outbox == 0)
    }

    async fn ask_system(&self, ep: &Endpoint) -> Option<(system::proto::QueueStats, usize)> {
        let (queue, store) = (self.topology.queue, self.topology.store);
        let stats = call_outside(ep, &NoShaping, queue, GetQueueStats, CHECKER_CALL_TIMEOUT).await?;
        let outbox = call_outside(ep, &NoShaping, store, GetStoreStats, CHECKER_CALL_TIMEOUT).await?.outbox;
        Some((stats, outbox))
    }
}
