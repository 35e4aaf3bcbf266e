//! Fairness, from the readers' side: no environment starves. When the scenario states a bound, every write
//! acknowledged to a client of the environments it names must be visible to that environment's reader (every
//! deployed schema's view at that version or newer) within the bound, whatever another environment is doing,
//! and also while the environment's own bulk work (a schema deploy) is queued. A plain FIFO queue fails this
//! under a noisy neighbour: the light environment's job waits behind the whole backlog.
//!
//! Freshness is measured from the acknowledgement to the first read that shows the write; a write never seen
//! is at least as late as the last read that did not show it.

use crate::faults::Fault;
use crate::model::Model;
use crate::outcome::{Violation, ViolationKind};
use crate::readers::Read;
use crate::scenario::{Dur, FreshBound, Scenario};
use std::collections::BTreeMap;
use std::time::Duration;
use system::model::Version;
use system::points::Point;

/// How long one acknowledged write took to become visible to its environment's reader.
pub struct Freshness<'a> {
    pub env: &'a str,
    pub entity: &'a str,
    pub version: Version,
    pub acked_at: Duration,
    pub latency: Duration,
    /// False if no read showed it: `latency` is then a lower bound (up to the last read that did not).
    pub seen: bool,
}

/// The freshness of every acknowledged write of `envs` that a read after its acknowledgement measured.
pub fn freshness<'a>(model: &'a Model, reads: &[Read], envs: &[String]) -> Vec<Freshness<'a>> {
    let mut by_entity: BTreeMap<(&str, &str), Vec<&Read>> = BTreeMap::new();
    for read in reads {
        by_entity.entry((&read.env, &read.entity)).or_default().push(read);
    }
    let mut out = Vec::new();
    for (env, env_model) in model.envs.iter().filter(|(env, _)| envs.iter().any(|e| e == *env)) {
        let schemas = model.deployed_schemas(env);
        for (entity, writes) in &env_model.entities {
            let Some(reads_of) = by_entity.get(&(env.as_str(), entity.as_str())) else { continue };
            for write in writes {
                let (Some(version), Some(acked_at)) = (write.acked_version(), write.acked_at()) else { continue };
                let shows = |read: &&Read| {
                    schemas
                        .iter()
                        .all(|schema| read.views.iter().any(|v| v.schema == *schema && v.source_version >= version))
                };
                let mut after = reads_of.iter().copied().filter(|r| r.at >= acked_at).peekable();
                if after.peek().is_none() {
                    continue;
                }
                let mut last = acked_at;
                let mut seen = false;
                for read in after {
                    last = read.at;
                    if shows(&read) {
                        seen = true;
                        break;
                    }
                }
                out.push(Freshness { env, entity, version, acked_at, latency: last - acked_at, seen });
            }
        }
    }
    out
}

/// The round trip of one message: madsim delays each send by 1 to 10 ms, so at most 20 ms and about 11 on
/// average.
const ROUND_TRIP_MAX: Duration = Duration::from_millis(20);
const ROUND_TRIP_MEAN: Duration = Duration::from_millis(11);
/// Round trips one job takes at most: lease, read the source, read the schema, write the view, acknowledge.
const ROUND_TRIPS_PER_JOB_MAX: u32 = 5;
/// Round trips one job takes on average: leases come in batches and an acknowledgement asks for the next job
/// (baseline measures about three RPCs per job: 7,093 for 2,302 jobs).
const ROUND_TRIPS_PER_JOB_MEAN: u32 = 3;
/// A derived bound is never tighter than this: bursts of arrivals queue for a few round-robin turns.
const DERIVED_BOUND_MIN: Duration = Duration::from_secs(2);
/// A derived bound allows this many jobs' time: a light job waits a few turns of the round-robin, each at most
/// one job of every other environment per slot.
const JOBS_OF_WAITING: u32 = 20;
/// How long after a fault heals its effects may still delay fresh work, on top of the lease: leases held across
/// it expire, callers' backoffs (at most 2 s) run out, and the store's outbox hands on what it owed (a second
/// of grace and a round or two of 250 ms).
const RECOVERY_AFTER_LEASE: Duration = Duration::from_secs(4);
/// The delays fault points add, allowed on top of a derived bound when the run may switch points on: a render
/// ten times the longest (per job, `render_time_max` x 10), and an enqueue answered busy or an outbox round
/// skipped (the outbox's second of grace and four of its 250 ms rounds).
const POINTS_OUTBOX_DELAY: Duration = Duration::from_secs(2);

