//! The phase script of a run, inside the runtime:
//! 1. setup: every schema deployed in every environment through the public API, before any load;
//! 2. safety: every environment's client and reader at once, the scheduled deploys, and the fault plan;
//! 3. liveness: every fault healed, no new load; the system must answer every client, drain its queue and its
//!    store's outbox within the budget;
//! 4. the final reading through the public API.
//!
//! Everything the oracle will judge is recorded here from outside the system: client writes and replies,
//! deploys and replies, reads, and the network's message count.

use super::cluster::{ip, World, NET_CHECKER, NET_CLIENTS, NET_READERS, PORT};
use super::reading::{read_final, FinalState};
use super::{LoadCounters, Observation};
use crate::faults::inject::{Cluster, Deployer, Injector};
use crate::faults::FaultSpec;
use crate::load::{Client, LoadControl, LoadState};
use crate::model::DeployRecord;
use crate::readers::{Follows, ReadLog, Reader};
use crate::rng;
use crate::scenario::Scenario;
use crate::trace::{HarnessEvent, Recorder};
use madsim::net::Endpoint;
use madsim::runtime::Handle;
use madsim::time::Instant;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use system::model::Name;
use system::net::Rpc;
use system::proto::*;

/// How often the checker looks whether the system has gone quiet during the liveness phase.
const QUIESCENCE_POLL: Duration = Duration::from_millis(200);
const CHECKER_CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// The whole run, inside the runtime.
pub async fn simulate(
    scenario: Scenario,
    recorder: Arc<Recorder>,
    plan: Vec<FaultSpec>,
    options: super::RunOptions,
) -> Observation {
    recorder.start_clock();
    if options.plant_nondeterminism {
        plant_nondeterminism();
    }
    let run_start = Instant::now();
    let seed = Handle::current().seed();
    let scenario = Arc::new(scenario);
    let world = World::build(scenario.clone(), &recorder, seed);
    let s = &world.scenario;
    let harness: Arc<str> = "harness".into();
    let observers = Arc::new(AtomicU64::new(0));

    // Setup: deploy every schema in every environment through the public API, before any load.
    recorder.harness(&harness, HarnessEvent::PhaseStarted { phase: "setup" });
    madsim::time::sleep(Duration::from_millis(50)).await;
    let checker_ep = {
        let checker_addr = SocketAddr::new(ip(NET_CHECKER, 0), PORT);
        world
            .checker
            .spawn(async move { Endpoint::bind(checker_addr).await.expect("checker bind") })
            .await
            .expect("bind task")
    };
    let deploys_running = Arc::new(AtomicU64::new(0));
    let deploy_log: Arc<Mutex<Vec<DeployRecord>>> = Arc::default();
    let deployer: Deployer = {
        let (ep, ingest, rec, node) =
            (checker_ep.clone(), world.topology.ingest.clone(), recorder.clone(), world.checker_node.clone());
        let (checker, running, schemas, log) =
            (world.checker.clone(), deploys_running.clone(), s.schemas.clone(), deploy_log.clone());
        Arc::new(move |env: String, schema: String, fields: Option<Vec<String>>| {
            let fields = fields.unwrap_or_else(|| {
                schemas.iter().find(|x| x.name == schema).map(|x| x.fields.clone()).unwrap_or_default()
            });
            let (ep, ingest, rec, node, running, log) =
                (ep.clone(), ingest.clone(), rec.clone(), node.clone(), running.clone(), log.clone());
            running.fetch_add(1, Ordering::SeqCst);
            checker.spawn(async move {
                let index = {
                    let mut log = log.lock().expect("deploy log lock");
                    log.push(DeployRecord {
                        env: env.clone(),
                        schema: schema.clone(),
                        fields: fields.clone(),
                        sent_at: run_start.elapsed(),
                        acked: None,
                    });
                    log.len() - 1
                };
                let version = deploy(&ep, &ingest, &rec, &node, env.into(), schema.into(), fields).await;
                log.lock().expect("deploy log lock")[index].acked = Some((version, run_start.elapsed()));
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

    // Safety phase: every environment's client and reader at once, the scheduled deploys, and the fault plan.
    recorder.harness(&harness, HarnessEvent::PhaseStarted { phase: "safety" });
    let load_start = Instant::now();
    let load_end = load_start + s.run.safety.0;
    let give_up_at = load_end + s.run.convergence_budget.0;
    let load = Arc::new(LoadState::default());
    let control = Arc::new(LoadControl::default());
    let reads = Arc::new(ReadLog::default());
    let mut all = world.all.clone();
    let entities = s.entity_ids();
    for (i, env) in s.env_names().iter().enumerate() {
        let follows = Arc::new(Follows::default());
        // The reader: the environment's website, reading views through the delivery API (when the scenario has
        // readers; without them only the final reading judges views).
        if s.readers.enabled {
            let reader_name = format!("reader-{env}");
            let reader_addr = SocketAddr::new(ip(NET_READERS, i), PORT);
            let reader_node = Handle::current().create_node().name(reader_name.clone()).ip(reader_addr.ip()).build();
            all.push(reader_node.id());
            let reader = Reader {
                env: env.into(),
                node: reader_name.as_str().into(),
                ep: reader_node
                    .spawn(async move { Endpoint::bind(reader_addr).await })
                    .await
                    .expect("bind task")
                    .expect("reader bind"),
                store: world.topology.store,
                entities: entities.iter().map(Name::from).collect(),
                hot_entities: s.load.hot_entities.get() as usize,
                hot_percent: s.load.hot_percent.get(),
                schemas: s.schemas.len(),
                interval: s.readers.interval.0,
                rng: rng::stream_named(seed, "reader", env),
                follows: follows.clone(),
                log: reads.clone(),
                recorder: recorder.clone(),
                run_start,
            };
            reader_node.spawn(reader.run());
        }

        // The client: the environment's CMS pushing content. A mirror sends its source environment's contents.
        let name = format!("client-{env}");
        let client_addr = SocketAddr::new(ip(NET_CLIENTS, i), PORT);
        let node = Handle::current().create_node().name(name.clone()).ip(client_addr.ip()).build();
        all.push(node.id());
        let ctx = world.client_context(&name, client_addr, &recorder);
        let content_env = s.environments.mirrors.get(env).cloned().unwrap_or_else(|| env.clone());
        load.generators_running.fetch_add(1, Ordering::SeqCst);
        let (scenario, recorder, load, control, ingest, env) =
            (s.clone(), recorder.clone(), load.clone(), control.clone(), world.topology.ingest.clone(), env.clone());
        node.spawn(async move {
            let ep = Endpoint::bind(ctx.addr).await.expect("client bind");
            let client = Client {
                env_index: i,
                env: env.into(),
                // A mirror draws from its source's stream, so it writes the same entities with the same contents.
                rng: rng::stream_named(seed, "load", &content_env),
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

    // Liveness phase: every fault healed, no new load; the system must answer every client, drain its queue and
    // its outbox within the budget. Readers keep reading.
    injector.heal_all();
    recorder.harness(&harness, HarnessEvent::PhaseStarted { phase: "liveness" });
    let (queue_addr, store_addr) = (world.topology.queue, world.topology.store);
    let mut quiescent = false;
    let mut queue = QueueStats::default();
    let mut outbox = 0;
    while Instant::now() < give_up_at {
        madsim::time::sleep(QUIESCENCE_POLL).await;
        // Clients and deploys must be done *before* the system is asked: otherwise a request acknowledged while
        // the stats were on their way back could have enqueued jobs the stats do not show, and the system would
        // be declared quiet with work pending (found by the fuzz target).
        let idle_before = load.idle() && deploys_running.load(Ordering::SeqCst) == 0;
        let (ep, counter) = (checker_ep.clone(), observers.clone());
        // The checker asks the system whether it has work left: a client outside the system, calling madsim directly.
        #[allow(clippy::disallowed_methods)]
        let stats = world
            .checker
            .spawn(async move {
                counter.fetch_add(4, Ordering::Relaxed);
                let queue = ep.call_timeout(queue_addr, GetQueueStats, CHECKER_CALL_TIMEOUT).await.ok()?;
                let store = ep.call_timeout(store_addr, GetStoreStats, CHECKER_CALL_TIMEOUT).await.ok()?;
                Some((queue, store))
            })
            .await
            .expect("stats task");
        if let Some((stats, store)) = stats {
            queue = stats;
            outbox = store.outbox;
            if idle_before && stats.pending == 0 && stats.leased == 0 && store.outbox == 0 {
                quiescent = true;
                break;
            }
        }
    }
    reads.stop.store(true, Ordering::SeqCst);
    recorder.harness(
        &world.checker_node,
        HarnessEvent::FinalRead { quiescent, pending: queue.pending as u64, leased: queue.leased as u64 },
    );
    let (ep, envs, counter) = (checker_ep.clone(), s.env_names().to_vec(), observers.clone());
    let envs = world
        .checker
        .spawn(async move { read_final(&ep, store_addr, &envs, &counter).await })
        .await
        .expect("final read task");
    let final_state = envs.map(|envs| FinalState {
        quiescent,
        queue,
        outbox,
        requests_in_flight: load.in_flight.load(Ordering::SeqCst),
        envs,
    });
    let writes = std::mem::take(&mut *load.writes.lock().expect("writes lock"));
    let deploys = std::mem::take(&mut *deploy_log.lock().expect("deploy log lock"));
    let read_list = std::mem::take(&mut *reads.reads.lock().expect("reads lock"));
    let observation = Observation {
        writes,
        deploys,
        reads: read_list,
        final_state,
        load: LoadCounters {
            sent: load.sent.load(Ordering::SeqCst),
            retries: load.retries.load(Ordering::SeqCst),
            busy: load.busy.load(Ordering::SeqCst),
            abandoned: load.abandoned.load(Ordering::SeqCst),
            given_up: load.given_up.load(Ordering::SeqCst),
        },
        net_messages: madsim::net::NetSim::current().stat().msg_count,
        observer_messages: observers.load(Ordering::SeqCst) + reads.messages.load(Ordering::SeqCst),
        simulated: run_start.elapsed(),
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

/// Deploys a schema through an ingest node, retrying until it is done, as an operator would, and returns the
/// version the reply named. If it never finishes, the run does not go quiet and the oracle reports it. The
/// operator is a client outside the system: it calls madsim directly, under madsim's faults only.
#[allow(clippy::disallowed_methods)]
async fn deploy(
    ep: &Endpoint,
    ingest: &[SocketAddr],
    recorder: &Recorder,
    node: &Arc<str>,
    env: Name,
    schema: Name,
    fields: Vec<String>,
) -> u64 {
    recorder.harness(node, HarnessEvent::DeploySent { env: env.clone(), schema: schema.clone() });
    let mut attempt = 0usize;
    loop {
        let dst = ingest[attempt % ingest.len()];
        attempt += 1;
        let req = DeploySchema { env: env.clone(), name: schema.clone(), fields: fields.clone() };
        if let Ok(DeployReply::Deployed { version, jobs }) = ep.call_timeout(dst, req, Duration::from_secs(30)).await {
            recorder.harness(node, HarnessEvent::DeployDone { env, schema, version, jobs: jobs as u64 });
            return version;
        }
        madsim::time::sleep(Duration::from_millis(200)).await;
    }
}
