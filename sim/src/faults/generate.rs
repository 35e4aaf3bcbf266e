//! The fault generator: draws a fault plan from the seed, on the `faults` stream, within the scenario's bounds.
//!
//! In swarm mode each seed first enables a random non-empty subset of the scenario's kinds, each at its own
//! random intensity (a share of the scenario's maximum), so that different seeds explore different mixes of
//! faults, as FoundationDB's and TigerBeetle's simulators do: a seed with only clock faults finds different bugs
//! from a seed with everything at once.

use super::{BoundedI, ClusterShape, Fault, FaultKind, FaultSpec, FaultsConfig, SignedDur};
use crate::scenario::{Bounded, Dur};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// The shortest generated fault.
const DURATION_MIN: Duration = Duration::from_millis(100);
/// The node whose clock judges leases.
const QUEUE_NODE: &str = "queue";
/// How close to its branch point a branch draws half its faults.
const BRANCH_NEAR: Duration = Duration::from_secs(2);

pub fn generate(config: &FaultsConfig, cluster: &ClusterShape, rng: &mut ChaCha8Rng) -> Vec<FaultSpec> {
    let Some(enabled) = select(config, rng) else { return Vec::new() };
    let count = rng.gen_range(1..=config.events_max.get());
    events(config, cluster, &enabled, count, Duration::ZERO, rng)
}

/// The faults a branch at `from` draws for the rest of the safety phase: the same kinds and intensities as its
/// run (drawn again from `selection`, the run's own fault stream), with the number and the faults themselves drawn
/// from the branch's stream. Half of them start within a couple of seconds of the branch point: the explorer
/// branches just before a rare moment, and faults close to it are what make two rare moments meet.
pub fn generate_from(
    config: &FaultsConfig,
    cluster: &ClusterShape,
    selection: &mut ChaCha8Rng,
    rng: &mut ChaCha8Rng,
    from: Duration,
) -> Vec<FaultSpec> {
    let Some(enabled) = select(config, selection) else { return Vec::new() };
    if from + DURATION_MIN > cluster.safety {
        return Vec::new();
    }
    let remaining = (cluster.safety - from).as_millis() as u64;
    let share = (config.events_max.get() * remaining).div_ceil(cluster.safety.as_millis().max(1) as u64);
    let count = rng.gen_range(0..=share.max(1));
    events(config, cluster, &enabled, count, from, rng)
}

/// The kinds enabled for a run, each with its intensity in percent of the scenario's maximum (swarm mode draws
/// a subset and intensities); `None` if the scenario generates nothing.
fn select(config: &FaultsConfig, rng: &mut ChaCha8Rng) -> Option<Vec<(FaultKind, u64)>> {
    if config.generate.is_empty() {
        return None;
    }
    let mut kinds: Vec<FaultKind> = config.generate.clone();
    kinds.sort();
    kinds.dedup();
    // Intensity per kind, in percent of the scenario's maximum.
    let mut enabled: Vec<(FaultKind, u64)> = Vec::new();
    for &kind in &kinds {
        if !config.swarm {
            enabled.push((kind, 100));
        } else if rng.gen_bool(0.5) {
            enabled.push((kind, rng.gen_range(10..=100)));
        }
    }
    if enabled.is_empty() {
        let kind = *kinds.choose(rng).expect("kinds is not empty");
        enabled.push((kind, rng.gen_range(10..=100)));
    }
    Some(enabled)
}

