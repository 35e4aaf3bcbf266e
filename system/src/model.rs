//! The data the system stores and exchanges.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// An environment (tenant space), such as `acme-prod`.
pub type Env = Name;
/// A source entity id, unique within its environment only: every site has a `home` page.
pub type EntityId = Name;
/// A schema name, unique within its environment.
pub type SchemaName = Name;

/// An immutable name (environment, entity or schema), shared rather than copied: every job, view, message and
/// event carries a few, and copying them was a tenth of a simulated run. It compares, orders, hashes, prints
/// and serializes exactly as the string it holds, so nothing that reads or stores it can tell the difference.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(s.into())
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(s.into())
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Self {
        Name(s.as_str().into())
    }
}

impl From<&Name> for Name {
    fn from(s: &Name) -> Self {
        s.clone()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == &*other.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Name::from)
    }
}

/// Named fields: a source's content, or a view's rendering of it.
pub type Fields = BTreeMap<String, String>;

/// A source entity's content (or a view's fields), shared rather than copied: every read of a view copies it,
/// and copying the fields themselves was most of the cost of a read. Immutable once made; it compares, prints and
/// serializes as the fields it holds.
pub type Payload = Arc<Fields>;

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
        Arc::new(
            self.fields.iter().map(|field| (field.clone(), payload.get(field).cloned().unwrap_or_default())).collect(),
        )
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
