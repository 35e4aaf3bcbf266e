//! What the simulated network carries, counted beneath the system by madsim's own message hooks: the messages of
//! the harness's observers (readers and the checker), and the workers' idle long polls. The system reports none of
//! it and cannot forge it.
//!
//! Two judgements rest on these counts:
//! - **Bounded work** subtracts the observers' messages from madsim's count of delivered messages. They are
//!   counted as madsim counts them: a request when madsim lets it onto the network (it is sent and its link is not
//!   clogged; loss is decided before anything is sent, by `FaultNet`), a reply when it is delivered to the
//!   observer. Nothing is estimated, so loss does not loosen the bound.
//! - **Quiescence**: the system is done when, for a whole window, every message madsim delivered was an
//!   observer's or an idle long poll (a worker's lease request with nothing to acknowledge, or the queue's empty
//!   answer to one). Any other message is work, whatever the system's statistics say.
//!
//! madsim lets one request hook and one reply hook be set per node, each for one message type, and calls a request
//! hook synchronously just before the network decides the message's fate; a reply hook runs when the reply is
//! delivered. Each observer node therefore sends one request type (the final reading uses two nodes). Requests
//! are counted at the very moment madsim counts them; a reply is counted on delivery, madsim's own network
//! latency (at most 10 ms) after madsim counted it, and madsim offers no hook on a reply's sending. A window's
//! counts are therefore exact but for the replies in flight at its two ends, at most one per call still open
//! (an observer's call or a long poll whose reply has not arrived), and [`Tally::open`] says how many those are.

use crate::faults::net::FaultNet;
use madsim::net::NetSim;
use madsim::task::NodeId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use system::proto::{Lease, LeaseJob};

/// The counts, shared by the hooks of one run.
pub struct Wiretap {
    net: Arc<FaultNet>,
    observers: AtomicU64,
    idle_polls: AtomicU64,
    /// Workers' long polls that are certainly work: a request carrying acknowledgements, or an answer granting
    /// leases. Unlike the difference of counts, these need no allowance for replies in flight.
    busy_polls: AtomicU64,
    /// Hooked calls whose request is on the network and whose reply has not been delivered.
    open: AtomicU64,
}

/// The counts at one moment; windows are the differences of two.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Every message madsim let onto its network (its own count).
    pub delivered: u64,
    /// The observers' share of it.
    pub observers: u64,
    /// Idle long polls and their empty answers.
    pub idle_polls: u64,
    /// Long polls that were certainly work (acknowledgements sent, or leases granted).
    pub busy_polls: u64,
    /// Calls open at that moment (see [`Wiretap`]): the most replies that can be in flight, counted by madsim and
    /// not yet here.
    pub open: u64,
}

impl Tally {
    /// Messages since `earlier` that were neither an observer's nor an idle poll: the system's work, give or take
    /// the replies in flight at either end (at most `earlier.open` too few, `self.open` too many).
    pub fn work_since(&self, earlier: &Tally) -> i64 {
        let delivered = self.delivered.saturating_sub(earlier.delivered) as i64;
        let observers = self.observers.saturating_sub(earlier.observers) as i64;
        let idle = self.idle_polls.saturating_sub(earlier.idle_polls) as i64;
        delivered - observers - idle
    }

    /// Whether the system did work since `earlier`: more messages than observers and idle polls explain, beyond
    /// the replies that may be in flight now.
    pub fn worked_since(&self, earlier: &Tally) -> bool {
        self.busy_polls > earlier.busy_polls || self.work_since(earlier) > self.open as i64
    }
}

impl Wiretap {
    /// Must be made inside the runtime.
    pub fn new(net: Arc<FaultNet>) -> Arc<Wiretap> {
        Arc::new(Wiretap {
            net,
            observers: AtomicU64::new(0),
            idle_polls: AtomicU64::new(0),
            busy_polls: AtomicU64::new(0),
            open: AtomicU64::new(0),
        })
    }

    /// Counts every request of type `Req` that `node` sends to `to`, and every `Rsp` delivered to `node`, as an
    /// observer's. `node` must send no other request type that needs counting.
    pub fn watch_observer<Req: 'static, Rsp: 'static>(self: &Arc<Self>, node: NodeId, to: NodeId) {
        let net = NetSim::current();
        let tap = self.clone();
        net.hook_rpc_req::<Req>(node, move |_| {
            if !tap.net.clogged(node, to) {
                tap.observers.fetch_add(1, Ordering::Relaxed);
                tap.open.fetch_add(1, Ordering::Relaxed);
            }
            true
        });
        let tap = self.clone();
        net.hook_rpc_rsp::<Rsp>(node, move |_| {
            tap.observers.fetch_add(1, Ordering::Relaxed);
            tap.close();
            true
        });
    }

    /// Watches a worker's long polls of the queue: a request with nothing to acknowledge and an empty answer are
    /// idle traffic; anything else the worker sends or receives is work.
    pub fn watch_worker(self: &Arc<Self>, worker: NodeId, queue: NodeId) {
        let net = NetSim::current();
        let tap = self.clone();
        net.hook_rpc_req::<LeaseJob>(worker, move |req| {
            if !tap.net.clogged(worker, queue) {
                tap.open.fetch_add(1, Ordering::Relaxed);
                if req.ack.is_empty() {
                    tap.idle_polls.fetch_add(1, Ordering::Relaxed);
                } else {
                    tap.busy_polls.fetch_add(1, Ordering::Relaxed);
                }
            }
            true
        });
        let tap = self.clone();
        net.hook_rpc_rsp::<Vec<Lease>>(worker, move |leases| {
            if leases.is_empty() {
                tap.idle_polls.fetch_add(1, Ordering::Relaxed);
            } else {
                tap.busy_polls.fetch_add(1, Ordering::Relaxed);
            }
            tap.close();
            true
        });
    }

    /// A reply arrived. A call whose node crashed is never answered, so `open` can only overstate.
    fn close(&self) {
        let _ = self.open.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
    }

    /// Forgets open calls: after every node restarted, calls open before will never be answered.
    pub fn forget_open_calls(&self) {
        self.open.store(0, Ordering::Relaxed);
    }

    pub fn tally(&self) -> Tally {
        Tally {
            delivered: NetSim::current().stat().msg_count,
            observers: self.observers.load(Ordering::Relaxed),
            idle_polls: self.idle_polls.load(Ordering::Relaxed),
            busy_polls: self.busy_polls.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
        }
    }

    /// The observers' messages so far.
    pub fn observer_messages(&self) -> u64 {
        self.observers.load(Ordering::Relaxed)
    }

    /// Idle long polls and their empty answers, so far.
    pub fn idle_poll_messages(&self) -> u64 {
        self.idle_polls.load(Ordering::Relaxed)
    }
}

pub use super::reading::call_outside;
