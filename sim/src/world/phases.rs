//! The phase script of a run, inside the runtime, one method per phase:
//! 1. [`Run::setup`]: every schema deployed in every environment through the public API, before any load;
//! 2. [`Run::safety`]: every environment's client and reader at once, the scheduled deploys, and the fault plan;
//! 3. [`Run::liveness`]: every fault healed, no new load; the system must answer every client and go quiet,
//!    judged from outside, within the budget;
//! 4. [`Run::final_reading`]: the final reading through the public API, and what the network counted;
//! 5. [`Run::teardown`]: every node killed, so that nothing of the run outlives it.
//!
//! Everything the oracle will judge is recorded here from outside the system: client writes and replies,
//! deploys and replies, reads, and what the simulated network carried. The system's own statistics decide
//! nothing; they are asked for only to explain a run that did not go quiet.

use super::cluster::{ip, World, NET_CHECKER, NET_CLIENTS, NET_READERS, PORT};
use super::operator::{operator, Deployer, Operator};
use super::reading::{Checker, EnvState, FinalState};
use super::wiretap::{call_outside, Tally, Wiretap};
use super::{LoadCounters, Observation};
use crate::branch::Streams;
use crate::faults::inject::{Cluster, Injector};
use crate::faults::FaultSpec;
use crate::load::{Client, LoadControl, LoadState};
use crate::model::DeployRecord;
use crate::readers::{Follows, ReadLog, Reader};
use crate::scenario::Scenario;
use crate::trace::{HarnessEvent, Recorder};
use madsim::runtime::Handle;
use madsim::task::NodeId;
use madsim::time::Instant;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use system::model::{Name, SchemaDef, Source, View};
use system::net::Endpoint;
use system::net::Rpc;
use system::proto::*;

/// How often the checker looks at the clients and the network during the liveness phase.
const QUIESCENCE_POLL: Duration = Duration::from_millis(200);
const CHECKER_CALL_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest the setup deploys may take: a system that never answers one ends setup there, and the oracle
/// reports the deploy.
pub const SETUP_BUDGET: Duration = Duration::from_secs(60);
pub use super::operator::DEPLOY_ATTEMPTS_MAX;

pub use super::config::quiet_window;

/// A full reading of every environment through the delivery API (`None` if it could not be taken).
type Reading = Option<BTreeMap<Name, EnvState>>;

/// The whole run, inside the runtime.
pub async fn simulate(
    scenario: Scenario,
    recorder: Arc<Recorder>,
    plan: Vec<FaultSpec>,
    options: super::RunOptions,
    streams: Streams,
) -> Observation {
    recorder.start_clock();
    if options.plant_nondeterminism {
        plant_nondeterminism();
    }
    let mut run = Run::start(scenario, recorder, options, streams).await;
    run.setup().await;
    run.safety(&plan).await;
    let quiescent = run.liveness().await;
    let observation = run.final_reading(quiescent, &plan).await;
    run.teardown().await;
    observation
}

/// One run's world and what its phases share.
struct Run {
    world: World,
    recorder: Arc<Recorder>,
    harness: Arc<str>,
    run_start: Instant,
    streams: Streams,
    wiretap: Arc<Wiretap>,
    checker: Checker,
    deployer: Deployer,
    deploys_running: Arc<AtomicU64>,
    deploy_log: Arc<Mutex<Vec<DeployRecord>>>,
    /// Until when the deployer retries a deploy: the end of setup's budget, then the end of the run's.
    deploy_deadline: Arc<Mutex<Instant>>,
    load: Arc<LoadState>,
    reads: Arc<ReadLog>,
    /// Every node of the run, the clients' and readers' included: all are killed at the end.
    all: Vec<NodeId>,
    injector: Option<Arc<Injector>>,
    load_end: Instant,
    give_up_at: Instant,
}

