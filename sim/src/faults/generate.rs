//! The fault generator: draws a fault plan from the seed, on the `faults` stream, within the scenario's bounds.
//!
//! In swarm mode each seed first enables a random non-empty subset of the scenario's kinds, each at its own
//! random intensity (a share of the scenario's maximum), so that different seeds explore different mixes of
//! faults, as FoundationDB's and TigerBeetle's simulators do: a seed with only clock faults finds different bugs
//! from a seed with everything at once.

use super::{BoundedI, ClusterShape, FaultKind, FaultSpec, FaultsConfig, SignedDur};
use crate::scenario::{Bounded, Dur};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// The shortest generated fault.
const DURATION_MIN: Duration = Duration::from_millis(100);

pub fn generate(config: &FaultsConfig, cluster: &ClusterShape, rng: &mut ChaCha8Rng) -> Vec<FaultSpec> {
    if config.generate.is_empty() {
        return Vec::new();
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
    let count = rng.gen_range(1..=config.events_max.get());
    let duration_max = config.duration_max.0.max(DURATION_MIN).min(cluster.safety);
    let mut plan = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (kind, intensity) = *enabled.choose(rng).expect("enabled is not empty");
        let scale = |max: u64| (max * intensity / 100).max(1);
        let duration = Duration::from_micros(rng.gen_range(
            DURATION_MIN.as_micros() as u64
                ..=scale(duration_max.as_micros() as u64).max(DURATION_MIN.as_micros() as u64),
        ));
        let latest_start = cluster.safety.saturating_sub(duration);
        let at = Duration::from_millis(rng.gen_range(0..=latest_start.as_millis() as u64));
        let mut spec = FaultSpec::new(kind, at);
        if kind != FaultKind::Deploy {
            spec.duration = Some(Dur(duration));
        }
        let node = |rng: &mut ChaCha8Rng| cluster.nodes.choose(rng).expect("a cluster has nodes").clone();
        match kind {
            FaultKind::Loss => {
                spec.target = Some(if rng.gen_bool(0.3) { "network".into() } else { node(rng) });
                spec.loss_percent = Some(Bounded(rng.gen_range(1..=scale(config.loss_percent_max.get()))));
            }
            FaultKind::Latency => {
                match rng.gen_range(0..3) {
                    0 => spec.target = Some("network".into()),
                    1 => spec.target = Some(node(rng)),
                    _ => {
                        let mut two: Vec<&String> = cluster.nodes.choose_multiple(rng, 2).collect();
                        two.shuffle(rng);
                        spec.from = Some(two[0].clone());
                        spec.to = Some(two[1].clone());
                    }
                }
                let max = scale(config.latency_max.0.as_millis() as u64);
                spec.latency = Some(Dur(Duration::from_millis(rng.gen_range(1..=max))));
            }
            FaultKind::Isolate | FaultKind::Crash | FaultKind::Pause => spec.target = Some(node(rng)),
            FaultKind::TornWrite
            | FaultKind::CorruptWrite
            | FaultKind::CompactionCrash
            | FaultKind::SyncFail
            | FaultKind::DiskFull => {
                spec.target = cluster.disks.choose(rng).cloned();
            }
            FaultKind::DiskSlow => {
                spec.target = cluster.disks.choose(rng).cloned();
                let max = scale(config.latency_max.0.as_millis() as u64);
                spec.latency = Some(Dur(Duration::from_millis(rng.gen_range(1..=max))));
            }
            FaultKind::Split => {
                let size = rng.gen_range(1..cluster.nodes.len());
                let mut group: Vec<String> = cluster.nodes.choose_multiple(rng, size).cloned().collect();
                group.sort();
                spec.group = Some(group);
            }
            FaultKind::Cut => {
                let two: Vec<&String> = cluster.nodes.choose_multiple(rng, 2).collect();
                spec.from = Some(two[0].clone());
                spec.to = Some(two[1].clone());
            }
            FaultKind::ClockOffset | FaultKind::ClockJump => {
                spec.target = Some(node(rng));
                let max = scale(config.clock_offset_max.0.as_millis() as u64);
                spec.offset = Some(SignedDur {
                    negative: rng.gen_bool(0.5),
                    magnitude: Duration::from_millis(rng.gen_range(1..=max)),
                });
            }
            FaultKind::ClockDrift => {
                spec.target = Some(node(rng));
                let max = scale(config.drift_ppm_max.get()) as i64;
                let ppm = rng.gen_range(1..=max);
                spec.drift_ppm = Some(BoundedI(if rng.gen_bool(0.5) { -ppm } else { ppm }));
            }
            FaultKind::PauseWorkers => {}
            FaultKind::Burst => {
                let size = rng.gen_range(1..=cluster.environments.len());
                let mut envs: Vec<String> = cluster.environments.choose_multiple(rng, size).cloned().collect();
                envs.sort();
                spec.environments = Some(envs);
                let max = scale(config.burst_rate_percent_max.get()).max(101);
                spec.rate_percent = Some(Bounded(rng.gen_range(101..=max)));
            }
            FaultKind::Deploy => {
                spec.environment = cluster.environments.choose(rng).cloned();
                spec.schema = cluster.schemas.choose(rng).cloned();
            }
        }
        plan.push(spec);
    }
    plan
}
