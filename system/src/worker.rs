//! The worker: leases a job, reads the newest source and the schema, renders the view, writes it
//! conditionally, and acknowledges it in the same call that leases the next job.
//!
//! A worker may lose its lease (it was paused, or the network was slow) and another worker may process the same
//! job. That is safe: view writes are conditional on the source version, so the slower worker can never put an
//! older view back, and its acknowledgement is refused by the lease's fencing token. A worker judges how much of
//! its lease is left with its local monotonic timer, never by comparing wall clocks of different nodes.

use crate::events::Event;
use crate::flaws::Flaw;
use crate::net::Endpoint;
use crate::net::{Backoff, Rpc};
use crate::node::NodeContext;
use crate::proto::*;
use crate::store::render_at;
use madsim::rand::Rng;
use std::time::Duration;

/// The share of a lease a worker may spend on a job before it gives the job up.
pub const LEASE_BUDGET: f64 = 0.8;

/// Jobs one work loop leases at once and processes one after another: one round trip to the queue per batch.
/// Small, so that a batch takes a small share of a lease and the queue's fair order is kept closely.
pub const LEASE_BATCH: u32 = 4;
/// Requests in a row that may carry the same acknowledgements before they are dropped (see `run`).
const ACK_ATTEMPTS_MAX: u32 = 3;

/// Runs the worker service on the current node until the node stops: `worker_slots` loops in parallel.
pub async fn serve(ctx: NodeContext) {
    let ep = Endpoint::bind(ctx.addr).await.expect("the worker address is free on its own node");
    let rpc = Rpc::new(ep, ctx.clone());
    ctx.emit(Event::NodeStarted { role: "worker" });
    // Names this run of the worker in its lease requests, whose numbers start again here (see `LeaseJob`): the
    // wall clock at start, in milliseconds, differs from every earlier start's unless a clock stepped back onto
    // that exact millisecond. (Not a random draw, so that starting a worker leaves the runtime's generator alone.)
    let incarnation = ctx.clock.now().0;
    let mut slots = Vec::new();
    for slot in 1..ctx.config.worker_slots.max(1) as u32 {
        let (c, r) = (ctx.clone(), rpc.clone());
        slots.push(madsim::task::spawn(async move { work_loop(c, r, incarnation, slot).await }));
    }
    work_loop(ctx, rpc, incarnation, 0).await;
}

async fn work_loop(ctx: NodeContext, rpc: Rpc, incarnation: u64, slot: u32) {
    let mut backoff = Backoff::new(&ctx);
    // The tokens of the jobs just finished, acknowledged with the next request for work (and sent again if that
    // request fails: a repeated acknowledgement is refused harmlessly).
    let mut acks = Vec::new();
    // A long poll that ends well within the call's timeout, so that an answer after a full wait still arrives.
    // A call that times out anyway means the link is slower than that: the wait halves, and grows back by an
    // eighth with each answer. (A fixed wait on a link that stays slow timed out every call, so the
    // acknowledgements it carried were sent again forever and never answered.)
    let wait_max = (ctx.config.rpc_timeout.as_millis() as u64) * 8 / 10;
    let mut wait_ms = wait_max;
    let mut ack_attempts = 0u32;
    // The number of this loop's request: kept while attempts fail, so that the queue can tell a repeat of a
    // request it granted (whose answer was lost) from a new one, and new once an answer arrived.
    let mut request = 0u64;
    loop {
        let ask = LeaseJob {
            worker: ctx.name.clone(),
            incarnation,
            slot,
            request,
            ack: acks.clone(),
            max: LEASE_BATCH,
            wait_ms,
        };
        let answer = rpc.call(ctx.topology.queue, ask).await;
        if answer.is_ok() {
            request += 1;
        }
        wait_ms = match &answer {
            Ok(_) => (wait_ms + wait_max / 8).min(wait_max),
            Err(_) => wait_ms / 2,
        };
        // Acknowledgements are sent again with the next request, a few times: one that never gets through (a link
        // too slow for any answer to arrive in time) is dropped, and its lease runs out and the job is done again.
        // Sending it forever would keep a worker cut off from its answers busy for good.
        if answer.is_err() && !acks.is_empty() {
            ack_attempts += 1;
            if ack_attempts >= ACK_ATTEMPTS_MAX {
                acks.clear();
            }
        }
        match answer {
            Ok(leases) if !leases.is_empty() => {
                backoff.reset();
                acks.clear();
                ack_attempts = 0;
                // The leases' budgets run from when the grant arrived (just after the queue made it), not from when
                // each job's turn in the batch comes.
                let granted = madsim::time::Instant::now();
                acks = process(&ctx, &rpc, leases, granted).await;
            }
            Ok(_) => {
                acks.clear();
                ack_attempts = 0;
                ctx.events.idle_poll();
                // Idle: the queue already waited for work on our behalf (a long poll), so ask again soon, after a
                // short jittered pause that keeps idle workers from asking in lockstep.
                let poll = ctx.config.worker_poll_interval;
                // madsim's generator, seeded from the run's seed: deterministic (not the OS-seeded rand one).
                let jitter = madsim::rand::thread_rng().gen_range(0..=poll.as_micros() as u64 / 2);
                madsim::time::sleep(Duration::from_micros(jitter)).await;
            }
            Err(_) => backoff.wait().await,
        }
    }
}

