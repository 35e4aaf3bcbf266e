//! A lease request is idempotent: the queue, asked twice for the same request of one work loop (a retry after a
//! lost answer, or a duplicated call), answers the repeat with the leases the first attempt got, never with more
//! jobs that nobody would process until their leases ran out; and a late copy of a request its loop has moved on
//! from is answered with nothing (the worker's incarnation tells a restarted worker's numbers from old ones). Both
//! were found by swarm seeds whose lost or repeated lease answers left fresh jobs leased to nobody for seconds; one
//! is kept as `tests/data/stale-lease-request.seed.toml`.
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

/// A request of the worker's first incarnation.
fn ask(slot: u32, request: u64, wait_ms: u64) -> LeaseJob {
    LeaseJob { worker: "worker-1".into(), incarnation: 11, slot, request, ack: vec![], max: 2, wait_ms }
}

/// A request of the worker after a restart, numbered from 0 again.
fn ask_restarted(slot: u32, request: u64, wait_ms: u64) -> LeaseJob {
    LeaseJob { incarnation: 12, ..ask(slot, request, wait_ms) }
}

fn tokens(leases: &[Lease]) -> Vec<u64> {
    leases.iter().map(|lease| lease.token).collect()
}

/// A queue node alone (its disk in memory, `points` as its fault points if given), and the context of a worker
/// beside it: the handle to create the worker's node with, the topology and the worker's context.
fn queue_alone(points: Option<Arc<dyn system::points::FaultPoints>>) -> (Handle, Arc<Topology>, NodeContext) {
    let handle = Handle::current();
    let topology = Arc::new(Topology { store: at(1), queue: at(2), ingest: vec![] });
    let mut queue = context("queue", topology.queue, &topology);
    if let Some(points) = points {
        queue.points = points;
    }
    handle
        .create_node()
        .name("queue")
        .ip(topology.queue.ip())
        .build()
        .spawn(system::queue::serve(queue, Arc::new(MemDisk::default())));
    let worker = context("worker-1", at(3), &topology);
    (handle, topology, worker)
}

#[test]
fn a_repeated_lease_request_gets_the_same_leases_and_a_new_one_gets_new_jobs() {
    let runtime = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
    runtime.block_on(async {
        let (handle, t, worker) = queue_alone(None);
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

            // A late copy of request 1, after request 2 was answered, gets nothing and does not wait, although
            // there is work: the loop that sent it is not waiting for its answer.
            let jobs = vec![job("e"), job("f")];
            let reply = rpc.call(t.queue, Enqueue { jobs, request: Some((2, system::model::Version(1))) }).await;
            assert!(matches!(reply, Ok(EnqueueReply::Accepted { new: 2, .. })), "{reply:?}");
            let started = madsim::time::Instant::now();
            let late = rpc.call_within(t.queue, ask(0, 1, 500), Duration::from_secs(2)).await.unwrap();
            assert!(late.is_empty(), "a stale request is granted nothing: {late:?}");
            assert!(started.elapsed() < Duration::from_millis(100), "and answered at once");

            // The worker restarts and numbers its requests from 0 again: new work, not stale. Its old
            // incarnation's requests are stale from then on, whatever their numbers.
            let restarted = rpc.call(t.queue, ask_restarted(0, 0, 0)).await.unwrap();
            assert_eq!(restarted.len(), 2, "the restarted worker's first request gets the two new jobs");
            rpc.call(t.queue, Enqueue { jobs: vec![job("g")], request: Some((3, system::model::Version(1))) })
                .await
                .unwrap();
            assert!(rpc.call(t.queue, ask(0, 9, 0)).await.unwrap().is_empty(), "the old incarnation is stale");
            assert_eq!(rpc.call(t.queue, ask_restarted(0, 1, 0)).await.unwrap().len(), 1, "the job is still there");

            // Nothing is left: a long poll waits its whole wait, and its repeat, already answered empty, returns
            // at once instead of waiting again.
            let poll = |request| rpc.call_within(t.queue, ask_restarted(0, request, 500), Duration::from_secs(2));
            let started = madsim::time::Instant::now();
            assert!(poll(2).await.unwrap().is_empty());
            assert!(started.elapsed() >= Duration::from_millis(500), "the first poll waited");
            let started = madsim::time::Instant::now();
            assert!(poll(2).await.unwrap().is_empty());
            assert!(started.elapsed() < Duration::from_millis(100), "its repeat was answered at once");
        });
        checked.await.expect("the worker's checks");
    });
}

/// Fires one fault point at every call.
struct Always(system::points::Point);

impl system::points::FaultPoints for Always {
    fn fire(&self, point: system::points::Point) -> bool {
        point == self.0
    }
    fn is_on(&self, point: system::points::Point) -> bool {
        point == self.0
    }
}

/// A long poll the `early-poll-return` point cut short is an answer like any other: a copy of its request that
/// arrives after work did (the `spurious-retry` point, or a retry) gets nothing, not jobs its loop is not waiting
/// for. Found by swarm seed 29938127004, kept as `tests/data/stale-lease-request.seed.toml`.
#[test]
fn a_lease_request_answered_early_and_empty_is_remembered_as_answered() {
    let runtime = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
    runtime.block_on(async {
        let (handle, t, worker) = queue_alone(Some(Arc::new(Always(system::points::Point::EarlyPollReturn))));
        let checked = handle.create_node().name("worker-1").ip(at(3).ip()).build().spawn(async move {
            madsim::time::sleep(Duration::from_millis(10)).await;
            let rpc = Rpc::new(Endpoint::bind(worker.addr).await.unwrap(), worker);
            let started = madsim::time::Instant::now();
            assert!(rpc.call(t.queue, ask(0, 1, 500)).await.unwrap().is_empty(), "no work yet");
            assert!(started.elapsed() < Duration::from_millis(100), "the poll was cut short");
            let jobs = vec![job("a"), job("b")];
            let reply = rpc.call(t.queue, Enqueue { jobs, request: Some((1, system::model::Version(1))) }).await;
            assert!(matches!(reply, Ok(EnqueueReply::Accepted { new: 2, .. })), "{reply:?}");
            let again = rpc.call(t.queue, ask(0, 1, 500)).await.unwrap();
            assert!(again.is_empty(), "a copy of the answered request is answered as it was: {again:?}");
            let next = rpc.call(t.queue, ask(0, 2, 500)).await.unwrap();
            assert_eq!(next.len(), 2, "the loop's next request gets the jobs, which nobody else holds");
        });
        checked.await.expect("the worker's checks");
    });
}
