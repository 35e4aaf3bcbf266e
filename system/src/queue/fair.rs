//! The fair, coalescing, leasing job queue as a pure data structure: no I/O, no clock of its own (callers pass
//! the time), so that its ordering rules can be unit-tested exactly.
//!
//! Rules:
//! - **Fairness.** Environments with pending work are served round-robin, one job each in turn, so an
//!   environment with a backlog of thousands delays another by at most one job per turn. Within an
//!   environment, fresh jobs (from ingests) go first, but after `fresh_per_bulk` fresh jobs in a row one bulk
//!   job (from a deploy) is served, so neither kind starves.
//! - **Coalescing.** A job whose dedup key (environment, entity, schema) matches a *pending* job is absorbed by
//!   it: the worker reads the newest source anyway. A job is never absorbed by a *leased* one, because the
//!   leased worker may already have read an older source.
//! - **Leases.** A leased job belongs to one worker until its lease expires; then it is redelivered. Every
//!   lease has a fencing token that increases strictly, and only the current token can acknowledge.
//! - **Backpressure.** An enqueue that would take an environment (or the queue) over its pending limit is
//!   refused whole, before anything is accepted. Work already accepted (a redelivery) is never refused.

use crate::clock::WallMillis;
use crate::model::{EntityId, Env, JobKind, JobSpec, Name, SchemaName, Version};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FairConfig {
    pub env_pending_max: usize,
    pub queue_pending_max: usize,
    pub fresh_per_bulk: u32,
    pub lease_ms: u64,
    /// The flaw `dedup-ignores-environment`: dedup keys leave out the environment.
    pub dedup_ignores_environment: bool,
    /// The flaw `dedup-against-leased`: a new job is coalesced into a leased one with the same key.
    pub dedup_against_leased: bool,
    /// The flaw `fifo-queue`: jobs are served oldest first across all environments.
    pub fifo: bool,
    /// The flaw `jobs-stick-to-their-worker`: an expired lease's job waits for the worker that held it.
    #[serde(default)]
    pub sticky_redelivery: bool,
}

/// What two jobs must share to be coalesced.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct DedupKey {
    env: Option<Env>,
    entity: EntityId,
    schema: SchemaName,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pending {
    spec: JobSpec,
    /// The lane the job is queued in; a bulk job upgraded to fresh moves lanes.
    lane: JobKind,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct EnvLanes {
    fresh: VecDeque<u64>,
    bulk: VecDeque<u64>,
    /// Pending jobs of this environment (lanes may also hold stale ids of jobs that moved lanes).
    pending: usize,
    fresh_streak: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leased {
    pub job: u64,
    pub spec: JobSpec,
    pub token: u64,
    pub worker: String,
    pub expires_at: WallMillis,
}

/// What happened to one job of an enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enqueued {
    New { job: u64 },
    Coalesced { into_job: u64, into_env: Env },
}

/// An enqueue was refused whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Busy {
    pub env: Env,
    pub pending: usize,
}

/// A lease that expired and what became of its job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expired {
    pub lease: Leased,
    /// True if a pending job with the same key absorbed it.
    pub coalesced: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FairQueue {
    config: FairConfig,
    next_job: u64,
    next_token: u64,
    pending: BTreeMap<u64, Pending>,
    index: BTreeMap<DedupKey, u64>,
    envs: BTreeMap<Env, EnvLanes>,
    /// The environment served last; the next turn starts after it.
    cursor: Option<Env>,
    leases: BTreeMap<u64, Leased>,
    /// Pending jobs per (entity, schema, environment), to tell when environments share an entity id.
    by_entity: BTreeMap<(EntityId, SchemaName, Env), u32>,
    /// Idempotency keys of recent enqueues, oldest first, at most `RECENT_REQUESTS_MAX`.
    recent_requests: VecDeque<(u64, Version)>,
    /// The flaw `jobs-stick-to-their-worker`: expired leases kept for the worker that held them.
    #[serde(default)]
    held_for: BTreeMap<String, VecDeque<Leased>>,
    /// The flaw `dedup-when-clock-steps-back`, for the enqueue under way: never part of the durable state.
    #[serde(skip)]
    merge_across_envs: bool,
}

