//! Helpers shared by the integration tests: load a scenario of the catalog by name, run a seed, a three-node
//! cluster for fault-effect tests ([`mini`]), and the generator of fuzzed scenarios ([`fuzz`]).

pub mod fuzz;

use sim::scenario::LoadedScenario;
use sim::world::{run_seed, RunResult};
use std::path::PathBuf;

/// The repository's `scenarios/` folder, independent of the directory the tests run in.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("scenarios")
}

pub fn scenario(name: &str) -> LoadedScenario {
    sim::scenario::resolve(name, &scenarios_dir()).unwrap_or_else(|e| panic!("catalog scenario {name}: {e}"))
}

/// The names of the catalog's scenarios that the correct system must pass: everything but the canaries.
pub fn catalog_names() -> Vec<String> {
    let dir = scenarios_dir();
    sim::catalog::list(&dir)
        .into_iter()
        .filter_map(|p| {
            p.strip_prefix(&dir).ok().map(|rel| rel.with_extension("").to_string_lossy().replace('\\', "/"))
        })
        .filter(|name| !name.starts_with("canaries/") && !name.starts_with("rare/"))
        .collect()
}

pub fn run(name: &str, seed: u64) -> RunResult {
    run_seed(&scenario(name), seed)
}

/// A three-node cluster (`a`, `b`, `c`) with a counting ping service on each, wired to the harness's real fault
/// injector, so that a test can apply a fault and observe its effect from the outside. Build it inside a
/// runtime with [`Mini::new`].
pub mod mini {
    use madsim::net::Endpoint;
    use madsim::runtime::{Handle, NodeHandle};
    use serde::{Deserialize, Serialize};
    use sim::faults::clock::SimClock;
    use sim::faults::inject::{Cluster, Injector, NodeInfo};
    use sim::faults::net::FaultNet;
    use sim::faults::FaultSpec;
    use sim::load::LoadControl;
    use sim::trace::Recorder;
    use std::collections::BTreeMap;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    use system::config::SystemConfig;
    use system::net::{Rpc, RpcError};
    use system::node::{NodeContext, Topology};

    /// Counts the pings a node received and answers the count.
    #[derive(Clone, Debug, Serialize, Deserialize, madsim::Request)]
    #[rtype("u64")]
    pub struct Ping;

    pub const NAMES: [&str; 3] = ["a", "b", "c"];
    const PORT: u16 = 9000;

    pub struct Mini {
        pub injector: Arc<Injector>,
        pub nodes: BTreeMap<&'static str, NodeHandle>,
        pub received: BTreeMap<&'static str, Arc<AtomicU64>>,
        pub clocks: BTreeMap<&'static str, Arc<SimClock>>,
        net: Arc<FaultNet>,
        recorder: Arc<Recorder>,
    }