impl Run {
    /// Builds the cluster and the checker's nodes, and sets the network hooks that count observers and idle polls.
    async fn start(scenario: Scenario, recorder: Arc<Recorder>, options: super::RunOptions, streams: Streams) -> Run {
        let run_start = Instant::now();
        let world = World::build(Arc::new(scenario), &recorder, &streams, options.stats);
        let wiretap = Wiretap::new(world.net.clone());
        let store_id = world.nodes["store"].id;
        let queue_id = world.nodes["queue"].id;
        for name in &world.workers {
            wiretap.watch_worker(world.nodes[name].id, queue_id);
        }
        let handle = Handle::current();
        let schemas_node = handle.create_node().name("checker-schemas").ip(ip(NET_CHECKER, 1)).build();
        wiretap.watch_observer::<ListContent, Vec<(Source, Vec<View>)>>(world.checker.id(), store_id);
        wiretap.watch_observer::<ListSchemas, Vec<SchemaDef>>(schemas_node.id(), store_id);
        let mut all = world.all.clone();
        all.push(schemas_node.id());
        let bind = |node: &madsim::runtime::NodeHandle, addr: SocketAddr| {
            node.spawn(async move { Endpoint::bind(addr).await.expect("checker bind") })
        };
        madsim::time::sleep(Duration::from_millis(50)).await;
        let content = bind(&world.checker, SocketAddr::new(ip(NET_CHECKER, 0), PORT)).await.expect("bind task");
        let schemas = bind(&schemas_node, SocketAddr::new(ip(NET_CHECKER, 1), PORT)).await.expect("bind task");
        let checker =
            Checker { schemas, content: content.clone(), links: world.net.clone(), store: world.topology.store };
        let deploys_running = Arc::new(AtomicU64::new(0));
        let deploy_log: Arc<Mutex<Vec<DeployRecord>>> = Arc::default();
        let deploy_deadline = Arc::new(Mutex::new(run_start + SETUP_BUDGET));
        let checker_node = world.checker.clone();
        let deployer = operator(Operator {
            ingest: world.topology.ingest.clone(),
            recorder: recorder.clone(),
            node: world.checker_node.clone(),
            links: world.net.clone(),
            scenario: world.scenario.clone(),
            ep: content,
            running: deploys_running.clone(),
            log: deploy_log.clone(),
            deadline: deploy_deadline.clone(),
            run_start,
            spawn: Arc::new(move |task| {
                checker_node.spawn(task);
            }),
        });
        Run {
            recorder,
            harness: "harness".into(),
            run_start,
            streams,
            wiretap,
            checker,
            deployer,
            deploys_running,
            deploy_log,
            deploy_deadline,
            load: Arc::new(LoadState::default()),
            reads: Arc::new(ReadLog::default()),
            all,
            injector: None,
            load_end: run_start,
            give_up_at: run_start,
            world,
        }
    }

