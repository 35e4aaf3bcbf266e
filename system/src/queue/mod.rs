//! The queue service: the [`fair::FairQueue`] behind RPC, with a background scan that redelivers expired
//! leases by the queue node's own clock.
//!
//! The queue is durable: every operation that changed it is appended to its log and synced before the answer
//! leaves, and a booting queue replays the log. The fair queue is deterministic, so replaying the same
//! operations (with the times they were made at) rebuilds exactly the same queue, leases included; leases
//! outstanding at a crash expire and are redelivered as usual.

pub mod fair;

use crate::clock::WallMillis;
use crate::disk::Disk;
use crate::events::Event;
use crate::marks;
use crate::model::JobSpec;
use crate::node::NodeContext;
use crate::proto::{AckJob, AckReply, Enqueue, EnqueueMany, EnqueueReply, GetQueueStats, Lease, LeaseJob, QueueStats};
use fair::{Enqueued, FairConfig, FairQueue};
use madsim::net::Endpoint;
use std::sync::{Arc, Mutex};

/// One durable operation on the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueOp {
    Enqueue { jobs: Vec<JobSpec>, request: Option<(u64, crate::model::Version)> },
    Lease { worker: String, now: WallMillis },
    Ack { token: u64 },
    Expire { now: WallMillis },
}

/// The queue's durable medium.
pub type QueueDisk = Arc<dyn Disk<QueueOp>>;

/// The queue in memory and the log that makes it durable.
struct Durable {
    queue: FairQueue,
    disk: QueueDisk,
    /// The latest clock reading, to notice the clock going backwards.
    last_now: WallMillis,
}

/// Reads the node's clock, marking a reading earlier than the last one while leases are held.
fn now(ctx: &NodeContext, state: &SharedQueue) -> WallMillis {
    let now = ctx.clock.now();
    let mut durable = state.lock().expect("queue lock");
    if now < durable.last_now && durable.queue.leased_len() > 0 {
        ctx.mark(marks::CLOCK_BACKWARDS);
    }
    durable.last_now = durable.last_now.max(now);
    now
}

impl Durable {
    fn persist(&self, op: QueueOp) {
        self.disk.append(op);
        self.disk.sync();
    }
}

type SharedQueue = Arc<Mutex<Durable>>;

fn fair_config(ctx: &NodeContext) -> FairConfig {
    let config = &ctx.config;
    FairConfig {
        env_pending_max: config.env_pending_max,
        queue_pending_max: config.queue_pending_max,
        fresh_per_bulk: config.fresh_per_bulk,
        lease_ms: config.lease.as_millis() as u64,
        dedup_ignores_environment: config.flaws.has(crate::flaws::Flaw::DedupIgnoresEnvironment),
        dedup_against_leased: config.flaws.has(crate::flaws::Flaw::DedupAgainstLeased),
        fifo: config.flaws.has(crate::flaws::Flaw::FifoQueue),
    }
}

/// Rebuilds a queue by replaying its log.
pub fn recover(config: FairConfig, log: &[QueueOp]) -> FairQueue {
    let mut queue = FairQueue::new(config);
    for op in log {
        match op {
            QueueOp::Enqueue { jobs, request } => {
                let _ = queue.enqueue_once(*request, jobs);
            }
            QueueOp::Lease { worker, now } => {
                queue.lease(worker, *now);
            }
            QueueOp::Ack { token } => {
                queue.ack(*token);
            }
            QueueOp::Expire { now } => {
                queue.expire(*now);
            }
        }
    }
    queue
}

/// Runs the queue service on the current node until the node stops. Its state is rebuilt from `disk`.
pub async fn serve(ctx: NodeContext, disk: QueueDisk) {
    let log = disk.open();
    let state: SharedQueue =
        Arc::new(Mutex::new(Durable { queue: recover(fair_config(&ctx), &log), disk, last_now: WallMillis(0) }));
    if !log.is_empty() {
        ctx.mark(marks::QUEUE_RECOVERED);
    }
    let ep = Endpoint::bind(ctx.addr).await.expect("the queue's address is free on its own node");
    ctx.emit(Event::NodeStarted { role: "queue" });
    ctx.emit(Event::Recovered { ops: log.len() });

    let (c, s) = (ctx.clone(), state.clone());
    ep.add_rpc_handler(move |req: Enqueue| {
        let reply = enqueue(&c, &s, &req.jobs, req.request, true);
        async move { reply }
    });
    let (c, s) = (ctx.clone(), state.clone());
    ep.add_rpc_handler(move |req: EnqueueMany| {
        // The store's outbox repeats, by design, enqueues the ingest path usually made already: those repeats
        // are not the rare lost-reply moment the duplicate mark stands for.
        let replies: Vec<EnqueueReply> =
            req.batches.iter().map(|batch| enqueue(&c, &s, &batch.jobs, batch.request, false)).collect();
        async move { replies }
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
        let queue = &s.lock().expect("queue lock").queue;
        let stats = QueueStats { pending: queue.pending_len(), leased: queue.leased_len() };
        async move { stats }
    });

    loop {
        madsim::time::sleep(ctx.config.lease_scan_interval).await;
        expire(&ctx, &state);
    }
}

