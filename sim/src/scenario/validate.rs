//! The checks a scenario needs beyond its fields' own types: names that refer to each other (environments,
//! schemas, flaws, marks, fault targets), and limits within and between fields, each error naming the field.

use super::positions::locate;
use super::values::Dur;
use super::{Scenario, ScenarioError};
use std::path::Path;
use std::time::Duration;
use system::flaws::Flaw;

/// The longest safety phase (and convergence budget) a scenario may ask for.
pub const RUN_SAFETY_MAX: Duration = Duration::from_secs(600);
/// The bounds of the system's lease and RPC timeout a scenario may set, and of a render's time.
pub const LEASE_MIN: Duration = Duration::from_millis(50);
pub const LEASE_MAX: Duration = Duration::from_secs(600);
pub const RPC_TIMEOUT_MIN: Duration = Duration::from_millis(10);
pub const RPC_TIMEOUT_MAX: Duration = Duration::from_secs(60);
pub const RENDER_TIME_MAX: Duration = Duration::from_secs(10);
/// The most environments a run may have: the harness gives each environment's client and reader an address of
/// their own in one /24 network.
pub const ENVIRONMENTS_MAX: usize = 250;
/// The most entities of all environments together one run may hold, and about what each costs a seed in memory
/// (measured: 256 environments of 100,000 entities took 2.8 GB).
pub const ENTITIES_PER_RUN_MAX: u64 = 1_000_000;
pub const BYTES_PER_ENTITY: u64 = 110;
/// Time the convergence budget must leave beyond the quiet window, for the system to drain.
pub const CONVERGENCE_MARGIN: Duration = Duration::from_secs(5);

/// The most ingests one run may generate: beyond it a run's memory and time grow past what a sweep can hold.
pub const INGESTS_PER_RUN_MAX: u64 = 200_000;

