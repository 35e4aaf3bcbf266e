//! Network faults.
//!
//! Partitions (isolate, split, one-way cut) clog madsim links: a clogged message is dropped, as a real
//! partition drops packets. Every partition is a set of directed links with a count, so overlapping partitions
//! heal independently. Whole-network latency uses madsim's own setting. Loss (on the whole network or to and from
//! one node) and per-node or per-link latency are decided by [`FaultNet`], which implements the system's
//! [`LinkShaper`]: every RPC the system and the load clients send asks it what happens to the message, and the
//! harness's own actors (readers, the checker, the operator) ask it too, so everyone meets the same faults.
//!
//! Loss is decided here rather than by madsim's `packet_loss_rate` so that whether a message reaches madsim's
//! network is known the moment it is sent: madsim then drops only what a clogged link drops, which
//! [`FaultNet::clogged`] answers exactly. That is what lets the harness count its observers' messages as madsim
//! counts them (`world::wiretap`), instead of estimating them.

use crate::branch::Stream;
use madsim::net::NetSim;
use madsim::task::NodeId;
use rand::Rng;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use system::net::{Fate, LinkShaper};

/// madsim's default one-way latency, restored when a network latency fault heals.
const DEFAULT_LATENCY: std::ops::Range<Duration> = Duration::from_millis(1)..Duration::from_millis(10);

#[derive(Default)]
struct Shaping {
    node_loss: BTreeMap<IpAddr, Vec<u64>>,
    node_delay: BTreeMap<IpAddr, Vec<Duration>>,
    link_delay: BTreeMap<(IpAddr, IpAddr), Vec<Duration>>,
    network_loss: Vec<u64>,
    network_delay: Vec<Duration>,
    clogged: BTreeMap<(NodeId, NodeId), u32>,
}

/// The network fault model of one run.
pub struct FaultNet {
    shaping: Mutex<Shaping>,
    /// Whether any per-node or per-link fault is active. Most messages travel while none is: they skip the lock
    /// and the lookups.
    shaping_active: AtomicBool,
    /// Decides which messages a lossy node drops: its own stream, so loss never shifts other randomness.
    rng: Mutex<Stream>,
}

fn max_of<T: Copy + Ord + Default>(v: Option<&Vec<T>>) -> T {
    v.and_then(|v| v.iter().copied().max()).unwrap_or_default()
}

/// Starts (`on`) or heals one active fault's value; overlapping faults each keep their own entry.
fn toggle<T: PartialEq>(active: &mut Vec<T>, value: T, on: bool) {
    if on {
        active.push(value);
    } else if let Some(i) = active.iter().position(|v| *v == value) {
        active.remove(i);
    }
}

impl FaultNet {
    pub fn new(rng: Stream) -> Self {
        Self { shaping: Mutex::new(Shaping::default()), shaping_active: AtomicBool::new(false), rng: Mutex::new(rng) }
    }

    /// Notes whether any per-node or per-link fault is still active, after a change.
    fn update_active(&self, s: &Shaping) {
        let active = !s.network_loss.is_empty()
            || s.node_loss.values().any(|v| !v.is_empty())
            || s.node_delay.values().any(|v| !v.is_empty())
            || s.link_delay.values().any(|v| !v.is_empty());
        self.shaping_active.store(active, Ordering::Relaxed);
    }

    pub fn node_loss(&self, node: IpAddr, percent: u64, on: bool) {
        let mut s = self.shaping.lock().expect("net lock");
        toggle(s.node_loss.entry(node).or_default(), percent, on);
        self.update_active(&s);
    }

    pub fn node_delay(&self, node: IpAddr, delay: Duration, on: bool) {
        let mut s = self.shaping.lock().expect("net lock");
        toggle(s.node_delay.entry(node).or_default(), delay, on);
        self.update_active(&s);
    }

    pub fn link_delay(&self, from: IpAddr, to: IpAddr, delay: Duration, on: bool) {
        let mut s = self.shaping.lock().expect("net lock");
        toggle(s.link_delay.entry((from, to)).or_default(), delay, on);
        self.update_active(&s);
    }

    /// Loss on the whole network: the highest active rate applies, to every message of everyone.
    pub fn network_loss(&self, percent: u64, on: bool) {
        let mut s = self.shaping.lock().expect("net lock");
        toggle(&mut s.network_loss, percent, on);
        self.update_active(&s);
    }

    /// Whether madsim drops what `from` sends to `to` now: a partition holds the link.
    pub fn clogged(&self, from: NodeId, to: NodeId) -> bool {
        self.shaping.lock().expect("net lock").clogged.get(&(from, to)).is_some_and(|&n| n > 0)
    }

    /// Extra latency on the whole network: the highest active spike applies.
    pub fn network_delay(&self, delay: Duration, on: bool) {
        let mut s = self.shaping.lock().expect("net lock");
        toggle(&mut s.network_delay, delay, on);
        let extra = s.network_delay.iter().copied().max().unwrap_or_default();
        NetSim::current()
            .update_config(|c| c.send_latency = DEFAULT_LATENCY.start + extra..DEFAULT_LATENCY.end + extra);
    }

    /// Clogs (or unclogs) directed links; a link carries traffic again when no partition holds it.
    pub fn clog(&self, links: &[(NodeId, NodeId)], on: bool) {
        let mut s = self.shaping.lock().expect("net lock");
        let net = NetSim::current();
        for &(a, b) in links {
            let count = s.clogged.entry((a, b)).or_insert(0);
            if on {
                *count += 1;
                if *count == 1 {
                    net.clog_link(a, b);
                }
            } else if *count > 0 {
                *count -= 1;
                if *count == 0 {
                    net.unclog_link(a, b);
                }
            }
        }
    }

    /// Heals everything at once, before the liveness phase.
    pub fn heal_all(&self) {
        let mut s = self.shaping.lock().expect("net lock");
        let net = NetSim::current();
        for (&(a, b), &count) in &s.clogged {
            if count > 0 {
                net.unclog_link(a, b);
            }
        }
        *s = Shaping::default();
        self.shaping_active.store(false, Ordering::Relaxed);
        net.update_config(|c| c.send_latency = DEFAULT_LATENCY);
    }
}

impl LinkShaper for FaultNet {
    fn shape(&self, from: IpAddr, to: IpAddr) -> Fate {
        if !self.shaping_active.load(Ordering::Relaxed) {
            return Fate::Deliver(Duration::ZERO);
        }
        let s = self.shaping.lock().expect("net lock");
        let network = s.network_loss.iter().copied().max().unwrap_or(0);
        let loss = max_of(s.node_loss.get(&from)).max(max_of(s.node_loss.get(&to))).max(network);
        if loss > 0 && self.rng.lock().expect("net rng lock").gen_range(0..100) < loss {
            return Fate::Drop;
        }
        let delay =
            max_of(s.node_delay.get(&from)).max(max_of(s.node_delay.get(&to))) + max_of(s.link_delay.get(&(from, to)));
        Fate::Deliver(delay)
    }
}
