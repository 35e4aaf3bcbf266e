//! The final reading: every environment's schemas, sources and views, read through the public API after the
//! liveness phase. What it returns is what a customer would see; the oracle compares it with its model.

use madsim::net::rpc::Request;
use madsim::net::Endpoint;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use system::model::{Name, SchemaDef, Source, View};
use system::proto::{ListContent, ListSchemas, QueueStats};

const CHECKER_CALL_TIMEOUT: Duration = Duration::from_secs(1);
const CHECKER_ATTEMPTS_MAX: u32 = 20;
const PAGE_SIZE: usize = 100;

/// Everything the checker read at the end of a run.
#[derive(Clone, Debug, Default)]
pub struct FinalState {
    /// Whether the system said it had no work left (queue drained, outbox empty), all clients were answered
    /// and all deploys done, before the budget ran out. The system's claim; the reading below is the evidence.
    pub quiescent: bool,
    pub queue: QueueStats,
    /// Stored versions whose jobs the store still owed the queue.
    pub outbox: usize,
    pub requests_in_flight: u64,
    pub envs: BTreeMap<Name, EnvState>,
}

#[derive(Clone, Debug, Default)]
pub struct EnvState {
    pub schemas: BTreeMap<Name, SchemaDef>,
    pub sources: BTreeMap<Name, Source>,
    pub views: BTreeMap<Name, BTreeMap<Name, View>>,
}

/// Calls until answered, a bounded number of times; the checker needs an answer, not a verdict on latency. The
/// checker is outside the system: it calls madsim directly, under madsim's faults only.
#[allow(clippy::disallowed_methods)]
pub async fn call_patiently<R: Request + Clone>(
    ep: &Endpoint,
    dst: SocketAddr,
    req: R,
    messages: &std::sync::atomic::AtomicU64,
) -> Option<R::Response> {
    for _ in 0..CHECKER_ATTEMPTS_MAX {
        messages.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
        if let Ok(reply) = ep.call_timeout(dst, req.clone(), CHECKER_CALL_TIMEOUT).await {
            return Some(reply);
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Reads every environment's schemas, sources and views through the public API.
pub async fn read_final(
    ep: &Endpoint,
    store: SocketAddr,
    envs: &[String],
    messages: &std::sync::atomic::AtomicU64,
) -> Option<BTreeMap<Name, EnvState>> {
    let mut out = BTreeMap::new();
    for env in envs {
        let mut state = EnvState::default();
        for def in call_patiently(ep, store, ListSchemas { env: env.into() }, messages).await? {
            state.schemas.insert(def.name.clone(), def);
        }
        let mut after = None;
        loop {
            let list = ListContent { env: env.into(), after: after.clone(), limit: PAGE_SIZE };
            let page = call_patiently(ep, store, list, messages).await?;
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
