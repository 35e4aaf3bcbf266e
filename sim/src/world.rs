//! Running one seed of one scenario: a fresh OS thread, a madsim runtime seeded with the seed, the system's
//! nodes, one load client per environment, the safety phase, then a liveness phase in which load has stopped
//! and the system must converge within the scenario's budget, then a final reading through the public API,
//! which the oracle checks together with the trace.

use crate::faults::clock::SimClock;
use crate::faults::disk::{Crashable, SimDisk};
use crate::faults::generate;
use crate::faults::inject::{Cluster, Deployer, Injector, NodeInfo};
use crate::faults::net::FaultNet;
use crate::faults::FaultSpec;
use crate::load::{Ack, Client, LoadControl, LoadState};
use crate::oracle;
use crate::outcome::{Outcome, Stats, Verdict, Violation, ViolationKind};
use crate::rng;
use crate::scenario::{LoadedScenario, Scenario};
use crate::trace::{self, HarnessEvent, Record, Recorder, TraceEvent};
use madsim::net::rpc::Request;
use madsim::net::Endpoint;
use madsim::runtime::{Handle, NodeHandle, Runtime};
use madsim::task::NodeId;
use madsim::time::Instant;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;
use system::config::SystemConfig;
use system::events::Event;
use system::flaws::Flaws;
use system::model::{SchemaDef, Source, View};
use system::net::Rpc;
use system::node::{NodeContext, Topology};
use system::proto::*;
use system::queue::QueueOp;
use system::store::StoreOp;

const PORT: u16 = 7000;
/// Simulated time allowed beyond the phases before the run is declared stuck.
const TIME_LIMIT_MARGIN: Duration = Duration::from_secs(120);
/// How often the checker looks whether the system has gone quiet during the liveness phase.
const QUIESCENCE_POLL: Duration = Duration::from_millis(200);
const CHECKER_CALL_TIMEOUT: Duration = Duration::from_secs(1);
const CHECKER_ATTEMPTS_MAX: u32 = 20;
const PAGE_SIZE: usize = 100;

/// The result of one run, with its trace.
pub struct RunResult {
    pub outcome: Outcome,
    pub trace: Vec<Record>,
    /// References to the run's state still alive after its runtime was dropped (every node's event sink holds
    /// one). Anything but zero means a long sweep's memory grows with every seed.
    pub leaked_references: usize,
}

/// Everything the checker read at the end of a run.
#[derive(Clone, Debug, Default)]
pub struct FinalState {
    /// Whether the queue had drained, all clients were answered and all deploys done before the budget ran out.
    pub quiescent: bool,
    pub queue: QueueStats,
    pub requests_in_flight: u64,
    pub envs: BTreeMap<String, EnvState>,
}

#[derive(Clone, Debug, Default)]
pub struct EnvState {
    pub schemas: BTreeMap<String, SchemaDef>,
    pub sources: BTreeMap<String, Source>,
    pub views: BTreeMap<String, BTreeMap<String, View>>,
}

/// What the run observed, for the oracle.
pub struct Observation {
    pub acks: Vec<Ack>,
    /// None if the final reading itself failed.
    pub final_state: Option<FinalState>,
    pub load: LoadCounters,
    pub net_messages: u64,
    pub simulated: Duration,
    /// RPC attempts of the system and the clients that got no answer.
    pub rpcs_failed: u64,
    /// RPC attempts of the system and the clients, idle polls for work left out.
    pub rpcs_sent: u64,
    /// How long network and process faults lasted in all (see `faults::disruption`).
    pub disruption: Duration,
}

fn ip(net: u8, host: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, net, (host + 1) as u8))
}

fn addr(net: u8, host: usize) -> SocketAddr {
    SocketAddr::new(ip(net, host), PORT)
}

