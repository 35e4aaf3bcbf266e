//! The moments a fault can wait for, as the harness sees them from the system's events: a node acknowledging a
//! write, a worker holding a lease, a worker with views rendered and not yet written.
//!
//! Events steer faults here, and only that: what they say decides when a fault fires, never a verdict. The
//! watcher reads every event before the recorder may drop it (a run with the system's events muted steers its
//! faults exactly as one that keeps them), and it keeps only counters and the leases still held.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use system::events::Event;

#[derive(Default)]
struct Seen {
    /// Per node: acknowledgements it sent (an ingest or deploy answered, a worker's batch of views written).
    acks: BTreeMap<String, u64>,
    /// Per worker: jobs it rendered.
    renders: BTreeMap<String, u64>,
    /// Per worker: the tokens of the leases it holds (granted, not yet completed, expired or refused).
    leases: BTreeMap<String, BTreeSet<u64>>,
    /// The worker holding each token, to release it.
    holder: BTreeMap<u64, String>,
}

/// What the faults waiting for a moment look at.
#[derive(Default)]
pub struct Moments {
    seen: Mutex<Seen>,
}

impl Moments {
    /// Takes in one event that `node` reported.
    pub fn observe(&self, node: &str, event: &Event) {
        let mut seen = self.seen.lock().expect("moments lock");
        let seen = &mut *seen;
        match event {
            Event::IngestAcked { .. } | Event::DeployAcked { .. } | Event::ViewsSubmitted { .. } => {
                *seen.acks.entry(node.to_string()).or_insert(0) += 1;
            }
            Event::JobRendered { .. } => *seen.renders.entry(node.to_string()).or_insert(0) += 1,
            Event::JobLeased { token, worker, .. } => {
                seen.leases.entry(worker.clone()).or_default().insert(*token);
                seen.holder.insert(*token, worker.clone());
            }
            Event::JobCompleted { token, .. }
            | Event::LeaseExpired { token, .. }
            | Event::AckRefused { token }
            | Event::JobAbandoned { token, .. } => {
                if let Some(worker) = seen.holder.remove(token) {
                    if let Some(held) = seen.leases.get_mut(&worker) {
                        held.remove(token);
                    }
                }
            }
            _ => {}
        }
    }

    /// How many acknowledgements `node` has sent so far.
    pub fn acks(&self, node: &str) -> u64 {
        self.seen.lock().expect("moments lock").acks.get(node).copied().unwrap_or(0)
    }

    /// How many jobs `worker` has rendered so far.
    pub fn renders(&self, worker: &str) -> u64 {
        self.seen.lock().expect("moments lock").renders.get(worker).copied().unwrap_or(0)
    }

    /// Whether `worker` holds a lease now.
    pub fn holds_lease(&self, worker: &str) -> bool {
        self.seen.lock().expect("moments lock").leases.get(worker).is_some_and(|held| !held.is_empty())
    }
}
