//! `[swarm]`: ranges a scenario gives for its cluster, its system's knobs and its load, which each seed resolves
//! to one value apiece (TigerBeetle's VOPR draws its cluster per seed the same way). A seed's resolved scenario is
//! a plain scenario: validated as a written one would be, and inlined into seed files, so that a replay needs
//! neither the ranges nor the stream that resolved them.
//!
//! The ranges are checked when the file is loaded: each `[low, high]` in order, and the scenario valid at both
//! corners (every low, every high), so that a seed's resolution is valid too.

use super::{Bounded, Dur, Scenario};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Inclusive ranges, each optional: what is not given keeps the scenario's own value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmRanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest_nodes: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_slots: Option<[u64; 2]>,
    /// How many of `environments.names` take part, from the first (a mirror of one left out is dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest_rate: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hot_percent: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unchanged_percent: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub give_up_percent: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<[Dur; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc_timeout: Option<[Dur; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_time_max: Option<[Dur; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_pending_max: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_compact_bytes: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_pending_max: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_per_bulk: Option<[u64; 2]>,
    /// Entities of the last environment taking part (and of the environment it mirrors, or that mirror it): one
    /// huge site beside small ones, or one small beside large ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_environment_entities: Option<[u64; 2]>,
    /// How many of `environments.mirrors` are kept (in the table's order): a mirror not kept writes its own
    /// entities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirrors: Option<[u64; 2]>,
    /// `load.one_write_per_entity`: 0 off, 1 on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_write_per_entity: Option<[u64; 2]>,
}

/// Where each value comes from: a seed's stream, or one corner of every range.
enum Pick<'a> {
    Seed(&'a mut rand_chacha::ChaCha8Rng),
    Low,
    High,
}

impl Pick<'_> {
    /// One draw per field whether the field has a range or not, so that adding a range to a file moves no other
    /// field's value.
    fn u64(&mut self, range: Option<[u64; 2]>) -> Option<u64> {
        let drawn = match self {
            Pick::Seed(rng) => Some(rng.next_u64()),
            _ => None,
        };
        let [low, high] = range?;
        Some(match (self, drawn) {
            (Pick::Low, _) => low,
            (Pick::High, _) => high,
            (_, Some(d)) => low + d % (high - low + 1),
            _ => low,
        })
    }

    fn dur(&mut self, range: Option<[Dur; 2]>) -> Option<Dur> {
        let ms = range.map(|[low, high]| [low.0.as_millis() as u64, high.0.as_millis() as u64]);
        self.u64(ms).map(|ms| Dur(std::time::Duration::from_millis(ms)))
    }
}

fn apply(scenario: &Scenario, mut pick: Pick) -> Scenario {
    let mut s = scenario.clone();
    let Some(r) = s.swarm.take() else { return s };
    if let Some(v) = pick.u64(r.ingest_nodes) {
        s.topology.ingest_nodes = Bounded(v);
    }
    if let Some(v) = pick.u64(r.workers) {
        s.topology.workers = Bounded(v);
    }
    if let Some(v) = pick.u64(r.worker_slots) {
        s.topology.worker_slots = Bounded(v);
    }
    if let Some(v) = pick.u64(r.environments) {
        s.environments.names.truncate(v as usize);
        let names = s.environments.names.clone();
        s.environments.mirrors.retain(|mirror, of| names.contains(mirror) && names.contains(of));
    }
    if let Some(v) = pick.u64(r.entities) {
        s.environments.entities = Bounded(v);
        // The hot set is a share of the entities: never more of them than there are.
        s.load.hot_entities = Bounded(s.load.hot_entities.get().min(v));
    }
    if let Some(v) = pick.u64(r.ingest_rate) {
        s.load.ingest_rate = Bounded(v);
    }
    if let Some(v) = pick.u64(r.hot_percent) {
        s.load.hot_percent = Bounded(v);
    }
    if let Some(v) = pick.u64(r.unchanged_percent) {
        s.load.unchanged_percent = Bounded(v);
    }
    if let Some(v) = pick.u64(r.give_up_percent) {
        s.load.give_up_percent = Bounded(v);
    }
    if let Some(v) = pick.dur(r.lease) {
        s.system.lease = Some(v);
    }
    if let Some(v) = pick.dur(r.rpc_timeout) {
        s.system.rpc_timeout = Some(v);
    }
    if let Some(v) = pick.dur(r.render_time_max) {
        s.system.render_time_max = Some(v);
    }
    if let Some(v) = pick.u64(r.env_pending_max) {
        s.system.env_pending_max = Some(Bounded(v));
    }
    if let Some(v) = pick.u64(r.log_compact_bytes) {
        s.system.log_compact_bytes = Some(Bounded(v));
    }
    // The fields below came later: drawn after every earlier one, so that the earlier ones resolve as before.
    if let Some(v) = pick.u64(r.queue_pending_max) {
        s.system.queue_pending_max = Some(Bounded(v));
    }
    if let Some(v) = pick.u64(r.fresh_per_bulk) {
        s.system.fresh_per_bulk = Some(Bounded(v));
    }
    if let Some(v) = pick.u64(r.last_environment_entities) {
        set_last_environment_entities(&mut s, v);
    }
    if let Some(v) = pick.u64(r.mirrors) {
        let kept: Vec<String> = s.environments.mirrors.keys().take(v as usize).cloned().collect();
        s.environments.mirrors.retain(|mirror, _| kept.contains(mirror));
    }
    if let Some(v) = pick.u64(r.one_write_per_entity) {
        s.load.one_write_per_entity = v == 1;
    }
    s
}