/// The system's configuration for a scenario: the system's defaults, overridden by the scenario's knobs.
pub fn system_config(s: &Scenario) -> SystemConfig {
    let mut c = SystemConfig::default();
    let k = &s.system;
    if let Some(v) = k.lease {
        c.lease = v.0;
    }
    if let Some(v) = k.env_pending_max {
        c.env_pending_max = v.get() as usize;
    }
    if let Some(v) = k.queue_pending_max {
        c.queue_pending_max = v.get() as usize;
    }
    if let Some(v) = k.fresh_per_bulk {
        c.fresh_per_bulk = v.get() as u32;
    }
    if let Some(v) = k.rpc_timeout {
        c.rpc_timeout = v.0;
    }
    if let Some(v) = k.render_time_min {
        c.render_time_min = v.0;
    }
    if let Some(v) = k.render_time_max {
        c.render_time_max = v.0;
    }
    c.worker_slots = s.topology.worker_slots.get() as usize;
    c.flaws = Flaws::with(s.flaws());
    c
}

/// Runs one seed on a fresh OS thread, as every seed must: std seeds its HashMap hasher once per thread, and a
/// runtime on a reused thread would not be deterministic.
pub fn run_seed(scenario: &LoadedScenario, seed: u64) -> RunResult {
    let scenario = scenario.clone();
    // The one place the harness starts an OS thread: outside any simulation, to give each runtime a fresh one.
    #[allow(clippy::disallowed_methods)]
    let thread = std::thread::Builder::new()
        .name(format!("seed-{seed}"))
        .spawn(move || run_seed_here(&scenario, seed))
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
            } else {
                default(info);
            }
        }));
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Runs one seed on the current thread. Use [`run_seed`] unless this thread is fresh.
pub fn run_seed_here(scenario: &LoadedScenario, seed: u64) -> RunResult {
    install_panic_hook();
    // Host time is measured only to report speed; it never reaches the simulation.
    #[allow(clippy::disallowed_methods)]
    let wall_start = std::time::Instant::now();
    let recorder = Arc::new(Recorder::default());
    let s = &scenario.scenario;
    let mut runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
    runtime.set_time_limit(s.run.safety.0 + s.run.convergence_budget.0 + TIME_LIMIT_MARGIN);
    CAPTURING.with(|c| *c.borrow_mut() = true);
    let plan = fault_plan(s, seed);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(simulate(s.clone(), recorder.clone(), plan.clone()))
    }));
    CAPTURING.with(|c| *c.borrow_mut() = false);
    drop(runtime);
    let leaked_references = Arc::strong_count(&recorder) - 1;
    let trace = recorder.take();
    let mut stats = stats_from(&trace);
    let violations = match result {
        Ok(observation) => {
            stats.ingests_sent = observation.load.sent;
            stats.ingest_retries = observation.load.retries;
            stats.ingests_busy = observation.load.busy;
            stats.ingests_given_up = observation.load.given_up;
            stats.net_messages = observation.net_messages;
            stats.simulated_ms = observation.simulated.as_millis() as u64;
            oracle::check(s, &trace, &observation)
        }
        Err(payload) => {
            let message = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| panic_message(&*payload));
            stats.simulated_ms = trace.last().map_or(0, |r| r.at.as_millis() as u64);
            vec![crash_violation(&message, stats.simulated_ms)]
        }
    };
    stats.environments = s.env_names().len() as u64;
    stats.rpcs_sent = recorder.rpcs();
    stats.rpcs_failed = recorder.rpc_failures();
    stats.faults = crate::faults::counts(&plan);
    stats.marks = recorder.marks();
    stats.wall_ms = wall_start.elapsed().as_millis() as u64;
    let outcome = Outcome {
        scenario: scenario.name.clone(),
        seed,
        verdict: if violations.is_empty() { Verdict::Pass } else { Verdict::Fail },
        violations,
        stats,
        trace_hash: trace::hash(&trace),
        fault_plan: plan,
    };
    RunResult { outcome, trace, leaked_references }
}

/// Classifies a panic that ended the simulation. madsim reports a deadlock and an exceeded time limit as
/// panics with fixed messages; anything else is a node (or harness) panic.
fn crash_violation(message: &str, at_ms: u64) -> Violation {
    let kind = if message.contains("no events, all tasks will block forever") {
        ViolationKind::Deadlock
    } else if message.contains("time limit exceeded") {
        ViolationKind::TimeLimit
    } else {
        ViolationKind::Panic
    };
    Violation::new(kind, message.to_string()).at_ms(at_ms)
}

