//! The queue service: the [`fair::FairQueue`] behind RPC, with a background scan that redelivers expired
//! leases by the queue node's own clock.
//!
//! The queue is durable: every operation that changed it is appended to its write-ahead log
//! ([`crate::log`]), and its answer leaves only once a group commit has made the operation durable; a booting
//! queue replays the log. The fair queue is deterministic, so replaying the same operations (with the times they
//! were made at) rebuilds exactly the same queue, leases and fencing tokens included; leases outstanding at a
//! crash expire and are redelivered as usual. The log is compacted into a snapshot of the queue when it has
//! doubled.

pub mod fair;
mod memo;

use crate::clock::WallMillis;
use crate::disk::Disk;
use crate::events::Event;
use crate::log::{answer, Decided, DurableLog};
use crate::marks;
use crate::model::JobSpec;
use crate::net::Endpoint;
use crate::node::NodeContext;
use crate::proto::{AckJob, AckReply, Enqueue, EnqueueMany, EnqueueReply, GetQueueStats, Lease, LeaseJob, QueueStats};
use fair::{Enqueued, FairConfig, FairQueue};
use memo::{Asker, LeaseMemo, Seen};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// Leases one request may ask for at most.
pub const LEASE_BATCH_MAX: u32 = 16;
/// The longest a lease request waits for work.
pub const LONG_POLL_MAX_MS: u64 = 10_000;

/// One durable operation on the queue.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum QueueOp {
    Enqueue {
        jobs: Vec<JobSpec>,
        request: Option<(u64, crate::model::Version)>,
    },
    Lease {
        worker: String,
        now: WallMillis,
    },
    Ack {
        token: u64,
    },
    Expire {
        now: WallMillis,
    },
    /// The whole queue, standing for every record before it (written by compaction).
    Snapshot(Box<FairQueue>),
}

/// The queue as its log's `QueueOp::Snapshot` record, framed where it lies (a copy of a large queue was a
/// noticeable share of every compaction).
fn snapshot_record(queue: &FairQueue) -> crate::log::SnapshotVariant<&FairQueue> {
    crate::log::SnapshotVariant { log_op: "QueueOp", index: 4, value: queue }
}

/// The queue's durable medium.
pub type QueueDisk = Arc<dyn Disk>;

/// The queue in memory.
struct State {
    queue: FairQueue,
    /// The latest clock reading, to notice the clock going backwards.
    last_now: WallMillis,
    /// The lease requests answered last, per work loop: tells a repeated or stale request from a new one.
    memo: LeaseMemo,
}

/// The queue in memory and the log that makes it durable.
struct Durable {
    state: Mutex<State>,
    log: DurableLog<QueueOp>,
    config: FairConfig,
    /// Wakes long-polling lease requests when jobs arrive (enqueued or redelivered).
    work: tokio::sync::Notify,
}

impl Durable {
    /// Logs an operation already applied to `state`. If the disk refuses it, the queue goes back to what its
    /// log says (the state before the operation) and the caller must not answer.
    fn log(&self, state: &mut State, op: QueueOp) -> bool {
        if self.log.append(&op).is_ok() {
            return true;
        }
        state.queue = recover(self.config.clone(), self.log.reread());
        false
    }
}

/// Reads the node's clock, marking a reading earlier than the last one while leases are held.
fn now(ctx: &NodeContext, state: &SharedQueue) -> WallMillis {
    let now = ctx.clock.now();
    let mut st = state.state.lock().expect("queue lock");
    if now < st.last_now && st.queue.leased_len() > 0 {
        ctx.mark(marks::CLOCK_BACKWARDS);
    }
    st.last_now = st.last_now.max(now);
    now
}

type SharedQueue = Arc<Durable>;

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
        sticky_redelivery: config.flaws.has(crate::flaws::Flaw::JobsStickToTheirWorker),
    }
}

