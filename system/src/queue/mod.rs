//! The queue service: the [`fair::FairQueue`] behind RPC, with a background scan that redelivers expired
//! leases by the queue node's own clock.

pub mod fair;

use crate::events::Event;
use crate::model::JobSpec;
use crate::node::NodeContext;
use crate::proto::{AckJob, AckReply, Enqueue, EnqueueReply, GetQueueStats, Lease, LeaseJob, QueueStats};
use fair::{Enqueued, FairConfig, FairQueue};
use madsim::net::Endpoint;
use std::sync::{Arc, Mutex};

/// The queue's state. The node keeps it across restarts only as far as the disk model allows.
pub type SharedQueue = Arc<Mutex<FairQueue>>;

pub fn new_state(ctx: &NodeContext) -> SharedQueue {
    let config = &ctx.config;
    Arc::new(Mutex::new(FairQueue::new(FairConfig {
        env_pending_max: config.env_pending_max,
        queue_pending_max: config.queue_pending_max,
        fresh_per_bulk: config.fresh_per_bulk,
        lease_ms: config.lease.as_millis() as u64,
        dedup_ignores_environment: config.flaws.has(crate::flaws::Flaw::DedupIgnoresEnvironment),
    })))
}

/// Runs the queue service on the current node until the node stops.
pub async fn serve(ctx: NodeContext, state: SharedQueue) {
    let ep = Endpoint::bind(ctx.addr).await.expect("the queue's address is free on its own node");
    ctx.emit(Event::NodeStarted { role: "queue" });

    let (c, s) = (ctx.clone(), state.clone());
    ep.add_rpc_handler(move |req: Enqueue| {
        let reply = enqueue(&c, &s, &req.jobs);
        async move { reply }
    });
    let (c, s) = (ctx.clone(), state.clone());
    ep.add_rpc_handler(move |req: LeaseJob| {
        let reply = lease(&c, &s, &req.worker);
        async move { reply }
    });
    let (c, s) = (ctx.clone(), state.clone());
    ep.add_rpc_handler(move |req: AckJob| {
        let reply = ack(&c, &s, req.token);
        async move { reply }
    });
    let s = state.clone();
    ep.add_rpc_handler(move |_: GetQueueStats| {
        let queue = s.lock().expect("queue lock");
        let stats = QueueStats { pending: queue.pending_len(), leased: queue.leased_len() };
        async move { stats }
    });

    loop {
        madsim::time::sleep(ctx.config.lease_scan_interval).await;
        expire(&ctx, &state);
    }
}

fn enqueue(ctx: &NodeContext, state: &SharedQueue, jobs: &[JobSpec]) -> EnqueueReply {
    let mut queue = state.lock().expect("queue lock");
    match queue.enqueue(jobs) {
        Err(busy) => {
            ctx.emit(Event::EnqueueBusy { env: busy.env, jobs: jobs.len(), pending: busy.pending });
            EnqueueReply::Busy
        }
        Ok(outcomes) => {
            let (mut new, mut coalesced) = (0, 0);
            for (spec, outcome) in jobs.iter().zip(outcomes) {
                match outcome {
                    Enqueued::New { job } => {
                        new += 1;
                        ctx.emit(Event::JobEnqueued {
                            job,
                            env: spec.env.clone(),
                            entity: spec.entity.clone(),
                            schema: spec.schema.clone(),
                            kind: spec.kind,
                        });
                    }
                    Enqueued::Coalesced { into_job, into_env } => {
                        coalesced += 1;
                        ctx.emit(Event::JobCoalesced {
                            env: spec.env.clone(),
                            entity: spec.entity.clone(),
                            schema: spec.schema.clone(),
                            kind: spec.kind,
                            into_job,
                            into_env,
                        });
                    }
                }
            }
            EnqueueReply::Accepted { new, coalesced }
        }
    }
}

fn lease(ctx: &NodeContext, state: &SharedQueue, worker: &str) -> Option<Lease> {
    // Expired leases go back first, so that a worker asking for work can pick them up at once.
    expire(ctx, state);
    let now = ctx.clock.now();
    let leased = state.lock().expect("queue lock").lease(worker, now)?;
    ctx.emit(Event::JobLeased {
        job: leased.job,
        env: leased.spec.env.clone(),
        entity: leased.spec.entity.clone(),
        schema: leased.spec.schema.clone(),
        token: leased.token,
        worker: worker.to_string(),
    });
    Some(Lease {
        job: leased.job,
        spec: leased.spec,
        token: leased.token,
        lease_ms: ctx.config.lease.as_millis() as u64,
    })
}

fn ack(ctx: &NodeContext, state: &SharedQueue, token: u64) -> AckReply {
    match state.lock().expect("queue lock").ack(token) {
        Some(lease) => {
            ctx.emit(Event::JobCompleted { job: lease.job, token });
            AckReply::Completed
        }
        None => {
            ctx.emit(Event::AckRefused { token });
            AckReply::UnknownLease
        }
    }
}

fn expire(ctx: &NodeContext, state: &SharedQueue) {
    let now = ctx.clock.now();
    let expired = state.lock().expect("queue lock").expire(now);
    for e in expired {
        ctx.emit(Event::LeaseExpired { job: e.lease.job, token: e.lease.token, expired_at: e.lease.expires_at });
        ctx.emit(Event::JobRedelivered {
            job: e.lease.job,
            env: e.lease.spec.env,
            entity: e.lease.spec.entity,
            schema: e.lease.spec.schema,
            coalesced: e.coalesced,
        });
    }
}