/// Processes a batch of leased jobs: their inputs read in one round trip, each rendered in turn, the views
/// written in one round trip. Returns the fencing tokens to acknowledge: the jobs whose views were written.
async fn process(ctx: &NodeContext, rpc: &Rpc, leases: Vec<Lease>, started: madsim::time::Instant) -> Vec<u64> {
    let abandon = |lease: &Lease, reason: &str| {
        ctx.mark(crate::marks::WORKER_ABANDONED);
        ctx.emit(Event::JobAbandoned {
            env: lease.spec.env.clone(),
            entity: lease.spec.entity.clone(),
            schema: lease.spec.schema.clone(),
            token: lease.token,
            reason: reason.to_string(),
        });
    };
    let store = ctx.topology.store;
    let jobs = leases
        .iter()
        .map(|l| ReadJobInput { env: l.spec.env.clone(), entity: l.spec.entity.clone(), schema: l.spec.schema.clone() })
        .collect();
    let inputs = match rpc.call_retrying(store, ReadJobInputs { jobs }).await {
        Ok(inputs) if inputs.len() == leases.len() => inputs,
        _ => {
            leases.iter().for_each(|lease| abandon(lease, "store-unavailable"));
            return Vec::new();
        }
    };
    let mut written = Vec::new();
    let mut views = Vec::new();
    for (lease, input) in leases.iter().zip(inputs) {
        let (source, schema) = match input {
            (Some(source), Some(schema)) => (source, schema),
            (None, _) => {
                abandon(lease, "no-source");
                continue;
            }
            (_, None) => {
                abandon(lease, "no-schema");
                continue;
            }
        };
        let (min, max) = (ctx.config.render_time_min, ctx.config.render_time_max);
        // madsim's generator, seeded from the run's seed: deterministic (not the OS-seeded rand one).
        let mut render_time = madsim::rand::thread_rng().gen_range(min..=max.max(min));
        // Fault point: a slow render, ten times the longest usual one.
        if ctx.fire(crate::points::Point::SlowRender) {
            render_time = max.max(min) * 10;
        }
        madsim::time::sleep(render_time).await;
        let view = render_at(&source, &schema, ctx.clock.now());
        ctx.emit(Event::JobRendered {
            env: lease.spec.env.clone(),
            entity: lease.spec.entity.clone(),
            schema: lease.spec.schema.clone(),
            source_version: source.version,
            token: lease.token,
        });
        let mut unconditional = false;
        if ctx.config.flaws.has(Flaw::UnfencedWorkerClock) {
            // The flaw: trust our own wall clock against the queue's expiry, and, believing the lease still
            // ours, write without the version check.
            if ctx.clock.now() >= lease.expires_at {
                abandon(lease, "lease-expired-by-own-clock");
                continue;
            }
            unconditional = true;
        } else if started.elapsed() > Duration::from_millis(lease.lease_ms).mul_f64(LEASE_BUDGET) {
            // Stop a little before the lease runs out by our own timer (started when the grant arrived); past
            // that point another worker may already have the job.
            abandon(lease, "lease-budget-spent");
            continue;
        }
        views.push(PutView { view, unconditional });
        written.push(lease);
    }
    if views.is_empty() {
        return Vec::new();
    }
    let submitted = views.len();
    if rpc.call_retrying(store, PutViews { views }).await.is_err() {
        written.iter().for_each(|lease| abandon(lease, "store-unavailable"));
        return Vec::new();
    }
    ctx.emit(Event::ViewsSubmitted { views: submitted });
    // A refused acknowledgement means a lease expired and its job was redelivered; the view written is harmless
    // either way, because the store only keeps the newest.
    written.iter().map(|lease| lease.token).collect()
}
