//! Shrinking: delta debugging of a failing seed file towards the smallest run that still fails the same way.
//!
//! Each step proposes a smaller variant (fewer branches, fewer fault events, shorter faults, fewer environments
//! or entities, less load, a shorter safety phase, a swarm seed's resolved knobs back toward the scenario's
//! own), replays it with the same seed, and keeps it only if it still fails with
//! the same signature. Every concern draws from its own random stream, keyed by name, so removing a fault or an
//! environment leaves the rest of the run as close to the original as the simulation allows.

use crate::faults::Fault;
use crate::scenario::{Bounded, Dur};
use crate::seedfile::SeedFile;
use crate::sweep::signature;
use crate::world::run_seed;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Replays a shrink may spend at most.
pub const REPLAYS_MAX: usize = 150;

/// How big a seed file's run is, for before/after reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Size {
    pub branches: usize,
    pub fault_events: usize,
    pub fault_points: usize,
    pub environments: usize,
    pub entities: u64,
    pub ingest_rate: u64,
    pub safety: Duration,
    /// A swarm seed's resolved values that differ from the scenario's own (see `scenario::swarm::SHRINKABLE`).
    pub knobs_off_default: usize,
}

impl Size {
    pub fn of(file: &SeedFile) -> Size {
        Size {
            branches: file.branches.len(),
            fault_events: file.plan.len(),
            fault_points: match &file.scenario.faults.points {
                crate::faults::Points::Listed(list) => list.len(),
                _ => 0,
            },
            environments: file.scenario.environments.names.len(),
            entities: file.scenario.environments.entities.get(),
            ingest_rate: file.scenario.load.ingest_rate.get(),
            safety: file.scenario.run.safety.0,
            knobs_off_default: {
                let now = crate::scenario::swarm::shrinkable_values(&file.scenario);
                file.swarm_defaults.iter().filter(|(name, default)| now.get(*name) != Some(default)).count()
            },
        }
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} branches, {} fault events, {} fault points, {} environments x {} entities, {} ingests/s each, safety {}",
            self.branches,
            self.fault_events,
            self.fault_points,
            self.environments,
            self.entities,
            self.ingest_rate,
            Dur(self.safety)
        )?;
        if self.knobs_off_default > 0 {
            write!(f, ", {} resolved knobs off the scenario's own", self.knobs_off_default)?;
        }
        Ok(())
    }
}

pub struct Shrunk {
    pub file: SeedFile,
    pub before: Size,
    pub after: Size,
    pub replays: usize,
}

/// Does `candidate` still fail with `wanted`? On success returns the candidate with its new outcome recorded.
fn still_fails(candidate: &SeedFile, wanted: &str, path: &Path) -> Option<SeedFile> {
    let loaded = candidate.to_loaded(path);
    let result = run_seed(&loaded, candidate.seed.seed);
    (signature(&result.outcome).as_deref() == Some(wanted)).then(|| {
        let mut kept = candidate.clone();
        kept.outcome = crate::seedfile::summary(&result.outcome);
        kept.plan = result.outcome.fault_plan.clone();
        kept
    })
}

/// Removes what a scenario no longer has from a plan: faults naming a dropped environment, faults that no longer
/// heal within a shorter safety phase.
fn fit_plan(file: &mut SeedFile) {
    let envs = file.scenario.environments.names.clone();
    let safety = file.scenario.run.safety.0;
    file.plan.retain_mut(|spec| {
        match &mut spec.fault {
            Fault::Burst { environments, .. } => {
                environments.retain(|e| envs.contains(e));
                if environments.is_empty() {
                    return false;
                }
            }
            Fault::Deploy { environment, .. } if !envs.contains(environment) => return false,
            _ => {}
        }
        spec.end() <= safety
    });
    file.scenario.load.deploys.retain(|d| envs.contains(&d.environment) && d.at.0 <= safety);
    file.scenario.environments.mirrors.retain(|mirror, source| envs.contains(mirror) && envs.contains(source));
    file.scenario.environments.sizes.retain(|env, _| envs.contains(env));
    if let Some(list) = &mut file.scenario.invariants.fairness_environments {
        list.retain(|e| envs.contains(e));
    }
}

