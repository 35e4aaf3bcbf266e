//! Readers: one per environment, standing for the customer's website. A reader reads views through the
//! delivery API all through the run, under the same faults as everyone, and records exactly what it saw. The
//! oracle judges monotonic reads, integrity, isolation and freshness from these observations alone.
//!
//! Each tick a reader reads one entity drawn from its own random stream (the hot set more often, as visitors
//! do), and the entities of recently acknowledged writes it has not yet seen (as a site previewing a publish
//! does), so that the time from acknowledgement to first visibility is measured to within a tick.

use crate::trace::{HarnessEvent, Recorder};
use madsim::time::Instant;
use rand::Rng;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use system::model::{Name, Version, View};
use system::net::Endpoint;
use system::proto::GetViews;

/// How long a reader waits for one read.
const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// Followed entities read in one tick at most; the rest wait for the next tick.
const FOLLOWS_PER_TICK_MAX: usize = 4;
/// Acknowledged writes a reader keeps looking for at most; beyond it, the oldest is dropped (its freshness is then
/// measured only by the reads that happen to find it).
pub const FOLLOWS_MAX: usize = 64;
/// How long a reader looks for one acknowledged write before it stops following it.
const FOLLOW_FOR_MAX: Duration = Duration::from_secs(60);

/// One read through the delivery API, as the reader saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    pub env: Name,
    pub entity: Name,
    /// Simulated time since the start of the run when the answer arrived.
    pub at: Duration,
    /// Every view of the entity, as returned.
    pub views: Vec<View>,
}

/// Acknowledged writes handed from an environment's client to its reader.
#[derive(Default)]
pub struct Follows {
    queue: Mutex<VecDeque<(Name, Version, Duration)>>,
}

impl Follows {
    /// Asks the reader to look for `version` (or newer) of `entity`, acknowledged at `at`.
    pub fn follow(&self, entity: &Name, version: Version, at: Duration) {
        let mut queue = self.queue.lock().expect("follows lock");
        if queue.len() == FOLLOWS_MAX {
            queue.pop_front();
        }
        queue.push_back((entity.clone(), version, at));
    }

    fn take(&self, max: usize) -> Vec<(Name, Version, Duration)> {
        let mut queue = self.queue.lock().expect("follows lock");
        let n = max.min(queue.len());
        queue.drain(..n).collect()
    }

    fn put_back(&self, entries: Vec<(Name, Version, Duration)>) {
        let mut queue = self.queue.lock().expect("follows lock");
        for entry in entries {
            if queue.len() < FOLLOWS_MAX {
                queue.push_back(entry);
            }
        }
    }
}

/// Everything readers record, shared with the checker.
#[derive(Default)]
pub struct ReadLog {
    pub reads: Mutex<Vec<Read>>,
    /// Set when the final reading starts: readers stop.
    pub stop: AtomicBool,
}

pub struct Reader {
    pub env: Name,
    pub node: Arc<str>,
    pub ep: Endpoint,
    /// The link layer every actor's messages pass (loss, latency).
    pub links: Arc<dyn system::net::LinkShaper>,
    pub store: SocketAddr,
    pub entities: Vec<Name>,
    pub hot_entities: usize,
    pub hot_percent: u64,
    /// How many schemas every entity has views of, once processed.
    pub schemas: usize,
    pub interval: Duration,
    pub rng: crate::branch::Stream,
    pub follows: Arc<Follows>,
    pub log: Arc<ReadLog>,
    pub recorder: Arc<Recorder>,
    pub run_start: Instant,
}

impl Reader {
    pub async fn run(mut self) {
        while !self.log.stop.load(Ordering::SeqCst) {
            // Jittered ticks: the mean interval holds, reads do not fall into lockstep with anything.
            let micros = self.interval.as_micros() as u64;
            madsim::time::sleep(Duration::from_micros(self.rng.gen_range(micros / 2..=micros * 3 / 2))).await;
            let index = if self.rng.gen_range(0..100) < self.hot_percent {
                self.rng.gen_range(0..self.hot_entities.max(1))
            } else {
                self.rng.gen_range(0..self.entities.len())
            };
            let browse = self.entities[index].clone();
            self.read(&browse).await;
            let followed = self.follows.take(FOLLOWS_PER_TICK_MAX);
            let mut still = Vec::new();
            for (entity, version, acked_at) in followed {
                let seen = match self.read(&entity).await {
                    Some(views) => views.len() >= self.schemas && views.iter().all(|v| v.source_version >= version),
                    None => false,
                };
                if !seen && self.run_start.elapsed() < acked_at + FOLLOW_FOR_MAX {
                    still.push((entity, version, acked_at));
                }
            }
            self.follows.put_back(still);
        }
    }

    /// Reads every view of `entity` once; records and returns what came back. The reader is a client outside the
    /// system: it meets the same faults as everyone (`reading::call_outside`), and madsim counts its messages.
    async fn read(&self, entity: &Name) -> Option<Vec<View>> {
        if self.log.stop.load(Ordering::SeqCst) {
            return None;
        }
        let request = GetViews { env: self.env.clone(), entity: entity.clone() };
        let views =
            crate::world::reading::call_outside(&self.ep, &*self.links, self.store, request, READ_TIMEOUT).await?;
        if self.log.stop.load(Ordering::SeqCst) {
            // The final reading has begun: what arrives now belongs to no phase the oracle judges.
            return None;
        }
        let at = self.run_start.elapsed();
        let newest = views.iter().map(|v| v.source_version.0).max();
        self.recorder.harness(
            &self.node,
            HarnessEvent::ViewsRead { env: self.env.clone(), entity: entity.clone(), views: views.len(), newest },
        );
        self.log.reads.lock().expect("reads lock").push(Read {
            env: self.env.clone(),
            entity: entity.clone(),
            at,
            views: views.clone(),
        });
        Some(views)
    }
}