/// The last environment taking part and those it shares its entities with (its source, or its mirrors).
fn last_environment_group(s: &Scenario) -> Vec<String> {
    let Some(last) = s.environments.names.last().cloned() else { return Vec::new() };
    let source = s.environments.mirrors.get(&last).cloned().unwrap_or_else(|| last.clone());
    let mut group = vec![source.clone()];
    group.extend(s.environments.mirrors.iter().filter(|(_, of)| **of == source).map(|(m, _)| m.clone()));
    group
}

fn set_last_environment_entities(s: &mut Scenario, v: u64) {
    for env in last_environment_group(s) {
        if v == s.environments.entities.get() {
            s.environments.sizes.remove(&env);
        } else {
            s.environments.sizes.insert(env, Bounded(v));
        }
    }
    // The hot set is part of every environment's entities: never more of them than the smallest has.
    s.load.hot_entities = Bounded(s.load.hot_entities.get().min(s.entities_min()));
}

/// The scenario a seed runs: every range resolved from the seed's own stream (`swarm-config`), the `[swarm]`
/// table gone. A scenario without one is returned as it is.
pub fn resolve(scenario: &Scenario, seed: u64) -> Scenario {
    let mut rng = crate::rng::stream(seed, "swarm-config", 0);
    apply(scenario, Pick::Seed(&mut rng))
}

/// The scenario at each corner of its ranges (every value at its low end, then at its high end), for validation.
pub fn corners(scenario: &Scenario) -> [Scenario; 2] {
    [apply(scenario, Pick::Low), apply(scenario, Pick::High)]
}

/// The first range given high below low, by field name.
pub fn misordered(r: &SwarmRanges) -> Option<&'static str> {
    let u = [
        ("ingest_nodes", r.ingest_nodes),
        ("workers", r.workers),
        ("worker_slots", r.worker_slots),
        ("environments", r.environments),
        ("entities", r.entities),
        ("ingest_rate", r.ingest_rate),
        ("hot_percent", r.hot_percent),
        ("unchanged_percent", r.unchanged_percent),
        ("give_up_percent", r.give_up_percent),
        ("env_pending_max", r.env_pending_max),
        ("log_compact_bytes", r.log_compact_bytes),
        ("queue_pending_max", r.queue_pending_max),
        ("fresh_per_bulk", r.fresh_per_bulk),
        ("last_environment_entities", r.last_environment_entities),
        ("mirrors", r.mirrors),
        ("one_write_per_entity", r.one_write_per_entity),
    ];
    let d = [("lease", r.lease), ("rpc_timeout", r.rpc_timeout), ("render_time_max", r.render_time_max)];
    u.iter()
        .find(|(_, range)| range.is_some_and(|[low, high]| low > high))
        .map(|(name, _)| *name)
        .or_else(|| d.iter().find(|(_, range)| range.is_some_and(|[low, high]| low.0 > high.0)).map(|(n, _)| *n))
}

