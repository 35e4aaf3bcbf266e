//! Load: one client per environment, all ingesting at once, and the record of what each client sent and was
//! told, which is the evidence the oracle's reference model is built from.
//!
//! Each client draws its arrivals, entities and contents from its own random stream derived from the seed, so
//! that faults or another environment's load never shift what it sends. Entity ids are shared across
//! environments and a hot set draws a large share of ingests, which makes pending duplicates, within one
//! environment and across environments, common. A mirrored environment (staging mirroring production) draws
//! from its source's stream and sends the same contents. A client retries a request that was not acknowledged
//! (busy, unavailable or timed out) with the same request id and sequence number, with backoff; a share of
//! requests is abandoned after a few attempts, as real webhook senders do, and the rest are retried until the
//! run ends.

use crate::readers::Follows;
use crate::scenario::Scenario;
use crate::trace::{HarnessEvent, Recorder};
use madsim::time::Instant;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use system::model::{Fields, Name, Payload, Version};
use system::net::Rpc;
use system::proto::{Ingest, IngestReply};

/// How long a client waits for one ingest attempt. Ingest nodes retry internally, so this is generous.
const INGEST_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
const CLIENT_BACKOFF_MIN: Duration = Duration::from_millis(50);
const CLIENT_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// One write a client sent, and what it was told. Every field is the client's own knowledge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    pub env: Name,
    pub entity: Name,
    /// The client's order of its writes to this entity: strictly increasing, shared by a write's retries.
    pub seq: u64,
    pub request: u64,
    pub payload: Payload,
    /// When the first attempt was sent (simulated time since the start of the run).
    pub sent_at: Duration,
    pub attempts: u32,
    pub outcome: WriteOutcome,
}

/// How a write ended, as its client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The system acknowledged the write: durable as `version`, or, if `superseded`, not stored because the
    /// client had sent a later write of the entity (then `version` is the current one's).
    Acked { version: Version, superseded: bool, at: Duration },
    /// The client gave up after its attempts, as a webhook sender does; the write may or may not have been
    /// stored.
    Abandoned { at: Duration },
    /// The run ended before the write was answered.
    Unanswered,
}

impl Write {
    /// The acknowledged version, if the write was acknowledged as stored (not superseded).
    pub fn acked_version(&self) -> Option<Version> {
        match self.outcome {
            WriteOutcome::Acked { version, superseded: false, .. } => Some(version),
            _ => None,
        }
    }

    pub fn acked_at(&self) -> Option<Duration> {
        match self.outcome {
            WriteOutcome::Acked { at, .. } => Some(at),
            _ => None,
        }
    }
}

/// What all clients share with the checker.
#[derive(Default)]
pub struct LoadState {
    /// Every write sent, in the order first sent; outcomes are filled in as they arrive.
    pub writes: Mutex<Vec<Write>>,
    pub in_flight: AtomicU64,
    pub generators_running: AtomicU64,
    pub sent: AtomicU64,
    pub retries: AtomicU64,
    pub busy: AtomicU64,
    /// Requests abandoned by their senders after a few attempts (by design).
    pub abandoned: AtomicU64,
    /// Requests still unanswered when the run ended.
    pub given_up: AtomicU64,
}

impl LoadState {
    /// True once every client has stopped generating and every request has been answered or given up.
    pub fn idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && self.generators_running.load(Ordering::SeqCst) == 0
    }

    fn register(&self, write: Write) -> usize {
        let mut writes = self.writes.lock().expect("writes lock");
        writes.push(write);
        writes.len() - 1
    }

    fn finish(&self, index: usize, attempts: u32, outcome: WriteOutcome) {
        let mut writes = self.writes.lock().expect("writes lock");
        writes[index].attempts = attempts;
        writes[index].outcome = outcome;
    }
}

/// Burst faults raise an environment's ingest rate; the highest active burst applies.
#[derive(Default)]
pub struct LoadControl {
    rates: Mutex<BTreeMap<String, crate::faults::active::Active<u64>>>,
}

impl LoadControl {
    pub fn set_rate(&self, env: &str, percent: u64, on: bool) {
        self.rates.lock().expect("load control lock").entry(env.to_string()).or_default().set(percent, on);
    }

    /// The environment's current rate in percent of its normal rate.
    pub fn rate_percent(&self, env: &str) -> u64 {
        self.rates.lock().expect("load control lock").get(env).filter(|a| !a.is_empty()).map_or(100, |a| a.max())
    }