/// Load counters, copied out of the shared load state at the end of the run.
#[derive(Clone, Debug, Default)]
pub struct LoadCounters {
    pub sent: u64,
    pub retries: u64,
    pub busy: u64,
    pub given_up: u64,
}

/// Counts events of the trace into statistics.
fn stats_from(trace: &[Record]) -> Stats {
    let mut st = Stats { trace_events: trace.len() as u64, ..Stats::default() };
    for record in trace {
        match &record.event {
            TraceEvent::System(event) => match event {
                Event::SourceStored { .. } => st.sources_stored += 1,
                Event::IngestAcked { .. } => {}
                Event::JobEnqueued { .. } => st.jobs_enqueued += 1,
                Event::JobCoalesced { .. } => st.jobs_coalesced += 1,
                Event::EnqueueBusy { .. } => st.enqueues_busy += 1,
                Event::JobLeased { .. } => st.jobs_leased += 1,
                Event::LeaseExpired { .. } => st.leases_expired += 1,
                Event::JobRedelivered { .. } => st.jobs_redelivered += 1,
                Event::JobCompleted { .. } => st.jobs_completed += 1,
                Event::JobAbandoned { .. } => st.jobs_abandoned += 1,
                Event::AckRefused { .. } => st.acks_refused += 1,
                Event::ViewWritten { .. } => st.views_written += 1,
                Event::ViewWriteRefused { .. } => st.view_writes_refused += 1,
                _ => {}
            },
            TraceEvent::Harness(event) => match event {
                HarnessEvent::ClientAcked { .. } => st.ingests_acked += 1,
                HarnessEvent::DeployDone { .. } => st.deploys += 1,
                _ => {}
            },
        }
    }
    st
}

/// The nodes of one run and what the harness needs to drive them.
struct World {
    scenario: Arc<Scenario>,
    topology: Arc<Topology>,
    config: Arc<SystemConfig>,
    net: Arc<FaultNet>,
    checker: NodeHandle,
    checker_node: Arc<str>,
    nodes: BTreeMap<String, NodeInfo>,
    workers: Vec<String>,
    all: Vec<NodeId>,
}

impl World {
    fn build(scenario: Arc<Scenario>, recorder: &Arc<Recorder>, seed: u64) -> World {
        let handle = Handle::current();
        let config = Arc::new(system_config(&scenario));
        let topology = Arc::new(Topology {
            store: addr(0, 0),
            queue: addr(0, 1),
            ingest: (0..scenario.topology.ingest_nodes.get() as usize).map(|i| addr(1, i)).collect(),
        });
        let net = Arc::new(FaultNet::new(rng::stream(seed, "net-loss", 0)));
        let mut nodes = BTreeMap::new();
        let mut all = Vec::new();
        // Each node gets its own clock and a sink bound to its name. State captured by a node's init closure
        // (its disk) survives restarts; everything else of the node is lost when it crashes.
        let mut add = |name: &str,
                       node_addr: SocketAddr,
                       disks: Vec<Arc<dyn Crashable>>,
                       init: Box<dyn Fn(NodeContext) -> BoxFuture + Send + Sync>| {
            let clock = Arc::new(SimClock::new());
            let ctx = NodeContext {
                name: name.to_string(),
                addr: node_addr,
                clock: clock.clone(),
                events: recorder.sink(name),
                links: net.clone(),
                config: config.clone(),
                topology: topology.clone(),
            };
            let node = handle.create_node().name(name).ip(node_addr.ip()).init(move || init(ctx.clone())).build();
            all.push(node.id());
            nodes.insert(name.to_string(), NodeInfo { id: node.id(), ip: node_addr.ip(), clock, disks });
        };

        let store_disk: Arc<SimDisk<StoreOp>> = Arc::new(SimDisk::default());
        let d = store_disk.clone();
        add(
            "store",
            topology.store,
            vec![store_disk],
            Box::new(move |ctx| Box::pin(system::store::serve(ctx, d.clone()))),
        );
        let queue_disk: Arc<SimDisk<QueueOp>> = Arc::new(SimDisk::default());
        let d = queue_disk.clone();
        add(
            "queue",
            topology.queue,
            vec![queue_disk],
            Box::new(move |ctx| Box::pin(system::queue::serve(ctx, d.clone()))),
        );
        for (i, &ingest_addr) in topology.ingest.iter().enumerate() {
            add(
                &format!("ingest-{}", i + 1),
                ingest_addr,
                vec![],
                Box::new(|ctx| Box::pin(system::ingest::serve(ctx))),
            );
        }
        let mut workers = Vec::new();
        for i in 0..scenario.topology.workers.get() as usize {
            let name = format!("worker-{}", i + 1);
            add(&name, addr(2, i), vec![], Box::new(|ctx| Box::pin(system::worker::serve(ctx))));
            workers.push(name);
        }
        let checker = handle.create_node().name("checker").ip(ip(9, 0)).build();
        all.push(checker.id());
        World { scenario, topology, config, net, checker, checker_node: "checker".into(), nodes, workers, all }
    }

