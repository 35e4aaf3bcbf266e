//! Fairness, from the readers' side: no environment starves. When the scenario states a bound, every write
//! acknowledged to a client of the environments it names must be visible to that environment's reader (every
//! deployed schema's view at that version or newer) within the bound, whatever another environment is doing,
//! and also while the environment's own bulk work (a schema deploy) is queued. A plain FIFO queue fails this
//! under a noisy neighbour: the light environment's job waits behind the whole backlog.
//!
//! Freshness is measured from the acknowledgement to the first read that shows the write; a write never seen
//! is at least as late as the last read that did not show it.

use crate::model::Model;
use crate::outcome::{Violation, ViolationKind};
use crate::readers::Read;
use crate::scenario::Scenario;
use std::collections::BTreeMap;
use std::time::Duration;
use system::model::Version;

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

pub fn check(scenario: &Scenario, model: &Model, reads: &[Read], found: &mut Vec<Violation>) {
    let Some(bound) = scenario.invariants.fresh_view_latency_max else { return };
    let envs = scenario.invariants.fairness_environments.clone().unwrap_or_else(|| scenario.env_names().to_vec());
    for f in freshness(model, reads, &envs) {
        if f.latency > bound.0 {
            let how = if f.seen { "first seen by its reader" } else { "still not seen by its reader" };
            found.push(
                Violation::new(
                    ViolationKind::Starvation,
                    format!(
                        "{} acknowledged at {:.3}s was {how} {:.3}s later; the bound is {bound}",
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