/// Rebuilds a queue by replaying its log.
pub fn recover(config: FairConfig, log: Vec<QueueOp>) -> FairQueue {
    let mut queue = FairQueue::new(config.clone());
    for op in log {
        match op {
            QueueOp::Enqueue { jobs, request } => {
                let _ = queue.enqueue_once(request, &jobs);
            }
            QueueOp::Lease { worker, now } => {
                queue.lease(&worker, now);
            }
            QueueOp::Ack { token } => {
                queue.ack(token);
            }
            QueueOp::Expire { now } => {
                queue.expire(now);
            }
            QueueOp::Snapshot(snapshot) => queue = snapshot.with_config(config.clone()),
        }
    }
    queue
}

/// Runs the queue service on the current node until the node stops. Its state is rebuilt from `disk`.
pub async fn serve(ctx: NodeContext, disk: QueueDisk) {
    let (log, recovery) = DurableLog::open(disk).await;
    let ops = recovery.ops.len();
    let config = fair_config(&ctx);
    let state =
        State { queue: recover(config.clone(), recovery.ops), last_now: WallMillis(0), memo: LeaseMemo::default() };
    let state: SharedQueue =
        Arc::new(Durable { state: Mutex::new(state), log, config, work: tokio::sync::Notify::new() });
    if ops > 0 {
        ctx.mark(marks::QUEUE_RECOVERED);
    }
    let ep = Endpoint::bind(ctx.addr).await.expect("the queue's address is free on its own node");
    ctx.emit(Event::NodeStarted { role: "queue" });
    ctx.emit(Event::Recovered { ops });
    crate::log::report_damage_and_retries(&ctx, recovery.damage, recovery.read_errors);
    madsim::task::spawn(commit(ctx.clone(), state.clone()));
    madsim::task::spawn(compact(ctx.clone(), state.clone()));

    let (c, s) = (ctx.clone(), state.clone());
    ep.add_rpc_handler(move |req: Enqueue| {
        let decided = enqueue(&c, &s, &req.jobs, req.request, true);
        let s = s.clone();
        async move { answer(&s.log, decided, false).await }
    });
    let (c, s) = (ctx.clone(), state.clone());
    ep.add_rpc_handler(move |req: EnqueueMany| {
        // The store's outbox repeats, by design, enqueues the ingest path usually made already: those repeats
        // are not the rare lost-reply moment the duplicate mark stands for.
        let mut replies = Vec::with_capacity(req.batches.len());
        for batch in &req.batches {
            match enqueue(&c, &s, &batch.jobs, batch.request, false) {
                Some((reply, _)) => replies.push(reply),
                None => break,
            }
        }
        // A batch the disk refused part of is not answered at all; the outbox tries it all again.
        let decided = (replies.len() == req.batches.len()).then(|| (replies, s.log.position()));
        let s = s.clone();
        async move { answer(&s.log, decided, false).await }
    });
    let (c, s) = (ctx.clone(), state.clone());
    ep.add_rpc_handler(move |req: LeaseJob| {
        // An acknowledgement the disk refused goes unanswered, and so does the whole request.
        let acked = req.ack.iter().all(|&token| ack(&c, &s, token).is_some());
        let max = req.max.clamp(1, LEASE_BATCH_MAX);
        let decided = if acked { lease(&c, &s, asker(&req), max) } else { None };
        let (c, s) = (c.clone(), s.clone());
        async move {
            let decided = long_poll(&c, &s, decided, asker(&req), max, req.wait_ms).await;
            answer(&s.log, decided, false).await
        }
    });
    let (c, s) = (ctx.clone(), state.clone());
    ep.add_rpc_handler(move |req: AckJob| {
        let decided = ack(&c, &s, req.token);
        let s = s.clone();
        async move { answer(&s.log, decided, false).await }
    });
    let s = state.clone();
    let honesty = ctx.config.stats;
    ep.add_rpc_handler(move |_: GetQueueStats| {
        let decided = {
            let st = s.state.lock().expect("queue lock");
            let (pending, leased) = (honesty.report(st.queue.pending_len()), honesty.report(st.queue.leased_len()));
            Some((QueueStats { pending, leased }, s.log.position()))
        };
        let s = s.clone();
        async move { answer(&s.log, decided, false).await }
    });

    loop {
        madsim::time::sleep(ctx.config.lease_scan_interval).await;
        // Fault point: this round's scan is skipped.
        if !ctx.fire(crate::points::Point::LateLeaseScan) {
            expire(&ctx, &state);
        }
    }
}

