//! A lease request is idempotent: the queue, asked twice for the same request of one work loop (a retry after a
//! lost answer, or a duplicated call), answers the repeat with the leases the first attempt got, never with more
//! jobs that nobody would process until their leases ran out. Found by a swarm seed whose lost lease answers left
//! a fresh job leased to nobody for seconds (`scenarios/regressions/lease-answer-lost.toml`).
//!
//! The queue runs alone on madsim here, with an in-memory disk, and the test speaks its protocol directly.

use madsim::net::Endpoint;
use madsim::runtime::Handle;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use system::clock::MonotonicClock;
use system::config::SystemConfig;
use system::disk::MemDisk;
use system::events::NullSink;
use system::model::{JobKind, JobSpec};
use system::net::{NoShaping, Rpc};
use system::node::{NodeContext, Topology};
use system::proto::{Enqueue, EnqueueReply, Lease, LeaseJob};

fn at(last: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 7, 0, last)), 7000)
}

fn context(name: &str, addr: SocketAddr, topology: &Arc<Topology>) -> NodeContext {
    NodeContext {
        name: name.to_string(),
        addr,
        clock: Arc::new(MonotonicClock::new(1_700_000_000_000)),
        events: Arc::new(NullSink),
        links: Arc::new(NoShaping),
        config: Arc::new(SystemConfig::default()),
        topology: topology.clone(),
        points: Arc::new(system::points::NeverFire),
    }
}

fn job(entity: &str) -> JobSpec {
    JobSpec { env: "acme".into(), entity: entity.into(), schema: "page".into(), kind: JobKind::Fresh }
}

fn ask(slot: u32, request: u64, wait_ms: u64) -> LeaseJob {
    LeaseJob { worker: "worker-1".into(), slot, request, ack: vec![], max: 2, wait_ms }
}

fn tokens(leases: &[Lease]) -> Vec<u64> {
    leases.iter().map(|lease| lease.token).collect()
}

#[test]
fn a_repeated_lease_request_gets_the_same_leases_and_a_new_one_gets_new_jobs() {
    let runtime = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
    runtime.block_on(async {
        let handle = Handle::current();
        let topology = Arc::new(Topology { store: at(1), queue: at(2), ingest: vec![] });
        let queue = context("queue", topology.queue, &topology);
        handle
            .create_node()
            .name("queue")
            .ip(topology.queue.ip())
            .build()
            .spawn(system::queue::serve(queue, Arc::new(MemDisk::default())));
        let worker = context("worker-1", at(3), &topology);
        let t = topology.clone();
        let checked = handle.create_node().name("worker-1").ip(at(3).ip()).build().spawn(async move {
            madsim::time::sleep(Duration::from_millis(10)).await;
            let rpc = Rpc::new(Endpoint::bind(worker.addr).await.unwrap(), worker);
            let jobs = vec![job("a"), job("b"), job("c"), job("d")];
            let reply = rpc.call(t.queue, Enqueue { jobs, request: Some((1, system::model::Version(1))) }).await;
            assert!(matches!(reply, Ok(EnqueueReply::Accepted { new: 4, .. })), "{reply:?}");

            let first = rpc.call(t.queue, ask(0, 1, 0)).await.unwrap();
            assert_eq!(first.len(), 2, "two jobs asked, four pending");
            let repeat = rpc.call(t.queue, ask(0, 1, 0)).await.unwrap();
            assert_eq!(tokens(&repeat), tokens(&first), "a repeat is answered with the first answer's leases");
            assert!(repeat.iter().zip(&first).all(|(r, f)| r.job == f.job && r.lease_ms <= f.lease_ms));

            // Another loop of the same worker, or this loop's next request, is new work.
            let other = rpc.call(t.queue, ask(1, 1, 0)).await.unwrap();
            let next = rpc.call(t.queue, ask(0, 2, 0)).await.unwrap();
            assert_eq!(other.len() + next.len(), 2, "the two jobs left, once each");
            let mut all: Vec<u64> = [&first, &other, &next].iter().flat_map(|l| tokens(l)).collect();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), 4, "every job leased once");

            // Nothing is left: a long poll waits its whole wait, and its repeat, already answered empty, returns
            // at once instead of waiting again.
            let poll = |request| rpc.call_within(t.queue, ask(0, request, 500), Duration::from_secs(2));
            let started = madsim::time::Instant::now();
            assert!(poll(3).await.unwrap().is_empty());
            assert!(started.elapsed() >= Duration::from_millis(500), "the first poll waited");
            let started = madsim::time::Instant::now();
            assert!(poll(3).await.unwrap().is_empty());
            assert!(started.elapsed() < Duration::from_millis(100), "its repeat was answered at once");
        });
        checked.await.expect("the worker's checks");
    });
}
