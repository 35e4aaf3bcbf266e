//! The ingest service: accepts source entities and schema deploys from clients and turns them into jobs.
//!
//! An ingest is acknowledged only once its content is stored and its jobs are queued, so that an acknowledged
//! ingest always ends up in views. When the queue is full the client is told "busy" and may retry with the same
//! request id; the store recognises the id, so the retry re-enqueues the jobs without storing a new version. A
//! client that never retries loses nothing either: a stored version stays in the store's outbox until its jobs
//! are queued (see `store.rs`).

use crate::events::Event;
use crate::flaws::Flaw;
use crate::model::{JobKind, JobSpec};
use crate::net::Endpoint;
use crate::net::{Backoff, Rpc};
use crate::node::NodeContext;
use crate::proto::*;

/// How often the flawed ingest of `retry-storm` retries a busy queue before giving up.
const STORM_RETRIES_MAX: u32 = 5_000;

/// Busy answers a deploy absorbs (backing off between them) before it reports "busy" to its client.
const DEPLOY_BUSY_RETRIES_MAX: u32 = 20;

/// Runs the ingest service on the current node until the node stops.
pub async fn serve(ctx: NodeContext) {
    let ep = Endpoint::bind(ctx.addr).await.expect("the ingest address is free on its own node");
    let rpc = Rpc::new(ep.clone(), ctx.clone());
    ctx.emit(Event::NodeStarted { role: "ingest" });

    let (c, r) = (ctx.clone(), rpc.clone());
    ep.add_rpc_handler(move |req: Ingest| {
        let (c, r) = (c.clone(), r.clone());
        async move { ingest(&c, &r, req).await }
    });
    let (c, r) = (ctx.clone(), rpc.clone());
    ep.add_rpc_handler(move |req: DeploySchema| {
        let (c, r) = (c.clone(), r.clone());
        async move { deploy(&c, &r, req).await }
    });
    std::future::pending::<()>().await;
}

async fn ingest(ctx: &NodeContext, rpc: &Rpc, req: Ingest) -> IngestReply {
    let topology = &ctx.topology;
    let put = PutSource {
        env: req.env.clone(),
        entity: req.entity.clone(),
        payload: req.payload,
        request: req.request,
        seq: req.seq,
    };
    let Ok(stored) = rpc.call_retrying(topology.store, put).await else {
        ctx.emit(Event::IngestUnavailable { env: req.env, entity: req.entity, request: req.request });
        return IngestReply::Unavailable;
    };
    let jobs: Vec<JobSpec> = if stored.stored {
        stored
            .schemas
            .iter()
            .map(|schema| JobSpec {
                env: req.env.clone(),
                entity: req.entity.clone(),
                schema: schema.clone(),
                kind: JobKind::Fresh,
            })
            .collect()
    } else {
        // The content is the newest already: whoever stored it queued its jobs before being acknowledged.
        Vec::new()
    };
    if stored.replayed && !jobs.is_empty() {
        ctx.mark(crate::marks::ENQUEUE_AFTER_REPLAY);
    }
    // The flaw `retry-storm`: instead of passing "busy" back, hammer the queue until it takes the jobs.
    let mut storm_retries = if ctx.config.flaws.has(Flaw::RetryStorm) { STORM_RETRIES_MAX } else { 0 };
    let mut backoff = Backoff::new(ctx);
    while !jobs.is_empty() {
        match rpc
            .call_retrying(topology.queue, Enqueue { jobs: jobs.clone(), request: Some((req.request, stored.version)) })
            .await
        {
            Ok(EnqueueReply::Accepted { .. }) => break,
            Ok(EnqueueReply::Busy) if storm_retries > 0 => {
                storm_retries -= 1;
                backoff.wait().await;
            }
            Ok(EnqueueReply::Busy) => {
                ctx.emit(Event::IngestBusy { env: req.env, entity: req.entity, request: req.request });
                return IngestReply::Busy;
            }
            Err(_) => {
                ctx.emit(Event::IngestUnavailable { env: req.env, entity: req.entity, request: req.request });
                return IngestReply::Unavailable;
            }
        }
    }
    ctx.emit(Event::IngestAcked {
        env: req.env,
        entity: req.entity,
        version: stored.version,
        request: req.request,
        jobs: jobs.len(),
    });
    IngestReply::Acked { version: stored.version, superseded: stored.superseded }
}

/// Stores the schema, then enqueues one bulk job per entity of the environment, a page at a time.
async fn deploy(ctx: &NodeContext, rpc: &Rpc, req: DeploySchema) -> DeployReply {
    if ctx.config.flaws.has(crate::flaws::Flaw::DeployNeverAnswers) {
        // The flaw: waiting for a lock this handler holds itself.
        return std::future::pending().await;
    }
    let topology = &ctx.topology;
    let put =
        PutSchema { env: req.env.clone(), name: req.name.clone(), fields: req.fields.clone(), request: req.request };
    let Ok(def) = rpc.call_retrying(topology.store, put).await else {
        return DeployReply::Unavailable;
    };
    if def.fields != req.fields {
        // A newer deploy replaced this one's fields: it re-processes the environment; this one is over.
        return DeployReply::Superseded { version: def.version };
    }
    let mut after = None;
    let mut jobs_total = 0;
    loop {
        // Only what the deploy still owes: entities already rendered under this schema version are skipped, so a
        // retried deploy resumes where the views stand. (Starting over each time, a deploy longer than its
        // caller's patience was retried forever, each attempt re-enqueueing the whole environment.)
        let list = ListEntities {
            env: req.env.clone(),
            after: after.clone(),
            limit: ctx.config.deploy_page_size,
            unrendered: Some((req.name.clone(), def.version)),
        };
        let Ok(page) = rpc.call_retrying(topology.store, list).await else {
            return DeployReply::Unavailable;
        };
        let Some(last) = page.last().cloned() else { break };
        let jobs: Vec<JobSpec> = page
            .into_iter()
            .map(|entity| JobSpec { env: req.env.clone(), entity, schema: req.name.clone(), kind: JobKind::Bulk })
            .collect();
        // A page is enqueued in chunks that fit: the queue takes an enqueue whole or not at all, and an
        // environment's limit may be smaller than a page (a deploy refused whole would never be answered). A
        // refused chunk is halved; a single job refused waits for the workers to drain the environment.
        let mut backoff = Backoff::new(ctx);
        let mut busy_retries = 0;
        let mut chunk = jobs.len();
        let mut rest: &[JobSpec] = &jobs;
        while !rest.is_empty() {
            let now = &rest[..chunk.min(rest.len())];
            match rpc.call_retrying(topology.queue, Enqueue { jobs: now.to_vec(), request: None }).await {
                Ok(EnqueueReply::Accepted { .. }) => {
                    rest = &rest[now.len()..];
                    backoff.reset();
                }
                Ok(EnqueueReply::Busy) if now.len() > 1 => chunk = now.len() / 2,
                Ok(EnqueueReply::Busy) if busy_retries < DEPLOY_BUSY_RETRIES_MAX => {
                    busy_retries += 1;
                    backoff.wait().await;
                }
                Ok(EnqueueReply::Busy) => return DeployReply::Busy,
                Err(_) => return DeployReply::Unavailable,
            }
        }
        jobs_total += jobs.len();
        after = Some(last);
    }
    ctx.emit(Event::DeployAcked { env: req.env, schema: req.name, version: def.version, jobs: jobs_total });
    DeployReply::Deployed { version: def.version, jobs: jobs_total }
}