/// The freshness bound one run is held to: how late, which environments, and which writes are left out.
pub struct Bound {
    pub latency: Duration,
    /// The environments held to it.
    pub envs: Vec<String>,
    /// Windows of faults that may delay fresh work for reasons fairness does not govern, each with the
    /// environments it excuses (None: all): a write acknowledged so that its wait overlaps one is not judged.
    /// Empty for a written bound, which holds under the scenario's faults as its author chose them.
    excused: Vec<(Duration, Duration, Option<Vec<String>>)>,
}

impl Bound {
    /// Whether the write of `env` acknowledged at `acked_at` is judged.
    fn judges(&self, env: &str, acked_at: Duration) -> bool {
        self.envs.iter().any(|e| e == env)
            && !self.excused.iter().any(|(from, until, envs)| {
                *from < acked_at + self.latency
                    && acked_at < *until
                    && envs.as_ref().is_none_or(|envs| envs.iter().any(|e| e == env))
            })
    }
}

/// What a `"fair-share"` bound comes to for one resolved scenario, and how it was reached.
pub struct Derived {
    /// The longest a job takes (all its round trips at their longest, and the longest render), and what it takes
    /// on average (what throughput depends on).
    pub job: Duration,
    pub job_mean: Duration,
    /// Jobs per second one environment's fair share of the workers can do.
    pub share_per_s: f64,
    /// Fresh jobs per second each environment's ingests make (one per schema per write).
    pub demand_per_s: f64,
    pub latency: Duration,
    /// The environments light enough to be held to it: their fresh jobs need no more than what their share
    /// leaves for fresh work while they have bulk work queued too.
    pub envs: Vec<String>,
    /// Whether the slow-render point is on and a batch of slow renders (ten times the longest each) outlasts
    /// the share of a lease a worker spends before it gives its jobs up. Then a job behind slow renders in its
    /// batch is given up, redelivered once its lease runs out, and may be given up again at each delivery: a
    /// legal run with no latency bound at all, so no environment is held to one.
    pub slow_render_outlasts_lease: bool,
}

/// The bound that `"fair-share"` derives from a resolved scenario, the way `noisy-neighbour` explains its own:
/// the workers' throughput split evenly between the environments is each one's share; an environment whose
/// fresh ingests fit in what its share leaves beside its own bulk work should see each of them within a few
/// turns of the round-robin, whatever the other environments and its own deploys queue. A FIFO queue makes it
/// wait behind every other environment's backlog instead: many seconds.
///
/// `points_on` are the fault points switched on for the run and the percent of calls each fires at: a slow
/// render (ten times the longest) at that share of renders lowers the throughput the share is made of.
pub fn derive(scenario: &Scenario, points_on: &[(Point, u64)]) -> Derived {
    let config = crate::world::system_config(scenario);
    let job = ROUND_TRIP_MAX * ROUND_TRIPS_PER_JOB_MAX + config.render_time_max;
    let slow_render = config.render_time_max * 10;
    let slow_share =
        points_on.iter().find(|(p, _)| *p == Point::SlowRender).map_or(0.0, |(_, percent)| *percent as f64 / 100.0);
    let render_mean = ((config.render_time_min + config.render_time_max) / 2).mul_f64(1.0 - slow_share)
        + slow_render.mul_f64(slow_share);
    let job_mean = ROUND_TRIP_MEAN * ROUND_TRIPS_PER_JOB_MEAN + render_mean;
    let slots = (scenario.topology.workers.get() * scenario.topology.worker_slots.get()) as f64;
    let envs = scenario.env_names().len().max(1) as f64;
    let share_per_s = slots / job_mean.as_secs_f64() / envs;
    let fresh_part = config.fresh_per_bulk as f64 / (config.fresh_per_bulk as f64 + 1.0);
    let demand_per_s = scenario.load.ingest_rate.get() as f64 * scenario.schemas.len() as f64;
    let light = demand_per_s <= share_per_s * fresh_part;
    let mut latency = DERIVED_BOUND_MIN.max(job * JOBS_OF_WAITING) + scenario.readers.interval.0 * 2;
    if !scenario.faults.points.is_off() {
        latency += slow_render + POINTS_OUTBOX_DELAY;
    }
    // A work loop renders its batch one job after another under the leases' one budget, so a batch of slow
    // renders can spend it.
    let slow_render_outlasts_lease = slow_share > 0.0
        && slow_render * system::worker::LEASE_BATCH > config.lease.mul_f64(system::worker::LEASE_BUDGET);
    let envs = if light && !slow_render_outlasts_lease { scenario.env_names().to_vec() } else { Vec::new() };
    Derived { job, job_mean, share_per_s, demand_per_s, latency, envs, slow_render_outlasts_lease }
}

