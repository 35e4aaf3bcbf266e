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

use super::active::Active;
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

/// An extra latency, fixed or drawn per message from a long tail with it as the median.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Delay {
    pub latency: Duration,
    pub tail: bool,
}

impl Delay {
    pub fn fixed(latency: Duration) -> Self {
        Delay { latency, tail: false }
    }

    /// This message's delay: drawn from `rng` only for a long tail, so fixed delays draw nothing.
    fn draw(self, rng: &Mutex<Stream>) -> Duration {
        if self.tail {
            super::tail_delay(self.latency, &mut *rng.lock().expect("net rng lock"))
        } else {
            self.latency
        }
    }
}

#[derive(Default)]
struct Shaping {
    node_loss: BTreeMap<IpAddr, Active<u64>>,
    node_delay: BTreeMap<IpAddr, Active<Delay>>,
    link_delay: BTreeMap<(IpAddr, IpAddr), Active<Delay>>,
    network_loss: Active<u64>,
    network_delay: Active<Duration>,
    /// Network-wide latency with a long tail: drawn per message here (madsim's own latency is a uniform range).
    network_tail: Active<Duration>,
    /// Duplication of requests to or from a node (`None`: the whole network): (percent, longest delay).
    duplicates: BTreeMap<Option<IpAddr>, Active<(u64, Duration)>>,
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

fn max_of<T: Copy + Ord + Default>(v: Option<&Active<T>>) -> T {
    v.map(Active::max).unwrap_or_default()
}

impl FaultNet {
    pub fn new(rng: Stream) -> Self {
        Self { shaping: Mutex::new(Shaping::default()), shaping_active: AtomicBool::new(false), rng: Mutex::new(rng) }
    }

    /// Notes whether any per-node or per-link fault is still active, after a change.
    fn update_active(&self, s: &Shaping) {
        let active = !s.network_loss.is_empty()
            || !s.network_tail.is_empty()
            || s.duplicates.values().any(|v| !v.is_empty())
            || s.node_loss.values().any(|v| !v.is_empty())
            || s.node_delay.values().any(|v| !v.is_empty())
            || s.link_delay.values().any(|v| !v.is_empty());
        self.shaping_active.store(active, Ordering::Relaxed);
    }

    pub fn node_loss(&self, node: IpAddr, percent: u64, on: bool) {
        let mut s = self.shaping.lock().expect("net lock");
        s.node_loss.entry(node).or_default().set(percent, on);
        self.update_active(&s);
    }

    pub fn node_delay(&self, node: IpAddr, delay: Delay, on: bool) {
        let mut s = self.shaping.lock().expect("net lock");
        s.node_delay.entry(node).or_default().set(delay, on);
        self.update_active(&s);
    }

    pub fn link_delay(&self, from: IpAddr, to: IpAddr, delay: Delay, on: bool) {
        let mut s = self.shaping.lock().expect("net lock");
        s.link_delay.entry((from, to)).or_default().set(delay, on);
        self.update_active(&s);
    }

    /// Loss on the whole network: the highest active rate applies, to every message of everyone.
    pub fn network_loss(&self, percent: u64, on: bool) {
        let mut s = self.shaping.lock().expect("net lock");
        s.network_loss.set(percent, on);
        self.update_active(&s);
    }

    /// Duplication of requests to and from `node` (or on the whole network): `percent` of them delivered again,
    /// up to `delay` later.
    pub fn duplicates(&self, node: Option<IpAddr>, percent: u64, delay: Duration, on: bool) {
        let mut s = self.shaping.lock().expect("net lock");
        s.duplicates.entry(node).or_default().set((percent, delay), on);
        self.update_active(&s);
    }

    /// Whether madsim drops what `from` sends to `to` now: a partition holds the link.
    pub fn clogged(&self, from: NodeId, to: NodeId) -> bool {
        self.shaping.lock().expect("net lock").clogged.get(&(from, to)).is_some_and(|&n| n > 0)
    }

    /// Extra latency on the whole network: the highest active spike applies. A long-tailed one is drawn per
    /// message by the link layer.
    pub fn network_delay(&self, delay: Delay, on: bool) {
        let mut s = self.shaping.lock().expect("net lock");
        if delay.tail {
            s.network_tail.set(delay.latency, on);
            self.update_active(&s);
            return;
        }
        let delay = delay.latency;
        s.network_delay.set(delay, on);
        let extra = s.network_delay.max();
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
    fn duplicate(&self, from: IpAddr, to: IpAddr) -> Option<Duration> {
        if !self.shaping_active.load(Ordering::Relaxed) {
            return None;
        }
        let s = self.shaping.lock().expect("net lock");
        let strongest = [None, Some(from), Some(to)]
            .iter()
            .filter_map(|k| s.duplicates.get(k))
            .flat_map(|a| a.iter().copied())
            .max()?;
        let (percent, delay) = strongest;
        let mut rng = self.rng.lock().expect("net rng lock");
        if rng.gen_range(0..100) >= percent {
            return None;
        }
        let max = delay.as_micros().max(2) as u64;
        Some(Duration::from_micros(rng.gen_range(max / 2..=max)))
    }

    fn shape(&self, from: IpAddr, to: IpAddr) -> Fate {
        if !self.shaping_active.load(Ordering::Relaxed) {
            return Fate::Deliver(Duration::ZERO);
        }
        let s = self.shaping.lock().expect("net lock");
        let network = s.network_loss.max();
        let loss = max_of(s.node_loss.get(&from)).max(max_of(s.node_loss.get(&to))).max(network);
        if loss > 0 && self.rng.lock().expect("net rng lock").gen_range(0..100) < loss {
            return Fate::Drop;
        }
        let node = max_of(s.node_delay.get(&from)).max(max_of(s.node_delay.get(&to)));
        let link = max_of(s.link_delay.get(&(from, to)));
        let mut delay = node.draw(&self.rng) + link.draw(&self.rng);
        if !s.network_tail.is_empty() {
            delay += Delay { latency: s.network_tail.max(), tail: true }.draw(&self.rng);
        }
        Fate::Deliver(delay)
    }
}