    /// A context for a harness actor (a load client) that talks to the system like any node.
    fn client_context(&self, name: &str, addr: SocketAddr, recorder: &Arc<Recorder>) -> NodeContext {
        NodeContext {
            name: name.to_string(),
            addr,
            clock: Arc::new(SimClock::new()),
            events: recorder.sink(name),
            links: self.net.clone(),
            config: self.config.clone(),
            topology: self.topology.clone(),
        }
    }
}

type BoxFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// The fault plan of a run: the scenario's script and what the generator draws from the seed, in time order.
pub fn fault_plan(scenario: &Scenario, seed: u64) -> Vec<FaultSpec> {
    let mut plan = scenario.faults.script.clone();
    plan.extend(generate::generate(&scenario.faults, &scenario.cluster_shape(), &mut rng::stream(seed, "faults", 0)));
    plan.sort_by_key(|spec| spec.at);
    plan
}

/// The whole run, inside the runtime.
async fn simulate(scenario: Scenario, recorder: Arc<Recorder>, plan: Vec<FaultSpec>) -> Observation {
    recorder.start_clock();
    let run_start = Instant::now();
    let seed = Handle::current().seed();
    let scenario = Arc::new(scenario);
    let world = World::build(scenario.clone(), &recorder, seed);
    let s = &world.scenario;
    let harness: Arc<str> = "harness".into();

    // Setup: deploy every schema in every environment through the public API, before any load.
    recorder.harness(&harness, HarnessEvent::PhaseStarted { phase: "setup" });
    madsim::time::sleep(Duration::from_millis(50)).await;
    let checker_ep = {
        let checker_addr = SocketAddr::new(ip(9, 0), PORT);
        world
            .checker
            .spawn(async move { Endpoint::bind(checker_addr).await.expect("checker bind") })
            .await
            .expect("bind task")
    };
    let deploys_running = Arc::new(AtomicU64::new(0));
    let deployer: Deployer = {
        let (ep, ingest, rec, node) =
            (checker_ep.clone(), world.topology.ingest.clone(), recorder.clone(), world.checker_node.clone());
        let (checker, running, schemas) = (world.checker.clone(), deploys_running.clone(), s.schemas.clone());
        Arc::new(move |env: String, schema: String, fields: Option<Vec<String>>| {
            let fields = fields.unwrap_or_else(|| {
                schemas.iter().find(|x| x.name == schema).map(|x| x.fields.clone()).unwrap_or_default()
            });
            let (ep, ingest, rec, node, running) =
                (ep.clone(), ingest.clone(), rec.clone(), node.clone(), running.clone());
            running.fetch_add(1, Ordering::SeqCst);
            checker.spawn(async move {
                deploy(&ep, &ingest, &rec, &node, env, schema, fields).await;
                running.fetch_sub(1, Ordering::SeqCst);
            });
        })
    };
    for env in s.env_names() {
        for schema in &s.schemas {
            deployer(env.clone(), schema.name.clone(), None);
        }
    }
    while deploys_running.load(Ordering::SeqCst) > 0 {
        madsim::time::sleep(Duration::from_millis(10)).await;
    }

    // Safety phase: every environment's client at once, the scheduled deploys, and the fault plan.
    recorder.harness(&harness, HarnessEvent::PhaseStarted { phase: "safety" });
    let load_start = Instant::now();
    let load_end = load_start + s.run.safety.0;
    let give_up_at = load_end + s.run.convergence_budget.0;
    let load = Arc::new(LoadState::default());
    let control = Arc::new(LoadControl::default());
    let mut all = world.all.clone();
    let mut clients = Vec::new();
    for (i, env) in s.env_names().iter().enumerate() {
        let name = format!("client-{env}");
        let client_addr = SocketAddr::new(ip(3, i), PORT);
        let node = Handle::current().create_node().name(name.clone()).ip(client_addr.ip()).build();
        all.push(node.id());
        let ctx = world.client_context(&name, client_addr, &recorder);
        clients.push((node, ctx, env.clone(), i));
    }
    for (node, ctx, env, i) in clients {
        let env_name = env.clone();
        load.generators_running.fetch_add(1, Ordering::SeqCst);
        let (scenario, recorder, load, control, ingest) =
            (s.clone(), recorder.clone(), load.clone(), control.clone(), world.topology.ingest.clone());
        node.spawn(async move {
            let ep = Endpoint::bind(ctx.addr).await.expect("client bind");
            let client = Client {
                env_index: i,
                env,
                node: ctx.name.as_str().into(),
                rpc: Rpc::new(ep, ctx),
                control,
                ingest,
                rng: rng::stream_named(seed, "load", &env_name),
                recorder,
                state: load,
                run_start,
                load_end,
                give_up_at,
            };
            client.run(&scenario).await;
        });
    }
    for d in &s.load.deploys {
        let (deployer, env, schema, fields, at) =
            (deployer.clone(), d.environment.clone(), d.schema.clone(), d.fields.clone(), d.at.0);
        deploys_running.fetch_add(1, Ordering::SeqCst);
        let running = deploys_running.clone();
        madsim::task::spawn(async move {
            madsim::time::sleep_until(load_start + at).await;
            deployer(env, schema, fields);
            running.fetch_sub(1, Ordering::SeqCst);
        });
    }
    let all_nodes = all.clone();
    let cluster = Cluster {
        nodes: world.nodes,
        all,
        workers: world.workers.clone(),
        net: world.net.clone(),
        load: control.clone(),
        deployer: deployer.clone(),
    };
    let injector = Arc::new(Injector::new(cluster, recorder.clone()));
    let running_plan = {
        let (injector, plan) = (injector.clone(), plan.clone());
        madsim::task::spawn(async move { injector.run(&plan, load_start).await })
    };
    madsim::time::sleep_until(load_end).await;
    running_plan.await.expect("the fault plan ends with the safety phase");

    // Liveness phase: every fault healed, no new load; the system must answer every client and drain its queue
    // within the budget.
    injector.heal_all();
    recorder.harness(&harness, HarnessEvent::PhaseStarted { phase: "liveness" });
    let queue_addr = world.topology.queue;
    let mut quiescent = false;
    let mut queue = QueueStats::default();
    while Instant::now() < give_up_at {
        madsim::time::sleep(QUIESCENCE_POLL).await;
        // Clients and deploys must be done *before* the queue is asked: otherwise a request acknowledged while
        // the stats were on their way back could have enqueued jobs the stats do not show, and the system would
        // be declared quiet with work pending (found by the fuzz target).
        let idle_before = load.idle() && deploys_running.load(Ordering::SeqCst) == 0;
        let ep = checker_ep.clone();
        let stats = world
            .checker
            .spawn(async move { ep.call_timeout(queue_addr, GetQueueStats, CHECKER_CALL_TIMEOUT).await.ok() })
            .await
            .expect("stats task");
        if let Some(stats) = stats {
            queue = stats;
            if idle_before && stats.pending == 0 && stats.leased == 0 {
                quiescent = true;
                break;
            }
        }
    }
    recorder.harness(
        &world.checker_node,
        HarnessEvent::FinalRead { quiescent, pending: queue.pending as u64, leased: queue.leased as u64 },
    );
    let (ep, store, envs) = (checker_ep.clone(), world.topology.store, s.env_names().to_vec());
    let envs = world.checker.spawn(async move { read_final(&ep, store, &envs).await }).await.expect("final read task");
    let final_state = envs.map(|envs| FinalState {
        quiescent,
        queue,
        requests_in_flight: load.in_flight.load(Ordering::SeqCst),
        envs,
    });
    let acks = std::mem::take(&mut *load.acks.lock().expect("acks lock"));
    let observation = Observation {
        acks,
        final_state,
        load: LoadCounters {
            sent: load.sent.load(Ordering::SeqCst),
            retries: load.retries.load(Ordering::SeqCst),
            busy: load.busy.load(Ordering::SeqCst),
            given_up: load.given_up.load(Ordering::SeqCst),
        },
        net_messages: madsim::net::NetSim::current().stat().msg_count,
        simulated: run_start.elapsed(),
        rpcs_failed: recorder.rpc_failures(),
        rpcs_sent: recorder.rpcs().saturating_sub(recorder.idle_polls()),
        disruption: crate::faults::disruption(&plan),
    };
    // madsim does not free the tasks of a node when the runtime is dropped, and every server here loops forever:
    // without this, each run's whole state (disks, queues, sinks) would stay in memory for the rest of a sweep.
    // Killing a node drops its tasks and its init closure. Nothing reaches the trace after the final reading.
    let handle = Handle::current();
    for &id in &all_nodes {
        handle.kill(id);
    }
    madsim::time::sleep(Duration::from_millis(1)).await;
    observation
}