/// The first range reaching outside what its field accepts (a written value would be refused the same way).
pub fn out_of_bounds(r: &SwarmRanges, environments: usize, mirrors: usize) -> Option<(&'static str, String)> {
    let checks: [(&str, Option<[u64; 2]>, u64, u64); 16] = [
        ("ingest_nodes", r.ingest_nodes, 1, 16),
        ("workers", r.workers, 1, 64),
        ("worker_slots", r.worker_slots, 1, 16),
        ("environments", r.environments, 1, environments as u64),
        ("entities", r.entities, 1, 100_000),
        ("ingest_rate", r.ingest_rate, 1, 10_000),
        ("hot_percent", r.hot_percent, 0, 100),
        ("unchanged_percent", r.unchanged_percent, 0, 100),
        ("give_up_percent", r.give_up_percent, 0, 100),
        ("env_pending_max", r.env_pending_max, 1, 1_000_000),
        ("log_compact_bytes", r.log_compact_bytes, 1024, 1_073_741_824),
        ("queue_pending_max", r.queue_pending_max, 1, 10_000_000),
        ("fresh_per_bulk", r.fresh_per_bulk, 1, 1_000),
        ("last_environment_entities", r.last_environment_entities, 1, 100_000),
        ("mirrors", r.mirrors, 0, mirrors as u64),
        ("one_write_per_entity", r.one_write_per_entity, 0, 1),
    ];
    checks.iter().find_map(|&(name, range, min, max)| {
        let [low, high] = range?;
        (low < min || high > max).then(|| (name, format!("the range must lie within {min} to {max}")))
    })
}

/// The value each range of `scenario`'s `[swarm]` table took in `resolved` (durations in milliseconds, under a
/// name ending `_ms`), for the sweep's report of what its seeds covered. Empty without a `[swarm]` table.
pub fn values(scenario: &Scenario, resolved: &Scenario) -> std::collections::BTreeMap<String, u64> {
    let Some(r) = &scenario.swarm else { return Default::default() };
    let ranged = [
        ("ingest_nodes", r.ingest_nodes.is_some()),
        ("workers", r.workers.is_some()),
        ("worker_slots", r.worker_slots.is_some()),
        ("environments", r.environments.is_some()),
        ("entities", r.entities.is_some()),
        ("ingest_rate", r.ingest_rate.is_some()),
        ("hot_percent", r.hot_percent.is_some()),
        ("unchanged_percent", r.unchanged_percent.is_some()),
        ("give_up_percent", r.give_up_percent.is_some()),
        ("lease_ms", r.lease.is_some()),
        ("rpc_timeout_ms", r.rpc_timeout.is_some()),
        ("render_time_max_ms", r.render_time_max.is_some()),
        ("env_pending_max", r.env_pending_max.is_some()),
        ("log_compact_bytes", r.log_compact_bytes.is_some()),
        ("queue_pending_max", r.queue_pending_max.is_some()),
        ("fresh_per_bulk", r.fresh_per_bulk.is_some()),
        ("last_environment_entities", r.last_environment_entities.is_some()),
        ("mirrors", r.mirrors.is_some()),
        ("one_write_per_entity", r.one_write_per_entity.is_some()),
    ];
    let all = field_values(resolved);
    ranged.iter().filter(|(_, given)| *given).map(|(name, _)| (name.to_string(), all[*name])).collect()
}

