//! The reference model: what a correct system may show, rebuilt only from what clients sent and were told and
//! from the scenario, never from what the system reports about itself (TigerBeetle's auditor and Jepsen's
//! checkers work this way).
//!
//! Per environment and entity it keeps every write the client sent, in the client's order (`seq`), with its
//! outcome. Per environment and schema it keeps every deploy sent and the versions their replies named. From
//! that it answers the questions the checkers ask: which contents may legitimately be current, which content a
//! version was acknowledged with, which fields a schema version projects, and how a view of a content must
//! look. It renders expected views with its own few lines, not with the system's code.

use crate::load::Write;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use system::model::{Fields, Name, Payload, Version};

/// A schema deploy as its sender saw it: the scenario's initial deploys and the ones scheduled in the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployRecord {
    pub env: String,
    pub schema: String,
    pub fields: Vec<String>,
    pub sent_at: Duration,
    /// The version the reply named, and when it arrived; `None` if it was never answered.
    pub acked: Option<(u64, Duration)>,
    /// Attempts the operator made (bounded: a deploy never answered stops at its deadline).
    pub attempts: u32,
    /// The answer said a newer deploy replaced this one (`acked` then holds the newer version): answered, but
    /// no evidence of which fields any version has.
    pub superseded: bool,
}

/// Renders a content into a schema's fields, as the specification says: each field of the schema, with the
/// source's value, or empty where the source lacks it. Deliberately the oracle's own code.
pub fn render(fields: &[String], payload: &Payload) -> Fields {
    fields.iter().map(|field| (field.clone(), payload.get(field).cloned().unwrap_or_default())).collect()
}

/// Whether rendering `payload` into `fields` gives exactly `rendered`, without building the rendering: every
/// field of the schema holds the source's value (or is empty), and `rendered` has no other field. Judging a view
/// asks this of every content and projection that might have made it.
pub fn renders_as(fields: &[String], payload: &Payload, rendered: &Fields) -> bool {
    fields.iter().all(|field| {
        rendered.get(field).is_some_and(|value| value.as_str() == payload.get(field).map_or("", |v| v.as_str()))
    }) && rendered.keys().all(|field| fields.contains(field))
}

#[derive(Default)]
pub struct Model {
    pub envs: BTreeMap<Name, EnvModel>,
}

#[derive(Default)]
pub struct EnvModel {
    /// Every write per entity, in the client's order.
    pub entities: BTreeMap<Name, Vec<Write>>,
    pub schemas: BTreeMap<String, SchemaModel>,
}

#[derive(Default)]
pub struct SchemaModel {
    /// Every deploy of the schema, in the order sent.
    pub deploys: Vec<DeployRecord>,
}

impl SchemaModel {
    /// The highest version an acknowledged deploy named, with its fields: what every view must end up with.
    pub fn expected(&self) -> Option<(u64, &[String])> {
        self.deploys
            .iter()
            .filter(|d| !d.superseded)
            .filter_map(|d| d.acked.map(|(v, _)| (v, d.fields.as_slice())))
            .max_by_key(|(v, _)| *v)
    }

    /// The fields a version of the schema may project: those of the acknowledged deploys that named it, or,
    /// for a version no reply named (its deploy was never answered), the fields of any deploy sent.
    pub fn fields_of(&self, version: u64) -> Vec<&[String]> {
        let named: Vec<&[String]> = self
            .deploys
            .iter()
            .filter(|d| !d.superseded && d.acked.is_some_and(|(v, _)| v == version))
            .map(|d| d.fields.as_slice())
            .collect();
        if !named.is_empty() {
            return named;
        }
        if self.expected().is_some_and(|(v, _)| version <= v) {
            // An older version no reply named: a redeploy of unchanged fields keeps its version, so any deploy
            // sent before the one that named a higher version may have made it.
            return self.deploys.iter().map(|d| d.fields.as_slice()).collect();
        }
        self.deploys.iter().filter(|d| d.acked.is_none()).map(|d| d.fields.as_slice()).collect()
    }
}