/// The bound a run is held to, if its scenario states one. `points_on` are the fault points the harness switched
/// on for the run, with their percents (see [`derive`]).
pub fn bound(scenario: &Scenario, faults: &[crate::world::FaultWindow], points_on: &[(Point, u64)]) -> Option<Bound> {
    let written = scenario.invariants.fairness_environments.clone();
    match scenario.invariants.fresh_view_latency_max? {
        FreshBound::Fixed(latency) => Some(Bound {
            latency: latency.0,
            envs: written.unwrap_or_else(|| scenario.env_names().to_vec()),
            excused: Vec::new(),
        }),
        FreshBound::FairShare => {
            let derived = derive(scenario, points_on);
            let recovery = crate::world::system_config(scenario).lease + RECOVERY_AFTER_LEASE;
            let excused = faults
                .iter()
                .filter_map(|w| {
                    let envs = match &w.spec.fault {
                        // Bulk work is what the bound is there to hold fresh work against.
                        Fault::Deploy { .. } => return None,
                        // An environment ingesting at many times its rate is not light while it does.
                        Fault::Burst { environments, .. } => Some(environments.clone()),
                        _ => None,
                    };
                    Some((w.spec.at.0, w.until + recovery, envs))
                })
                .collect();
            let envs = derived.envs.into_iter().filter(|e| written.as_ref().is_none_or(|w| w.contains(e))).collect();
            Some(Bound { latency: derived.latency, envs, excused })
        }
    }
}

/// How many acknowledged writes a bound judged, for the run's statistics.
pub fn judged(bound: &Bound, model: &Model, reads: &[Read]) -> usize {
    freshness(model, reads, &bound.envs).iter().filter(|f| bound.judges(f.env, f.acked_at)).count()
}

pub fn check(
    scenario: &Scenario,
    model: &Model,
    reads: &[Read],
    faults: &[crate::world::FaultWindow],
    points_on: &[(Point, u64)],
    found: &mut Vec<Violation>,
) {
    let Some(bound) = bound(scenario, faults, points_on) else { return };
    let shown = match scenario.invariants.fresh_view_latency_max {
        Some(FreshBound::FairShare) => format!("{} (fair-share)", Dur(bound.latency)),
        _ => Dur(bound.latency).to_string(),
    };
    for f in freshness(model, reads, &bound.envs) {
        if f.latency > bound.latency && bound.judges(f.env, f.acked_at) {
            let how = if f.seen { "first seen by its reader" } else { "still not seen by its reader" };
            found.push(
                Violation::new(
                    ViolationKind::Starvation,
                    format!(
                        "{} acknowledged at {:.3}s was {how} {:.3}s later; the bound is {shown}",
                        f.version,
                        f.acked_at.as_secs_f64(),
                        f.latency.as_secs_f64()
                    ),
                )
                .at(f.env, f.entity, None)
                .versions(Some(f.version.0), None)
                .at_ms((f.acked_at + f.latency).as_millis() as u64),
            );
        }
    }
}