/// `count` faults of the enabled kinds, each starting at or after `from` (and healing within the safety phase).
fn events(
    config: &FaultsConfig,
    cluster: &ClusterShape,
    enabled: &[(FaultKind, u64)],
    count: u64,
    from: Duration,
    rng: &mut ChaCha8Rng,
) -> Vec<FaultSpec> {
    let duration_max = config.duration_max.0.max(DURATION_MIN).min(cluster.safety);
    let mut plan = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (kind, intensity) = *enabled.choose(rng).expect("enabled is not empty");
        let scale = |max: u64| (max * intensity / 100).max(1);
        let duration = Duration::from_micros(rng.gen_range(
            DURATION_MIN.as_micros() as u64
                ..=scale(duration_max.as_micros() as u64).max(DURATION_MIN.as_micros() as u64),
        ));
        // A branch's fault starts at or after the branch point and heals within the safety phase: shortened to fit.
        let duration = duration.min(cluster.safety.saturating_sub(from));
        let latest_start = cluster.safety.saturating_sub(duration);
        let at = if from.is_zero() {
            Duration::from_millis(rng.gen_range(0..=latest_start.as_millis() as u64))
        } else {
            // A branch's faults: half close after the branch point (most within a few milliseconds, the moment the
            // explorer aimed at), the rest anywhere after it.
            let earliest = from.as_micros() as u64;
            let latest = (latest_start.as_micros() as u64).max(earliest);
            let at = if rng.gen_bool(0.5) {
                let u: f64 = rng.gen();
                earliest + (BRANCH_NEAR.as_micros() as f64 * u.powi(4)) as u64
            } else {
                rng.gen_range(earliest..=latest)
            };
            Duration::from_micros(at.min(latest))
        };
        let duration = Dur(duration);
        let node = |rng: &mut ChaCha8Rng| cluster.nodes.choose(rng).expect("a cluster has nodes").clone();
        let disk = |rng: &mut ChaCha8Rng| cluster.disks.choose(rng).expect("a cluster has disks").clone();
        // Swarm aims a third of its clock steps at the queue: its clock alone judges every lease, and a step
        // back under held leases is a rare moment otherwise reached by one clock fault in a node count's worth.
        // Other scenarios draw their targets as before (no extra draw), so their plans do not move.
        let clock_target = |rng: &mut ChaCha8Rng| {
            let queue = cluster.nodes.iter().find(|n| n.as_str() == QUEUE_NODE);
            match queue {
                Some(queue) if config.swarm && rng.gen_ratio(1, 3) => queue.clone(),
                _ => node(rng),
            }
        };
        let worker = |rng: &mut ChaCha8Rng| cluster.workers.choose(rng).expect("a cluster has workers").clone();
        let latency = |rng: &mut ChaCha8Rng| {
            let max = scale(config.latency_max.0.as_millis() as u64);
            Dur(Duration::from_millis(rng.gen_range(1..=max)))
        };
        // Swarm mixes fixed and long-tailed latencies unless told otherwise; other scenarios keep fixed ones unless
        // they ask for tails. Only a mix draws anything, so a scenario's plans do not move when it states its default.
        let tails = config.tails.unwrap_or(if config.swarm { super::Tails::Mixed } else { super::Tails::Fixed });
        let tail = |rng: &mut ChaCha8Rng| match tails {
            super::Tails::Fixed => super::Tail::Fixed,
            super::Tails::Long => super::Tail::Pareto,
            super::Tails::Mixed if rng.gen_bool(0.5) => super::Tail::Pareto,
            super::Tails::Mixed => super::Tail::Fixed,
        };
        let offset = |rng: &mut ChaCha8Rng| {
            let max = scale(config.clock_offset_max.0.as_millis() as u64);
            SignedDur { negative: rng.gen_bool(0.5), magnitude: Duration::from_millis(rng.gen_range(1..=max)) }
        };
        // Each kind draws its fields in the order the fields are listed, so that a plan is the same function of
        // the seed whatever the shape of the types.
        let fault = match kind {
            FaultKind::Loss => {
                let target = if rng.gen_bool(0.3) { "network".into() } else { node(rng) };
                let loss_percent = Bounded(rng.gen_range(1..=scale(config.loss_percent_max.get())));
                Fault::Loss { duration, target, loss_percent }
            }
            FaultKind::Latency => {
                let (target, from, to) = match rng.gen_range(0..3) {
                    0 => (Some("network".into()), None, None),
                    1 => (Some(node(rng)), None, None),
                    _ => {
                        let mut two: Vec<&String> = cluster.nodes.choose_multiple(rng, 2).collect();
                        two.shuffle(rng);
                        (None, Some(two[0].clone()), Some(two[1].clone()))
                    }
                };
                let latency = latency(rng);
                Fault::Latency { duration, target, from, to, latency, tail: tail(rng) }
            }
            FaultKind::Isolate => Fault::Isolate { duration, target: node(rng) },
            FaultKind::Duplicate => {
                let target = if rng.gen_bool(0.3) { "network".into() } else { node(rng) };
                let duplicate_percent = Bounded(rng.gen_range(1..=scale(50)));
                // Copies arrive late: up to a few seconds, beyond any one call's timeout.
                let delay = Dur(Duration::from_millis(rng.gen_range(1..=scale(5_000))));
                Fault::Duplicate { duration, target, duplicate_percent, delay }
            }
            FaultKind::Crash => Fault::Crash { duration, target: node(rng) },
            FaultKind::Pause => Fault::Pause { duration, target: node(rng) },
            FaultKind::Split => {
                let size = rng.gen_range(1..cluster.nodes.len());
                let mut group: Vec<String> = cluster.nodes.choose_multiple(rng, size).cloned().collect();
                group.sort();
                Fault::Split { duration, group }
            }
            FaultKind::Cut => {
                let two: Vec<&String> = cluster.nodes.choose_multiple(rng, 2).collect();
                Fault::Cut { duration, from: two[0].clone(), to: two[1].clone() }
            }
            FaultKind::ClockOffset => {
                let target = clock_target(rng);
                Fault::ClockOffset { duration, target, offset: offset(rng) }
            }
            FaultKind::ClockJump => {
                let target = clock_target(rng);
                Fault::ClockJump { duration, target, offset: offset(rng) }
            }
            FaultKind::ClockDrift => {
                let target = node(rng);
                let max = scale(config.drift_ppm_max.get()) as i64;
                let ppm = rng.gen_range(1..=max);
                let drift_ppm = BoundedI(if rng.gen_bool(0.5) { -ppm } else { ppm });
                Fault::ClockDrift { duration, target, drift_ppm }
            }
            FaultKind::PauseWorkers => Fault::PauseWorkers { duration },
            FaultKind::Burst => {
                let size = rng.gen_range(1..=cluster.environments.len());
                let mut environments: Vec<String> = cluster.environments.choose_multiple(rng, size).cloned().collect();
                environments.sort();
                let max = scale(config.burst_rate_percent_max.get()).max(101);
                Fault::Burst { duration, environments, rate_percent: Bounded(rng.gen_range(101..=max)) }
            }
            FaultKind::Deploy => {
                let environment = cluster.environments.choose(rng).cloned().unwrap_or_default();
                let schema = cluster.schemas.choose(rng).cloned().unwrap_or_default();
                Fault::Deploy { environment, schema, fields: None }
            }
            FaultKind::TornWrite => Fault::TornWrite { duration, target: disk(rng) },
            FaultKind::CorruptWrite => Fault::CorruptWrite { duration, target: disk(rng) },
            FaultKind::CompactionCrash => Fault::CompactionCrash { duration, target: disk(rng) },
            FaultKind::SyncFail => Fault::SyncFail { duration, target: disk(rng) },
            FaultKind::DiskFull => Fault::DiskFull { duration, target: disk(rng) },
            FaultKind::DiskSlow => {
                let target = disk(rng);
                let latency = latency(rng);
                Fault::DiskSlow { duration, target, latency, tail: tail(rng) }
            }
            FaultKind::ReadError => {
                let target = disk(rng);
                Fault::ReadError { duration, target, error_percent: Bounded(rng.gen_range(10..=90)) }
            }
            FaultKind::CrashAfterAck => Fault::CrashAfterAck { duration, target: node(rng) },
            FaultKind::PauseWhileLeased => Fault::PauseWhileLeased { duration, target: worker(rng) },
            FaultKind::CutDuringViews => Fault::CutDuringViews { duration, target: worker(rng) },
        };
        let spec = FaultSpec { at: Dur(at), fault };
        plan.push(spec);
    }
    plan
}
