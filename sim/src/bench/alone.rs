//! The system alone on madsim: the same nodes, configuration and load rate as a scenario, without the harness.
//! No faults, no link shaping, no recorder (events go to a sink that drops them), no readers, no checks, and an
//! in-memory disk that is always durable. What a harness seed costs per message beyond this is the harness's own
//! cost; what this costs beyond a trivial madsim program is the system's.

use crate::rng;
use crate::scenario::Scenario;
use crate::world::cluster::{addr, system_config, topology};
use madsim::net::Endpoint;
use madsim::runtime::Handle;
use rand::Rng;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use system::clock::MonotonicClock;
use system::disk::MemDisk;
use system::events::NullSink;
use system::model::Name;
use system::net::{NoShaping, Rpc};
use system::node::NodeContext;
use system::proto::{DeployReply, DeploySchema, Ingest, IngestReply};

/// Attempts per write at most; the system alone has no faults, so a write rarely needs a second.
const ATTEMPTS_MAX: u32 = 10;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// Any fixed epoch: the clocks only need to agree with each other.
const EPOCH_MS: u64 = 1_700_000_000_000;

pub struct Alone {
    pub wall: Duration,
    pub messages: u64,
}

/// Runs `scenario`'s system with its load for the scenario's safety duration, and on until `until` of simulated
/// time (a harness seed's length, so that both do the same work in the same time), on a fresh thread, timed.
pub fn run(scenario: &Scenario, seed: u64, until: Duration) -> Alone {
    let s = scenario.clone();
    // A fresh OS thread for the runtime, as for every seed; outside any simulation.
    #[allow(clippy::disallowed_methods)]
    let thread = std::thread::spawn(move || {
        let runtime = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
        let started = super::now();
        let messages = runtime.block_on(simulate(s, seed, until));
        Alone { wall: started.elapsed(), messages }
    });
    thread.join().expect("the system-alone thread")
}

async fn simulate(s: Scenario, seed: u64, until: Duration) -> u64 {
    let end = madsim::time::Instant::now() + until;
    let handle = Handle::current();
    let config = Arc::new(system_config(&s));
    let topology = Arc::new(topology(&s));
    let context = |name: &str, at: SocketAddr| NodeContext {
        name: name.to_string(),
        addr: at,
        clock: Arc::new(MonotonicClock::new(EPOCH_MS)),
        events: Arc::new(NullSink),
        links: Arc::new(NoShaping),
        config: config.clone(),
        topology: topology.clone(),
        points: std::sync::Arc::new(system::points::NeverFire),
    };
    let store = context("store", topology.store);
    let disk = Arc::new(MemDisk::default());
    handle.create_node().name("store").ip(topology.store.ip()).build().spawn(system::store::serve(store, disk));
    let queue = context("queue", topology.queue);
    let disk = Arc::new(MemDisk::default());
    handle.create_node().name("queue").ip(topology.queue.ip()).build().spawn(system::queue::serve(queue, disk));
    for (i, &at) in topology.ingest.iter().enumerate() {
        let name = format!("ingest-{}", i + 1);
        handle.create_node().name(&name).ip(at.ip()).build().spawn(system::ingest::serve(context(&name, at)));
    }
    for i in 0..s.topology.workers.get() as usize {
        let (name, at) = (format!("worker-{}", i + 1), addr(2, i));
        handle.create_node().name(&name).ip(at.ip()).build().spawn(system::worker::serve(context(&name, at)));
    }
    madsim::time::sleep(Duration::from_millis(1)).await;

    // The schemas, deployed once per environment before the load, as the harness's operator does.
    let operator_at = addr(9, 0);
    let operator = context("operator", operator_at);
    let ingest = topology.ingest.clone();
    let schemas = s.schemas.clone();
    let envs = s.env_names().to_vec();
    handle
        .create_node()
        .name("operator")
        .ip(operator_at.ip())
        .build()
        .spawn(async move {
            let rpc = Rpc::new(Endpoint::bind(operator.addr).await.expect("operator bind"), operator);
            for env in &envs {
                for schema in &schemas {
                    let deploy = DeploySchema {
                        env: env.into(),
                        name: schema.name.as_str().into(),
                        fields: schema.fields.clone(),
                        request: 1,
                    };
                    // Bounded like every retry loop; with no faults the first attempt is answered.
                    let mut deployed = false;
                    for _ in 0..ATTEMPTS_MAX {
                        if let Ok(DeployReply::Deployed { .. }) = rpc.call(ingest[0], deploy.clone()).await {
                            deployed = true;
                            break;
                        }
                    }
                    assert!(
                        deployed,
                        "the system alone did not deploy {env}/{} in {ATTEMPTS_MAX} attempts",
                        schema.name
                    );
                }
            }
        })
        .await
        .expect("the operator's deploys");

    // One client per environment at the scenario's rate, each write a task that retries until acknowledged.
    let load_end = madsim::time::Instant::now() + s.run.safety.0;
    let mut clients = Vec::new();
    for (i, env) in s.env_names().iter().enumerate() {
        let at = addr(3, i);
        let ctx = context(&format!("client-{env}"), at);
        let (env, entities, load, ingest) = (
            Name::from(env),
            s.entity_ids_of(env).into_iter().map(Name::from).collect::<Vec<Name>>(),
            s.load.clone(),
            topology.ingest.clone(),
        );
        let mut rng = rng::stream_named(seed, "load", &env);
        clients.push(handle.create_node().ip(at.ip()).build().spawn(async move {
            let rpc = Rpc::new(Endpoint::bind(ctx.addr).await.expect("client bind"), ctx);
            let mean_gap_us = 1_000_000 / load.ingest_rate.get();
            let mut revisions: BTreeMap<usize, u64> = BTreeMap::new();
            let mut request = (i as u64 + 1) << 40;
            while madsim::time::Instant::now() < load_end {
                madsim::time::sleep(Duration::from_micros(rng.gen_range(0..=2 * mean_gap_us))).await;
                let index = if rng.gen_range(0..100) < load.hot_percent.get() {
                    rng.gen_range(0..load.hot_entities.get() as usize)
                } else {
                    rng.gen_range(0..entities.len())
                };
                let revision = revisions.entry(index).or_insert(0);
                *revision += 1;
                request += 1;
                let entity = entities[index].clone();
                let payload = crate::load::content(&env, &entity, *revision);
                let write = Ingest { request, seq: *revision, env: env.clone(), entity, payload };
                let (rpc, dst) = (rpc.clone(), ingest[request as usize % ingest.len()]);
                madsim::task::spawn(async move {
                    for _ in 0..ATTEMPTS_MAX {
                        if let Ok(IngestReply::Acked { .. }) =
                            rpc.call_within(dst, write.clone(), ATTEMPT_TIMEOUT).await
                        {
                            break;
                        }
                    }
                });
            }
        }));
    }
    for client in clients {
        client.await.expect("a client");
    }
    madsim::time::sleep_until(end).await;
    madsim::net::NetSim::current().stat().msg_count
}