/// A lease request that found no job waits for one to arrive (an enqueue or a redelivery wakes it) until its
/// deadline, then answers with what it got, possibly nothing.
async fn long_poll(
    ctx: &NodeContext,
    state: &SharedQueue,
    mut decided: Decided<Vec<Lease>>,
    asker: Asker<'_>,
    max: u32,
    wait_ms: u64,
) -> Decided<Vec<Lease>> {
    let deadline = madsim::time::Instant::now() + std::time::Duration::from_millis(wait_ms.min(LONG_POLL_MAX_MS));
    let empty = |decided: &Decided<Vec<Lease>>| decided.as_ref().is_some_and(|(leases, _)| leases.is_empty());
    // A repeat of a request already answered, or a stale one, is answered at once (see `lease`), not held.
    if state.state.lock().expect("queue lock").memo.seen(asker) != Seen::New {
        return decided;
    }
    // Fault point: the long poll ends at once, as if its wait had run out (and is remembered as answered, below,
    // like any other).
    let early = empty(&decided) && ctx.fire(crate::points::Point::EarlyPollReturn);
    while !early && empty(&decided) {
        let now = madsim::time::Instant::now();
        if now >= deadline {
            break;
        }
        // Registered before looking again, so that a job arriving in between is not missed.
        let arrived = state.work.notified();
        let mut arrived = std::pin::pin!(arrived);
        arrived.as_mut().enable();
        decided = lease(ctx, state, asker, max);
        if !empty(&decided) {
            break;
        }
        let _ = madsim::time::timeout(deadline - now, arrived).await;
    }
    if empty(&decided) {
        // Answered with nothing: a repeat of this request is answered with nothing at once (unless a copy of it,
        // polling beside it, was granted jobs meanwhile: those stay its answer; or the loop has moved on).
        let mut st = state.state.lock().expect("queue lock");
        if st.memo.seen(asker) == Seen::New {
            st.memo.record(asker, Vec::new());
        }
    }
    decided
}

/// Who asks, as the memo knows askers.
fn asker(req: &LeaseJob) -> Asker<'_> {
    Asker { worker: &req.worker, incarnation: req.incarnation, slot: req.slot, request: req.request }
}

/// The queue's committer: group commits, and after a failed sync, the queue rebuilt from what the disk holds.
async fn commit(ctx: NodeContext, state: SharedQueue) {
    crate::log::keep_committing(&ctx, &state.log, None, || {
        let mut st = state.state.lock().expect("queue lock");
        let recovery = state.log.recover_after_failure();
        let ops = recovery.ops.len();
        st.queue = recover(state.config.clone(), recovery.ops);
        (ops, recovery.damage, recovery.read_errors)
    })
    .await;
}

/// Compacts the log whenever it has doubled: the whole state becomes one record.
async fn compact(ctx: NodeContext, state: SharedQueue) {
    crate::log::keep_compacted(&ctx, &state.log, || {
        let st = state.state.lock().expect("queue lock");
        (crate::log::encode(&snapshot_record(&st.queue)), state.log.position())
    })
    .await;
}