/// Deploys a schema through an ingest node, retrying until it is done, as an operator would. If it never
/// finishes, the run does not go quiet and the oracle reports it.
async fn deploy(
    ep: &Endpoint,
    ingest: &[SocketAddr],
    recorder: &Recorder,
    node: &Arc<str>,
    env: String,
    schema: String,
    fields: Vec<String>,
) {
    recorder.harness(node, HarnessEvent::DeploySent { env: env.clone(), schema: schema.clone() });
    let mut attempt = 0usize;
    loop {
        let dst = ingest[attempt % ingest.len()];
        attempt += 1;
        let req = DeploySchema { env: env.clone(), name: schema.clone(), fields: fields.clone() };
        if let Ok(DeployReply::Deployed { version, jobs }) = ep.call_timeout(dst, req, Duration::from_secs(30)).await {
            recorder.harness(node, HarnessEvent::DeployDone { env, schema, version, jobs: jobs as u64 });
            return;
        }
        madsim::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn call_patiently<R: Request + Clone>(ep: &Endpoint, dst: SocketAddr, req: R) -> Option<R::Response> {
    for _ in 0..CHECKER_ATTEMPTS_MAX {
        if let Ok(reply) = ep.call_timeout(dst, req.clone(), CHECKER_CALL_TIMEOUT).await {
            return Some(reply);
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Reads every environment's schemas, sources and views through the public API.
async fn read_final(ep: &Endpoint, store: SocketAddr, envs: &[String]) -> Option<BTreeMap<String, EnvState>> {
    let mut out = BTreeMap::new();
    for env in envs {
        let mut state = EnvState::default();
        for def in call_patiently(ep, store, ListSchemas { env: env.clone() }).await? {
            state.schemas.insert(def.name.clone(), def);
        }
        let mut after = None;
        loop {
            let page =
                call_patiently(ep, store, ListContent { env: env.clone(), after: after.clone(), limit: PAGE_SIZE })
                    .await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.entity.clone());
            for (source, views) in page {
                let entity = source.entity.clone();
                state.views.insert(entity.clone(), views.into_iter().map(|v| (v.schema.clone(), v)).collect());
                state.sources.insert(entity, source);
            }
        }
        out.insert(env.clone(), state);
    }
    Some(out)
}