    /// Setup: deploy every schema in every environment through the public API, before any load, waiting at most
    /// [`SETUP_BUDGET`] (a deploy never answered is the oracle's to report).
    async fn setup(&mut self) {
        self.recorder.harness(&self.harness, HarnessEvent::PhaseStarted { phase: "setup" });
        let s = self.world.scenario.clone();
        for env in s.env_names() {
            for schema in &s.schemas {
                (self.deployer)(env.clone(), schema.name.clone(), Some(schema.fields.clone()));
            }
        }
        while self.deploys_running.load(Ordering::SeqCst) > 0 {
            madsim::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Safety: every environment's client and reader at once, the scheduled deploys, and the fault plan.
    async fn safety(&mut self, plan: &[FaultSpec]) {
        self.recorder.harness(&self.harness, HarnessEvent::PhaseStarted { phase: "safety" });
        let s = self.world.scenario.clone();
        let load_start = Instant::now();
        // The harness's streams switch to a branch's relative to this moment.
        self.streams.clock.start(load_start);
        self.load_end = load_start + s.run.safety.0;
        self.give_up_at = self.load_end + s.run.convergence_budget.0;
        *self.deploy_deadline.lock().expect("deploy deadline lock") = self.give_up_at;
        let control = Arc::new(LoadControl::default());
        let store_id = self.world.nodes["store"].id;
        for (i, env) in s.env_names().iter().enumerate() {
            let follows = Arc::new(Follows::default());
            // The reader: the environment's website, reading views through the delivery API (when the scenario
            // has readers; without them only the final reading judges views).
            if s.readers.enabled {
                let reader_name = format!("reader-{env}");
                let reader_addr = SocketAddr::new(ip(NET_READERS, i), PORT);
                let node = Handle::current().create_node().name(reader_name.clone()).ip(reader_addr.ip()).build();
                self.all.push(node.id());
                self.wiretap.watch_observer::<GetViews, Vec<View>>(node.id(), store_id);
                let reader = Reader {
                    env: env.into(),
                    node: reader_name.as_str().into(),
                    ep: node
                        .spawn(async move { Endpoint::bind(reader_addr).await })
                        .await
                        .expect("bind task")
                        .expect("reader bind"),
                    links: self.world.net.clone(),
                    store: self.world.topology.store,
                    entities: s.entity_ids_of(env).iter().map(Name::from).collect(),
                    hot_entities: s.load.hot_entities.get() as usize,
                    hot_percent: s.load.hot_percent.get(),
                    schemas: s.schemas.len(),
                    interval: s.readers.interval.0,
                    rng: self.streams.stream_named("reader", env),
                    follows: follows.clone(),
                    log: self.reads.clone(),
                    recorder: self.recorder.clone(),
                    run_start: self.run_start,
                };
                node.spawn(reader.run());
            }
            self.spawn_client(i, env, follows, &control);
        }
        for d in &s.load.deploys {
            let (deployer, env, schema, fields, at) =
                (self.deployer.clone(), d.environment.clone(), d.schema.clone(), d.fields.clone(), d.at.0);
            self.deploys_running.fetch_add(1, Ordering::SeqCst);
            let running = self.deploys_running.clone();
            madsim::task::spawn(async move {
                madsim::time::sleep_until(load_start + at).await;
                deployer(env, schema, fields);
                running.fetch_sub(1, Ordering::SeqCst);
            });
        }
        let cluster = Cluster {
            nodes: std::mem::take(&mut self.world.nodes),
            all: self.all.clone(),
            workers: self.world.workers.clone(),
            net: self.world.net.clone(),
            load: control,
            deployer: self.deployer.clone(),
        };
        let core = (self.world.scenario.run.liveness == crate::scenario::Liveness::Core)
            .then(|| self.choose_core(cluster.nodes.keys().cloned().collect()));
        let injector = Arc::new(Injector::new(cluster, self.recorder.clone(), core));
        self.injector = Some(injector.clone());
        let (plan, branches) = (plan.to_vec(), self.streams.branches().to_vec());
        let running_plan = madsim::task::spawn(async move { injector.run(&plan, &branches, load_start).await });
        madsim::time::sleep_until(self.load_end).await;
        running_plan.await.expect("the fault plan ends with the safety phase");
    }

    /// The client of environment `i`: the environment's CMS pushing content. A mirror sends its source's contents.
    fn spawn_client(&mut self, i: usize, env: &str, follows: Arc<Follows>, control: &Arc<LoadControl>) {
        let s = self.world.scenario.clone();
        let name = format!("client-{env}");
        let client_addr = SocketAddr::new(ip(NET_CLIENTS, i), PORT);
        let node = Handle::current().create_node().name(name.clone()).ip(client_addr.ip()).build();
        self.all.push(node.id());
        let ctx = self.world.client_context(&name, client_addr, &self.recorder);
        let content_env = s.environments.mirrors.get(env).cloned().unwrap_or_else(|| env.to_string());
        self.load.generators_running.fetch_add(1, Ordering::SeqCst);
        let (recorder, load, control, ingest, env) = (
            self.recorder.clone(),
            self.load.clone(),
            control.clone(),
            self.world.topology.ingest.clone(),
            env.to_string(),
        );
        let (run_start, load_end, give_up_at) = (self.run_start, self.load_end, self.give_up_at);
        // A mirror draws from its source's stream, so it writes the same entities with the same contents.
        let rng = self.streams.stream_named("load", &content_env);
        node.spawn(async move {
            let ep = Endpoint::bind(ctx.addr).await.expect("client bind");
            let client = Client {
                env_index: i,
                env: env.into(),
                rng,
                content_env,
                node: ctx.name.as_str().into(),
                rpc: Rpc::new(ep, ctx),
                control,
                ingest,
                recorder,
                state: load,
                follows,
                run_start,
                load_end,
                give_up_at,
            };
            client.run(&s).await;
        });
    }

    /// `liveness = "core"`: the store, the queue and a seeded share (at least one) of the ingest nodes and of the
    /// workers, from a stream of their own so that nothing else's draws move it.
    fn choose_core(&self, names: Vec<String>) -> std::collections::BTreeSet<String> {
        use rand::seq::SliceRandom;
        use rand::Rng;
        let mut rng = self.streams.stream_named("liveness", "core");
        let mut core: std::collections::BTreeSet<String> =
            names.iter().filter(|n| *n == "store" || *n == "queue").cloned().collect();
        for role in ["ingest-", "worker-"] {
            let of_role: Vec<&String> = names.iter().filter(|n| n.starts_with(role)).collect();
            if of_role.is_empty() {
                continue;
            }
            let count = rng.gen_range(1..=of_role.len());
            core.extend(of_role.choose_multiple(&mut rng, count).map(|n| (*n).clone()));
        }
        core
    }

    /// Liveness: every fault healed, no new load. Returns whether the system was judged done, from outside, before
    /// the budget ran out: every client answered or given up and every deploy answered, and for a whole
    /// [`quiet_window`] the network carried nothing but observers' messages and idle polls while two full
    /// readings through the delivery API stayed the same. The system's statistics play no part. Readers keep
    /// reading.
    async fn liveness(&mut self) -> bool {
        // A lease granted by a clock that was ahead runs that much longer once the clock is set back: the judging
        // (below) and the budget both make room for it, so a lease the harness's own clock fault lengthened is not
        // taken for a system that went quiet with work left.
        let ahead = self.injector.as_ref().expect("safety ran").heal_all();
        self.give_up_at += ahead;
        // Calls open before the heal (to a node that crashed) may never be answered: counting them open would
        // excuse work that is not in flight.
        self.wiretap.forget_open_calls();
        self.recorder.harness(&self.harness, HarnessEvent::PhaseStarted { phase: "liveness" });
        let window = quiet_window(&self.world.config);
        // No window may end before a lease granted just before the heal by the clock furthest ahead could have run
        // out and been waited for: the judging starts that much later, rather than asking for a longer silence.
        let not_before = Instant::now() + ahead + window;
        let envs = self.world.scenario.env_names().to_vec();
        // The window under way: when it opened, the counts then, and the reading taken then.
        let mut open: Option<(Instant, Tally, Reading)> = None;
        while Instant::now() < self.give_up_at {
            madsim::time::sleep(QUIESCENCE_POLL).await;
            let clients_done = self.load.idle() && self.deploys_running.load(Ordering::SeqCst) == 0;
            let now = self.wiretap.tally();
            let worked = open.as_ref().is_some_and(|(_, from, _)| now.worked_since(from));
            if !clients_done || worked {
                open = None;
                continue;
            }
            let Some((since, _, reading)) = &open else {
                let from = self.wiretap.tally();
                let reading = self.checker.read(&envs).await;
                open = Some((Instant::now(), from, reading));
                continue;
            };
            if since.elapsed() < window || Instant::now() < not_before {
                continue;
            }
            let again = self.checker.read(&envs).await;
            let now = self.wiretap.tally();
            let (_, from, _) = open.as_ref().expect("a window is open");
            if reading.is_some() && again == *reading && !now.worked_since(from) && self.load.idle() {
                self.recorder.harness(
                    &self.world.checker_node,
                    HarnessEvent::QuietJudged { quiet_ms: since.elapsed().as_millis() as u64 },
                );
                return true;
            }
            // Something changed: the window starts again from what was just read.
            open = Some((Instant::now(), self.wiretap.tally(), again));
        }
        false
    }

    /// The final reading through the public API, and everything else the oracle judges.
    async fn final_reading(&mut self, quiescent: bool, plan: &[FaultSpec]) -> Observation {
        self.reads.stop.store(true, Ordering::SeqCst);
        self.recorder.harness(&self.world.checker_node, HarnessEvent::FinalRead { quiescent });
        let envs = self.checker.read(self.world.scenario.env_names()).await;
        // What the network carried, counted before anything below adds to it.
        let net_messages = madsim::net::NetSim::current().stat().msg_count;
        let observer_messages = self.wiretap.observer_messages();
        let idle_poll_messages = self.wiretap.idle_poll_messages();
        let system_said = if quiescent { None } else { self.ask_system().await };
        let final_state = envs.map(|envs| FinalState {
            quiescent,
            system_said,
            requests_in_flight: self.load.in_flight.load(Ordering::SeqCst),
            envs,
        });
        let load = &self.load;
        Observation {
            writes: std::mem::take(&mut *load.writes.lock().expect("writes lock")),
            deploys: std::mem::take(&mut *self.deploy_log.lock().expect("deploy log lock")),
            reads: std::mem::take(&mut *self.reads.reads.lock().expect("reads lock")),
            final_state,
            load: LoadCounters {
                sent: load.sent.load(Ordering::SeqCst),
                retries: load.retries.load(Ordering::SeqCst),
                busy: load.busy.load(Ordering::SeqCst),
                abandoned: load.abandoned.load(Ordering::SeqCst),
                given_up: load.given_up.load(Ordering::SeqCst),
            },
            net_messages,
            observer_messages,
            idle_poll_messages,
            simulated: self.run_start.elapsed(),
            disruption: crate::faults::disruption(plan) + self.stayed_disruption(),
            fault_windows: self.fault_windows(plan),
            points_on: self.world.points_on.clone(),
        }
    }

    /// The plan's faults with when each ended: as planned, or now for one outside the core that never healed.
    fn fault_windows(&self, plan: &[FaultSpec]) -> Vec<super::FaultWindow> {
        let stayed = self.injector.as_ref().map(|i| i.stayed()).unwrap_or_default();
        let now = self.world.scenario.run.safety.0 + self.load_end.elapsed();
        plan.iter()
            .map(|spec| super::FaultWindow {
                until: if stayed.contains(spec) { now.max(spec.end()) } else { spec.end() },
                spec: spec.clone(),
            })
            .collect()
    }

    /// How much longer than planned the faults outside the core lasted (`liveness = "core"`): until now.
    fn stayed_disruption(&self) -> Duration {
        let Some(injector) = &self.injector else { return Duration::ZERO };
        let since_start = self.world.scenario.run.safety.0 + self.load_end.elapsed();
        injector
            .stayed()
            .iter()
            // Only the kinds that disrupt (network and process faults; not clocks) count, as in the plan's.
            .filter(|spec| !crate::faults::disruption(std::slice::from_ref(spec)).is_zero())
            .filter_map(|spec| since_start.checked_sub(spec.end()))
            .sum()
    }

    /// The system's own account of the work it has left, for the explanation of a run that did not go quiet.
    async fn ask_system(&self) -> Option<(QueueStats, usize)> {
        let (ep, links) = (&self.checker.content, &*self.world.net);
        let (queue, store) = (self.world.topology.queue, self.world.topology.store);
        let stats = call_outside(ep, links, queue, GetQueueStats, CHECKER_CALL_TIMEOUT).await?;
        let outbox = call_outside(ep, links, store, GetStoreStats, CHECKER_CALL_TIMEOUT).await?.outbox;
        Some((stats, outbox))
    }

    /// madsim does not free the tasks of a node when the runtime is dropped, and every server here loops forever:
    /// without this, each run's whole state (disks, queues, sinks) would stay in memory for the rest of a sweep.
    /// Killing a node drops its tasks and its init closure. Nothing reaches the trace after the final reading.
    async fn teardown(&mut self) {
        let handle = Handle::current();
        for &id in &self.all {
            handle.kill(id);
        }
        madsim::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The determinism check's negative control: state that leaks from one run of the process into the next (as a
/// process-global id counter does) decides when a task draws from madsim's generator, so two runs of the same
/// seed draw at different simulated times. The check must report it.
fn plant_nondeterminism() {
    use madsim::rand::Rng;
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let delay = Duration::from_millis(1 + RUNS.fetch_add(1, Ordering::SeqCst) % 7);
    madsim::task::spawn(async move {
        madsim::time::sleep(delay).await;
        // madsim's generator, seeded from the run's seed; only *when* it is drawn from varies.
        let _: u64 = madsim::rand::thread_rng().gen();
    });
}