fn enqueue(
    ctx: &NodeContext,
    state: &SharedQueue,
    jobs: &[JobSpec],
    request: Option<(u64, crate::model::Version)>,
    mark_duplicate: bool,
) -> Decided<EnqueueReply> {
    // The flaw `dedup-when-clock-steps-back` reads the clock here; the correct queue does not need it.
    let backwards = ctx.config.flaws.has(crate::flaws::Flaw::DedupWhenClockStepsBack) && {
        let now = ctx.clock.now();
        now < state.state.lock().expect("queue lock").last_now
    };
    let mut st = state.state.lock().expect("queue lock");
    let cross_env = jobs.iter().any(|spec| st.queue.other_env_pending(spec));
    let while_leased = jobs.iter().any(|spec| st.queue.is_leased(spec));
    // Fault point: "busy" although there is room, as the limits would answer (never to a repeat of an enqueue
    // that already took effect, which is acknowledged whatever the limits say).
    let repeat = request.is_some_and(|r| st.queue.seen_request(r));
    let early_busy = !jobs.is_empty() && !repeat && ctx.fire(crate::points::Point::EarlyBusy);
    let result = if early_busy {
        Err(fair::Busy { env: jobs[0].env.clone(), pending: st.queue.pending_len() })
    } else if backwards {
        let before = st.queue.set_merge_across_environments(true);
        let result = st.queue.enqueue_once(request, jobs);
        st.queue.set_merge_across_environments(before);
        result
    } else {
        st.queue.enqueue_once(request, jobs)
    };
    if matches!(result, Ok(Some(_))) {
        if !state.log(&mut st, QueueOp::Enqueue { jobs: jobs.to_vec(), request }) {
            drop(st);
            refused(ctx);
            return None;
        }
        state.work.notify_waiters();
        if cross_env {
            ctx.mark(marks::CROSS_ENV_DUPLICATE_PENDING);
        }
        if while_leased {
            ctx.mark(marks::UPDATE_WHILE_LEASED);
        }
    }
    let ticket = state.log.position();
    drop(st);
    let result = match result {
        Ok(None) => {
            // A repeat of an enqueue that already took effect: acknowledge it, add nothing.
            if mark_duplicate {
                ctx.mark(marks::DUPLICATE_ENQUEUE);
            }
            return Some((EnqueueReply::Accepted { new: 0, coalesced: jobs.len() }, ticket));
        }
        Ok(Some(outcomes)) => Ok(outcomes),
        Err(busy) => Err(busy),
    };
    let reply = match result {
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
    };
    Some((reply, ticket))
}

/// The disk refused a change: reported, and the request goes unanswered.
fn refused(ctx: &NodeContext) {
    ctx.mark(marks::LOG_APPEND_REFUSED);
    ctx.emit(Event::LogAppendRefused { error: crate::disk::DiskError::Full.to_string() });
}