pub fn shrink(original: &SeedFile, path: &Path, stop: &AtomicBool) -> Shrunk {
    let wanted = original.seed.signature.clone();
    let mut best = original.clone();
    let mut replays = 0usize;
    // A canary's seed keeps a fault of a kind its flaw needs: the saved run must show the harm with its cause.
    let needs = original.scenario.canary.as_ref().map(|c| c.needs.clone()).unwrap_or_default();
    let keeps_cause = |file: &SeedFile| {
        needs.is_empty()
            || !original.plan.iter().any(|s| needs.contains(&s.kind()))
            || file.plan.iter().any(|s| needs.contains(&s.kind()))
    };
    let mut attempt = |candidate: SeedFile, best: &mut SeedFile| -> bool {
        if replays >= REPLAYS_MAX || stop.load(Ordering::SeqCst) || !keeps_cause(&candidate) {
            return false;
        }
        replays += 1;
        match still_fails(&candidate, &wanted, path) {
            Some(kept) => {
                *best = kept;
                true
            }
            None => false,
        }
    };

    // 0. Branches: each dropped in turn, the latest first (the run then draws from its parent's streams there).
    let mut i = best.branches.len();
    while i > 0 {
        i -= 1;
        let mut candidate = best.clone();
        candidate.branches.remove(i);
        attempt(candidate, &mut best);
    }
    // 0b. Fault points: each switched off in turn (every point has a stream of its own, so the others fire as
    // before).
    if let crate::faults::Points::Listed(list) = best.scenario.faults.points.clone() {
        for point in list.iter().rev() {
            let mut candidate = best.clone();
            if let crate::faults::Points::Listed(on) = &mut candidate.scenario.faults.points {
                on.retain(|p| p != point);
            }
            attempt(candidate, &mut best);
        }
    }
    // 1. Fault events: ddmin, removing chunks from half down to single events.
    let mut chunk = best.plan.len().div_ceil(2).max(1);
    while chunk >= 1 && !best.plan.is_empty() {
        let mut i = 0;
        let mut removed_any = false;
        while i < best.plan.len() {
            let mut candidate = best.clone();
            let end = (i + chunk).min(candidate.plan.len());
            candidate.plan.drain(i..end);
            if attempt(candidate, &mut best) {
                removed_any = true;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 && !removed_any {
            break;
        }
        chunk = if removed_any { chunk } else { chunk / 2 };
        if chunk == 0 {
            break;
        }
    }
    // 2. Shorter faults: halve each duration while the failure holds.
    for i in 0..best.plan.len() {
        while let Some(duration) = best.plan.get(i).and_then(|s| s.duration()) {
            if duration < Duration::from_millis(200) {
                break;
            }
            let mut candidate = best.clone();
            candidate.plan[i].set_duration(duration / 2);
            if !attempt(candidate, &mut best) {
                break;
            }
        }
    }
    // 3. Fewer environments: drop one at a time (keeping at least one).
    let mut i = 0;
    while best.scenario.environments.names.len() > 1 && i < best.scenario.environments.names.len() {
        let mut candidate = best.clone();
        candidate.scenario.environments.names.remove(i);
        fit_plan(&mut candidate);
        if !attempt(candidate, &mut best) {
            i += 1;
        }
    }
    // 4. Fewer entities, less load, a shorter safety phase: cut by a half, or else by a quarter, while the
    //    failure holds.
    let cuts = |value: u64| [value / 2, value * 3 / 4];
    'entities: loop {
        let entities = best.scenario.environments.entities.get();
        for smaller in cuts(entities) {
            if smaller >= best.scenario.load.hot_entities.get().max(1) && smaller < entities {
                let mut candidate = best.clone();
                candidate.scenario.environments.entities = Bounded(smaller);
                if attempt(candidate, &mut best) {
                    continue 'entities;
                }
            }
        }
        break;
    }
    'rate: loop {
        let rate = best.scenario.load.ingest_rate.get();
        for smaller in cuts(rate) {
            if smaller >= 1 && smaller < rate {
                let mut candidate = best.clone();
                candidate.scenario.load.ingest_rate = Bounded(smaller);
                if attempt(candidate, &mut best) {
                    continue 'rate;
                }
            }
        }
        break;
    }
    'safety: loop {
        let safety = best.scenario.run.safety.0.as_millis() as u64;
        for smaller in cuts(safety) {
            if smaller >= 1_000 && smaller < safety {
                let mut candidate = best.clone();
                candidate.scenario.run.safety = Dur(Duration::from_millis(smaller));
                fit_plan(&mut candidate);
                if attempt(candidate, &mut best) {
                    continue 'safety;
                }
            }
        }
        break;
    }
    // 5. A swarm seed's resolved cluster, knobs and load mix back toward the scenario's own values: all the way,
    //    or else halfway, while the failure holds. What is left away from its default is what the failure needs.
    for (name, default) in best.swarm_defaults.clone() {
        while let Some(&now) = crate::scenario::swarm::shrinkable_values(&best.scenario).get(&name) {
            let halfway = if now > default { now - (now - default) / 2 } else { now + (default - now) / 2 };
            let tried = [default, halfway].into_iter().filter(|&v| v != now).any(|value| {
                let mut candidate = best.clone();
                crate::scenario::swarm::set_shrinkable(&mut candidate.scenario, &name, value)
                    && crate::scenario::validate(&candidate.scenario, "", path, "").is_ok()
                    && attempt(candidate, &mut best)
            });
            if !tried || crate::scenario::swarm::shrinkable_values(&best.scenario).get(&name) == Some(&default) {
                break;
            }
        }
    }
    Shrunk { before: Size::of(original), after: Size::of(&best), file: best, replays }
}
