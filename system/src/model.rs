//! The data the system stores and exchanges.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// An environment (tenant space), such as `acme-prod`.
pub type Env = String;
/// A source entity id, unique within its environment only: every site has a `home` page.
pub type EntityId = String;
/// A schema name, unique within its environment.
pub type SchemaName = String;
/// A source entity's content: named fields.
pub type Payload = BTreeMap<String, String>;

/// The version of a source entity within its environment. Version 1 is the first stored content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version(pub u64);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// Where a job, view or source belongs: (environment, entity).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityKey {
    pub env: Env,
    pub entity: EntityId,
}

/// Identifies one view: (environment, entity, schema).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ViewKey {
    pub env: Env,
    pub entity: EntityId,
    pub schema: SchemaName,
}

impl fmt::Display for ViewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.env, self.entity, self.schema)
    }
}

/// A stored source entity at one version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub env: Env,
    pub entity: EntityId,
    pub version: Version,
    pub payload: Payload,
}

/// A deployed schema: a projection of named fields. Redeploying bumps `version`, which makes every view of it
/// out of date until re-rendered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDef {
    pub name: SchemaName,
    pub version: u64,
    pub fields: Vec<String>,
}

impl SchemaDef {
    /// Renders a source into this schema's fields. A field the source lacks renders as empty, as a CMS
    /// template would.
    pub fn render(&self, payload: &Payload) -> Payload {
        self.fields.iter().map(|field| (field.clone(), payload.get(field).cloned().unwrap_or_default())).collect()
    }
}

/// A rendered view. It carries everything it was made from, so that checks can be exact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub env: Env,
    pub entity: EntityId,
    pub schema: SchemaName,
    pub schema_version: u64,
    pub source_version: Version,
    pub fields: Payload,
    /// When the worker rendered it, by the worker's clock. Informational: a correct store never orders views by
    /// it, because clocks of different nodes are not comparable.
    pub rendered_at: crate::clock::WallMillis,
}

impl View {
    pub fn key(&self) -> ViewKey {
        ViewKey { env: self.env.clone(), entity: self.entity.clone(), schema: self.schema.clone() }
    }

    /// The order in which views of one key may replace each other: a newer source, or the same source under a
    /// newer schema.
    pub fn rank(&self) -> (Version, u64) {
        (self.source_version, self.schema_version)
    }
}

/// Why a job exists. Fresh jobs come from ingests and must turn into views within seconds; bulk jobs come from
/// schema deploys and may take their fair share only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum JobKind {
    Fresh,
    Bulk,
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobKind::Fresh => "fresh",
            JobKind::Bulk => "bulk",
        })
    }
}

/// A job: re-generate view `schema` of `entity` in `env` from the newest source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub env: Env,
    pub entity: EntityId,
    pub schema: SchemaName,
    pub kind: JobKind,
}

impl JobSpec {
    pub fn view_key(&self) -> ViewKey {
        ViewKey { env: self.env.clone(), entity: self.entity.clone(), schema: self.schema.clone() }
    }
}