/// Enqueue keys the queue remembers; a repeat older than this is enqueued again (bounded extra work).
const RECENT_REQUESTS_MAX: usize = 10_000;

impl FairQueue {
    pub fn new(config: FairConfig) -> Self {
        Self {
            config,
            next_job: 1,
            next_token: 1,
            pending: BTreeMap::new(),
            index: BTreeMap::new(),
            envs: BTreeMap::new(),
            cursor: None,
            leases: BTreeMap::new(),
            by_entity: BTreeMap::new(),
            recent_requests: VecDeque::new(),
            merge_across_envs: false,
            held_for: BTreeMap::new(),
        }
    }

    /// Coalesces new jobs into another environment's pending job for the same entity id and schema from now on,
    /// or no longer (the flaw `dedup-when-clock-steps-back` switches it on while the queue's clock reads earlier
    /// than before). Returns what it was.
    pub fn set_merge_across_environments(&mut self, on: bool) -> bool {
        std::mem::replace(&mut self.merge_across_envs, on)
    }

    /// A pending job of another environment with the same entity id and schema as `spec`.
    fn other_env_job(&self, spec: &JobSpec) -> Option<(u64, Name)> {
        use std::ops::Bound::{Excluded, Included};
        let from = (spec.entity.clone(), spec.schema.clone(), Name::default());
        let to = (spec.entity.clone(), spec.schema.clone(), Name::from("\u{10ffff}"));
        let (_, _, env) = self
            .by_entity
            .range((Included(from), Excluded(to)))
            .map(|(k, _)| k)
            .find(|(_, _, env)| env != &spec.env)?;
        let key = DedupKey { env: Some(env.clone()), entity: spec.entity.clone(), schema: spec.schema.clone() };
        self.index.get(&key).map(|&job| (job, env.clone()))
    }

    /// The queue as it was snapshotted, run under `config` (today's flaws and bounds, not the snapshot's).
    pub fn with_config(mut self, config: FairConfig) -> Self {
        self.config = config;
        self
    }

    /// Whether an enqueue with this idempotency key already took effect.
    pub fn seen_request(&self, request: (u64, Version)) -> bool {
        self.recent_requests.contains(&request)
    }

    /// Enqueues a batch under an idempotency key: a repeat of a key already seen adds nothing and reports every job
    /// as a duplicate of itself.
    pub fn enqueue_once(
        &mut self,
        request: Option<(u64, Version)>,
        jobs: &[JobSpec],
    ) -> Result<Option<Vec<Enqueued>>, Busy> {
        if let Some(key) = request {
            if self.seen_request(key) {
                return Ok(None);
            }
        }
        let outcomes = self.enqueue(jobs)?;
        if let Some(key) = request {
            self.recent_requests.push_back(key);
            if self.recent_requests.len() > RECENT_REQUESTS_MAX {
                self.recent_requests.pop_front();
            }
        }
        Ok(Some(outcomes))
    }

    /// Whether another environment has a pending job for the same entity id and schema as `spec`.
    pub fn other_env_pending(&self, spec: &JobSpec) -> bool {
        use std::ops::Bound::{Excluded, Included};
        let from = (spec.entity.clone(), spec.schema.clone(), Name::default());
        let to = (spec.entity.clone(), spec.schema.clone(), Name::from("\u{10ffff}"));
        self.by_entity.range((Included(from), Excluded(to))).any(|((_, _, env), &n)| n > 0 && env != &spec.env)
    }

    /// Whether a job with the same environment, entity and schema as `spec` is leased.
    pub fn is_leased(&self, spec: &JobSpec) -> bool {
        self.leases
            .values()
            .any(|l| l.spec.env == spec.env && l.spec.entity == spec.entity && l.spec.schema == spec.schema)
    }