/// The value of every field a `[swarm]` table can range that `s` runs with (a knob it leaves unset at the
/// system's default; durations in milliseconds, under a name ending `_ms`).
fn field_values(s: &Scenario) -> std::collections::BTreeMap<&'static str, u64> {
    let c = crate::world::system_config(s);
    [
        ("ingest_nodes", s.topology.ingest_nodes.get()),
        ("workers", s.topology.workers.get()),
        ("worker_slots", s.topology.worker_slots.get()),
        ("environments", s.environments.names.len() as u64),
        ("entities", s.environments.entities.get()),
        ("ingest_rate", s.load.ingest_rate.get()),
        ("hot_percent", s.load.hot_percent.get()),
        ("unchanged_percent", s.load.unchanged_percent.get()),
        ("give_up_percent", s.load.give_up_percent.get()),
        ("lease_ms", c.lease.as_millis() as u64),
        ("rpc_timeout_ms", c.rpc_timeout.as_millis() as u64),
        ("render_time_max_ms", c.render_time_max.as_millis() as u64),
        ("env_pending_max", c.env_pending_max as u64),
        ("log_compact_bytes", c.log_compact_bytes),
        ("queue_pending_max", c.queue_pending_max as u64),
        ("fresh_per_bulk", c.fresh_per_bulk as u64),
        (
            "last_environment_entities",
            s.environments.names.last().map_or(s.environments.entities.get(), |e| s.entities_of(e)),
        ),
        ("mirrors", s.environments.mirrors.len() as u64),
        ("one_write_per_entity", s.load.one_write_per_entity as u64),
    ]
    .into_iter()
    .collect()
}

/// The resolved values shrinking moves back toward the scenario's own: the cluster's shape, the system's knobs
/// and the load's mix. (Environments, entities and the ingest rate are cut by shrinking's own steps instead,
/// toward a smaller run rather than toward the written one; a mirror a seed let go is not in its file to bring
/// back.)
pub const SHRINKABLE: [&str; 15] = [
    "ingest_nodes",
    "workers",
    "worker_slots",
    "hot_percent",
    "unchanged_percent",
    "give_up_percent",
    "lease_ms",
    "rpc_timeout_ms",
    "render_time_max_ms",
    "env_pending_max",
    "log_compact_bytes",
    "queue_pending_max",
    "fresh_per_bulk",
    "last_environment_entities",
    "one_write_per_entity",
];

/// The value of each [`SHRINKABLE`] field that `scenario` runs with (a knob it leaves unset at the system's
/// default; durations in milliseconds).
pub fn shrinkable_values(s: &Scenario) -> std::collections::BTreeMap<String, u64> {
    let all = field_values(s);
    SHRINKABLE.iter().map(|name| (name.to_string(), all[*name])).collect()
}

/// What each range of `scenario`'s `[swarm]` table would be without the table: the scenario's own value (or
/// the system's default), for the [`SHRINKABLE`] fields it ranges. Seed files keep it, so that shrinking can
/// move a seed's resolved values back toward it. Empty without a `[swarm]` table.
pub fn defaults(scenario: &Scenario) -> std::collections::BTreeMap<String, u64> {
    let mut own = scenario.clone();
    own.swarm = None;
    let ranged = values(scenario, scenario);
    shrinkable_values(&own).into_iter().filter(|(name, _)| ranged.contains_key(name)).collect()
}

/// Sets one [`SHRINKABLE`] field; false for a name that is not one.
pub fn set_shrinkable(s: &mut Scenario, name: &str, value: u64) -> bool {
    let ms = |v: u64| Some(Dur(std::time::Duration::from_millis(v)));
    match name {
        "ingest_nodes" => s.topology.ingest_nodes = Bounded(value),
        "workers" => s.topology.workers = Bounded(value),
        "worker_slots" => s.topology.worker_slots = Bounded(value),
        "hot_percent" => s.load.hot_percent = Bounded(value),
        "unchanged_percent" => s.load.unchanged_percent = Bounded(value),
        "give_up_percent" => s.load.give_up_percent = Bounded(value),
        "lease_ms" => s.system.lease = ms(value),
        "rpc_timeout_ms" => s.system.rpc_timeout = ms(value),
        "render_time_max_ms" => s.system.render_time_max = ms(value),
        "env_pending_max" => s.system.env_pending_max = Some(Bounded(value)),
        "log_compact_bytes" => s.system.log_compact_bytes = Some(Bounded(value)),
        "queue_pending_max" => s.system.queue_pending_max = Some(Bounded(value)),
        "fresh_per_bulk" => s.system.fresh_per_bulk = Some(Bounded(value)),
        "last_environment_entities" => set_last_environment_entities(s, value),
        "one_write_per_entity" => s.load.one_write_per_entity = value == 1,
        _ => return false,
    }
    true
}
