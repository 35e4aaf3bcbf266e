//! Wiring one run's cluster: the system's nodes (store, queue, ingest nodes, workers), each with its own clock,
//! event sink and, for the store and the queue, a disk that survives restarts; and the addresses of the
//! harness's own actors (clients, readers, the checker).

use crate::faults::clock::SimClock;
use crate::faults::disk::SimDisk;
use crate::faults::inject::NodeInfo;
use crate::faults::net::FaultNet;
use crate::scenario::Scenario;
use crate::trace::Recorder;
use madsim::runtime::{Handle, NodeHandle};
use madsim::task::NodeId;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use system::config::SystemConfig;
use system::node::{NodeContext, Topology};

pub const PORT: u16 = 7000;

/// Subnets: the system's services, ingest nodes, workers, load clients, readers, the checker.
pub const NET_CLIENTS: u8 = 3;
pub const NET_READERS: u8 = 4;
pub const NET_CHECKER: u8 = 9;

pub fn ip(net: u8, host: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, net, (host + 1) as u8))
}

pub fn addr(net: u8, host: usize) -> SocketAddr {
    SocketAddr::new(ip(net, host), PORT)
}

pub use super::config::system_config;

/// Where a scenario's services listen: the store and the queue on subnet 0, the ingest nodes on subnet 1 (and the
/// workers on subnet 2).
pub fn topology(s: &Scenario) -> Topology {
    Topology {
        store: addr(0, 0),
        queue: addr(0, 1),
        ingest: (0..s.topology.ingest_nodes.get() as usize).map(|i| addr(1, i)).collect(),
    }
}

/// The nodes of one run and what the harness needs to drive them.
pub struct World {
    pub scenario: Arc<Scenario>,
    pub topology: Arc<Topology>,
    pub config: Arc<SystemConfig>,
    pub net: Arc<FaultNet>,
    pub checker: NodeHandle,
    pub checker_node: Arc<str>,
    pub nodes: BTreeMap<String, NodeInfo>,
    pub workers: Vec<String>,
    pub all: Vec<NodeId>,
    /// The fault points switched on for this run and the percent of calls each fires at (the harness's own draw,
    /// not anything the system said).
    pub points_on: Vec<(system::points::Point, u64)>,
}

type BoxFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

impl World {
    pub fn build(
        scenario: Arc<Scenario>,
        recorder: &Arc<Recorder>,
        streams: &crate::branch::Streams,
        stats: system::config::StatsHonesty,
    ) -> World {
        let handle = Handle::current();
        let config = Arc::new(SystemConfig { stats, ..system_config(&scenario) });
        let topology = Arc::new(topology(&scenario));
        let net = Arc::new(FaultNet::new(streams.stream("net-loss", 0)));
        let sim_points = crate::faults::points::SimPoints::new(&scenario.faults.points, streams, recorder.clone());
        let points_on = sim_points.switched_on();
        let points: Arc<dyn system::points::FaultPoints> = Arc::new(sim_points);
        let mut nodes = BTreeMap::new();
        let mut all = Vec::new();
        // Each node gets its own clock and a sink bound to its name. State captured by a node's init closure
        // (its disk) survives restarts; everything else of the node is lost when it crashes.
        let mut add = |name: &str,
                       node_addr: SocketAddr,
                       disks: Vec<Arc<SimDisk>>,
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
                points: points.clone(),
            };
            let node = handle.create_node().name(name).ip(node_addr.ip()).init(move || init(ctx.clone())).build();
            all.push(node.id());
            nodes.insert(name.to_string(), NodeInfo { id: node.id(), ip: node_addr.ip(), clock, disks });
        };

        let any_order = scenario.faults.writeback == crate::faults::Writeback::AnyOrder;
        let store_disk = Arc::new(SimDisk::new(streams.stream_named("disk", "store"), any_order));
        let d = store_disk.clone();
        add(
            "store",
            topology.store,
            vec![store_disk],
            Box::new(move |ctx| Box::pin(system::store::serve(ctx, d.clone()))),
        );
        let queue_disk = Arc::new(SimDisk::new(streams.stream_named("disk", "queue"), any_order));
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
        let checker = handle.create_node().name("checker").ip(ip(NET_CHECKER, 0)).build();
        all.push(checker.id());
        World {
            scenario,
            topology,
            config,
            net,
            checker,
            checker_node: "checker".into(),
            nodes,
            workers,
            all,
            points_on,
        }
    }

    /// A context for a harness actor (a load client) that talks to the system like any node.
    pub fn client_context(&self, name: &str, addr: SocketAddr, recorder: &Arc<Recorder>) -> NodeContext {
        NodeContext {
            name: name.to_string(),
            addr,
            clock: Arc::new(SimClock::new()),
            events: recorder.sink(name),
            links: self.net.clone(),
            config: self.config.clone(),
            topology: self.topology.clone(),
            // The harness's own actors take no unusual paths: fault points are the system's.
            points: Arc::new(system::points::NeverFire),
        }
    }
}