    fn ip(i: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 9, 0, i as u8 + 1))
    }

    pub fn addr(name: &str) -> SocketAddr {
        SocketAddr::new(ip(NAMES.iter().position(|n| *n == name).expect("a, b or c")), PORT)
    }

    impl Mini {
        pub async fn new() -> Mini {
            let handle = Handle::current();
            let recorder = Arc::new(Recorder::default());
            recorder.start_clock();
            let net = Arc::new(FaultNet::new(sim::branch::Streams::new(1, &[]).stream("net-loss", 0)));
            let (mut nodes, mut received, mut clocks, mut infos, mut all) =
                (BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), Vec::new());
            for (i, name) in NAMES.iter().enumerate() {
                let count = Arc::new(AtomicU64::new(0));
                let c = count.clone();
                let node = handle
                    .create_node()
                    .name(*name)
                    .ip(ip(i))
                    .init(move || {
                        let c = c.clone();
                        async move {
                            let ep = Endpoint::bind(SocketAddr::new(ip(i), PORT)).await.unwrap();
                            ep.add_rpc_handler(move |_: Ping| {
                                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                                async move { n }
                            });
                            std::future::pending::<()>().await;
                        }
                    })
                    .build();
                let clock = Arc::new(SimClock::new());
                all.push(node.id());
                infos.insert(
                    name.to_string(),
                    NodeInfo { id: node.id(), ip: ip(i), clock: clock.clone(), disks: vec![] },
                );
                nodes.insert(*name, node);
                received.insert(*name, count);
                clocks.insert(*name, clock);
            }
            let cluster = Cluster {
                nodes: infos,
                all,
                workers: vec![],
                net: net.clone(),
                load: Arc::new(LoadControl::default()),
                deployer: Arc::new(|_, _, _| {}),
            };
            madsim::time::sleep(Duration::from_millis(10)).await;
            Mini {
                injector: Arc::new(Injector::new(cluster, recorder.clone(), None)),
                nodes,
                received,
                clocks,
                net,
                recorder,
            }
        }

        /// Starts executing `plan` now, in the background.
        pub fn inject(&self, plan: Vec<FaultSpec>) {
            let injector = self.injector.clone();
            let start = madsim::time::Instant::now();
            madsim::task::spawn(async move { injector.run(&plan, &[], start).await });
        }

        /// One ping from `from` to `to` through the system's RPC layer (timeout 1 s), and how long it took.
        pub async fn ping(&self, from: &'static str, to: &'static str) -> (Result<u64, RpcError>, Duration) {
            let ctx = NodeContext {
                name: from.to_string(),
                addr: SocketAddr::new(addr(from).ip(), 0),
                clock: self.clocks[from].clone(),
                events: self.recorder.sink(from),
                links: self.net.clone(),
                config: Arc::new(SystemConfig::default()),
                topology: Arc::new(Topology { store: addr("a"), queue: addr("a"), ingest: vec![] }),
                points: std::sync::Arc::new(system::points::NeverFire),
            };
            let dst = addr(to);
            self.nodes[from]
                .spawn(async move {
                    let ep = Endpoint::bind(SocketAddr::new(ctx.addr.ip(), 0)).await.unwrap();
                    let started = madsim::time::Instant::now();
                    let result = Rpc::new(ep, ctx).call_within(dst, Ping, Duration::from_secs(1)).await;
                    (result, started.elapsed())
                })
                .await
                .unwrap()
        }

        /// One ping from `from` to `to` through a plain madsim endpoint, never touching the system's RPC layer or
        /// its link shaping (timeout 1 s), and how long it took: what any code that escaped the system's transport
        /// seam would see.
        #[allow(clippy::disallowed_methods)]
        pub async fn plain_ping(&self, from: &'static str, to: &'static str) -> (Result<u64, String>, Duration) {
            let dst = addr(to);
            let here = addr(from).ip();
            self.nodes[from]
                .spawn(async move {
                    let ep = Endpoint::bind(SocketAddr::new(here, 0)).await.unwrap();
                    let started = madsim::time::Instant::now();
                    let result = ep.call_timeout(dst, Ping, Duration::from_secs(1)).await.map_err(|e| e.to_string());
                    (result, started.elapsed())
                })
                .await
                .unwrap()
        }

        /// One ping from `from` to `to` as the harness's own actors call (readers, the checker, the operator):
        /// through the link layer every actor's messages pass, with its loss and latency (timeout 1 s).
        pub async fn outside_ping(&self, from: &'static str, to: &'static str) -> Option<u64> {
            let dst = addr(to);
            let here = addr(from).ip();
            let net = self.net.clone();
            self.nodes[from]
                .spawn(async move {
                    let ep = Endpoint::bind(SocketAddr::new(here, 0)).await.unwrap();
                    sim::world::wiretap::call_outside(&ep, &*net, dst, Ping, Duration::from_secs(1)).await
                })
                .await
                .unwrap()
        }

        pub fn received(&self, name: &str) -> u64 {
            self.received[name].load(Ordering::SeqCst)
        }
    }

    /// Runs `f` in a fresh seeded runtime on the current thread.
    pub fn simulate<F: std::future::Future<Output = ()>>(f: impl FnOnce() -> F) {
        let runtime = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
        runtime.block_on(f());
    }

    /// A fault spec from TOML text (the format users write), so tests read like scenario files.
    pub fn spec(toml_text: &str) -> FaultSpec {
        toml::from_str(toml_text).unwrap_or_else(|e| panic!("bad spec in test: {e}"))
    }
}
