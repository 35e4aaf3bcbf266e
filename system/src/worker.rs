//! The worker: leases a job, reads the newest source and the schema, renders the view, writes it
//! conditionally and acknowledges.
//!
//! A worker may lose its lease (it was paused, or the network was slow) and another worker may process the same
//! job. That is safe: view writes are conditional on the source version, so the slower worker can never put an
//! older view back, and its acknowledgement is refused by the lease's fencing token. A worker judges how much of
//! its lease is left with its local monotonic timer, never by comparing wall clocks of different nodes.

use crate::events::Event;
use crate::flaws::Flaw;
use crate::net::{Backoff, Rpc};
use crate::node::NodeContext;
use crate::proto::*;
use crate::store::render_at;
use madsim::net::Endpoint;
use madsim::rand::Rng;
use std::time::Duration;

/// How often an idle worker's polling interval doubles.
const IDLE_DOUBLINGS_MAX: u32 = 3;

/// Runs the worker service on the current node until the node stops: `worker_slots` loops in parallel.
pub async fn serve(ctx: NodeContext) {
    let ep = Endpoint::bind(ctx.addr).await.expect("the worker address is free on its own node");
    let rpc = Rpc::new(ep, ctx.clone());
    ctx.emit(Event::NodeStarted { role: "worker" });
    let mut slots = Vec::new();
    for _ in 1..ctx.config.worker_slots.max(1) {
        let (c, r) = (ctx.clone(), rpc.clone());
        slots.push(madsim::task::spawn(async move { work_loop(c, r).await }));
    }
    work_loop(ctx, rpc).await;
}

async fn work_loop(ctx: NodeContext, rpc: Rpc) {
    let mut backoff = Backoff::new(&ctx);
    let mut idle_polls = 0u32;
    loop {
        match rpc.call(ctx.topology.queue, LeaseJob { worker: ctx.name.clone() }).await {
            Ok(Some(lease)) => {
                backoff.reset();
                idle_polls = 0;
                process(&ctx, &rpc, lease).await;
            }
            Ok(None) => {
                ctx.events.idle_poll();
                // Idle: poll again after a jittered interval that doubles while the queue stays empty (up to
                // eight times the base), so idle workers neither ask in lockstep nor flood an empty queue.
                let poll = ctx.config.worker_poll_interval * (1u32 << idle_polls.min(IDLE_DOUBLINGS_MAX));
                idle_polls = idle_polls.saturating_add(1);
                // madsim's generator, seeded from the run's seed: deterministic (not the OS-seeded rand one).
                let jitter = madsim::rand::thread_rng().gen_range(0..=poll.as_micros() as u64 / 2);
                madsim::time::sleep(poll + Duration::from_micros(jitter)).await;
            }
            Err(_) => backoff.wait().await,
        }
    }
}

async fn process(ctx: &NodeContext, rpc: &Rpc, lease: Lease) {
    // Stop working on the job a little before the lease runs out by our own timer; past that point another
    // worker may already have it.
    let started = madsim::time::Instant::now();
    let budget = Duration::from_millis(lease.lease_ms).mul_f64(0.8);
    let spec = &lease.spec;
    let abandon = |reason: &str| {
        ctx.mark(crate::marks::WORKER_ABANDONED);
        ctx.emit(Event::JobAbandoned {
            env: spec.env.clone(),
            entity: spec.entity.clone(),
            schema: spec.schema.clone(),
            token: lease.token,
            reason: reason.to_string(),
        })
    };
    let store = ctx.topology.store;
    let read = ReadJobInput { env: spec.env.clone(), entity: spec.entity.clone(), schema: spec.schema.clone() };
    let (source, schema) = match rpc.call_retrying(store, read).await {
        Ok((Some(source), Some(schema))) => (source, schema),
        Ok((None, _)) => return abandon("no-source"),
        Ok((_, None)) => return abandon("no-schema"),
        Err(_) => return abandon("store-unavailable"),
    };
    let (min, max) = (ctx.config.render_time_min, ctx.config.render_time_max);
    // madsim's generator, seeded from the run's seed: deterministic (not the OS-seeded rand one).
    let render_time = madsim::rand::thread_rng().gen_range(min..=max.max(min));
    madsim::time::sleep(render_time).await;
    let view = render_at(&source, &schema, ctx.clock.now());
    let mut unconditional = false;
    if ctx.config.flaws.has(Flaw::UnfencedWorkerClock) {
        // The flaw: trust our own wall clock against the queue's expiry, and, believing the lease still ours,
        // write without the version check.
        if ctx.clock.now() >= lease.expires_at {
            return abandon("lease-expired-by-own-clock");
        }
        unconditional = true;
    } else if started.elapsed() > budget {
        return abandon("lease-budget-spent");
    }
    if rpc.call_retrying(store, PutView { view, unconditional }).await.is_err() {
        return abandon("store-unavailable");
    }
    // A refused acknowledgement means our lease expired and the job was redelivered; the view we wrote is
    // harmless either way, because the store only keeps the newest.
    let _ = rpc.call_retrying(ctx.topology.queue, AckJob { token: lease.token }).await;
}