impl Model {
    pub fn new(writes: &[Write], deploys: &[DeployRecord]) -> Model {
        let mut model = Model::default();
        for write in writes {
            let env = model.envs.entry(write.env.clone()).or_default();
            env.entities.entry(write.entity.clone()).or_default().push(write.clone());
        }
        for env in model.envs.values_mut() {
            for writes in env.entities.values_mut() {
                writes.sort_by_key(|w| w.seq);
            }
        }
        for deploy in deploys {
            let env = model.envs.entry(deploy.env.as_str().into()).or_default();
            env.schemas.entry(deploy.schema.clone()).or_default().deploys.push(deploy.clone());
        }
        model
    }

    pub fn writes(&self, env: &str, entity: &str) -> &[Write] {
        self.envs.get(env).and_then(|e| e.entities.get(entity)).map_or(&[], |w| w.as_slice())
    }

    pub fn schema(&self, env: &str, schema: &str) -> Option<&SchemaModel> {
        self.envs.get(env)?.schemas.get(schema)
    }

    /// Whether the environment's client ever sent this content for this entity.
    pub fn was_sent(&self, env: &str, entity: &str, payload: &Payload) -> bool {
        self.writes(env, entity).iter().any(|w| &w.payload == payload)
    }

    /// The contents a version was acknowledged with (one, unless the system lost a write and reused its
    /// version, which the durability check reports).
    pub fn acked_contents(&self, env: &str, entity: &str, version: Version) -> Vec<&Payload> {
        self.writes(env, entity).iter().filter(|w| w.acked_version() == Some(version)).map(|w| &w.payload).collect()
    }

    /// The contents that may be current at the end: those of the writes sent no earlier (in the client's order)
    /// than the last acknowledged one. A client's later write wins over its earlier one, however the retries
    /// of the earlier one were delayed. With no acknowledged write, any content sent may be current (or none).
    pub fn final_candidates(&self, env: &str, entity: &str) -> Vec<&Write> {
        let writes = self.writes(env, entity);
        let floor = writes.iter().filter(|w| w.acked_at().is_some()).map(|w| w.seq).max().unwrap_or(0);
        writes.iter().filter(|w| w.seq >= floor).collect()
    }

    /// The last acknowledged write of the entity, in the client's order.
    pub fn last_acked(&self, env: &str, entity: &str) -> Option<&Write> {
        self.writes(env, entity).iter().filter(|w| w.acked_at().is_some()).max_by_key(|w| w.seq)
    }

    /// Schema names an environment must have views of: the ones with an acknowledged deploy.
    pub fn deployed_schemas(&self, env: &str) -> BTreeSet<&str> {
        self.envs
            .get(env)
            .map(|e| e.schemas.iter().filter(|(_, s)| s.expected().is_some()).map(|(n, _)| n.as_str()).collect())
            .unwrap_or_default()
    }

    /// Whether `fields` is a rendering of some content this environment sent for the entity, under a projection
    /// the schema version may have; and if the version was acknowledged for a content, of that content.
    pub fn is_rendering(
        &self,
        env: &str,
        entity: &str,
        schema: &str,
        source_version: Version,
        schema_version: u64,
        fields: &Payload,
    ) -> bool {
        let Some(schema) = self.schema(env, schema) else { return false };
        let projections = schema.fields_of(schema_version);
        let mut contents = self.acked_contents(env, entity, source_version);
        if contents.is_empty() {
            contents = self.writes(env, entity).iter().map(|w| &w.payload).collect();
        }
        contents.iter().any(|content| projections.iter().any(|p| renders_as(p, content, fields)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_agrees_with_rendering() {
        let payload = crate::load::content("acme", "home", 3);
        let schemas: [&[&str]; 4] = [&["title"], &["title", "body"], &["title", "missing"], &[]];
        let mut candidates: Vec<Fields> = Vec::new();
        for fields in schemas {
            let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            candidates.push(render(&fields, &payload));
        }
        let mut tampered = candidates[1].clone();
        tampered.insert("title".into(), "other".into());
        candidates.push(tampered);
        let mut extra = candidates[0].clone();
        extra.insert("site".into(), "acme".into());
        candidates.push(extra);
        for fields in schemas {
            let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            for rendered in &candidates {
                assert_eq!(
                    renders_as(&fields, &payload, rendered),
                    render(&fields, &payload) == *rendered,
                    "{fields:?} against {rendered:?}"
                );
            }
        }
    }
}