fn enqueue(
    ctx: &NodeContext,
    state: &SharedQueue,
    jobs: &[JobSpec],
    request: Option<(u64, crate::model::Version)>,
    mark_duplicate: bool,
) -> EnqueueReply {
    let mut durable = state.lock().expect("queue lock");
    let cross_env = jobs.iter().any(|spec| durable.queue.other_env_pending(spec));
    let while_leased = jobs.iter().any(|spec| durable.queue.is_leased(spec));
    let result = durable.queue.enqueue_once(request, jobs);
    if matches!(result, Ok(Some(_))) {
        durable.persist(QueueOp::Enqueue { jobs: jobs.to_vec(), request });
        if cross_env {
            ctx.mark(marks::CROSS_ENV_DUPLICATE_PENDING);
        }
        if while_leased {
            ctx.mark(marks::UPDATE_WHILE_LEASED);
        }
    }
    drop(durable);
    let result = match result {
        Ok(None) => {
            // A repeat of an enqueue that already took effect: acknowledge it, add nothing.
            if mark_duplicate {
                ctx.mark(marks::DUPLICATE_ENQUEUE);
            }
            return EnqueueReply::Accepted { new: 0, coalesced: jobs.len() };
        }
        Ok(Some(outcomes)) => Ok(outcomes),
        Err(busy) => Err(busy),
    };
    match result {
        Err(busy) => {
            ctx.mark(marks::QUEUE_BUSY);
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
    let now = now(ctx, state);
    let leased = {
        let mut durable = state.lock().expect("queue lock");
        let leased = durable.queue.lease(worker, now)?;
        durable.persist(QueueOp::Lease { worker: worker.to_string(), now });
        leased
    };
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
        expires_at: leased.expires_at,
    })
}

fn ack(ctx: &NodeContext, state: &SharedQueue, token: u64) -> AckReply {
    let acked = {
        let mut durable = state.lock().expect("queue lock");
        let acked = durable.queue.ack(token);
        if acked.is_some() {
            durable.persist(QueueOp::Ack { token });
        }
        acked
    };
    match acked {
        Some(lease) => {
            ctx.emit(Event::JobCompleted { job: lease.job, token });
            AckReply::Completed
        }
        None => {
            ctx.mark(marks::ACK_AFTER_EXPIRY);
            ctx.emit(Event::AckRefused { token });
            AckReply::UnknownLease
        }
    }
}

fn expire(ctx: &NodeContext, state: &SharedQueue) {
    let now = now(ctx, state);
    let expired = {
        let mut durable = state.lock().expect("queue lock");
        let expired = durable.queue.expire(now);
        if !expired.is_empty() {
            durable.persist(QueueOp::Expire { now });
        }
        expired
    };
    for e in expired {
        ctx.mark(marks::LEASE_EXPIRED);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JobKind;

    fn job(env: &str, entity: &str) -> JobSpec {
        JobSpec { env: env.into(), entity: entity.into(), schema: "page".into(), kind: JobKind::Fresh }
    }

    #[test]
    fn replaying_the_log_rebuilds_the_same_queue_leases_included() {
        let config = FairConfig {
            env_pending_max: 10,
            queue_pending_max: 100,
            fresh_per_bulk: 3,
            lease_ms: 1_000,
            dedup_ignores_environment: false,
            dedup_against_leased: false,
            fifo: false,
        };
        let mut live = FairQueue::new(config.clone());
        let mut log = Vec::new();
        let jobs = vec![job("a", "x"), job("b", "x"), job("a", "y")];
        let key = Some((1, crate::model::Version(1)));
        live.enqueue_once(key, &jobs).unwrap();
        log.push(QueueOp::Enqueue { jobs, request: key });
        let lease = live.lease("w1", WallMillis(100)).unwrap();
        log.push(QueueOp::Lease { worker: "w1".into(), now: WallMillis(100) });
        live.lease("w2", WallMillis(200)).unwrap();
        log.push(QueueOp::Lease { worker: "w2".into(), now: WallMillis(200) });
        live.ack(lease.token);
        log.push(QueueOp::Ack { token: lease.token });

        let mut replayed = recover(config, &log);
        assert_eq!(replayed.pending_len(), live.pending_len());
        assert_eq!(replayed.leases().collect::<Vec<_>>(), live.leases().collect::<Vec<_>>());
        // The replayed queue behaves the same from here on, fencing tokens included.
        assert_eq!(replayed.lease("w3", WallMillis(300)), live.lease("w3", WallMillis(300)));
        assert!(replayed.seen_request((1, crate::model::Version(1))), "idempotency keys survive a restart");
    }
}