    pub fn reset(&self) {
        self.rates.lock().expect("load control lock").clear();
    }
}

pub struct Client {
    pub env_index: usize,
    pub env: Name,
    /// Whose contents this client sends: its own environment's, or its mirror source's.
    pub content_env: String,
    pub node: Arc<str>,
    /// The client's RPC endpoint: it goes through the same link shaping as the system's own calls.
    pub rpc: Rpc,
    pub control: Arc<LoadControl>,
    pub ingest: Vec<SocketAddr>,
    pub rng: crate::branch::Stream,
    pub recorder: Arc<Recorder>,
    pub state: Arc<LoadState>,
    /// The environment's reader, told of every acknowledged write so that it looks for it.
    pub follows: Arc<Follows>,
    pub run_start: Instant,
    /// Arrivals stop here.
    pub load_end: Instant,
    /// Requests not acknowledged by here are given up.
    pub give_up_at: Instant,
}

impl Client {
    /// Generates arrivals until `load_end`, sending each as its own task.
    pub async fn run(mut self, scenario: &Scenario) {
        let entities: Vec<Name> = scenario.entity_ids_of(&self.env).into_iter().map(Name::from).collect();
        let load = &scenario.load;
        let rate = load.ingest_rate.get();
        let mean_gap_us = 1_000_000 / rate;
        let mut revisions: BTreeMap<usize, u64> = BTreeMap::new();
        let mut seqs: BTreeMap<usize, u64> = BTreeMap::new();
        let mut counter = 0u64;
        let this = Arc::new(Sender {
            env: self.env.clone(),
            node: self.node.clone(),
            rpc: self.rpc.clone(),
            ingest: self.ingest.clone(),
            recorder: self.recorder.clone(),
            state: self.state.clone(),
            follows: self.follows.clone(),
            run_start: self.run_start,
            give_up_at: self.give_up_at,
            in_flight: AtomicU64::new(0),
            writing: Mutex::new(BTreeSet::new()),
        });
        loop {
            // Uniform gaps in [0, 2 * mean]: the mean rate holds, arrivals still bunch up now and then. A burst
            // shortens the gaps without drawing differently, so the load stream stays the same.
            let gap_us = self.rng.gen_range(0..=2 * mean_gap_us) * 100 / self.control.rate_percent(&self.env);
            let gap = Duration::from_micros(gap_us);
            madsim::time::sleep(gap).await;
            if Instant::now() >= self.load_end {
                break;
            }
            while this.in_flight.load(Ordering::SeqCst) >= load.in_flight_max.get() {
                madsim::time::sleep(Duration::from_millis(5)).await;
            }
            let index = if self.rng.gen_range(0..100) < load.hot_percent.get() {
                self.rng.gen_range(0..load.hot_entities.get() as usize)
            } else {
                self.rng.gen_range(0..entities.len())
            };
            let revision = revisions.entry(index).or_insert(0);
            let resend = *revision > 0 && self.rng.gen_range(0..100) < load.unchanged_percent.get();
            if !resend {
                *revision += 1;
            }
            let abandon_after =
                (self.rng.gen_range(0..100) < load.give_up_percent.get()).then(|| load.give_up_attempts.get() as u32);
            let jitter_seed = self.rng.gen::<u64>();
            let entity = entities[index].clone();
            let payload = content(&self.content_env, &entity, *revision);
            if load.one_write_per_entity {
                // A sender that writes an entity only after its previous write of it was answered (or given up).
                while this.writing.lock().expect("writing lock").contains(&entity) {
                    madsim::time::sleep(Duration::from_millis(5)).await;
                }
            }
            counter += 1;
            let seq = seqs.entry(index).or_insert(0);
            *seq += 1;
            // Request ids are unique across clients: the environment's index in the high bits.
            let request = ((self.env_index as u64 + 1) << 40) | counter;
            self.state.in_flight.fetch_add(1, Ordering::SeqCst);
            this.in_flight.fetch_add(1, Ordering::SeqCst);
            this.writing.lock().expect("writing lock").insert(entity.clone());
            self.state.sent.fetch_add(1, Ordering::Relaxed);
            let write = Write {
                env: self.env.clone(),
                entity,
                seq: *seq,
                request,
                payload,
                sent_at: self.run_start.elapsed(),
                attempts: 0,
                outcome: WriteOutcome::Unanswered,
            };
            let sender = this.clone();
            madsim::task::spawn(async move { sender.send(write, abandon_after, jitter_seed).await });
        }
        self.state.generators_running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The content of one revision of an entity. It names its environment in `site`, as a real page names its
/// site, so that a view built from another environment's source is recognisable (unless that environment
/// mirrors this one, and then the content is the same on purpose).
pub fn content(env: &str, entity: &str, revision: u64) -> Payload {
    let mut payload = Fields::new();
    payload.insert("title".into(), format!("{entity} r{revision}"));
    payload.insert("body".into(), format!("body of {env}/{entity} at revision {revision}"));
    payload.insert("summary".into(), format!("summary r{revision}"));
    payload.insert("site".into(), env.to_string());
    Payload::new(payload)
}

/// The fields every content has; a schema may project only these.
pub const CONTENT_FIELDS: [&str; 4] = ["title", "body", "summary", "site"];

struct Sender {
    env: Name,
    node: Arc<str>,
    rpc: Rpc,
    ingest: Vec<SocketAddr>,
    recorder: Arc<Recorder>,
    state: Arc<LoadState>,
    follows: Arc<Follows>,
    run_start: Instant,
    give_up_at: Instant,
    /// This client's requests in flight (the shared state counts all clients').
    in_flight: AtomicU64,
    /// Entities with a write in flight.
    writing: Mutex<BTreeSet<Name>>,
}

impl Sender {
    async fn send(&self, write: Write, abandon_after: Option<u32>, jitter_seed: u64) {
        use rand::SeedableRng;
        let mut rng = ChaCha8Rng::seed_from_u64(jitter_seed);
        let mut backoff = CLIENT_BACKOFF_MIN;
        let mut attempts = 0u32;
        let (request, seq, entity) = (write.request, write.seq, write.entity.clone());
        let index = self.state.register(write.clone());
        loop {
            attempts += 1;
            // Spread attempts over the ingest nodes, so that one node down does not stop a client.
            let dst = self.ingest[(request as usize + attempts as usize) % self.ingest.len()];
            let req =
                Ingest { request, seq, env: self.env.clone(), entity: entity.clone(), payload: write.payload.clone() };
            let reply = self.rpc.call_within(dst, req, INGEST_ATTEMPT_TIMEOUT).await;
            match reply {
                Ok(IngestReply::Acked { version, superseded }) => {
                    let at = self.run_start.elapsed();
                    self.recorder.harness(
                        &self.node,
                        HarnessEvent::ClientAcked {
                            env: self.env.clone(),
                            entity: entity.clone(),
                            version: version.0,
                            request,
                            attempts,
                        },
                    );
                    self.state.finish(index, attempts, WriteOutcome::Acked { version, superseded, at });
                    if !superseded {
                        self.follows.follow(&entity, version, at);
                    }
                    break;
                }
                Ok(IngestReply::Busy) => {
                    self.state.busy.fetch_add(1, Ordering::Relaxed);
                }
                Ok(IngestReply::Unavailable) | Err(_) => {}
            }
            if abandon_after.is_some_and(|max| attempts >= max) {
                self.state.abandoned.fetch_add(1, Ordering::Relaxed);
                self.recorder.harness(
                    &self.node,
                    HarnessEvent::ClientAbandoned { env: self.env.clone(), entity: entity.clone(), request, attempts },
                );
                self.state.finish(index, attempts, WriteOutcome::Abandoned { at: self.run_start.elapsed() });
                break;
            }
            if Instant::now() + backoff >= self.give_up_at {
                self.state.given_up.fetch_add(1, Ordering::Relaxed);
                self.recorder.harness(
                    &self.node,
                    HarnessEvent::ClientGaveUp { env: self.env.clone(), entity: entity.clone(), request, attempts },
                );
                self.state.finish(index, attempts, WriteOutcome::Unanswered);
                break;
            }
            self.state.retries.fetch_add(1, Ordering::Relaxed);
            let wait = rng.gen_range(backoff.as_micros() as u64 / 2..=backoff.as_micros() as u64);
            madsim::time::sleep(Duration::from_micros(wait)).await;
            backoff = (backoff * 2).min(CLIENT_BACKOFF_MAX);
        }
        self.writing.lock().expect("writing lock").remove(&entity);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.state.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
