//! The final reading: every environment's schemas, sources and views, read through the public API after the
//! liveness phase. What it returns is what a customer would see; the oracle compares it with its model.

use madsim::net::rpc::Request;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use system::model::{Name, SchemaDef, Source, View};
use system::net::{Endpoint, LinkShaper};
use system::proto::{ListContent, ListSchemas, QueueStats};

const CHECKER_CALL_TIMEOUT: Duration = Duration::from_secs(1);
const CHECKER_ATTEMPTS_MAX: u32 = 20;
const PAGE_SIZE: usize = 100;

/// Everything the checker read at the end of a run.
#[derive(Clone, Debug, Default)]
pub struct FinalState {
    /// Whether the system was judged done, from outside, before the budget ran out: every client answered or
    /// given up, every deploy answered, and for a whole window the network carried nothing but observers' reads
    /// and idle polls while two full readings stayed the same. The reading below is the evidence the oracle
    /// judges; this only says whether the system may still have been working when it was taken.
    pub quiescent: bool,
    /// What the system's own statistics said at the end, when it was not judged done: for the explanation only.
    pub system_said: Option<(QueueStats, usize)>,
    pub requests_in_flight: u64,
    pub envs: BTreeMap<Name, EnvState>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvState {
    pub schemas: BTreeMap<Name, SchemaDef>,
    pub sources: BTreeMap<Name, Source>,
    pub views: BTreeMap<Name, BTreeMap<Name, View>>,
}

/// The checker's two nodes: one lists schemas, the other content (madsim counts one request type per node, see
/// `wiretap`), each with its endpoint.
#[derive(Clone)]
pub struct Checker {
    pub schemas: Endpoint,
    pub content: Endpoint,
    pub links: Arc<dyn LinkShaper>,
    pub store: SocketAddr,
}

/// Calls until answered, a bounded number of times; the checker needs an answer, not a verdict on latency.
async fn call_patiently<R: Request + Clone>(
    ep: &Endpoint,
    links: &dyn LinkShaper,
    dst: SocketAddr,
    req: R,
) -> Option<R::Response> {
    for _ in 0..CHECKER_ATTEMPTS_MAX {
        if let Some(reply) = call_outside(ep, links, dst, req.clone(), CHECKER_CALL_TIMEOUT).await {
            return Some(reply);
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

impl Checker {
    /// Reads every environment's schemas, sources and views through the public API.
    pub async fn read(&self, envs: &[String]) -> Option<BTreeMap<Name, EnvState>> {
        let mut out = BTreeMap::new();
        for env in envs {
            let mut state = EnvState::default();
            let schemas = ListSchemas { env: env.into() };
            for def in call_patiently(&self.schemas, &*self.links, self.store, schemas).await? {
                state.schemas.insert(def.name.clone(), def);
            }
            let mut after = None;
            loop {
                let list = ListContent { env: env.into(), after: after.clone(), limit: PAGE_SIZE };
                let page = call_patiently(&self.content, &*self.links, self.store, list).await?;
                let Some((last, _)) = page.last() else { break };
                after = Some(last.entity.clone());
                for (source, views) in page {
                    let entity = source.entity.clone();
                    state.views.insert(entity.clone(), views.into_iter().map(|v| (v.schema.clone(), v)).collect());
                    state.sources.insert(entity, source);
                }
            }
            out.insert(env.into(), state);
        }
        Some(out)
    }
}

/// One call of a harness actor outside the system (a reader, the checker, the operator deploying schemas),
/// bounded by `timeout`. It meets the faults everyone meets: the link layer's loss and latency both ways, and
/// madsim's partitions beneath (in a live run, the real network's). Outside the system, it calls the network
/// directly.
#[allow(clippy::disallowed_methods)]
pub async fn call_outside<R: madsim::net::rpc::Request, L: system::net::LinkShaper + ?Sized>(
    ep: &system::net::Endpoint,
    links: &L,
    dst: std::net::SocketAddr,
    request: R,
    timeout: std::time::Duration,
) -> Option<R::Response> {
    let here = ep.local_addr().ok()?.ip();
    let attempt = async {
        system::net::deliver(links.shape(here, dst.ip())).await;
        let response = ep.call(dst, request).await;
        system::net::deliver(links.shape(dst.ip(), here)).await;
        response
    };
    madsim::time::timeout(timeout, attempt).await.ok()?.ok()
}