    fn count_entity(&mut self, spec: &JobSpec, up: bool) {
        let key = (spec.entity.clone(), spec.schema.clone(), spec.env.clone());
        let n = self.by_entity.entry(key.clone()).or_insert(0);
        if up {
            *n += 1;
        } else {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.by_entity.remove(&key);
            }
        }
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub fn leased_len(&self) -> usize {
        self.leases.len()
    }

    pub fn env_pending(&self, env: &str) -> usize {
        self.envs.get(env).map_or(0, |lanes| lanes.pending)
    }

    fn dedup_key(&self, spec: &JobSpec) -> DedupKey {
        DedupKey {
            env: if self.config.dedup_ignores_environment { None } else { Some(spec.env.clone()) },
            entity: spec.entity.clone(),
            schema: spec.schema.clone(),
        }
    }

    /// Enqueues a batch, all or nothing.
    pub fn enqueue(&mut self, jobs: &[JobSpec]) -> Result<Vec<Enqueued>, Busy> {
        // Count the jobs that would need a new slot, per environment, before changing anything.
        let mut new_per_env: BTreeMap<&str, usize> = BTreeMap::new();
        let mut seen: Vec<DedupKey> = Vec::new();
        for spec in jobs {
            let key = self.dedup_key(spec);
            if !self.index.contains_key(&key) && !seen.contains(&key) {
                *new_per_env.entry(spec.env.as_str()).or_default() += 1;
                seen.push(key);
            }
        }
        let new_total: usize = new_per_env.values().sum();
        if self.pending.len() + new_total > self.config.queue_pending_max {
            let env = jobs.first().map(|spec| spec.env.clone()).unwrap_or_default();
            return Err(Busy { pending: self.env_pending(&env), env });
        }
        for (env, new) in &new_per_env {
            let pending = self.env_pending(env);
            if pending + new > self.config.env_pending_max {
                return Err(Busy { env: Name::from(*env), pending });
            }
        }
        Ok(jobs.iter().map(|spec| self.insert(spec.clone(), None, false)).collect())
    }

    /// Inserts one job, coalescing it into a pending job with the same key if there is one. A redelivery keeps
    /// its job id and goes to the front of its lane: it has waited once already.
    fn insert(&mut self, spec: JobSpec, id: Option<u64>, front: bool) -> Enqueued {
        let key = self.dedup_key(&spec);
        if self.merge_across_envs && id.is_none() {
            if let Some((into_job, into_env)) = self.other_env_job(&spec) {
                return Enqueued::Coalesced { into_job, into_env };
            }
        }
        if self.config.dedup_against_leased && id.is_none() {
            if let Some(leased) = self.leases.values().find(|l| self.dedup_key(&l.spec) == key) {
                return Enqueued::Coalesced { into_job: leased.job, into_env: leased.spec.env.clone() };
            }
        }
        if let Some(&into_job) = self.index.get(&key) {
            let existing = self.pending.get_mut(&into_job).expect("dedup index points at a pending job");
            let into_env = existing.spec.env.clone();
            if spec.kind == JobKind::Fresh && existing.lane == JobKind::Bulk {
                // A fresh ingest must not wait behind a deploy's backlog: move the job to the fresh lane. Its
                // old place in the bulk lane is skipped when reached.
                existing.lane = JobKind::Fresh;
                existing.spec.kind = JobKind::Fresh;
                self.envs.get_mut(&into_env).expect("lanes of a pending job").fresh.push_back(into_job);
            }
            return Enqueued::Coalesced { into_job, into_env };
        }
        let job = id.unwrap_or_else(|| {
            let job = self.next_job;
            self.next_job += 1;
            job
        });
        let lanes = self.envs.entry(spec.env.clone()).or_default();
        let lane = match spec.kind {
            JobKind::Fresh => &mut lanes.fresh,
            JobKind::Bulk => &mut lanes.bulk,
        };
        if front {
            lane.push_front(job);
        } else {
            lane.push_back(job);
        }
        lanes.pending += 1;
        self.index.insert(key, job);
        self.count_entity(&spec, true);
        self.pending.insert(job, Pending { lane: spec.kind, spec });
        Enqueued::New { job }
    }