/// Leases up to `max` jobs to `worker`, in the queue's fair order.
fn lease(ctx: &NodeContext, state: &SharedQueue, asker: Asker<'_>, max: u32) -> Decided<Vec<Lease>> {
    let worker = asker.worker;
    // Expired leases go back first, so that a worker asking for work can pick them up at once (unless the fault
    // point leaves them to a later scan).
    if !ctx.fire(crate::points::Point::LateLeaseScan) {
        expire(ctx, state);
    }
    let now = now(ctx, state);
    // Fault point: a batch of one, whatever was asked for.
    let max = if max > 1 && ctx.fire(crate::points::Point::ShortLeaseBatch) { 1 } else { max };
    let (leased, ticket) = {
        let mut st = state.state.lock().expect("queue lock");
        // A repeat of a request already answered (a duplicate, or a retry after a lost answer) gets what that
        // request got, the leases its asker still holds, for what remains of them, and never new jobs: nobody
        // would process those until their leases ran out. Nothing changes, so nothing is logged, and the answer
        // waits for the same commit as the first one did. A retry that finds nothing left asks again anew. A
        // stale request (a late copy of one its loop has moved on from) gets nothing, for the same reason.
        let held = match st.memo.seen(asker) {
            Seen::New => None,
            Seen::Stale => {
                ctx.mark(marks::LEASE_STALE);
                Some(Vec::new())
            }
            Seen::Repeat(tokens) => {
                ctx.mark(marks::LEASE_REPEATED);
                let held = tokens
                    .iter()
                    .filter_map(|&token| st.queue.leased(token))
                    .filter(|leased| leased.worker == worker)
                    .map(|leased| Lease {
                        job: leased.job,
                        spec: leased.spec.clone(),
                        token: leased.token,
                        lease_ms: leased.expires_at.0.saturating_sub(now.0).min(ctx.config.lease.as_millis() as u64),
                        expires_at: leased.expires_at,
                    })
                    .collect();
                Some(held)
            }
        };
        if let Some(held) = held {
            return Some((held, state.log.position()));
        }
        let mut leased = Vec::new();
        while leased.len() < max as usize {
            let Some(one) = st.queue.lease(worker, now) else { break };
            if !state.log(&mut st, QueueOp::Lease { worker: worker.to_string(), now }) {
                drop(st);
                refused(ctx);
                return None;
            }
            leased.push(one);
        }
        if !leased.is_empty() {
            st.memo.record(asker, leased.iter().map(|one| one.token).collect());
        }
        (leased, state.log.position())
    };
    let leases = leased
        .into_iter()
        .map(|leased| {
            ctx.emit(Event::JobLeased {
                job: leased.job,
                env: leased.spec.env.clone(),
                entity: leased.spec.entity.clone(),
                schema: leased.spec.schema.clone(),
                token: leased.token,
                worker: worker.to_string(),
            });
            Lease {
                job: leased.job,
                spec: leased.spec,
                token: leased.token,
                lease_ms: ctx.config.lease.as_millis() as u64,
                expires_at: leased.expires_at,
            }
        })
        .collect();
    Some((leases, ticket))
}

fn ack(ctx: &NodeContext, state: &SharedQueue, token: u64) -> Decided<AckReply> {
    let (acked, ticket) = {
        let mut st = state.state.lock().expect("queue lock");
        let acked = st.queue.ack(token);
        if acked.is_some() && !state.log(&mut st, QueueOp::Ack { token }) {
            drop(st);
            refused(ctx);
            return None;
        }
        (acked, state.log.position())
    };
    let reply = match acked {
        Some(lease) => {
            ctx.emit(Event::JobCompleted { job: lease.job, token });
            AckReply::Completed
        }
        None => {
            ctx.mark(marks::ACK_AFTER_EXPIRY);
            ctx.emit(Event::AckRefused { token });
            AckReply::UnknownLease
        }
    };
    Some((reply, ticket))
}

fn expire(ctx: &NodeContext, state: &SharedQueue) {
    let now = now(ctx, state);
    let expired = {
        let mut st = state.state.lock().expect("queue lock");
        let expired = st.queue.expire(now);
        if !expired.is_empty() && !state.log(&mut st, QueueOp::Expire { now }) {
            drop(st);
            refused(ctx);
            return;
        }
        expired
    };
    if !expired.is_empty() {
        state.work.notify_waiters();
    }
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
            sticky_redelivery: false,
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

        let mut replayed = recover(config, log);
        assert_eq!(replayed.pending_len(), live.pending_len());
        assert_eq!(replayed.leases().collect::<Vec<_>>(), live.leases().collect::<Vec<_>>());
        // The replayed queue behaves the same from here on, fencing tokens included.
        assert_eq!(replayed.lease("w3", WallMillis(300)), live.lease("w3", WallMillis(300)));
        assert!(replayed.seen_request((1, crate::model::Version(1))), "idempotency keys survive a restart");

        // Compaction frames the live queue where it lies; the frame must be exactly the `Snapshot` record.
        let framed = crate::log::encode(&snapshot_record(&live));
        assert_eq!(framed, crate::log::encode(&QueueOp::Snapshot(Box::new(live.clone()))));
        let ops = crate::log::decode::<QueueOp>(&framed).ops;
        assert!(matches!(ops.as_slice(), [QueueOp::Snapshot(_)]), "the frame decodes as one snapshot record");
    }
}