/// A schema may project only fields that contents have.
fn check_fields(fields: &[String], at: &str, err: &dyn Fn(&str, String) -> ScenarioError) -> Result<(), ScenarioError> {
    let known = crate::load::CONTENT_FIELDS;
    if fields.is_empty() {
        return Err(err(at, format!("needs at least one field; contents have {}", known.join(", "))));
    }
    for (j, field) in fields.iter().enumerate() {
        if !known.contains(&field.as_str()) {
            return Err(err(
                &format!("{at}[{j}]"),
                format!("unknown field `{field}`; contents have {}", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Checks that need more than one field: names that refer to each other, and limits between fields. `prefix`
/// is where the scenario sits in the file's tree (`scenario.` inside a seed file).
pub fn validate(s: &Scenario, text: &str, file: &Path, prefix: &str) -> Result<(), ScenarioError> {
    let err = |field: &str, message: String| {
        let field = format!("{prefix}{field}");
        let (line, column) = locate(text, &field).unwrap_or((1, 1));
        ScenarioError::Invalid { file: file.into(), line, column, field, message }
    };
    let names = &s.environments.names;
    if names.is_empty() {
        return Err(err("environments.names", "needs at least one environment".into()));
    }
    for (i, name) in names.iter().enumerate() {
        let valid = !name.is_empty()
            && name.len() <= 40
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(err(
                &format!("environments.names[{i}]"),
                format!("`{name}` is not a valid name; use 1 to 40 characters of a-z, 0-9 and -"),
            ));
        }
        if names[..i].contains(name) {
            return Err(err(
                &format!("environments.names[{i}]"),
                format!("`{name}` appears twice; environment names are unique"),
            ));
        }
    }
    if s.schemas.is_empty() {
        return Err(err("schemas", "needs at least one [[schemas]] table".into()));
    }
    for (mirror, source) in &s.environments.mirrors {
        let field = format!("environments.mirrors.{mirror}");
        if !names.contains(mirror) {
            return Err(err(&field, format!("`{mirror}` is not one of environments.names")));
        }
        if !names.contains(source) {
            return Err(err(&field, format!("`{source}` is not one of environments.names")));
        }
        if mirror == source || s.environments.mirrors.contains_key(source) {
            return Err(err(&field, format!("`{mirror}` must mirror an environment that mirrors nothing itself")));
        }
    }
    for (i, schema) in s.schemas.iter().enumerate() {
        if s.schemas[..i].iter().any(|other| other.name == schema.name) {
            return Err(err(&format!("schemas[{i}].name"), "duplicate schema name".into()));
        }
        check_fields(&schema.fields, &format!("schemas[{i}].fields"), &err)?;
    }
    for (i, deploy) in s.load.deploys.iter().enumerate() {
        if let Some(fields) = &deploy.fields {
            check_fields(fields, &format!("load.deploys[{i}].fields"), &err)?;
        }
    }
    let positive = [
        ("run.convergence_budget", Some(s.run.convergence_budget)),
        ("system.rpc_timeout", s.system.rpc_timeout),
        ("system.lease", s.system.lease),
        ("readers.interval", Some(s.readers.interval)),
    ];
    for (field, value) in positive {
        if value.is_some_and(|d| d.0.is_zero()) {
            return Err(err(field, "must be longer than zero".into()));
        }
    }
    // The system's knobs within what a real deployment could set: beyond them a run only times out, and the
    // failure would be blamed on the system.
    let ranges = [
        ("system.lease", s.system.lease, LEASE_MIN, LEASE_MAX),
        ("system.rpc_timeout", s.system.rpc_timeout, RPC_TIMEOUT_MIN, RPC_TIMEOUT_MAX),
        ("system.render_time_min", s.system.render_time_min, Duration::ZERO, RENDER_TIME_MAX),
        ("system.render_time_max", s.system.render_time_max, Duration::ZERO, RENDER_TIME_MAX),
        ("faults.latency_max", Some(s.faults.latency_max), Duration::ZERO, crate::faults::FAULT_LATENCY_MAX),
        ("faults.clock_offset_max", Some(s.faults.clock_offset_max), Duration::ZERO, crate::faults::CLOCK_OFFSET_MAX),
    ];
    for (field, value, min, max) in ranges {
        if let Some(value) = value.filter(|v| v.0 < min || v.0 > max) {
            return Err(err(field, format!("{value} is out of range; expected {} to {}", Dur(min), Dur(max))));
        }
    }
    if names.len() > ENVIRONMENTS_MAX {
        return Err(err(
            "environments.names",
            format!(
                "{} environments are more than the harness can address ({ENVIRONMENTS_MAX}); use fewer",
                names.len()
            ),
        ));
    }
    for env in s.environments.sizes.keys() {
        if !names.contains(env) {
            return Err(err(
                &format!("environments.sizes.{env}"),
                format!("`{env}` is not one of environments.names; list it there or drop its size"),
            ));
        }
    }
    for (mirror, source) in &s.environments.mirrors {
        if s.entities_of(mirror) != s.entities_of(source) {
            let sized = if s.environments.sizes.contains_key(mirror) { mirror } else { source };
            return Err(err(
                &format!("environments.sizes.{sized}"),
                format!(
                    "`{mirror}` mirrors `{source}` and must have as many entities ({} and {}); give both the same size",
                    s.entities_of(mirror),
                    s.entities_of(source)
                ),
            ));
        }
    }
    let entities: u64 = names.iter().map(|e| s.entities_of(e)).sum();
    if entities > ENTITIES_PER_RUN_MAX {
        return Err(err(
            "environments.entities",
            format!(
                "{} entities in {} environments are {entities} in all, more than one run holds ({ENTITIES_PER_RUN_MAX}, \
                 about {} MiB of a seed's memory, times --jobs in a sweep); lower the entities or the environments",
                s.environments.entities.get(),
                names.len(),
                ENTITIES_PER_RUN_MAX * BYTES_PER_ENTITY / (1 << 20)
            ),
        ));
    }
    let window = crate::world::config::quiet_window(&crate::world::system_config(s));
    if s.run.convergence_budget.0 < window + CONVERGENCE_MARGIN {
        return Err(err(
            "run.convergence_budget",
            format!(
                "{} is too short to see the system done: the harness needs a quiet window of {} (a lease, a scan, a \
                 timeout, a backoff and the outbox's grace) after the last client is answered; give at least {}",
                s.run.convergence_budget,
                Dur(window),
                Dur(window + CONVERGENCE_MARGIN)
            ),
        ));
    }
    if s.run.safety.0 > RUN_SAFETY_MAX {
        return Err(err(
            "run.safety",
            format!(
                "{} is longer than the harness runs ({}); split it into shorter scenarios",
                s.run.safety,
                Dur(RUN_SAFETY_MAX)
            ),
        ));
    }
    if s.run.convergence_budget.0 > RUN_SAFETY_MAX {
        return Err(err("run.convergence_budget", format!("is longer than the limit of {}", Dur(RUN_SAFETY_MAX))));
    }
    let ingests = s.load.ingest_rate.get() * names.len() as u64 * s.run.safety.0.as_secs().max(1);
    if ingests > INGESTS_PER_RUN_MAX {
        return Err(err(
            "load.ingest_rate",
            format!(
                "{} per second in {} environments for {} is about {ingests} ingests, more than one run holds \
                 ({INGESTS_PER_RUN_MAX}); lower the rate, the environments or run.safety",
                s.load.ingest_rate.get(),
                names.len(),
                s.run.safety
            ),
        ));
    }
    if s.load.hot_entities.get() > s.entities_min() {
        return Err(err(
            "load.hot_entities",
            format!(
                "{} is more than the smallest environment's entities ({}); the hot set is part of every environment's entities",
                s.load.hot_entities.get(),
                s.entities_min()
            ),
        ));
    }
    for (i, deploy) in s.load.deploys.iter().enumerate() {
        if !names.contains(&deploy.environment) {
            return Err(err(
                &format!("load.deploys[{i}].environment"),
                format!("`{}` is not one of environments.names", deploy.environment),
            ));
        }
        if !s.schemas.iter().any(|schema| schema.name == deploy.schema) {
            return Err(err(
                &format!("load.deploys[{i}].schema"),
                format!("`{}` is not a schema of the [[schemas]] list", deploy.schema),
            ));
        }
        if deploy.at > s.run.safety {
            return Err(err(
                &format!("load.deploys[{i}].at"),
                "is after the end of the safety phase (run.safety)".into(),
            ));
        }
    }
    for (i, flaw) in s.system.flaws.iter().enumerate() {
        if let Err(message) = flaw.parse::<Flaw>() {
            return Err(err(&format!("system.flaws[{i}]"), message));
        }
    }
    if let (Some(min), Some(max)) = (s.system.render_time_min, s.system.render_time_max) {
        if min > max {
            return Err(err("system.render_time_min", "is greater than system.render_time_max".into()));
        }
    }
    if s.run.safety.0.is_zero() {
        return Err(err("run.safety", "must be longer than zero".into()));
    }
    let cluster = s.cluster_shape();
    for (i, spec) in s.faults.script.iter().enumerate() {
        if let Err((field, message)) = spec.check(&cluster) {
            return Err(err(&format!("faults.script[{i}].{field}"), message));
        }
    }
    for (i, mark) in s.coverage.requires.iter().enumerate() {
        if !crate::marks::is_known(mark) {
            let known: Vec<&str> = crate::marks::all().map(|(n, _)| n).collect();
            return Err(err(
                &format!("coverage.requires[{i}]"),
                format!("unknown coverage mark `{mark}`; the marks are {}", known.join(", ")),
            ));
        }
    }
    if let Some(canary) = &s.canary {
        if canary.expect.is_empty() {
            return Err(err("canary.expect", "needs at least one violation kind".into()));
        }
        if s.flaws().is_empty() {
            return Err(err("canary", "a canary needs a flaw switched on (system.flaws)".into()));
        }
    }
    // Bulk work is where an unfair queue starves fresh work, so every scenario that makes bulk work is held to a
    // freshness bound: the fairness check then applies wherever it can fail, not in one scenario.
    let deploys = !s.load.deploys.is_empty()
        || s.faults.generate.contains(&crate::faults::FaultKind::Deploy)
        || s.faults.script.iter().any(|f| f.kind() == crate::faults::FaultKind::Deploy);
    if deploys && s.invariants.fresh_view_latency_max.is_none() {
        return Err(err(
            "invariants.fresh_view_latency_max",
            "this scenario deploys schemas (load.deploys or a deploy fault) but states no freshness bound; add \
             `fresh_view_latency_max = \"fair-share\"` under [invariants] (a bound derived from each seed's \
             cluster and load) or a duration such as \"2s\""
                .into(),
        ));
    }
    for (i, env) in s.invariants.fairness_environments.iter().flatten().enumerate() {
        if !names.contains(env) {
            return Err(err(
                &format!("invariants.fairness_environments[{i}]"),
                format!("`{env}` is not one of environments.names"),
            ));
        }
    }
    Ok(())
}

/// Warnings about a valid scenario: scripted faults that overlap on one node in a way a reader may not expect
/// (two of one kind, a crash and a pause, two clock faults). They run as written: overlapping crashes and pauses
/// count as one while any lasts, overlapping clock faults add up. Printed when a scenario is loaded.
pub fn warnings(s: &Scenario) -> Vec<String> {
    use crate::faults::FaultKind::*;
    let family = |k: crate::faults::FaultKind| match k {
        Crash | TornWrite | CorruptWrite | CompactionCrash | Pause => Some("process"),
        ClockOffset | ClockDrift | ClockJump => Some("clock"),
        _ => None,
    };
    let mut out = Vec::new();
    let script = &s.faults.script;
    for (i, a) in script.iter().enumerate() {
        for (j, b) in script.iter().enumerate().skip(i + 1) {
            let same_node = a.target().is_some() && a.target() == b.target() && a.target() != Some("network");
            let related = a.kind() == b.kind() || (family(a.kind()).is_some() && family(a.kind()) == family(b.kind()));
            let overlap = a.at.0 < b.end() && b.at.0 < a.end();
            if same_node && related && overlap {
                out.push(format!(
                    "faults.script[{i}] ({a}) and faults.script[{j}] ({b}) overlap on `{}`: {}",
                    a.target().unwrap_or_default(),
                    if family(a.kind()) == Some("clock") {
                        "their clock changes add up while both last"
                    } else {
                        "the node stays down (or paused) while either lasts, once"
                    }
                ));
            }
        }
    }
    out
}