    /// Hands the next job, in fair order, to `worker` under a lease that expires `lease_ms` after `now`.
    pub fn lease(&mut self, worker: &str, now: WallMillis) -> Option<Leased> {
        if let Some(held) = self.held_for.get_mut(worker).and_then(|held| held.pop_front()) {
            let token = self.next_token;
            self.next_token += 1;
            let leased = Leased { token, expires_at: now.plus_ms(self.config.lease_ms), ..held };
            self.leases.insert(token, leased.clone());
            return Some(leased);
        }
        let (env, job, kind) = if self.config.fifo { self.pick_oldest()? } else { self.pick_fair()? };
        let lanes = self.envs.get_mut(&env).expect("a picked job's environment has lanes");
        match kind {
            JobKind::Fresh => lanes.fresh_streak += 1,
            JobKind::Bulk => lanes.fresh_streak = 0,
        }
        lanes.pending -= 1;
        if lanes.pending == 0 {
            self.envs.remove(&env);
        }
        let pending = self.pending.remove(&job).expect("job chosen from pending");
        self.count_entity(&pending.spec, false);
        let key = self.dedup_key(&pending.spec);
        if self.index.get(&key) == Some(&job) {
            self.index.remove(&key);
        }
        self.cursor = Some(env);
        let token = self.next_token;
        self.next_token += 1;
        let leased = Leased {
            job,
            spec: pending.spec,
            token,
            worker: worker.to_string(),
            expires_at: now.plus_ms(self.config.lease_ms),
        };
        self.leases.insert(token, leased.clone());
        Some(leased)
    }

    /// The flaw `fifo-queue`: the oldest pending job of any environment (job ids grow in enqueue order).
    fn pick_oldest(&self) -> Option<(Env, u64, JobKind)> {
        let (&job, pending) = self.pending.iter().next()?;
        Some((pending.spec.env.clone(), job, pending.lane))
    }

    /// The next job in fair order: the next environment round-robin, and within it fresh before bulk (but one
    /// bulk job after `fresh_per_bulk` fresh ones). Pops the job's id from its lane.
    fn pick_fair(&mut self) -> Option<(Env, u64, JobKind)> {
        let env = self.next_env()?;
        let lanes = self.envs.get_mut(&env).expect("next_env returns an environment with lanes");
        let take_fresh =
            !lanes.fresh.is_empty() && (lanes.bulk.is_empty() || lanes.fresh_streak < self.config.fresh_per_bulk);
        let mut job_id = None;
        for kind in if take_fresh { [JobKind::Fresh, JobKind::Bulk] } else { [JobKind::Bulk, JobKind::Fresh] } {
            let lane = match kind {
                JobKind::Fresh => &mut lanes.fresh,
                JobKind::Bulk => &mut lanes.bulk,
            };
            while let Some(id) = lane.pop_front() {
                // Skip ids left behind when a job moved lanes.
                if self.pending.get(&id).is_some_and(|p| p.lane == kind) {
                    job_id = Some((id, kind));
                    break;
                }
            }
            if job_id.is_some() {
                break;
            }
        }
        let (job, kind) = job_id.expect("an environment with pending jobs has one in a lane");
        Some((env, job, kind))
    }

    /// The first environment after the cursor (wrapping around) that has pending jobs.
    fn next_env(&self) -> Option<Env> {
        use std::ops::Bound::{Excluded, Unbounded};
        let after = match &self.cursor {
            Some(cursor) => self.envs.range::<Env, _>((Excluded(cursor), Unbounded)).next(),
            None => None,
        };
        after.or_else(|| self.envs.iter().next()).map(|(env, _)| env.clone())
    }

    /// Acknowledges the lease with `token`. Returns the lease if it was live; `None` if it had expired (its job
    /// went back to the queue and another token now owns it).
    pub fn ack(&mut self, token: u64) -> Option<Leased> {
        self.leases.remove(&token)
    }

    /// Returns every lease that has expired at `now` to the queue.
    pub fn expire(&mut self, now: WallMillis) -> Vec<Expired> {
        let expired: Vec<u64> =
            self.leases.iter().filter(|(_, lease)| lease.expires_at <= now).map(|(&token, _)| token).collect();
        let mut out = Vec::with_capacity(expired.len());
        for token in expired {
            let lease = self.leases.remove(&token).expect("token listed above");
            if self.config.sticky_redelivery {
                self.held_for.entry(lease.worker.clone()).or_default().push_back(lease.clone());
                out.push(Expired { lease, coalesced: false });
                continue;
            }
            let coalesced =
                matches!(self.insert(lease.spec.clone(), Some(lease.job), true), Enqueued::Coalesced { .. });
            out.push(Expired { lease, coalesced });
        }
        out
    }

    /// Live leases, in token order.
    pub fn leases(&self) -> impl Iterator<Item = &Leased> {
        self.leases.values()
    }

    /// The lease with this fencing token, while it is held.
    pub fn leased(&self, token: u64) -> Option<&Leased> {
        self.leases.get(&token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FairConfig {
        FairConfig {
            env_pending_max: 100,
            queue_pending_max: 1_000,
            fresh_per_bulk: 3,
            lease_ms: 1_000,
            dedup_ignores_environment: false,
            dedup_against_leased: false,
            fifo: false,
            sticky_redelivery: false,
        }
    }

    fn job(env: &str, entity: &str, kind: JobKind) -> JobSpec {
        JobSpec { env: env.into(), entity: entity.into(), schema: "page".into(), kind }
    }

    fn drain(queue: &mut FairQueue) -> Vec<String> {
        let mut order = Vec::new();
        while let Some(lease) = queue.lease("w", WallMillis(0)) {
            order.push(format!("{}/{}", lease.spec.env, lease.spec.entity));
        }
        order
    }

    #[test]
    fn environments_are_served_round_robin_not_fifo() {
        let mut queue = FairQueue::new(config());
        // A noisy neighbour enqueues a backlog first; two small environments enqueue one job each afterwards.
        let noisy: Vec<JobSpec> = (0..5).map(|i| job("noisy", &format!("e{i}"), JobKind::Fresh)).collect();
        queue.enqueue(&noisy).unwrap();
        queue.enqueue(&[job("small-a", "home", JobKind::Fresh)]).unwrap();
        queue.enqueue(&[job("small-b", "home", JobKind::Fresh)]).unwrap();
        assert_eq!(
            drain(&mut queue),
            ["noisy/e0", "small-a/home", "small-b/home", "noisy/e1", "noisy/e2", "noisy/e3", "noisy/e4"]
        );
    }

    #[test]
    fn fresh_jobs_go_first_but_bulk_jobs_are_not_starved() {
        let mut queue = FairQueue::new(config());
        let bulk: Vec<JobSpec> = (0..3).map(|i| job("env", &format!("b{i}"), JobKind::Bulk)).collect();
        let fresh: Vec<JobSpec> = (0..7).map(|i| job("env", &format!("f{i}"), JobKind::Fresh)).collect();
        queue.enqueue(&bulk).unwrap();
        queue.enqueue(&fresh).unwrap();
        assert_eq!(
            drain(&mut queue),
            ["env/f0", "env/f1", "env/f2", "env/b0", "env/f3", "env/f4", "env/f5", "env/b1", "env/f6", "env/b2"]
        );
    }

    #[test]
    fn pending_duplicates_of_one_environment_are_coalesced() {
        let mut queue = FairQueue::new(config());
        let first = queue.enqueue(&[job("a", "home", JobKind::Fresh)]).unwrap();
        let second = queue.enqueue(&[job("a", "home", JobKind::Fresh)]).unwrap();
        assert_eq!(first, [Enqueued::New { job: 1 }]);
        assert_eq!(second, [Enqueued::Coalesced { into_job: 1, into_env: "a".into() }]);
        assert_eq!(queue.pending_len(), 1);
    }

    #[test]
    fn jobs_of_different_environments_are_never_coalesced() {
        let mut queue = FairQueue::new(config());
        queue.enqueue(&[job("a", "home", JobKind::Fresh)]).unwrap();
        let other = queue.enqueue(&[job("b", "home", JobKind::Fresh)]).unwrap();
        assert_eq!(other, [Enqueued::New { job: 2 }]);
        assert_eq!(drain(&mut queue), ["a/home", "b/home"]);
    }

    #[test]
    fn the_incident_flaw_coalesces_across_environments() {
        let mut queue = FairQueue::new(FairConfig { dedup_ignores_environment: true, ..config() });
        queue.enqueue(&[job("a", "home", JobKind::Fresh)]).unwrap();
        let other = queue.enqueue(&[job("b", "home", JobKind::Fresh)]).unwrap();
        assert_eq!(other, [Enqueued::Coalesced { into_job: 1, into_env: "a".into() }]);
        assert_eq!(drain(&mut queue), ["a/home"]);
    }

    #[test]
    fn a_job_is_not_absorbed_by_a_leased_job() {
        let mut queue = FairQueue::new(config());
        queue.enqueue(&[job("a", "home", JobKind::Fresh)]).unwrap();
        let lease = queue.lease("w", WallMillis(0)).unwrap();
        // An update arrives while the worker processes the old version: it must run again afterwards.
        let again = queue.enqueue(&[job("a", "home", JobKind::Fresh)]).unwrap();
        assert_eq!(again, [Enqueued::New { job: 2 }]);
        assert!(queue.ack(lease.token).is_some());
        assert_eq!(drain(&mut queue), ["a/home"]);
    }

    #[test]
    fn a_fresh_duplicate_lifts_a_bulk_job_into_the_fresh_lane() {
        let mut queue = FairQueue::new(FairConfig { fresh_per_bulk: 1, ..config() });
        let bulk: Vec<JobSpec> = (0..4).map(|i| job("env", &format!("b{i}"), JobKind::Bulk)).collect();
        queue.enqueue(&bulk).unwrap();
        queue.enqueue(&[job("env", "b3", JobKind::Fresh)]).unwrap();
        assert_eq!(queue.pending_len(), 4);
        assert_eq!(drain(&mut queue), ["env/b3", "env/b0", "env/b1", "env/b2"]);
    }

    #[test]
    fn an_expired_lease_is_redelivered_and_its_old_token_is_fenced_off() {
        let mut queue = FairQueue::new(config());
        queue.enqueue(&[job("a", "home", JobKind::Fresh)]).unwrap();
        let first = queue.lease("w1", WallMillis(10_000)).unwrap();
        assert_eq!(first.expires_at, WallMillis(11_000));
        assert!(queue.expire(WallMillis(10_999)).is_empty(), "a lease is live until its expiry");
        let expired = queue.expire(WallMillis(11_000));
        assert_eq!(expired.len(), 1);
        assert!(!expired[0].coalesced);
        let second = queue.lease("w2", WallMillis(11_000)).unwrap();
        assert_eq!(second.job, first.job, "the same job is redelivered");
        assert!(second.token > first.token, "fencing tokens increase");
        assert_eq!(queue.ack(first.token), None, "the expired lease can no longer acknowledge");
        assert!(queue.ack(second.token).is_some());
        assert_eq!(queue.leased_len(), 0);
    }

    #[test]
    fn a_redelivery_coalesces_into_a_pending_duplicate() {
        let mut queue = FairQueue::new(config());
        queue.enqueue(&[job("a", "home", JobKind::Fresh)]).unwrap();
        queue.lease("w1", WallMillis(0)).unwrap();
        queue.enqueue(&[job("a", "home", JobKind::Fresh)]).unwrap();
        let expired = queue.expire(WallMillis(5_000));
        assert!(expired[0].coalesced);
        assert_eq!(drain(&mut queue), ["a/home"]);
    }

    #[test]
    fn an_environment_over_its_limit_gets_busy_and_nothing_is_enqueued() {
        let mut queue = FairQueue::new(FairConfig { env_pending_max: 2, ..config() });
        queue.enqueue(&[job("a", "x", JobKind::Fresh)]).unwrap();
        let refused = queue.enqueue(&[job("a", "y", JobKind::Fresh), job("a", "z", JobKind::Fresh)]);
        assert_eq!(refused, Err(Busy { env: "a".into(), pending: 1 }));
        assert_eq!(queue.pending_len(), 1, "a refused batch leaves nothing behind");
        // A duplicate needs no new slot, and another environment has its own limit.
        assert!(queue.enqueue(&[job("a", "x", JobKind::Fresh)]).is_ok());
        assert!(queue.enqueue(&[job("b", "x", JobKind::Fresh), job("b", "y", JobKind::Fresh)]).is_ok());
    }

    #[test]
    fn the_fifo_flaw_serves_the_noisy_backlog_first() {
        let mut queue = FairQueue::new(FairConfig { fifo: true, ..config() });
        let noisy: Vec<JobSpec> = (0..3).map(|i| job("noisy", &format!("e{i}"), JobKind::Fresh)).collect();
        queue.enqueue(&noisy).unwrap();
        queue.enqueue(&[job("small", "home", JobKind::Fresh)]).unwrap();
        assert_eq!(drain(&mut queue), ["noisy/e0", "noisy/e1", "noisy/e2", "small/home"]);
    }

    #[test]
    fn the_dedup_against_leased_flaw_drops_an_update_to_a_job_in_flight() {
        let mut queue = FairQueue::new(FairConfig { dedup_against_leased: true, ..config() });
        queue.enqueue(&[job("a", "home", JobKind::Fresh)]).unwrap();
        let lease = queue.lease("w", WallMillis(0)).unwrap();
        let again = queue.enqueue(&[job("a", "home", JobKind::Fresh)]).unwrap();
        assert_eq!(again, [Enqueued::Coalesced { into_job: lease.job, into_env: "a".into() }]);
        assert_eq!(queue.pending_len(), 0, "the update is gone");
    }

    #[test]
    fn a_repeated_enqueue_adds_nothing_even_after_its_jobs_were_leased() {
        let mut queue = FairQueue::new(config());
        let first = queue.enqueue_once(Some((7, Version(1))), &[job("a", "home", JobKind::Fresh)]).unwrap();
        assert!(first.is_some());
        let lease = queue.lease("w", WallMillis(0)).unwrap();
        assert!(queue.ack(lease.token).is_some());
        // The reply to the first enqueue was lost; the ingest retries it.
        assert_eq!(queue.enqueue_once(Some((7, Version(1))), &[job("a", "home", JobKind::Fresh)]).unwrap(), None);
        assert_eq!(queue.pending_len(), 0);
        // Another ingest of the same entity is new work, and so is the same request storing a newer version (a
        // late retry the store no longer recognised).
        assert!(queue.enqueue_once(Some((8, Version(2))), &[job("a", "home", JobKind::Fresh)]).unwrap().is_some());
        assert!(queue.enqueue_once(Some((7, Version(3))), &[job("a", "home", JobKind::Fresh)]).unwrap().is_some());
        assert_eq!(queue.pending_len(), 1, "the two coalesce: one pending job");
    }

    #[test]
    fn a_redelivery_is_never_refused_by_the_limit() {
        let mut queue = FairQueue::new(FairConfig { env_pending_max: 1, ..config() });
        queue.enqueue(&[job("a", "x", JobKind::Fresh)]).unwrap();
        queue.lease("w", WallMillis(0)).unwrap();
        queue.enqueue(&[job("a", "y", JobKind::Fresh)]).unwrap();
        queue.expire(WallMillis(1_000));
        assert_eq!(queue.env_pending("a"), 2, "accepted work is kept even above the limit");
    }
}
